"""The web chat page at ``GET /``: a browser talks to the gateway's own OpenAI API.

One self-contained file, ``page.html`` beside this module: its CSS and JavaScript are
inline, there is no build step, and it fetches nothing but the gateway's own ``/v1/`` routes
(no CDN, no web font), so it works on a machine without internet and leaks nothing to a
third party. Being a file under ``lazyllm/``, hatch packages it into the wheel; it is read
with ``importlib.resources`` (which works from a zip too) once, when the app is built.

The answer forbids the browser anything else too: its Content-Security-Policy allows
connections to the page's own origin only, and allows the one inline ``<script>`` and
``<style>`` by their SHA-256 (not ``'unsafe-inline'``), so no injected script could run even
if model output were ever put into the page as markup (the page only sets it as text).
The page needs no API key (it holds none); its calls to ``/v1/`` send the one the user
enters.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import re
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

__all__ = ['add_page', 'page']


def _digest(block: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"


@functools.cache
def page() -> tuple[str, dict[str, str]]:
    """(the page's HTML, the headers it is served with); read and hashed once."""
    html = resources.files(__package__).joinpath('page.html').read_text(encoding='utf-8')
    scripts = re.findall(r'<script>(.*?)</script>', html, re.S)
    styles = re.findall(r'<style>(.*?)</style>', html, re.S)
    if len(scripts) != 1 or len(styles) != 1:     # a second block would be blocked by the CSP
        raise RuntimeError(f'page.html must hold one <script> and one <style>, not '
                           f'{len(scripts)} and {len(styles)}')
    csp = ("default-src 'self'; "
           f"script-src {_digest(scripts[0])}; style-src {_digest(styles[0])}; "
           "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
           "form-action 'none'; frame-ancestors 'none'")
    return html, {'cache-control': 'no-cache', 'content-security-policy': csp,
                  'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer'}


def add_page(app: FastAPI) -> None:
    """Serve the chat page at ``GET /`` (and ``HEAD /``) of ``app``."""
    html, headers = page()

    @app.api_route('/', methods=['GET', 'HEAD'], include_in_schema=False)
    async def chat_page() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

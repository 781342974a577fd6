"""Reading why an engine died from its log: the root exception, not the last one.

An engine that fails while starting rarely dies of its first error. vLLM's engine core
raises ``ValueError: Available memory ...``; its parent process then raises ``RuntimeError:
Engine core initialization failed. See root cause above.``, and the worker's parent
``Exception: WorkerProc initialization failed ...``. Python's own chained tracebacks
("During handling of the above exception ...") likewise print the cause first. So the
log's *last* exception line is a wrapper that only says something failed elsewhere; the
*first* one is what the user can act on. ``root_cause`` returns that first line, skipping
lines an engine names as wrappers.
"""
from __future__ import annotations

import re

__all__ = ['root_cause']

# what engines put before each line: vLLM's "(EngineCore_DP0 pid=1) ERROR 12-02 10:00:00
# [core.py:700] ", torch.distributed's "[rank0]: "
_PREFIX = re.compile(r'^(?:\([^()]*\)\s+)?(?:\[rank\d+\]:\s?)?'
                     r'(?:[A-Z]+\s+\d\d-\d\d\s+[\d:.]+\s+\[[^\]]*\]\s)?')
# an exception line as a traceback ends: "ValueError: ...", "torch.OutOfMemoryError: ...",
# "pydantic_core._pydantic_core.ValidationError: ..." at the start of the (unprefixed) line,
# so a source line quoted in a traceback ("    except ValueError: ...") or a message that
# mentions an error ("... errors like `OSError: [Errno 24]`") is not one
_EXCEPTION = re.compile(r'^(?:[A-Za-z_]\w*\.)*\w*(?:Error|Exception)(?::\s*\S.*)?$')
_TRACEBACK = 'Traceback (most recent call last):'
# lines below the exception line that belong to its message (pydantic's indented details),
# as many as are worth quoting
_MORE = 3


def root_cause(log: str, wrappers: tuple[str, ...] = ()) -> str:
    """The first exception line of ``log`` that ends a traceback (else the first anywhere:
    an engine may log only the exception's line, while a line outside a traceback may as
    well be a warning) and contains none of ``wrappers`` (texts of an engine's re-raises),
    with its indented continuation lines; '' when the log holds none."""
    lines = [_PREFIX.sub('', line, count=1) for line in log.splitlines()]
    in_traceback, loose = False, None
    for i, line in enumerate(lines):
        if line.startswith(_TRACEBACK):
            in_traceback = True
            continue
        if not _EXCEPTION.match(line):
            continue
        if not any(w in line for w in wrappers):
            if in_traceback:
                return _quote(lines, i)
            loose = i if loose is None else loose
        in_traceback = False
    return '' if loose is None else _quote(lines, loose)


def _quote(lines: list[str], i: int) -> str:
    out = lines[i].strip()[:1000]
    for more in lines[i + 1:i + 1 + _MORE]:
        text = more.strip()
        if not more.startswith((' ', '\t')) or not text or text.startswith(
                ('File "', 'For further information')):
            break
        out += '\n  ' + text[:600]
    return out

"""The web chat page at ``/`` of ``lazyllm serve``, used the way a person uses it: a real
headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by Selenium) on a
real ``python -m lazyllm serve`` started with an API key, over real engines registered in a
LAZYLLM_HOME of this module's own. The page is checked to stream real answers, to send the
whole conversation each turn, to report usage and speed, and to fetch nothing from outside
the gateway; a screenshot is kept as a test artifact."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from pathlib import Path

import httpx
import pytest

from lazyllm.gateway import KEYS_ENV
from tests.support.gateway import ROOT, Gateway

CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'
KEY = 'k-page-' + secrets.token_hex(8)
ANSWER_TIMEOUT = 300          # a turn on 2 shared CPU cores, with the engine possibly busy


# -- fixtures: one home, the engines, one gateway with a key, one browser ----------------------


@pytest.fixture(scope='module')
def gateway(smol, emb):
    gw = Gateway(env={KEYS_ENV: KEY})
    yield gw
    gw.stop()


@pytest.fixture(scope='module')
def browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append('the selenium package (pip install -e ".[test]")')
    if missing:
        message = (f'the browser test needs {", ".join(missing)}: install Debian\'s browser '
                   'with `sudo apt-get install chromium chromium-driver` (.ci/run does)')
        if os.environ.get('CI'):
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                '--window-size=1280,900', '--no-first-run', '--disable-background-networking',
                '--disable-component-update', '--disable-sync'):
        options.add_argument(arg)
    # every request the page makes (the Network domain), and the console (CSP violations)
    options.set_capability('goog:loggingPrefs', {'performance': 'ALL', 'browser': 'ALL'})
    # an explicit driver path: Selenium Manager never looks for (or downloads) a driver
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def artifact(name: str) -> Path:
    folder = Path(os.environ.get('LAZYLLM_TEST_ARTIFACTS') or ROOT / '.artifacts')
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


# -- the page in a browser -----------------------------------------------------------------
LAST_ANSWER = '''
const all = document.querySelectorAll('#messages .msg[data-role=assistant]');
const el = all[all.length - 1];
return el ? {text: el.querySelector('.text').textContent, usage: el.querySelector('.meta')
  .textContent, ...el.dataset, state: document.getElementById('chat').dataset.state} : null;
'''


def ask(driver, text: str) -> dict:
    """Type ``text``, press Enter, wait until its answer has streamed to the end."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    before = len(driver.find_elements(By.CSS_SELECTOR, '#messages .msg[data-role=assistant]'))
    driver.find_element(By.ID, 'prompt').send_keys(text, Keys.ENTER)

    def finished(d):
        found = d.find_elements(By.CSS_SELECTOR, '#messages .msg[data-role=assistant]')
        answer = d.execute_script(LAST_ANSWER) if len(found) > before else None
        return answer if answer and answer['done'] == 'true' and answer['state'] == 'idle' \
            else False
    answer = WebDriverWait(driver, ANSWER_TIMEOUT).until(finished)
    error = driver.find_element(By.ID, 'error').text
    assert not error, error
    print(f'asked {text!r}: {answer}')
    return answer


def test_the_chat_page_streams_answers_with_usage_and_lists_the_deployments(gateway, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
    wait = WebDriverWait(browser, 60)
    browser.get(gateway.root + '/')
    assert browser.title == 'lazyllm gateway'

    # no key yet: the API's 401 is shown with its message, and what to do
    error = wait.until(lambda d: d.find_element(By.ID, 'error').text)
    assert 'HTTP 401' in error and 'missing or wrong API key' in error, error
    key = browser.find_element(By.ID, 'api-key')
    key.send_keys(KEY)
    browser.find_element(By.ID, 'system').click()           # the key field's change event
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#model option[value=smol]'))
    assert not browser.find_element(By.ID, 'error').text

    # the key is kept in this browser: a reload lists the models with it
    browser.refresh()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#model option[value=smol]'))
    assert browser.find_element(By.ID, 'api-key').get_attribute('value') == KEY
    picker = Select(browser.find_element(By.ID, 'model'))
    options = {o.get_attribute('value'): o for o in picker.options}
    assert set(options) == {'emb', 'smol'}
    assert options['smol'].text == 'smol (llm)' and options['smol'].is_enabled()
    assert options['emb'].text == 'emb (embed)' and not options['emb'].is_enabled()
    assert picker.first_selected_option.get_attribute('value') == 'smol'   # the chat model
    picker.select_by_value('smol')

    for field, value in (('temperature', '0'), ('max-tokens', '32')):
        browser.find_element(By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(value)
    first = ask(browser, 'What is the capital of France?')
    assert 'Paris' in first['text']
    assert int(first['chunks']) > 1 and int(first['reads']) > 1     # streamed, not in one go
    prompt1, completion1 = int(first['promptTokens']), int(first['completionTokens'])
    assert prompt1 > 0 and 0 < completion1 <= 32
    assert float(first['tokensPerSecond']) > 0
    assert re.search(rf'{prompt1} prompt \+ {completion1} completion tokens · [\d.]+ tokens/s',
                     first['usage']), first['usage']

    # the second turn sends the first one again: its prompt holds the question and answer
    second = ask(browser, 'And what is the capital of Germany?')
    assert second['text'] and int(second['chunks']) > 1
    assert int(second['promptTokens']) > prompt1 + completion1, (first, second)
    shot = artifact('gateway-chat-page.png')
    assert browser.save_screenshot(str(shot))
    print(f'screenshot of the chat page: {shot}')

    browser.find_element(By.ID, 'clear').click()
    assert browser.find_elements(By.CSS_SELECTOR, '#messages .msg') == []
    third = ask(browser, 'What is the capital of France?')    # a new conversation
    assert int(third['promptTokens']) == prompt1 and third['text'] == first['text']

    browser.find_element(By.ID, 'tab-deployments').click()
    row = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#deployments-body tr'
                                                                 '[data-name=smol]'))[0]
    assert not browser.find_element(By.ID, 'chat-panel').is_displayed()
    cells = [td.text for td in row.find_elements(By.TAG_NAME, 'td')]
    source = browser.find_element(By.ID, 'deployments-source')
    print('deployments tab:', source.text, cells)
    assert cells[0] == 'smol' and cells[1] == 'running' and cells[4] == 'transformers'
    if source.get_attribute('data-source') == '/v1/deployments':
        assert cells[2] != '—' and cells[5].startswith('http'), cells     # model and url
    else:
        assert 'has no GET /v1/deployments' in source.text, source.text
    names = {tr.get_attribute('data-name')
             for tr in browser.find_elements(By.CSS_SELECTOR, '#deployments-body tr')}
    assert {'smol', 'emb'} <= names
    browser.save_screenshot(str(artifact('gateway-deployments-tab.png')))

    # nothing outside the gateway's origin: every request the page made, and what the page
    # itself recorded; no Content-Security-Policy violation on the console
    sent = [json.loads(e['message'])['message'] for e in browser.get_log('performance')]
    urls = [m['params']['request']['url'] for m in sent
            if m['method'] == 'Network.requestWillBeSent']
    print(f'{len(urls)} requests:', sorted(set(urls)))
    assert gateway.root + '/v1/chat/completions' in urls
    assert all(u.startswith(gateway.root + '/') or u.startswith('data:') for u in urls), urls
    entries = browser.execute_script(
        'return performance.getEntries().filter(e => e.name.includes(":"))'
        '.map(e => e.name)')
    assert entries and all(e.startswith(gateway.root + '/') for e in entries), entries
    console = [e['message'] for e in browser.get_log('browser')]
    assert not [m for m in console if 'Content Security Policy' in m or 'Refused' in m], console


# -- the page over plain HTTP ----------------------------------------------------------------
def test_the_page_needs_no_key_and_forbids_other_origins(gateway):
    page = httpx.get(gateway.root + '/', timeout=30)
    assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
    assert page.headers['cache-control'] == 'no-cache'
    csp = dict(part.strip().split(' ', 1)
               for part in page.headers['content-security-policy'].split(';'))
    assert csp['default-src'] == "'self'" and csp['connect-src'] == "'self'"
    for block, tag in ((re.search(r'<script>(.*?)</script>', page.text, re.S), 'script-src'),
                       (re.search(r'<style>(.*?)</style>', page.text, re.S), 'style-src')):
        digest = base64.b64encode(hashlib.sha256(block.group(1).encode()).digest()).decode()
        assert csp[tag] == f"'sha256-{digest}'"            # only the page's own, no unsafe-inline
    assert not re.search(r'(src|href)="(https?:)?//', page.text)   # nothing fetched elsewhere
    assert httpx.head(gateway.root + '/', timeout=30).status_code == 200
    assert httpx.get(gateway.root + '/v1/models', timeout=30).status_code == 401
    listed = httpx.get(gateway.root + '/v1/models', timeout=30,
                       headers={'authorization': f'Bearer {KEY}'})
    assert sorted(m['id'] for m in listed.json()['data']) == ['emb', 'smol']

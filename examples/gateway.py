"""One OpenAI endpoint for every deployment: deploy SmolLM2, publish a share of it as the
model name ``smol:geo``, run ``lazyllm serve`` and call both names over HTTP, as any OpenAI
client would (the ``openai`` SDK, LangChain, an IDE plugin: one base URL, one key).

    python examples/gateway.py

In a shell the same is ``lazyllm deploy smollm2 --name smol`` and ``lazyllm serve``; open the
printed address without ``/v1/`` in a browser for the chat page. The deployment and the
gateway are stopped at the end.
"""
import re
import subprocess
import sys

import httpx

import lazyllm

QUESTION = [{'role': 'user', 'content': 'What is the capital of France?'}]


def start_gateway() -> tuple[subprocess.Popen, str]:
    """``lazyllm serve`` on a free port, and the base URL it prints on stderr."""
    proc = subprocess.Popen([sys.executable, '-m', 'lazyllm', 'serve', '--port', '0'],
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        found = re.search(r'(http://\S+/v1/)', line)
        if found:
            return proc, found.group(1)
    raise SystemExit(f'lazyllm serve exited with {proc.wait()}')


if __name__ == '__main__':
    base = lazyllm.TrainableModule('smollm2').start(name='smol', detach=True)
    gateway = None
    try:
        base.share(prompt='You are a concise geography teacher.', temperature=0,
                   max_tokens=40).publish('smol:geo')
        gateway, url = start_gateway()
        print('gateway at', url)
        models = httpx.get(url + 'models').json()['data']
        print('models:', ', '.join(f"{m['id']} ({m['kind']})" for m in models))
        for model in ('smol:geo', 'smol'):
            answer = httpx.post(url + 'chat/completions', timeout=120, json={
                'model': model, 'messages': QUESTION, 'temperature': 0, 'max_tokens': 40})
            print(f'{model}:', answer.json()['choices'][0]['message']['content'])
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(30)
        base.stop(force=True)

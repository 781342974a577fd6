"""Chat with an online model: a supplier (with its key) or any OpenAI-compatible URL.

    python examples/online_chat.py --source qwen                # needs LAZYLLM_QWEN_API_KEY
    python examples/online_chat.py --base-url http://127.0.0.1:8000/v1/   # e.g. lazyllm serving

Shows the same module answering whole and streamed, a share with its own prompt, token usage,
and AutoModel explaining which module a name becomes.
"""
from __future__ import annotations

import argparse

import lazyllm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--source', help='a supplier: ' + ', '.join(lazyllm.online.suppliers))
    parser.add_argument('--base-url', help='an OpenAI-compatible endpoint instead')
    parser.add_argument('--model', help="the supplier's model (default: its chat default)")
    args = parser.parse_args()
    if not (args.source or args.base_url):
        parser.error('pass --source (with its key in LAZYLLM_<SOURCE>_API_KEY) or --base-url')

    try:
        chat = lazyllm.OnlineChatModule(args.model, args.source, args.base_url)
    except lazyllm.LazyLLMError as e:   # e.g. no key: the message says which variable to set
        raise SystemExit(f'error: {e}') from None
    print(repr(chat))
    print('answer:', chat('What is the capital of France?', max_tokens=40))
    print('stream:', end=' ', flush=True)
    for chunk in chat.stream('Name three colours.', max_tokens=40):
        print(chunk, end='', flush=True)
    print()
    poet = chat.share(prompt='You answer in one short line of verse.')
    print('poet:', poet('The sea at night', max_tokens=40))
    print('usage:', chat.usage)
    print()
    print(lazyllm.AutoModel.explain(args.model or args.source or 'qwen2-1.5b',
                                    source=args.source, base_url=args.base_url))


if __name__ == '__main__':
    main()

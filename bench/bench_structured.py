"""Structured output on the built-in engine: constrained decoding against free decoding of the
same requests, measured in the same run on the same engine.

    python bench/bench_structured.py              # SmolLM2-135M-Instruct, 50 requests each
    python bench/bench_structured.py --quick      # tiny random Qwen2, 6 requests each

Each request asks for a nested JSON object (a city with its country, population and a list of
landmarks). "constrained" sends the schema as ``response_format`` (json_schema, strict: the
engine masks every token the grammar forbids); "free" sends the same prompt, which describes
the fields in words, without it. Printed, each with its goal (not asserted anywhere):
- the share of answers that parse and validate against the schema (goal: 100 % constrained);
- generated tokens/s constrained / free (goal >= 0.8: the grammar costs little);
- what a grammar costs once: the engine's first constrained request (xgrammar reads the
  vocabulary) and a new schema's first request, each minus a repeat of the same request.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault('HF_HUB_OFFLINE', '1')

import httpx  # noqa: E402
import jsonschema  # noqa: E402

import lazyllm  # noqa: E402
from tests.support import models  # noqa: E402

SCHEMA = {
    'type': 'object', 'additionalProperties': False,
    'required': ['city', 'country', 'population', 'landmarks'],
    'properties': {
        'city': {'type': 'string', 'maxLength': 40},
        'country': {'type': 'string', 'maxLength': 40},
        'population': {'type': 'integer', 'minimum': 0},
        'landmarks': {'type': 'array', 'maxItems': 3, 'items': {
            'type': 'object', 'additionalProperties': False, 'required': ['name', 'kind'],
            'properties': {'name': {'type': 'string', 'maxLength': 40},
                           'kind': {'enum': ['museum', 'park', 'monument', 'church']}}}}}}
CITIES = ['Paris', 'Rome', 'Berlin', 'Madrid', 'Vienna', 'Lisbon', 'Prague', 'Oslo',
          'Dublin', 'Athens']


def ask(url: str, model: str, city: str, constrained: bool, max_tokens: int,
        schema: dict = SCHEMA) -> dict:
    body = {'model': model, 'temperature': 0, 'max_tokens': max_tokens, 'messages': [
        {'role': 'system', 'content': 'Answer with one JSON object with the keys city, '
                                      'country, population and landmarks (a list of up to 3 '
                                      'objects with a name and a kind: museum, park, monument '
                                      'or church).'},
        {'role': 'user', 'content': f'Describe {city}.'}]}
    if constrained:
        body['response_format'] = {'type': 'json_schema', 'json_schema': {
            'name': 'city', 'schema': schema, 'strict': True}}
    r = httpx.post(url + 'chat/completions', json=body, timeout=600)
    r.raise_for_status()
    return r.json()


def valid(answer: dict) -> bool:
    try:
        jsonschema.validate(json.loads(answer['choices'][0]['message']['content']), SCHEMA)
        return True
    except (ValueError, jsonschema.ValidationError):
        return False


def run(url: str, model: str, n: int, constrained: bool, max_tokens: int,
        concurrency: int) -> tuple[float, float]:
    """(share valid, generated tokens/s) of n requests, ``concurrency`` at a time."""
    cities = [CITIES[i % len(CITIES)] for i in range(n)]
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(concurrency) as pool:
        answers = list(pool.map(lambda c: ask(url, model, c, constrained, max_tokens), cities))
    took = time.perf_counter() - t0
    tokens = sum(a['usage']['completion_tokens'] for a in answers)
    return sum(map(valid, answers)) / n, tokens / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='tiny model, 6 requests')
    parser.add_argument('--requests', type=int, default=None)
    parser.add_argument('--concurrency', type=int, default=1)
    args = parser.parse_args()
    folder = models.tiny_qwen2() if args.quick else models.smollm2_135m_instruct()
    n = args.requests or (6 if args.quick else 50)
    max_tokens = 64 if args.quick else 160
    with lazyllm.TrainableModule(str(folder)).deploy_method(
            lazyllm.deploy.transformers).start() as m:
        model = m.deployment.served_name
        other = {**SCHEMA, 'properties': {**SCHEMA['properties'],
                                          'population': {'type': 'integer', 'minimum': 1}}}
        took = []
        for schema in (SCHEMA, SCHEMA, other, other):   # engine's first grammar; a new one
            t = time.perf_counter()
            ask(m.url, model, 'Paris', True, 4, schema)
            took.append(time.perf_counter() - t)
        setup_ms, compile_ms = (took[0] - took[1]) * 1000, (took[2] - took[3]) * 1000
        ask(m.url, model, 'Paris', False, 4)             # warm the free path too
        free_ok, free_tps = run(m.url, model, n, False, max_tokens, args.concurrency)
        cons_ok, cons_tps = run(m.url, model, n, True, max_tokens, args.concurrency)
    print(f'{folder.name}: {n} requests each, concurrency {args.concurrency}, '
          f'max_tokens {max_tokens}, temperature 0')
    print(f'{"":<34}{"constrained":>12}{"free":>10}{"ratio":>8}   goal')
    print(f'{"answers valid against the schema":<34}{cons_ok:>12.0%}{free_ok:>10.0%}'
          f'{"":>8}   100 % constrained')
    print(f'{"generated tokens/s":<34}{cons_tps:>12.1f}{free_tps:>10.1f}'
          f'{cons_tps / free_tps:>8.2f}   >= 0.8')
    print(f'{"first grammar of the engine":<34}{setup_ms:>10.0f}ms   (xgrammar start + '
          'compile: first request - a repeat)')
    print(f'{"a new schema compiled":<34}{compile_ms:>10.0f}ms   (first request - a repeat)')


if __name__ == '__main__':
    main()

"""The built-in LLM engine: a transformers causal LM behind OpenAI's chat and completions API.

Chat prompts are rendered with the model's own chat template (or ``--chat-template FILE``).
Concurrent requests are generated together (see ``_generator``). Streaming sends real tokens
as they are decoded, as Server-Sent Events, with usage in a final chunk when asked
(``stream_options.include_usage``). ``GET /stats`` reports how requests were batched.
With ``--adapter NAME WEIGHT PATH`` (repeated) it serves LoRA adapters by name, the base by
its served name and the adapters' weighted mix as the default (see ``_adapters``); the
request's ``model`` picks one, and a batch never mixes them (see ``_generator``).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from ._adapters import MIX, MIXES, Adapters, attach
from ._app import ApiError, FastJSONResponse, create_app, read_body
from ._generator import BatchGenerator, Event, GenRequest
from ._placement import (
    ATTENTIONS,
    DEVICE_MAPS,
    DTYPES,
    QUANTIZATIONS,
    attention_kwargs,
    device_of,
    dtype_of,
    quantization_kwargs,
)
from ._requests import max_tokens_of, messages_of, prompts_of, sampling_of, stops_of
from ._shapes import Shapes, sse, usage

log = logging.getLogger('lazyllm.engine')


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--dtype', choices=DTYPES, default='auto')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, mps or auto')
    parser.add_argument('--quantization', choices=QUANTIZATIONS, default=None,
                        help='8bit/4bit/nf4 (bitsandbytes, CUDA) or gptq/awq (a pre-quantized '
                             'folder)')
    parser.add_argument('--device-map', choices=DEVICE_MAPS, default=None,
                        help='spread the layers over every visible GPU (accelerate); the '
                             'device option is then ignored')
    parser.add_argument('--attention', choices=ATTENTIONS, default=None,
                        help='attention implementation; flash_attention_2 falls back to sdpa '
                             'where it cannot run')
    parser.add_argument('--max-batch', type=int, default=16,
                        help='most requests generated together')
    parser.add_argument('--max-model-len', type=int, default=None,
                        help="context length (default: the model's own)")
    parser.add_argument('--default-max-tokens', type=int, default=512,
                        help='answer budget when a request gives no max_tokens')
    parser.add_argument('--chat-template', default=None,
                        help='used when the tokenizer has none: chatml, qwen, llama, llama2 or a '
                             'Jinja file')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--trust-remote-code', action='store_true')
    parser.add_argument('--log-requests', action='store_true',
                        help='log every request body (prompts included) to the engine log')
    parser.add_argument('--adapter', nargs=3, action='append', default=[],
                        metavar=('NAME', 'WEIGHT', 'PATH'),
                        help='a peft LoRA adapter served as model NAME, in the mix with '
                             'WEIGHT (repeat; see _adapters)')
    parser.add_argument('--adapter-mix', choices=MIXES, default='cat',
                        help="peft combination_type of the adapters' weighted mix")


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    if args.threads:
        torch.set_num_threads(args.threads)
    device = device_of(args.device)                 # checks first: nothing is loaded yet
    dtype = dtype_of(args.dtype, device)
    extra = {**quantization_kwargs(args.quantization, device, args.model),
             **attention_kwargs(args.attention, device)}
    if args.device_map:             # accelerate places every layer (several GPUs, or the CPU)
        extra['device_map'] = args.device_map
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(args.model, trust_remote_code=args.trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype,
                                                 trust_remote_code=args.trust_remote_code,
                                                 **extra)
    if not {'quantization_config', 'device_map'} & set(extra):   # else already placed
        model.to(device)
    model.eval()
    if args.chat_template:      # a built-in name (chatml, qwen, llama…) or a Jinja file
        from ...prompt import chat_template
        tok.chat_template = chat_template(args.chat_template)
    device = str(model.device) if args.device_map else device
    log.info('loaded %s on %s (%s) in %.1fs', args.model, device, model.dtype,
             time.perf_counter() - t0)
    return model, tok


def _load_adapters(model: Any, args: argparse.Namespace) -> Adapters | None:
    if not args.adapter:
        return None
    t0 = time.perf_counter()
    specs = [(name, float(weight), path) for name, weight, path in args.adapter]
    adapters = attach(model, args.served_model_name, specs, args.adapter_mix)
    log.info('loaded adapters %s and their %s mix %r in %.1fs',
             ', '.join(f'{n} ({w:g})' for n, w, _ in specs), args.adapter_mix, MIX,
             time.perf_counter() - t0)
    return adapters


def _context_length(model: Any, args: argparse.Namespace) -> int:
    own = getattr(model.config, 'max_position_embeddings', None) or 2048
    return min(args.max_model_len, own) if args.max_model_len else own


class _Engine:
    """Turns validated requests into generator jobs and OpenAI responses."""

    def __init__(self, model: Any, tok: Any, args: argparse.Namespace,
                 adapters: Adapters | None = None):
        self.tok, self.name, self.adapters = tok, args.served_model_name, adapters
        self.context = _context_length(model, args)
        self.default_max_tokens = args.default_max_tokens
        self.gen = BatchGenerator(model, tok, max_batch=args.max_batch,
                                  activate=adapters.activate if adapters else None)

    def adapter_of(self, body: dict) -> tuple[str | None, str]:
        """(adapter set, model name to answer with) for the request's ``model``. Without
        adapters any name is this model (as before); with them, an unknown name is a 404."""
        if self.adapters is None:
            return None, self.name
        model = body.get('model')
        try:
            key = self.adapters.key_of(model)
        except (KeyError, TypeError):
            raise ApiError(404, f'the model {model!r} does not exist here: this engine serves '
                                f'{", ".join(self.adapters.names())} (the base without '
                                f'adapters is {self.name!r}, their mix {MIX!r})',
                           'not_found_error') from None
        return key, MIX if key == MIX else (model or MIX)

    def chat_prompt(self, body: dict) -> list[int]:
        messages = messages_of(body)
        if not getattr(self.tok, 'chat_template', None):
            raise ApiError(400, f'{self.name} has no chat template: call /v1/completions with '
                                'a raw prompt, or deploy with chat_template= a built-in '
                                'template name (chatml, qwen, llama) or a Jinja file')
        extra = {'tools': body['tools']} if body.get('tools') else {}
        text = self.tok.apply_chat_template(messages, tokenize=False,
                                            add_generation_prompt=True, **extra)
        return self.tok.encode(text, add_special_tokens=False)

    def jobs(self, body: dict, prompts: list[list[int]],
             adapter: str | None = None) -> tuple[list[GenRequest], asyncio.Queue]:
        """One GenRequest per prompt, all feeding one asyncio queue with (index, Event)."""
        stops = stops_of(body)
        budgets = [max_tokens_of(body, len(p), self.context, self.default_max_tokens)
                   for p in prompts]
        loop, events = asyncio.get_running_loop(), asyncio.Queue()
        reqs = []
        for i, (ids, budget) in enumerate(zip(prompts, budgets)):
            emit = (lambda ev, i=i: loop.call_soon_threadsafe(events.put_nowait, (i, ev)))
            # each request its own Sampling: a seeded generator is per-request state
            reqs.append(GenRequest(ids, budget, sampling_of(body), emit, stops,
                                   adapter=adapter))
        for r in reqs:
            self.gen.submit(r)
        return reqs, events


async def _collect(reqs: list[GenRequest], events: asyncio.Queue) -> list[Event]:
    """Wait for every request to finish; returns one merged Event per request."""
    done: list[Event | None] = [None] * len(reqs)
    texts = [[] for _ in reqs]
    while any(d is None for d in done):
        i, ev = await events.get()
        texts[i].append(ev.text)
        if ev.finish_reason:
            if ev.error:
                raise ApiError(500, f'generation failed: {ev.error}', 'server_error')
            done[i] = Event(''.join(texts[i]), ev.finish_reason, ev.completion_tokens)
    return done  # type: ignore[return-value]


async def _stream(reqs: list[GenRequest], events: asyncio.Queue, chunk: Any,
                  prompt_tokens: int | None) -> AsyncIterator[bytes]:
    """SSE frames from generator events; usage last when ``prompt_tokens`` is given.
    Cancels the requests if the client goes away."""
    left, completion = len(reqs), 0
    try:
        yield chunk(0, None, None, first=True)
        while left:
            i, ev = await events.get()
            if ev.error:
                yield sse({'error': {'message': f'generation failed: {ev.error}',
                                     'type': 'server_error', 'code': 500}})
                return
            if ev.text or ev.finish_reason:
                yield chunk(i, ev.text, ev.finish_reason)
            if ev.finish_reason:
                left -= 1
                completion += ev.completion_tokens
        if prompt_tokens is not None:
            yield chunk(None, None, None, totals=usage(prompt_tokens, completion))
        yield b'data: [DONE]\n\n'
    finally:
        for r in reqs:
            r.cancelled = True


def build_app(args: argparse.Namespace) -> FastAPI:
    model, tok = _load(args)
    engine = _Engine(model, tok, args, _load_adapters(model, args))
    app = create_app(served_name=args.served_model_name, kind='llm',
                     max_model_len=engine.context)
    if engine.adapters is not None:
        _list_adapters(app, engine)

    @app.get('/stats')
    async def stats() -> dict:
        return dict(engine.gen.stats)

    async def body_of(request: Request) -> dict:
        body = await read_body(request, '{"messages": [{"role": "user", "content": "hi"}]}')
        if args.log_requests:
            log.info('request %s %s', request.url.path, json.dumps(body, ensure_ascii=False))
        return body

    async def answer(body: dict, prompts: list[list[int]], kind: str) -> Any:
        adapter, name = engine.adapter_of(body)
        reqs, events = engine.jobs(body, prompts, adapter)
        shapes, prompt_tokens = Shapes(kind, name), sum(len(p) for p in prompts)
        if body.get('stream'):
            want_usage = bool((body.get('stream_options') or {}).get('include_usage'))
            return StreamingResponse(
                _stream(reqs, events, shapes.chunk, prompt_tokens if want_usage else None),
                media_type='text/event-stream', headers={'Cache-Control': 'no-cache'})
        try:
            done = await _collect(reqs, events)
        finally:
            for r in reqs:
                r.cancelled = True
        return FastJSONResponse(shapes.answer(done, prompt_tokens))

    @app.post('/v1/chat/completions')
    async def chat(request: Request) -> Any:
        body = await body_of(request)
        return await answer(body, [engine.chat_prompt(body)], 'chat')

    @app.post('/v1/completions')
    async def completions(request: Request) -> Any:
        body = await body_of(request)
        prompts = [tok.encode(p) for p in prompts_of(body)]
        return await answer(body, prompts, 'cmpl')

    return app


def _list_adapters(app: FastAPI, engine: _Engine) -> None:
    """``GET /v1/models`` lists every served name, the default (the mix) first."""
    app.router.routes[:] = [r for r in app.router.routes
                            if getattr(r, 'path', None) != '/v1/models']
    created = int(time.time())

    @app.get('/v1/models')
    async def models() -> dict:
        cards = [{'id': name, 'object': 'model', 'created': created, 'owned_by': 'lazyllm',
                  'kind': 'llm', 'max_model_len': engine.context, **extra}
                 for name, extra in zip(engine.adapters.names(), engine.adapters.cards())]
        return {'object': 'list', 'data': cards}

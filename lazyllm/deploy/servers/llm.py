"""The built-in LLM engine: a transformers causal LM behind OpenAI's chat and completions API.

Chat prompts are rendered with the model's own chat template (or ``--chat-template FILE``).
Concurrent requests are generated together (see ``_generator``). Streaming sends real tokens
as they are decoded, as Server-Sent Events, with usage in a final chunk when asked
(``stream_options.include_usage``). ``GET /stats`` reports how requests were batched;
``GET /metrics`` adds tokens, time to first token, queue depth and batch sizes (``_metrics``).
Tool calls are parsed from the answer by the model family's format (``_tool_parsers``);
``response_format`` and forced tool calls are enforced by a grammar (``_prompting``).

Every request is checked whole (``_requests``) and templated and tokenized in a prepare
thread before it joins a batch, so a bad or huge request fails alone and ``/health`` keeps
answering; a request whose client went away leaves the batch within one decoding step.
Sampling defaults come from the folder's ``generation_config.json`` (as vLLM applies them),
overridden by ``--sampling-defaults JSON``, overridden by the request.
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
from concurrent.futures import ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from ._adapters import MIX, MIXES, Adapters, attach
from ._app import ApiError, FastJSONResponse, check_model, create_app, model_card, read_body
from ._fields import max_tokens_of
from ._generator import BatchGenerator, Event, GenRequest
from ._metrics import EngineMetrics, Generation
from ._placement import (
    ATTENTIONS,
    DEVICE_MAPS,
    DTYPES,
    QUANTIZATIONS,
    PreflightError,
    attention_kwargs,
    device_of,
    dtype_of,
    quantization_kwargs,
)
from ._prompting import Prompter
from ._requests import Spec, chat_request, completion_request, sampling_fields
from ._shapes import Choice, Shapes, sse, usage
from ._tool_parsers import FORMATS, ToolStream

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
    parser.add_argument('--tool-parser', choices=['auto', *FORMATS], default='auto',
                        help="how the model writes tool calls (auto: from its chat template)")
    parser.add_argument('--generation-config', choices=('auto', 'none'), default='auto',
                        help="auto: sampling defaults from the folder's generation_config.json")
    parser.add_argument('--sampling-defaults', type=json.loads, default=None,
                        help='JSON object of sampling defaults over the generation config, '
                             'e.g. \'{"temperature": 0.7}\'')


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


_DEFAULT_KEYS = ('temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty')


def _sampling_defaults(args: argparse.Namespace) -> tuple[dict, int | None]:
    """(sampling defaults, default max_tokens) from generation_config.json (unless
    ``--generation-config none``) overridden by ``--sampling-defaults``; checked like a
    request so a bad value stops the engine at start, not at the first request."""
    from pathlib import Path

    folder = {}
    path = Path(args.model) / 'generation_config.json'
    if args.generation_config == 'auto' and path.is_file():
        folder = json.loads(path.read_text())
    given = args.sampling_defaults or {}
    if not isinstance(given, dict) or set(given) - {*_DEFAULT_KEYS, 'max_tokens'}:
        raise PreflightError(f'--sampling-defaults takes a JSON object with '
                             f'{", ".join(_DEFAULT_KEYS)}, max_tokens; got {given!r}')
    merged = {**{k: folder[k] for k in _DEFAULT_KEYS if folder.get(k) is not None}, **given}
    try:
        checked = sampling_fields(merged, 1, {})
    except ApiError as e:
        raise PreflightError(f'bad sampling default ({path if path.is_file() else "given"}): '
                             f'{e.message}') from None
    defaults = {k: checked[k] for k in _DEFAULT_KEYS if k in merged}
    if defaults:
        log.info('sampling defaults (a request overrides them): %s', defaults)
    return defaults, given.get('max_tokens') or folder.get('max_new_tokens')


class _Engine:
    """Turns checked requests into generator jobs."""

    def __init__(self, model: Any, tok: Any, args: argparse.Namespace,
                 adapters: Adapters | None, defaults: tuple[dict, int | None]):
        self.tok, self.name, self.adapters = tok, args.served_model_name, adapters
        self.context = _context_length(model, args)
        self.defaults, max_tokens = defaults
        self.default_max_tokens = max_tokens or args.default_max_tokens
        self.vocab = model.config.get_text_config().vocab_size
        self.gen = BatchGenerator(model, tok, max_batch=args.max_batch,
                                  activate=adapters.activate if adapters else None)
        self.prompter = Prompter(tok, self.vocab, self.gen.eos, self.name, args.tool_parser)
        # one thread prepares (templates, tokenizes, compiles grammars) in arrival order
        self.prepare = ThreadPoolExecutor(1, thread_name_prefix='lazyllm-prepare')
        self.metrics: Generation | None = None      # set by build_app

    def measure(self, metrics: EngineMetrics) -> None:
        """Record into ``metrics`` (the app's EngineMetrics) from now on."""
        self.metrics = metrics.generation
        self.metrics.queue_depth.set_function(lambda: self.gen.depth)
        self.gen.on_batch = metrics.batch_size.observe

    def adapter_of(self, served: str) -> str | None:
        """The adapter set a request's (checked) model name needs."""
        return None if self.adapters is None else self.adapters.key_of(served)

    async def run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.prepare, fn, *args)

    def jobs(self, prompts: list[list[int]], budgets: list[int], constraints: list,
             spec: Spec, adapter: str | None, started: float
             ) -> tuple[list[GenRequest], asyncio.Queue]:
        """One GenRequest per prompt, all feeding one asyncio queue with (index, Event).
        Each prompt's time to first text (from ``started``, a ``perf_counter``) and tokens
        are recorded as its events pass, whether the answer streams or not; the tokens when
        it finishes, so that they add up to the ``usage`` of the answers (a row cancelled
        mid-answer counts too: its tokens were computed)."""
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[int, Event]] = asyncio.Queue()

        def emitter(i: int, prompt_tokens: int) -> Callable[[Event], None]:
            first = True

            def emit(ev: Event) -> None:     # called on the generator thread
                nonlocal first
                m = self.metrics
                if m is not None and ev.finish_reason != 'error':
                    if first and ev.finish_reason != 'cancelled':
                        m.ttft.observe(time.perf_counter() - started)
                    if ev.finish_reason:
                        m.prompt_tokens.inc(prompt_tokens)
                        m.completion_tokens.inc(ev.completion_tokens)
                first = False
                loop.call_soon_threadsafe(events.put_nowait, (i, ev))
            return emit

        reqs = []
        for i, (ids, budget, constraint) in enumerate(zip(prompts, budgets, constraints)):
            reqs.append(GenRequest(ids, budget, spec.new_sampling(), emitter(i, len(ids)),
                                   spec.stop, adapter=adapter, constraint=constraint))
        for r in reqs:
            self.gen.submit(r)
        return reqs, events


def _generation_error(ev: Event) -> ApiError:
    return ApiError(500, f'generation failed: {ev.error}')


async def _collect(reqs: list[GenRequest], events: asyncio.Queue) -> list[Event]:
    """Wait for every request to finish; returns one merged Event per request."""
    done: list[Event | None] = [None] * len(reqs)
    texts: list[list[str]] = [[] for _ in reqs]
    while any(d is None for d in done):
        i, ev = await events.get()
        texts[i].append(ev.text)
        if ev.finish_reason:
            if ev.error:
                raise _generation_error(ev)
            done[i] = Event(''.join(texts[i]), ev.finish_reason, ev.completion_tokens)
    return [d for d in done if d is not None]     # every one is set when the loop ends


class _ClientGone(Exception):
    pass


async def _collect_watching(request: Request, reqs: list[GenRequest],
                            events: asyncio.Queue) -> list[Event]:
    """``_collect``, abandoned (its rows cancelled) when the client disconnects: a timed-out
    caller must not keep the model busy for minutes."""
    task = asyncio.ensure_future(_collect(reqs, events))
    try:
        while True:
            finished, _ = await asyncio.wait({task}, timeout=0.2)
            if finished:
                return task.result()
            if await request.is_disconnected():
                log.info('client went away: its request leaves the batch')
                raise _ClientGone
    finally:
        task.cancel()
        for r in reqs:
            r.cancelled = True


def _choice(ev: Event, fmt: Any, spec: Spec) -> Choice:
    """A finished answer, with tool calls parsed out of its text when tools were offered."""
    assert ev.finish_reason is not None    # _collect merges only finished requests
    if fmt is None:
        return Choice(ev.text, ev.finish_reason, ev.completion_tokens)
    content, calls = fmt.parse(ev.text)
    calls = calls if spec.parallel_tool_calls else calls[:1]
    return Choice(content if calls else content or '',   # stripped, as ToolStream sends it
                  'tool_calls' if calls else ev.finish_reason, ev.completion_tokens, calls)


async def _stream(reqs: list[GenRequest], events: asyncio.Queue, shapes: Shapes, spec: Spec,
                  fmt: Any) -> AsyncIterator[bytes]:
    """SSE frames from generator events: text deltas, or tool-call deltas as OpenAI streams
    them when tools were offered; usage last when asked. Cancels the requests when the
    client goes away."""
    parsers = [ToolStream(fmt) if fmt is not None else None for _ in reqs]
    left, completion = len(reqs), 0
    try:
        if shapes.chat:
            yield shapes.chunk(0, {'role': 'assistant', 'content': ''}, None)
        while left:
            i, ev = await events.get()
            if ev.error:
                e = _generation_error(ev)
                yield sse({'error': {'message': e.message, 'type': e.type, 'param': None,
                                     'code': None}})
                return
            parser = parsers[i]
            if parser is None:
                deltas = [{'content': ev.text}] if ev.text else []
            else:
                deltas = parser.feed(ev.text) + (parser.finish() if ev.finish_reason else [])
            for delta in deltas:
                if spec.parallel_tool_calls or all(
                        c.get('index', 0) == 0 for c in delta.get('tool_calls', ())):
                    yield shapes.chunk(i, delta, None)
            if ev.finish_reason:
                left -= 1
                completion += ev.completion_tokens
                called = parser is not None and parser.called
                yield shapes.chunk(i, {}, 'tool_calls' if called else ev.finish_reason)
        if spec.include_usage:
            prompt_tokens = sum(len(r.prompt_ids) for r in reqs)
            yield shapes.chunk(None, None, None, totals=usage(prompt_tokens, completion))
        yield b'data: [DONE]\n\n'
    finally:
        for r in reqs:
            r.cancelled = True


def build_app(args: argparse.Namespace) -> FastAPI:
    defaults = _sampling_defaults(args)          # checked before any weight is read
    model, tok = _load(args)
    engine = _Engine(model, tok, args, _load_adapters(model, args), defaults)
    app = create_app(served_name=args.served_model_name, aliases=args.alias, kind='llm',
                     max_model_len=engine.context)
    engine.measure(app.state.metrics)
    if engine.adapters is not None:
        created = app.state.cards[0]['created']
        app.state.cards = [model_card(name, 'llm', created, engine.context, **extra) for
                           name, extra in zip(engine.adapters.names(), engine.adapters.cards())]
        app.state.names = {n: n for n in engine.adapters.names()}

    @app.get('/stats')
    async def stats() -> dict:
        return dict(engine.gen.stats)

    async def body_of(request: Request) -> dict:
        body = await read_body(request, '{"messages": [{"role": "user", "content": "hi"}]}')
        if args.log_requests:
            log.info('request %s %s', request.url.path, json.dumps(body, ensure_ascii=False))
        return body

    def budgets_of(body: dict, prompts: list[list[int]]) -> list[int]:
        return [max_tokens_of(body, len(p), engine.context, engine.default_max_tokens)
                for p in prompts]

    async def answer(request: Request, served: str, spec: Spec, prepared: tuple,
                     kind: str, started: float) -> Any:
        prompts, budgets, constraints = prepared
        reqs, events = engine.jobs(prompts, budgets, constraints, spec,
                                   engine.adapter_of(served), started)
        shapes = Shapes(kind, served)
        fmt = engine.prompter.format if kind == 'chat' and spec.calls_tools else None
        if spec.stream:
            return StreamingResponse(_stream(reqs, events, shapes, spec, fmt),
                                     media_type='text/event-stream',
                                     headers={'Cache-Control': 'no-cache'})
        try:
            done = await _collect_watching(request, reqs, events)
        except _ClientGone:
            return Response(status_code=204)
        prompt_tokens = sum(len(p) for p in prompts)
        return FastJSONResponse(shapes.answer([_choice(d, fmt, spec) for d in done],
                                              prompt_tokens))

    @app.post('/v1/chat/completions')
    async def chat(request: Request) -> Any:
        started = time.perf_counter()
        body = await body_of(request)
        messages, spec = chat_request(body, engine.vocab, engine.defaults)
        served = check_model(app, body)

        def prepare() -> tuple:
            ids = engine.prompter.chat_ids(messages, spec)
            return [ids], budgets_of(body, [ids]), [engine.prompter.constraint(spec)]
        return await answer(request, served, spec, await engine.run(prepare), 'chat', started)

    @app.post('/v1/completions')
    async def completions(request: Request) -> Any:
        started = time.perf_counter()
        body = await body_of(request)
        prompts, spec = completion_request(body, engine.vocab, engine.defaults)
        served = check_model(app, body)

        def prepare() -> tuple:
            ids = [engine.prompter.completion_ids(p) for p in prompts]
            return ids, budgets_of(body, ids), [None] * len(ids)
        return await answer(request, served, spec, await engine.run(prepare), 'cmpl', started)

    return app

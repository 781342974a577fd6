"""Agent turns (tools, assistant tool calls, tool results) as messages a chat template can render.

Templates that know tools (Qwen2.5's, Llama 3.1's) read the request's ``tools`` and render
``tool_calls`` and ``tool`` messages themselves, but crash on ``content: None`` and expect the
call arguments as dicts, while OpenAI sends JSON strings. Many small models' templates
(SmolLM2's, plain ChatML) only print ``role`` and ``content``: for them the tools go into the
system message, the calls are written back in the model's own text format, and the results
become user turns, so that the model sees the whole exchange as text.
"""
from __future__ import annotations

import json
import re

from ._tool_parsers import ToolFormat

# How a tool result is shown to a model whose template has no tool role, per format; the
# Hermes tags for any other (Llama 3 has a role for results, no tags).
_RESULT_TAGS = {'mistral': ('[TOOL_RESULTS]', '[/TOOL_RESULTS]')}
_HERMES_RESULT = ('<tool_response>\n', '\n</tool_response>')


def tool_system_prompt(tools: list[dict], fmt: ToolFormat) -> str:
    """The system text that shows the tools' JSON schemas and how to call them in ``fmt``
    (Hermes/Qwen wording, which small instruct models have seen most)."""
    schemas = '\n'.join(json.dumps(t, ensure_ascii=False) for t in tools)
    opener, closer = fmt.call_open.strip(), fmt.call_close.strip()
    where = (f'within {opener}{closer} XML tags' if opener.startswith('<') and closer else
             f'between {opener} and {closer}' if opener and closer else 'exactly like this')
    example = (f'{fmt.prefix}{fmt.call_open}{{"name": <function-name>, "{fmt.args_key}": '
               f'<args-json-object>}}{fmt.call_close}{fmt.suffix}')
    several = (f'\nSeparate several calls with "{fmt.separator}".'
               if fmt.separator.strip() else '')
    return ('# Tools\n\nYou may call one or more functions to assist with the user query.\n\n'
            'You are provided with function signatures within <tools></tools> XML tags:\n'
            f'<tools>\n{schemas}\n</tools>\n\n'
            f'For each function call, return a JSON object with function name and '
            f'{fmt.args_key} {where}:\n{example}{several}')


def template_renders_tools(chat_template: str | None) -> bool:
    """Does the Jinja template read the ``tools`` variable (and so render tool turns)?"""
    if not chat_template:
        return False
    try:
        import jinja2
        from jinja2 import meta
        env = jinja2.Environment(extensions=['jinja2.ext.loopcontrols', 'jinja2.ext.do'])
        return 'tools' in meta.find_undeclared_variables(env.parse(chat_template))
    except Exception:   # no jinja2, or a tag of transformers' own ({% generation %}): by text
        return re.search(r'\btools\b', chat_template) is not None


def messages_for_template(messages: list[dict], fmt: ToolFormat, renders_tools: bool,
                          tools: list[dict] | None = None) -> list[dict]:
    """``messages`` (OpenAI agent turns) made renderable by a template; the input is not
    changed. With ``tools`` and a template that ignores them, the tool prompt is merged into
    the first system message (or becomes one)."""
    if renders_tools:
        return [_for_tool_template(m) for m in messages]
    out: list[dict] = []
    results: dict | None = None     # the user message collecting this turn's tool results
    for m in messages:
        if m.get('role') == 'tool':
            opener, closer = _RESULT_TAGS.get(fmt.name, _HERMES_RESULT)
            text = f'{opener}{_text(m.get("content"))}{closer}'
            if results is not None:     # several results of one turn: one user message
                results['content'] += '\n' + text
            else:
                results = {'role': 'user', 'content': text}
                out.append(results)
            continue
        results = None
        if m.get('role') == 'assistant' and m.get('tool_calls'):
            before = _text(m.get('content')).strip()
            calls = fmt.write(m['tool_calls'])
            rest = {k: v for k, v in m.items() if k not in ('tool_calls', 'content')}
            out.append({**rest, 'content': f'{before}\n{calls}' if before else calls})
        else:
            out.append(dict(m))
    return _with_tool_prompt(out, tools, fmt) if tools else out


def _with_tool_prompt(messages: list[dict], tools: list[dict], fmt: ToolFormat) -> list[dict]:
    prompt = tool_system_prompt(tools, fmt)
    if messages and messages[0].get('role') == 'system':
        own = _text(messages[0].get('content')).strip()
        return [{**messages[0], 'content': f'{own}\n\n{prompt}' if own else prompt},
                *messages[1:]]
    return [{'role': 'system', 'content': prompt}, *messages]


def _for_tool_template(m: dict) -> dict:
    """A tool-aware template's message: content never None, call arguments as dicts."""
    m = dict(m)
    if m.get('content') is None:
        m['content'] = ''
    if m.get('tool_calls'):
        m['tool_calls'] = [_args_as_dict(c) for c in m['tool_calls']]
    return m


def _args_as_dict(call: dict) -> dict:
    fn = call.get('function')
    if not isinstance(fn, dict) or not isinstance(fn.get('arguments'), str):
        return call
    try:
        args = json.loads(fn['arguments'])
    except ValueError:     # left as the model wrote it
        return call
    return {**call, 'function': {**fn, 'arguments': args}}


def _text(content) -> str:
    """A message's content as text: parts joined, anything else as JSON."""
    if content is None or isinstance(content, str):
        return content or ''
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return ''.join(str(p.get('text', '')) for p in content)
    return json.dumps(content, ensure_ascii=False)

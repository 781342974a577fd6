"""Built-in chat templates, for models whose tokenizer has none.

A chat template turns OpenAI messages into the one string a model was trained on. Models
ship theirs in the tokenizer (``tokenizer.chat_template``) and that one is always used when
present; a base model, or a folder converted without it, has none. Then a built-in one can be
named: ``deploy_method(lazyllm.deploy.transformers, chat_template='chatml')`` (or a path to a
Jinja file). ``render`` applies one in this process, e.g. to count a conversation's tokens.

    chatml   <|im_start|>role\\ncontent<|im_end|>  (OpenAI ChatML; SmolLM2, many finetunes)
    qwen     ChatML with Qwen's default system prompt when none is given
    llama    Llama 3: <|start_header_id|>role<|end_header_id|>\\n\\ncontent<|eot_id|>
    llama2   Llama 2: <s>[INST] <<SYS>>…<</SYS>> user [/INST] answer </s>
"""
from __future__ import annotations

import os
from typing import Any

from ..errors import InputError

__all__ = ['CHAT_TEMPLATES', 'chat_template', 'render']

_CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

_QWEN = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}" + _CHATML)

_LLAMA3 = (
    "<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}"
    "<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n"
    "{% endif %}")

_LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
    "{% set turns = messages[1:] %}{% else %}{% set system = '' %}{% set turns = messages %}"
    "{% endif %}{% for m in turns %}{% if m['role'] == 'user' %}<s>[INST] "
    "{% if loop.first and system %}<<SYS>>\n{{ system }}\n<</SYS>>\n\n{% endif %}"
    "{{ m['content'] | trim }} [/INST]{% else %} {{ m['content'] | trim }} </s>{% endif %}"
    "{% endfor %}")

CHAT_TEMPLATES: dict[str, str] = {'chatml': _CHATML, 'qwen': _QWEN, 'llama': _LLAMA3,
                                  'llama3': _LLAMA3, 'llama2': _LLAMA2}


def chat_template(name_or_path: str) -> str:
    """The Jinja text of a built-in template (by name) or of a template file (by path)."""
    if not isinstance(name_or_path, str) or not name_or_path:
        raise InputError(f'chat_template must be a template name ({", ".join(CHAT_TEMPLATES)}) '
                         f'or a Jinja file path, not {name_or_path!r}.')
    if name_or_path.lower() in CHAT_TEMPLATES:
        return CHAT_TEMPLATES[name_or_path.lower()]
    if os.path.isfile(name_or_path):
        with open(name_or_path, encoding='utf-8') as f:
            return f.read()
    raise InputError(f'unknown chat template {name_or_path!r}: name a built-in one '
                     f'({", ".join(CHAT_TEMPLATES)}) or give the path of a Jinja file.')


def render(messages: list[dict[str, Any]], template: str,
           add_generation_prompt: bool = True) -> str:
    """``messages`` as the model's prompt text through ``template`` (a name, a path or Jinja
    text), the way ``tokenizer.apply_chat_template`` renders it."""
    try:
        import jinja2
    except ImportError:
        raise InputError('rendering a chat template needs jinja2: pip install jinja2 (it comes '
                         "with lazyllm-model-layer[local]).") from None
    text = template if '{%' in template or '{{' in template else chat_template(template)
    env = jinja2.Environment(trim_blocks=False, lstrip_blocks=False,
                             undefined=jinja2.StrictUndefined)
    return env.from_string(text).render(messages=messages,
                                        add_generation_prompt=add_generation_prompt)

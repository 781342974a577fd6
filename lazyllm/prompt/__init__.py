"""Prompters: turn a call's input into one prompt string or OpenAI chat messages.

Pure: no I/O. The meaning follows LazyLLM's prompters, except that no prompter adds a
system prompt of its own. See docs/prompt.md.
"""
from ._alpaca import AlpacaPrompter
from ._base import PrompterBase
from ._chat import ChatPrompter
from ._chat_templates import CHAT_TEMPLATES, chat_template, render
from ._empty import EmptyPrompter
from ._generic import Prompter

__all__ = ['PrompterBase', 'ChatPrompter', 'AlpacaPrompter', 'EmptyPrompter', 'Prompter',
           'CHAT_TEMPLATES', 'chat_template', 'render']

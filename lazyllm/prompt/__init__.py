"""Prompters: turn a call's input into OpenAI chat messages or one plain prompt string.

Pure: no I/O. See docs/prompt.md.
"""
from ._alpaca import AlpacaPrompter
from ._base import PrompterBase
from ._chat import ChatPrompter
from ._chat_templates import CHAT_TEMPLATES, chat_template, render

__all__ = ['PrompterBase', 'ChatPrompter', 'AlpacaPrompter', 'CHAT_TEMPLATES', 'chat_template',
           'render']

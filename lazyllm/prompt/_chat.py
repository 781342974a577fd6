"""ChatPrompter: a system text, optional few-shot history, then the user message."""
from __future__ import annotations

from ._base import Parts, PrompterBase
from ._messages import render_text

_LABELS = {'system': 'System: ', 'user': 'User: ', 'assistant': 'Assistant: ', 'tool': 'Tool: '}


class ChatPrompter(PrompterBase):
    """Prompter for chat models.

    >>> p = ChatPrompter('You are a {role}.', extra_keys=['context'])
    >>> p.generate_prompt({'role': 'poet', 'input': 'hi', 'context': 'rain'})['messages'][0]
    {'role': 'system', 'content': 'You are a poet.\\n\\n### context:\\nrain'}

    The text layout (``format=None``), for models without a chat template, is the system
    text, then one ``User: ...`` / ``Assistant: ...`` block per turn (``System: ``/``Tool: ``
    for those roles), then ``Assistant:`` for the model to continue; blocks are separated by
    a blank line.
    """

    def _render_text(self, parts: Parts) -> str:
        return render_text([self._system_text(parts)], self._turns(parts), _LABELS, 'Assistant:')

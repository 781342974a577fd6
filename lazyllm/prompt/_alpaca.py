"""AlpacaPrompter: the instruction / input / response layout of Stanford Alpaca."""
from __future__ import annotations

from ._base import Parts, PrompterBase
from ._messages import render_text

WITH_INPUT = ('Below is an instruction that describes a task, paired with an input that '
              'provides further context. Write a response that appropriately completes the '
              'request.')
WITHOUT_INPUT = ('Below is an instruction that describes a task. Write a response that '
                 'appropriately completes the request.')
_LABELS = {'system': '### System:\n', 'user': '### Input:\n', 'assistant': '### Response:\n',
           'tool': '### Tool:\n'}


class AlpacaPrompter(PrompterBase):
    """Prompter in the alpaca layout, for models finetuned on it.

    ``format=None`` gives the classic text (ending with a newline after ``### Response:``)::

        <preamble>

        ### Instruction:
        <instruction>

        ### Input:
        <input>

        ### Response:

    with the no-input preamble and no ``### Input:`` block when there is no input (the
    preamble is the layout's own text, not a vendor system prompt). ``system=``
    replaces the preamble. History turns become earlier ``### Input:``/``### Response:``
    blocks. ``format='openai'`` gives system = the filled instruction (after ``system=`` if
    given) plus the extra-key sections, and user = the input.
    """

    def _render_text(self, parts: Parts) -> str:
        turns = self._turns(parts)
        has_input = any(m['role'] == 'user' for m in turns)
        preamble = parts.preamble or (WITH_INPUT if has_input else WITHOUT_INPUT)
        instruction = parts.instruction and '### Instruction:\n' + parts.instruction
        return render_text([preamble, instruction], turns, _LABELS,
                           '### Response:\n')

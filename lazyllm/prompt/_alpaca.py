"""AlpacaPrompter: the instruction / response layout of Stanford Alpaca, as LazyLLM has it."""
from __future__ import annotations

from ..errors import PromptError
from ._base import Parts, PrompterBase
from ._layout import tools_text

PREAMBLE = ('Below is an instruction that describes a task, paired with extra messages such as '
            'input that provides further context if possible. Write a response that '
            'appropriately completes the request.')
CUE = '### Response:'


class AlpacaPrompter(PrompterBase):
    """Prompter in LazyLLM's alpaca layout, for models finetuned on it.

    The instruction block is the preamble, then ``### Instruction:`` and the filled
    instruction, then the extra-key block. The text layout (the default) is
    ``{system}\\n{instruction}\\n{tools}\\n{user}### Response:\\n`` (no ``\\n`` after an
    empty system text); ``format='openai'`` gives
    system = the ``system=`` text and the instruction block, user = the user template.

    Every input must land in the instruction (a placeholder, an extra key or the user
    template): the layout has no place for a loose input or for past turns, so either is a
    PromptError rather than silently dropped (use ChatPrompter for conversations).
    """

    def _instruction_block(self, instruction: str, extras: str) -> str:
        head = f'{PREAMBLE}\n\n### Instruction:\n{instruction}'
        if self._is_dict:
            return head + ('\n\n' + extras if extras else '')
        return f'{head}\n\n{extras}'

    def _check(self, parts: Parts) -> None:
        if parts.history:
            raise PromptError('AlpacaPrompter takes no history (the alpaca layout has no place '
                              'for past turns): use ChatPrompter for a conversation')
        if parts.input:
            raise PromptError('AlpacaPrompter has no place for an input outside its '
                              'instruction: put {input} in the instruction (or its user part), '
                              "or pass extra_keys=['input']")

    def _render_text(self, parts: Parts, tools: list[dict]) -> str:
        system = parts.system + '\n' if parts.system else ''
        return (f'{system}{parts.instruction}\n{tools_text(tools)}\n'
                f'{self._user_text(parts)}{CUE}\n')

    def _answer_cue(self) -> str:
        return CUE

"""ChatPrompter: the instruction as system text, optional history, then the user's turn."""
from __future__ import annotations

from ._base import Parts, PrompterBase
from ._layout import history_text, tools_text


class ChatPrompter(PrompterBase):
    """Prompter for chat models, laid out as LazyLLM's ChatPrompter.

    >>> p = ChatPrompter('You are a {role}.')
    >>> p.generate_prompt({'role': 'poet', 'input': 'hi'}, format='openai')['messages']
    [{'role': 'system', 'content': 'You are a poet.\\n\\n'}, {'role': 'user', 'content': 'hi'}]

    ``format='openai'``: a system message (the ``system=`` text, then the instruction block;
    left out when both are empty), the history, then the user message (the user template
    followed by the input; always present, possibly empty, unless the input is None).

    The text layout (the default), for raw-completion models and finetuning data, is
    LazyLLM's: ``{sos}{system}{instruction}{tools}{eos}\\n\\n{history}\\n{soh}\\n{user}{input}
    \\n{eoh}{soa}\\n`` with the model tokens of ``_set_model_configs`` (empty by default).
    """

    def _instruction_block(self, instruction: str, extras: str) -> str:
        if self._is_dict:    # the dict's system text as given, extra keys after it
            return instruction + ('\n' + extras if extras else '')
        if not instruction and not extras:
            return ''
        return f'{instruction}\n{extras}\n'

    def _render_text(self, parts: Parts, tools: list[dict]) -> str:
        t = self._configs
        return (f"{t['sos']}{parts.system}{parts.instruction}{tools_text(tools)}{t['eos']}\n\n"
                f"{history_text(parts.history, t)}\n{t['soh']}\n{self._user_text(parts)}\n"
                f"{t['eoh']}{t['soa']}\n")

    def _answer_cue(self) -> str:
        return self._configs['soa']

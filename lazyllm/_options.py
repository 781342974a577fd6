"""Typed option tables, for engines (``lazyllm.deploy``) and finetune methods
(``lazyllm.finetune``): each option has a type, a default, a help text and allowed values,
and a table checks what a user passes before any process starts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ._names import article
from .errors import InputError

__all__ = ['Option', 'validate_options']


@dataclass(frozen=True)
class Option:
    """One option: its type, default, help, allowed values, and command-line flag."""
    type: type | tuple
    default: Any = None
    doc: str = ''
    choices: tuple | None = None
    flag: str | None = None           # default: --name-with-dashes

    def check(self, owner: str, name: str, value: Any) -> Any:
        kinds = self.type if isinstance(self.type, tuple) else (self.type,)
        if bool in kinds and isinstance(value, bool):
            pass
        elif float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif not isinstance(value, kinds) or isinstance(value, bool):
            names = ' or '.join(k.__name__ for k in kinds)
            if bool in kinds and len(kinds) == 1:
                raise InputError(f'{owner} option {name} must be True or False, got {value!r}.')
            raise InputError(f'{owner} option {name} must be {article(names)} {names}, got '
                             f'{value!r}.')
        if self.choices and value not in self.choices:
            raise InputError(f'{owner} option {name}={value!r} is not one of '
                             f'{", ".join(map(repr, self.choices))}.')
        return value


def validate_options(owner: str, table: Mapping[str, Option], options: Mapping) -> dict:
    """``options`` checked against ``table`` (None values dropped); an unknown name lists the
    valid ones. ``owner`` names what takes them in messages ("vllm engine")."""
    unknown = sorted(set(options) - set(table))
    if unknown:
        raise InputError(f'{owner} has no option(s) {", ".join(unknown)}; valid options: '
                         f'{", ".join(sorted(table)) or "none"}.')
    return {k: table[k].check(owner.split()[0], k, v) for k, v in options.items()
            if v is not None}

"""A function never calls a builtin that one of its own names shadows.

``OnlineChatModule(base_url=123)`` once raised ``TypeError: 'NoneType' object is not
callable``: the constructor takes LazyLLM's ``type=`` keyword and built its error message
with ``type(base_url)``. ruff's builtin-shadowing rules (A001, A002) refuse new shadowing
names, but allow ``input``, ``type`` and ``format``, keyword names of LazyLLM's public API
(pyproject.toml); this test makes sure no function that takes one of them calls the builtin.
"""
from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

import lazyllm

PACKAGE = Path(lazyllm.__file__).parent
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _parameters(fn: ast.AST) -> set[str]:
    a = fn.args  # type: ignore[attr-defined]
    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    names += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
    return {n for n in names if hasattr(builtins, n)}


def _calls_in(fn: ast.AST) -> list[ast.Call]:
    """Calls in ``fn``'s own body, not in functions nested in it (they have their own
    scope, checked on their own)."""
    out, todo = [], list(ast.iter_child_nodes(fn))
    while todo:
        node = todo.pop()
        if isinstance(node, _FUNCTIONS + (ast.ClassDef,)):
            continue
        if isinstance(node, ast.Call):
            out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def shadowed_calls(source: str) -> list[tuple[int, str]]:
    """(line, name) of every call of a builtin that the calling function's parameter
    shadows."""
    found = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, _FUNCTIONS):
            continue
        shadowing = _parameters(fn)
        for call in _calls_in(fn):
            if isinstance(call.func, ast.Name) and call.func.id in shadowing:
                found.append((call.lineno, call.func.id))
    return found


def test_the_check_finds_the_bug_it_is_for():
    bad = 'def make(base_url, type=None):\n    raise ValueError(type(base_url).__name__)\n'
    assert shadowed_calls(bad) == [(2, 'type')]
    good = 'def make(base_url, type=None):\n    return base_url.__class__.__name__\n'
    assert shadowed_calls(good) == []


def test_no_function_calls_a_builtin_it_shadows():
    found = {str(path.relative_to(PACKAGE)): calls for path in sorted(PACKAGE.rglob('*.py'))
             if (calls := shadowed_calls(path.read_text(encoding='utf-8')))}
    assert not found, f'calls of a shadowed builtin (line, name): {found}; use ' \
                      f'x.__class__, or rename the local name'


def test_the_bug_that_started_it_is_a_clear_error():
    with pytest.raises(lazyllm.errors.InputError, match='base_url must be a str URL, not int'):
        lazyllm.OnlineChatModule(source='openai', api_key='k', base_url=123)

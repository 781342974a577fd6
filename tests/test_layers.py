"""The package's shape, checked: layers import only downward, no package reaches into
another's private modules, and no two files import each other (docs/architecture.md).

Imports inside functions count too: a lazy import keeps ``import lazyllm`` fast, it does not
make a dependency go away.
"""
from __future__ import annotations

import ast
from pathlib import Path

import lazyllm

ROOT = Path(lazyllm.__file__).parent

# Lowest first. A package may import its own modules and any package of a lower layer; the
# kernel's root modules, and the command line's, may also import each other.
LAYERS = [
    {'errors', '_config', '_log', '_redact', '_names', '_options', '_package', '_version',
     '_clash', '_registry', '_requires', '_progress', '_lazy'},  # the kernel, root modules
    {'prompt', 'formatter', 'registry'},                        # pure shaping, the record
    {'client'},                                                 # one HTTP client + protocols
    {'hub', 'launch'},                                          # weights; where processes run
    {'deploy', 'finetune'},                                     # engines; training jobs
    {'serve'},                                                  # deployments' lifecycle
    {'module'},                                                 # the callable core
    {'gateway'},                                                # one endpoint for them all
    {'cli', '__main__', ''},      # the command line; '': the facade, lazyllm/__init__.py
]
LAYER = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


MODULES = {_name(p): p for p in ROOT.rglob('*.py')}


def _imports(name: str) -> set[str]:
    """The lazyllm modules ``name`` imports, anywhere in the file."""
    path = MODULES[name]
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            for alias in node.names:   # `from pkg import module` names a module
                sub = f'{target}.{alias.name}'
                found.add(sub if sub in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {t for t in found if t in MODULES and t != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _top(name: str) -> str:
    return name.split('.')[1] if '.' in name else ''


def test_every_package_has_a_layer():
    tops = {_top(n) for n in MODULES}
    assert tops <= set(LAYER), f'add {sorted(tops - set(LAYER))} to LAYERS (and to ' \
                               f'docs/architecture.md)'


def _allowed(a: str, b: str) -> bool:
    above, below = LAYER[_top(a)], LAYER[_top(b)]
    return _top(a) == _top(b) or below < above or below == above in (0, len(LAYERS) - 1)


def test_layers_import_only_downward():
    upward = sorted(f'{a} -> {b}' for a, targets in GRAPH.items() for b in targets
                    if not _allowed(a, b))
    assert not upward, f'imports that do not go down a layer: {upward}'


def test_no_package_imports_another_packages_private_modules():
    reach_ins = sorted(
        f'{a} -> {b}' for a, targets in GRAPH.items() for b in targets
        if _top(a) != _top(b) and any(p.startswith('_') for p in b.split('.')[2:]))
    assert not reach_ins, f'import the public name from the package instead: {reach_ins}'


def test_no_import_cycles_between_files():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:       # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    assert not cycles, f'files that import each other (directly or around a circle): {cycles}'

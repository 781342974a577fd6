"""``graph``: named steps wired as a directed acyclic graph.

::

    with graph() as g:
        g.search = search
        g.summarize = summarize
        g.answer = answer
    g.add_edge(g.start_node_name, ['search', 'summarize'])
    g.add_edge(['search', 'summarize'], 'answer')        # answer(search_out, summarize_out)
    g.add_edge('answer', g.end_node_name)
    g(question)

- ``g.start_node_name`` (``'__start__'``) stands for the call's input, ``g.end_node_name``
  (``'__end__'``) for its output. Either side of ``add_edge`` may be a list of names.
- A node with one incoming edge gets that value (a ``package`` unpacked into its
  arguments); a node with several gets them as positional arguments, in the order the edges
  were added. The end node returns its single input, or a package of several.
- ``add_edge(a, b, formatter=f)`` transforms the value on that edge only: ``b`` gets
  ``f(value)``. ``add_const_edge(value, b)`` feeds ``b`` a constant, in the same edge order.
- ``set_node_arg_name([[...], ...])`` (one list per node, in the nodes' order) passes a
  node's inputs as keyword arguments with those names instead.
- Keyword arguments of the call go to every node fed directly by the start node.
- A node runs as soon as all its inputs are ready, so independent nodes run concurrently
  (at most ``max_workers`` at a time). The first error stops scheduling new nodes and is
  raised, with its own type, once running nodes have finished.

Wiring errors are ``InputError``s raised as early as possible: an unknown node name, a
duplicated edge or a cycle when the edge is added; a node no path from the start reaches, a
node from which the end cannot be reached, or no edge into the end at the first call.
Graphs are built, then called: adding nodes or edges after the first call is refused.
"""
from __future__ import annotations

import contextvars
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable

from ..._config import config
from ...errors import InputError
from ._barrier import outside_branches
from ._base import FlowBase
from ._package import as_args, pack, package

__all__ = ['Graph', 'graph']

START, END = '__start__', '__end__'
_NEEDS_NAMES = ('graph nodes need names: assign them in a with block (g.search = f) or pass '
                'them as keywords (graph(search=f))')


class _Const:
    """The source of a constant edge."""
    __slots__ = ('value',)

    def __init__(self, value: Any):
        self.value = value


class Graph(FlowBase):
    """A DAG of named steps; see the module docstring."""

    start_node_name, end_node_name = START, END

    def __init__(self, *steps: Callable, **named: Any):
        # node name -> list of (source name or _Const, formatter), in the order added
        self._inputs: dict[str, list[tuple[Any, Callable | None]]] = {}
        self._arg_names: dict[str, list[str]] = {}
        self._order: list[str] | None = None     # the checked schedule, set at first call
        self._adopting = False
        super().__init__(*steps, **named)

    def _add_step(self, name: str | None, step: Callable) -> None:
        if name is None and not self._adopting:
            raise InputError(_NEEDS_NAMES + '.')
        if name in (START, END):
            raise InputError(f'{name!r} is the graph\'s own start or end node: pick another '
                             'node name.')
        self._refuse_after_first_call('add a node')
        super()._add_step(name, step)

    def _adopt(self, flow: FlowBase) -> None:
        # `with pipeline() as g.sub:` opens the flow (adopted unnamed) before naming it
        self._adopting = True
        try:
            super()._adopt(flow)
        finally:
            self._adopting = False

    def _finish_building(self) -> None:
        self._check_named()

    def _check_named(self) -> None:
        unnamed = [i for i in range(len(self._steps)) if not self.step_label(i)]
        if unnamed:
            raise InputError(f'{_NEEDS_NAMES} (flow(s) opened in the with block as step(s) '
                             f'{unnamed} have none: write "with pipeline() as g.name:").')

    # -- wiring ---------------------------------------------------------------------------
    def add_edge(self, from_node: str | list[str], to_node: str | list[str],
                 formatter: Callable | None = None) -> None:
        """Feed ``to_node`` the output of ``from_node`` (either may be a list of names),
        through ``formatter`` when given."""
        if formatter is not None and not callable(formatter):
            raise InputError(f'the formatter of an edge must be callable, got '
                             f'{type(formatter).__name__}.')
        for src in _names(from_node, 'from_node'):
            for dst in _names(to_node, 'to_node'):
                self._add_one_edge(src, dst, formatter)

    def add_const_edge(self, constant: Any, to_node: str | list[str]) -> None:
        """Feed ``to_node`` (a name or a list) the value ``constant`` at every call."""
        for dst in _names(to_node, 'to_node'):
            self._check_node(dst, 'to')
            if dst == START:
                raise InputError('a constant cannot go into the start node: feed it to the '
                                 'node that needs it.')
            self._refuse_after_first_call('add an edge')
            self._inputs.setdefault(dst, []).append((_Const(constant), None))

    def set_node_arg_name(self, arg_names: list) -> None:
        """Name the inputs of each node (one list of names per node, in the nodes' order, or
        None to keep positional inputs): a node then gets them as keyword arguments."""
        if not isinstance(arg_names, (list, tuple)) or len(arg_names) > len(self._steps):
            raise InputError(f'set_node_arg_name takes a list with at most one entry per node '
                             f'({len(self._steps)}): a list of argument names, or None.')
        for i, names in enumerate(arg_names):
            if names is None:
                continue
            if isinstance(names, str):
                names = [names]
            if not all(isinstance(n, str) for n in names):
                raise InputError(f'argument names of node {self.step_label(i)!r} must be '
                                 f'strings, got {names!r}.')
            self._arg_names[self.step_label(i)] = list(names)

    def _add_one_edge(self, src: str, dst: str, formatter: Callable | None) -> None:
        self._check_node(src, 'from')
        self._check_node(dst, 'to')
        self._refuse_after_first_call('add an edge')
        if src == END or dst == START:
            raise InputError(f'an edge {src!r} -> {dst!r} leaves the end node or enters the '
                             'start node: edges go from start towards end.')
        if any(s == src for s, _ in self._inputs.get(dst, [])):
            raise InputError(f'the edge {src!r} -> {dst!r} is already in the graph: add each '
                             'edge once.')
        cycle = self._path(dst, src)
        if cycle is not None:
            raise InputError(f'the edge {src!r} -> {dst!r} closes a cycle '
                             f'({" -> ".join(cycle + [dst])}): a graph must be acyclic; use '
                             'loop() for repetition.')
        self._inputs.setdefault(dst, []).append((src, formatter))

    def _check_node(self, name: Any, side: str) -> None:
        if not isinstance(name, str) or (name not in self._step_names
                                         and name not in (START, END)):
            known = sorted(self._step_names)
            raise InputError(f'{name!r} is not a node of this graph ({side} side of an edge): '
                             f'use one of {known} or g.start_node_name / g.end_node_name, and '
                             'add the node before its edges.')

    def _refuse_after_first_call(self, what: str) -> None:
        if self._order is not None:
            raise InputError(f'cannot {what} after the graph has run: build the whole graph '
                             'first, or build a new one.')

    def _path(self, start: str, goal: str) -> list[str] | None:
        """A path start -> ... -> goal along existing edges, or None."""
        outputs = self._outputs()
        stack, seen = [[start]], {start}
        while stack:
            path = stack.pop()
            if path[-1] == goal:
                return path
            for nxt in outputs.get(path[-1], []):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(path + [nxt])
        return None

    def _outputs(self) -> dict[str, list[str]]:
        outputs: dict[str, list[str]] = {}
        for dst, sources in self._inputs.items():
            for src, _ in sources:
                if isinstance(src, str):
                    outputs.setdefault(src, []).append(dst)
        return outputs

    # -- checking -------------------------------------------------------------------------
    def topological_sort(self) -> list[str]:
        """The node names in an order where every node comes after its inputs (start
        first, end last). Raises InputError when the graph cannot run."""
        self._check_named()
        if END not in self._inputs:
            raise InputError('no edge goes into the graph\'s end node, so a call would return '
                             'nothing: add g.add_edge(<last node>, g.end_node_name).')
        sources = {START} | {n for n, ins in self._inputs.items()
                             if all(isinstance(s, _Const) for s, _ in ins)}
        unreached = [n for n in self._step_names if not self._reaches(sources, n)]
        if unreached:
            raise InputError(f'node(s) {unreached} get no input from the start node: connect '
                             'them with g.add_edge(...), or do not add them to the graph.')
        dead_ends = [n for n in self._step_names if self._path(n, END) is None]
        if dead_ends:
            raise InputError(f'the output of node(s) {dead_ends} never reaches the end node, '
                             'so they would run for nothing: connect them towards '
                             'g.end_node_name.')
        order, done = [START], {START}
        pending = list(self._step_names) + [END]
        while pending:
            ready = [n for n in pending if all(not isinstance(s, str) or s in done
                                               for s, _ in self._inputs.get(n, []))]
            order += ready
            done.update(ready)
            pending = [n for n in pending if n not in done]
        return order

    def _reaches(self, sources: set[str], goal: str) -> bool:
        return any(self._path(s, goal) is not None for s in sources)

    # -- running --------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._order is None:
            self._order = self.topological_sort()
        values: dict[str, Any] = {START: pack(args)}
        nodes = [n for n in self._order if n not in (START, END)]
        workers = max(1, min(len(nodes), config['max_workers']))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix='lazyllm-graph') as pool:
            self._run_nodes(pool, nodes, values, kwargs)
        return self._node_input(END, values)

    def _run_nodes(self, pool: ThreadPoolExecutor, nodes: list[str], values: dict,
                   kwargs: dict) -> None:
        waiting = list(nodes)
        running: dict[Future, str] = {}
        error: BaseException | None = None
        while waiting or running:
            if error is None:
                for name in [n for n in waiting if self._ready(n, values)]:
                    waiting.remove(name)
                    call = self._node_call(name, values, kwargs)
                    ctx = contextvars.copy_context()
                    running[pool.submit(ctx.run, outside_branches, call)] = name
            if not running:
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in _in_node_order(finished, running, nodes):
                name = running.pop(future)
                if future.exception() is not None:
                    error = error or future.exception()
                else:
                    values[name] = future.result()
        if error is not None:
            raise error

    def _ready(self, name: str, values: dict) -> bool:
        return all(not isinstance(s, str) or s in values for s, _ in self._inputs[name])

    def _node_call(self, name: str, values: dict, kwargs: dict) -> Callable[[], Any]:
        index = self._step_names[name]
        inputs = self._inputs[name]
        from_start = any(s == START for s, _ in inputs)
        extra = dict(kwargs) if from_start else {}
        if len(inputs) == 1:
            args = as_args(self._edge_value(inputs[0], values))
        else:
            args = tuple(self._edge_value(edge, values) for edge in inputs)
        if name in self._arg_names:
            extra.update(zip(self._arg_names[name], args))
            args = args[len(self._arg_names[name]):]
        return lambda: self._run_step(index, *args, **extra)

    def _node_input(self, name: str, values: dict) -> Any:
        inputs = self._inputs[name]
        if len(inputs) == 1:
            return self._edge_value(inputs[0], values)
        return package([self._edge_value(edge, values) for edge in inputs])

    @staticmethod
    def _edge_value(edge: tuple[Any, Callable | None], values: dict) -> Any:
        source, formatter = edge
        value = source.value if isinstance(source, _Const) else values[source]
        return formatter(value) if formatter is not None else value


def _in_node_order(finished: set[Future], running: dict, nodes: list[str]) -> list[Future]:
    """Finished futures in node order, so the error raised does not depend on timing."""
    return sorted(finished, key=lambda f: nodes.index(running[f]))


def _names(value: Any, what: str) -> list[str]:
    if isinstance(value, (list, tuple)):
        if not value:
            raise InputError(f'{what} is an empty list: give at least one node name.')
        return list(value)
    return [value]


graph = Graph

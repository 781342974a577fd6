"""graph: wiring, inputs per node, concurrency, and wiring errors raised early."""
import threading

import pytest

from lazyllm import graph, package, pipeline
from lazyllm.errors import InputError


def chain(**nodes):
    """A graph of the given nodes, built in a with block (keeps the keyword order)."""
    with graph() as g:
        for name, f in nodes.items():
            setattr(g, name, f)
    return g


def test_lazyllm_example_fan_out_and_join():
    g = chain(t1=lambda x: f'1 get {x};', t2=lambda x: f'2 get {x};',
              t3=lambda x: f'3 get {x};', add=lambda x, y: x + y, concat=lambda x, y: [x, y])
    g.add_edge(g.start_node_name, ['t1', 't2', 't3'])
    g.add_edge(['t1', 't2'], 'add')
    g.add_edge(['add', 't3'], 'concat')
    g.add_edge('concat', g.end_node_name)
    assert g(1) == ['1 get 1;2 get 1;', '3 get 1;']
    assert g(2) == ['1 get 2;2 get 2;', '3 get 2;']      # a graph is called many times


def test_start_and_end_names():
    assert graph.start_node_name == '__start__' and graph.end_node_name == '__end__'
    g = graph()
    g.add_edge('__start__', '__end__')
    assert g(5) == 5 and g(1, 2) == package(1, 2)


def test_several_inputs_arrive_in_the_order_edges_were_added():
    g = chain(a=lambda x: 'a', b=lambda x: 'b', join=lambda *xs: ''.join(xs))
    g.add_edge(g.start_node_name, ['a', 'b'])
    g.add_edge('b', 'join')
    g.add_edge('a', 'join')
    g.add_edge('join', g.end_node_name)
    assert g(0) == 'ba'


def test_end_with_several_inputs_returns_a_package():
    g = chain(a=lambda x: x + 1, b=lambda x: x * 2)
    g.add_edge(g.start_node_name, ['a', 'b'])
    g.add_edge(['b', 'a'], g.end_node_name)
    assert g(3) == package(6, 4)


def test_a_package_on_a_single_edge_is_unpacked():
    g = chain(pair=lambda x: package(x, x + 1), mul=lambda a, b: a * b)
    g.add_edge(g.start_node_name, 'pair')
    g.add_edge('pair', 'mul')
    g.add_edge('mul', g.end_node_name)
    assert g(3) == 12


def test_edge_formatter_transforms_only_that_edge():
    g = chain(a=lambda x: {'v': x}, b=lambda d: d, pair=lambda x, y: (x, y))
    g.add_edge(g.start_node_name, 'a')
    g.add_edge('a', 'b')
    g.add_edge('a', 'pair', formatter=lambda d: d['v'])
    g.add_edge('b', 'pair')
    g.add_edge('pair', g.end_node_name)
    assert g(7) == (7, {'v': 7})


def test_const_edge_and_arg_names():
    g = chain(scale=lambda x, factor: x * factor, label=lambda value, unit: f'{value}{unit}')
    g.add_edge(g.start_node_name, 'scale')
    g.add_const_edge(10, 'scale')
    g.add_edge('scale', 'label')
    g.add_const_edge('cm', 'label')
    g.set_node_arg_name([None, ['value', 'unit']])
    g.add_edge('label', g.end_node_name)
    assert g(3) == '30cm'


def test_call_keywords_go_to_nodes_fed_by_the_start():
    g = chain(a=lambda x, k=0: x + k, b=lambda x, k=0: x * 10 + k)
    g.add_edge(g.start_node_name, 'a')
    g.add_edge('a', 'b')
    g.add_edge('b', g.end_node_name)
    assert g(1, k=5) == 60


def test_independent_nodes_run_concurrently():
    both_running = threading.Barrier(2, timeout=5)

    def meet(x):
        both_running.wait()          # breaks if the nodes ran one after the other
        return x
    g = chain(a=meet, b=meet)
    g.add_edge(g.start_node_name, ['a', 'b'])
    g.add_edge(['a', 'b'], g.end_node_name)
    assert g(1) == (1, 1)


def test_a_node_error_keeps_its_type_and_stops_what_depends_on_it():
    ran = []

    def boom(x):
        raise KeyError('node failed')
    g = chain(a=boom, b=lambda x: ran.append(x))
    g.add_edge(g.start_node_name, 'a')
    g.add_edge('a', 'b')
    g.add_edge('b', g.end_node_name)
    with pytest.raises(KeyError, match='node failed'):
        g(1)
    assert ran == []


def test_topological_sort_lists_start_nodes_end():
    g = chain(b=str, a=str)
    g.add_edge(g.start_node_name, 'a')
    g.add_edge('a', 'b')
    g.add_edge('b', g.end_node_name)
    assert g.topological_sort() == ['__start__', 'a', 'b', '__end__']


# -- wiring errors, raised as early as possible ---------------------------------------------

def test_unknown_node_is_refused_when_the_edge_is_added():
    g = chain(a=str)
    with pytest.raises(InputError, match=r"'nope' is not a node.*\['a'\]"):
        g.add_edge('a', 'nope')
    with pytest.raises(InputError, match='is not a node'):
        g.add_const_edge(1, ['a', 'nope'])
    with pytest.raises(InputError, match='constant cannot go into the start'):
        g.add_const_edge(1, g.start_node_name)


def test_cycle_is_refused_when_the_edge_is_added():
    g = chain(a=str, b=str, c=str)
    g.add_edge('a', 'b')
    g.add_edge('b', 'c')
    with pytest.raises(InputError, match=r'closes a cycle \(a -> b -> c -> a\)'):
        g.add_edge('c', 'a')
    with pytest.raises(InputError, match='cycle'):
        g.add_edge('a', 'a')


def test_duplicate_and_backward_edges_are_refused():
    g = chain(a=str)
    g.add_edge(g.start_node_name, 'a')
    with pytest.raises(InputError, match='already in the graph'):
        g.add_edge(g.start_node_name, 'a')
    with pytest.raises(InputError, match='enters the start node'):
        g.add_edge('a', g.start_node_name)
    with pytest.raises(InputError, match='leaves the end node'):
        g.add_edge(g.end_node_name, 'a')


def test_bad_edge_arguments():
    g = chain(a=str)
    with pytest.raises(InputError, match='formatter of an edge must be callable'):
        g.add_edge(g.start_node_name, 'a', formatter='upper')
    with pytest.raises(InputError, match='empty list'):
        g.add_edge([], 'a')


def test_nodes_need_names_that_are_not_start_or_end():
    with pytest.raises(InputError, match='graph nodes need names'):
        graph(str)
    with pytest.raises(InputError, match="start or end node"):
        graph(__end__=str)


def test_no_edge_into_the_end_is_refused_at_the_first_call():
    g = chain(a=str)
    g.add_edge(g.start_node_name, 'a')
    with pytest.raises(InputError, match='no edge goes into the graph\'s end node'):
        g(1)


def test_a_node_the_start_never_reaches_is_refused():
    g = chain(a=str, lonely=str)
    g.add_edge(g.start_node_name, 'a')
    g.add_edge(['a', 'lonely'], g.end_node_name)
    with pytest.raises(InputError, match=r"\['lonely'\] get no input from the start"):
        g(1)


def test_a_node_that_never_reaches_the_end_is_refused():
    g = chain(a=str, dead=str)
    g.add_edge(g.start_node_name, ['a', 'dead'])
    g.add_edge('a', g.end_node_name)
    with pytest.raises(InputError, match=r"\['dead'\] never reaches the end"):
        g(1)


def test_the_graph_is_frozen_after_its_first_call():
    g = chain(a=str)
    g.add_edge(g.start_node_name, 'a')
    g.add_edge('a', g.end_node_name)
    g(1)
    with pytest.raises(InputError, match='after the graph has run'):
        g.add_edge(g.start_node_name, g.end_node_name)


def test_set_node_arg_name_validates_its_input():
    g = chain(a=str)
    with pytest.raises(InputError, match='at most one entry per node'):
        g.set_node_arg_name([['x'], ['y']])
    with pytest.raises(InputError, match='must be strings'):
        g.set_node_arg_name([[1]])


def test_flows_opened_in_the_with_block_are_nodes_when_named():
    with graph() as g:
        g.a = lambda x: x + 1
        with pipeline() as g.twice:
            g.twice.x = lambda x: x * 2
            g.twice.y = lambda x: x * 2
    g.add_edge(g.start_node_name, 'a')
    g.add_edge('a', 'twice')
    g.add_edge('twice', g.end_node_name)
    assert g(1) == 8
    with pytest.raises(InputError, match='graph nodes need names.*with pipeline\\(\\) as g.name'):
        with graph() as g:
            g.a = str
            with pipeline() as unnamed:
                unnamed.x = str


def test_a_node_error_names_the_node():
    def boom(x):
        raise ValueError('bad value')
    g = chain(parse=boom)
    g.add_edge(g.start_node_name, 'parse')
    g.add_edge('parse', g.end_node_name)
    with pytest.raises(ValueError) as info:
        g(1)
    assert "step 'parse'" in '\n'.join(getattr(info.value, '__notes__', []))

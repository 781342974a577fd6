import threading
import time

import pytest

import lazyllm
from lazyllm.errors import DeployError, InputError, StartError


class Echo(lazyllm.ModuleBase):
    def forward(self, x):
        return f'echo:{x}'


class Words(lazyllm.ModuleBase):
    def forward(self, text):
        return text

    def stream_forward(self, text):
        yield from (w + ' ' for w in text.split())


class Deployable(lazyllm.ModuleBase):
    """A module whose deploy step takes a while, like an engine becoming ready."""

    def __init__(self, delay=0.0, fail=None, name=None, **kw):
        super().__init__(name=name, **kw)
        self.delay, self.fail, self.starts, self.stops, self.updates = delay, fail, 0, 0, 0

    def _start_self(self):
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError(self.fail)
        self.starts += 1

    def _stop_self(self):
        self.stops += 1

    def _update_self(self):
        self.updates += 1

    def forward(self, x):
        return (self.name, x)


class Tree(lazyllm.ModuleBase):
    def __init__(self, *children):
        super().__init__()
        self.children = list(children)

    def forward(self, x):
        return [c(x) for c in self.children]


def test_call_runs_forward_and_missing_forward_says_what_to_do():
    assert Echo()('a') == 'echo:a'
    with pytest.raises(NotImplementedError, match='must implement forward'):
        lazyllm.ModuleBase()(1)


def test_hooks_wrap_calls_in_order_and_see_errors():
    seen = []

    class Upper(lazyllm.Hook):
        def pre_call(self, module, args, kwargs):
            seen.append(('pre', module.name))
            return tuple(a.upper() for a in args), kwargs

        def post_call(self, module, output):
            seen.append(('post', output))
            return output + '!'

        def on_error(self, module, error):
            seen.append(('error', type(error).__name__))

    m = Echo(name='e')
    hook = m.register_hook(Upper())
    assert m('hi') == 'echo:HI!'
    assert seen == [('pre', 'e'), ('post', 'echo:HI')]
    with pytest.raises(AttributeError):
        m(1)   # int has no .upper(): the pre hook fails inside the call
    assert seen[-1] == ('error', 'AttributeError')
    m.remove_hook(hook)
    assert m('hi') == 'echo:hi'
    with pytest.raises(InputError, match='not a hook'):
        m.register_hook(object())


def test_formatter_view_leaves_the_original_alone():
    m = Echo()
    upper = m | str.upper
    both = upper | (lambda s: s + '?')
    assert m('x') == 'echo:x'
    assert upper('x') == 'ECHO:X'
    assert both('x') == 'ECHO:X?'
    assert upper._life is m._life     # same deployment state: a view, not a copy


def test_stream_yields_chunks_and_stream_option_feeds_listeners():
    m = Words()
    assert list(m.stream('a b c')) == ['a ', 'b ', 'c ']
    assert m('a b c') == 'a b c'      # stream off: forward
    s = Words(stream={'prefix': '<', 'suffix': '>'})
    got = []
    with lazyllm.listen_stream(lambda chunk, module: got.append(chunk)):
        assert s('a b') == 'a b '     # joined chunks are the result
    assert got == ['<', 'a ', 'b ', '>']
    assert s('x') == 'x '             # no listener: nothing sent, result still whole
    assert got == ['<', 'a ', 'b ', '>']


def test_stream_option_is_validated():
    with pytest.raises(InputError, match='unknown stream option'):
        Words(stream={'colour': 'blue'})
    with pytest.raises(InputError, match='not one of'):
        Words(stream={'color': 'pink'})
    with pytest.raises(InputError, match='True, False or a dict'):
        Words(stream='yes')
    painted = []
    with lazyllm.listen_stream(lambda c, m: painted.append(c)):
        Words(stream={'color': 'blue'})('hi')
    assert painted == ['\033[34mhi \033[0m']


def test_start_runs_deploy_steps_concurrently():
    kids = [Deployable(delay=0.6, name=f'm{i}') for i in range(4)]
    root = Tree(*kids)
    t0 = time.perf_counter()
    assert root.start() is root
    took = time.perf_counter() - t0
    assert took < 1.5, f'4 x 0.6 s deploy steps took {took:.2f}s: they ran one after another'
    assert [k.starts for k in kids] == [1, 1, 1, 1]
    root.start()                       # run once until stopped
    assert [k.starts for k in kids] == [1, 1, 1, 1]
    root.stop()
    assert [k.stops for k in kids] == [1, 1, 1, 1]
    root.stop()                        # idempotent
    assert [k.stops for k in kids] == [1, 1, 1, 1]


def test_start_reports_every_failure_by_name():
    root = Tree(Deployable(fail='no GPU', name='a'), Deployable(name='ok'),
                Deployable(fail='port busy', name='b'))
    with pytest.raises(StartError) as info:
        root.start()
    assert set(info.value.failures) == {'a', 'b'}
    assert 'no GPU' in str(info.value) and 'port busy' in str(info.value)
    assert root.children[1].starts == 1    # the healthy one still started


def test_update_runs_every_time_then_restarts():
    child = Deployable()
    root = Tree(child).start()
    root.update()
    root.update()
    assert (child.updates, child.starts, child.stops) == (2, 3, 2)


def test_shared_submodule_starts_once_and_views_share_lifecycle():
    shared = Deployable()
    root = Tree(shared, shared | str, Tree(shared))
    root.start()
    assert shared.starts == 1


def test_context_manager_and_wait():
    child = Deployable()
    with Tree(child).start() as root:
        assert child.starts == 1
        assert root.wait(timeout=0.05) is False
    assert child.stops == 1
    m = Deployable().start()
    threading.Timer(0.2, m.stop).start()
    t0 = time.perf_counter()
    assert m.wait(timeout=5) is True
    assert time.perf_counter() - t0 < 4


def test_stop_failure_is_reported_after_stopping_the_rest():
    class BadStop(Deployable):
        def _stop_self(self):
            raise RuntimeError('stuck')
    good = Deployable()
    root = Tree(BadStop(name='bad'), good).start()
    with pytest.raises(DeployError, match='bad: RuntimeError: stuck'):
        root.stop()
    assert good.stops == 1


def test_repr_shows_the_tree():
    root = Tree(Echo(name='left'), Tree(Echo(name='deep')))
    text = repr(root)
    assert text.splitlines()[0] == 'Tree()'
    assert "├─ Echo(name='left')" in text
    assert "   └─ Echo(name='deep')" in text


def test_concurrent_calls_are_independent():
    m = Echo()
    out = [None] * 64

    def call(i):
        out[i] = m(i)
    threads = [threading.Thread(target=call, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [f'echo:{i}' for i in range(64)]


def test_bad_name_is_an_input_error():
    with pytest.raises(InputError):
        Echo(name=3)

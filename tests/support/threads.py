"""The check that every test server a test starts is stopped with all its threads."""
import threading


def no_leftover_server_threads():
    """A fixture body (register with ``pytest.fixture(autouse=True)(...)``): fails the test if
    a server thread (``*-test-server`` or a request handler thread) it started still runs."""
    before = set(threading.enumerate())
    yield
    left = [t for t in threading.enumerate() if t not in before and t.is_alive()
            and (t.name.endswith('-test-server') or 'process_request_thread' in t.name)]
    assert not left, f'threads left running: {left}'

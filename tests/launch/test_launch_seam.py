"""The seam without long-running processes: validation, errors, the registry, ports, tails."""
import socket
import subprocess
import sys
import threading

import pytest

from lazyllm.errors import DeployError, InputError
from lazyllm.launch import (
    Launcher,
    LocalLauncher,
    Resources,
    allocate_port,
    get_launcher,
    launchers,
    port_is_free,
)
from lazyllm.launch._base import tail_file


@pytest.mark.parametrize('argv, words', [
    ([], 'argv is empty'),
    ('python -V', 'shlex.split'),
    (['echo', 3], 'argv[1] is int'),
    ([''], 'argv[0] is empty'),
])
def test_bad_argv_is_an_input_error(argv, words):
    with pytest.raises(InputError, match=words.replace('[', r'\[').replace(']', r'\]')):
        LocalLauncher().launch(argv)


def test_missing_or_unrunnable_program_is_a_deploy_error(tmp_path, lazyllm_home):
    with pytest.raises(DeployError, match="'no-such-program-lazyllm': not found on PATH"):
        LocalLauncher().launch(['no-such-program-lazyllm', '--x'])
    with pytest.raises(DeployError, match='no such file'):
        LocalLauncher().launch([str(tmp_path / 'missing')])
    script = tmp_path / 'script.sh'
    script.write_text('echo hi\n')
    with pytest.raises(DeployError, match='chmod \\+x'):
        LocalLauncher().launch([str(script)])
    assert not (lazyllm_home / 'logs').exists()  # nothing created for a launch that failed


def test_bad_arguments_name_the_fix():
    local = LocalLauncher()
    with pytest.raises(InputError, match='slurm or ray'):
        local.launch(['true'], resources=Resources(nodes=2))
    with pytest.raises(InputError, match='env entry'):
        local.launch(['true'], env={'PORT': 8000})
    with pytest.raises(InputError, match='name must be a str'):
        local.launch(['true'], name=3)
    with pytest.raises(InputError, match='grace'):
        LocalLauncher(grace=-1)


@pytest.mark.parametrize('kwargs', [
    {'cpus': 0}, {'gpus': -1}, {'gpus': 1.5}, {'nodes': 0}, {'nodes': True},
    {'memory_gb': 0}, {'time_limit': '1h'}, {'partition': ''}, {'extra_args': '--qos=x'},
    {'extra_args': ['--qos', 1]},
])
def test_bad_resources(kwargs):
    with pytest.raises(InputError, match='Resources|extra_args'):
        Resources(**kwargs)


def test_resources_from_values():
    r = Resources.of({'gpus': 2, 'extra_args': ['--qos=high'], 'time_limit': 3600})
    assert r == Resources(gpus=2, extra_args=('--qos=high',), time_limit=3600)
    assert Resources.of(None) == Resources() and Resources.of(r) is r
    with pytest.raises(InputError, match='unknown resource'):
        Resources.of({'gpu': 1})
    with pytest.raises(InputError, match='dict'):
        Resources.of(4)
    with pytest.raises(AttributeError):
        r.gpus = 3  # frozen


def test_registry_and_get_launcher():
    assert launchers.local is LocalLauncher and launchers['local'] is LocalLauncher
    assert isinstance(get_launcher(), LocalLauncher)
    assert get_launcher('LOCAL', grace=3).grace == 3
    instance = LocalLauncher()
    assert get_launcher(instance) is instance
    assert isinstance(get_launcher(LocalLauncher), LocalLauncher)
    with pytest.raises(InputError, match="unknown launcher 'nope'.*local"):
        get_launcher('nope')
    with pytest.raises(AttributeError):
        launchers.nope
    with pytest.raises(InputError, match='Launcher class or instance'):
        get_launcher(42)
    with pytest.raises(InputError, match='existing launcher instance'):
        get_launcher(instance, grace=1)
    with pytest.raises(InputError, match='subclass'):
        launchers.register('bad', object)


def test_a_plugin_registers_like_a_builtin():
    @launchers.register('elsewhere')
    class Elsewhere(LocalLauncher):
        @property
        def host(self):
            return '10.0.0.1'
    try:
        assert isinstance(get_launcher('elsewhere'), Elsewhere)
        assert get_launcher('elsewhere').host == '10.0.0.1'
        assert issubclass(Elsewhere, Launcher)
    finally:
        del launchers['elsewhere']


def test_allocate_port_gives_distinct_free_ports():
    ports = [allocate_port() for _ in range(50)]
    assert len(set(ports)) == 50 and all(port_is_free(p) for p in ports)
    assert LocalLauncher().allocate_port() not in ports
    from_threads = []
    threads = [threading.Thread(target=lambda: from_threads.append(allocate_port()))
               for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(from_threads) | set(ports)) == 70


def test_port_is_free_sees_a_listening_socket():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen()
        assert not port_is_free(s.getsockname()[1])


def test_tail_reads_the_end(tmp_path):
    path = tmp_path / 'log'
    assert tail_file(path, 5) == (b'', 0)  # no file yet
    path.write_text(''.join(f'line {i}\n' for i in range(100000)) + 'last, no newline ✓')
    size = path.stat().st_size
    assert tail_file(path, 2) == ('line 99999\nlast, no newline ✓'.encode(), size)
    assert tail_file(path, 0) == (b'', size)   # the offset to follow the file from
    short = tmp_path / 'short'
    short.write_text('a\nb\n')
    assert tail_file(short, 10) == (b'a\nb\n', 4)


def test_import_creates_no_files(tmp_path):
    home = tmp_path / 'home'
    subprocess.run([sys.executable, '-c', 'import lazyllm.launch'], check=True,
                   env={'LAZYLLM_HOME': str(home), 'HOME': str(home), 'PATH': '/usr/bin:/bin'})
    assert not home.exists()

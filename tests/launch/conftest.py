"""Fixtures of the launcher tests: a temporary lazyllm home, a launcher, job cleanup."""
import pytest

from lazyllm.launch import LocalLauncher


@pytest.fixture(autouse=True)
def lazyllm_home(tmp_path, monkeypatch):
    """Logs of the tests' jobs go to a temporary lazyllm home."""
    home = tmp_path / 'lazyllm-home'
    monkeypatch.setenv('LAZYLLM_HOME', str(home))
    return home


@pytest.fixture
def launcher():
    return LocalLauncher(grace=2)


@pytest.fixture
def jobs():
    """A list to put started jobs in; every one is stopped after the test, pass or fail."""
    started = []
    yield started
    for job in started:
        job.stop(timeout=1)

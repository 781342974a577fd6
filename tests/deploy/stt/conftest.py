"""Speech-to-text tests: the real whisper engine (faster-whisper) on whisper tiny.en and
speech made by ``espeak-ng`` (tests/support/speech.py; the ``whisper_path`` and ``speech``
fixtures are the suite's).

The engine is started once per test module through ``TrainableModule(...).start()`` (the
public path: type inferred, engine picked by ``lazyllm.deploy.auto``) and stopped at the end.
"""
import pytest


@pytest.fixture(scope='module')
def stt(whisper_path):
    """A started TrainableModule on whisper tiny.en (the engine picked for its type)."""
    import lazyllm
    m = lazyllm.TrainableModule(whisper_path).start()
    yield m
    m.stop()

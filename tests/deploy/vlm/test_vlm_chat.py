"""The chat path of the vlm engine: a LLaVA-style model (AutoModelForImageTextToText with a
processor chat template), served and compared with the same model run in-process."""
import pytest

import lazyllm
from lazyllm.hub import ModelType, infer_type

MAX_TOKENS = 8


@pytest.fixture(scope='module')
def llava(llava_path):
    m = lazyllm.TrainableModule(llava_path).start()
    yield m.share(temperature=0, max_tokens=MAX_TOKENS)
    m.stop()


@pytest.fixture(scope='module')
def llava_reference(llava_path):
    """(question, image paths) -> the greedy answer of the in-process model."""
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor
    processor = AutoProcessor.from_pretrained(llava_path)
    model = AutoModelForImageTextToText.from_pretrained(llava_path).eval()

    def answer(question, paths=()):
        content = [{'type': 'text', 'text': question}] + [{'type': 'image'} for _ in paths]
        text = processor.apply_chat_template([{'role': 'user', 'content': content}],
                                             add_generation_prompt=True, tokenize=False)
        images = [Image.open(p).convert('RGB') for p in paths] or None
        inputs = processor(text=text, images=images, return_tensors='pt')
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=MAX_TOKENS, do_sample=False)
        return processor.decode(out[0, inputs['input_ids'].shape[1]:], skip_special_tokens=True)
    return answer


def test_chat_vlm_answers_like_the_model(llava_path, llava, llava_reference, images):
    assert infer_type(llava_path) == ModelType.VLM and llava.type == ModelType.VLM
    red, noise = images['red'], images['noise']
    assert llava('What is it?', lazyllm_files=red) == llava_reference('What is it?', [red])
    assert llava('What is it?', lazyllm_files=[red, noise]) == \
        llava_reference('What is it?', [red, noise])
    assert llava('Just text') == llava_reference('Just text')       # images are optional
    result = llava.chat('What is it?', lazyllm_files=noise)
    assert result.content == llava_reference('What is it?', [noise])
    assert result.usage['prompt_tokens'] > 10 and result.usage['completion_tokens'] <= MAX_TOKENS

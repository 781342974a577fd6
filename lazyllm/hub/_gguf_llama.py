"""Turn a llama-architecture GGUF file into a plain Hugging Face ``LlamaForCausalLM`` folder.

Why our own converter: transformers can load a GGUF itself (``gguf_file=``) but needs
``accelerate``, takes ~40 s for SmolLM2-135M and rebuilds the tokenizer without SmolLM's
digit pre-split. Dequantizing tensor by tensor with the ``gguf`` package gives the same
weights in a few seconds, as float32 safetensors that every engine loads without GGUF code.

Heavy libraries (numpy, torch, gguf, safetensors, transformers, tokenizers) are imported inside
``convert``: this module is imported by ``lazyllm.hub`` only when a built-in model is built.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import ModelNotFoundError

__all__ = ['convert', 'NEEDS']

# What a conversion imports (checked before any work starts).
NEEDS = ('numpy', 'torch', 'transformers', 'tokenizers', 'safetensors', 'gguf')

_LAYER_NAMES = {
    'attn_norm': 'input_layernorm', 'ffn_norm': 'post_attention_layernorm',
    'attn_q': 'self_attn.q_proj', 'attn_k': 'self_attn.k_proj', 'attn_v': 'self_attn.v_proj',
    'attn_output': 'self_attn.o_proj', 'ffn_gate': 'mlp.gate_proj', 'ffn_up': 'mlp.up_proj',
    'ffn_down': 'mlp.down_proj',
}
_TOP_NAMES = {'token_embd.weight': 'model.embed_tokens.weight',
              'output_norm.weight': 'model.norm.weight', 'output.weight': 'lm_head.weight'}
_BIG_FIELDS = ('tokenizer.ggml.tokens', 'tokenizer.ggml.merges', 'tokenizer.ggml.token_type')


def _bad(gguf_file: Path, what: str) -> ModelNotFoundError:
    return ModelNotFoundError(f'{gguf_file.name} cannot be converted: {what}. Only llama GGUF '
                              'files with a gpt2 (byte-level BPE) tokenizer are supported.')


def _unpermute(w, n_head: int):
    # llama.cpp's converter permutes q/k rows for its rotary layout; undo it for HF's.
    rows = w.shape[0] // n_head // 2
    return w.reshape(n_head, rows, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _weights(reader, gguf_file: Path, n_head: int, n_kv: int, progress: bool) -> dict:
    import numpy as np
    import torch
    from gguf.quants import dequantize
    from tqdm import tqdm

    state = {}
    bar = progress and sys.stderr.isatty()   # without a terminal the caller prints stages
    for t in tqdm(reader.tensors, desc=f'dequantizing {gguf_file.name}', unit='tensor',
                  disable=not bar, leave=False):
        w = dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        w = w.reshape([int(d) for d in reversed(t.shape)])  # GGUF lists dims innermost first
        if t.name.startswith('blk.'):
            _, layer, kind, _ = t.name.split('.')
            if kind not in _LAYER_NAMES:
                raise _bad(gguf_file, f'unknown tensor {t.name!r}')
            if kind == 'attn_q':
                w = _unpermute(w, n_head)
            elif kind == 'attn_k':
                w = _unpermute(w, n_kv)
            key = f'model.layers.{layer}.{_LAYER_NAMES[kind]}.weight'
        elif t.name in _TOP_NAMES:
            key = _TOP_NAMES[t.name]
        else:
            raise _bad(gguf_file, f'unknown tensor {t.name!r}')
        state[key] = torch.from_numpy(np.array(w, dtype=np.float32, order='C'))  # writable copy
    return state


def _tokenizer(reader, meta: dict, gguf_file: Path):
    """Rebuild the byte-level BPE tokenizer stored in a 'gpt2'-model GGUF."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    if meta.get('tokenizer.ggml.model') != 'gpt2':
        raise _bad(gguf_file, f"tokenizer model {meta.get('tokenizer.ggml.model')!r}")
    tokens = reader.fields['tokenizer.ggml.tokens'].contents()
    types = reader.fields['tokenizer.ggml.token_type'].contents()
    merges = [tuple(m.split(' ', 1)) for m in reader.fields['tokenizer.ggml.merges'].contents()]
    tok = Tokenizer(models.BPE(vocab={s: i for i, s in enumerate(tokens)}, merges=merges))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if meta.get('tokenizer.ggml.pre') == 'smollm':
        # llama.cpp's 'smollm' pre-tokenizer isolates every digit before the GPT-2 regex.
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), byte_level])
    else:
        tok.pre_tokenizer = byte_level
    tok.decoder = decoders.ByteLevel()
    # token_type 3 = control (special), 4 = user defined (added, not special)
    tok.add_tokens([AddedToken(tokens[i], special=types[i] == 3, normalized=False)
                    for i in range(len(tokens)) if types[i] in (3, 4)])
    ids = {k: int(meta[f'tokenizer.ggml.{k}_token_id'])
           for k in ('bos', 'eos', 'unknown', 'padding') if f'tokenizer.ggml.{k}_token_id' in meta}
    if 'eos' not in ids:
        raise _bad(gguf_file, 'no end-of-sequence token')
    special = dict(bos_id=ids.get('bos'), eos_id=ids['eos'], pad_id=ids.get('padding', ids['eos']))
    special.update(bos=tokens[special['bos_id']] if special['bos_id'] is not None else None,
                   eos=tokens[special['eos_id']], pad=tokens[special['pad_id']],
                   unk=tokens[ids['unknown']] if 'unknown' in ids else None)
    return tok, special


def convert(gguf_file: Path, out: Path, *, progress: bool = True) -> None:
    """Write config, generation config, ``model.safetensors`` and the tokenizer into ``out``."""
    from gguf import GGUFReader
    from safetensors.torch import save_file
    from transformers import GenerationConfig, LlamaConfig, PreTrainedTokenizerFast

    reader = GGUFReader(str(gguf_file))
    meta = {k: f.contents() for k, f in reader.fields.items() if k not in _BIG_FIELDS}
    if meta.get('general.architecture') != 'llama':
        raise _bad(gguf_file, f"architecture {meta.get('general.architecture')!r}")
    n_head = int(meta['llama.attention.head_count'])
    n_kv = int(meta['llama.attention.head_count_kv'])
    state = _weights(reader, gguf_file, n_head, n_kv, progress)
    tok, special = _tokenizer(reader, meta, gguf_file)
    layers = int(meta['llama.block_count'])
    expected = {'model.embed_tokens.weight', 'model.norm.weight'} | {
        f'model.layers.{i}.{n}.weight' for i in range(layers) for n in _LAYER_NAMES.values()}
    if expected - set(state):
        raise _bad(gguf_file, f'missing tensors {sorted(expected - set(state))[:5]}')
    config = LlamaConfig(
        vocab_size=int(meta.get('llama.vocab_size', tok.get_vocab_size())),
        hidden_size=int(meta['llama.embedding_length']),
        intermediate_size=int(meta['llama.feed_forward_length']),
        num_hidden_layers=layers, num_attention_heads=n_head, num_key_value_heads=n_kv,
        max_position_embeddings=int(meta['llama.context_length']),
        rms_norm_eps=float(meta['llama.attention.layer_norm_rms_epsilon']),
        rope_theta=float(meta['llama.rope.freq_base']),
        tie_word_embeddings='lm_head.weight' not in state,
        bos_token_id=special['bos_id'], eos_token_id=special['eos_id'],
        pad_token_id=special['pad_id'], architectures=['LlamaForCausalLM'], dtype='float32',
    )
    save_file(state, str(out / 'model.safetensors'), metadata={'format': 'pt'})
    config.save_pretrained(str(out))
    GenerationConfig(bos_token_id=special['bos_id'], eos_token_id=special['eos_id'],
                     pad_token_id=special['pad_id']).save_pretrained(str(out))
    PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=special['bos'], eos_token=special['eos'],
        pad_token=special['pad'], unk_token=special['unk'],
        model_max_length=config.max_position_embeddings,
        chat_template=meta.get('tokenizer.chat_template')).save_pretrained(str(out))

"""Where and how a built-in engine holds its weights: device, dtype, quantization, attention.

Checked in the engine process before any weight is read, so that a combination this machine
cannot run (``device='cuda'`` without a GPU, 4-bit bitsandbytes on a CPU, ``gptq`` on a folder
that is not GPTQ-quantized) ends the engine at once with one line saying why and what to do,
not deep inside transformers after minutes of loading. The checks run where the engine runs
(a Slurm node may have GPUs the submitting machine lacks), so they cannot run earlier.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
from typing import Any

log = logging.getLogger('lazyllm.engine')

DTYPES = ('auto', 'float32', 'bfloat16', 'float16')
QUANTIZATIONS = ('8bit', '4bit', 'nf4', 'gptq', 'awq')
ATTENTIONS = ('auto', 'sdpa', 'eager', 'flash_attention_2')
DEVICE_MAPS = ('auto', 'balanced', 'balanced_low_0', 'sequential')
_GPU_MACHINE = 'a GPU machine (e.g. launcher=lazyllm.launchers.slurm(ngpus=1))'
_ON_GPU = f"deploy with device='cpu', or on {_GPU_MACHINE}"


class PreflightError(ValueError):
    """The engine's options cannot run here; the message names the cause and the fix."""


def device_of(device: str) -> str:
    """``device`` checked against this machine ('auto': cuda, then mps, then cpu)."""
    import torch
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if device == 'auto':
        return 'cuda' if cuda else 'mps' if mps else 'cpu'
    if device.startswith('cuda'):
        if not cuda:
            seen = os.environ.get('CUDA_VISIBLE_DEVICES')
            raise PreflightError(f"device={device!r} but no CUDA GPU is usable here "
                                 f"(torch.cuda.is_available() is False"
                                 f"{'' if seen is None else f', CUDA_VISIBLE_DEVICES={seen}'}; "
                                 f"torch {torch.__version__}): {_ON_GPU}")
        index = device.partition(':')[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise PreflightError(f'device={device!r}: this machine has '
                                 f'{torch.cuda.device_count()} CUDA device(s): pick one of them')
        return device
    if device == 'mps' and not mps:
        raise PreflightError("device='mps' but Apple's Metal backend is not available here: "
                             "use device='cpu' or 'auto'")
    if device not in ('cpu', 'mps'):
        raise PreflightError(f"unknown device {device!r}: use cpu, cuda, cuda:N, mps or auto")
    return device


def dtype_of(dtype: str, device: str) -> Any:
    """The torch dtype for ``dtype`` on ``device`` ('auto' is float32 on a CPU: half precision
    matmuls are slow or missing on most CPUs)."""
    import torch
    if dtype == 'auto':
        return torch.float32 if device == 'cpu' else 'auto'
    if dtype == 'bfloat16' and device.startswith('cuda') and not torch.cuda.is_bf16_supported():
        raise PreflightError("dtype='bfloat16' but this GPU has no bfloat16 support: use "
                             "dtype='float16' or 'auto'")
    return getattr(torch, dtype)


def quantization_kwargs(quantization: str | None, device: str, folder: str) -> dict:
    """``from_pretrained`` keywords for ``quantization``, after checking it can run here."""
    if not quantization:
        return {}
    if quantization in ('8bit', '4bit', 'nf4'):
        if not device.startswith('cuda'):
            raise PreflightError(f'quantization={quantization!r} (bitsandbytes) needs a CUDA GPU '
                                 f'and this engine runs on {device}: drop quantization= to run '
                                 f'in full precision here, or deploy on {_GPU_MACHINE} with '
                                 f"device='cuda'")
        if importlib.util.find_spec('bitsandbytes') is None:
            raise PreflightError(f'quantization={quantization!r} needs bitsandbytes: pip install '
                                 f'bitsandbytes in the engine\'s interpreter')
        from transformers import BitsAndBytesConfig
        config = BitsAndBytesConfig(load_in_8bit=True) if quantization == '8bit' else \
            BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type='nf4' if
                               quantization == 'nf4' else 'fp4')
        return {'quantization_config': config}
    # gptq / awq: the folder holds already-quantized weights, read by their loader
    try:
        with open(os.path.join(folder, 'config.json'), encoding='utf-8') as f:
            method = (json.load(f).get('quantization_config') or {}).get('quant_method')
    except (OSError, ValueError):
        method = None
    if method != quantization:
        raise PreflightError(f'quantization={quantization!r} but {folder} is '
                             f'{"quantized with " + method if method else "not quantized"} '
                             f'(config.json quantization_config): use a {quantization.upper()} '
                             f'checkpoint, or drop quantization=')
    loaders = {'gptq': ('gptqmodel', 'pip install gptqmodel optimum'),
               'awq': ('awq', 'pip install autoawq')}
    module, install = loaders[quantization]
    if importlib.util.find_spec(module) is None:
        raise PreflightError(f'quantization={quantization!r} needs its loader: {install} in '
                             f'the engine\'s interpreter')
    return {}       # transformers reads quantization_config from the folder


def attention_kwargs(attention: str | None, device: str) -> dict:
    """``attn_implementation`` for ``attention``; flash attention falls back to sdpa, with a
    log line, where it cannot run (no CUDA, or the flash_attn package missing)."""
    if not attention or attention == 'auto':
        return {}
    if attention == 'flash_attention_2':
        why = 'it needs a CUDA GPU' if not device.startswith('cuda') else \
            'the flash_attn package is not installed' \
            if importlib.util.find_spec('flash_attn') is None else ''
        if why:
            log.warning('flash attention was asked for but %s: falling back to sdpa', why)
            return {'attn_implementation': 'sdpa'}
    return {'attn_implementation': attention}

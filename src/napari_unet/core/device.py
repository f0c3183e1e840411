"""Choosing the compute device and the fast numeric settings for it."""

from __future__ import annotations

import contextlib

import torch

from napari_unet.core.config import UserInputError


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple MPS, then the CPU; other names are checked."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserInputError("device 'cuda' was asked for but no CUDA GPU is available; use --device auto or cpu.")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserInputError("device 'mps' was asked for but Apple MPS is not available; use --device auto or cpu.")
    if name not in ("cpu", "cuda", "mps"):
        raise UserInputError(f"unknown device {name!r}; use auto, cpu, cuda or mps.")
    return torch.device(name)


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bfloat16 autocast speeds convolutions up on this device.

    On CPUs with native bf16 instructions (AVX-512 BF16 / AMX) oneDNN runs bf16 convolutions
    much faster than fp32 (2.9x the fp32 conv peak on a 2-core Xeon, docs/benchmarks.md);
    without them bf16 is not used. CUDA GPUs report bf16 support themselves.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        native = [getattr(torch.cpu, n, None) for n in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return any(fn is not None and fn() for fn in native)
    return False


def use_bf16(device: torch.device, precision: str = "auto") -> bool:
    """Resolve a ``precision`` setting ("auto", "fp32", "bf16") for ``device``."""
    if precision == "auto":
        return bf16_is_fast(device)
    return precision == "bf16"


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on ``device`` when ``enabled``, else a no-op context."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)

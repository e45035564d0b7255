"""ZeroGPU, the shared GPUs of Hugging Face Spaces: where the `spaces` package imports (Spaces install it), the
demo's restoration runs inside `spaces.GPU`, which lends a GPU for the call on ZeroGPU hardware and is a plain call
elsewhere; without the package the restoration runs as it is. Untested on a real ZeroGPU Space (docs/demo.md).

ZeroGPU runs the decorated call in a forked worker process and pickles what crosses over: the call takes the
model, the pixels, the engine options and a number, never the job (its Cancel event and progress callback do not
pickle). The progress hooks see the job where the call runs on the caller's thread (anywhere but ZeroGPU); in a
ZeroGPU worker the bar stays at "Restoring", a Cancel takes effect when the GPU call returns, and the time limit is
the most GPU time a call asks for (`gpu_duration`), which ZeroGPU itself enforces.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from ..inference.restoration import EngineOptions, restore
from ..models.modeling_swinir import SwinIRForImageRestoration
from .uploads import size_of

F = TypeVar("F", bound=Callable)

# The GPU time one call asks for: a start allowance (a fresh worker forks, initialises CUDA and moves the model) plus
# the model's work. Estimates, unmeasured on ZeroGPU: on an H100, SwinIR-M ×4 takes 0.45 s for a 512² input in
# float32 (docs/restoration.md), 1.7 s per input megapixel; a ZeroGPU slice is half a GPU, and the rest is margin.
GPU_START_S = 15
GPU_S_PER_MEGAPIXEL = 5.0  # per forward pass of SwinIR-M over one input megapixel
# SwinIR-M's Swin blocks × embed_dim²: a model's work per pixel relative to it (its linear layers dominate).
SWINIR_M_COST = 36 * 180**2


def on_gpu(run: F, duration: Callable[..., int]) -> F:
    """`run` inside `spaces.GPU(duration=duration)` where the `spaces` package imports; else `run` itself."""
    try:
        import spaces
    except ImportError:
        return run
    return spaces.GPU(duration=duration)(run)


def gpu_duration(time_limit_s: int = 0) -> Callable[..., int]:
    """`spaces.GPU`'s duration for the demo: `gpu_seconds`, at most `time_limit_s` where one is set. ZeroGPU stops a
    call that runs past the duration it asked for: in its worker, where the hooks cannot stop the job, that is the
    only way the time limit holds (a shorter request also queues sooner)."""
    if not time_limit_s:
        return gpu_seconds

    def capped(*args) -> int:
        return min(gpu_seconds(*args), time_limit_s)

    return capped


def restore_on_device(
    net: SwinIRForImageRestoration, pixels: Image.Image | np.ndarray, engine: EngineOptions, forwards: int
) -> Image.Image | np.ndarray:
    """`restore` on CUDA where this call has it (inside `spaces.GPU` on ZeroGPU, or a machine's own GPU), else on
    the CPU. `forwards` (image passes through the model) only sizes `gpu_seconds`."""
    device = "cuda" if torch.cuda.is_available() else None
    return restore(net, pixels, replace(engine, device=device))


def gpu_seconds(
    net: SwinIRForImageRestoration, pixels: Image.Image | np.ndarray, engine: EngineOptions, forwards: int
) -> int:
    """The GPU seconds `restore_on_device` asks ZeroGPU for: the start allowance plus `GPU_S_PER_MEGAPIXEL` per
    input megapixel and forward pass (×8 with the ensemble, ×2 for a model-run alpha, ×3 for a grey model on colour),
    scaled by the model's size against SwinIR-M. Shorter requests queue sooner and spend less of a visitor's quota."""
    w, h = size_of(pixels)
    cost = sum(net.config.depths) * net.config.embed_dim**2 / SWINIR_M_COST
    return math.ceil(GPU_START_S + GPU_S_PER_MEGAPIXEL * w * h / 1e6 * max(1, forwards) * cost)

"""Memory: what an output needs (`check_output_memory`, before any work; of one image by its size alone:
`check_output_fits`), what the process may still allocate
(`available_host_memory`), the activation budget tiles are planned with (`memory_budget`), how to recognise an
allocation failure, and glibc's allocator tuned for the engine's large, repeated blocks (`tune_allocator`)."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
import os
from typing import Any

import numpy as np
import torch

# Defined with the model: a Hub folder's pipeline checks a whole-image pass with them, without this package.
from ..models.memory_swinir import ImageTooLargeError, available_host_memory, byte_size, cuda_free_memory

# Host memory planned per byte of float32 output canvas: measured peaks (RSS, benchmarks/README.md) plus ≥ 23 %:
# the canvas and its 8 / 16-bit image (`compose_image`, by blocks of rows) peak at 1.5-1.62 canvases; a resized
# output (`--outscale`) is made into its own canvas one plane at a time and peaks at 1.04-2.0 resized canvases.
_HOST_COPIES = 2.0
_RESIZED_COPIES = 2.5
TOO_LARGE_ADVICE = "restore it in parts (crop it), downscale it first, or use a machine with more memory"
# How the engine's callers run tiles, for a whole-image pass that cannot fit (`check_forward_memory`).
ENGINE_TILES = "tile='auto', swinir_hf.restore's default, or a size such as tile=512; --tile auto on the command line"
# Margin on the model's bare `activation_bytes_per_pixel` estimate: measured peak RSS exceeds it (benchmarks/README.md),
# so tiles are planned with this much to spare.
TILE_MEMORY_SAFETY = 1.5


_CPU_BUDGET_CAP = 2 << 30


def check_output_memory(
    shape: tuple[int, ...],
    scale: int,
    device: torch.device,
    resized_to: tuple[int, int] | None = None,
    padded_to: tuple[int, int] | None = None,
) -> None:
    """Raise `ImageTooLargeError` (with the sizes) when the output of an (N, C, H, W) input cannot be held: its
    float32 canvas on `device` and `_HOST_COPIES` × that on the host must fit the memory available now, and
    `_RESIZED_COPIES` × the float32 canvas of the (W, H) `resized_to` more on the host when it is resized. An input
    `padded_to` (H', W') first (the authors' padding) makes a canvas of that size, cropped to the output."""
    n, c, h, w = shape
    canvas = n * c * math.prod(padded_to or (h, w)) * scale * scale * 4
    out_w, out_h = resized_to or (w * scale, h * scale)
    resized = n * c * out_w * out_h * 4 if resized_to else 0
    needs = {"host memory": int(canvas * _HOST_COPIES + resized * _RESIZED_COPIES)}
    if device.type == "cuda":
        needs[f"memory on {device}"] = canvas
    output = (
        f"a {out_w}×{out_h} output"
        if not resized_to
        else f"a {w * scale}×{h * scale} output, resized to {out_w}×{out_h},"
    )
    for what, needed in needs.items():
        available = cuda_free_memory(device) if what != "host memory" else available_host_memory()
        if needed > available:
            # The model's output is made whole before it is resized: a lower outscale helps only if that fits.
            lower = resized_to and what == "host memory" and canvas * _HOST_COPIES <= available
            raise ImageTooLargeError(
                f"a {w}×{h} image gives {output} that needs ≈ {byte_size(needed)} of {what}, but only "
                f"{byte_size(available)} are available: " + ("lower the outscale, " if lower else "") + TOO_LARGE_ADVICE
            )


def check_output_fits(
    image: Any, channels: int, scale: int, device: torch.device, outscale: float | None = None
) -> None:
    """`check_output_memory` of one image (a file, a PIL image or an (H, W[, C]) array) of `channels` through a
    ×`scale` model, resized to `outscale` × if given, judged from its size (a file's header) alone: before it is
    decoded or converted to floats, which for an image whose output cannot be held take gigabytes already. A file
    whose header cannot be read, or a malformed array, is left to the decoder / the conversion to say so."""
    from PIL import Image

    from .image_io import image_size
    from .jobs import output_size

    if isinstance(image, (str, os.PathLike)):
        try:
            size = image_size(image)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            return
    else:
        size = image.size if isinstance(image, Image.Image) else tuple(reversed(np.shape(image)[:2]))  # (W, H)
    if len(size) != 2:
        return
    w, h = size
    resized = output_size(w, h, outscale) if outscale is not None else None
    check_output_memory((1, channels, h, w), scale, device, resized)


def is_out_of_memory(err: BaseException) -> bool:
    """Whether an exception is an allocation failure (CUDA, MPS or CPU)."""
    if isinstance(err, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and any(
        s in text
        # torch's CPU allocator says "can't allocate memory" on Linux and macOS, "not enough memory" on Windows.
        for s in ("out of memory", "can't allocate memory", "not enough memory", "failed to allocate", "bad_alloc")
    )


def memory_budget(device: torch.device, set_aside: float = 0) -> int:
    """Bytes of activation memory to plan tiles with on `device`, once `set_aside` bytes (what a pass needs whatever
    its size) are taken off: off the free memory before its share for tiles is taken (not off that share, which
    left a wide-window model one-window tiles where larger ones fit), and off the CPU cap, which leaves the tiles at
    least half of it (a window-64 model's attention alone is over it). May be negative where memory is short."""
    if device.type == "cuda":
        return int(0.8 * (cuda_free_memory(device) - set_aside))
    capped = max(_CPU_BUDGET_CAP - set_aside, _CPU_BUDGET_CAP / 2)
    return int(min((available_host_memory() - set_aside) / 2, capped))


@functools.cache
def tune_allocator(trim_threshold: int = 1 << 30) -> bool:
    """Make glibc keep freed memory for reuse instead of returning it to the OS after every call.

    By default glibc gives heap memory back whenever more than a few tens of MB are free at its top, and serves
    growing blocks with fresh `mmap`s, so every chunk of every layer pays page faults again (slower: figures in
    benchmarks/README.md). This fixes the mmap threshold at 32 MiB (the ceiling of glibc's adaptive one) and
    raises the trim threshold to `trim_threshold`: what `MALLOC_MMAP_THRESHOLD_` / `MALLOC_TRIM_THRESHOLD_` do
    at process start. Blocks over 32 MiB still go back to the OS when freed. Process-wide; returns False where
    there is no glibc `mallopt`. Runs once per threshold.
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, trim_threshold))

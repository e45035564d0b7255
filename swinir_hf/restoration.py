"""The restoration engine: any image kind and size through a SwinIR model, in bounded memory.

The Python API, the CLI and the demos all call `restore` / `SwinIRRestorer`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import math
import os
from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np
import torch
from PIL import Image

from .image_io import normalize_pil, read_image
from .image_processing_swinir import float_to_image, image_to_float, match_channels
from .modeling_swinir import SwinIRForImageRestoration, chunks_on
from .tiling import tiled_apply

logger = logging.getLogger(__name__)

DType = Literal["auto", "float32", "bfloat16", "float16"]
ImageLike = Image.Image | np.ndarray | str | os.PathLike


# Modules run in float32 under float16 autocast: the shallow conv and everything after the transformer body
# work on img_range-scaled pixels and wide feature maps, where half precision overflows (the authors' code
# gives black / NaN images in fp16). The body's residual stream stays float32 because LayerNorm outputs
# float32 under autocast and float16 branch outputs are promoted when added to it.
FLOAT32_MODULES = (
    "conv_first",
    "conv_after_body",
    "conv_before_upsample",
    "upsample",
    "conv_up1",
    "conv_up2",
    "conv_hr",
    "conv_last",
)

# Margin on the bare `activation_bytes_per_pixel` estimate (chunked SwinIR-M x4 at 256²: ≈ 1.4× it, RSS).
_MEMORY_SAFETY = 1.5
_CPU_BUDGET_CAP = 2 << 30


class SwinIRRestorer:
    """Restores images with one model and one set of options; `restore(model, image, ...)` is a one-shot call.

    Args:
        model: a `SwinIRForImageRestoration` (put in eval mode while it runs).
        tile: None for the whole image in one pass, an int for tiles of at most that many input pixels a side
            (rounded down to a multiple of the window), or "auto": the whole image when it fits the memory
            budget, else as few tiles as the budget allows, each as small as that count permits. With a tile,
            an out-of-memory error halves it and retries.
        tile_overlap: input pixels shared by neighbouring tiles (at most half a tile), blended with a raised-cosine
            window.
        ensemble: average the 8 flips / 90° rotations ("SwinIR+"), 8× the time.
        dtype: "float32" (exact: also no TF32 on CUDA), "bfloat16" (autocast), "float16" (CUDA only, autocast
            with the overflow-prone modules in float32), or "auto": `auto_dtype(device)`, chosen by measurement.
        device: where to run; None keeps the model's device.
        batch_size: tiles per forward pass; None means 4 on CUDA, 1 elsewhere.
        progress: show a tqdm bar over tiles.
        memory_budget: bytes of activation memory for "auto" tiles; None uses 80 % of free CUDA memory, or half
            the available RAM capped at 2 GiB on CPU.
        tune_malloc: on CPU, call `tune_allocator()` (once per process) so glibc stops returning the model's
            temporaries to the OS after every chunk: ≈ 1.5× faster for SwinIR-M x4 at 256² here. Process-wide;
            pass False to leave the allocator alone.
    """

    def __init__(
        self,
        model: SwinIRForImageRestoration,
        *,
        tile: int | Literal["auto"] | None = "auto",
        tile_overlap: int = 32,
        ensemble: bool = False,
        dtype: DType = "auto",
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        progress: bool = False,
        memory_budget: int | None = None,
        tune_malloc: bool = True,
    ) -> None:
        if not (tile is None or tile == "auto" or (isinstance(tile, int) and tile > 0)):
            raise ValueError(f"tile must be None, 'auto' or a positive int, got {tile!r}")
        if tile_overlap < 0:
            raise ValueError(f"tile_overlap must be ≥ 0, got {tile_overlap}")
        if dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(f"dtype must be 'auto', 'float32', 'bfloat16' or 'float16', got {dtype!r}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.dtype = auto_dtype(self.device) if dtype == "auto" else dtype
        if self.dtype == "float16" and self.device.type != "cuda":
            raise ValueError("float16 is only supported on CUDA; use bfloat16 or float32 here")
        self.model = model.to(self.device)
        self.tile = tile
        self.tile_overlap = tile_overlap
        self.ensemble = ensemble
        self.batch_size = batch_size or (4 if self.device.type == "cuda" else 1)
        self.progress = progress
        self.memory_budget = memory_budget
        if tune_malloc and self.device.type == "cpu":
            tune_allocator()

    @property
    def scale(self) -> int:
        return self.model.config.upscale

    def __call__(self, image: ImageLike) -> Image.Image | np.ndarray:
        """Restore one image; returns the same kind (a path gives what `read_image` holds: a PIL image, or a
        uint16 array for 16-bit colour), exactly `scale` × the input size, with the ICC profile kept."""
        if isinstance(image, (str, os.PathLike)):
            data = read_image(image)
            out = self(data.pixels)
            if data.icc_profile and isinstance(out, Image.Image):
                out.info["icc_profile"] = data.icc_profile
            return out
        if isinstance(image, Image.Image):
            return self._restore_pil(image)
        if isinstance(image, np.ndarray):
            return self._restore_array(image)
        raise TypeError(f"expected a PIL image, numpy array or path, got {type(image).__name__}")

    def _restore_pil(self, image: Image.Image) -> Image.Image:
        image = normalize_pil(image)
        icc = image.info.get("icc_profile")
        colour, alpha = image_to_float(image)
        colour, alpha = self.restore_float(colour), self._resize_alpha(alpha)
        if image.mode == "F":
            out = Image.fromarray(colour[..., 0].astype(np.float32))
        else:
            bit_depth = 16 if image.mode.startswith("I") else 8
            if alpha is not None:
                colour = np.concatenate([colour, alpha[..., None]], axis=-1)
            out = float_to_image(colour, bit_depth=bit_depth)
        if icc:
            out.info["icc_profile"] = icc
        return out

    def _restore_array(self, image: np.ndarray) -> np.ndarray:
        colour, alpha = image_to_float(image)
        colour, alpha = self.restore_float(colour), self._resize_alpha(alpha)
        if alpha is not None:
            colour = np.concatenate([colour, alpha[..., None]], axis=-1)
        shape = colour.shape[:2] + image.shape[2:]
        if image.dtype in (np.uint8, np.uint16):
            out = float_to_image(colour, bit_depth=8 if image.dtype == np.uint8 else 16, output_type="np")
        else:
            out = np.clip(colour, 0.0, 1.0).astype(image.dtype)
        return out.reshape(shape)

    def _resize_alpha(self, alpha: np.ndarray | None) -> np.ndarray | None:
        """Alpha (H, W) → (scale·H, scale·W) by bicubic resize: the model does not see transparency."""
        if alpha is None or self.scale == 1:
            return alpha
        h, w = alpha.shape
        resized = Image.fromarray(alpha.astype(np.float32)).resize(
            (w * self.scale, h * self.scale), Image.Resampling.BICUBIC
        )
        return np.clip(np.asarray(resized), 0.0, 1.0)

    def restore_float(self, image: np.ndarray) -> np.ndarray:
        """(H, W, C) float32 in [0, 1] → (scale·H, scale·W, C) float32, not clamped.

        Greyscale into an RGB model is replicated to RGB and the result brought back to grey (BT.601 luma);
        RGB into a 1-channel model runs each channel as its own grey image (colour is kept, 3× the work).
        """
        channels, model_channels = image.shape[-1], self.model.config.num_channels
        per_channel = model_channels == 1 and channels > 1
        if per_channel:
            batch = image.transpose(2, 0, 1)[:, None]  # (C, 1, H, W): each channel a grey image
        else:
            batch = match_channels(image, model_channels).transpose(2, 0, 1)[None]  # (1, C_model, H, W)
        y = self.restore_tensor(torch.from_numpy(np.ascontiguousarray(batch))).cpu().numpy()
        out = (y[:, 0] if per_channel else y[0]).transpose(1, 2, 0)
        return match_channels(out, 1) if channels == 1 and model_channels != 1 else out

    def restore_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) floats in [0, 1] → (N, C, scale·H, scale·W) float32 on the run device.

        Tiles that run out of memory are halved (while larger than the overlap) and the image is redone.
        """
        x = x.to(self.device, torch.float32)
        tile = self._initial_tile(x)
        was_training = self.model.training
        self.model.eval()
        try:
            while True:
                try:
                    return self._run(x, tile)
                except (RuntimeError, MemoryError) as err:
                    if not is_out_of_memory(err) or self.tile is None:
                        raise
                    smaller = self._round_tile((tile or max(x.shape[-2:])) // 2)
                    if smaller <= self.tile_overlap or smaller == tile:
                        raise
                    logger.warning("out of memory with %s-pixel tiles; retrying with %s", tile, smaller)
                    if self.device.type == "cuda":
                        torch.cuda.empty_cache()
                    tile = smaller
        finally:
            self.model.train(was_training)

    def _run(self, x: torch.Tensor, tile: int | None) -> torch.Tensor:
        fn = self._ensemble_forward if self.ensemble else self._forward
        h, w = x.shape[-2:]
        if tile is None or (tile >= h and tile >= w):
            return fn(x)
        # Capped at half a tile: a larger overlap leaves a stride of a few pixels, i.e. thousands of tiles.
        overlap = min(self.tile_overlap, tile // 2)
        return tiled_apply(fn, x, self.scale, tile, overlap, self.batch_size, self.progress)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        # no_grad, not inference_mode: tensors the model caches (masks, indices) must stay usable for training.
        with torch.no_grad(), self._precision():
            return self.model(x).reconstruction.float()

    def _ensemble_forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over the 8 dihedral transforms, each undone on the output."""
        total = None
        for k in range(4):
            for flip in (False, True):
                t = torch.rot90(x.flip(-1) if flip else x, k, dims=(-2, -1))
                y = torch.rot90(self._forward(t), -k, dims=(-2, -1))
                y = y.flip(-1) if flip else y
                total = y if total is None else total.add_(y)
        return total.div_(8)

    @contextlib.contextmanager
    def _precision(self) -> Iterator[None]:
        if self.dtype == "float32":
            with exact_float32(self.device):
                yield
            return
        dtype = torch.bfloat16 if self.dtype == "bfloat16" else torch.float16
        with torch.autocast(self.device.type, dtype=dtype):
            if self.dtype == "float16":
                with float32_modules(self.model, self.device.type):
                    yield
            else:
                yield

    def _initial_tile(self, x: torch.Tensor) -> int | None:
        if self.tile is None:
            return None
        if self.tile != "auto":
            return self._round_tile(self.tile)
        n, _, h, w = x.shape
        budget = self.memory_budget or memory_budget(self.device)
        pixels = budget / (self.batch_size * n * activation_bytes_per_pixel(self.model.config, self.device))
        if h * w <= pixels:
            return None
        largest = self._round_tile(max(int(math.sqrt(pixels)), 2 * self.tile_overlap + 1))
        # As few tiles per axis as the largest tile needs, then the smallest tile giving that count: a 256² image
        # with a 240 budget becomes 2 × 2 tiles of 144, not 2 × 2 tiles of 240 that are almost all overlap.
        ov, ws = self.tile_overlap, self.model.config.window_size
        counts = [math.ceil(max(n - ov, 1) / max(largest - ov, 1)) for n in (h, w)]
        balanced = max(math.ceil((n + (k - 1) * ov) / k) for n, k in zip((h, w), counts, strict=True))
        return min(largest, -(-balanced // ws) * ws)

    def _round_tile(self, tile: int) -> int:
        ws = self.model.config.window_size
        return max(ws, tile // ws * ws)


def restore(
    model: SwinIRForImageRestoration,
    image: ImageLike,
    *,
    tile: int | Literal["auto"] | None = "auto",
    tile_overlap: int = 32,
    ensemble: bool = False,
    dtype: DType = "auto",
    device: str | torch.device | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> Image.Image | np.ndarray:
    """Restore one image (PIL image, (H, W[, C]) uint8 / uint16 / float array, or file path) with `model`.

    Returns the same kind of image, exactly `model.config.upscale` × the input size; see `SwinIRRestorer`
    for the options.
    """
    restorer = SwinIRRestorer(
        model,
        tile=tile,
        tile_overlap=tile_overlap,
        ensemble=ensemble,
        dtype=dtype,
        device=device,
        batch_size=batch_size,
        progress=progress,
    )
    return restorer(image)


def auto_dtype(device: torch.device) -> str:
    """What `dtype="auto"` runs: the fastest precision whose Set5 PSNR stays within 0.05 dB of float32.

    Measured (benchmarks/README.md): on CPUs with native bfloat16 (AVX512-BF16 or AMX) bfloat16 is 1.3-2.0× faster
    at -0.002 to -0.007 dB on the bundled models; elsewhere bfloat16 is emulated and slower, so float32. On CUDA,
    float16 (with the overflow-prone modules in float32).
    """
    if device.type == "cuda":
        return "float16"
    if device.type == "cpu" and _native_cpu_bfloat16():
        return "bfloat16"
    return "float32"


@functools.cache
def _native_cpu_bfloat16() -> bool:
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


@contextlib.contextmanager
def exact_float32(device: torch.device) -> Iterator[None]:
    """Full float32 while open: on CUDA, cuDNN convolutions default to TF32 (≈ 1e-3 relative error); this turns
    TF32 off for convolutions and matmuls and restores the previous settings after."""
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def is_out_of_memory(err: BaseException) -> bool:
    """Whether an exception is an allocation failure (CUDA, MPS or CPU)."""
    if isinstance(err, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and any(
        s in text for s in ("out of memory", "can't allocate memory", "failed to allocate", "bad_alloc")
    )


def activation_bytes_per_pixel(config, device: torch.device) -> float:
    """Rough peak activation bytes per input pixel of one float32 forward pass (with a safety factor).

    Chunked inference (`modeling_swinir.chunks_on`) holds a few full-size token maps (block input and output,
    the RSTB and shallow-feature residuals, a conv output) and the output image (model output, crop, host copy);
    its chunk temporaries do not grow with the image. Unchunked, add each layer's qkv, attention scores and MLP
    hidden state, and the head's feature maps at the output resolution.
    """
    d, scale2 = config.embed_dim, config.upscale**2
    if chunks_on(config, device):
        return 4.0 * _MEMORY_SAFETY * (6 * d + 3 * scale2 * config.num_channels)
    heads, n = max(config.num_heads), config.window_size**2
    body = 4 * d + 3 * d + 2 * heads * n + config.mlp_ratio * d
    if config.upsampler in ("pixelshuffle", "nearest+conv"):
        head = 2 * scale2 * config.num_feat
    elif config.upsampler == "pixelshuffledirect":
        head = 2 * scale2 * config.num_channels
    else:
        head = d
    return 4.0 * _MEMORY_SAFETY * (body + head)


def memory_budget(device: torch.device) -> int:
    """Bytes of activation memory to plan tiles with on `device`."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(0.8 * free)
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        available = 2 * _CPU_BUDGET_CAP
    return int(min(available // 2, _CPU_BUDGET_CAP))


@contextlib.contextmanager
def float32_modules(model: torch.nn.Module, device_type: str) -> Iterator[None]:
    """Run the `FLOAT32_MODULES` of `model` in float32, outside autocast, while the context is open."""

    def wrap(forward: Callable) -> Callable:
        def run(*args: torch.Tensor) -> torch.Tensor:
            with torch.autocast(device_type, enabled=False):
                return forward(*(a.float() for a in args))

        return run

    patched = [getattr(model, name) for name in FLOAT32_MODULES if getattr(model, name, None) is not None]
    for module in patched:
        module.forward = wrap(module.forward)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


@functools.cache
def tune_allocator(trim_threshold: int = 1 << 30) -> bool:
    """Make glibc keep freed memory for reuse instead of returning it to the OS after every call.

    By default glibc gives heap memory back whenever more than a few tens of MB are free at its top, and serves
    growing blocks with fresh `mmap`s, so every chunk of every layer pays page faults again (≈ 1.5× slower for
    SwinIR-M x4 at 256² here). This fixes the mmap threshold at 32 MiB (the ceiling of glibc's adaptive one) and
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

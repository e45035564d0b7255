"""The restoration engine: any image kind and size through a SwinIR model, in bounded memory. The Python API, the
CLI and the demos all call `restore` / `SwinIRRestorer`."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypeVar, overload

import numpy as np
import torch
from PIL import Image

from ..console import warn_once
from ..models import tiling_swinir as tiling  # shipped: a Hub folder's pipeline tiles with it too
from ..models.alpha_swinir import alpha_for_model, check_alpha_mode, with_alpha
from ..models.image_files_swinir import image_name
from ..models.image_processing_swinir import AlphaMode
from ..models.memory_swinir import ImageTooLargeError, check_forward_memory
from ..models.modeling_swinir import SwinIRForImageRestoration
from ..models.pixels_swinir import ImageLayout, batched, from_reconstruction, to_pixel_values, warn_if_clamped
from ..models.runtime_swinir import inference_precision, running
from ..progress_lines import inner_progress
from .devices import auto_dtype, check_device, check_dtype
from .ensemble import dihedral_mean
from .image_io import read_restorable
from .jobs import check_outscale
from .memory import (
    ENGINE_TILES,
    TILE_MEMORY_SAFETY,
    TOO_LARGE_ADVICE,
    check_output_fits,
    check_output_memory,
    is_out_of_memory,
    memory_budget,
    tune_allocator,
)
from .options import DTypeOption, EngineOptions, Padding, as_option_values  # without torch, for command lines
from .padding import authors_padded_size, authors_padding
from .photo_metadata import file_dpi, kept_info
from .restorer_checks import check_model, check_options, check_restore_keywords, check_tensor_batch, not_an_image
from .size_batches import restore_by_size

logger = logging.getLogger(__name__)

ImageLike = Image.Image | np.ndarray | str | os.PathLike
_Image = TypeVar("_Image", Image.Image, np.ndarray)  # the kind of image given is the kind returned


class SwinIRRestorer:
    """Restores images with one model and one set of options; `restore(model, image, ...)` is a one-shot call.

    Args:
        model: a `SwinIRForImageRestoration`, put on `device` in place, as `.to()` does (it stays there after), and
            in the run's dtype and eval mode while it runs (its dtypes and training mode restored after); a copy
            instead while another thread runs it (see `runtime_swinir.running`).
        tile: None (or 0) for the whole image in one pass, an int for tiles of at most that many input pixels a side
            (rounded down to a multiple of the window, one window at least), or "auto": the whole image when it fits
            the memory budget, else as few tiles as the budget allows, each as small as that count permits. With a
            tile, an out-of-memory error halves it and retries.
        tile_overlap: input pixels neighbouring tiles share (at most half a tile), blended with a raised-cosine window.
        ensemble: average the 8 flips / 90° rotations ("SwinIR+"), 8× the time.
        dtype: "float32" (exact: also no TF32 on CUDA; half-precision weights are cast to float32), "bfloat16"
            (autocast; float16 weights off CUDA are cast to float32), "float16" (CUDA only, autocast; the model keeps
            its overflow-prone modules in float32), or "auto": `auto_dtype(device)`, chosen by measurement (a
            torch dtype: its name).
        device: where to run; None keeps the model's device.
        tiles_per_pass: tiles per forward pass; None means 4 on CUDA, 1 elsewhere (`batch_size`: its earlier name).
        alpha: how an upscaling model enlarges an image's alpha channel: "model" runs it through the model as a grey
            image (sharp edges, one more forward pass; a constant alpha is copied), "bicubic" resizes it. A model of
            scale 1 keeps the alpha as it is.
        progress: show a tqdm bar over tiles (where none is redrawn, lines: `progress_lines`).
        memory_budget: bytes of activation memory for "auto" tiles; None uses 80 % of free CUDA memory, or half
            the available RAM capped at 2 GiB on CPU.
        tune_malloc: on CPU, call `tune_allocator()` (once per process) so glibc stops returning the model's
            temporaries to the OS after every chunk (faster: figures in benchmarks/README.md). Process-wide;
            pass False to leave the allocator alone.
        name: the model's name its warnings start with, where it is one of several (eval's row label); None: none.
    """

    def __init__(
        self,
        model: SwinIRForImageRestoration,
        *,  # the defaults are `EngineOptions`' (one definition)
        tile: int | Literal["auto"] | None = EngineOptions.tile,
        tile_overlap: int = EngineOptions.tile_overlap,
        ensemble: bool = EngineOptions.ensemble,
        dtype: DTypeOption = EngineOptions.dtype,
        device: str | torch.device | None = EngineOptions.device,
        tiles_per_pass: int | None = EngineOptions.tiles_per_pass,
        alpha: AlphaMode = EngineOptions.alpha,
        padding: Padding = EngineOptions.padding,
        progress: bool = False,
        memory_budget: int | None = None,
        tune_malloc: bool = True,
        name: str | None = None,
        batch_size: int | None = None,  # tiles_per_pass's earlier name (a FutureWarning)
    ) -> None:
        check_model(model)
        tile, dtype, tiles_per_pass = as_option_values(tile, dtype, tiles_per_pass, batch_size)
        check_options(tile, tile_overlap, ensemble, dtype, tiles_per_pass, memory_budget, padding)
        self.alpha = check_alpha_mode(alpha)
        self.device = check_device(device) if device is not None else next(model.parameters()).device
        self.dtype = auto_dtype(self.device) if dtype == "auto" else dtype
        check_dtype(self.dtype, self.device)
        self.model = model
        # None: as they are, float16 ones off CUDA as float32 (decided at each run: `runtime_swinir.running`)
        self.weights_dtype = torch.float32 if self.dtype == "float32" else None
        self.tile = tile if tile in (None, "auto") else int(tile)
        self.tile_overlap = int(tile_overlap)
        self.ensemble = bool(ensemble)
        self.padding = padding
        self.tiles_per_pass = int(tiles_per_pass or tiling.tiles_per_pass(self.device))
        self.progress = progress
        self.memory_budget = memory_budget
        self.name = name
        if tune_malloc and self.device.type == "cpu":
            tune_allocator()

    @property
    def scale(self) -> int:
        """The model's upscale factor (`config.upscale`): each output is this many times its input's size."""
        return self.model.config.upscale

    def __repr__(self) -> str:
        # The options as they run (`dtype="auto"` resolved, the device chosen), for notebooks and logs.
        names = "tile tile_overlap ensemble dtype tiles_per_pass alpha padding progress memory_budget".split()
        options = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}(<{type(self.model).__name__} x{self.scale}>, device='{self.device}', {options})"

    @overload
    def __call__(self, image: _Image, outscale: float | None = None) -> _Image: ...
    @overload
    def __call__(self, image: str | os.PathLike[str], outscale: float | None = None) -> Image.Image | np.ndarray: ...
    def __call__(self, image: ImageLike, outscale: float | None = None) -> Image.Image | np.ndarray:
        """Restore one image; returns the same kind (a path gives what `read_image` holds: a PIL image, or a
        uint16 / float32 array for 16-bit / float colour), exactly `scale` × the input size, ICC profile kept (and a
        file's EXIF, as `read_image` keeps it, in a PIL image's `info["exif"]`).

        `outscale` (Real-ESRGAN's, `swinir-hf restore --outscale`): the output resized to exactly
        `floor(outscale·W + 0.5) × floor(outscale·H + 0.5)` for a W × H input, at least 1 × 1 (Lanczos on the float
        output, before it is rounded to 8 / 16 bits); None (default) or the model's scale: no resize."""
        check_outscale(outscale)  # before any work, as the command line checks it
        if isinstance(image, (Image.Image, np.ndarray, str, os.PathLike)):
            return self.restore_images([image], outscale)[0]
        raise not_an_image(image)

    @overload
    def restore_images(
        self, images: Iterable[_Image], outscale: float | None = None, names: Sequence[str | None] | None = None
    ) -> list[_Image]: ...
    @overload
    def restore_images(
        self, images: Iterable[ImageLike], outscale: float | None = None, names: Sequence[str | None] | None = None
    ) -> list[Image.Image | np.ndarray]: ...
    def restore_images(
        self, images: Iterable[ImageLike], outscale: float | None = None, names: Sequence[str | None] | None = None
    ) -> list[Any]:
        """Images (of any kinds, channel counts and sizes; files too) restored as the call restores each, those of one
        size (W × H) through one forward pass (and the alphas the model upscales through one more): faster than one
        call each where a pass is mostly overhead (small images, GPUs). Images of one size whose pass or outputs
        cannot fit the memory together are restored one at a time; an image that cannot fit alone raises
        `ImageTooLargeError`, as the call does. → the restored images, in the order given. `names`: what the warning
        of float pixels past [0, 1] (clamped) calls each image (None: none, as for a benchmark's noisy input); by
        default a file's path (a PIL image's from `Image.open` too), else "the image" / "image i of those given",
        as the warning that an animated image's first frame alone is restored names it too (None: the default).

        Raises:
            ValueError: `outscale` is not a positive number, before any image is read.
        """
        check_outscale(outscale)
        if isinstance(images, (Image.Image, np.ndarray, str, os.PathLike, torch.Tensor)):  # an array's rows: no images
            raise TypeError("restore_images takes a list of images: restore one image with the restorer's call")
        images = list(images)  # a generator's images, read once
        if bad := [image for image in images if not isinstance(image, (Image.Image, np.ndarray, str, os.PathLike))]:
            raise not_an_image(bad[0])
        if names is not None and len(names) != len(images):
            raise ValueError(f"restore_images got {len(names)} names for {len(images)} images: give one each")
        for image in images:  # before any is decoded or converted (gigabytes and seconds for a huge one)
            check_output_fits(image, self.model.config.num_channels, self.scale, self.device, outscale)
        files = {i: read_restorable(image) for i, image in enumerate(images) if isinstance(image, (str, os.PathLike))}
        # A TIFF's resolution before it loads: Pillow turns it as it loads it and drops its orientation (`file_dpi`).
        tiffs = [i for i, image in enumerate(images) if isinstance(image, Image.Image) and image.format == "TIFF"]
        dpi = {i: file_dpi(images[i]) for i in tiffs}
        pixels = [files[i].pixels if i in files else image for i, image in enumerate(images)]
        said = [image_name(image, i if len(images) > 1 else None) for i, image in enumerate(images)]
        for i, decoded in enumerate(pixels):
            if (name := names[i] if names else said[i]) is not None:  # None: not to be warned of
                warn_if_clamped(decoded, name)
        restored = restore_by_size(self, pixels, outscale, [n or c for n, c in zip(names or said, said, strict=True)])
        for i, image in enumerate(images):  # after: a PIL image's checks need it not loaded (its EXIF read loads it)
            if isinstance(restored[i], Image.Image) and not isinstance(image, np.ndarray):
                restored[i].info.update(kept_info(files.get(i, image), outscale or self.scale, dpi.get(i)))
        return restored

    def restore_float(
        self, image: np.ndarray, resized_to: tuple[int, int] | None = None, more_outputs: int = 0
    ) -> np.ndarray:
        """(H, W, C) float32 in [0, 1] → (scale·H, scale·W, C) float32, not clamped; `resized_to` and
        `more_outputs` as for `restore_tensor`.

        Greyscale into an RGB model is replicated to RGB and the result brought back to grey (BT.601 luma);
        RGB into a 1-channel model runs each channel as its own grey image (colour is kept, 3× the work).
        """
        if image.ndim != 3 or not np.issubdtype(image.dtype, np.floating):
            raise ValueError(f"restore_float takes (H, W, C) floats in [0, 1], got shape {image.shape} {image.dtype}")
        pixel_values = to_pixel_values(image, self.model.config.num_channels)
        return from_reconstruction(self.restore_tensor(pixel_values, resized_to, more_outputs), image.shape[-1])

    def alpha_passes(self, layout: ImageLayout) -> int:
        """1 when `restore_alphas` will run the image's alpha through the model (one more output of the colour's
        size: `more_outputs`), else 0."""
        return int(alpha_for_model(layout.alpha, self.scale, self.alpha) is not None)

    def restore_alphas(
        self, layouts: list[ImageLayout], resized_to: tuple[int, int] | None = None
    ) -> list[ImageLayout]:
        """`layouts` (images of one size) with their alphas upscaled by the model, in one batch, where the `alpha`
        option says so (`alpha_for_model`), else unchanged (`compose_image` resizes them); `resized_to` as for
        `restore_tensor`."""
        alphas = {i: alpha_for_model(layout.alpha, self.scale, self.alpha) for i, layout in enumerate(layouts)}
        alphas = {i: alpha for i, alpha in alphas.items() if alpha is not None}
        if not alphas:
            return list(layouts)
        channels = self.model.config.num_channels
        out = self.restore_tensor(batched([to_pixel_values(a, channels) for a in alphas.values()]), resized_to)
        restored = {i: from_reconstruction(y, 1) for i, y in zip(alphas, out.split(1), strict=True)}
        return [with_alpha(layout, restored[i]) if i in restored else layout for i, layout in enumerate(layouts)]

    def restore_tensor(
        self, x: torch.Tensor, resized_to: tuple[int, int] | None = None, more_outputs: int = 0
    ) -> torch.Tensor:
        """(N, C, H, W) floats in [0, 1] → (N, C, scale·H, scale·W) float32 on the run device (NaN, or values of
        another range such as 0..255: ValueError, as for images).

        `resized_to` is the (W, H) the caller resizes each output to afterwards (`--outscale`): its memory is
        planned with the output's, so that what cannot fit is refused before the model runs; so are `more_outputs`
        outputs of one image of x's size that the caller makes next (alpha channels: `alpha_passes`). Tiles that
        run out of memory are halved (down to one window) and the image is redone.
        """
        check_tensor_batch(x, self.model.config.num_channels)
        (n, c, h, w), window = x.shape, self.model.config.window_size
        padded = authors_padded_size(h, w, window) if self.padding == "authors" else None
        check_output_memory((n + more_outputs, c, h, w), self.scale, self.device, resized_to, padded)
        x = x.to(self.device, torch.float32)
        if padded:  # the whole image, before any tile is cut from it, as the authors' script pads it
            x = authors_padding(x, window)
        with running(self.model, self.device, self.weights_dtype) as model:
            # Planned with the model's weights where they run: on a GPU, the free memory measured is what they leave.
            tile = self._initial_tile(x)
            x = x.to(next(model.parameters()).device)  # "cuda" is the model's GPU
            # The whole image's pass, or what a pass over any tile needs: what cannot fit is refused now, not midway.
            check_forward_memory(model.config, x.shape if tile is None else None, x.device, self.dtype, ENGINE_TILES)
            while True:
                try:
                    return self._run(model, x, tile)[..., : h * self.scale, : w * self.scale]
                except tiling.CanvasAllocationError as err:
                    raise ImageTooLargeError(f"{err}: smaller tiles would not help; {TOO_LARGE_ADVICE}") from err
                except (RuntimeError, MemoryError) as err:
                    if not is_out_of_memory(err) or self.tile is None:
                        raise
                    side = max(x.shape[-2:])
                    used = min(tile or side, side)  # a tile no smaller than the image ran it whole
                    smaller = tiling.rounded_tile(used // 2, self.model.config.window_size)
                    if smaller >= used:  # one window: tiles shrink no further (their overlap is half at most)
                        raise
                    tried = f"{tile}-pixel tiles" if used < side else "the whole image"
                    who = "" if self.name is None else f"{self.name}: "
                    logger.warning("%sout of memory with %s; retrying with %s-pixel tiles", who, tried, smaller)
                    if self.device.type == "cuda":
                        torch.cuda.empty_cache()
                    tile = smaller

    def _run(self, model: SwinIRForImageRestoration, x: torch.Tensor, tile: int | None) -> torch.Tensor:
        forward = functools.partial(self._forward, model)
        fn = functools.partial(dihedral_mean, forward) if self.ensemble else forward  # SwinIR+
        h, w = x.shape[-2:]
        if tiling.runs_whole(tile, h, w):
            return fn(x)
        if self.tile_overlap == 0:  # once per process, not per image nor per `restore()` (a restorer each)
            # Tiles that only touch get no blend: each one's padded, least accurate edge meets its neighbour's.
            warn_once(
                logger,
                "tile_overlap=0: neighbouring tiles are not blended, so their borders can show as seams; "
                f"use an overlap of a few windows (default {EngineOptions.tile_overlap})",
            )
        rows, columns, _ = tiling.tile_grid(h, w, tile, self.tile_overlap)
        with inner_progress(self.progress, len(rows) * len(columns), "tile") as bar:
            return tiling.tiled_apply(fn, x, self.scale, tile, self.tile_overlap, self.tiles_per_pass, bar.update)

    def _forward(self, model: SwinIRForImageRestoration, x: torch.Tensor) -> torch.Tensor:
        # no_grad, not inference_mode: tensors the model caches (masks, indices) must stay usable for training.
        with torch.no_grad(), inference_precision(self.dtype, x.device):
            return model(x).reconstruction.float()

    def _initial_tile(self, x: torch.Tensor) -> int | None:
        if self.tile is None:
            return None
        (n, _, h, w), window = x.shape, self.model.config.window_size
        if self.tile != "auto":
            return tiling.rounded_tile(self.tile, window)
        # What a pass needs whatever its size is set aside first (one-window tiles where nothing is left).
        fixed = TILE_MEMORY_SAFETY * self.model.fixed_activation_bytes(self.device)
        budget = self.memory_budget - fixed if self.memory_budget else memory_budget(self.device, fixed)
        per_pixel = TILE_MEMORY_SAFETY * self.model.activation_bytes_per_pixel(self.device)
        pixels = max(budget, 0) / (self.tiles_per_pass * n * per_pixel)
        return None if h * w <= pixels else tiling.fewest_tiles(h, w, pixels, self.tile_overlap, window)


@overload
def restore(
    model: SwinIRForImageRestoration,
    image: _Image,
    engine: EngineOptions | None = None,
    *,
    outscale: float | None = None,
    **options: Any,
) -> _Image: ...
@overload
def restore(
    model: SwinIRForImageRestoration,
    image: str | os.PathLike[str],
    engine: EngineOptions | None = None,
    *,
    outscale: float | None = None,
    **options: Any,
) -> Image.Image | np.ndarray: ...
def restore(
    model: SwinIRForImageRestoration,
    image: ImageLike,
    engine: EngineOptions | None = None,
    *,
    outscale: float | None = None,
    **options: Any,
) -> Image.Image | np.ndarray:
    """Restore one image (PIL image, (H, W[, C]) uint8 / uint16 / float array in [0, 1], or file path) with `model`.

    Returns the same kind of image, exactly `model.config.upscale` × the input size, or `outscale` × it (W × H in:
    `floor(outscale·W + 0.5) × floor(outscale·H + 0.5)` out, at least 1 × 1, as `swinir-hf restore --outscale`).
    `engine` (default `EngineOptions()`) says how to run; `options` are further `SwinIRRestorer` arguments
    (`progress`, ...) or, without `engine`, its `EngineOptions` fields one by one (`restore(model, image, tile=None,
    dtype="float32")`). (N, C, H, W) tensors: `SwinIRRestorer(model).restore_tensor`."""
    if engine is not None and not isinstance(engine, EngineOptions):  # `restore(model, image, 2)`, as `enhance(img, 2)`
        raise TypeError(
            f"restore's third argument is an EngineOptions, got {engine!r}: pass the options by name "
            "(restore(model, image, outscale=2, tile=256, dtype='float32'))"
        )
    check_restore_keywords(options, engine is not None, SwinIRRestorer.__init__)
    if engine is None:
        return SwinIRRestorer(model, **options)(image, outscale)
    return engine.restorer(model, **options)(image, outscale)

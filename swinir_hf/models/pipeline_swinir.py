"""The `image-restoration` pipeline: one image (PIL, array, path or URL) in, the restored image of the same kind
out.

Shipped as remote code in every Hub folder (`custom_pipelines` in config.json), so `pipeline("image-restoration",
model="org/swinir-x4", trust_remote_code=True)` works without this package; it imports only the other shipped
files. Its pixels are `swinir_hf.restore()`'s: the same data path (`pixels_swinir`), precision
(`runtime_swinir.inference_precision`) and, with `tile=`, the same tiles and blending (`tiling_swinir`).
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import GeneratorType
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import torch
from PIL import Image
from transformers import PreTrainedModel
from transformers.pipelines.base import Pipeline

from .alpha_swinir import alpha_for_model, check_alpha_mode, with_alpha
from .configuration_swinir import SwinIRConfig
from .constants_swinir import dtype_name
from .hub_push_swinir import SaidPush
from .image_files_swinir import check_pipeline_input, image_name, opened_file
from .image_processing_swinir import AlphaMode, SwinIRImageProcessor
from .memory_swinir import (
    SURELY_NEEDED,
    ImageTooLargeError,
    byte_size,
    check_forward_memory,
    forward_bytes,
    free_memory,
)
from .pixels_swinir import ImageLayout, clamping_note, compose_image, from_reconstruction, split_image, to_pixel_values
from .runtime_swinir import inference_precision, resting_dtype, running
from .tiling_swinir import (
    TILE_OVERLAP,
    apply_in_tiles,
    check_tile,
    check_tile_overlap,
    rounded_tile,
    runs_whole,
    tile_grid,
    tiles_per_pass,
)

if TYPE_CHECKING:
    # Never run: transformers 5.4 (and 4.57) copies only a local folder's module's direct relative imports, then fails
    # on the first file missing (pipeline() on 5.4.0: frames_swinir.py): the modules those above import in turn.
    from .code_files_swinir import MODEL_AUTO_MAP  # noqa: F401
    from .frames_swinir import frame_count  # noqa: F401
    from .hub_files_swinir import hub_reachable  # noqa: F401
    from .loading_swinir import IncompatibleWeightsError  # noqa: F401
    from .modeling_swinir import SwinIRForImageRestoration  # noqa: F401
    from .moved_swinir import moved_names  # noqa: F401
    from .pil_images_swinir import normalize_pil  # noqa: F401
    from .presets_swinir import PRESETS  # noqa: F401
    from .weight_files_swinir import WEIGHTS_LAYOUTS  # noqa: F401
    from .windows_swinir import window_partition  # noqa: F401

TASK = "image-restoration"
logger = logging.getLogger(__name__)


@dataclass
class _CallNotes:
    """What the images of one call (a list: `many`) that go past [0, 1] have to be warned of, said once at its end:
    each image's preprocess said it, naming each of a list's "the image"."""

    many: bool
    seen: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, pixels: np.ndarray, image: Any) -> None:
        """Note `pixels` (of `image`, the `seen`-th given) where they go past [0, 1] (`clamping_note`)."""
        named = isinstance(image, (str, os.PathLike))
        name = os.fspath(image) if named else f"image {self.seen} of those given" if self.many else "the image"
        self.seen += 1
        if note := clamping_note(pixels, name):
            self.notes.append(note)

    def say(self) -> None:
        if self.notes:
            more = f" (and {len(self.notes) - 1} more of the images given)" if len(self.notes) > 1 else ""
            logger.warning(self.notes[0] + more)


# The call in progress (this thread's); None while a generator's images are read, after the call has returned.
_CALL: ContextVar[_CallNotes | None] = ContextVar("swinir_pipeline_call", default=None)


@dataclass
class _Image:
    """One image on its way through the pipeline. Not a tensor, so that `batch_size > 1` collates images into a
    list: transformers would concatenate `pixel_values` of different sizes (an error) or of a colour image into a
    greyscale model, (3, 1, H, W), with the next image's (mixing up the outputs)."""

    pixel_values: torch.Tensor
    channels: int
    layout: ImageLayout
    alpha_values: torch.Tensor | None = None  # the alpha channel, when the model upscales it (`alpha_for_model`)
    reconstruction: torch.Tensor | None = None
    alpha_reconstruction: torch.Tensor | None = None


# What `swinir_hf.restore` takes and the pipeline does not: asked of it, they get a pointer there.
ENGINE_OPTIONS = {"tile_size", "ensemble", "dtype", "torch_dtype", "precision", "outscale", "padding"}


class ImageRestorationPipeline(SaidPush, Pipeline):
    """Restore images with a SwinIR model: super-resolution, denoising or JPEG artifact removal.

    Accepts a PIL image (any mode: 8-bit, 16-bit grey, float, with alpha, palette, CMYK), a (H, W[, C]) uint8 /
    uint16 / float array, a file path or URL, or a list of them (any sizes, any `batch_size`: a batch's images of one
    size share a forward pass; a tuple or a `datasets` column too; a generator or `KeyDataset` gives an iterator);
    returns the same kind, exactly `upscale` × the input, with alpha and the bit depth kept. An upscaling model
    enlarges the alpha channel too, as a grey image (`alpha="bicubic"` in the call resizes it instead), as
    `swinir_hf.restore` does.

    Precision follows the model's dtype, as transformers users expect: float32 runs exactly, bfloat16 / float16
    under autocast of that type. float16 needs CUDA: elsewhere a float16 model runs as float32 (lossless), cast for
    each call, as `swinir_hf.restore` casts it.

    Images run whole by default: one whose pass cannot fit the memory free is an `ImageTooLargeError` (a
    `MemoryError`) before the model runs. `tile=512` (in the call or in `pipeline(...)`; None or 0: whole) runs
    tiles of at most 512 × 512 input pixels, neighbours sharing `tile_overlap` (default 32) pixels, cut and blended
    as `swinir_hf.restore(model, image, tile=512)` does: its pixels, in bounded memory. A pass of tiles that cannot
    fit is refused likewise, naming the largest `tile` that would. The engine's `tile="auto"` (tiles sized to the
    free memory) is the package's alone.
    """

    _load_processor = False
    # Optional: the pixels come from the model's config alone, so a folder saved by `model.save_pretrained` (no
    # preprocessor_config.json) or a model object works too; one is then made from the config.
    _load_image_processor = None
    _load_feature_extractor = False
    _load_tokenizer = False
    # transformers 5 would look for a video processor too: on a folder with remote code and without
    # trust_remote_code, that asks "Do you wish to run the custom code? [y/N]" for nothing.
    _load_video_processor = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.image_processor is None:  # saved with the pipeline, so that its folder is complete
            self.image_processor = SwinIRImageProcessor(num_channels=self.model.config.num_channels)

    # The kinds of image out are the kinds in (a file's: a PIL image, or an array for 16-bit colour); a generator
    # in gives transformers' iterator out.
    @overload
    def __call__(self, inputs: Image.Image, *args: Any, **kwargs: Any) -> Image.Image: ...
    @overload
    def __call__(self, inputs: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray: ...
    @overload
    def __call__(self, inputs: str | os.PathLike[str], *args: Any, **kwargs: Any) -> Image.Image | np.ndarray: ...
    @overload
    def __call__(self, inputs: list[Image.Image], *args: Any, **kwargs: Any) -> list[Image.Image]: ...
    @overload
    def __call__(self, inputs: list[np.ndarray], *args: Any, **kwargs: Any) -> list[np.ndarray]: ...
    @overload
    def __call__(self, inputs: Sequence[Any], *args: Any, **kwargs: Any) -> list[Image.Image | np.ndarray]: ...
    @overload
    def __call__(self, inputs: Any = None, *args: Any, images: Any = None, **kwargs: Any) -> Any: ...
    def __call__(self, inputs: Any = None, *args: Any, images: Any = None, **kwargs: Any) -> Any:
        if images is not None:  # the keyword transformers' own image pipelines take
            if inputs is not None:
                raise TypeError("pass the images once: as the first argument or as images=, not both")
            inputs = images
        if inputs is None:
            raise TypeError("no images given: call the pipeline with an image, a path or a list of them")
        # transformers reads an input list's first item (to detect chats) before anything of ours runs: an
        # IndexError from inside it for [], where the image processor says what is wrong.
        if isinstance(inputs, Sequence) and not isinstance(inputs, (str, bytes)) and not len(inputs):
            raise ValueError("no images given")
        # transformers batches only lists (and generators, datasets): it would take a tuple, or a `datasets` column
        # (`ds["image"]`), as one image. A column streams through, decoded an image at a time.
        column = isinstance(inputs, Sequence) and not isinstance(inputs, (str, bytes, list))
        if column or isinstance(inputs, Iterator) and not isinstance(inputs, (GeneratorType, io.IOBase)):
            inputs = (image for image in inputs)  # an iterator (`iter(images)`, `map(...)`) streams as generators do
        notes = _CallNotes(many=column or isinstance(inputs, list))
        token = _CALL.set(notes)
        try:
            restored = super().__call__(inputs, *args, **kwargs)
            return list(restored) if column else restored
        finally:
            _CALL.reset(token)
            notes.say()

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> None:
        """transformers' `save_pretrained` for a model of a Hub export (its config declares this pipeline in
        `custom_pipelines`), which keeps its code files. Any other model is saved by its own `save_pretrained` (with
        the model code) and the image processor: transformers would declare this pipeline as the folder's custom
        code, so reloading it would ask for `trust_remote_code=True`. With `push_to_hub=True` the whole folder is
        saved, then pushed in one commit (`SaidPush`): transformers pushed the model, then the processor."""
        if kwargs.get("push_to_hub"):
            self.save_then_push(save_directory, **kwargs)
            return
        if getattr(self.model.config, "custom_pipelines", None):
            super().save_pretrained(save_directory, **kwargs)
            return
        os.makedirs(save_directory, exist_ok=True)
        self.model.save_pretrained(save_directory, **kwargs)
        if self.image_processor is not None:
            self.image_processor.save_pretrained(save_directory, **kwargs)

    def _upload_modified_files(self, *args: Any, **kwargs: Any) -> Any:
        # The model's: it also uploads the code files its config names, which an earlier save left unchanged.
        return self.model._upload_modified_files(*args, **kwargs)

    def _sanitize_parameters(
        self, timeout: float | None = None, alpha: AlphaMode | None = None, **kwargs: Any
    ) -> tuple[dict, dict, dict]:
        # transformers hands every other argument of the call (or of `pipeline(...)`) here: dropping them would run
        # a whole image where an ensemble or another precision were asked for.
        forward = {name: kwargs.pop(name) for name in ("tile", "tile_overlap") if name in kwargs}  # None: whole
        if kwargs:
            given = f"the image-restoration pipeline takes no {', '.join(sorted(kwargs))}: "
            if not set(kwargs) & ENGINE_OPTIONS:
                raise TypeError(
                    given
                    + "a call takes images, alpha ('model' or 'bicubic'), tile, tile_overlap, timeout and batch_size"
                )
            raise TypeError(
                given + "it runs whole images or tiles (tile=, tile_overlap=), padded by the model, in the precision "
                "the model was loaded in; for the self-ensemble, the authors' padding or another precision use the "
                "swinir-hf package's swinir_hf.restore(model, image, ensemble=..., dtype=..., padding=...)"
            )
        check_tile(forward.get("tile"), auto=False)
        check_tile_overlap(forward.get("tile_overlap", TILE_OVERLAP))
        preprocess = {"timeout": timeout}
        if alpha is not None:  # only when given: a call's parameters replace those given to `pipeline(...)`
            preprocess["alpha"] = check_alpha_mode(alpha)
        return preprocess, forward, {}

    def preprocess(self, image: Any, timeout: float | None = None, alpha: AlphaMode = "model") -> dict[str, _Image]:
        # A path or URL (a pathlib.Path as swinir_hf.restore takes it) is opened, and closed once read: Pillow keeps
        # a GIF's or a multi-frame file's handle open until then.
        with opened_file(image, timeout) as opened:
            check_pipeline_input(opened)
            colour, layout = split_image(opened, image_name(image))
        call = _CALL.get()
        notes = call or _CallNotes(many=False)
        notes.add(colour, image)
        if call is None:  # a generator's image, read after the call has returned: said as it is read
            notes.say()
        channels = self.model.config.num_channels
        item = _Image(to_pixel_values(colour, channels), colour.shape[-1], layout)
        alpha_image = alpha_for_model(layout.alpha, self.model.config.upscale, alpha)
        if alpha_image is not None:
            item.alpha_values = to_pixel_values(alpha_image, channels)
        return {"image": item}

    def _forward(
        self, model_inputs: dict[str, Any], tile: int | None = None, tile_overlap: int = TILE_OVERLAP
    ) -> dict[str, Any]:
        # As `restore()` runs the model, for this call only: in eval mode (a model left training after a Trainer
        # would drop paths at random), float16 weights off CUDA as float32; threads sharing it take turns to change
        # it (`running`). In the model's own precision, not one another thread's run has cast it to meanwhile.
        own = resting_dtype(self.model)
        precision = torch.float32 if own == torch.float16 and self.device.type != "cuda" else own
        # (float16 on CUDA as it is: its overflow-prone layers are float32)
        with running(self.model, self.device, None if precision == torch.float16 else precision) as model:
            tiles = rounded_tile(tile, model.config.window_size) if tile else None, tile_overlap
            return _restore_items(model, precision, model_inputs, tiles)

    def postprocess(self, model_outputs: dict[str, Any]) -> Image.Image | np.ndarray:
        item = model_outputs["image"]
        layout = item.layout
        if item.alpha_reconstruction is not None:
            layout = with_alpha(layout, from_reconstruction(item.alpha_reconstruction, 1))
        return compose_image(from_reconstruction(item.reconstruction, item.channels), layout)


# (the tile's side: a `rounded_tile`, or None for whole images; the overlap), as `apply_in_tiles` takes them
_Tiles = tuple[int | None, int]


def _restore_items(model: PreTrainedModel, precision: torch.dtype, model_inputs: dict, tiles: _Tiles) -> dict:
    """One image, or a list of them (`batch_size > 1`): those of one size through one pass (a pass per tile), then
    their alphas that the model upscales through one more; a batch of one gives exactly `restore()`'s pixels."""
    batch = model_inputs["image"]
    items = batch if isinstance(batch, list) else [batch]
    for group in _by_size(items, "pixel_values"):
        restored = _restore_all(model, precision, [item.pixel_values for item in group], tiles)
        for item, y in zip(group, restored, strict=True):
            item.reconstruction = y
    for group in _by_size([item for item in items if item.alpha_values is not None], "alpha_values"):
        restored = _restore_all(model, precision, [item.alpha_values for item in group], tiles)
        for item, y in zip(group, restored, strict=True):
            item.alpha_reconstruction = y
    return model_inputs


def _restore_all(model: PreTrainedModel, precision: torch.dtype, tensors: list, tiles: _Tiles) -> list[torch.Tensor]:
    """(k, C, H, W) inputs of one size, each restored: in one pass, or one by one where that cannot fit."""
    try:
        out = _restore(model, precision, torch.cat(tensors), tiles) if len(tensors) > 1 else None
    except ImageTooLargeError:  # `batch_size` is for speed: images that each fit alone are not refused
        out = None
    if out is None:  # outside the except block, whose traceback would keep the batch's tensors
        return [_restore(model, precision, x, tiles) for x in tensors]
    return list(out.split([len(x) for x in tensors]))


def _restore(model: PreTrainedModel, precision: torch.dtype, pixel_values: torch.Tensor, tiles: _Tiles) -> torch.Tensor:
    """Images in `precision` (float32 exactly, bfloat16 / float16 under autocast), whole or in `tiles` as the engine
    runs them (`tiles_per_pass` at a time): a pass that cannot fit is refused before the model runs
    (`_check_pass_memory`), not failed deep inside it (or killed)."""
    device, name = model.device, dtype_name(precision)
    tile, overlap = tiles
    _check_pass_memory(model.config, tuple(pixel_values.shape), tiles, device, name)

    def forward(x: torch.Tensor) -> torch.Tensor:
        with inference_precision(name, device):
            return model(x).reconstruction.float()

    scale = model.config.upscale
    return apply_in_tiles(forward, pixel_values.to(device), scale, tile, overlap, tiles_per_pass(device)).cpu()


def _check_pass_memory(
    config: SwinIRConfig, shape: tuple[int, ...], tiles: _Tiles, device: torch.device, precision: str
) -> None:
    """Raise `ImageTooLargeError` when the pass `_restore` runs over (N, C, H, W) `shape` cannot fit the memory free:
    the whole images', or that of `tiles_per_pass` tiles of each image (min(tile, H) × min(tile, W)), judged as
    `check_forward_memory` judges a whole image's; the message names the largest `tile=` that fits."""
    n, _, h, w = shape
    tile, overlap = tiles
    if runs_whole(tile, h, w):
        # The advice only for a refusal: working it out costs more than the check itself, on every call.
        check_forward_memory(config, shape, device, precision, lambda: _tile_advice(config, n, device, precision))
        return
    check_forward_memory(config, None, device, precision)  # the part no tile size lowers
    rows, columns, _ = tile_grid(h, w, tile, overlap)
    at_once = n * min(tiles_per_pass(device), len(rows) * len(columns))
    th, tw = min(tile, h), min(tile, w)
    needed, _ = forward_bytes(config, at_once * th * tw, device, precision)
    available = free_memory(device)
    if SURELY_NEEDED * needed > available:
        raise ImageTooLargeError(
            f"one pass over {at_once} tile{'s' * (at_once > 1)} of {tw}×{th} pixels needs ≈ {byte_size(needed)} of "
            f"memory on {device}, but only {byte_size(available)} are available: use smaller tiles "
            f"({_tile_advice(config, n, device, precision)}), crop or downscale it, or use a machine with more memory"
        )


def _tile_advice(config: SwinIRConfig, images: int, device: torch.device, precision: str) -> str:
    """The `tile=` to pass: the largest (whole windows) whose pass, `tiles_per_pass` tiles of each of `images`,
    fits the memory free now by the whole estimate (`forward_bytes`), not only the share a pass surely needs."""
    window, available, at_once = config.window_size, free_memory(device), images * tiles_per_pass(device)

    def fits(windows: int) -> bool:
        side = windows * window
        return forward_bytes(config, at_once * side * side, device, precision)[0] <= available

    if not fits(1):
        return f"even tile={window}, one window, needs more than is free now"
    low, high = 1, 2  # sides in windows: `low` fits, `high` does not
    while fits(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    return f"tile={low * window} or smaller, in the call or in pipeline(...)"


def _by_size(items: list[_Image], field: str) -> list[list[_Image]]:
    """`items` grouped by the (H, W) of their tensor `field`, in order of first appearance."""
    groups: dict[tuple[int, int], list[_Image]] = {}
    for item in items:
        groups.setdefault(tuple(getattr(item, field).shape[-2:]), []).append(item)
    return list(groups.values())


def register(default_model: str | None = None) -> None:
    """Make `pipeline("image-restoration")` build `ImageRestorationPipeline` for SwinIR models, and load
    `default_model` (a folder or Hub id) when no model is given."""
    from transformers import AutoModelForImageToImage
    from transformers.pipelines import PIPELINE_REGISTRY

    if PIPELINE_REGISTRY.supported_tasks.get(TASK, {}).get("impl") is not ImageRestorationPipeline:
        PIPELINE_REGISTRY.register_pipeline(
            TASK,
            pipeline_class=ImageRestorationPipeline,
            pt_model=AutoModelForImageToImage,
            default=None if default_model is None else {"model": (default_model, None)},
            type="image",
        )

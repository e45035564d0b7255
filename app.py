"""SwinIR image restoration demo: `python app.py [--port N]` on localhost, and the same file as a Hugging Face Space.

Models: the package's bundled defaults (offline), the authors' checkpoints by Hub id (downloaded on first use where
the Hub is reachable, else only if cached), and any local `save_pretrained` folder or authors' `.pth` file.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from swinir_hf.checkpoints.catalog import Release, load_catalog
from swinir_hf.checkpoints.convert import CheckpointError
from swinir_hf.inference.image_io import read_image, write_image
from swinir_hf.inference.restoration import EngineOptions, restore
from swinir_hf.inference.tiling import tile_starts
from swinir_hf.loading import DEFAULTS_DIR, ModelNotAvailableError, hub_reachable, load_model
from swinir_hf.models.configuration_swinir import TASK_TABLE
from swinir_hf.models.image_processing_swinir import float_to_image, image_to_float
from swinir_hf.models.modeling_swinir import SwinIRForImageRestoration, SwinTransformerBlock

HERE = Path(__file__).resolve().parent
# In the repo the examples live with the Space files; an assembled Space has them beside app.py.
EXAMPLES_DIR = next((p for p in (HERE / "examples", HERE / "hub" / "space" / "examples") if p.is_dir()), None)

SR = "Super-resolution"
REAL_SR = "Real-world super-resolution"
DENOISE = "Denoising"
JPEG = "JPEG artifact removal"
TASKS = (REAL_SR, SR, DENOISE, JPEG)
# The task choice in the words of someone who just wants a better picture: what the input is, and what happens.
TASK_WORDS = {
    REAL_SR: "Photo: enlarge",
    SR: "Clean image: enlarge",
    DENOISE: "Noisy: remove noise",
    JPEG: "JPEG: remove blocks",
}
TASK_NOUNS = {REAL_SR: "photos", SR: "clean images", DENOISE: "noisy images", JPEG: "JPEG images"}
# What the noise level / JPEG quality control is called for the tasks whose checkpoints are trained per level.
LEVEL_LABELS = {DENOISE: "Noise level σ (selects the checkpoint)", JPEG: "JPEG quality (selects the checkpoint)"}
# The demo's task of each of the paper's tasks (`TASK_TABLE`: what its checkpoints restore), and their menu names.
_RESTORES = {"sr": SR, "real_sr": REAL_SR, "dn": DENOISE, "jpeg": JPEG}
CONFIG_TASKS = {name: _RESTORES[task.restores] for name, task in TASK_TABLE.items()}
SHORT_KINDS = {name: task.short for name, task in TASK_TABLE.items()}
MAIN_SCALES = (1, 2, 4)
AUTO = "auto"
CUSTOM = "custom"
TILE_CHOICES = [("Automatic", "auto"), ("Whole image (no tiles)", "none"), "128", "256", "512"]
DEFAULT_MAX_PIXELS = 1024 * 1024
OUTPUT_MAX_AGE_S = 3600
PREVIEW_SIDE = 512
PROGRESS_EVERY_S = 0.25
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# IJG's standard luminance quantisation table (quality 50), scaled per quality as libjpeg does.
IJG_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29]
    + [51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103]
    + [121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
)
# Scrolls the result to the top when it starts in the lower half of the screen (on a phone: below Restore).
SCROLL_TO_RESULT_JS = """() => {
  const el = document.getElementById('comparison');
  const r = el && el.getBoundingClientRect();
  if (r && (r.top < 0 || r.top > window.innerHeight / 2)) el.scrollIntoView({block: 'start'});
}"""
CSS = "#plan p, #input-info p {margin: 0} #restore-button {min-height: 48px}"


def user_error(message: str) -> gr.Error:
    """A message for the user; not a server fault, so no traceback in the server log."""
    return gr.Error(message, print_exception=False)


class ModelError(ValueError):
    """A model that cannot be used, with one plain line on what is wrong and what to do."""


@dataclass(frozen=True)
class ModelEntry:
    """One model choice: its task, scale, colour channels, a label, and the `load_model` spec for each level.

    `specs` maps a noise σ / JPEG quality to its checkpoint, or has the single key None for a model with no levels.
    """

    task: str
    label: str
    specs: Mapping[int | None, str]
    scale: int = 1
    channels: int = 3
    on_hub: bool = False

    @property
    def levels(self) -> list[int]:
        return sorted(k for k in self.specs if k is not None)

    def spec(self, level: int | None) -> str:
        if None in self.specs:
            return self.specs[None]
        if level is None or int(level) not in self.specs:
            raise user_error(f"Pick one of the levels {self.levels} for {self.label}.")
        return self.specs[int(level)]


def release_label(release: Release) -> str:
    """Short picker label of an authors' checkpoint family, e.g. 'SwinIR-M real-world ×4 GAN · authors'."""
    extra = ""
    if release.task == "classical_sr":
        extra = " DF2K" if "Flickr2K" in release.training_data else " DIV2K"
    elif release.task == "real_sr":
        extra = " GAN" if release.gan else " PSNR"
    scale = f" ×{release.scale}" if release.scale > 1 else ""
    return f"SwinIR-{release.size} {SHORT_KINDS[release.task]}{scale}{extra} · authors"


def authors_models() -> list[ModelEntry]:
    """The authors' released checkpoints from the package catalogue, by Hub id. Checkpoints that differ only in
    noise σ / JPEG quality share one entry."""
    families: dict[tuple, tuple[Release, dict[int | None, str]]] = {}
    for release in load_catalog().releases:
        key = (release.task, release.scale, release.size, release.objective, release.training_data)
        levelless = dataclasses.replace(release, noise_level=None, jpeg_quality=None)
        families.setdefault(key, (levelless, {}))[1][release.noise_level or release.jpeg_quality] = release.repo_id()
    channels = {"gray_dn": 1, "jpeg_car": 1}
    return [
        ModelEntry(CONFIG_TASKS[r.task], release_label(r), specs, r.scale, channels.get(r.task, 3), on_hub=True)
        for r, specs in families.values()
    ]


def task_of(config: Mapping) -> str:
    """Demo task of a model config (its `task`, else ×1 models count as denoising)."""
    return CONFIG_TASKS.get(config.get("task")) or (SR if config.get("upscale", 1) > 1 else DENOISE)


def read_config(folder: Path) -> dict:
    """A model folder's config.json, checked to be usable (valid JSON, weights beside it).

    Raises:
        ModelError: one line naming the problem and what to do.
    """
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelError(f"{folder} has no config.json: point to a folder written by save_pretrained")
    try:
        config = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(
            f"{config_file} is not valid JSON ({err}): restore the file or re-export the model with save_pretrained"
        ) from None
    if not isinstance(config, dict):
        raise ModelError(f"{config_file} is not a model config: re-export the model with save_pretrained")
    if not any((folder / name).is_file() for name in WEIGHT_FILES):
        raise ModelError(
            f"{folder} has a config.json but no weights (model.safetensors): copy them in or re-export the model"
        )
    return config


def folder_entry(folder: Path, label: str) -> ModelEntry:
    config = read_config(folder)
    scale = int(config.get("upscale", 1))
    return ModelEntry(task_of(config), label, {None: str(folder)}, scale, int(config.get("num_channels", 3)))


def bundled_models(defaults_dir: Path = DEFAULTS_DIR) -> list[ModelEntry]:
    """The package's own checkpoints: every `save_pretrained` folder under `swinir_hf/defaults/` (work offline)."""
    if not defaults_dir.is_dir():
        return []
    folders = sorted(p for p in defaults_dir.iterdir() if (p / "config.json").is_file())
    return [folder_entry(p, f"{p.name} · bundled") for p in folders]


@functools.cache
def _hub_answers() -> bool:
    return hub_reachable()


def hub_online() -> bool:
    """Whether Hub downloads can happen: not HF_HUB_OFFLINE, and the Hub answered (probed once per process)."""
    from huggingface_hub import constants

    return not constants.HF_HUB_OFFLINE and _hub_answers()


def hub_cached(repo_id: str) -> bool:
    """Whether a Hub model's config and weights are in the local cache."""
    from huggingface_hub import try_to_load_from_cache

    return all(isinstance(try_to_load_from_cache(repo_id, name), str) for name in ("config.json", "model.safetensors"))


def jpeg_quality(path: str | os.PathLike) -> int | None:
    """Estimated IJG quality (1-100) of a JPEG file from its luminance table; None for other files."""
    try:
        with Image.open(path) as image:
            tables = getattr(image, "quantization", None) if image.format == "JPEG" else None
    except (OSError, SyntaxError, Image.DecompressionBombError):
        return None
    if not tables:
        return None
    luma = np.sort(np.asarray(tables[min(tables)]))
    qualities = np.arange(1, 101)
    scales = np.where(qualities < 50, 5000 // qualities, 200 - 2 * qualities)
    candidates = np.clip((IJG_LUMA[None] * scales[:, None] + 50) // 100, 1, 255)
    error = np.abs(np.sort(candidates, axis=1) - luma[None]).sum(axis=1)
    return int(qualities[np.argmin(error)])


class Cancelled(BaseException):
    """Raised inside the model's forward when the user cancels; a BaseException so no retry logic swallows it."""


@dataclass
class Job:
    """One running restoration as the model hooks see it: its cancel flag and its progress.

    Progress counts Swin blocks: the first forward's input shape tells how many tiles (forwards) the image needs,
    so the bar moves per block in every mode (whole image, tiles, ensemble passes).
    """

    report: Callable[[float, str], None]
    blocks_per_forward: int
    image_hw: tuple[int, int]
    images: int = 1
    overlap: int = 32
    passes: int = 1
    cancel: threading.Event = field(default_factory=threading.Event)
    forwards: int | None = None
    blocks_done: int = 0
    started: float = field(default_factory=time.perf_counter)
    _last_report: float = 0.0

    def on_forward(self, shape: torch.Size) -> None:
        if self.forwards is None:
            self.forwards = forwards_needed(shape, self.image_hw, self.images, self.overlap) * self.passes

    def on_block(self) -> None:
        self.blocks_done += 1
        now = time.perf_counter()
        if now - self._last_report < PROGRESS_EVERY_S:
            return
        self._last_report = now
        fraction = min(self.blocks_done / (self.blocks_per_forward * (self.forwards or 1)), 0.99)
        left = (now - self.started) * (1 - fraction) / fraction
        self.report(fraction, f"Restoring, about {format_seconds(left)} left")


def forwards_needed(shape: torch.Size, image_hw: tuple[int, int], images: int, overlap: int) -> int:
    """Forward passes `restore` makes for an image, from the shape of its first one (as `tiling.tiled_apply` plans)."""
    batch, _, th, tw = shape
    h, w = image_hw
    if th >= h and tw >= w:
        return 1
    tile = th if th < h else tw
    ov = min(overlap, tile // 2)
    tiles = len(tile_starts(h, th, ov)) * len(tile_starts(w, tw, ov))
    return math.ceil(tiles / max(1, batch // images))


def default_level(levels: list[int], quality: int | None) -> int:
    """The level closest to a JPEG's estimated quality (the stronger one on a tie), else the middle one."""
    if quality is None:
        return levels[len(levels) // 2]
    return min(levels, key=lambda q: abs(q - quality))


def format_seconds(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


_current = threading.local()


def _before_model(module, args) -> None:
    job = getattr(_current, "job", None)
    if job is not None:
        if job.cancel.is_set():
            raise Cancelled
        job.on_forward(args[0].shape)


def _before_block(module, args) -> None:
    job = getattr(_current, "job", None)
    if job is not None:
        if job.cancel.is_set():
            raise Cancelled
        job.on_block()


class ModelCache:
    """Models loaded once per spec, least recently used dropped beyond `capacity`.

    Each model gets forward pre-hooks that read the job of the thread running it: on every Swin block they stop
    the job when its cancel event is set (so Cancel frees the CPU within one block, whatever the tiling) and move
    its progress.
    """

    def __init__(self, capacity: int = 3) -> None:
        self.capacity = capacity
        self._models: OrderedDict[str, SwinIRForImageRestoration] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: str) -> SwinIRForImageRestoration:
        """The loaded model. Raises ModelError (one line) when it cannot be loaded."""
        with self._lock:
            if spec in self._models:
                self._models.move_to_end(spec)
                return self._models[spec]
            model = load_checked(spec)
            model.register_forward_pre_hook(_before_model)
            for module in model.modules():
                if isinstance(module, SwinTransformerBlock):
                    module.register_forward_pre_hook(_before_block)
            self._models[spec] = model
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return model


def load_checked(spec: str) -> SwinIRForImageRestoration:
    """`load_model`, with every way a model can fail to load turned into one ModelError line."""
    if Path(spec).is_dir():
        read_config(Path(spec))
    try:
        return load_model(spec)
    except (ModelNotAvailableError, CheckpointError) as err:
        raise ModelError(message_of(err)) from None
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ModelError(f"Cannot load the model {spec}: {message_of(err).splitlines()[0]}") from None


def message_of(err: BaseException) -> str:
    """An exception's own text (`str` of a KeyError subclass would add quotes)."""
    text = err.args[0] if err.args and isinstance(err.args[0], str) else str(err)
    return text.strip() or type(err).__name__


def count_blocks(model: SwinIRForImageRestoration) -> int:
    return sum(isinstance(m, SwinTransformerBlock) for m in model.modules())


def preview(pixels: Image.Image | np.ndarray) -> Image.Image:
    """Any image (PIL, or (H, W, C) uint16 array) → 8-bit L / LA / RGB / RGBA PIL image for the browser."""
    arr, alpha = image_to_float(pixels)
    if alpha is not None:
        arr = np.concatenate([arr, alpha[..., None]], axis=-1)
    return float_to_image(arr)


def thumbnail(pixels: Image.Image | np.ndarray, side: int = PREVIEW_SIDE) -> Image.Image:
    """A small 8-bit view of an image (the input preview only needs to show what was uploaded)."""
    image = preview(pixels)
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    return image


def size_of(pixels: Image.Image | np.ndarray) -> tuple[int, int]:
    """(width, height) in pixels."""
    return pixels.size if isinstance(pixels, Image.Image) else (pixels.shape[1], pixels.shape[0])


def colour_channels(pixels: Image.Image | np.ndarray) -> int:
    """1 for grey images (with or without alpha), else 3."""
    if isinstance(pixels, np.ndarray):
        return 1 if pixels.ndim == 2 or pixels.shape[-1] in (1, 2) else 3
    return 1 if pixels.mode in ("1", "L", "LA", "La", "I", "F") or pixels.mode.startswith("I;16") else 3


def describe(pixels: Image.Image | np.ndarray) -> str:
    """'W×H, kind' of an image, e.g. '480×320 RGBA 8-bit'."""
    w, h = size_of(pixels)
    if isinstance(pixels, np.ndarray):
        kind = f"{'RGBA' if pixels.shape[-1] == 4 else 'RGB'} 16-bit"
    else:
        kind = {
            "L": "grey 8-bit",
            "LA": "grey+alpha 8-bit",
            "RGB": "RGB 8-bit",
            "RGBA": "RGBA 8-bit",
            "F": "grey 32-bit float",
            "I": "grey 32-bit",
        }.get(pixels.mode, "grey 16-bit" if pixels.mode.startswith("I;16") else pixels.mode)
    return f"{w}×{h} {kind}"


def parse_tile(value: str | int | None) -> int | str | None:
    """Tile control value → `restore`'s `tile`: 'auto', None (whole image) or a positive number of pixels."""
    text = str(value).strip().lower() if value is not None else "none"
    if text in ("auto", "none"):
        return None if text == "none" else "auto"
    if not text.isdigit() or int(text) < 8:
        raise user_error(f"Tile size must be 'auto', 'none' or a whole number of pixels ≥ 8, not {value!r}.")
    return int(text)


def open_header(path: str) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels.

    Raises:
        gr.Error: not an image, or more pixels than Pillow will decode (a decompression bomb).
    """
    name = Path(path).name
    try:
        with Image.open(path) as image:
            return image.size
    except Image.DecompressionBombError:
        raise user_error(
            f"{name} has too many pixels to open safely (Pillow's decompression-bomb limit is "
            f"{Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels): shrink it before uploading."
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise user_error(f"{name} is not an image this demo can read (PNG, JPEG, TIFF, WebP, BMP…).") from None


def decode(path: str):
    """The file's pixels and ICC profile (`read_image`), or a plain gr.Error."""
    try:
        return read_image(path)
    except ValueError as err:
        name = Path(path).name
        if isinstance(err.__cause__, Image.DecompressionBombError):
            raise user_error(f"{name} has too many pixels to open safely: shrink it before uploading.") from None
        raise user_error(f"{name} is not an image this demo can read (PNG, JPEG, TIFF, WebP, BMP…).") from None


def shrink(pixels: Image.Image | np.ndarray, max_pixels: int) -> Image.Image | np.ndarray:
    """The image scaled down (same kind, mode and bit depth) to at most `max_pixels`."""
    w, h = size_of(pixels)
    factor = math.sqrt(max_pixels / (w * h))
    size = (max(1, int(w * factor)), max(1, int(h * factor)))
    if isinstance(pixels, Image.Image):
        return pixels.resize(size, Image.Resampling.LANCZOS)
    x = torch.from_numpy(pixels.astype(np.float32)).permute(2, 0, 1)[None]
    y = torch.nn.functional.interpolate(x, size=size[::-1], mode="bicubic", antialias=True, align_corners=False)
    return y[0].permute(1, 2, 0).round().clamp(0, 65535).numpy().astype(np.uint16)


@dataclass(frozen=True)
class Plan:
    """What Restore will run with the current controls, or why it cannot."""

    entry: ModelEntry | None = None
    spec: str | None = None
    level: int | None = None
    problem: str | None = None

    @property
    def name(self) -> str:
        if self.entry is None:
            return Path(self.spec or "").name
        return self.entry.label if self.level is None else f"{self.entry.label}, {self.level}"


@dataclass
class RestorationDemo:
    """The demo's state and callbacks; `build()` lays them out as a `gr.Blocks` app.

    Args:
        max_pixels: largest input (width × height) accepted; larger uploads get a message and an offer to shrink.
        concurrency: restorations running at once (the rest wait in the queue); on a CPU each gets its share of
            the cores.
        extra_models: local folders / `.pth` files added to the model list (e.g. from `--model`).
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    concurrency: int = 1
    extra_models: list[str] = field(default_factory=list)
    defaults_dir: Path = DEFAULTS_DIR

    def __post_init__(self) -> None:
        self.models = ModelCache()
        self.entries = bundled_models(self.defaults_dir) + [self._local_entry(s) for s in self.extra_models]
        self.entries += authors_models()
        # gradio's queue counts a cancelled job as finished at once; this also waits for its thread to stop.
        self._workers = threading.Semaphore(self.concurrency)
        self._jobs: dict[str, Job] = {}
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        # Jobs running at once split the cores: each one using all of them oversubscribes OpenMP (measured 6× slower).
        self.threads_per_job = max(1, torch.get_num_threads() // max(1, self.concurrency))
        self.output_dir = Path(tempfile.mkdtemp(prefix="swinir-demo-"))

    def _local_entry(self, spec: str) -> ModelEntry:
        path = Path(spec)
        if path.is_dir():
            return folder_entry(path, f"{path.name} · local")
        config = self.models.get(spec).config.to_dict()
        scale = int(config.get("upscale", 1))
        return ModelEntry(task_of(config), f"{path.name} · local", {None: spec}, scale, config.get("num_channels", 3))

    # -- what can run ---------------------------------------------------------------------------------------------

    def unavailable(self, entry: ModelEntry, level: int | None = None) -> str | None:
        """Why `entry` cannot run here now (offline and not cached), or None."""
        if not entry.on_hub:
            return None
        specs = [entry.specs[level]] if level in entry.specs else list(entry.specs.values())
        if hub_online() or all(hub_cached(s) for s in specs):
            return None
        return "needs a download from the Hugging Face Hub, and this server is offline"

    def status_label(self, entry: ModelEntry) -> str:
        """The entry's label as the model list shows it: marked when it downloads or cannot run."""
        if not entry.on_hub or all(hub_cached(s) for s in entry.specs.values()):
            return entry.label
        return entry.label + (" · downloads on first use" if hub_online() else " · needs a download (offline)")

    def task_entries(self, task: str) -> list[ModelEntry]:
        return [e for e in self.entries if e.task == task]

    def task_ready(self, task: str) -> bool:
        return any(self.unavailable(e) is None for e in self.task_entries(task))

    def task_choices(self) -> list[tuple[str, str]]:
        return [(TASK_WORDS[t] + ("" if self.task_ready(t) else " (needs a download)"), t) for t in TASKS]

    def first_task(self) -> str:
        """The first task (in `TASKS` order) with an offline (bundled or local) model, else super-resolution."""
        offline = {e.task for e in self.entries if not e.on_hub}
        return next((t for t in TASKS if t in offline), SR)

    def scales(self, task: str, entry: ModelEntry | None = None) -> list[int]:
        """The scale choices of a task: ×1 / ×2 / ×4 where it has models, plus a chosen model's own scale."""
        have = {e.scale for e in self.task_entries(task)}
        main = [s for s in MAIN_SCALES if s in have] or sorted(have) or [1]
        return sorted(set(main) | ({entry.scale} if entry else set()))

    def default_scale(self, task: str) -> int:
        return max(self.scales(task))

    def model_choices(self, task: str) -> list[tuple[str, str]]:
        return (
            [("Automatic (best for the task, scale and image)", AUTO)]
            + [(self.status_label(e), e.label) for e in self.task_entries(task)]
            + [("Local folder or .pth file…", CUSTOM)]
        )

    def entry(self, task: str, label: str) -> ModelEntry | None:
        return next((e for e in self.entries if e.task == task and e.label == label), None)

    def pick(self, task: str, scale: int, channels: int = 3) -> ModelEntry | None:
        """The automatic choice: a model of the task and scale that runs here, local before Hub, cached before
        not, the input's colour (colour JPEG → colour model)."""
        candidates = [e for e in self.task_entries(task) if e.scale == scale]
        order = {id(e): i for i, e in enumerate(candidates)}

        def rank(e: ModelEntry) -> tuple:
            return (self.unavailable(e) is not None, e.on_hub, e.channels != channels, order[id(e)])

        return min(candidates, key=rank, default=None)

    def plan(
        self,
        task: str,
        scale: int | str | None,
        model: str | None,
        level: int | str | None,
        custom_path: str | None,
        channels: int = 3,
        quality: int | None = None,
    ) -> Plan:
        """Controls → what Restore runs, or the one-line reason it cannot. `channels` and a JPEG's `quality` are
        the input's: they pick the colour model and the default quality level."""
        if model == CUSTOM:
            path = (custom_path or "").strip()
            if not path:
                return Plan(problem="Enter the path of a local model folder or an authors' .pth file.")
            return Plan(spec=path)
        if model not in (None, "", AUTO):
            entry = self.entry(task, model)
            if entry is None:
                return Plan(problem=f"Unknown model {model!r} for {task}.")
        else:
            scale = int(scale) if scale not in (None, "") else self.default_scale(task)
            entry = self.pick(task, scale, channels)
            if entry is None:
                return Plan(problem=f"No model for {TASK_WORDS.get(task, task)} at ×{scale}.")
        chosen = None
        if entry.levels:
            chosen = int(level) if level not in (None, "") and int(level) in entry.levels else None
            chosen = chosen if chosen is not None else default_level(entry.levels, quality)
        problem = self.unavailable(entry, chosen)
        if problem is not None:
            if model in (None, "", AUTO):
                problem = f"No offline model for {TASK_NOUNS[task]} ×{entry.scale} yet: {entry.label} {problem}"
            else:
                problem = f"{entry.label} {problem}"
            return Plan(entry=entry, level=chosen, problem=problem + ".")
        return Plan(entry=entry, spec=entry.spec(chosen), level=chosen)

    # -- control callbacks ----------------------------------------------------------------------------------------

    def inspect(self, path: str | None) -> dict:
        """What the controls need to know about the upload: size, colour, JPEG quality, or why it cannot be used."""
        if not path:
            return {}
        try:
            w, h = open_header(path)
            if w * h > self.max_pixels:
                return {"size": (w, h), "too_big": True}
            data = decode(path)
        except gr.Error as err:
            return {"error": err.message}
        return {
            "size": size_of(data.pixels),
            "channels": colour_channels(data.pixels),
            "quality": jpeg_quality(path),
            "pixels": data.pixels,
        }

    def controls(self, info: dict, task: str, scale, model, level, custom_path, *, follow_model: bool = False) -> tuple:
        """Updates of (scale, model list, level, path box, plan line, Restore) for the current controls: a model
        sets the scale; another scale goes back to the automatic model."""
        entry = self.entry(task, model) if model not in (None, AUTO, CUSTOM) else None
        if follow_model and entry is not None:
            scale = entry.scale
        elif entry is not None and scale not in (None, "") and int(scale) != entry.scale:
            entry, model = None, AUTO
        scales = self.scales(task, entry)
        scale = int(scale) if scale not in (None, "") and int(scale) in scales else self.default_scale(task)
        quality = info.get("quality") if task == JPEG else None
        plan = self.plan(task, scale, model, level, custom_path, info.get("channels", 3), quality)
        levels = plan.entry.levels if plan.entry else []
        problem = plan.problem or info.get("error") or ("The image is too large." if info.get("too_big") else None)
        return (
            gr.update(choices=[(f"×{s}", s) for s in scales], value=scale),
            gr.update(choices=self.model_choices(task), value=model or AUTO),
            gr.update(visible=bool(levels), choices=levels, value=plan.level, label=LEVEL_LABELS.get(task, "Level")),
            gr.update(visible=model == CUSTOM),
            self.plan_text(plan, info),
            gr.update(interactive=problem is None and bool(info.get("size"))),
        )

    def plan_text(self, plan: Plan, info: dict) -> str:
        if plan.problem:
            return f"⚠ {plan.problem}"
        what = plan.name if plan.entry else f"{plan.spec} (local)"
        if plan.entry and plan.entry.on_hub and not all(hub_cached(s) for s in [plan.spec]):
            what += " (downloads on first use)"
        if "size" not in info or "error" in info or info.get("too_big"):
            return f"Model: {what}"
        w, h = info["size"]
        s = plan.entry.scale if plan.entry else 1
        return f"Model: {what} · {w}×{h} → {s * w}×{s * h}"

    def on_upload(self, path, task, scale, model, level, custom_path) -> tuple:
        """The upload's preview, its one-line description (or the problem), the shrink offer, and the controls."""
        info = self.inspect(path)
        if info.get("too_big"):
            w, h = info["size"]
            text = (
                f"⚠ This image is {w}×{h} = {w * h / 1e6:.1f} megapixels; this demo takes up to "
                f"{self.max_pixels / 1e6:.2f}. Shrink it to fit, or run the demo yourself with a larger --max-pixels."
            )
        elif "error" in info:
            text = f"⚠ {info['error']}"
        elif info:
            text = f"**Input** {describe(info['pixels'])}"
        else:
            text = ""
        shown = thumbnail(info["pixels"]) if "pixels" in info else None
        return (
            gr.update(value=shown, visible=shown is not None),
            text,
            gr.update(visible=bool(info.get("too_big"))),
            *self.controls(info, task, scale, model, None, custom_path),
        )

    def on_task(self, path, task, custom_path) -> tuple:
        return self.controls(self.inspect_light(path), task, None, AUTO, None, custom_path)

    def on_settings(self, path, task, scale, model, level, custom_path) -> tuple:
        return self.controls(self.inspect_light(path), task, scale, model, level, custom_path)

    def on_model(self, path, task, scale, model, level, custom_path) -> tuple:
        return self.controls(self.inspect_light(path), task, scale, model, level, custom_path, follow_model=True)

    def inspect_light(self, path: str | None) -> dict:
        """`inspect` without the pixels: the control callbacks need only the facts about the image."""
        info = self.inspect(path)
        info.pop("pixels", None)
        return info

    def shrink_upload(self, path: str | None) -> str:
        """Scale the upload down to the size limit; the new file replaces it (and goes through `on_upload`)."""
        if not path:
            raise user_error("Upload an image first.")
        data = decode(path)
        small = shrink(data.pixels, self.max_pixels)
        out = self._output_path(f"{Path(path).stem}_small", ".png" if not is_float(small) else ".tiff")
        write_image(out, small, data.icc_profile)
        return str(out)

    # -- restoration ----------------------------------------------------------------------------------------------

    def restore(
        self,
        path: str | None,
        task: str,
        scale: int | None,
        model: str | None,
        level: int | None,
        custom_path: str | None,
        tile: str,
        overlap: float,
        ensemble: bool,
        precision: str,
        request: gr.Request,
        progress=gr.Progress(),  # noqa: B008 (gradio reads this default to inject its tracker)
    ) -> tuple[tuple[Image.Image, Image.Image], str, str]:
        """Restore the uploaded file → ((input enlarged, result) previews, full-resolution file path, size info)."""
        if not path:
            raise user_error("Upload an image first.")
        w, h = open_header(path)
        if w * h > self.max_pixels:
            raise user_error(
                f"The image is {w}×{h} = {w * h / 1e6:.2f} megapixels; this demo accepts up to "
                f"{self.max_pixels / 1e6:.2f}. Crop or shrink it, or run the demo yourself with a larger --max-pixels."
            )
        data = decode(path)
        quality = jpeg_quality(path) if task == JPEG else None
        plan = self.plan(task, scale, model, level, custom_path, colour_channels(data.pixels), quality)
        problem = plan.problem or mismatch(plan, scale, level)
        if problem:
            raise user_error(problem)
        tile_value = parse_tile(tile)
        if precision == "float16" and self.device != "cuda":
            raise user_error("float16 needs a CUDA GPU and this server runs on the CPU: use Automatic or bfloat16.")
        progress(0, desc="Waiting for a free worker")
        start = time.perf_counter()
        with self._workers:
            progress(0, desc=f"Loading {plan.name}")
            try:
                net = self.models.get(plan.spec)
            except ModelError as err:
                raise user_error(str(err)) from None
            job = Job(
                report=lambda fraction, text: progress(fraction, desc=text),
                blocks_per_forward=count_blocks(net),
                image_hw=(h, w),
                images=3 if net.config.num_channels == 1 and colour_channels(data.pixels) == 3 else 1,
                overlap=int(overlap),
                passes=8 if ensemble else 1,
            )
            result = self._run(
                job, net, data.pixels, request.session_hash, tile_value, int(overlap), ensemble, precision
            )
        seconds = time.perf_counter() - start
        out = self._output_path(Path(path).stem, ".tiff" if is_float(result) else ".png")
        write_image(out, result, data.icc_profile)
        after = preview(result)
        before = preview(data.pixels).resize(after.size, Image.Resampling.BICUBIC)
        info = f"**Input** {describe(data.pixels)} → **output** {describe(result)} · {plan.name} · {seconds:.1f} s"
        if after.size != size_of(data.pixels):
            info += " · *before*: the input enlarged with bicubic interpolation"
        return (before, after), str(out), info

    def _run(self, job: Job, net, pixels, session: str, tile, overlap: int, ensemble: bool, precision: str):
        """Run one job on this thread with its share of the cores; Cancel and failures become gr.Errors."""
        if self.device == "cpu":
            torch.set_num_threads(self.threads_per_job)  # OpenMP's thread count is per calling thread
        self._jobs[session] = job
        _current.job = job
        try:
            job.report(0, "Restoring")
            device = self.device if self.device == "cuda" else None
            engine = EngineOptions(
                tile=tile, tile_overlap=overlap, ensemble=bool(ensemble), dtype=precision, device=device
            )
            return restore(net, pixels, engine)
        except Cancelled:
            raise user_error("Cancelled.") from None
        except (RuntimeError, ValueError, MemoryError) as err:
            raise user_error(f"Restoration failed: {err}") from None
        finally:
            _current.job = None
            if self._jobs.get(session) is job:
                del self._jobs[session]

    def cancel(self, request: gr.Request) -> tuple[str, dict, dict]:
        """Stop this session's running restoration (the model stops at its next Swin block)."""
        job = self._jobs.get(request.session_hash)
        if job is not None:
            job.cancel.set()
        return "**Cancelled.** Press Restore to run again.", gr.update(interactive=True), gr.update(interactive=False)

    def _output_path(self, stem: str, suffix: str = ".png") -> Path:
        """A fresh folder per result (users may restore files of the same name at once); old ones are removed."""
        now = time.time()
        for old in self.output_dir.iterdir():
            if now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=self.output_dir)) / f"{stem}_swinir{suffix}"

    # -- layout ---------------------------------------------------------------------------------------------------

    def precisions(self) -> list:
        """Precisions this device can run (float16 only on CUDA)."""
        return [("Automatic", "auto"), "float32", "bfloat16"] + (["float16"] if self.device == "cuda" else [])

    def build(self) -> gr.Blocks:
        task0 = self.first_task()
        with gr.Blocks(title="SwinIR image restoration", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
            gr.Markdown(
                "# SwinIR image restoration\n"
                "Drop an image, say what it is, pick the size, press **Restore**. The result keeps the input's bit "
                f"depth and transparency. Inputs up to {self.max_pixels / 1e6:.2f} megapixels."
            )
            with gr.Row():
                with gr.Column(min_width=320):
                    c = self._input_column(task0)
                with gr.Column(min_width=320):
                    comparison = gr.ImageSlider(
                        label="Before / after", type="pil", format="png", elem_id="comparison", max_height=640
                    )
                    download = gr.File(label="Full-resolution result", elem_id="download")
                    info = gr.Markdown(elem_id="info")
            self._examples(c)
            self._wire(demo, c, comparison, download, info)
        return demo

    def _input_column(self, task0: str) -> dict:
        """The left column: upload, preview, task, scale, Restore / Cancel, plan line, Advanced. Returns them."""
        scale0 = self.default_scale(task0)
        plan0 = self.plan(task0, scale0, AUTO, None, None)
        c = {}
        c["file"] = gr.File(label="Image (drop or click)", elem_id="upload", height=110)
        c["shrink"] = gr.Button("Shrink to fit and use", visible=False, size="sm", elem_id="shrink-button")
        c["preview"] = gr.Image(
            label="Input", interactive=False, height=200, visible=False, elem_id="input-preview", buttons=[]
        )
        c["input_info"] = gr.Markdown(elem_id="input-info")
        c["task"] = gr.Radio(self.task_choices(), value=task0, label="What is it?", elem_id="task")
        with gr.Row():
            c["scale"] = gr.Radio(
                [(f"×{s}", s) for s in self.scales(task0)], value=scale0, label="Scale", elem_id="scale"
            )
            c["level"] = gr.Radio(visible=False, label="Level", elem_id="level")
        with gr.Row():
            c["run"] = gr.Button(
                "Restore", variant="primary", elem_id="restore-button", interactive=False, scale=3, min_width=120
            )
            c["stop"] = gr.Button(
                "Cancel", variant="secondary", elem_id="cancel-button", interactive=False, scale=1, min_width=80
            )
        c["plan"] = gr.Markdown(self.plan_text(plan0, {}), elem_id="plan")
        with gr.Accordion("Advanced", open=False, elem_id="advanced"):
            # The choices follow the task in the page; API clients may send any task's model (plan() checks it).
            c["model"] = gr.Dropdown(
                self.model_choices(task0), value=AUTO, label="Model", elem_id="model", allow_custom_value=True
            )
            c["custom"] = gr.Textbox(label="Local model folder or authors' .pth file", visible=False, max_lines=1)
            c["tile"] = gr.Dropdown(
                TILE_CHOICES,
                value="auto",
                allow_custom_value=True,
                label="Tile size (input pixels; bounds memory on large images)",
            )
            c["overlap"] = gr.Slider(0, 64, value=32, step=2, label="Tile overlap (pixels)")
            c["ensemble"] = gr.Checkbox(False, label="Self-ensemble ×8 (SwinIR+: slightly better, 8× slower)")
            c["precision"] = gr.Radio(self.precisions(), value="auto", label="Precision")
        # The API's Restore: gradio checks a Radio's value against the choices the page was built with (the first
        # task's scales, no levels), so API clients send scale and level as plain numbers and plan() checks them.
        c["api_scale"] = gr.Number(visible=False, precision=0, label="Scale: 1 (denoising, JPEG), 2 or 4")
        c["api_level"] = gr.Number(
            visible=False, precision=0, label="Level: noise σ or JPEG quality of the authors' models; None: default"
        )
        c["api_run"] = gr.Button(visible=False)
        return c

    def _examples(self, c: dict) -> None:
        """Examples for the tasks that can run here (a JPEG example is no use while no JPEG model can)."""
        if EXAMPLES_DIR is None:
            return
        rows = [
            [str(EXAMPLES_DIR / "church_x2_downscaled.png"), SR],
            [str(EXAMPLES_DIR / "starfish_noise25.png"), DENOISE],
            [str(EXAMPLES_DIR / "flowers_jpeg15.jpg"), JPEG],
        ]
        rows = [r for r in rows if self.task_ready(r[1])]
        if rows:
            gr.Examples(
                rows,
                inputs=[c["file"], c["task"]],
                label="Examples (crops of BSDS500 training images: downscaled, noisy, JPEG-compressed)",
            )

    def _wire(self, demo: gr.Blocks, c: dict, comparison, download, info) -> None:
        settings = [c["file"], c["task"], c["scale"], c["model"], c["level"], c["custom"]]
        controls = [c["scale"], c["model"], c["level"], c["custom"], c["plan"], c["run"]]
        quiet = dict(queue=False, show_progress="hidden", api_visibility="private")
        c["file"].change(self.on_upload, settings, [c["preview"], c["input_info"], c["shrink"], *controls], **quiet)
        c["task"].input(self.on_task, [c["file"], c["task"], c["custom"]], controls, **quiet)
        for control in (c["scale"], c["level"], c["custom"]):
            control.input(self.on_settings, settings, controls, **quiet)
        c["model"].input(self.on_model, settings, controls, **quiet)
        c["shrink"].click(self.shrink_upload, c["file"], c["file"], api_visibility="private")
        options = [c["tile"], c["overlap"], c["ensemble"], c["precision"]]
        results = [comparison, download, info]
        shared = dict(concurrency_limit=self.concurrency, concurrency_id="restore")
        start = c["run"].click(running, None, [c["run"], c["stop"]], **quiet)
        job = start.then(
            self.restore,
            settings + options,
            results,
            api_name="restore_in_page",
            api_visibility="private",
            show_progress_on=[comparison],
            **shared,
        )
        job.then(idle, None, [c["run"], c["stop"]], js=SCROLL_TO_RESULT_JS, **quiet)
        api_settings = [c["file"], c["task"], c["api_scale"], c["model"], c["api_level"], c["custom"]]
        api_job = c["api_run"].click(self.restore, api_settings + options, results, api_name="restore", **shared)
        c["stop"].click(
            self.cancel, None, [info, c["run"], c["stop"]], cancels=[job, api_job], queue=False, api_name="cancel"
        )


def mismatch(plan: Plan, scale: int | None, level: int | None) -> str | None:
    """Why the scale or level sent does not fit the planned model (API clients may send any), or None."""
    entry = plan.entry
    if entry is None:
        return None
    if scale not in (None, "") and int(scale) != entry.scale:
        return f"{entry.label} works at ×{entry.scale}, not ×{int(scale)}: send scale {entry.scale} or model 'auto'."
    if level not in (None, "") and entry.levels and int(level) not in entry.levels:
        return f"{entry.label} has the levels {entry.levels}, not {int(level)}."
    return None


def running() -> tuple[dict, dict]:
    """Button states while a job runs: Restore off, Cancel on."""
    return gr.update(interactive=False), gr.update(interactive=True)


def idle() -> tuple[dict, dict]:
    """Button states with nothing running."""
    return gr.update(interactive=True), gr.update(interactive=False)


def is_float(pixels: Image.Image | np.ndarray) -> bool:
    """Whether an image holds 32-bit float or integer pixels (TIFF keeps them; PNG cannot)."""
    return isinstance(pixels, Image.Image) and pixels.mode in ("F", "I")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ.get
    parser.add_argument("--host", default=env("GRADIO_SERVER_NAME", "127.0.0.1"), help="address to listen on")
    parser.add_argument("--port", type=int, default=int(env("GRADIO_SERVER_PORT", "7860")), help="port to listen on")
    parser.add_argument(
        "--model", action="append", default=[], help="local model folder or authors' .pth to add (repeatable)"
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=int(env("SWINIR_DEMO_MAX_PIXELS", str(DEFAULT_MAX_PIXELS))),
        help="largest accepted input, width × height (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=1, help="restorations running at once, each on its share of the CPU cores"
    )
    parser.add_argument("--queue-size", type=int, default=20, help="jobs waiting at most before new ones are refused")
    return parser.parse_args(argv)


def launch(args: argparse.Namespace, **launch_kwargs) -> gr.Blocks:
    """Build, queue and start the app; extra keyword arguments go to `gr.Blocks.launch`.

    Raises:
        SystemExit: a `--model` that cannot be used, with one line saying why.
    """
    try:
        app = RestorationDemo(max_pixels=args.max_pixels, concurrency=args.concurrency, extra_models=args.model)
    except ModelError as err:
        raise SystemExit(f"app.py: error: {err}") from None
    demo = app.build()
    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    # System fonts: the default theme fetches web fonts, which an offline machine cannot.
    fonts = {"font": ["ui-sans-serif", "system-ui", "sans-serif"], "font_mono": ["ui-monospace", "monospace"]}
    theme = gr.themes.Default(**fonts)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        max_file_size="50mb",
        theme=theme,
        css=CSS,
        footer_links=["api"],
        **launch_kwargs,
    )
    return demo


if __name__ == "__main__":
    launch(parse_args())

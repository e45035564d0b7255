"""SwinIR image restoration demo: `python app.py [--port N]` on localhost, and the same file as a Hugging Face Space.

Models: the package's bundled defaults (offline), the authors' checkpoints by Hub id (need the Hub or its
cache), and any local `save_pretrained` folder or authors' `.pth` file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from swinir_hf.catalog import Release, load_catalog
from swinir_hf.convert import CheckpointError
from swinir_hf.image_io import read_image, write_image
from swinir_hf.image_processing_swinir import float_to_image, image_to_float
from swinir_hf.loading import DEFAULTS_DIR, ModelNotAvailableError, load_model
from swinir_hf.modeling_swinir import SwinIRForImageRestoration, SwinTransformerBlock
from swinir_hf.restoration import restore

HERE = Path(__file__).resolve().parent
# In the repo the examples live with the Space files; an assembled Space has them beside app.py.
EXAMPLES_DIR = next((p for p in (HERE / "examples", HERE / "hub" / "space" / "examples") if p.is_dir()), None)

SR = "Super-resolution"
REAL_SR = "Real-world super-resolution"
DENOISE = "Denoising"
JPEG = "JPEG artifact removal"
TASKS = (SR, REAL_SR, DENOISE, JPEG)
# What the noise level / JPEG quality control is called for the tasks whose checkpoints are trained per level.
LEVEL_LABELS = {DENOISE: "Noise level σ (selects the checkpoint)", JPEG: "JPEG quality (selects the checkpoint)"}
CONFIG_TASKS = {
    "classical_sr": SR,
    "lightweight_sr": SR,
    "real_sr": REAL_SR,
    "gray_dn": DENOISE,
    "color_dn": DENOISE,
    "jpeg_car": JPEG,
    "color_jpeg_car": JPEG,
}
CUSTOM = "Local folder or .pth file…"
TILE_CHOICES = [("Automatic", "auto"), ("Whole image (no tiles)", "none"), "128", "256", "512"]
PRECISIONS = [("Automatic", "auto"), "float32", "bfloat16", "float16"]
DEFAULT_MAX_PIXELS = 1024 * 1024
OUTPUT_MAX_AGE_S = 3600


@dataclass(frozen=True)
class ModelEntry:
    """One line of the model picker: a task, a label, and the `load_model` spec for each level.

    `specs` maps a noise σ / JPEG quality to its checkpoint, or has the single key None for a model with no levels.
    """

    task: str
    label: str
    specs: Mapping[int | None, str]
    on_hub: bool = False

    @property
    def levels(self) -> list[int]:
        return sorted(k for k in self.specs if k is not None)

    def spec(self, level: int | None) -> str:
        if None in self.specs:
            return self.specs[None]
        if level is None or int(level) not in self.specs:
            raise gr.Error(f"Pick one of the levels {self.levels} for {self.label}.")
        return self.specs[int(level)]


def authors_models() -> list[ModelEntry]:
    """The authors' released checkpoints from the package catalogue, by Hub id (they load only where the Hub or its
    local cache is reachable). Checkpoints that differ only in noise σ / JPEG quality share one entry."""
    families: dict[tuple, tuple[Release, dict[int | None, str]]] = {}
    for release in load_catalog().releases:
        key = (release.task, release.scale, release.size, release.objective, release.training_data)
        levelless = dataclasses.replace(release, noise_level=None, jpeg_quality=None)
        families.setdefault(key, (levelless, {}))[1][release.noise_level or release.jpeg_quality] = release.repo_id()
    return [
        ModelEntry(CONFIG_TASKS[family.task], f"{family.title()} · authors (Hub)", specs, on_hub=True)
        for family, specs in families.values()
    ]


def task_of(config: Mapping) -> str:
    """Demo task of a model config (its `task`, else ×1 models count as denoising)."""
    return CONFIG_TASKS.get(config.get("task")) or (SR if config.get("upscale", 1) > 1 else DENOISE)


def folder_entry(folder: Path, label: str) -> ModelEntry:
    config = json.loads((folder / "config.json").read_text())
    return ModelEntry(task_of(config), f"{label} ×{config.get('upscale', 1)}", {None: str(folder)})


def bundled_models(defaults_dir: Path = DEFAULTS_DIR) -> list[ModelEntry]:
    """The package's own checkpoints: every `save_pretrained` folder under `swinir_hf/defaults/` (work offline)."""
    if not defaults_dir.is_dir():
        return []
    folders = sorted(p for p in defaults_dir.iterdir() if (p / "config.json").is_file())
    return [folder_entry(p, f"{p.name} · bundled") for p in folders]


class Cancelled(BaseException):
    """Raised inside the model's forward when the user cancels; a BaseException so no retry logic swallows it."""


_job = threading.local()


def _stop_if_cancelled(module, args) -> None:
    event = getattr(_job, "cancel", None)
    if event is not None and event.is_set():
        raise Cancelled


class ModelCache:
    """Models loaded once per spec, least recently used dropped beyond `capacity`.

    Each model gets a forward pre-hook on every Swin block that stops the running job when its cancel event is set:
    that bounds the time from Cancel to a free CPU to one block, whatever the tiling.
    """

    def __init__(self, capacity: int = 3) -> None:
        self.capacity = capacity
        self._models: OrderedDict[str, SwinIRForImageRestoration] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: str) -> SwinIRForImageRestoration:
        with self._lock:
            if spec in self._models:
                self._models.move_to_end(spec)
                return self._models[spec]
            model = load_model(spec)
            for module in model.modules():
                if isinstance(module, (SwinTransformerBlock, SwinIRForImageRestoration)):
                    module.register_forward_pre_hook(_stop_if_cancelled)
            self._models[spec] = model
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
            return model


def preview(pixels: Image.Image | np.ndarray) -> Image.Image:
    """Any image (PIL, or (H, W, C) uint16 array) → 8-bit L / LA / RGB / RGBA PIL image for the browser."""
    arr, alpha = image_to_float(pixels)
    if alpha is not None:
        arr = np.concatenate([arr, alpha[..., None]], axis=-1)
    return float_to_image(arr)


def size_of(pixels: Image.Image | np.ndarray) -> tuple[int, int]:
    """(width, height) in pixels."""
    return pixels.size if isinstance(pixels, Image.Image) else (pixels.shape[1], pixels.shape[0])


def describe(pixels: Image.Image | np.ndarray) -> str:
    """'W×H, kind' of an image, e.g. '480×320 RGBA 8-bit'."""
    w, h = size_of(pixels)
    if isinstance(pixels, np.ndarray):
        kind = f"{'RGBA' if pixels.shape[-1] == 4 else 'RGB'} 16-bit"
    else:
        kind = {"L": "grey 8-bit", "LA": "grey+alpha 8-bit", "RGB": "RGB 8-bit", "RGBA": "RGBA 8-bit"}.get(
            pixels.mode, "grey 16-bit" if pixels.mode.startswith("I;16") else pixels.mode
        )
    return f"{w}×{h} {kind}"


def parse_tile(value: str | int | None) -> int | str | None:
    """Tile control value → `restore`'s `tile`: 'auto', None (whole image) or a positive number of pixels."""
    text = str(value).strip().lower() if value is not None else "none"
    if text in ("auto", "none"):
        return None if text == "none" else "auto"
    if not text.isdigit() or int(text) < 8:
        raise gr.Error(f"Tile size must be 'auto', 'none' or a whole number of pixels ≥ 8, not {value!r}.")
    return int(text)


@dataclass
class RestorationDemo:
    """The demo's state and callbacks; `build()` lays them out as a `gr.Blocks` app.

    Args:
        max_pixels: largest input (width × height) accepted; larger uploads get a message, not a job.
        concurrency: restorations running at once (the rest wait in the queue).
        extra_models: local folders / `.pth` files added to the picker (e.g. from `--model`).
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
        self._cancels: dict[str, threading.Event] = {}
        self.output_dir = Path(tempfile.mkdtemp(prefix="swinir-demo-"))

    def _local_entry(self, spec: str) -> ModelEntry:
        path = Path(spec)
        if path.is_dir():
            return folder_entry(path, f"{path.name} · local")
        config = self.models.get(spec).config.to_dict()
        return ModelEntry(task_of(config), f"{path.name} · local ×{config.get('upscale', 1)}", {None: spec})

    # -- picker -------------------------------------------------------------------------------------------------

    def labels(self, task: str) -> list[str]:
        return [e.label for e in self.entries if e.task == task] + [CUSTOM]

    def entry(self, task: str, label: str) -> ModelEntry | None:
        return next((e for e in self.entries if e.task == task and e.label == label), None)

    def on_task(self, task: str) -> dict:
        labels = self.labels(task)
        return gr.update(choices=labels, value=labels[0])

    def level_props(self, task: str, label: str) -> dict:
        """Level control settings: shown, with the entry's levels, for checkpoints trained per noise σ / quality."""
        entry = self.entry(task, label)
        levels = entry.levels if entry else []
        value = levels[len(levels) // 2] if levels else None
        return dict(visible=bool(levels), choices=levels, value=value, label=LEVEL_LABELS.get(task, "Level"))

    def on_model(self, task: str, label: str) -> tuple[dict, dict]:
        """Updates of the level control and of the path box (shown for the custom choice)."""
        return gr.update(**self.level_props(task, label)), gr.update(visible=label == CUSTOM)

    def first_task(self) -> str:
        """The first task (in `TASKS` order) with an offline (bundled or local) model, else super-resolution."""
        offline = {e.task for e in self.entries if not e.on_hub}
        return next((t for t in TASKS if t in offline), SR)

    # -- restoration --------------------------------------------------------------------------------------------

    def describe_input(self, path: str | None) -> str:
        if not path:
            return ""
        try:
            return f"**Input** {describe(read_image(path).pixels)}"
        except ValueError as err:
            return f"**Cannot read this file:** {err}"

    def resolve(self, task: str, label: str, level: int | None, custom_path: str | None) -> tuple[str, str]:
        """Picker state → (load_model spec, name to show)."""
        if label == CUSTOM:
            if not custom_path or not custom_path.strip():
                raise gr.Error("Enter the path of a local model folder or an authors' .pth file.")
            return custom_path.strip(), Path(custom_path.strip()).name
        entry = self.entry(task, label)
        if entry is None:
            raise gr.Error(f"Unknown model {label!r} for {task}.")
        spec = entry.spec(level)
        return spec, label if level is None else f"{label}, {level}"

    def restore(
        self,
        path: str | None,
        task: str,
        label: str,
        level: int | None,
        custom_path: str | None,
        tile: str,
        overlap: float,
        ensemble: bool,
        precision: str,
        request: gr.Request,
        progress=gr.Progress(track_tqdm=True),  # noqa: B008 (gradio reads this default to inject its tracker)
    ) -> tuple[tuple[Image.Image, Image.Image], str, str]:
        """Restore the uploaded file → ((bicubic input, result) previews, full-resolution PNG path, size info)."""
        if not path:
            raise gr.Error("Upload an image first.")
        try:
            data = read_image(path)
        except ValueError:
            name = Path(path).name
            raise gr.Error(f"{name} is not an image this demo can read (PNG, JPEG, TIFF, WebP, BMP…).") from None
        w, h = size_of(data.pixels)
        if w * h > self.max_pixels:
            raise gr.Error(
                f"The image is {w}×{h} = {w * h / 1e6:.2f} megapixels; this demo accepts up to "
                f"{self.max_pixels / 1e6:.2f}. Crop or shrink it, or run the demo yourself with a larger --max-pixels."
            )
        spec, name = self.resolve(task, label, level, custom_path)
        tile_value = parse_tile(tile)
        cancel = self._cancels[request.session_hash] = threading.Event()
        progress(0, desc="Waiting for a free worker")
        start = time.perf_counter()
        with self._workers:
            if cancel.is_set():
                raise gr.Error("Cancelled.")
            progress(0, desc=f"Loading {name}")
            try:
                model = self.models.get(spec)
            except (ModelNotAvailableError, CheckpointError) as err:
                raise gr.Error(str(err)) from None
            progress(0, desc="Restoring")
            _job.cancel = cancel
            try:
                result = restore(
                    model,
                    data.pixels,
                    tile=tile_value,
                    tile_overlap=int(overlap),
                    ensemble=bool(ensemble),
                    dtype=precision,
                    device="cuda" if torch.cuda.is_available() else None,
                    progress=True,
                )
            except Cancelled:
                raise gr.Error("Cancelled.") from None
            except (RuntimeError, ValueError, MemoryError) as err:
                raise gr.Error(f"Restoration failed: {err}") from None
            finally:
                _job.cancel = None
                if self._cancels.get(request.session_hash) is cancel:
                    del self._cancels[request.session_hash]
        seconds = time.perf_counter() - start
        out = self._output_path(Path(path).stem)
        write_image(out, result, data.icc_profile)
        after = preview(result)
        before = preview(data.pixels).resize(after.size, Image.Resampling.BICUBIC)
        info = f"**Input** {describe(data.pixels)} → **output** {describe(result)} · {name} · {seconds:.1f} s"
        return (before, after), str(out), info

    def cancel(self, request: gr.Request) -> None:
        """Stop this session's running restoration (the model stops at its next Swin block)."""
        event = self._cancels.get(request.session_hash)
        if event is not None:
            event.set()

    def _output_path(self, stem: str) -> Path:
        """A fresh folder per result (users may restore files of the same name at once); old ones are removed."""
        now = time.time()
        for old in self.output_dir.iterdir():
            if now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(dir=self.output_dir)) / f"{stem}_swinir.png"

    # -- layout -------------------------------------------------------------------------------------------------

    def build(self) -> gr.Blocks:
        task0 = self.first_task()
        labels0 = self.labels(task0)
        with gr.Blocks(title="SwinIR image restoration", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
            gr.Markdown(
                "# SwinIR image restoration\n"
                "Super-resolution, denoising and JPEG artifact removal with "
                "[SwinIR](https://arxiv.org/abs/2108.10257). Upload an image, pick a task and a model, press "
                "**Restore**. The result keeps the input's bit depth and transparency; download it at full resolution "
                f"below the comparison. Inputs up to {self.max_pixels / 1e6:.2f} megapixels."
            )
            with gr.Row():
                with gr.Column():
                    image = gr.Image(
                        label="Input image", type="filepath", image_mode=None, sources=["upload", "clipboard"]
                    )
                    task = gr.Radio(list(TASKS), value=task0, label="Task")
                    model = gr.Dropdown(labels0, value=labels0[0], label="Model")
                    level = gr.Radio(**self.level_props(task0, labels0[0]))
                    custom = gr.Textbox(
                        label="Local model folder or authors' .pth file", visible=labels0[0] == CUSTOM, max_lines=1
                    )
                    with gr.Accordion("Advanced", open=False):
                        tile = gr.Dropdown(
                            TILE_CHOICES,
                            value="auto",
                            allow_custom_value=True,
                            label="Tile size (input pixels; bounds memory on large images)",
                        )
                        overlap = gr.Slider(0, 64, value=32, step=2, label="Tile overlap (pixels)")
                        ensemble = gr.Checkbox(False, label="Self-ensemble ×8 (SwinIR+: slightly better, 8× slower)")
                        precision = gr.Radio(PRECISIONS, value="auto", label="Precision")
                    with gr.Row():
                        run = gr.Button("Restore", variant="primary", elem_id="restore-button")
                        stop = gr.Button("Cancel", variant="stop", elem_id="cancel-button")
                with gr.Column():
                    comparison = gr.ImageSlider(
                        label="Before (bicubic) / after", type="pil", format="png", elem_id="comparison"
                    )
                    download = gr.File(label="Full-resolution result (PNG)", elem_id="download")
                    info = gr.Markdown(elem_id="info")
            if EXAMPLES_DIR is not None:
                gr.Examples(
                    [
                        [str(EXAMPLES_DIR / "church_x2_downscaled.png"), SR],
                        [str(EXAMPLES_DIR / "starfish_noise25.png"), DENOISE],
                        [str(EXAMPLES_DIR / "flowers_jpeg15.jpg"), JPEG],
                    ],
                    inputs=[image, task],
                    label="Examples (crops of BSDS500 training images, downscaled / noisy / JPEG-compressed)",
                )
            task.change(self.on_task, task, model, queue=False)
            model.change(self.on_model, [task, model], [level, custom], queue=False)
            image.change(self.describe_input, image, info, queue=False)
            job = run.click(
                self.restore,
                [image, task, model, level, custom, tile, overlap, ensemble, precision],
                [comparison, download, info],
                api_name="restore",
                concurrency_limit=self.concurrency,
            )
            stop.click(self.cancel, None, None, cancels=[job], queue=False, api_name="cancel")
        return demo


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
    parser.add_argument("--concurrency", type=int, default=1, help="restorations running at once (default: 1)")
    parser.add_argument("--queue-size", type=int, default=20, help="jobs waiting at most before new ones are refused")
    return parser.parse_args(argv)


def launch(args: argparse.Namespace, **launch_kwargs) -> gr.Blocks:
    """Build, queue and start the app; extra keyword arguments go to `gr.Blocks.launch`."""
    demo = RestorationDemo(max_pixels=args.max_pixels, concurrency=args.concurrency, extra_models=args.model).build()
    demo.queue(default_concurrency_limit=args.concurrency, max_size=args.queue_size)
    # System fonts: the default theme fetches web fonts, which an offline machine cannot.
    fonts = {"font": ["ui-sans-serif", "system-ui", "sans-serif"], "font_mono": ["ui-monospace", "monospace"]}
    theme = gr.themes.Default(**fonts)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        max_file_size="50mb",
        theme=theme,
        footer_links=["api"],
        **launch_kwargs,
    )
    return demo


if __name__ == "__main__":
    launch(parse_args())

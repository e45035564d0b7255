"""Restore whole collections: many image files (across processes / GPUs with `accelerate`) or a `datasets` dataset.

One plan for every process: the sorted input list, each input's output name, and what is skipped (outputs that
exist, inputs that are outputs of an earlier run). Each process then restores its share of the remaining jobs with
the model loaded once, files decoded ahead and encoded behind in threads while the model runs, and same-size
images optionally batched into one forward. Outputs are written atomically, so a rerun after preemption resumes.

    swinir-hf restore photos/ -o out/ --outscale 3.5 --ext auto
    accelerate launch --num_processes 4 -m swinir_hf.restore photos/ -o out/
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import datasets
    import torch

    from .image_processing_swinir import ImageLayout
    from .restoration import SwinIRRestorer

OUTPUT_FORMATS = ("auto", "png", "jpg", "webp", "tif")
# Formats `--ext auto` keeps (with the input's own suffix); any other input (BMP, GIF, PPM, ...) becomes PNG,
# which is lossless and holds alpha and 16 bits.
_KEPT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class EngineOptions:
    """What `SwinIRRestorer` is built with (see it for the meaning of each field); `model` is a `load_model` spec."""

    model: str = "sr-x4"
    tile: int | str | None = "auto"
    tile_overlap: int = 32
    ensemble: bool = False
    dtype: str = "auto"
    device: str | None = None

    def build(self, device: str | torch.device | None = None, progress: bool = False) -> SwinIRRestorer:
        """Load the model and wrap it; `device` (when `self.device` is None) is where it runs."""
        from .loading import load_model
        from .restoration import SwinIRRestorer

        return SwinIRRestorer(
            load_model(self.model),
            tile=self.tile,
            tile_overlap=self.tile_overlap,
            ensemble=self.ensemble,
            dtype=self.dtype,
            device=self.device or device,
            progress=progress,
        )


@dataclass(frozen=True)
class OutputOptions:
    """How outputs are named, sized and encoded.

    `ext` is "auto" (the input's format: PNG / JPEG / WebP / TIFF kept, lossless WebP stays lossless, others
    become PNG) or one of png, jpg, webp, tif; `outscale` resizes the model output to
    floor(outscale · W + 0.5) × floor(outscale · H + 0.5) of the W × H input (Lanczos, in float, before rounding to
    the output's bit depth); `quality` (1-100) is for JPEG and lossy WebP; `overwrite` replaces existing outputs
    (inputs never).
    """

    ext: str = "png"
    suffix: str = ""
    outscale: float | None = None
    quality: int = 95
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.ext not in OUTPUT_FORMATS:
            raise ValueError(f"ext must be one of {', '.join(OUTPUT_FORMATS)}, got {self.ext!r}")
        if self.outscale is not None and not (math.isfinite(self.outscale) and self.outscale > 0):
            raise ValueError(f"outscale must be a positive number, got {self.outscale}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be in 1..100, got {self.quality}")
        if "/" in self.suffix or "\\" in self.suffix:
            raise ValueError(f"suffix must not contain a path separator, got {self.suffix!r}")


@dataclass(frozen=True)
class Job:
    """One input file and where its restoration goes; `lossless` asks for lossless WebP."""

    src: Path
    dst: Path
    lossless: bool = False


@dataclass
class Plan:
    """The jobs to run and what was set aside: `existing` outputs (skipped), `earlier_outputs` (inputs that are
    outputs of an earlier run into the same folder, not re-processed) and `errors` ((input, message) pairs)."""

    jobs: list[Job]
    existing: list[Path] = field(default_factory=list)
    earlier_outputs: list[Path] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)


def output_size(width: int, height: int, outscale: float) -> tuple[int, int]:
    """(W, H) input pixels → (W', H') = (floor(outscale·W + 0.5), floor(outscale·H + 0.5)), at least 1 each."""
    return max(1, math.floor(outscale * width + 0.5)), max(1, math.floor(outscale * height + 0.5))


def output_path(src: Path, rel: Path, out_dir: Path, output: OutputOptions) -> Path:
    """Where the restoration of `src` (found at `rel` under its input root) is written."""
    if output.ext == "auto":
        suffix = src.suffix if src.suffix.lower() in _KEPT_SUFFIXES else ".png"
    else:
        suffix = "." + output.ext
    return out_dir / rel.parent / f"{rel.stem}{output.suffix}{suffix}"


def plan_jobs(files: list[tuple[Path, Path]], out_dir: str | Path, output: OutputOptions) -> Plan:
    """(resolved input, relative path) pairs (as `collect_inputs` gives) → the `Plan`. Reads no pixels.

    Deterministic for a given file list and output folder, so every process of a distributed run computes
    the same plan. An input is an earlier output when another input maps onto it: the same file, or with a
    `suffix`, the same folder and stem (an earlier run may have used another `ext`).
    """
    out_dir = Path(out_dir)
    targets = [(src, output_path(src, rel, out_dir, output).resolve()) for src, rel in files]
    outputs = {dst for _, dst in targets}
    # With a suffix an earlier run's output is recognised by folder and stem, whatever format it was written in.
    output_stems = {dst.with_suffix("") for _, dst in targets} if output.suffix else set()
    plan = Plan(jobs=[])
    kept = []
    for src, dst in targets:
        if (src in outputs and src != dst) or src.with_suffix("") in output_stems:
            plan.earlier_outputs.append(src)
        else:
            kept.append((src, dst))
    sources = {src for src, _ in kept}  # an earlier output is ours: skipped if it exists, like any output
    by_output: dict[Path, list[Path]] = {}
    for src, dst in kept:
        by_output.setdefault(dst, []).append(src)
    for src, dst in kept:
        if dst in sources:
            plan.errors.append((src, f"output {dst} would overwrite an input: choose another -o or a --suffix"))
        elif len(by_output[dst]) > 1:
            others = ", ".join(str(p) for p in by_output[dst] if p != src)
            plan.errors.append((src, f"output {dst} would also be written from {others}: use --ext auto or a --suffix"))
        elif dst.exists() and not output.overwrite:
            plan.existing.append(dst)
        else:
            lossless = output.ext in ("auto", "webp") and src.suffix.lower() == ".webp" and _is_lossless_webp(src)
            plan.jobs.append(Job(src, dst, lossless))
    return plan


def _is_lossless_webp(path: Path) -> bool:
    from .image_io import is_lossless_webp

    try:
        return is_lossless_webp(path)
    except OSError:
        return False  # unreadable: the read reports it


def resize_float(colour: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float32 → (size[1], size[0], C) float32, Lanczos per channel, neither clamped nor rounded."""
    if colour.shape[1::-1] == tuple(size):
        return colour
    planes = [Image.fromarray(np.ascontiguousarray(colour[..., c], dtype=np.float32)) for c in range(colour.shape[2])]
    return np.stack([np.asarray(p.resize(size, Image.Resampling.LANCZOS)) for p in planes], axis=-1)


def restore_image(
    restorer: SwinIRRestorer, image: Image.Image | np.ndarray, outscale: float | None = None
) -> Image.Image | np.ndarray:
    """`restorer(image)`, resized to `output_size(W, H, outscale)` of the W × H input when `outscale` is given."""
    from .image_processing_swinir import compose_image, split_image

    colour, layout = split_image(image)
    restored = restorer.restore_float(colour)
    if outscale is not None:
        restored = resize_float(restored, output_size(colour.shape[1], colour.shape[0], outscale))
    return compose_image(restored, layout)


# ---------------------------------------------------------------------------------------------------------------
# One process: the pipelined loop.


@dataclass
class _Loaded:
    """A decoded input: `pixel_values` (k, C, H, W) (k = 3 for colour into a grey model, else 1)."""

    job: Job
    pixel_values: torch.Tensor
    channels: int
    layout: ImageLayout
    icc_profile: bytes | None


@dataclass
class Counts:
    """What one process did with its share of the jobs."""

    restored: int = 0
    failed: int = 0


def _load(job: Job, num_channels: int) -> _Loaded:
    from .image_io import read_image
    from .image_processing_swinir import split_image, to_pixel_values

    data = read_image(job.src)
    colour, layout = split_image(data.pixels)
    return _Loaded(job, to_pixel_values(colour, num_channels), colour.shape[-1], layout, data.icc_profile)


def _save(item: _Loaded, reconstruction: torch.Tensor, output: OutputOptions) -> None:
    from .image_io import write_image
    from .image_processing_swinir import compose_image, from_reconstruction

    colour = from_reconstruction(reconstruction, item.channels)
    if output.outscale is not None:
        h, w = item.pixel_values.shape[-2:]
        colour = resize_float(colour, output_size(w, h, output.outscale))
    item.job.dst.parent.mkdir(parents=True, exist_ok=True)
    image = compose_image(colour, item.layout)
    write_image(item.job.dst, image, item.icc_profile, quality=output.quality, lossless=item.job.lossless)


_ERRORS = (ValueError, OSError, RuntimeError, MemoryError)


def _read_ahead(jobs: list[Job], load: Callable[[Job], _Loaded], pool: ThreadPoolExecutor, depth: int):
    """Yield (job, `_Loaded` or the exception reading it raised) in job order, `depth` reads in flight."""
    queue: deque[tuple[Job, Future]] = deque()
    remaining = iter(jobs)
    for job in remaining:
        queue.append((job, pool.submit(load, job)))
        if len(queue) >= depth:
            break
    while queue:
        job, future = queue.popleft()
        nxt = next(remaining, None)
        if nxt is not None:
            queue.append((nxt, pool.submit(load, nxt)))
        try:
            yield job, future.result()
        except _ERRORS as err:
            yield job, err


def run_jobs(
    jobs: list[Job],
    restorer: SwinIRRestorer,
    output: OutputOptions,
    *,
    batch_size: int = 1,
    workers: int = 2,
    progress: bool = False,
    report: Callable[[str], None] | None = None,
) -> Counts:
    """Restore `jobs` in order with one model: `workers` threads decode ahead and encode / write behind the model,
    and up to `batch_size` consecutive inputs of the same size go through one forward pass.

    Every failure is reported (`error: FILE: why`) and counted; the rest go on.
    """
    from tqdm.auto import tqdm

    report = report or (lambda msg: tqdm.write(msg, file=sys.stderr))
    counts = Counts()
    pending: deque[tuple[Job, Future]] = deque()

    def fail(job: Job, err: BaseException) -> None:
        counts.failed += 1
        text = str(err)  # read_image's messages already start with the file
        report(f"error: {text}" if text.startswith(str(job.src)) else f"error: {job.src}: {text}")

    def settle(limit: int) -> None:
        # Bounded: restored images wait in memory only until the writers catch up.
        while len(pending) > limit:
            job, future = pending.popleft()
            try:
                future.result()
                counts.restored += 1
            except _ERRORS as err:
                fail(job, err)
            bar.update()

    def flush(batch: list[_Loaded]) -> None:
        import torch

        try:
            out = restorer.restore_tensor(torch.cat([b.pixel_values for b in batch])).cpu()
        except _ERRORS as err:
            for b in batch:
                fail(b.job, err)
                bar.update()
            return
        start = 0
        for b in batch:
            k = b.pixel_values.shape[0]
            pending.append((b.job, writers.submit(_save, b, out[start : start + k], output)))
            start += k
        settle(2 * workers)

    num_channels = restorer.model.config.num_channels
    with (
        ThreadPoolExecutor(workers, thread_name_prefix="swinir-read") as readers,
        ThreadPoolExecutor(workers, thread_name_prefix="swinir-write") as writers,
        tqdm(total=len(jobs), disable=not progress, unit="image", desc="restore") as bar,
    ):
        batch: list[_Loaded] = []
        for job, loaded in _read_ahead(jobs, lambda j: _load(j, num_channels), readers, workers + batch_size):
            if isinstance(loaded, BaseException):
                fail(job, loaded)
                bar.update()
                continue
            if batch and (len(batch) == batch_size or loaded.pixel_values.shape[1:] != batch[0].pixel_values.shape[1:]):
                flush(batch)
                batch = []
            batch.append(loaded)
        if batch:
            flush(batch)
        settle(0)
    return counts


def sort_by_size(jobs: list[Job]) -> list[Job]:
    """Jobs ordered by stored image size (header only), then path, so that same-size inputs are neighbours."""

    def key(job: Job) -> tuple[int, int, str]:
        try:
            with Image.open(job.src) as im:
                return (*im.size, str(job.src))
        except (OSError, SyntaxError, Image.DecompressionBombError):
            return (0, 0, str(job.src))

    return sorted(jobs, key=key)


# ---------------------------------------------------------------------------------------------------------------
# All processes.


@dataclass
class Summary:
    """A whole run, all processes together; `seconds` is the wall time of the restoring phase."""

    restored: int
    failed: int
    existing: int
    earlier_outputs: int
    seconds: float
    processes: int
    out_dir: Path

    def __str__(self) -> str:
        rate = self.restored / self.seconds if self.seconds > 0 else 0.0
        text = f"restored {self.restored}, failed {self.failed}, skipped {self.existing} existing"
        if self.existing:
            text += " (pass --overwrite to replace them)"
        if self.earlier_outputs:
            text += f", left {self.earlier_outputs} earlier outputs alone"
        return (
            f"{text} → {self.out_dir} in {self.seconds:.1f} s ({rate:.2f} images/s, {self.processes} process"
            f"{'es' if self.processes > 1 else ''})"
        )


def interleave(items: list[Any], n: int) -> list[Any]:
    """Reorder so that `split_between_processes`' contiguous share for process r is items[r::n].

    Neighbours in the plan are alike (size-sorted, or one camera's files), so every process gets a mix.
    `split_between_processes` gives the first len % n processes one item more, as items[r::n] does.
    """
    return [item for r in range(n) for item in items[r::n]]


def process_state(device: str | None = None):
    """This process's `accelerate.PartialState`.

    Several processes without a GPU (`accelerate launch --multi_gpu` / torchrun on a CPU machine, or `--device
    cpu`): accelerate only picks its multi-CPU (gloo) mode when told to use the CPU; else each process would
    think it is alone and restore everything.
    """
    import torch
    from accelerate import PartialState

    several = int(os.environ.get("WORLD_SIZE", "1")) > 1
    on_cpu = not torch.cuda.is_available() or (device is not None and torch.device(device).type == "cpu")
    return PartialState(cpu=several and on_cpu)


def restore_files(
    inputs: Iterable[str],
    out_dir: str | Path,
    engine: EngineOptions,
    output: OutputOptions,
    *,
    recursive: bool = False,
    batch_size: int = 1,
    workers: int = 2,
    progress: bool = True,
) -> Summary:
    """Restore files, folders and globs into `out_dir` on every process of the current `accelerate` launch
    (one process when not launched), each process on its own device, and return the run's `Summary`.

    Inputs that fail to read / restore are reported and counted; outputs that exist are skipped unless
    `output.overwrite`; an input is never overwritten.

    Raises:
        FileNotFoundError, ValueError, CheckpointError, ModelNotAvailableError: nothing could be started.
    """
    from accelerate.utils import gather_object
    from tqdm.auto import tqdm

    from .image_io import collect_inputs

    state = process_state(engine.device)
    files = collect_inputs(inputs, recursive=recursive)
    plan = plan_jobs(files, out_dir, output)
    if state.is_main_process:
        for src, message in plan.errors:
            tqdm.write(f"error: {src}: {message}", file=sys.stderr)
        if plan.earlier_outputs:
            names = ", ".join(p.name for p in plan.earlier_outputs[:3]) + (", ..." * (len(plan.earlier_outputs) > 3))
            print(f"not re-processing {len(plan.earlier_outputs)} earlier outputs ({names})", file=sys.stderr)
    jobs = sort_by_size(plan.jobs) if batch_size > 1 else plan.jobs
    # main_process_first: the main process downloads a Hub model once, and its closing barrier guarantees that
    # every process has planned (looked at which outputs exist) before any process writes one.
    with state.main_process_first():
        restorer = engine.build(state.device)
    start = time.perf_counter()
    with state.split_between_processes(interleave(jobs, state.num_processes)) as mine:
        counts = run_jobs(
            mine,
            restorer,
            output,
            batch_size=batch_size,
            workers=workers,
            progress=progress and state.is_local_main_process,
        )
    everyone = gather_object([counts])
    seconds = time.perf_counter() - start
    return Summary(
        restored=sum(c.restored for c in everyone),
        failed=sum(c.failed for c in everyone) + len(plan.errors),
        existing=len(plan.existing),
        earlier_outputs=len(plan.earlier_outputs),
        seconds=seconds,
        processes=state.num_processes,
        out_dir=Path(out_dir),
    )


# ---------------------------------------------------------------------------------------------------------------
# Datasets.


def load_image_dataset(spec: str, split: str | None = None) -> datasets.Dataset:
    """`imagefolder:DIR`, a `save_to_disk` folder, or a Hub dataset id (split default "train")."""
    from .extras import require

    datasets = require("datasets", "train", "restoring a dataset")

    if spec.startswith("imagefolder:"):
        data_dir = spec.split(":", 1)[1]
        if not Path(data_dir).is_dir():
            raise FileNotFoundError(f"no such imagefolder directory: {data_dir}")
        return datasets.load_dataset("imagefolder", data_dir=data_dir, split=split or "train")
    if Path(spec).is_dir():
        loaded = datasets.load_from_disk(spec)
        if isinstance(loaded, datasets.DatasetDict):
            loaded = loaded[split or "train"]
        return loaded
    try:
        return datasets.load_dataset(spec, split=split or "train")
    except Exception as err:  # datasets raises many kinds (offline, missing, no such split)
        raise FileNotFoundError(f"cannot load dataset {spec!r}: {err}") from err


def restore_dataset(
    dataset: datasets.Dataset,
    restorer: SwinIRRestorer,
    *,
    column: str | None = None,
    output_column: str | None = None,
    outscale: float | None = None,
    model_name: str = "",
) -> datasets.Dataset:
    """A new dataset whose `output_column` (default: `column`, replaced) holds each image of `column` (default:
    the first `datasets.Image` column) restored, via `Dataset.map`; other columns are kept.

    The map's fingerprint comes from the dataset's, `model_name` and the options, so the model is never hashed.
    """
    import datasets
    from datasets.fingerprint import Hasher

    image_columns = [k for k, f in dataset.features.items() if isinstance(f, datasets.Image)]
    column = column or (image_columns[0] if image_columns else None)
    if column not in image_columns:
        raise ValueError(f"{column!r} is not an image column of the dataset (image columns: {image_columns})")
    output_column = output_column or column
    features = dataset.features.copy()
    features[output_column] = datasets.Image()
    options = (restorer.tile, restorer.tile_overlap, restorer.ensemble, restorer.dtype, outscale, output_column)
    fingerprint = Hasher.hash((dataset._fingerprint, model_name, restorer.scale, options))

    def fn(example: dict[str, Any]) -> dict[str, Any]:
        return {output_column: restore_image(restorer, example[column], outscale)}

    return dataset.map(fn, features=features, new_fingerprint=fingerprint, desc="restore")


# ---------------------------------------------------------------------------------------------------------------
# Command line (shared by `swinir-hf restore` and `python -m swinir_hf.restore`).


def _tile(value: str) -> int | str:
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tile must be a number of pixels or 'auto', got {value!r}") from None


def add_restore_arguments(p: argparse.ArgumentParser) -> None:
    """The `restore` options."""
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders, or glob patterns")
    p.add_argument("-o", "--output-dir", required=True, help="folder for the restored images (created if needed)")
    p.add_argument(
        "--model",
        default="sr-x4",
        help="bundled model (sr-x4 [default], sr-x2, denoise-color), model folder, authors' .pth (converted on the "
        "fly), catalogue name or Hub id",
    )
    p.add_argument("--tile", type=_tile, default="auto", help="tile size in input pixels or 'auto' (default)")
    p.add_argument("--tile-overlap", type=int, default=32, help="overlap of neighbouring tiles (default 32)")
    p.add_argument("--ensemble", action="store_true", help="average 8 flips / rotations (SwinIR+, 8x slower)")
    p.add_argument(
        "--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto", help="inference precision"
    )
    p.add_argument(
        "--outscale",
        type=float,
        help="resize the model output to F x the input: floor(F*W+0.5) x floor(F*H+0.5), Lanczos (default: the "
        "model's scale)",
    )
    p.add_argument("--suffix", default="", help="appended to each output file's stem (default: none)")
    p.add_argument(
        "--ext",
        choices=OUTPUT_FORMATS,
        default="png",
        help="output format: auto = the input's (PNG / JPEG / WebP / TIFF kept, lossless WebP stays lossless, "
        "others PNG); default png",
    )
    p.add_argument("--quality", type=int, default=95, help="JPEG / lossy WebP quality 1-100 (default 95)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (default: skip them)")
    p.add_argument("--skip-existing", action="store_true", help=argparse.SUPPRESS)  # the default now; old scripts
    p.add_argument("--recursive", action="store_true", help="descend into sub-folders (and ** in globs)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="up to N same-size images per forward pass (faster for small images / on GPUs; default 1)",
    )
    p.add_argument("--workers", type=int, default=2, help="threads decoding / encoding files (default 2)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: the process's accelerate device)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--dataset",
        help="restore a datasets dataset instead of files: imagefolder:DIR, a save_to_disk folder or a Hub id; "
        "the result is saved with save_to_disk into -o",
    )
    p.add_argument("--split", help="dataset split (default: train)")
    p.add_argument("--column", help="dataset image column (default: the first image column)")
    p.add_argument("--push-to-hub", metavar="REPO", help="also push the restored dataset to this Hub repo")


def run(args: argparse.Namespace) -> int:
    """Run `restore` from parsed `add_restore_arguments` options; the exit status (1 if anything failed)."""
    from .convert import CheckpointError
    from .extras import MissingExtraError
    from .loading import ModelNotAvailableError

    if bool(args.inputs) == bool(args.dataset):
        print("error: give image files / folders / globs, or --dataset, not both", file=sys.stderr)
        return 1
    if args.batch_size < 1 or args.workers < 1:
        print("error: --batch-size and --workers must be at least 1", file=sys.stderr)
        return 1
    try:
        if args.device:  # before anything is loaded: `gpu0` or CUDA on a machine without it
            from .restoration import check_device

            check_device(args.device)
        engine = EngineOptions(args.model, args.tile, args.tile_overlap, args.ensemble, args.dtype, args.device)
        output = OutputOptions(args.ext, args.suffix, args.outscale, args.quality, args.overwrite)
        if args.dataset:
            return _run_dataset(args, engine, output)
        summary = restore_files(
            args.inputs,
            args.output_dir,
            engine,
            output,
            recursive=args.recursive,
            batch_size=args.batch_size,
            workers=args.workers,
            progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError, ModelNotAvailableError, CheckpointError, MissingExtraError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if process_state(args.device).is_main_process:
        print(summary, file=sys.stderr)
    return 1 if summary.failed else 0


def _run_dataset(args: argparse.Namespace, engine: EngineOptions, output: OutputOptions) -> int:
    state = process_state(engine.device)
    if state.num_processes > 1:  # every process would map the whole dataset and write the same folder
        if state.is_main_process:
            print("error: --dataset runs in one process: start it without accelerate launch", file=sys.stderr)
        return 1
    out = Path(args.output_dir)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        print(f"error: {out} exists and is not empty; pass --overwrite to replace it", file=sys.stderr)
        return 1
    dataset = load_image_dataset(args.dataset, args.split)
    restorer = engine.build(state.device)
    start = time.perf_counter()
    restored = restore_dataset(dataset, restorer, column=args.column, outscale=output.outscale, model_name=args.model)
    restored.save_to_disk(out)
    seconds = time.perf_counter() - start
    print(f"restored {len(restored)} images of {args.dataset} → {out} in {seconds:.1f} s", file=sys.stderr)
    if args.push_to_hub:
        restored.push_to_hub(args.push_to_hub)
        print(f"pushed to https://huggingface.co/datasets/{args.push_to_hub}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m swinir_hf.restore` / `accelerate launch -m swinir_hf.restore`."""
    parser = argparse.ArgumentParser(
        prog="python -m swinir_hf.restore", description="Restore image files, folders or globs (or a dataset)."
    )
    add_restore_arguments(parser)
    return run(parser.parse_args(argv))

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
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .jobs import OUTPUT_FORMATS, OutputOptions, plan_jobs, restore_image, run_jobs, sort_by_size
from .restoration import EngineOptions

if TYPE_CHECKING:
    import datasets
    import torch

    from .restoration import SwinIRRestorer


@dataclass(frozen=True)
class ModelEngine(EngineOptions):
    """A model to load (`model`, a `load_model` spec) and how the engine runs it (the `EngineOptions` fields)."""

    model: str = "sr-x4"

    def build(self, device: str | torch.device | None = None, progress: bool = False) -> SwinIRRestorer:
        """Load the model and wrap it; `device` (when `self.device` is None) is where it runs."""
        from ..checkpoints.loading import load_model

        return replace(self, device=self.device or device).restorer(load_model(self.model), progress=progress)


def engine_options(args: argparse.Namespace, **fields: Any) -> EngineOptions:
    """The `EngineOptions` of the command line's `--tile`, `--tile-overlap`, `--ensemble`, `--dtype` and `--device`
    (`fields` override them)."""
    given = dict(tile=args.tile, tile_overlap=args.tile_overlap, ensemble=args.ensemble, dtype=args.dtype)
    return EngineOptions(**{**given, "device": args.device, **fields})


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


def check_output_folder(out_dir: str | Path, option: str = "-o") -> None:
    """Raise ValueError when `out_dir`, or the nearest of its parents that exists, is a file: once, before the
    model loads, rather than one error per input (`option` names the argument to change)."""
    path = Path(out_dir).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        where = "" if existing == path else f" ({existing} is a file)"
        raise ValueError(f"output folder {out_dir} is not a folder{where}: choose another {option}")


def restore_files(
    inputs: Iterable[str],
    out_dir: str | Path,
    engine: ModelEngine,
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
        FileNotFoundError, ValueError, CheckpointError, ModelNotAvailableError: nothing could be started (no
            such input, an output folder that is a file, a bad option or model).
    """
    from accelerate.utils import gather_object
    from tqdm.auto import tqdm

    from .image_io import collect_inputs

    state = process_state(engine.device)
    files = collect_inputs(inputs, recursive=recursive)
    check_output_folder(out_dir)
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
    from ..extras import require

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


def tile_argument(value: str) -> int | str:
    """`--tile`: a number of pixels or "auto"."""
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"tile must be a number of pixels or 'auto', got {value!r}") from None


def add_restore_arguments(p: argparse.ArgumentParser) -> None:
    """The `restore` options."""
    from ..checkpoints.loading import DEFAULT_MODELS

    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders, or glob patterns")
    p.add_argument("-o", "--output-dir", required=True, help="folder for the restored images (created if needed)")
    p.add_argument(
        "--model",
        default="sr-x4",
        help=f"bundled model ({', '.join(DEFAULT_MODELS)}; default sr-x4), model folder, authors' .pth (converted "
        "on the fly), catalogue name or Hub id",
    )
    p.add_argument("--tile", type=tile_argument, default="auto", help="tile size in input pixels or 'auto' (default)")
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
    """Run `restore` from parsed `add_restore_arguments` options; the exit status (1 if anything failed, 130 on
    Ctrl-C)."""
    try:
        if not args.no_progress:
            return _run(args)
        with _library_progress_bars_off(datasets_too=bool(args.dataset)):
            return _run(args)
    except KeyboardInterrupt:
        # Outputs are written atomically, so what exists is complete and a rerun skips it.
        print("interrupted: finished outputs are kept; run the same command again to do the rest", file=sys.stderr)
        return 130


@contextmanager
def _library_progress_bars_off(datasets_too: bool) -> Iterator[None]:
    """No bars from transformers ("Loading weights"), the Hub (downloads) or, `datasets_too`, datasets (`map`)."""
    from transformers.utils import logging as hf_logging

    bars = None  # datasets' progress-bar switches
    if datasets_too:
        try:
            import datasets as bars
        except ImportError:
            pass  # `load_image_dataset` says which extra provides it
    was_on = hf_logging.is_progress_bar_enabled()
    datasets_was_on = bars is not None and not bars.are_progress_bars_disabled()
    hf_logging.disable_progress_bar()  # the Hub's too
    if bars is not None:
        bars.disable_progress_bars()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
        if datasets_was_on:
            bars.enable_progress_bars()


def _run(args: argparse.Namespace) -> int:
    from ..checkpoints.convert import CheckpointError
    from ..checkpoints.loading import ModelNotAvailableError
    from ..extras import MissingExtraError

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
        engine = ModelEngine(**vars(engine_options(args)), model=args.model)
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
    state = process_state(args.device)
    if state.is_main_process:
        print(summary, file=sys.stderr)
    # Torn down before the interpreter exits: a process whose gloo threads are still alive at exit can abort
    # ("terminate called without an active exception"), failing the whole launch.
    state.destroy_process_group()
    return 1 if summary.failed else 0


def _run_dataset(args: argparse.Namespace, engine: ModelEngine, output: OutputOptions) -> int:
    state = process_state(engine.device)
    if state.num_processes > 1:  # every process would map the whole dataset and write the same folder
        if state.is_main_process:
            print("error: --dataset runs in one process: start it without accelerate launch", file=sys.stderr)
        return 1
    out = Path(args.output_dir)
    check_output_folder(out)
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

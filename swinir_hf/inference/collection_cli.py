"""The `restore` command line, shared by `swinir-hf restore` and `python -m swinir_hf.restore` (which
`accelerate launch` runs): its options, and a run of `collection.restore_files` or `collection.restore_dataset`
from them, with one-line errors and exit statuses.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..image_datasets import load_image_dataset
from ..interrupts import finished_before, stopped_by, terminate_as_interrupt
from ..models.image_processing_swinir import ALPHA_MODES
from ..processes import LaunchParser, is_main_process, leave_process_group, process_state, user_error
from .atomic_writes import written_aside
from .collection import ModelEngine, restore_dataset, restore_files
from .engine_cli import add_engine_arguments, engine_options
from .jobs import OUTPUT_FORMATS, OutputOptions
from .output_folders import check_fresh_output_folder, folder_claimed
from .restoration import EngineOptions

if TYPE_CHECKING:
    import datasets

# The options of image files (with their defaults), which a `--dataset` run has no use for: its images are stored
# in the dataset, one at a time. The parser leaves them None, so that one given, even at its default, is refused.
FILE_ONLY_DEFAULTS = {"ext": "png", "suffix": "", "quality": 95, "recursive": False, "batch_size": 1, "workers": 2}
# The options of a `--dataset` run, which files have no use for (a --push-to-hub of files would push nothing).
DATASET_ONLY = ("split", "column", "push_to_hub")


def add_restore_arguments(p: argparse.ArgumentParser) -> None:
    """The `restore` options."""
    from ..checkpoints.loading import DEFAULT_MODELS

    p.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders, or glob patterns")
    # Real-ESRGAN's spellings (-i IN -o OUT -s 3.5 -t 0), which its users type from habit.
    p.add_argument("-i", "--input", action="append", default=[], metavar="INPUT", help="an INPUT (may be repeated)")
    p.add_argument(
        "-o", "--output-dir", required=True, metavar="OUT", help="folder for the restored images (created if needed)"
    )
    p.add_argument(
        "--model",
        default="sr-x4",
        metavar="M",
        help=f"bundled model ({', '.join(DEFAULT_MODELS)}; default sr-x4), model folder, authors' .pth (converted "
        "on the fly), catalogue name or Hub id",
    )
    p.add_argument("--revision", metavar="REV", help="a Hub model's branch, tag or commit (default: its main branch)")
    add_engine_arguments(p, EngineOptions(), device_default="the process's accelerate device")
    p.add_argument(
        "--alpha",
        choices=ALPHA_MODES,
        default="model",
        help="how an upscaling model enlarges an alpha channel: model = through the model as a grey image (sharp "
        "edges, one more pass; default), bicubic = resized",
    )
    _add_output_arguments(p)
    p.add_argument(
        "--recursive",
        action="store_true",
        default=None,
        help="descend into the sub-folders of folder inputs (** in a glob always does)",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        default=None,
        help="up to N same-size images per forward pass (faster for small images / on GPUs; default 1)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help=f"threads decoding / encoding files (default {FILE_ONLY_DEFAULTS['workers']})",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument(
        "--dataset",
        help="restore a datasets dataset instead of files: imagefolder:DIR, a save_to_disk folder or a Hub id; "
        "the result is saved with save_to_disk into -o",
    )
    p.add_argument("--split", help="dataset split (default: train)")
    p.add_argument("--column", help="dataset image column (default: the first image column)")
    p.add_argument("--push-to-hub", metavar="REPO", help="also push the restored dataset to this Hub repo")


def _add_output_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the restored files: size, name, format, quality, and whether existing ones are replaced."""
    p.add_argument(
        "-s",
        "--outscale",
        type=float,
        metavar="F",
        help="resize the model output to F x the input: floor(F*W+0.5) x floor(F*H+0.5), Lanczos (default: the "
        "model's scale)",
    )
    p.add_argument(
        "--suffix",
        default=None,
        metavar="S",
        help="appended to each output file's stem (default: none)",
    )
    p.add_argument(
        "--ext",
        choices=OUTPUT_FORMATS,
        default=None,
        help="output format: auto = the input's (PNG / JPEG / WebP / TIFF kept, lossless WebP stays lossless, "
        "others PNG); default png",
    )
    p.add_argument(
        "--quality",
        type=int,
        default=None,
        metavar="Q",
        help=f"JPEG / lossy WebP quality 1-100 (default {FILE_ONLY_DEFAULTS['quality']})",
    )
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (default: skip them)")
    p.add_argument("--skip-existing", action="store_true", help=argparse.SUPPRESS)  # the default now; old scripts


# The files `Dataset.save_to_disk` writes: what a restored dataset replaces in -o (other files there stay).
DATASET_FILES = ("data-*.arrow", "dataset_info.json", "state.json", "dataset_dict.json")


def run(args: argparse.Namespace) -> int:
    """Run `restore` from parsed `add_restore_arguments` options; the exit status (1 if anything failed, 130 on
    Ctrl-C and 143 on SIGTERM: every process of a launch gets it, only the main process says so)."""
    try:
        with terminate_as_interrupt():
            if not args.no_progress:
                return _run(args)
            from ..checkpoints.folders import library_bars_off

            with library_bars_off(datasets_too=bool(args.dataset)):
                return _run(args)
    except KeyboardInterrupt as stop:
        # Outputs are written atomically, so what exists is complete and a rerun skips it.
        how, status = stopped_by(stop)
        out = args.output_dir
        if is_main_process() and args.dataset and finished_before(stop):
            print(f"{how} once the dataset was in {out} (not pushed)", file=sys.stderr)
        elif is_main_process() and args.dataset:
            print(f"{how}: {out} is as it was (the dataset is saved aside and moved in whole)", file=sys.stderr)
        elif is_main_process():
            print(f"{how}: finished outputs are kept; run the same command again to do the rest", file=sys.stderr)
        return status
    finally:
        leave_process_group()  # on every way out: after a user error and a Ctrl-C too


def _run(args: argparse.Namespace) -> int:
    from ..checkpoints.convert import CheckpointError
    from ..checkpoints.loading import ModelNotAvailableError
    from ..extras import MissingExtraError

    args.inputs = [*args.inputs, *args.input]
    if not args.inputs and not args.dataset:
        return user_error("nothing to restore: give image files, folders or globs (or --dataset)")
    if args.inputs and args.dataset:
        return user_error("give image files / folders / globs, or --dataset, not both")
    if not args.dataset and (options := _given(args, DATASET_ONLY)):
        return user_error(
            f"{options} (for --dataset) would be ignored: image files are restored into -o only; drop "
            f"{_it_or_them(options)}, or give --dataset (imagefolder:DIR for a folder)"
        )
    if args.dataset and (options := _given(args, FILE_ONLY_DEFAULTS)):
        return user_error(
            f"--dataset stores the restored images in the dataset: {options} (for files) would be ignored; "
            f"drop {_it_or_them(options)}"
        )
    for name, default in FILE_ONLY_DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    if args.batch_size < 1 or args.workers < 1:
        return user_error("--batch-size and --workers must be at least 1")
    try:
        if args.device:  # before anything is loaded: `gpu0` or CUDA on a machine without it
            from .devices import check_device

            check_device(args.device)
        engine = ModelEngine(**vars(engine_options(args, alpha=args.alpha)), model=args.model, revision=args.revision)
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
    # OSError: a missing input, or a dataset's save failing ("cannot write OUT: No space left on device"); a file's
    # own write failure is counted in the summary.
    except (ValueError, OSError, ModelNotAvailableError, CheckpointError, MissingExtraError) as err:
        return user_error(str(err))
    state = process_state(args.device)
    if state.is_main_process:
        print(summary, file=sys.stderr)
    return 1 if summary.failed else 0


def _given(args: argparse.Namespace, names: Iterable[str]) -> str:
    """Those of the options `names` (as attributes: "batch_size") given on the command line, as "--batch-size, ...";
    "" for none. Their parser defaults are None, so that one given at its default value counts too."""
    return ", ".join("--" + name.replace("_", "-") for name in names if getattr(args, name) is not None)


def _it_or_them(options: str) -> str:
    return "them" if "," in options else "it"


def _run_dataset(args: argparse.Namespace, engine: ModelEngine, output: OutputOptions) -> int:
    state = process_state(engine.device)
    if state.num_processes > 1:  # every process would map the whole dataset and write the same folder
        return user_error("--dataset runs in one process: start it without accelerate launch")
    out, repo_id = Path(args.output_dir), None
    with folder_claimed(out):  # from the check to the save: a second run into -o is refused, not mixed with this one
        check_fresh_output_folder(out, args.overwrite, replaces="the dataset in it")  # one line from _run
        if args.push_to_hub:  # now, not after restoring the whole dataset
            from ..checkpoints.folders import check_push_access, check_repo_id_given

            check_repo_id_given(args.push_to_hub)
            load_later = f"`datasets.load_from_disk('{out}').push_to_hub('{args.push_to_hub}')`"
            # With its namespace: a bare name goes to the token's user, and the URL said is that repo's.
            repo_id = check_push_access(args.push_to_hub, load_later)
        dataset = load_image_dataset(args.dataset, args.split)
        restorer = engine.build(state.device)
        start = time.perf_counter()
        restored = restore_dataset(
            dataset, restorer, column=args.column, outscale=output.outscale, model_name=args.model
        )
        with written_aside(out, DATASET_FILES) as staging:  # an interrupted save leaves an earlier dataset whole
            restored.save_to_disk(staging)
    seconds = time.perf_counter() - start
    print(f"restored {len(restored)} images of {args.dataset} → {out} in {seconds:.1f} s", file=sys.stderr)
    if repo_id:
        _push_dataset(restored, out, repo_id)
    return 0


def _push_dataset(restored: datasets.Dataset, out: Path, repo_id: str) -> None:
    """Push the restored dataset (saved in `out`) to the Hub dataset repo `repo_id`.

    Raises:
        OSError: the push failed (the Hub gone since the check: its HTTP client's error, not an `OSError`, was a
            traceback), saying that the dataset is saved in `out` and how to push it from there.
    """
    from ..checkpoints.loading import network_errors

    try:
        restored.push_to_hub(repo_id)
    except network_errors() as err:
        later = f"`datasets.load_from_disk('{out}').push_to_hub('{repo_id}')`"
        raise OSError(
            f"pushing {out} to {repo_id} failed ({type(err).__name__}: {err}); the restored dataset is saved there: "
            f"push it once the Hub answers with {later}"
        ) from err
    print(f"pushed to https://huggingface.co/datasets/{repo_id}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """`python -m swinir_hf.restore` / `accelerate launch -m swinir_hf.restore`."""
    parser = LaunchParser(
        prog="python -m swinir_hf.restore", description="Restore image files, folders or globs (or a dataset)."
    )
    add_restore_arguments(parser)
    return run(parser.parse_args(argv))

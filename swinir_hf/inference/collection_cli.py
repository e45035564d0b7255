"""The `restore` command line, shared by `swinir-hf restore` and `python -m swinir_hf.restore` (which
`accelerate launch` runs): its options, and a run of `collection.restore_files` or `collection.restore_dataset`
from them, with one-line errors and exit statuses.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..console import note, reports_progress, shown_name, stdout_gone
from ..interrupts import finished_before, stopped_by, terminate_as_interrupt
from ..library_bars import datasets_bars_off
from ..processes import (
    LaunchParser,
    is_main_process,
    launched_processes,
    leave_process_group,
    main_first,
    on_every_process,
    on_main_process,
    process_state,
    usage_error,
    user_error,
)
from ..progress_lines import library_bars_wanted, progress_as_asked
from ..storage.atomic_writes import written_aside
from ..storage.output_folders import check_fresh_output_folder, folder_claimed
from .engine_cli import engine_options
from .jobs import OutputOptions
from .launcher_precision import refuse_launched_precision
from .restore_arguments import add_restore_arguments, complete_options, usage_problem

if TYPE_CHECKING:
    import datasets

    from .collection import ModelEngine
    from .dataset_restoration import DatasetRestoration

# What a restored dataset in -o was made from (`_record`): a rerun of the same restoration has nothing to do.
RECORD = "restoration.json"
# The files `Dataset.save_to_disk` writes, and the record: what a restored dataset replaces in -o (others stay).
DATASET_FILES = ("data-*.arrow", "dataset_info.json", "state.json", "dataset_dict.json", RECORD)


def run(args: argparse.Namespace) -> int:
    """Run `restore` from parsed `add_restore_arguments` options; the exit status (1 if anything failed, 2 for
    options that cannot go together (`usage_problem`), 130 on Ctrl-C and 143 on SIGTERM: every process of a launch
    gets it, only the main process says so)."""
    try:
        with terminate_as_interrupt(), pillow_pixel_limit(args.max_image_pixels):
            with progress_as_asked(args):
                return _run(args)
    except KeyboardInterrupt as stop:
        # Outputs are written atomically, so what exists is complete and a rerun skips it.
        how, status = stopped_by(stop)
        out = shown_name(args.output_dir)
        if is_main_process() and args.dataset and finished_before(stop):
            print(f"{how} once the dataset was in {out} (not pushed)", file=sys.stderr)
        elif is_main_process() and args.dataset:
            print(f"{how}: {out} is as it was{_parts_kept(Path(args.output_dir))}", file=sys.stderr)
        elif is_main_process():
            print(_interrupted_files(how, getattr(stop, "outputs_written", 0)), file=sys.stderr)
        return status
    finally:
        leave_process_group()  # on every way out: after a user error and a Ctrl-C too


def _interrupted_files(how: str, written: int) -> str:
    """The line of a stopped file restoration whose main process had `written` outputs (`run_jobs`)."""
    if written:
        return f"{how}: finished outputs are kept; run the same command again to do the rest"
    if launched_processes() > 1:  # the others' are not known here
        return f"{how}: any outputs the other processes finished are kept; run the same command again to do the rest"
    return f"{how} before any output was written; run the same command again"


def say_output(path: Path) -> None:
    """Print an output's path on stdout, its line whole (`shown_name`), above a bar being drawn, at once (a pipe
    reads it as it is written); called from the writer threads too: tqdm's lock keeps lines whole. Once the reader
    has gone (`... | head -1`), nothing more is printed and the run goes on, as `console.print_results`."""
    from tqdm.auto import tqdm

    try:
        tqdm.write(shown_name(path), file=sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # not the output's failure: it is written
        stdout_gone()


def _parts_kept(out: Path) -> str:
    """What a stopped `--dataset` run keeps, after "OUT is as it was"."""
    from .dataset_restoration import PARTS_FOLDER

    if any((out / PARTS_FOLDER).glob("part-*.arrow")):
        kept = shown_name(out / PARTS_FOLDER)
        return f"; the images restored so far are kept in {kept}: the same command goes on from there"
    return " (the dataset is saved aside and moved in whole)"


@contextlib.contextmanager
def pillow_pixel_limit(pixels: int | None) -> Iterator[None]:
    """Pillow's decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`: warns over it, refuses over twice it) set to
    `pixels` (0: none; None: left as it is) while open, in this process (every process of a launch parses the
    option); restored after, for a caller of `main` that goes on."""
    if pixels is None:
        yield
        return
    from PIL import Image

    before, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, pixels or None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def _run(args: argparse.Namespace) -> int:
    if problem := usage_problem(args):  # before torch and the model load
        return usage_error(args.prog, problem)
    if (refused := refuse_launched_precision(args)) is not None:
        return refused
    if problem := complete_options(args):
        return user_error(problem)
    from ..checkpoints.convert import CheckpointError
    from ..checkpoints.loading import ModelNotAvailableError
    from ..extras import MissingExtraError
    from .collection import ModelEngine, restore_files

    try:
        # Before anything is loaded: `gpu0`, CUDA on a machine without it, float16 on a device without CUDA.
        from .devices import check_device, check_dtype

        check_dtype(args.dtype, check_device(args.device) if args.device else process_state().device)
        model = {"model": args.model, "revision": args.revision, "weights_key": args.weights_key}
        engine = ModelEngine(**vars(engine_options(args, alpha=args.alpha)), **model)
        output = OutputOptions(args.ext, args.suffix, args.outscale, args.quality, args.overwrite)
        if args.dataset:
            return _run_dataset(args, engine)
        summary = restore_files(
            args.inputs,
            args.output_dir,
            engine,
            output,
            recursive=args.recursive,
            batch_size=args.batch_size,
            workers=args.workers,
            progress=reports_progress(args),
            listed=args.files,
            on_output=say_output,
        )
    # OSError: a missing input, or a dataset's save failing ("cannot write OUT: No space left on device"); a file's
    # own write failure is counted in the summary.
    except (ValueError, OSError, ModelNotAvailableError, CheckpointError, MissingExtraError) as err:
        return user_error(str(err))
    state = process_state(args.device)
    if state.is_main_process:
        note(str(summary))
    return 1 if summary.failed else 0


def _run_dataset(args: argparse.Namespace, engine: ModelEngine) -> int:
    """`restore --dataset` on every process of the launch: the main process checks -o and holds it, every process
    restores its share of the parts into -o/PARTS_FOLDER (the dataset and model loaded by the main process first),
    and the main process saves them as one dataset (and pushes it). datasets' bars ("Generating train split",
    "Saving the dataset") are drawn where transformers' loading bar is (`library_bars_wanted`): not into a log."""
    state = process_state(engine.device)
    bars = library_bars_wanted(reports_progress(args) and state.is_local_main_process)
    with datasets_bars_off(not bars):
        return _restore_dataset(args, engine, state, bars)


def _restore_dataset(args: argparse.Namespace, engine: ModelEngine, state: Any, bars: bool) -> int:
    """`_run_dataset` on this process of the launch (`state`), with the libraries' bars as `bars` says."""
    from .collection import build_main_first
    from .dataset_restoration import PARTS_FOLDER
    from .dataset_values import rows_without_image

    main, processes = state.is_main_process, state.num_processes
    out = Path(args.output_dir)
    with contextlib.ExitStack() as claim:
        # From the check to the save: a second run into -o is refused, not mixed with this one.
        repo_id = on_main_process(lambda: _claim_output(args, out, claim), main, processes)
        dataset = main_first(lambda: _load_dataset(args), state)
        restorer = build_main_first(engine, state, bars=bars)
        start = time.perf_counter()
        restoration = _planned(args, dataset, restorer, out / PARTS_FOLDER)
        if not args.overwrite and on_every_process(lambda: _restored_before(args, out, restoration), processes):
            return _nothing_to_do(args, out, repo_id) if main else 0
        earlier = _restored_parts(args, restoration, state)
        if not main:
            return 0
        with written_aside(out, DATASET_FILES) as staging:  # an interrupted save leaves an earlier dataset whole
            restoration.assemble().save_to_disk(staging)
            (staging / RECORD).write_text(json.dumps(_record(args, restoration), indent=2) + "\n")
        restored = _saved_dataset(out, out / PARTS_FOLDER)
    seconds = time.perf_counter() - start
    empty = rows_without_image(restored, restoration.output_column)
    # Images, not rows; but which rows an interrupted run had restored is not known here: then rows are counted.
    done, kind = len(restored) - earlier, "row"
    if not (earlier and empty):
        done, kind = done - len(empty), "image"
    made = f"{shown_name(args.dataset)} → {shown_name(out)}"
    now = f"restored {done} {kind}{'s' * (done != 1)} of {made} in {seconds:.1f} s"
    note(now + (f" ({len(restored)} with the interrupted run's)" if earlier else ""))
    if empty:
        note(_without_image(empty, len(restored), restoration.column))
    if repo_id:
        _push_dataset(restored, out, repo_id)
    return 0


def _without_image(empty: list[int], rows: int, column: str) -> str:
    """The warning of the rows `empty` (of `rows`) that had no image in `column` to restore, naming the first few."""
    from .collection import first_few

    named = first_few(empty, limit=5)
    return (
        f"warning: {len(empty)} of {rows} rows had no image in column {column!r} (row{'s' * (len(empty) > 1)} "
        f"{named}): kept, with no restored image (None)"
    )


def _claim_output(args: argparse.Namespace, out: Path, claim: contextlib.ExitStack) -> str | None:
    """Hold -o in `claim` and check that the dataset may be written there (and pushed: → the Hub repo's id)."""
    from .dataset_restoration import PARTS_FOLDER

    claim.enter_context(folder_claimed(out))
    if args.overwrite or _read_record(out) is None:  # else: `_restored_before` decides, once the work is planned
        # One line from _run; the parts of a stopped run into -o are taken up, not in the way.
        check_fresh_output_folder(out, args.overwrite, replaces="the dataset in it", resumes=PARTS_FOLDER)
    if not args.push_to_hub:
        return None
    from ..checkpoints.repo_names import check_push_access, check_repo_id_given

    check_repo_id_given(args.push_to_hub)  # now, not after restoring the whole dataset
    load_later = _push_later(out, args.push_to_hub)
    # With its namespace: a bare name goes to the token's user, and the URL said is that repo's.
    return check_push_access(args.push_to_hub, load_later)


def _load_dataset(args: argparse.Namespace) -> datasets.Dataset | datasets.IterableDataset:
    from ..image_datasets import NoSuchSplitError, load_image_dataset

    try:
        dataset = load_image_dataset(args.dataset, args.split, streaming=bool(args.streaming))
    except NoSuchSplitError as err:
        raise ValueError(f"{err}: choose one with --split") from None
    if hasattr(dataset, "__len__") and not len(dataset):
        raise ValueError(f"{shown_name(args.dataset)} has no rows: nothing to restore")
    return dataset


def _planned(
    args: argparse.Namespace, dataset: datasets.Dataset | datasets.IterableDataset, restorer: Any, parts: Path
) -> DatasetRestoration:
    """The dataset's restoration as the options ask, in parts written into `parts`; nothing done yet."""
    from ..image_datasets import files_under
    from .dataset_restoration import plan_restoration

    restoration = plan_restoration(
        dataset,
        restorer,
        column=args.column,
        output_column=args.output_column,
        outscale=args.outscale,
        model_name=args.model,
        parts_dir=parts,
        batch_size=args.batch_size,
    )
    restoration.files_under = files_under(args.dataset)
    return restoration


def _record(args: argparse.Namespace, restoration: DatasetRestoration) -> dict[str, Any]:
    """What the dataset saved in -o was restored from: the command's dataset and model, and the restoration's
    identity (null for a stream)."""
    return {"dataset": args.dataset, "split": args.split, "model": args.model, "identity": restoration.identity}


def _read_record(out: Path) -> dict[str, Any] | None:
    """The record of the dataset restored in `out`, or None (none there, or unreadable)."""
    try:
        record = json.loads((out / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _restored_before(args: argparse.Namespace, out: Path, restoration: DatasetRestoration) -> bool:
    """Whether `out` holds this very restoration, finished (a rerun of the command).

    Raises:
        ValueError: `out` holds another restoration's dataset (or one made from a stream, which cannot be matched
            before it is read again).
    """
    record = _read_record(out)
    if record is None:  # `_claim_output` found `out` empty, or the run replaces what it holds
        return False
    if restoration.identity is not None and record.get("identity") == restoration.identity:
        return True
    made = f"{shown_name(out)} holds {shown_name(record.get('dataset'))} restored by {shown_name(record.get('model'))}"
    if restoration.identity is None or record.get("identity") is None:
        why = "a stream cannot be matched with it before it is read again"
    else:
        why = "another dataset, model or options than these"
    raise ValueError(f"{made} ({why}): pass --overwrite to replace the dataset in it, or choose another -o")


def _nothing_to_do(args: argparse.Namespace, out: Path, repo_id: str | None) -> int:
    """Say that `out` holds the dataset restored already (and push it, if asked): exit status 0."""
    import datasets

    restored = datasets.load_from_disk(str(out))
    note(
        f"{shown_name(out)} holds {shown_name(args.dataset)} restored already, by this model with these options "
        f"({len(restored)} images): nothing to do (--overwrite restores it again)"
    )
    if repo_id:
        _push_dataset(restored, out, repo_id)
    return 0


def _restored_parts(args: argparse.Namespace, restoration: DatasetRestoration, state: Any) -> int:
    """`restoration`'s parts restored, each process of `state` its share (every n-th part), the main process having
    made their folder ready first; every process has finished its share when this returns. → the rows an
    interrupted run had restored (on the main process; 0 on the others)."""
    main, processes = state.is_main_process, state.num_processes
    earlier = on_main_process(restoration.prepare, main, processes) or 0
    share = (state.process_index, processes)
    progress = reports_progress(args) and state.is_local_main_process
    on_every_process(lambda: restoration.restore(share, progress), processes)
    return earlier


def _saved_dataset(out: Path, parts: Path) -> datasets.Dataset:
    """The dataset just saved in `out`, read from there, once the parts it was made of (`parts`) are removed."""
    import datasets

    shutil.rmtree(parts, ignore_errors=True)  # ignored: a part still mapped on Windows; the next run removes it
    return datasets.load_from_disk(str(out))


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
        later = _push_later(out, repo_id)
        raise OSError(
            f"pushing {shown_name(out)} to {repo_id} failed ({type(err).__name__}: {err}); the restored dataset is "
            f"saved there: push it once the Hub answers with {later}"
        ) from err
    note(f"pushed to https://huggingface.co/datasets/{repo_id}")


def _push_later(out: Path, repo_id: str) -> str:
    """The Python call that pushes the dataset saved in `out` to `repo_id`, to paste: the folder as a Python string
    (`repr`: its quotes and backslashes, a Windows path's, escaped too, and its line breaks, as `shown_name` does)."""
    return f"`datasets.load_from_disk({str(out)!r}).push_to_hub({repo_id!r})`"


def main(argv: list[str] | None = None) -> int:
    """`python -m swinir_hf.restore` / `accelerate launch -m swinir_hf.restore`."""
    parser = LaunchParser(
        prog="python -m swinir_hf.restore", description="Restore image files, folders or globs (or a dataset)."
    )
    add_restore_arguments(parser)
    parser.set_defaults(prog=parser.prog)
    return run(parser.parse_args(argv))

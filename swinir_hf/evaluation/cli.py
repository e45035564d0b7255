"""The `eval` command line, shared by `swinir-hf eval` and `python -m swinir_hf.evaluate` (which `accelerate launch`
runs): its options, and a run of `benchmark.evaluate_models` from them, with one-line errors and exit statuses.

Under a launch, process k of n scores the images k, k + n, ... of the set on its own device, and the main process
prints the whole set's table (and writes its JSON), the same as one process gives.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ..checkpoints.weight_keys import weights_key_problem
from ..console import StdoutUnwritable, note, print_results, reports_progress, shown_name, warnings_once
from ..degradations.levels import options_problem
from ..inference.engine_cli import engine_options
from ..inference.launcher_precision import refuse_launched_precision
from ..inference.options import EngineOptions
from ..interrupts import stopped_by, terminate_as_interrupt
from ..library_bars import datasets_bars_off
from ..processes import (
    LaunchParser,
    is_main_process,
    leave_process_group,
    main_first,
    on_every_process,
    process_state,
    typed_command,
    usage_error,
    user_error,
)
from ..progress_lines import library_bars_wanted, progress_as_asked
from ..storage.atomic_writes import write_text_file
from ..storage.output_folders import check_fresh_output_folder, check_writable_folder, folder_claimed
from .dataset_checks import (
    columns_problem,
    lr_dir_problem,
    several_sets_problem,
    split_option_problem,
    unloadable_hub_set,
)
from .eval_arguments import add_eval_arguments, dataset_columns
from .model_levels import trained_levels
from .protocol import benchmark_name
from .saved_outputs import MANIFEST, has_manifest, set_folder

if TYPE_CHECKING:
    from accelerate import PartialState

    from ..models.modeling_swinir import SwinIRForImageRestoration
    from .results import Evaluation


# What --overwrite does in a --save-images folder holding no evaluation's record (`MANIFEST`): an earlier version's
# outputs, or other files, are not known as an evaluation's, so only those this one saves over are replaced.
_REPLACES = (
    f"the images this evaluation saves (it holds no {MANIFEST}, eval's record of the outputs it saved: an earlier "
    "version's or other files, which stay where this evaluation saves none)"
)

# `--json -`: the figures on stdout, for a program to read, and the tables on stderr.
JSON_TO_STDOUT = "-"


def output_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with `--revision` (no Hub model to apply it to) or with `--json` / `--save-images` as a place to
    write, checked before the evaluation, not after it; else None."""
    if args.revision is not None and not any(_is_hub_model(spec) for spec in args.model):
        return f"--revision {args.revision} is for a Hub model (org/name), and none of --model is one"
    if problem := weights_key_problem(args.weights_key, args.model, "none of --model is one"):
        return problem
    try:
        if args.save_images:
            # One holding an evaluation's outputs is resumed if they are this one's (`_open_saved`), else refused.
            for folder in (_save_folder(args, dataset) for dataset in args.dataset):
                resumable = has_manifest(folder)
                check_fresh_output_folder(folder, args.overwrite or resumable, "--save-images", _REPLACES)
            check_writable_folder(args.save_images, "--save-images")
        if not args.json or args.json == JSON_TO_STDOUT:
            return None
        target = Path(args.json)
        if target.is_dir():  # --overwrite replaces a file, never a folder
            return f"--json {shown_name(args.json)} is a folder; give a file name in it"
        if (target.exists() or target.is_symlink()) and not args.overwrite:  # a symlink to nothing too
            return f"{shown_name(args.json)} exists; pass --overwrite to replace it"
        if not target.resolve().parent.is_dir():
            return f"--json {shown_name(args.json)}: folder {shown_name(target.parent)} does not exist; create it"
        check_writable_folder(target.resolve().parent, "--json")
    except ValueError as err:
        return str(err)
    return None


def run(args: argparse.Namespace) -> int:
    """Run `eval` from parsed `add_eval_arguments` options; the exit status (1 for a user error, 2 for options that
    cannot go together or a level out of range, 130 on Ctrl-C, 143 on SIGTERM; only the main process of a launch
    says any)."""
    try:
        with terminate_as_interrupt(), progress_as_asked(args):
            return _run(args)
    except KeyboardInterrupt as stop:  # the figures come at the end; images saved so far are whole (written atomically)
        how, status = stopped_by(stop)
        if is_main_process():
            said = "no table or --json written"
            if len(args.dataset) > 1:
                said = "no --json written (the tables above are of the sets done)"
            print(f"{how}: {said}{_saved_so_far(args.save_images, args.overwrite)}", file=sys.stderr)
        return status
    finally:
        leave_process_group()  # on every way out of a launched process


def _saved_so_far(folder: str | None, overwrite: bool) -> str:
    """What an interrupted evaluation says of the images it saved into --save-images `folder` (None: none); with
    `overwrite` given, the rerun that reuses them is the command without it (with it, they are removed again)."""
    if not (folder and any(p.is_file() for p in Path(folder).rglob("*.png"))):
        return ""
    marked = any(Path(folder).rglob(MANIFEST))  # DIR's own, or each set's DIR/SET's
    same = "the same command without --overwrite" if overwrite else "the same command again"
    rerun = f"{same} reuses them" if marked else "a rerun needs --overwrite"
    return f"; the images saved so far are in {shown_name(folder)} ({rerun})"


def _run(args: argparse.Namespace) -> int:
    """`run` in --save-images held by the main process (the launch's other processes write their shares into it):
    a second evaluation saving there meanwhile is refused, not mixing its images with these."""
    with ExitStack() as claims:
        if args.save_images and is_main_process():
            try:
                claims.enter_context(folder_claimed(args.save_images, "--save-images"))
            except ValueError as err:
                return user_error(str(err))
        return _evaluate(args)


def _evaluate(args: argparse.Namespace) -> int:
    from ..image_datasets import missing_folder, read_with_datasets

    # A mistyped --dataset or --lr-dir said before the models load (a Hub model would be downloaded first); with a
    # local --dataset before torch loads too (a name that could be a Hub dataset's is told apart with it).
    if (
        problem := several_sets_problem(args)
        or split_option_problem(args)
        or options_problem(args.scale, args.noise, args.jpeg)
    ):
        return usage_error(args.prog, problem)
    if (refused := refuse_launched_precision(args)) is not None:
        return refused
    if problem := next(filter(None, map(missing_folder, args.dataset)), None):
        return user_error(problem)
    # datasets' bars ("Generating train split") where transformers' loading bar is drawn (`library_bars_wanted`):
    # not into a log. datasets is imported for it only where a set is read with it.
    shown = library_bars_wanted(reports_progress(args) and is_main_process())
    # A model's "scored on ... inputs" once per command, not per set and per resolving of the setting.
    with datasets_bars_off(not shown and any(map(read_with_datasets, args.dataset))), warnings_once():
        return _evaluate_sets(args)


def _evaluate_sets(args: argparse.Namespace) -> int:
    """`_evaluate` once the options go together and the sets exist: the sets and models checked, loaded, scored;
    the exit status."""
    problem = lr_dir_problem(args) or columns_problem(args) or unloadable_hub_set(args) or output_problem(args)
    if problem:
        return user_error(problem)
    from ..checkpoints.convert import CheckpointError
    from ..checkpoints.loading import ModelNotAvailableError
    from ..extras import MissingExtraError

    try:
        from ..inference.devices import check_device, check_dtype

        # Before any model loads: `gpu0`, CUDA on a machine without it, float16 on a device without CUDA.
        device = check_device(args.device) if args.device else None
        state = process_state(args.device)
        check_dtype(args.dtype, device or state.device)
        # Every model loaded first (a bad one is reported before any scoring): the set is read, and each image
        # degraded and scored as the baseline, once for all of them. The main process first: it downloads a Hub
        # model once for all.
        bars = library_bars_wanted(state.is_main_process)
        load = partial(_load_models, args.model, args.revision, args.weights_key, bars)
        models = main_first(load, state)
        engine = engine_options(args, device=args.device or str(state.device))
    except (ValueError, OSError, ModelNotAvailableError, CheckpointError, MissingExtraError) as err:
        return user_error(str(err))
    said = trained_levels(args)
    if said and state.is_main_process:
        note(said)
    reports, unprinted = [], None
    for dataset in args.dataset:  # each set's table as it ends
        try:
            report = _evaluate_set(_one_set(args, dataset), models, engine, state)
        except (ValueError, OSError, MissingExtraError) as err:  # OSError: a missing set, or a full disk
            return user_error(str(err))
        except MemoryError as err:  # numpy's "Unable to allocate ..." or the engine's ImageTooLargeError
            return user_error(f"not enough memory to evaluate {dataset}: {err or 'an allocation failed'}")
        if report is not None:
            report.command = args.typed_command  # (the processes' shares are combined without it)
            unprinted = unprinted or _print_table(report.to_markdown(verbose=args.verbose), args.json)
            reports.append(report.to_dict())
    if args.json and state.is_main_process:
        figures = reports[0] if len(reports) == 1 else reports
        if args.json == JSON_TO_STDOUT:
            unprinted = unprinted or _printed(json.dumps(figures, indent=2))
            return user_error(str(unprinted)) if unprinted else 0
        try:
            # Not replacing a file another run wrote there meanwhile (checked before the evaluation).
            write_text_file(args.json, json.dumps(figures, indent=2) + "\n", replace=args.overwrite)
        except OSError as err:  # the disk filled up during the evaluation
            return user_error(str(err))
    return user_error(str(unprinted)) if unprinted else 0


def _print_table(table: str, json_target: str | None) -> StdoutUnwritable | None:
    """Print a set's table as it ends: on stdout, or on stderr (a note: not `--quiet`) where `--json -` has stdout
    for the figures alone, which a program reads. → the error of a stdout that could not be written, if any."""
    if json_target == JSON_TO_STDOUT:
        note(table)
        return None
    return _printed(table)


def _printed(text: str) -> StdoutUnwritable | None:
    """Print `text` on stdout; → its error where it could not be written (the sets left and --json still wanted)."""
    try:
        print_results(text)
    except StdoutUnwritable as err:
        return err
    return None


def _evaluate_set(
    args: argparse.Namespace,
    models: list[tuple[str, SwinIRForImageRestoration | None]],
    engine: EngineOptions,
    state: PartialState,
) -> Evaluation | None:
    """The evaluation of one set (`args.dataset`, `args.save_images` its own: `_one_set`) over the launch's
    processes, each scoring its share: the whole set's on the main process, None on the others."""
    from .results import combine_shares

    shard = (state.process_index, state.num_processes)
    reuse = args.save_images is not None and main_first(partial(_open_saved, args, models, engine), state)
    share = on_every_process(partial(_score_share, args, models, engine, shard, reuse), state.num_processes)
    if state.num_processes == 1:
        return share
    from accelerate.utils import gather_object

    shares = gather_object([share])
    return combine_shares(shares) if state.is_main_process else None


def _one_set(args: argparse.Namespace, dataset: str) -> argparse.Namespace:
    """The options of one set's evaluation among `--dataset`'s: that set, and its outputs' folder (`_save_folder`)."""
    return argparse.Namespace(**{**vars(args), "dataset": dataset, "save_images": _save_folder(args, dataset)})


def _save_folder(args: argparse.Namespace, dataset: str) -> str | None:
    """Where one set's outputs go: --save-images, or, of several sets, --save-images/SET (resumed each on its own;
    SET the set's name as its table's caption gives it, as one path component: `saved_outputs.set_folder`)."""
    if len(args.dataset) == 1 or args.save_images is None:
        return args.save_images
    return str(set_folder(args.save_images, benchmark_name(dataset)))


def _load_models(
    specs: list[str], revision: str | None, weights_key: str | None, bars: bool
) -> list[tuple[str, SwinIRForImageRestoration | None]]:
    """(row name, model) of each `--model` (the identity: None), the Hub ones at `revision`, the checkpoint files'
    weights at `weights_key`; transformers' loading bars only where `bars`."""
    from ..checkpoints.loading import load_model
    from ..library_bars import transformers_bars_off

    # A local folder by its own name, a link by the link's (`--model .` / `..` named none: their images went to
    # --save-images/ itself or its parent).
    names = [Path(os.path.abspath(spec)).name if Path(spec).exists() else Path(spec).name for spec in specs]
    # Two folders of one name (step-00000006 of two runs) are told apart by their paths, as given.
    labels = [name if names.count(name) == 1 else spec for name, spec in zip(names, specs, strict=True)]
    with transformers_bars_off(when=not bars):
        models = []
        for spec, label in zip(specs, labels, strict=True):
            at = revision if _is_hub_model(spec) else None
            key = weights_key if Path(spec).is_file() else None
            model = None if spec == "identity" else load_model(spec, revision=at, weights_key=key)
            models.append((label if at is None else f"{label}@{at}", model))
        return models


def _is_hub_model(spec: str) -> bool:
    """Whether `--model spec` names a Hub model (a catalogue name or org/name), not a local one or the identity."""
    from ..checkpoints.loading import resolve_spec

    return spec != "identity" and not isinstance(resolve_spec(spec), Path)


def _open_saved(
    args: argparse.Namespace, models: list[tuple[str, SwinIRForImageRestoration | None]], engine: EngineOptions
) -> bool:
    """Mark --save-images as this evaluation's (the main process first), or find it marked so: whether its outputs
    are reused. A ValueError says it holds another evaluation's."""
    from .benchmark import scored_setting
    from .saved_outputs import evaluation_settings, open_saved_outputs

    setting = scored_setting(models, args.scale, args.noise, args.jpeg, args.real, args.grey_convention)
    lr_dir = None if args.lr_dir is None else os.path.abspath(args.lr_dir)
    benchmark = {"lr_dir": lr_dir, "split": args.split, **dataset_columns(args), **setting}
    settings = evaluation_settings(models, args.dataset, benchmark, engine)
    return open_saved_outputs(args.save_images, settings, args.overwrite).reuse


def _score_share(
    args: argparse.Namespace,
    models: list[tuple[str, SwinIRForImageRestoration | None]],
    engine: EngineOptions,
    shard: tuple[int, int],
    reuse: bool = False,
) -> Evaluation:
    """This process's share (`shard` (k, n): images k, k + n, ...) of the evaluation the options ask for, reusing
    the outputs found in --save-images when `reuse`; the progress bar on the main process only."""
    from .benchmark import evaluate_models

    return evaluate_models(
        models,
        args.dataset,
        scale=args.scale,
        noise=args.noise,
        jpeg=args.jpeg,
        real=args.real,
        lr_dir=args.lr_dir,
        grey_convention=args.grey_convention,
        split=args.split,
        **dataset_columns(args),
        progress=shard[0] == 0 and reports_progress(args),
        engine=engine,
        shard=shard,
        save_dir=args.save_images,
        reuse_saved=reuse,
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m swinir_hf.evaluate` / `accelerate launch -m swinir_hf.evaluate`."""
    parser = LaunchParser(
        prog="python -m swinir_hf.evaluate", description="Score models on a benchmark with the paper's protocol."
    )
    add_eval_arguments(parser)
    parser.set_defaults(prog=parser.prog)
    args = parser.parse_args(argv)
    args.typed_command = typed_command(sys.argv[1:] if argv is None else argv, parser.prog)
    status = run(args)
    sys.stdout.flush()
    return status

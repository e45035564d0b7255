"""What is wrong with the sets an `eval` names and the options of their inputs, said before any set is scored:
several `--dataset`s with `--lr-dir` or sharing a `--save-images` folder, `--split` for a set without splits, a
missing `--lr-dir`, `--column` / `--lr-column`, a Hub set that cannot load offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..console import shown_name
from ..image_datasets import split_problem
from ..storage.paths import folds_case, portable_name
from .protocol import benchmark_name
from .saved_outputs import first_twin, saved_as_one


def several_sets_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with several `--dataset`s together with the other options (a usage error); else None."""
    if len(args.dataset) == 1:
        return None
    if args.lr_dir is not None:
        return "--lr-dir holds one set's inputs: give one --dataset with it"
    if args.save_images is None:
        return None
    names = [benchmark_name(dataset) for dataset in args.dataset]
    folded = folds_case(Path(args.save_images).resolve())  # "Set5" and "set5": one folder on macOS' and Windows'
    if (twins := first_twin(names, lambda name: saved_as_one(name, folded))) is None:
        return None
    twin, name = twins
    alike = shown_name(name if twin == name else f"{twin} and {name}")
    return f"two sets named {alike} would share --save-images/{shown_name(portable_name(twin))}: evaluate them apart"


def split_option_problem(args: argparse.Namespace) -> str | None:
    """`--split` with a `save_to_disk` folder of one Dataset among the sets, which has no splits to choose from
    (`image_datasets.split_problem`: as `restore` refuses it); else None."""
    problem = next(filter(None, (split_problem(dataset, args.split) for dataset in args.dataset)), None)
    if problem is None or len(args.dataset) == 1:
        return problem
    return f"{problem}, or evaluate that set apart"  # the other sets may need it


def unloadable_hub_set(args: argparse.Namespace) -> str | None:
    """Why a Hub dataset among several sets cannot be loaded while HF_HUB_OFFLINE is set (not in the cache), found
    before any set is scored: else the sets before it were scored, then the run failed without its --json; None if
    they all load. (Online, loading is the download: left to its turn.)"""
    from huggingface_hub import constants

    from ..image_datasets import is_hub_dataset_id, load_image_dataset

    if len(args.dataset) == 1 or not constants.HF_HUB_OFFLINE:  # one set: its load says it, at once
        return None
    for spec in (s for s in args.dataset if is_hub_dataset_id(s) and not Path(s).exists()):
        try:
            load_image_dataset(spec, args.split, default_split="test")
        except (FileNotFoundError, ValueError) as err:
            return str(err)
    return None


def columns_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with `--column` / `--lr-column` for a `--dataset` (`testsets.columns_problem`), before loading."""
    from .testsets import columns_problem

    found = (columns_problem(dataset, args.lr_dir, args.column, args.lr_column) for dataset in args.dataset)
    return next(filter(None, found), None)


def lr_dir_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with an `--lr-dir` (or `--lr-column`): no folder (as `testsets.load_samples` says it, after the
    models load), or given with --real, whose degradation it replaces (the report recorded one never applied)."""
    given = "--lr-dir" if args.lr_dir is not None else "--lr-column" if args.lr_column is not None else None
    if given == "--lr-dir" and not Path(args.lr_dir).is_dir():
        return f"no such LR folder: {shown_name(args.lr_dir)}"
    if given and args.real:
        return f"{given} gives the inputs, which --real would make: the real-world degradation would not be applied"
    return None

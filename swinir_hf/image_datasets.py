"""`datasets` datasets of images, as a command or config names them: `imagefolder:DIR`, a folder written by
`save_to_disk`, or a Hub dataset id, told apart from local paths and loaded offline at once where the Hub is out of
reach. Restoring a dataset, benchmarks and training data all read through here."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .console import shown_name

if TYPE_CHECKING:
    import datasets


def source_location(source: str) -> str:
    """A source as a resumed run compares it with the one it was started with: a local folder by where it is (its
    real path: relative or absolute, through a link or not), anything else (a Hub id) as written."""
    return os.path.realpath(source) if os.path.exists(source) else source


def is_saved_dataset(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder written by `datasets`' `save_to_disk` (of a `Dataset` or a `DatasetDict`)."""
    path = Path(path)
    dataset_files = (path / "state.json").is_file() and (path / "dataset_info.json").is_file()
    return dataset_files or is_saved_dataset_dict(path)


def read_with_datasets(spec: str | os.PathLike) -> bool:
    """Whether a dataset `spec` is read with `datasets` (`imagefolder:DIR`, a `save_to_disk` folder, a Hub dataset),
    not as a plain folder of images."""
    return not Path(spec).is_dir() or is_saved_dataset(spec)


def is_saved_dataset_dict(path: str | os.PathLike) -> bool:
    """Whether `path` is a `save_to_disk` folder of a `DatasetDict` (one folder per split)."""
    return (Path(path) / "dataset_dict.json").is_file()


# The sub-folder names `datasets`' imagefolder reads as each split (its `SPLIT_KEYWORDS`), held here so that plain
# folders are read without importing `datasets`.
SPLIT_FOLDER_NAMES = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "dev", "val"),
    "test": ("test", "testing", "eval", "evaluation"),
}


def split_folder(folder: str | os.PathLike, split: str) -> Path:
    """The folder holding the images of `split` in a local `folder`: where `folder` is divided into splits — a
    `save_to_disk` DatasetDict, or a training and a validation sub-folder named as imagefolder names splits
    (`train/` or `training/`, and `validation/`, `valid/`, `val/` or `dev/`; a `test/` beside them is a split too) —
    that split's sub-folder, else `folder` itself (all one split: `cats/` and `test/`, or `train/` and `test/` as
    BSD500 comes, are all training images).

    Raises:
        ValueError: `folder` is divided into splits, and `split` is not one of them.
    """
    folder = Path(folder)
    if is_saved_dataset_dict(folder):
        return folder / split  # save_to_disk writes each split of a DatasetDict into the folder of its name
    subfolders = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else {}
    splits = {name: [subfolders[k] for k in keys if k in subfolders] for name, keys in SPLIT_FOLDER_NAMES.items()}
    if not (splits["train"] and splits["validation"]):
        return folder
    found = splits.get(split) or [subfolders[k] for k in (split.lower(),) if k in subfolders]
    if len(found) != 1:
        held = ", ".join(shown_name(p.name) for p in sorted(sum(splits.values(), [])))
        raise ValueError(
            f"{shown_name(folder)} is divided into splits ({held}) and "
            + (f"has no '{split}' split" if not found else f"has several folders of split '{split}'")
        )
    return found[0]


def local_dataset_folder(spec: str) -> Path | None:
    """The local folder a dataset `spec` reads (`imagefolder:DIR`, a `save_to_disk` folder), or None (none there: a
    Hub dataset, a missing folder)."""
    folder = Path(spec.removeprefix("imagefolder:")).expanduser()
    return folder if folder.is_dir() else None


def split_problem(spec: str, split: str | None) -> str | None:
    """What is wrong with `--split split` for a dataset `spec`: a `save_to_disk` folder of one Dataset has no splits,
    and the split would be ignored (`restore` and `eval` refuse it alike); else None."""
    folder = local_dataset_folder(spec)
    if split is None or folder is None or not is_saved_dataset(folder) or is_saved_dataset_dict(folder):
        return None
    return f"--split {split}: {shown_name(spec)} is one save_to_disk Dataset, without splits: drop --split"


def is_hub_dataset_id(spec: str) -> bool:
    """Whether `spec` can name a Hub dataset (`NAME` or `OWNER/NAME`) rather than a local path: a repo id
    (`is_repo_id`; `photos/` or `my photos` is a path, which must not be sent to the Hub to fail there with a message
    about repo ids) that is not an image file's name."""
    from .checkpoints.hub_lookup import is_repo_id
    from .inference.files import IMAGE_SUFFIXES

    return is_repo_id(spec) and Path(spec).suffix.lower() not in IMAGE_SUFFIXES  # photo.png: a file, not a dataset


def missing_folder(spec: str) -> str | None:
    """What is wrong with a dataset `spec` that names a local folder (`imagefolder:DIR`, or a path that cannot be a
    Hub id) that does not exist, without loading anything (commands say it before loading a model); else None."""
    if spec.startswith("imagefolder:"):
        data_dir = spec.split(":", 1)[1]
        return None if Path(data_dir).is_dir() else f"no such imagefolder directory: {shown_name(data_dir)}"
    if Path(spec).is_dir():
        return None
    if Path(spec).exists():  # before the Hub id: `data/train.parquet` can be one, and was looked up there
        return (
            f"{shown_name(spec)} is a file, not a dataset folder (imagefolder:DIR for a folder of images; a parquet or "
            "CSV file: load it with datasets.load_dataset and save_to_disk it into a folder to give here, or, to "
            "restore it, restore it from Python: restore_dataset)"
        )
    return None if is_hub_dataset_id(spec) else f"no such dataset folder: {shown_name(spec)}"


def image_columns(dataset: datasets.Dataset) -> list[str]:
    """The names of the dataset's `datasets.Image` columns, in order (none where its features are unknown: a stream
    of untyped files)."""
    import datasets

    features = dataset.features or {}
    return [name for name, feature in features.items() if isinstance(feature, datasets.Image)]


class NoSuchSplitError(ValueError):
    """A local dataset without the split asked for; the message names the splits it has."""


# Names of a column of image file paths, where a dataset names none as its image column.
_PATH_COLUMNS = ("image", "img", "path", "file", "filename", "file_name", "hr", "gt")


def cast_hint(dataset: datasets.Dataset, column: str | None = None) -> str:
    """For a dataset without the image column wanted: how to make `column` (else a string column named as image
    paths are, `_PATH_COLUMNS`) one, if it holds strings (file paths, presumably); else ""."""
    strings = [name for name, feature in (dataset.features or {}).items() if getattr(feature, "dtype", "") == "string"]
    name = column if column in strings else None if column else next((s for s in strings if s in _PATH_COLUMNS), None)
    return f" ({name!r} holds strings: file paths? dataset.cast_column({name!r}, datasets.Image()))" if name else ""


# A dataset's columns of ground-truth images and of given inputs (LR / LQ), by name.
TRUTH_COLUMNS = ("hr", "image", "gt")
INPUT_COLUMNS = ("lr", "lq")


def named_image_column(dataset: datasets.Dataset, spec: str, column: str, option: str) -> str:
    """`column`, checked to be an image column of `dataset` (`spec` names the dataset, `option` what names the
    column, in errors).

    Raises:
        ValueError: it is not one, listing the dataset's image columns.
    """
    columns = image_columns(dataset)
    if column not in columns:
        held = f"image columns: {', '.join(columns)}" if columns else f"none among {list(dataset.features)}"
        hint = cast_hint(dataset, column)
        raise ValueError(f"dataset {spec!r} has no image column {column!r} ({held}){hint}: choose one with {option}")
    return column


def input_column(dataset: datasets.Dataset, spec: str = "", column: str | None = None) -> str | None:
    """The image column of `dataset`'s given inputs: `column` if named (`named_image_column`), else one named as
    inputs are (`INPUT_COLUMNS`, in any case: `lr`, `LQ`), if it has one."""
    if column is not None:
        return named_image_column(dataset, spec, column, "--lr-column (lr_column=)")
    return next((c for name in INPUT_COLUMNS for c in image_columns(dataset) if c.lower() == name), None)


def ground_truth_column(dataset: datasets.Dataset, spec: str, column: str | None = None) -> str:
    """The image column that holds `dataset`'s ground truth (`spec` names the dataset in errors): `column` if named
    (`named_image_column`), else `hr`, `image` or `gt` (in any case), else its one image column besides the inputs'
    (`INPUT_COLUMNS`).

    Raises:
        ValueError: `column` is not an image column; or none is named, and the dataset has no image column, or
            several and none of those names (the first was taken: `low` before `target`, an `lr` before an `hr` of
            another name), saying what to name it.
    """
    if column is not None:
        return named_image_column(dataset, spec, column, "--column (column=)")
    columns = image_columns(dataset)
    if not columns:
        raise ValueError(
            f"dataset {spec!r} has no image column (columns: {list(dataset.features)}){cast_hint(dataset)}"
        )
    others = [c for c in columns if c.lower() not in INPUT_COLUMNS]
    if (named := next((c for name in TRUTH_COLUMNS for c in columns if c.lower() == name), None)) is not None:
        return named
    if len(others) == 1:
        return others[0]
    raise ValueError(
        f"dataset {spec!r}: which of its image columns ({', '.join(columns)}) holds the ground truth? Name it hr "
        "(dataset.rename_column(NAME, 'hr')), and the given inputs, if any, lr"
    )


def load_saved_dataset(path: str | os.PathLike, split: str) -> datasets.Dataset | None:
    """The dataset of a folder written by `datasets`' `save_to_disk` (of a `DatasetDict`: its split `split`), or
    None when `path` is no such folder (restored datasets, test sets and training sets can be these)."""
    if not is_saved_dataset(path):
        return None
    from .extras import require

    datasets = require("datasets", "train", f"reading the save_to_disk folder {shown_name(path)}")
    folder, rows_of = Path(path), ""
    if is_saved_dataset_dict(folder):  # its split's folder alone: one empty split failed them all in datasets
        splits = json.loads((folder / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
        if split not in splits:
            raise NoSuchSplitError(
                f"the save_to_disk folder {shown_name(path)} has no split {split!r} (splits: {splits})"
            )
        folder, rows_of = folder / split, f" in its split {split!r}"
    try:
        return datasets.load_from_disk(str(folder))
    except IndexError:  # datasets' own failure on a folder saved with no data file: an empty dataset
        if any(folder.rglob("*.arrow")):
            raise
        raise ValueError(
            f"{shown_name(path)} has no rows{rows_of} (a save_to_disk folder without a data file)"
        ) from None


def load_image_dataset(
    spec: str,
    split: str | None = None,
    *,
    default_split: str = "train",
    cache_dir: str | None = None,
    streaming: bool = False,
) -> datasets.Dataset | datasets.IterableDataset:
    """The dataset `spec` names: `imagefolder:DIR` (split default "train"), a `save_to_disk` folder or a Hub
    dataset id (split default `default_split`). `streaming`: as a stream (`IterableDataset`) read as it is iterated,
    nothing downloaded or converted first.

    Raises:
        FileNotFoundError: no such folder, a folder that is not a saved dataset, or a Hub dataset that cannot be
            loaded (offline, missing, no such split).
        ValueError: an image folder that `datasets` fails to read (a file name that is not valid UTF-8).
    """
    from .extras import require

    if missing := missing_folder(spec):
        raise FileNotFoundError(missing)
    if spec.startswith("imagefolder:"):
        data_dir = spec.split(":", 1)[1]
        datasets = require("datasets", "train", f"loading the dataset {spec!r}")
        try:
            return datasets.load_dataset(
                "imagefolder", data_dir=data_dir, split=split or "train", cache_dir=cache_dir, streaming=streaming
            )
        except datasets.exceptions.DatasetGenerationError as err:  # a file name it cannot store (not valid UTF-8)
            cause = err.__cause__ or err
            raise ValueError(
                f"{shown_name(spec)}: datasets cannot read the folder: {type(cause).__name__}: {cause}"
            ) from None
        except ValueError as err:
            if (no_split := _no_such_split(err, spec, split or "train")) is None:
                raise
            raise no_split from None
    if Path(spec).is_dir():
        loaded = load_saved_dataset(spec, split or default_split)
        if loaded is None:
            raise FileNotFoundError(
                f"{shown_name(spec)} is not a datasets save_to_disk folder (for a folder of images: "
                f"imagefolder:{shown_name(spec)})"
            )
        return loaded.to_iterable_dataset() if streaming and len(loaded) else loaded  # (none of no rows: it fails)
    datasets = require("datasets", "train", f"loading the dataset {spec!r}")
    from .checkpoints.loading import hub_offline

    offline = hub_offline()
    try:
        with datasets_offline(offline):
            return datasets.load_dataset(spec, split=split or default_split, cache_dir=cache_dir, streaming=streaming)
    except ValueError as err:  # a cached dataset without the split: not "not in the cache"
        if (no_split := _no_such_split(err, spec, split or default_split)) is not None:
            raise no_split from None
        raise _not_loaded(spec, offline, streaming, err) from err
    except Exception as err:  # datasets raises many kinds (offline, missing)
        raise _not_loaded(spec, offline, streaming, err) from err


def _no_such_split(err: ValueError, spec: str, split: str) -> NoSuchSplitError | None:
    """`datasets.load_dataset`'s `Unknown split "test". Should be one of ['train'].` as a `NoSuchSplitError` naming
    the dataset `spec`; None for any other ValueError."""
    if not str(err).startswith("Unknown split"):
        return None
    return NoSuchSplitError(f"dataset {spec!r} has no split {split!r} ({err})")


def _not_loaded(spec: str, offline: str | None, streaming: bool, err: Exception) -> FileNotFoundError:
    """What to do about a Hub dataset `spec` that `datasets` could not load (`offline`: `hub_offline()`'s reason)."""
    from .checkpoints.loading import OFFLINE_SET, UNSET_OFFLINE

    if offline is not None and streaming:
        return FileNotFoundError(
            f"dataset {spec!r} cannot be streamed while {offline}: a stream is read from the Hub. Load it "
            "without streaming (no --streaming) to read it from the local Hugging Face cache"
            + (f", or {UNSET_OFFLINE}" if offline == OFFLINE_SET else "")
        )
    if offline is not None:
        return FileNotFoundError(
            f"dataset {spec!r}: no local folder of that name, and not in the local Hugging Face cache while "
            f"{offline}. Pass a local folder (imagefolder:DIR, or a save_to_disk folder); or load it once on a "
            f"machine with internet access (`datasets.load_dataset({spec!r})`), copy its cache "
            "(~/.cache/huggingface, or the folder HF_HOME points to) here "
            + (f"(or {UNSET_OFFLINE})" if offline == OFFLINE_SET else "and run with HF_HUB_OFFLINE=1")
        )
    return FileNotFoundError(f"cannot load dataset {spec!r}: {err}")


@contextmanager
def datasets_offline(offline: object) -> Iterator[None]:
    """`datasets` in offline mode inside when `offline` is truthy: the local cache only, at once, where it would
    otherwise retry an unreachable Hub for half a minute. (datasets reads the mode from its config module.)"""
    import datasets.config

    if not offline:
        yield
        return
    was = datasets.config.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE = was


def files_under(spec: str) -> tuple[Path, ...] | None:
    """The folders the rows of dataset `spec` may name local files in: None (anywhere) for a local dataset, one's
    own; for a Hub dataset the folders its files are downloaded into (`datasets`' cache and the Hub's, resolved), so
    that its rows cannot have other files of this machine read."""
    if local_dataset_folder(spec) is not None:
        return None
    import datasets
    from huggingface_hub import constants

    return tuple(Path(folder).resolve() for folder in (datasets.config.HF_DATASETS_CACHE, constants.HF_HUB_CACHE))

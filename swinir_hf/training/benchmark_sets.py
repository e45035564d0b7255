"""Benchmark test sets among the training data: never training data (a model that learnt them would be scored on
images it learnt), found by folder name, in the path given as `data.train` (the folder, its parent or grandparent:
`Set5/LR_bicubic/X2`, `Set14_HR`) and among the folders inside it that hold its images (`testsets/Set5/`,
`datasets/benchmark/Urban100/HR/`), a plain folder or `imagefolder:DIR`."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..console import shown_name

# What to do instead, in every refusal.
_INSTEAD = "Train on other images (DIV2K, Flickr2K, BSD400, WED, ...)"

# Other names the same test sets go by, lower case: EDSR's / BasicSR's `benchmark/B100` and the SR benchmarks'
# `BSDS100` (BSD100), as their download archives name the folders. Not a bare `Kodak`: a folder of one's own photos
# may well be named so (Kodak24 is known by its own name).
_OTHER_NAMES = frozenset({"b100", "bsds100"})


@functools.cache
def benchmark_set_names() -> frozenset[str]:
    """The benchmark test sets' names, lower case: the paper's (the catalogue's results), their other names
    (`_OTHER_NAMES`) and RealSRSet."""
    from ..checkpoints.catalog import load_catalog

    paper = {name.lower() for release in load_catalog().releases for name in release.results}
    return frozenset(paper | _OTHER_NAMES | {"realsrset"})


def benchmark_set_part(parts: Iterable[str]) -> str | None:
    """The first of the folder names `parts` named as a benchmark test set (by its leading letters and digits, so
    `Set14_HR` too), or None."""
    for part in parts:
        name = re.match(r"[a-z0-9]+", part.lower())
        if name and name[0] in benchmark_set_names():
            return part
    return None


def check_folder_not_test_set(entry: str, folder: Path | None) -> None:
    """Raise `ValueError` when `folder` (data.train's `entry`, resolved), its parent or grandparent is named as a
    benchmark test set."""
    if folder is not None and (part := benchmark_set_part(folder.parts[-3:])) is not None:
        raise ValueError(
            f"data.train {shown_name(entry)} is the benchmark test set {shown_name(part)}: a model trained on it "
            f"would be scored on images it learnt. {_INSTEAD}; a folder that only shares the name needs another one"
        )


def check_no_test_set_inside(entry: str, items: list) -> None:
    """Raise `ValueError` when an image of data.train's local folder `entry` (a plain one or `imagefolder:DIR`; items
    from `load_images`) lies in a folder inside it named as a benchmark test set: a folder of datasets (`datasets/`
    with `DIV2K/` and `benchmark/Set5/`) or of test sets trained on them all, without a word."""
    base = Path(entry.removeprefix("imagefolder:"))
    if not base.is_dir():  # a Hub dataset's rows: no folders of their own
        return
    named = entry.startswith("imagefolder:")  # its rows name the files it read; a saved dataset's, anyone's
    paths = {path for item in items if (path := _item_path(item, named)) is not None}
    for inner in sorted({_parts_inside(path.parent, base) for path in paths}):
        if (part := benchmark_set_part(inner)) is not None:
            inside = base.joinpath(*inner[: inner.index(part) + 1])
            raise ValueError(
                f"data.train {shown_name(entry)} holds the benchmark test set {shown_name(part)} "
                f"({shown_name(inside)}): a model trained on it would be scored on images it learnt. "
                f"{_INSTEAD}: give the folders to train on, or move the test set out"
            )


def _item_path(item: str | Mapping, named: bool) -> Path | None:
    """The file of a `load_images` item: a plain folder's path, or the path an imagefolder row names (`named`); None
    for a saved dataset's row, whose path may be any machine's, and a row of in-memory bytes."""
    if not isinstance(item, Mapping):
        return Path(item)
    return Path(item["path"]) if named and item["path"] else None


def _parts_inside(folder: Path, base: Path) -> tuple[str, ...]:
    """The names of `folder`'s parts below `base` (`datasets`' imagefolder names its files by absolute path, resolved
    or not); () for a folder outside it."""
    for start in (base, base.absolute(), base.resolve()):
        if folder.is_relative_to(start):
            return folder.relative_to(start).parts
    return ()

"""Benchmark test sets as the protocol reads them: HR images (and given LR images) as uint8 arrays, from a folder,
`imagefolder:DIR`, a `save_to_disk` folder or a Hub dataset; greyscale images kept grey or read as RGB
(`grey_convention`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..console import shown_name, some_names
from ..image_datasets import (
    NoSuchSplitError,
    files_under,
    ground_truth_column,
    image_columns,
    input_column,
    load_image_dataset,
    read_with_datasets,
)
from ..inference.files import IMAGE_SUFFIXES
from ..inference.image_io import read_image
from ..models.pixels_swinir import equal_colour_channels
from .lr_files import input_folders, lr_file, named_as_inputs, super_resolution_inputs
from .protocol import GREY_CONVENTIONS, GreyConvention, benchmark_name

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)


@dataclass
class Sample:
    """One benchmark image: `hr` (H, W, C) uint8 ground truth, `lr` a given (h, w, C) uint8 input or None, and the
    dataset column `lr` was read from (`lr_column`; None: from a file, or made)."""

    name: str
    hr: np.ndarray
    lr: np.ndarray | None = None
    lr_column: str | None = None


# PIL modes deeper than 8 bits, as an error names them.
_DEEP_MODES = {
    "I;16": "16-bit grey",
    "I;16B": "16-bit grey",
    "I;16L": "16-bit grey",
    "I": "32-bit grey",
    "F": "float grey",
}


def to_uint8_array(image: Image.Image, grey_convention: GreyConvention = "native") -> np.ndarray:
    """An 8-bit PIL image → (H, W, 1) grey or (H, W, 3) RGB uint8 (alpha dropped; grey → RGB under "rgb").

    Raises:
        ValueError: a deeper image (the message says to convert it; the caller names it).
    """
    if image.mode in _DEEP_MODES:
        raise ValueError(_too_deep(f"{_DEEP_MODES[image.mode]} ({image.mode})"))
    grey = image.mode in ("1", "L", "LA") and grey_convention == "native"
    arr = np.asarray(image.convert("L" if grey else "RGB"))
    return arr[..., None] if grey else arr


def read_uint8(path: Path, grey_convention: GreyConvention = "native") -> np.ndarray:
    """Read an image file as `to_uint8_array` does (orientation applied).

    Raises:
        ValueError: not readable, or deeper than 8 bits (the message names the file).
    """
    pixels = read_image(path).pixels
    if isinstance(pixels, np.ndarray):  # what no 8-bit PIL mode holds
        depth = "16-bit" if pixels.dtype == np.uint16 else "float"
        layout = "grey + alpha" if pixels.shape[-1] == 2 else "colour"
        raise ValueError(f"{shown_name(path)}: {_too_deep(f'{depth} {layout}')}")
    try:
        return to_uint8_array(pixels, grey_convention)
    except ValueError as err:
        raise ValueError(f"{shown_name(path)}: {err}") from None


def _too_deep(kind: str) -> str:
    return f"a {kind} image, but benchmarks are 8-bit: convert it to 8 bits first"


def load_samples(
    dataset: str | os.PathLike,
    lr_dir: str | os.PathLike | None = None,
    scale: int = 1,
    grey_convention: GreyConvention = "native",
    split: str | None = None,
    shard: tuple[int, int] = (0, 1),
    saved_as: Callable[[str], str] | None = None,
    column: str | None = None,
    lr_column: str | None = None,
) -> tuple[str, list[Sample]]:
    """A benchmark → (its name, samples). `dataset` is a folder of HR images (or one holding `HR/`),
    `imagefolder:DIR`, a `datasets` `save_to_disk` folder, or a Hub dataset id (`datasets.load_dataset`); a
    dataset's split is `split`, default "test" ("train" for `imagefolder:`); a plain folder has none, and a `split`
    given with one is a `ValueError` rather than ignored.

    With `lr_dir`, every HR image `NAME.ext` needs an LR file `NAME.*` or `NAMEx{scale}.*` there (the authors'
    naming), of exactly the HR size // scale.

    `shard` (k, n): only the images k, k + n, k + 2n, ... of the set (in its order) are read, for process k of n.
    `saved_as`: what each image's saved output is named as one file by (`saved_outputs.saved_as_one`), where outputs
    are saved: a plain folder's images named alike by it are refused.
    `column`, `lr_column`: a dataset's image columns of the ground truth and of given inputs (default: by name,
    `ground_truth_column`, `input_column`); a plain folder has none, and `lr_column` goes without `lr_dir`.
    """
    if grey_convention not in GREY_CONVENTIONS:
        raise ValueError(f"grey_convention must be one of {GREY_CONVENTIONS}, got {grey_convention!r}")
    path, spec, name = Path(dataset), str(dataset), benchmark_name(dataset)
    if problem := columns_problem(dataset, lr_dir, column, lr_column):
        raise ValueError(problem)
    if not read_with_datasets(path):
        if split is not None:  # all its images are scored: a "test" asked for would score the training images too
            raise ValueError(
                f"{shown_name(path)} is a plain folder of images, which has no splits, so split {split!r} would be "
                "ignored: drop it, or read the folder's split sub-folders as a datasets image folder "
                f"(imagefolder:{shown_name(path)})"
            )
        names, samples = _folder_samples(path, grey_convention, shard, saved_as)
    else:
        try:
            dataset = load_image_dataset(spec, split, default_split="test")
        except NoSuchSplitError as err:
            raise ValueError(f"{err}: choose one with --split (split=)") from None
        names, samples = _dataset_samples(dataset, spec, grey_convention, shard, scale, (column, lr_column))
    if lr_dir is not None:
        for sample in samples:
            sample.lr = _find_lr(Path(lr_dir), sample, scale, names)
    return name, samples


def _folder_samples(
    path: Path, grey_convention: GreyConvention, shard: tuple[int, int], saved_as: Callable[[str], str] | None
) -> tuple[list[str], list[Sample]]:
    """A plain folder's (or its `HR/`'s) images → (the names of the whole set, the samples of `shard`'s share), as
    `load_samples` reads them; images of one name, or saved as one file by `saved_as`, refused."""
    hr_dir = _hr_folder(path)
    if hr_dir == path and (lq := named_as_inputs(path)):
        logger.warning(
            f"{shown_name(path)} is named as a folder of low-quality inputs ({lq}), but eval takes its images as "
            "the ground truth and scores restorations of degraded copies of them: give the folder of ground-truth "
            "images (--dataset, with --lr-dir for given inputs), or restore photos with swinir-hf restore"
        )
    if not (files := _image_files(hr_dir)):
        raise FileNotFoundError(
            f"no images ({', '.join(IMAGE_SUFFIXES)}) in {shown_name(hr_dir)}{_only_folders(hr_dir)}"
        )
    stems = [f.stem for f in files]
    if twins := [f.name for f in files if stems.count(f.stem) > 1]:  # rows and saved images go by name
        raise ValueError(
            f"{shown_name(hr_dir)} holds images of one name: {', '.join(map(shown_name, twins))}: keep one of each"
        )
    keys = [saved_as(stem) for stem in stems] if saved_as else []  # of the whole set: not one process's share
    if twins := [f for f, key in zip(files, keys, strict=False) if keys.count(key) > 1]:
        raise ValueError(_saved_as_one_refusal(hr_dir, twins, saved_as))
    return stems, [Sample(f.stem, read_uint8(f, grey_convention)) for f in files[shard[0] :: shard[1]]]


def _hr_folder(path: Path) -> Path:
    """The folder of a plain folder set's ground-truth images: its `HR/` if it holds one (`Set5/HR`), else itself."""
    return path / "HR" if (path / "HR").is_dir() else path


def _image_files(folder: Path) -> list[Path]:
    """`folder`'s image files, sorted: not hidden ones (macOS' `._a.png`), nor folders."""
    return sorted(
        f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".") and f.is_file()
    )


def unread_inputs_note(dataset: str | os.PathLike, scale: int = 1) -> str | None:
    """What a plain folder set holds beside its ground truth and `load_samples` reads only with `lr_dir`: its
    sub-folders named as inputs (`Set5/LR_bicubic/`, `LR/`), as a note for a run without given inputs (made from the
    ground truth, the paper's protocol), where a user's own inputs there were scored as made ones without a word;
    None where it holds none, or no images to score."""
    path = Path(dataset)
    if read_with_datasets(path) or not path.is_dir():
        return None
    hr_dir = _hr_folder(path)
    skipped = input_folders(path)
    if scale == 1:  # a denoising / JPEG run: a super-resolution set's inputs (`LR_bicubic/X2`) are none of its own
        skipped = [f for f in skipped if not super_resolution_inputs(f)]
    if not skipped or not _image_files(hr_dir):
        return None
    scaled = [f / s for f in skipped for s in (f"X{scale}", f"x{scale}") if scale > 1 and (f / s).is_dir()]
    example = shown_name((scaled or skipped)[0])
    folders = some_names([f"{f.name}/" for f in skipped])
    source = "its images" if hr_dir == path else f"its {hr_dir.name}/ images"
    return (
        f"{shown_name(path)}: the inputs are made from {source} (the paper's protocol); {folders} "
        f"{'is' if len(skipped) == 1 else 'are'} not read: give --lr-dir DIR to score given inputs instead "
        f"(--lr-dir {example})"
    )


def _saved_as_one_refusal(folder: Path, twins: list[Path], saved_as: Callable[[str], str]) -> str:
    """Why `folder`'s images `twins` (each saved as one file with another of them, by `saved_as`) are refused: all
    named, and what makes two that clash one file (not any two of them: a:b, a:c, a_b and a_c are two pairs)."""
    from .saved_outputs import first_twin, saved_alike

    names = {f.stem: f.name for f in twins}  # a stem each: two files of one stem are refused before
    first, second = first_twin(list(names), saved_as) or (twins[0].stem, twins[1].stem)
    which = "" if len(twins) == 2 else f"{shown_name(names[first])} and {shown_name(names[second])} "
    return (
        f"{shown_name(folder)} holds images whose saved outputs would be one file "
        f"({', '.join(shown_name(f.name) for f in twins)}: "
        f"{which}{saved_alike(first, second)}): rename them apart, or score them without saving their outputs"
    )


def columns_problem(
    dataset: str | os.PathLike, lr_dir: str | os.PathLike | None, column: str | None, lr_column: str | None
) -> str | None:
    """What is wrong with `load_samples`' dataset columns, known before anything is read: named where there are
    none (a plain folder), or given inputs named twice (`lr_column` and `lr_dir`); else None."""
    path = Path(dataset)
    if lr_column is not None and lr_dir is not None:
        return "--lr-dir and --lr-column each give the inputs: give one of them"
    if not read_with_datasets(path) and (column, lr_column) != (None, None):
        return (
            f"{shown_name(path)} is a plain folder of images, which has no columns: drop --column / --lr-column, or "
            f"read it as a datasets image folder (imagefolder:{shown_name(path)})"
        )
    return None


def _only_folders(folder: Path) -> str:
    """What a folder without images holds instead, where it holds folders (RealSRSet's LR/ only), for the error."""
    held = sorted(f"{p.name}/" for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not any(name.startswith("LR") for name in held):  # a folder of sets (Set5/, Set14/) gets no such advice
        return ""
    return (
        f" (it holds {', '.join(held)}): scoring needs the ground-truth images, in the folder or its HR/; a set "
        "without them (RealSRSet's real photos) cannot be scored: restore it with swinir-hf restore and look"
    )


def _dataset_samples(
    ds: datasets.Dataset,
    spec: str,
    grey_convention: GreyConvention,
    shard: tuple[int, int],
    scale: int,
    columns: tuple[str | None, str | None],
) -> tuple[list[str], list[Sample]]:
    """The names of all a dataset's rows (as `row_names` gives them) and the samples of its rows k, k + n, ...
    (`shard` (k, n)): HR from the image column `columns[0]`, else its `hr` / `image` / `gt` one
    (`ground_truth_column`), LR from `columns[1]`, else `lr` / `lq` if present (HR size // `scale`)."""
    hr_col = _truth_column(ds, spec, columns[0])  # not the first image column: `low` before `target` was scored as HR
    lr_col = input_column(ds, spec, columns[1])
    if lr_col == hr_col:
        raise ValueError(f"dataset {spec!r}: its {hr_col} column cannot be both the ground truth and the inputs")
    if (folders := files_under(spec)) is not None:  # a Hub dataset: as `restore --dataset` reads its rows
        _check_no_local_files(ds, spec, [c for c in (hr_col, lr_col) if c], folders)
    names = row_names(ds, hr_col)
    samples: list[Sample] = []
    k, n = shard
    for i in range(k, len(ds), n):
        name = names[i]
        try:
            row = ds[i]  # decoded here: a missing file, an http path without fsspec's HTTP support fail here
            hr = to_uint8_array(_image_in(row, hr_col), grey_convention)
            lr = _as_hr(to_uint8_array(_image_in(row, lr_col)), hr, f"its {lr_col} image") if lr_col else None
            if lr is not None:
                check_lr_size(name, hr, lr, scale, f"its {lr_col} image")
            samples.append(Sample(name, hr, lr, lr_col if lr is not None else None))
        except (ValueError, OSError, SyntaxError, ImportError) as err:
            raise ValueError(f"{shown_name(spec)}, row {i} ({shown_name(name)}): {err}") from None
    return names, samples


def _check_no_local_files(ds: datasets.Dataset, spec: str, columns: list[str], folders: tuple[Path, ...]) -> None:
    """Raise ValueError where a Hub dataset's row names a file of this machine outside `folders` (`files_under`)
    instead of holding its image (scored, it would be saved with --save-images)."""
    from ..inference.dataset_values import first_row_outside

    for column in columns:
        if found := first_row_outside(ds, column, folders):
            raise ValueError(
                f"{shown_name(spec)}, row {found[0]}: its {column} column names a file of this machine "
                f"({shown_name(found[1])}) instead of "
                "holding its image: a Hub dataset's files are read from the Hub's caches only"
            )


def _truth_column(ds: datasets.Dataset, spec: str, column: str | None) -> str:
    """`ground_truth_column`, whose question of which column, where none is named, says that --column names it."""
    try:
        return ground_truth_column(ds, spec, column)
    except ValueError as err:
        if column is not None or len(image_columns(ds)) < 2:  # not the question of which one
            raise
        raise ValueError(f"{err}; or choose them with --column NAME and --lr-column NAME") from None


def _image_in(row: dict, column: str) -> Image.Image:
    """`row`'s decoded image in `column`; ValueError where it holds none."""
    if row[column] is None:
        raise ValueError(f"its {column} column holds no image")
    return row[column]


def row_names(ds: datasets.Dataset, image_column: str) -> list[str]:
    """Each row's name in tables and saved images: its `name` column; else its image's file name without the suffix
    (`imagefolder:DIR` and most Hub image datasets keep it), where those are unique, even ignoring case; else the
    row number (`0007`).

    Raises:
        ValueError: the `name` column names two rows alike, as file names of their saved images ("a/b" and "a_b",
            "A" and "a" too: `saved_as_one`): one's saved output would be taken for the other's.
    """
    from .saved_outputs import saved_alike, saved_as_one

    if "name" in ds.features:
        names = [str(name) for name in ds["name"]]
        first: dict[str, int] = {}
        for i, name in enumerate(names):
            if (j := first.setdefault(saved_as_one(name), i)) != i:
                why = "" if names[j] == name else f", {saved_alike(names[j], name)}"
                raise ValueError(
                    f"the dataset's name column names rows {j} and {i} alike ({names[j]!r}, {name!r}; the saved "
                    f"images and the table go by name{why}): make the names differ in more than that, or drop the "
                    "column to name the rows by their files"
                )
        return names
    import pyarrow.compute as pc

    try:  # the paths alone, from Arrow: the image bytes stay where they are
        paths = pc.struct_field(ds.with_format("arrow")[image_column], "path").to_pylist()
    except (KeyError, TypeError, ValueError):  # no path field in this storage
        paths = []
    stems = [Path(p).stem if p else "" for p in paths]
    if len(stems) == len(ds) and all(stems) and len({saved_as_one(stem) for stem in stems}) == len(stems):
        return stems
    return [f"{i:04d}" for i in range(len(ds))]


def _as_hr(lr: np.ndarray, hr: np.ndarray, name: str) -> np.ndarray:
    """A given LR image (as read, grey (H, W, 1) or RGB) in its HR image's channels: a grey one repeated to RGB for
    an HR image read as RGB ("rgb" grey convention) when that HR image is grey itself, an RGB one of three equal
    channels (a grey image saved as RGB) made grey for a grey HR image; `name` says which LR image.

    Raises:
        ValueError: a grey LR image for a colour HR one (scored on Y, its lost colour would not show), or a colour
            one for a grey HR image (it was made from something else).
    """
    if lr.shape[-1] == hr.shape[-1]:
        return lr
    if lr.shape[-1] == 3:  # for a grey HR image (H, W, 1)
        if equal_colour_channels(lr):
            return lr[..., :1]
        raise ValueError(
            f"{shown_name(name)} is in colour, but its HR image is greyscale: make the LR images from the HR ones"
        )
    if not equal_colour_channels(hr):
        raise ValueError(
            f"{shown_name(name)} is greyscale, but its HR image is in colour: make the LR images from the HR ones"
        )
    return np.repeat(lr, 3, axis=-1)


def _find_lr(lr_dir: Path, sample: Sample, scale: int, names: list[str]) -> np.ndarray:
    path = lr_file(lr_dir, sample.name, scale, names)
    lr = _as_hr(read_uint8(path), sample.hr, str(path))
    check_lr_size(sample.name, sample.hr, lr, scale, str(path))
    return lr


def check_lr_size(name: str, hr: np.ndarray, lr: np.ndarray, scale: int, what: str) -> None:
    """Raise `ValueError` unless the given input `lr` (`what`: its file, or its dataset column) of image `name` is
    exactly HR size // `scale`: another would be scored against a crop of the ground truth, or fail after the
    model ran."""
    h, w, c = hr.shape
    if lr.shape != (h // scale, w // scale, c):
        raise ValueError(
            f"HR/LR size mismatch for {shown_name(name)}: HR {h}×{w}×{c} at ×{scale} needs LR "
            f"{h // scale}×{w // scale}×{c}, but {shown_name(what)} is {lr.shape[0]}×{lr.shape[1]}×{lr.shape[2]}"
        )

"""The training images: sources listed as undecoded items (`load_images`), decoded as `swinir-hf restore` and
`eval` read them (`decode_image`), and checked before the first step: readable, in colour when the model is, no copy
of a validation image, no benchmark test set inside a training folder. (What the headers say before the first step:
`headers`; LR images paired with their HR ones: `pairing`; patches and validation images made of them: `data`.)

Items are decoded only when used (`decode_image`, in the data loader), so a corrupt file costs a warning, not the
run: `DECODE_ERRORS` are the errors that say an item is one.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..console import shown_name
from ..image_datasets import (
    SPLIT_FOLDER_NAMES,
    NoSuchSplitError,
    ground_truth_column,
    input_column,
    is_saved_dataset,
    load_image_dataset,
    split_folder,
)
from ..inference.files import IMAGE_SUFFIXES
from ..inference.image_io import open_image
from ..inference.photo_metadata import header_orientation, stored_size, upright
from ..models.alpha_swinir import fill_hidden_colour
from ..models.pil_images_swinir import normalize_pil, pillow_warnings
from ..models.pixels_swinir import image_to_float, match_channels
from .benchmark_sets import check_no_test_set_inside
from .sources import not_found

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

DECODE_ERRORS = (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError)


# --- reading images --------------------------------------------------------------------------------------------


def load_images(source: str, split: str = "train", cache_dir: str | None = None) -> list:
    """The images of `source` as a list of undecoded items (paths or `{"bytes", "path"}` dicts), in a fixed order.

    `source` is a plain folder of images or one in the `imagefolder` layout (searched recursively, sorted by path,
    hidden files and folders skipped; one divided into split folders, `train/` and `validation/` say, gives
    `split`'s: `split_folder`; a benchmark's, with `HR/` beside an `LR*` folder, its `HR/` images, as `swinir-hf
    eval` reads it), a folder written by `datasets`' `save_to_disk`, or a Hub dataset id; for datasets the ground
    truth column of `split` is used (`ground_truth_column`: `hr`, `image`, `gt`, else the one besides `lr` / `lq`).
    Decoding is left to `decode_image`, so a corrupt file costs a warning, not the run.
    Plain folders need no `datasets` (machines without it can train on them).
    """
    path = Path(source)
    if path.is_dir() and not is_saved_dataset(path):
        path = split_folder(path, split)
        if (path / "HR").is_dir() and any(p.name.upper().startswith("LR") for p in path.iterdir() if p.is_dir()):
            path = path / "HR"  # a benchmark's: its LR_bicubic/X4/ images are not ground truth
        files = sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)  # macOS' ._a.png, .git/
            and p.is_file()
        )
        if not files:
            raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {shown_name(path)}")
        return [str(p) for p in files]
    ds = load_image_dataset(source, split, cache_dir=cache_dir)
    column = ground_truth_column(ds, source)  # not an `lr` column before it
    if (given := input_column(ds)) is not None:  # what `swinir-hf eval` would score with
        logger.warning(
            f"{shown_name(source)}: its {shown_name(given)} column is not read: the run makes its inputs from the "
            f"{shown_name(column)} images by its degradation, so its validation figures are not `swinir-hf eval`'s on "
            "this dataset, which scores the given inputs (given inputs for training: data.train_lr / data.val_lr, a "
            "folder of them or a dataset whose one image column holds them)"
        )
    return _dataset_images(ds, column, source)


def _dataset_images(ds: datasets.Dataset, column: str, source: str) -> list[DatasetImage]:
    """The rows of `ds` that hold an image in `column`, as `DatasetImage`s; those without one are left out, with a
    warning (they failed the run's first checks with a traceback)."""
    import datasets
    import pyarrow.compute as pc

    table = ds.select_columns([column]).cast_column(column, datasets.Image(decode=False))
    stored = table.with_format("arrow")[column]  # memory-mapped, for a saved or Hub dataset: no copy
    path, data = pc.struct_field(stored, "path"), pc.struct_field(stored, "bytes")
    empty = pc.or_(stored.is_null(), pc.and_(data.is_null(), path.is_null())).to_pylist()
    if none := [i for i, is_empty in enumerate(empty) if is_empty]:
        logger.warning(
            f"{shown_name(source)}: rows without an image left out ({len(none)} of {len(empty)}, first row {none[0]})"
        )
    sizes = pc.binary_length(data).to_pylist()  # from the table: the run's fingerprint reads no image for them
    rows = zip(path.to_pylist(), sizes, empty, strict=True)
    return [DatasetImage(table, column, i, p, size, source) for i, (p, size, none) in enumerate(rows) if not none]


class DatasetImage(Mapping):
    """A dataset row's image as `datasets` stores it, `{"bytes", "path"}`, its bytes read from the dataset's table
    when asked: a list of the rows' values held every image's bytes in memory (gigabytes for a DIV2K-sized Hub
    dataset, in each process of a launch), where the table of a saved or Hub dataset is memory-mapped."""

    def __init__(
        self, table: datasets.Dataset, column: str, row: int, path: str | None, size: int | None, source: str = ""
    ) -> None:
        self._table, self._column, self._row, self._path = table, column, row, path
        self.size = size  # of its bytes; None for an image stored as a path
        self.where = f"row {row} of {shown_name(source) or 'its dataset'}"  # for messages, where it has no file name

    def __getitem__(self, key: str) -> Any:
        if key == "path":
            return self._path
        if key == "bytes":
            return self._table[self._row][self._column]["bytes"]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("bytes", "path"))

    def __len__(self) -> int:
        return 2

    def __repr__(self) -> str:
        return f"DatasetImage(row {self._row}, path {self._path!r})"


def decode_image(item: str | Mapping, channels: int) -> np.ndarray:
    """An item from `load_images` → uint8 (H, W, channels) array, upright as `swinir-hf restore` and `eval` read it
    (EXIF orientation, colour keys, CMYK profiles: `normalize_pil`); grey ↔ RGB via BT.601 luma. Alpha is dropped
    after the colour under fully transparent pixels is filled as `restore` fills it (`fill_hidden_colour`): an
    exporter's placeholder there (often black) is not content, and restore never shows it to the model.

    Raises one of `DECODE_ERRORS` for unreadable data.
    """
    with _open(item) as image:
        arr, alpha = image_to_float(normalize_pil(image, item_name(item)))  # which decodes it
    arr, _ = fill_hidden_colour(arr, alpha)
    return np.rint(match_channels(arr, channels) * 255.0).astype(np.uint8)


def _open(item: str | Mapping, report: bool = True) -> Image.Image:
    """An item from `load_images`, opened lazily (only its header is read until `load`); HEIC / HEIF files through
    pillow-heif (`open_image`, which logs what Pillow warns of while opening when `report`)."""
    if isinstance(item, Mapping):
        data = item.get("bytes")
        return Image.open(io.BytesIO(data)) if data else open_image(item["path"], report)
    return open_image(item, report)


def read_header(item: str | Mapping) -> tuple[int, int, int]:
    """(width, height, EXIF orientation 1-8) of an item from `load_images`, its size upright as `decode_image` gives
    it, read from its header without decoding the pixels (~0.1 ms a file).

    Raises one of `DECODE_ERRORS` for a file that cannot be opened as an image (a damaged header's other errors as
    an `OSError`).
    """
    try:
        with _open(item, report=False) as image, pillow_warnings():  # damaged EXIF: decode_image reports it
            orientation = header_orientation(image)
            width, height = upright(stored_size(image), orientation)
    except (*DECODE_ERRORS, MemoryError):
        raise
    except Exception as err:  # a damaged header fails in Pillow's plugins with almost any type
        raise OSError(f"{type(err).__name__}: {err}") from err
    return width, height, orientation if orientation in range(2, 9) else 1  # others turn nothing


def check_readable(items: list, channels: int, option: str) -> None:
    """Raise `ValueError` unless at least one of `items` (from `load_images`) decodes: a folder of only broken
    files would otherwise fail inside the data loader at the first step."""
    first_error = None
    for item in items:
        try:
            decode_image(item, channels)
            return
        except DECODE_ERRORS as err:
            first_error = first_error or f"{shown_name(item_name(item))}: {err}"
    raise ValueError(f"{option}: none of its {len(items)} images can be decoded (e.g. {first_error})")


# Bands of images without colour: grey (8 / 16-bit, float, 1-bit), with or without alpha.
_GREY_BANDS = {"L", "I", "F", "1", "A"}


def check_colour(items: list, channels: int, option: str) -> None:
    """Raise `ValueError` when a colour model is given only greyscale images: each would be replicated to three equal
    channels, and the model would learn to restore grey. Reads headers only, up to the first colour image."""
    if channels != 3:
        return
    for item in items:
        try:
            with _open(item) as image:
                if not set(image.getbands()) <= _GREY_BANDS:
                    return
        except DECODE_ERRORS:  # check_readable's to report
            continue
    raise ValueError(
        f"{option}: all its {len(items)} images are greyscale, but the model restores colour (3 channels): give colour "
        "images, or train a 1-channel model (model.preset gray_dn or jpeg_car, or model.config.num_channels=1)"
    )


def item_name(item: str | Mapping) -> str:
    """A readable name for an item from `load_images` (its file name when known)."""
    path = item.get("path") if isinstance(item, Mapping) else item
    return Path(path).name if path else "<in-memory image>"


def dataloader_worker() -> str | None:
    """ "DataLoader worker K of N" where training images are decoded in one (each has its own copy of the data and
    names the first images it finds unreadable on its own; the count is over all workers: `unreadable`), else None."""
    from torch.utils.data import get_worker_info

    worker = get_worker_info()
    return None if worker is None else f"DataLoader worker {worker.id} of {worker.num_workers}"


def shown_path(item: str | Mapping) -> str:
    """Where an item from `load_images` is, for a message: a file as listed (its data folder as given, then its path
    inside it: `photos/2023/a.png`), a dataset row by its file name or its row (`_described`)."""
    return shown_name(item if isinstance(item, str) else _described(item))


def _described(item: str | Mapping) -> str:
    """`item_name`, or a dataset's image stored without a file name by its row and dataset (`DatasetImage.where`)."""
    return item.where if isinstance(item, DatasetImage) and not item["path"] else item_name(item)


def _item_bytes(item: str | Mapping) -> tuple[int, Callable[[], bytes]]:
    """(size in bytes, a function reading them) of an item from `load_images`; size -1 for a file that cannot be
    read (`decode_image` reports it)."""
    if isinstance(item, DatasetImage) and item.size:
        return item.size, lambda: item["bytes"]
    if isinstance(item, Mapping) and (data := item.get("bytes")):
        return len(data), lambda: data
    path = Path(item["path"] if isinstance(item, Mapping) else item)
    try:
        return path.stat().st_size, path.read_bytes
    except (OSError, TypeError):
        return -1, bytes


def _digest(read: Callable[[], bytes]) -> str | None:
    try:
        return hashlib.sha256(read()).hexdigest()
    except OSError:
        return None


# Each checkpoint's progress.json lists the images (~30 bytes each) up to this many; beyond, only their digest is kept
# (a million images would add ~30 MB to every checkpoint), and a resume can no longer name the files that differ.
LISTED_IMAGES_MAX = 100_000


def items_fingerprint(items: list) -> dict[str, Any]:
    """{"count", "sha256", "files"} of items from `load_images`: their file names and sizes in order (`files`, up
    to `LISTED_IMAGES_MAX` of them, and its digest), which tell whether a resumed run reads the images it was started
    with, however their folders are written (relative, absolute), and name the files that differ
    (`resume_checks.check_same_images`)."""
    listing = [(item_name(item), _item_bytes(item)[0]) for item in items]
    digest = hashlib.sha256(json.dumps(listing).encode()).hexdigest()
    fingerprint: dict[str, Any] = {"count": len(items), "sha256": digest}
    if len(listing) <= LISTED_IMAGES_MAX:
        fingerprint["files"] = [list(entry) for entry in listing]
    return fingerprint


def check_not_trained_on(train_items: list, val_items: list) -> None:
    """Raise `ValueError` when a validation image is also a training image, byte for byte (a copy under another
    folder or name): validation would score images the model learnt. Only files of a validation image's size are
    read, so a large training set costs a listing."""
    by_size: dict[int, dict[str, str | Mapping]] = {}
    for item in val_items:
        size, read = _item_bytes(item)
        if size >= 0 and (digest := _digest(read)) is not None:
            by_size.setdefault(size, {})[digest] = item
    for item in train_items:
        size, read = _item_bytes(item)
        if size in by_size and (same := by_size[size].get(_digest(read) or "")) is not None:
            raise ValueError(
                f"data.train holds {shown_name(_described(item))}, a copy of the validation image "
                f"{shown_name(_described(same))}: validation would score images the model trained on. Validate on "
                "images kept out of training (Set5, say: the benchmark test sets are never training data), or pass "
                "--data.val null"
            )


# --- a config field's images -----------------------------------------------------------------------------------


# The config field that picks the split of a dataset field's sources.
_SPLIT_FIELDS = {"data.val": "data.val_split", "data.val_lr": "data.val_split"}


def config_images(field: str, source: str, split: str, cache_dir: str | None) -> list:
    """`load_images` for the config's `field`: a source that is not there is an error naming the field, and a
    relative path also the folder it was looked for from (`sources.not_found`)."""
    try:
        items = load_images(source, split, cache_dir)
    except NoSuchSplitError as err:
        raise ValueError(f"{field}: {err}: choose one with {_SPLIT_FIELDS.get(field, 'data.split')}") from None
    except FileNotFoundError as err:
        raise FileNotFoundError(not_found(field, source, str(err))) from err
    if field == "data.train":  # `Set5/` inside it: validation's sources may be test sets
        check_no_test_set_inside(source, items)
    return items


def validation_folder_note(source: str, split: str) -> str | None:
    """A note that a local training folder's sub-folder named as a validation split (`val/`, `validation/`, ...) is
    trained on, the folder not being divided into splits (no `train/` beside it: `split_folder` gives the whole
    folder); else None. `split`: the training split (`data.split`)."""
    path = Path(source.removeprefix("imagefolder:"))
    if not path.is_dir() or is_saved_dataset(path):
        return None
    try:
        if split_folder(path, split) != path:
            return None
    except ValueError:  # no such split: config_images says so
        return None
    names = SPLIT_FOLDER_NAMES["validation"]
    if (val := next((p for p in sorted(path.iterdir()) if p.is_dir() and p.name.lower() in names), None)) is None:
        return None
    return (
        f"data.train {shown_name(source)}: its {shown_name(val.name)}/ folder is trained on too, with no train/ folder "
        f"beside it (to validate on it instead: move the training images into {shown_name(path / 'train')}, and pass "
        f"--data.val {shown_name(source)})"
    )

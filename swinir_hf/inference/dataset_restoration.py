"""A `datasets` dataset restored through `Dataset.map`, in parts of `ROWS_PER_PART` rows that are each written to a
file of their own as they finish: a run stopped part-way keeps the parts it finished, and the same call again maps
only the rest. Each part's name carries a fingerprint of everything that makes its pixels (the dataset, the model's
config and weights, the engine's options, the rows), so a part of another run is never taken for this one's.

Its command line is `swinir-hf restore --dataset` (`collection_cli`), which keeps the parts in `-o/PARTS_FOLDER`
until the whole dataset is saved, and shares them among the processes of a launch (`DatasetRestoration`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..checkpoints.fingerprint import model_fingerprint
from ..console import note, shown_name
from ..image_datasets import cast_hint, image_columns
from ..library_bars import datasets_bars_off
from ..progress_lines import progress_bar
from .dataset_values import dataset_image, has_image, local_path_outside
from .image_io import read_restorable
from .jobs import check_outscale
from .options import EngineOptions
from .parts_folder import clear_parts_folder

if TYPE_CHECKING:
    from collections.abc import Iterable

    import datasets

    from .restoration import SwinIRRestorer

# Where `restore --dataset` keeps the parts of a run until the dataset is saved (a hidden folder inside -o).
PARTS_FOLDER = ".restored-parts"
# A stopped run loses at most one part; each part costs a `map` call and a file (a few ms: benchmarks/README.md).
ROWS_PER_PART = 16
# The form of the restored values, in every fingerprint: parts and datasets of an earlier form (images unnamed, a
# row without one refused) are another run's.
VALUES_FORM = 2


def restore_dataset(
    dataset: datasets.Dataset | datasets.IterableDataset,
    restorer: SwinIRRestorer,
    *,
    column: str | None = None,
    output_column: str | None = None,
    outscale: float | None = None,
    model_name: str = "",
    parts_dir: str | os.PathLike | None = None,
    batch_size: int = 1,
) -> datasets.Dataset | datasets.IterableDataset:
    """A new dataset whose `output_column` (default: `column`, replaced) holds each image of `column` (default:
    the first `datasets.Image` column) restored, stored as PNG (TIFF for a mode PNG cannot hold) and named as its
    source file (`photo.jpg` → `photo.png`) where that has a path (not in a stream restored lazily, whose rows
    `datasets` encodes again as they are read); other columns are kept. Made of memory-mapped parts: save it
    (`save_to_disk`) before removing `parts_dir`.

    A stream (`IterableDataset`, as `load_dataset(..., streaming=True)` gives) is restored as it is read: without
    `parts_dir`, lazily, into a stream whose rows are restored as they are iterated; with it, into a `Dataset` of
    parts, as a `Dataset` is (`stream_restoration`).

    Args:
        parts_dir: the folder for the parts' Arrow files (made if needed). The parts this call would write that are
            there already (an interrupted call's) are taken as they are; what other runs left there is removed, and a
            folder holding anything else is refused. None: one part, cached by `datasets` as any map of a dataset
            read from files (a stop loses it).
        model_name: the model's name, part of the fingerprint with its config and weights (a name alone is no
            model: two of one scale, or one retrained in place).
        batch_size: rows restored at a time, those of one size through one forward pass
            (`SwinIRRestorer.restore_images`); parts are then a multiple of it long, so that a batch is never cut.

    Raises:
        ValueError: `outscale` is not a positive number (the `--outscale` message), `column` is not an image
            column, `output_column` is another column of the dataset, `batch_size` is not a count, or `parts_dir`
            holds files of its own, before any image is restored; a row's image cannot be decoded (naming the row
            and its file), when it is reached. A row without an image is kept, its restored image None
            (`dataset_values.rows_without_image` lists them).
    """
    import datasets

    if parts_dir is None and isinstance(dataset, datasets.IterableDataset):
        from .stream_restoration import restored_stream

        return restored_stream(dataset, restorer, column, output_column, outscale, batch_size)
    restoration = plan_restoration(
        dataset,
        restorer,
        column=column,
        output_column=output_column,
        outscale=outscale,
        model_name=model_name,
        parts_dir=parts_dir,
        batch_size=batch_size,
    )
    restoration.prepare()
    return concatenated(restoration.restore())


def plan_restoration(
    dataset: datasets.Dataset | datasets.IterableDataset,
    restorer: SwinIRRestorer,
    *,
    column: str | None = None,
    output_column: str | None = None,
    outscale: float | None = None,
    model_name: str = "",
    parts_dir: str | os.PathLike | None = None,
    batch_size: int = 1,
) -> DatasetRestoration:
    """`restore_dataset`'s work planned, nothing done yet (the same arguments, checked alike)."""
    import datasets

    if isinstance(dataset, datasets.IterableDataset):
        from .stream_restoration import plan_stream_restoration

        return plan_stream_restoration(
            dataset,
            restorer,
            column,
            output_column,
            outscale,
            model_name,
            parts_dir,
            batch_size,  # type: ignore[arg-type]
        )
    column, output_column, features = checked_columns(dataset, column, output_column, outscale, batch_size)
    # Without a folder of their own, parts would each leave a file in `datasets`' cache (beside a save_to_disk
    # dataset's files): one map, as any.
    rows = -(-ROWS_PER_PART // batch_size) * batch_size if parts_dir is not None else max(len(dataset), 1)
    parts = _plan_parts(dataset, restorer, (model_name, outscale, column, output_column), rows)
    folder = Path(parts_dir) if parts_dir is not None else None
    files = [folder / f"part-{start:09d}-{fp[:16]}.arrow" if folder else None for start, _, fp in parts]
    return DatasetRestoration(dataset, restorer, column, output_column, outscale, batch_size, features, parts, files)


@dataclass
class DatasetRestoration:
    """A dataset's restoration in parts (`plan_restoration`), in the steps that the processes of a launch share
    (`swinir-hf restore --dataset` under `accelerate launch`): the main process `prepare`s the parts' folder, every
    process `restore`s its share of the parts, and, once all have, one process `assemble`s them."""

    dataset: datasets.Dataset
    restorer: SwinIRRestorer
    column: str
    output_column: str
    outscale: float | None
    batch_size: int
    features: datasets.Features
    parts: list[tuple[int, int, str]]  # (start row, stop row, fingerprint)
    files: list[Path | None]  # each part's file in the parts' folder; None each without one
    # None: a row's local file is read wherever it is (one's own dataset); else only under these folders (a Hub
    # dataset's: the Hub's caches), so that a dataset's rows cannot have other files of this machine copied into it.
    files_under: tuple[Path, ...] | None = None

    @property
    def identity(self) -> str | None:
        """A fingerprint of what the restored dataset holds, known before any image is restored: the dataset's
        rows, the model's config and weights, the options that change pixels or columns; not how the work is cut
        (`batch_size`) nor how the model was named. None for a stream, whose images are known only once read."""
        from datasets.fingerprint import Hasher

        held = pixels_fingerprint(self.restorer, (self.outscale, self.column, self.output_column))
        return Hasher.hash((self.dataset._fingerprint, held))

    def prepare(self) -> int:
        """Make the parts' folder and remove what runs left in it that is not one of these parts (another run's
        parts, a stopped map's temporary file: `clear_parts_folder`), saying so; say how many rows an interrupted
        run restored already, and return that count."""
        if self.files[0] is None:
            return 0
        folder = self.files[0].parent
        if clear_parts_folder(folder, {file for file in self.files if file is not None}):
            note(f"{shown_name(folder)} held the parts of a run with another dataset, model or options: restoring anew")
        done = _rows_restored(zip(self.parts, self.files, strict=True))
        if done:
            note(f"going on from an interrupted run: {done} of {len(self.dataset)} images were restored")
        return done

    def restore(self, share: tuple[int, int] = (0, 1), progress: bool = True) -> list[datasets.Dataset]:
        """Map the parts of this share, (index, count): every count-th part from the index-th; a part whose file
        exists is read from it. → the mapped parts, in order. `progress`: a bar over the share's rows (unless
        `datasets`' bars are off: `swinir-hf restore --no-progress`)."""
        import datasets

        index, count = share
        mine = list(zip(self.parts, self.files, strict=True))[index::count]
        done = _rows_restored(mine)
        total = sum(stop - start for (start, stop, _), _ in mine)
        bars = not datasets.are_progress_bars_disabled()  # else lines (`--no-progress`, no terminal)
        with (
            progress_bar(progress, bars, total=total, initial=done, desc="restore", unit="image") as bar,
            datasets_bars_off(),
        ):
            return [self._map_part(start, stop, fingerprint, file, bar) for (start, stop, fingerprint), file in mine]

    def assemble(self) -> datasets.Dataset:
        """The restored dataset, every part read from its file (all restored by then: `restore` of every share).

        Raises:
            FileNotFoundError: a part is missing (it was never restored, or was removed).
        """
        if missing := [str(file) for file in self.files if file is None or not file.exists()]:
            raise FileNotFoundError(f"the restored parts {', '.join(missing)} are missing: run the restoration again")
        with datasets_bars_off():
            return concatenated(
                [self._map_part(*part, file, None) for part, file in zip(self.parts, self.files, strict=True)]
            )

    def _map_part(self, start: int, stop: int, fingerprint: str, file: Path | None, bar: Any) -> datasets.Dataset:
        """Rows start..stop restored by `Dataset.map` into `file` (read from it when it exists)."""
        import datasets

        # Decoded by `_restore_batch`, which names the row of an image that cannot be decoded.
        undecoded = self.dataset.select(range(start, stop)).cast_column(self.column, datasets.Image(decode=False))
        return undecoded.map(
            partial(self._restore_batch, start=start, bar=bar),
            batched=True,
            with_indices=True,
            batch_size=self.batch_size,
            features=self.features,
            new_fingerprint=fingerprint,
            # One batch per write: `map` would hold 1000 restored images (288 MB each for a 3000×2000 input ×4)
            # before encoding and writing them, so memory grew with the dataset.
            writer_batch_size=self.batch_size,
            cache_file_name=file and str(file),
            load_from_cache_file=True if file else None,
        )

    def _restore_batch(self, batch: dict[str, list], indices: list[int], start: int, bar: Any) -> dict[str, list]:
        """`map`'s function: the batch's images (rows `start` + `indices`) decoded and restored, those of one size
        together."""
        return self.restored(batch, (start + i for i in indices), bar)

    def restored(self, batch: dict[str, list], rows: Iterable[int], bar: Any) -> dict[str, list]:
        """The images of `batch`'s column (undecoded values, of the dataset's `rows`) decoded and restored, those of
        one size together: {output column: their `datasets.Image` values}; `bar` (if any) updated by their count."""
        feature = self.dataset.features[self.column]  # its `mode`, if it has one, too
        given = [(value, row) for value, row in zip(batch[self.column], rows, strict=True) if has_image(value)]
        images = [decoded_image(feature, value, row, self.files_under) for value, row in given]
        names = [_row_name(value, row) for value, row in given]
        restored = iter(self.restorer.restore_images(images, self.outscale, names) if images else [])
        if bar is not None:
            bar.update(len(batch[self.column]))
        # A row without an image is kept, empty (as training leaves it out): the command counts them at the end.
        values = [dataset_image(next(restored), value) if has_image(value) else None for value in batch[self.column]]
        return {self.output_column: values}


def checked_columns(
    dataset: datasets.Dataset | datasets.IterableDataset,
    column: str | None,
    output_column: str | None,
    outscale: float | None,
    batch_size: int,
) -> tuple[str, str, datasets.Features]:
    """`restore_dataset`'s arguments checked → (the image column, the output column, the restored dataset's
    features).

    Raises:
        ValueError: as `restore_dataset` says.
    """
    import datasets

    check_outscale(outscale)  # as `swinir-hf restore --outscale` checks it, before any image is restored
    if not (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1):
        raise ValueError(f"batch_size must be an int ≥ 1, got {batch_size!r}")
    if isinstance(dataset, (datasets.DatasetDict, datasets.IterableDatasetDict)):  # `.features`: an AttributeError
        split = next(iter(dataset), "train")
        raise TypeError(f"restore one split of the dataset: dataset[{split!r}] (its splits: {list(dataset)})")
    if dataset.features is None:  # a stream of untyped files (JSON lines, ...): its images cannot be told apart
        raise ValueError("the dataset's features are unknown: cast its image column to datasets.Image() first")
    columns, hint = image_columns(dataset), cast_hint(dataset, column)
    if not columns:
        raise ValueError(f"the dataset has no image column (its columns: {list(dataset.features)}){hint}")
    column = column or columns[0]
    if column not in columns:
        raise ValueError(f"{column!r} is not an image column of the dataset (image columns: {columns}){hint}")
    output_column = output_column or column
    if output_column != column and output_column in dataset.column_names:
        raise ValueError(
            f"the dataset has a column {output_column!r} already: name a new column for the restored images "
            f"(or none, to replace {column!r})"
        )
    features = dataset.features.copy()
    features[output_column] = datasets.Image()
    return column, output_column, features


def decoded_image(
    feature: datasets.Image, value: dict[str, Any] | None, row: int, files_under: tuple[Path, ...] | None = None
) -> Image.Image | np.ndarray:
    """A stored value (bytes, path) of a `feature` column decoded as `swinir-hf restore` reads the file (16-bit
    colour and float TIFFs as they are: `datasets` decodes them with Pillow, at 8 bits or not at all); in the
    column's `mode` if it has one, and a remote file as `datasets` reads it. `files_under`: the folders a local file
    named without its bytes may be in (None: anywhere).

    Raises:
        ValueError: the row has no image, names a local file outside `files_under`, or its image cannot be decoded:
            naming the row and its file.
    """
    if not has_image(value):
        raise ValueError(f"row {row} of the dataset has no image")
    if value.get("bytes") is None and (outside := local_path_outside(value["path"], files_under)):
        raise ValueError(
            f"row {row} of the dataset names a file of this machine ({shown_name(outside)}) instead of holding its "
            "image: a Hub dataset's files are read from the Hub's caches only (load it yourself to read other files)"
        )
    where = _where(value)
    try:
        if feature.mode is None and value.get("bytes") is not None:
            return _read_bytes(value["bytes"], Path(value.get("path") or "image").suffix, where)
        if feature.mode is None and os.path.isfile(value["path"]):
            return read_restorable(value["path"]).pixels
        return feature.decode_example(value)
    # ImportError: an http(s) path, which `datasets` fetches through fsspec's HTTP support (requests, aiohttp).
    except (OSError, ValueError, SyntaxError, ImportError, Image.DecompressionBombError) as err:
        why = str(err).removeprefix(f"{where}: ")  # the reader's messages start with the file, named here already
        raise ValueError(f"{_row_name(value, row)} cannot be decoded: {why}") from err


def _where(value: dict[str, Any] | None) -> str:
    """Where a row's image came from, for a message (`shown_name`): its file, or the dataset's stored bytes."""
    return shown_name((value or {}).get("path") or "its stored bytes")


def _row_name(value: dict[str, Any] | None, row: int) -> str:
    """A row's image, as messages name it: "row 3 of the dataset (scans/a.tif)"."""
    return f"row {row} of the dataset ({_where(value)})"


def _read_bytes(data: bytes, suffix: str, where: str) -> Image.Image | np.ndarray:
    """An image file's bytes, read by `read_restorable` (which reads files) from a temporary file; its errors and
    warnings name `where`, not that file."""
    import tempfile

    from .reader_logs import named_as

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"image{suffix}"
        path.write_bytes(data)
        try:
            with named_as(path, where):
                return read_restorable(path).pixels
        except ValueError as err:
            raise ValueError(str(err).replace(str(path), where)) from None


def _rows_restored(parts: Iterable[tuple[tuple[int, int, str], Path | None]]) -> int:
    """The rows of the (part, file) pairs whose file exists: restored by an earlier run."""
    return sum(stop - start for (start, stop, _), file in parts if file and file.exists())


def concatenated(parts: list[datasets.Dataset]) -> datasets.Dataset:
    """The parts as one dataset (the one part itself, not a copy)."""
    import datasets

    return parts[0] if len(parts) == 1 else datasets.concatenate_datasets(parts)


def _plan_parts(
    dataset: datasets.Dataset, restorer: SwinIRRestorer, options: tuple, rows_per_part: int
) -> list[tuple[int, int, str]]:
    """The parts' rows and fingerprints: (start, stop, fingerprint), one empty part for an empty dataset."""
    from datasets.fingerprint import Hasher

    whole = Hasher.hash((dataset._fingerprint, pixels_fingerprint(restorer, options)))
    rows = len(dataset)
    bounds = [(start, min(start + rows_per_part, rows)) for start in range(0, max(rows, 1), rows_per_part)]
    return [(start, stop, Hasher.hash((whole, start, stop))) for start, stop in bounds]


def pixels_fingerprint(restorer: SwinIRRestorer, options: tuple) -> str:
    """A hash of all that makes a restored image's pixels besides its input: the model's config and weights (never
    the object itself, which `datasets` would pickle), every engine option that changes pixels (each is the
    restorer's attribute of that name), `options`, and the form of the values written (`VALUES_FORM`)."""
    from datasets.fingerprint import Hasher

    # The default padding left out, as hashed before the option existed: an earlier version's stopped run resumes.
    unhashed = ("device", "tiles_per_pass", *(["padding"] if restorer.padding == "model" else []))
    pixels = {f.name: getattr(restorer, f.name) for f in fields(EngineOptions) if f.name not in unhashed}
    return Hasher.hash((model_fingerprint(restorer.model), pixels, options, VALUES_FORM))

"""A streamed dataset (`datasets.IterableDataset`, as `load_dataset(..., streaming=True)` gives: rows read as they
are needed, nothing downloaded first) restored as it is read: lazily, into a stream (`StreamRestoration.lazily`),
or in parts of `ROWS_PER_PART` rows written to files as `dataset_restoration` writes a `Dataset`'s, so that a stopped
run keeps what it finished (`swinir-hf restore --dataset ... --streaming`).

A stream has no fingerprint and, often, no length, so a part's file is named by what it holds: its first row, a
fingerprint of the model and options (the same for all parts of a run: the parts of another are told at once) and
one of its own rows as read (images by their bytes, or by path, size and modification time for local files).
A rerun reads the stream again and takes every part whose file is there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..console import note, shown_name
from ..library_bars import datasets_bars_off
from ..progress_lines import progress_bar
from . import dataset_restoration
from .dataset_restoration import (
    DatasetRestoration,
    checked_columns,
    concatenated,
    pixels_fingerprint,
)
from .parts_folder import clear_parts_folder

if TYPE_CHECKING:
    import datasets

    from .restoration import SwinIRRestorer


def plan_stream_restoration(
    stream: datasets.IterableDataset,
    restorer: SwinIRRestorer,
    column: str | None,
    output_column: str | None,
    outscale: float | None,
    model_name: str,
    parts_dir: str | os.PathLike | None,
    batch_size: int,
) -> StreamRestoration:
    """`dataset_restoration.plan_restoration` for a stream (the same arguments, checked alike)."""
    column, output_column, features = checked_columns(stream, column, output_column, outscale, batch_size)
    rows = -(-dataset_restoration.ROWS_PER_PART // batch_size) * batch_size
    run = pixels_fingerprint(restorer, (model_name, outscale, column, output_column))
    folder = Path(parts_dir) if parts_dir is not None else None
    args = (stream, restorer, column, output_column, outscale, batch_size, features, [], [])
    return StreamRestoration(*args, folder=folder, rows_per_part=rows, run=run[:16])


def restored_stream(
    stream: datasets.IterableDataset,
    restorer: SwinIRRestorer,
    column: str | None,
    output_column: str | None,
    outscale: float | None,
    batch_size: int,
) -> datasets.IterableDataset:
    """`stream` with the images of `column` restored as its rows are read (`restore_dataset` without parts)."""
    return plan_stream_restoration(stream, restorer, column, output_column, outscale, "", None, batch_size).lazily()


@dataclass
class StreamRestoration(DatasetRestoration):
    """A stream's restoration in parts, in `DatasetRestoration`'s steps. Its parts and their files are known once
    the stream is read: `restore` lists them all (in `parts` and `files`), on every process."""

    folder: Path | None = None
    rows_per_part: int = dataset_restoration.ROWS_PER_PART
    run: str = ""  # the model's and options' fingerprint, in every part's name

    @property
    def identity(self) -> str | None:
        return None  # not known before the stream is read

    def lazily(self) -> datasets.IterableDataset:
        """The stream, its images restored as its rows are read (`batch_size` at a time)."""
        restore = partial(self._restore_batch, start=0, bar=None)
        mapped = self._undecoded().map(_unnamed(restore), batched=True, batch_size=self.batch_size, with_indices=True)
        return mapped.cast(self.features)  # every image column decoded, as the stream's own were

    def prepare(self) -> int:
        """Make the parts' folder and remove what runs left in it that is not a part of this model and these
        options (another run's, a stopped write's: `clear_parts_folder`), saying so; say how many rows an interrupted
        run restored already (in parts of this run: those of rows that have changed since are restored anew), and
        return that count."""
        folder = self._parts_folder()
        ours = set(folder.glob(f"part-*-{self.run}-*.arrow"))
        if clear_parts_folder(folder, ours):
            note(f"{shown_name(folder)} held the parts of a run with another model or options: restoring anew")
        done = sum(_read(path).num_rows for path in ours)  # whole: written aside, then renamed
        if done:
            note(f"going on from an interrupted run: {done} images were restored")
        return done

    def restore(self, share: tuple[int, int] = (0, 1), progress: bool = True) -> list[datasets.Dataset]:
        """Read the whole stream, and restore the parts of this share, (index, count): every count-th part from the
        index-th, a part whose file exists read from it. → the share's parts, in order (one empty dataset for an
        empty stream). `progress`: a bar over the share's rows."""
        import datasets

        index, count = share
        folder = self._parts_folder()
        self.parts, self.files, mine = [], [], []
        bars = not datasets.are_progress_bars_disabled()  # else lines (`--no-progress`, no terminal)
        total = self._length() if count == 1 else None
        with progress_bar(progress, bars, total=total, desc="restore", unit="image") as bar, datasets_bars_off():
            for number, batch in enumerate(self._undecoded().iter(batch_size=self.rows_per_part)):
                start = number * self.rows_per_part
                fingerprint = self._part_fingerprint(batch)
                self.parts.append((start, start + len(batch[self.column]), fingerprint))
                self.files.append(folder / f"part-{start:09d}-{self.run}-{fingerprint[:16]}.arrow")
                if number % count == index:
                    mine.append(self._part(batch, start, self.files[-1], bar))
        return mine or [self._empty()]

    def assemble(self) -> datasets.Dataset:
        """The restored dataset, every part read from its file (after `restore` of every share).

        Raises:
            FileNotFoundError: a part is missing (it was never restored, or was removed).
        """
        if missing := [str(file) for file in self.files if not file.exists()]:
            raise FileNotFoundError(f"the restored parts {', '.join(missing)} are missing: run the restoration again")
        return concatenated([_read(file) for file in self.files] or [self._empty()])

    def _part(self, batch: dict[str, list], start: int, file: Path, bar: Any) -> datasets.Dataset:
        """The part of `batch`'s rows (from row `start`) restored into `file`, `batch_size` rows at a time, unless
        that file exists."""
        rows = len(batch[self.column])
        if file.exists():
            bar.update(rows)
            return _read(file)
        restored: list = []
        for first in range(0, rows, self.batch_size):
            some = {self.column: batch[self.column][first : first + self.batch_size]}
            rows_of_some = range(start + first, start + first + len(some[self.column]))
            restored += self.restored(some, rows_of_some, bar)[self.output_column]
        _write(file, self.features, {**batch, self.output_column: restored})
        return _read(file)

    def _undecoded(self) -> datasets.IterableDataset:
        """The stream with its images undecoded: the column's are decoded by `restored` (naming a row that cannot
        be), the other image columns' kept as they are stored."""
        import datasets

        stream = self.dataset
        for name, feature in self.dataset.features.items():
            if isinstance(feature, datasets.Image):
                stream = stream.cast_column(name, datasets.Image(mode=feature.mode, decode=False))
        return stream

    def _part_fingerprint(self, batch: dict[str, list]) -> str:
        from datasets.fingerprint import Hasher

        return Hasher.hash((self.run, {name: [_identity(value) for value in values] for name, values in batch.items()}))

    def _parts_folder(self) -> Path:
        if self.folder is None:
            raise ValueError("a stream is restored in parts only into a folder of parts (parts_dir)")
        return self.folder

    def _length(self) -> int | None:
        """The stream's rows, where its dataset's info says (a Hub dataset's card); else None."""
        splits, split = self.dataset.info.splits, self.dataset.split
        return splits[str(split)].num_examples if splits and split is not None and str(split) in splits else None

    def _empty(self) -> datasets.Dataset:
        import datasets

        return datasets.Dataset.from_dict({name: [] for name in self.features}, features=self.features)


def _unnamed(restore: Callable[..., dict[str, list]]) -> Callable[..., dict[str, list]]:
    """`restore` with its images' file names dropped: a stream's rows are encoded again as they are read, where
    {"bytes", "path": "a.png"} would be read from an a.png in the working folder (`datasets.Image.encode_example`)."""

    def unnamed(*args: Any, **kwargs: Any) -> dict[str, list]:
        restored = restore(*args, **kwargs)
        return {name: [v and {**v, "path": None} for v in values] for name, values in restored.items()}

    return unnamed


def _identity(value: Any) -> Any:
    """A stored value as a part's fingerprint takes it: an image by its bytes, or a local file by its path, size and
    modification time (a changed file is restored anew); anything else as it is."""
    if not (isinstance(value, dict) and set(value) == {"bytes", "path"}):
        return value
    if value["bytes"] is not None or value["path"] is None:
        return value["bytes"]
    try:
        stat = os.stat(value["path"])
    except OSError:  # not a local file (a URL: it names its revision)
        return value["path"]
    return value["path"], stat.st_size, stat.st_mtime_ns


def _write(file: Path, features: datasets.Features, rows: dict[str, list]) -> None:
    """`rows` written to the Arrow file `file` (the format `Dataset.map` writes), whole or not at all."""
    import datasets
    from datasets.arrow_writer import ArrowWriter

    # Image values are stored ones already (`_undecoded`, `dataset_values.dataset_image`): encoding {"bytes",
    # "path": "a.png"} would keep the path alone where the working folder holds an a.png, losing the bytes.
    others = datasets.Features({name: f for name, f in features.items() if not isinstance(f, datasets.Image)})
    encoded = others.encode_batch({name: values for name, values in rows.items() if name in others})
    aside = file.with_name(file.name + ".tmp")  # a stopped write's: removed by the next `prepare`
    with ArrowWriter(features=features, path=str(aside)) as writer:
        writer.write_batch({name: encoded.get(name, values) for name, values in rows.items()})
        writer.finalize()
    os.replace(aside, file)


def _read(file: Path) -> datasets.Dataset:
    import datasets

    return datasets.Dataset.from_file(str(file))

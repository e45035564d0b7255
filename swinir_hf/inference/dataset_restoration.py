"""A `datasets` dataset restored through `Dataset.map`, in parts of `ROWS_PER_PART` rows that are each written to a
file of their own as they finish: a run stopped part-way keeps the parts it finished, and the same call again maps
only the rest. Each part's name carries a fingerprint of everything that makes its pixels (the dataset, the model's
config and weights, the engine's options, the rows), so a part of another run is never taken for this one's.

Its command line is `swinir-hf restore --dataset` (`collection_cli`), which keeps the parts in `-o/PARTS_FOLDER`
until the whole dataset is saved.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checkpoints.fingerprint import model_fingerprint
from ..image_datasets import image_columns
from .jobs import check_outscale
from .options import EngineOptions

if TYPE_CHECKING:
    from collections.abc import Iterator

    import datasets
    from PIL import Image

    from .restoration import SwinIRRestorer

# Where `restore --dataset` keeps the parts of a run until the dataset is saved (a hidden folder inside -o).
PARTS_FOLDER = ".restored-parts"
# A stopped run loses at most one part; each part costs a `map` call and a file (a few ms: benchmarks/README.md).
ROWS_PER_PART = 16


def restore_dataset(
    dataset: datasets.Dataset,
    restorer: SwinIRRestorer,
    *,
    column: str | None = None,
    output_column: str | None = None,
    outscale: float | None = None,
    model_name: str = "",
    parts_dir: str | os.PathLike | None = None,
) -> datasets.Dataset:
    """A new dataset whose `output_column` (default: `column`, replaced) holds each image of `column` (default:
    the first `datasets.Image` column) restored; other columns are kept. Made of memory-mapped parts: save it
    (`save_to_disk`) before removing `parts_dir`.

    Args:
        parts_dir: the folder for the parts' Arrow files (made if needed). The parts this call would write that are
            there already (an interrupted call's) are taken as they are; any other file there is removed. None: one
            part, cached by `datasets` as any map of a dataset read from files (a stop loses it).
        model_name: the model's name, part of the fingerprint with its config and weights (a name alone is no
            model: two of one scale, or one retrained in place).

    Raises:
        ValueError: `outscale` is not a positive number (the `--outscale` message), or `column` is not an image
            column; before any image is restored.
    """
    import datasets
    from tqdm.auto import tqdm

    check_outscale(outscale)  # as `swinir-hf restore --outscale` checks it, before any image is restored
    columns = image_columns(dataset)
    column = column or (columns[0] if columns else None)
    if column not in columns:
        raise ValueError(f"{column!r} is not an image column of the dataset (image columns: {columns})")
    output_column = output_column or column
    features = dataset.features.copy()
    features[output_column] = datasets.Image()
    # Without a folder of their own, parts would each leave a file in `datasets`' cache (beside a save_to_disk
    # dataset's files): one map, as any.
    rows = ROWS_PER_PART if parts_dir is not None else max(len(dataset), 1)
    parts = _plan_parts(dataset, restorer, (model_name, outscale, output_column), rows)
    files = _part_files(parts, parts_dir)
    done = sum(stop - start for (start, stop, _), file in zip(parts, files, strict=True) if file and file.exists())
    if done:
        print(f"going on from an interrupted run: {done} of {len(dataset)} images were restored", file=sys.stderr)
    bars_off = datasets.are_progress_bars_disabled()  # `swinir-hf restore --no-progress`
    bar = tqdm(total=len(dataset), initial=done, desc="restore", unit="image", disable=bars_off)

    def fn(example: dict[str, Any]) -> dict[str, Any]:
        image = _dataset_image(restorer(example[column], outscale))
        bar.update()
        return {output_column: image}

    with bar, _datasets_bars_off():
        restored = [
            # One row per write: `map` would hold 1000 restored images (288 MB each for a 3000×2000 input ×4) before
            # encoding and writing them, so memory grew with the dataset.
            dataset.select(range(start, stop)).map(
                fn,
                features=features,
                new_fingerprint=fingerprint,
                writer_batch_size=1,
                cache_file_name=file and str(file),
                load_from_cache_file=True if file else None,
            )
            for (start, stop, fingerprint), file in zip(parts, files, strict=True)
        ]
    return restored[0] if len(restored) == 1 else datasets.concatenate_datasets(restored)


def _plan_parts(
    dataset: datasets.Dataset, restorer: SwinIRRestorer, options: tuple, rows_per_part: int
) -> list[tuple[int, int, str]]:
    """The parts' rows and fingerprints: (start, stop, fingerprint), one empty part for an empty dataset."""
    from datasets.fingerprint import Hasher

    # Every engine option that changes the pixels (each is the restorer's attribute of that name) is hashed; the
    # model by its config and weights (never the object itself, which `datasets` would pickle).
    unhashed = ("device", "batch_size")
    pixels = {f.name: getattr(restorer, f.name) for f in fields(EngineOptions) if f.name not in unhashed}
    whole = Hasher.hash((dataset._fingerprint, model_fingerprint(restorer.model), pixels, options))
    rows = len(dataset)
    bounds = [(start, min(start + rows_per_part, rows)) for start in range(0, max(rows, 1), rows_per_part)]
    return [(start, stop, Hasher.hash((whole, start, stop))) for start, stop in bounds]


def _part_files(parts: list[tuple[int, int, str]], parts_dir: str | os.PathLike | None) -> list[Path | None]:
    """Each part's file in `parts_dir` (made if needed; every other file in it removed), or None each."""
    if parts_dir is None:
        return [None] * len(parts)
    folder = Path(parts_dir)
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"part-{start:09d}-{fingerprint[:16]}.arrow" for start, _, fingerprint in parts]
    keep = {file.name for file in files}
    # Parts of a run with another dataset, model or options, and the temporary file of a map that was stopped.
    others = [path for path in folder.iterdir() if path.name not in keep]
    if any(path.name.startswith("part-") for path in others):
        print(
            f"{folder} held the parts of a run with another dataset, model or options: restoring anew",
            file=sys.stderr,
        )
    for path in others:
        path.unlink()
    return files


@contextmanager
def _datasets_bars_off() -> Iterator[None]:
    """No bar per part from `map`: the call shows one over the whole dataset."""
    import datasets

    was_on = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_on:
            datasets.enable_progress_bars()


def _dataset_image(image: Image.Image | np.ndarray) -> Image.Image | dict[str, Any]:
    """A restorer's result as a `datasets.Image` value: a PIL image as it is; an array (a 16-bit grey PNG's
    colour key made its alpha: (H, W, 2) uint16, for which Pillow has no mode, so `datasets` would wrap its levels to
    8 bits) as the bytes of the 16-bit PNG `swinir-hf restore` writes for it."""
    if not isinstance(image, np.ndarray):
        return image
    import tempfile

    from .image_writing import write_image

    with tempfile.TemporaryDirectory() as folder:
        write_image(Path(folder) / "restored.png", image)
        return {"bytes": (Path(folder) / "restored.png").read_bytes(), "path": None}

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
from PIL import Image

from ..checkpoints.fingerprint import model_fingerprint
from ..image_datasets import image_columns
from .jobs import check_outscale
from .options import EngineOptions

if TYPE_CHECKING:
    from collections.abc import Iterator

    import datasets

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
    batch_size: int = 1,
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
        batch_size: up to this many consecutive images of one size through one forward pass
            (`SwinIRRestorer.restore_images`); parts are then a multiple of it long, so that a batch is never cut.

    Raises:
        ValueError: `outscale` is not a positive number (the `--outscale` message), `column` is not an image
            column, or `batch_size` is not a count; before any image is restored.
    """
    import datasets
    from tqdm.auto import tqdm

    check_outscale(outscale)  # as `swinir-hf restore --outscale` checks it, before any image is restored
    if not (isinstance(batch_size, int) and not isinstance(batch_size, bool) and batch_size >= 1):
        raise ValueError(f"batch_size must be an int ≥ 1, got {batch_size!r}")
    columns = image_columns(dataset)
    column = column or (columns[0] if columns else None)
    if column not in columns:
        raise ValueError(f"{column!r} is not an image column of the dataset (image columns: {columns})")
    output_column = output_column or column
    features = dataset.features.copy()
    features[output_column] = datasets.Image()
    # Without a folder of their own, parts would each leave a file in `datasets`' cache (beside a save_to_disk
    # dataset's files): one map, as any.
    rows = -(-ROWS_PER_PART // batch_size) * batch_size if parts_dir is not None else max(len(dataset), 1)
    parts = _plan_parts(dataset, restorer, (model_name, outscale, output_column), rows)
    files = _part_files(parts, parts_dir)
    done = sum(stop - start for (start, stop, _), file in zip(parts, files, strict=True) if file and file.exists())
    if done:
        print(f"going on from an interrupted run: {done} of {len(dataset)} images were restored", file=sys.stderr)
    bars_off = datasets.are_progress_bars_disabled()  # `swinir-hf restore --no-progress`
    bar = tqdm(total=len(dataset), initial=done, desc="restore", unit="image", disable=bars_off)

    def fn(batch: dict[str, list]) -> dict[str, list]:
        restored = [image for run in _same_size_runs(batch[column]) for image in restorer.restore_images(run, outscale)]
        bar.update(len(restored))
        return {output_column: [_dataset_image(image) for image in restored]}

    with bar, _datasets_bars_off():
        restored = [
            # One batch per write: `map` would hold 1000 restored images (288 MB each for a 3000×2000 input ×4)
            # before encoding and writing them, so memory grew with the dataset.
            dataset.select(range(start, stop)).map(
                fn,
                batched=True,
                batch_size=batch_size,
                features=features,
                new_fingerprint=fingerprint,
                writer_batch_size=batch_size,
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


def _same_size_runs(images: list[Any]) -> Iterator[list[Any]]:
    """`images` cut into runs of consecutive images of one size (W, H); anything else (not an image: refused by
    `restore_images`) in a run of its own."""
    run: list[Any] = []
    for image in images:
        size = _size(image)
        if run and (size is None or size != _size(run[0])):
            yield run
            run = []
        run.append(image)
    if run:
        yield run


def _size(image: Any) -> tuple[int, int] | None:
    """A PIL image's or (H, W[, C]) array's (W, H); None for anything else."""
    if isinstance(image, np.ndarray):
        return tuple(image.shape[1::-1])
    return image.size if isinstance(image, Image.Image) else None


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

"""A dataset's stored image values (`datasets.Image`'s `{"bytes", "path"}`) as `restore --dataset` reads and writes
them: whether a row holds an image, which rows hold none, and a restored image as the value stored for it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..storage.paths import portable_name

if TYPE_CHECKING:
    import datasets


def has_image(value: dict[str, Any] | None) -> bool:
    """Whether a stored `datasets.Image` value holds an image (its bytes, or a path)."""
    return value is not None and (value.get("bytes") is not None or value.get("path") is not None)


# Where a chained path (`zip://a.png::hf://...`) may fetch its data from besides a local folder: the Hub, the web.
_REMOTE = ("hf", "http", "https")


def local_path_outside(path: str, folders: tuple[Path, ...] | None) -> str | None:
    """A stored value's `path` if its data would be read from this machine outside every folder of `folders` (not
    None), else None. A chain's last part is where (`zip://a.png::/home/me/x.zip` reads x.zip); a remote one is
    not on this machine."""
    if folders is None:
        return None
    location = path.split("::")[-1]
    protocol, _, rest = location.rpartition("://")
    if protocol in _REMOTE:
        return None
    resolved = Path(rest if protocol == "file" else location).resolve()
    return None if any(resolved.is_relative_to(folder) for folder in folders) else path


def rows_without_image(dataset: datasets.Dataset, column: str) -> list[int]:
    """The rows of `dataset` whose image `column` holds no image (None, or neither bytes nor path), read from its
    Arrow table: no image is decoded, nor its bytes copied."""
    import pyarrow.compute as pc

    stored, data, path = _stored(dataset, column)
    empty = pc.or_(stored.is_null(), pc.and_(data.is_null(), path.is_null())).to_pylist()
    return [row for row, none in enumerate(empty) if none]


def first_row_outside(dataset: datasets.Dataset, column: str, folders: tuple[Path, ...]) -> tuple[int, str] | None:
    """(row, path) of the first row of `dataset` whose image `column` names a file of this machine outside `folders`
    instead of holding its bytes (`local_path_outside`), read from its Arrow table; None where there is none."""
    import pyarrow.compute as pc

    _, data, path = _stored(dataset, column)
    paths = pc.if_else(data.is_null(), path, None).to_pylist()  # the paths of the rows without bytes
    return next(((row, p) for row, p in enumerate(paths) if p and local_path_outside(p, folders)), None)


def _stored(dataset: datasets.Dataset, column: str) -> tuple[Any, Any, Any]:
    """The stored values of an image `column` as Arrow arrays: (values, their bytes, their paths)."""
    import datasets
    import pyarrow.compute as pc

    table = dataset.select_columns([column]).cast_column(column, datasets.Image(decode=False))
    stored = table.with_format("arrow")[column]
    return stored, pc.struct_field(stored, "bytes"), pc.struct_field(stored, "path")


def dataset_image(image: Image.Image | np.ndarray, source: dict[str, Any]) -> dict[str, Any]:
    """A restorer's result as a `datasets.Image` value: the bytes of the file `datasets` would store for it (PNG;
    TIFF for a mode PNG cannot hold), or, for an array (a 16-bit grey PNG's colour key made its alpha: (H, W, 2)
    uint16, for which Pillow has no mode, so `datasets` would wrap its levels to 8 bits), of the 16-bit PNG
    `swinir-hf restore` writes for it. Named as the `source` value's file, with the suffix of that format (a name
    alone, never a path: `datasets` would read a file there instead of the bytes)."""
    import io
    import tempfile

    from datasets.features.image import image_to_bytes

    from .image_writing import write_image

    if isinstance(image, np.ndarray):
        with tempfile.TemporaryDirectory() as folder:
            write_image(Path(folder) / "restored.png", image)
            data = (Path(folder) / "restored.png").read_bytes()
    else:
        data = image_to_bytes(image)
    if not source.get("path"):
        return {"bytes": data, "path": None}
    suffix = "." + Image.open(io.BytesIO(data)).format.lower()  # PNG or TIFF: as `datasets` chose, from the header
    # The base name of a local path (Windows' too), a URL, or a chained one (zip://a.png::https://...); a name
    # alone that any system takes (`..\\..\\x.png` is `x.png`).
    name = Path(re.split(r"[/\\]", source["path"].split("::")[0].rstrip("/\\"))[-1]).stem
    return {"bytes": data, "path": portable_name(name) + suffix}

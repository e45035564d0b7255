"""A model folder's weights files, read without loading them: the two safetensors layouts (`WEIGHTS_LAYOUTS`), the
files and shards of one (`safetensors_files`, `shard_problem`), the stored tensors' dtypes and sizes from their headers
(`stored_tensors`), a zip-format torch file's declared size (`inflated_problem`), and a save's removal of an earlier
save's weights in the other layout (`replacing_other_layout`). What loading checks against them is
`loading_swinir`'s."""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path

import torch

# The two layouts of safetensors weights: one file, or shards named by an index.
WEIGHTS_LAYOUTS = ("model.safetensors", "model.safetensors.index.json")


def safetensors_files(folder: Path) -> list[Path] | None:
    """A local folder's safetensors weights: its single file, or the shards its index names; None when it has
    neither (another format, or not a local folder).

    Raises:
        ValueError, KeyError, OSError: an index that cannot be read.
    """
    single, index = (folder / name for name in WEIGHTS_LAYOUTS)
    if index.is_file():
        return sorted({folder / name for name in json.loads(index.read_text())["weight_map"].values()})
    return [single] if single.is_file() else None


def shard_problem(folder: Path) -> str | None:
    """What is wrong with the shards a local folder's safetensors index names (one missing, or outside the folder:
    transformers raised a bare `FileNotFoundError`, or a `ValueError` taken for the config's), in words; None if
    nothing is, or the folder has no readable index."""
    try:  # (a single file is named only where it exists: nothing to say of it)
        files = safetensors_files(folder)
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return None  # an unreadable index: `_readable_weights` names it
    for file in files or ():
        # By the names alone: a Hub cache's snapshot holds symlinks into its blobs, which are the folder's own files.
        named = os.path.relpath(os.path.normpath(file), os.path.normpath(folder))
        if named == os.pardir or named.startswith(os.pardir + os.sep):
            return f"its weights index names {file.relative_to(folder)}, outside the folder"
        if not file.is_file():
            return f"its weights index names {file.relative_to(folder)}, which is missing"
    return None


# torch.save stores a checkpoint's zip entries uncompressed, so they add up to less than the file: entries declaring
# more than this many times its size (and more than the floor) are compressed, and torch.load would unpack them whole
# into memory (a 0.6 MB file took 1.5 GB; one of a few MB could take all a machine has).
_INFLATION = 4
_INFLATED_FLOOR = 64 * 2**20


def inflated_problem(file: Path) -> str | None:
    """Why a zip-format torch file (an authors' `.pth`, a `pytorch_model.bin`) is refused before torch reads it, in
    words: a decompression bomb, its entries declaring far more bytes than it holds. None for any other file (a
    legacy pickle, a damaged zip: torch's reader reports those)."""
    import zipfile

    try:
        with zipfile.ZipFile(file) as archive:
            declared = sum(info.file_size for info in archive.infolist())
        size = file.stat().st_size
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    if declared <= max(_INFLATION * size, _INFLATED_FLOOR):
        return None
    return (
        f"its compressed entries unpack to {declared:,} bytes from a file of {size:,} (torch.save writes them "
        "uncompressed): a decompression bomb, not loaded"
    )


def stored_tensors(folder: Path) -> dict[str, tuple[str, int]] | None:
    """Name → (safetensors dtype, number of values) of a local folder's safetensors weights (`safetensors_files`),
    from their headers, or of its pytorch_model.bin (memory-mapped: no value read); None when it has neither."""
    from safetensors import SafetensorError, safe_open

    try:
        if (files := safetensors_files(folder)) is None:
            return _pickled_tensors(folder / "pytorch_model.bin")
        stored = {}
        for file in files:
            with safe_open(file, framework="pt") as weights:
                for key in weights.keys():  # noqa: SIM118
                    tensor = weights.get_slice(key)
                    stored[key] = (tensor.get_dtype(), math.prod(tensor.get_shape()))
        return stored
    except (OSError, ValueError, KeyError, SafetensorError):
        return None  # damaged: `_readable_weights` reports it


# safetensors' names of the floating-point dtypes; integer or boolean weights would be cast to floats and load.
FLOAT_TENSORS = ("F16", "BF16", "F32", "F64")
_TORCH_FLOATS = dict(zip((torch.float16, torch.bfloat16, torch.float32, torch.float64), FLOAT_TENSORS, strict=True))


def _pickled_tensors(file: Path) -> dict[str, tuple[str, int]] | None:
    """`stored_tensors` of a pytorch_model.bin (zip format, mapped, weights only); None without one, or unreadable
    that way (`from_pretrained` reports it)."""
    if not file.is_file():
        return None
    try:
        state = torch.load(file, map_location="cpu", mmap=True, weights_only=True)
    except Exception:  # noqa: BLE001 (torch.load fails with many types on a damaged or legacy file)
        return None
    if not isinstance(state, dict):
        return None
    return {k: (_TORCH_FLOATS.get(v.dtype, str(v.dtype)), v.numel()) for k, v in state.items() if torch.is_tensor(v)}


def _with_variant(name: str, variant: str | None) -> str:
    """transformers' file name of a weights `variant` (`model.fp16.safetensors`)."""
    if variant is None:
        return name
    stem, suffix = name.rsplit(".", 1)
    return f"{stem}.{variant}.{suffix}"


def _file_id(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime ns, size) of a file, None if there is none: tells a file rewritten by a save from an old one."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


@contextlib.contextmanager
def replacing_other_layout(folder: Path, variant: str | None) -> Iterator[None]:
    """Around a save into `folder`: once it has written its weights in one layout (one file, or shards), an earlier
    save's weights in the other are removed; transformers deletes old shards but not an old single file, which
    loading prefers to the new shards' index."""
    layouts = [folder / _with_variant(name, variant) for name in WEIGHTS_LAYOUTS]
    before = {path: _file_id(path) for path in layouts}
    yield
    if any(_file_id(path) not in (None, before[path]) for path in layouts):  # this save wrote one of them
        for path in layouts:
            if before[path] is not None and _file_id(path) == before[path]:
                path.unlink()

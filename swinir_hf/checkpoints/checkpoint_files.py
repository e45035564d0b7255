"""Reading a checkpoint file (`.pth` with `weights_only=True`, or safetensors) into a dict, and saying in one line,
naming the file, why one cannot be read: torch's own messages span paragraphs and quote its internals."""

from __future__ import annotations

import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..console import shown_name
from ..models.weight_files_swinir import inflated_problem


class CheckpointError(ValueError):
    """A file or state dict that is not a loadable SwinIR checkpoint."""


def load_state_dict_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a `.pth` (with `weights_only=True`) or `.safetensors` file into a dict, with errors that name the file."""
    path = Path(path)
    shown = shown_name(path)
    if path.is_dir():  # a model folder, most likely: it needs no conversion
        raise CheckpointError(
            f"checkpoint {shown} is a folder: give a .pth / .safetensors file of the authors' layout (a model folder "
            "loads as it is: --model FOLDER, from_pretrained(FOLDER))"
        )
    if not path.is_file():
        raise CheckpointError(f"checkpoint {shown} does not exist or is not a file")
    if path.suffix.lower() == ".safetensors" or _is_safetensors(path):  # a copy renamed .pth reads as what it is
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path)
        except (SafetensorError, OSError, ValueError) as err:
            raise CheckpointError(f"{shown} is not a readable safetensors file (truncated or corrupt?): {err}") from err
    if why := inflated_problem(path):  # torch.load would unpack it whole into memory
        raise CheckpointError(f"{shown} is not a readable PyTorch checkpoint: {why}")
    try:
        with warnings.catch_warnings():  # the error below says what is wrong, in one line
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the unpickler fails on damaged data with almost any exception type
        raise CheckpointError(_unreadable(path, err)) from err
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{shown} holds a {type(obj).__name__}, not a state dict")
    return dict(obj)


def _is_safetensors(path: Path) -> bool:
    """Whether `path` starts as a safetensors file does: an 8-byte little-endian header length, then its JSON."""
    with path.open("rb") as file:
        head = file.read(9)
    return len(head) == 9 and head[8:] == b"{" and 2 <= int.from_bytes(head[:8], "little") <= path.stat().st_size


def refused_global(err: Exception) -> str | None:
    """The Python object (`posix.system`) that `torch.load(..., weights_only=True)` refused to unpickle, from its
    error (worded differently by torch versions), or None for another failure."""
    if not isinstance(err, pickle.UnpicklingError):
        return None
    found = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) (\S+)", str(err))
    return found[1] if found else None


# The start of files mistaken for checkpoints → what they are.
_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"\xfd7zXZ": "an xz archive",
    b"%PDF": "a PDF document",
    b"<": "an HTML / XML page (a download's error page?)",
}


def _file_kind(head: bytes) -> str:
    """What a file that starts with `head` is, in words, without quoting it: the demo says this to remote users of
    a path they gave, whose contents are not theirs to read."""
    for signature, kind in _SIGNATURES.items():
        if head.lstrip().startswith(signature):
            return kind
    if all(32 <= byte < 127 or byte in b"\t\n\r" for byte in head):
        return "a text file"
    return "another kind of file"


def _unreadable(path: Path, err: Exception) -> str:
    """Why `torch.load(path, weights_only=True)` failed, in one line (torch's own messages span paragraphs)."""
    text, shown = str(err), shown_name(path)
    if found := refused_global(err):
        return (
            f"{shown} holds Python objects other than tensors ({found}), which are not "
            "unpickled because that could run code; if you trust the file, re-save its weights alone: "
            "obj = torch.load(file, weights_only=False); torch.save(obj.state_dict() if isinstance(obj, "
            "torch.nn.Module) else obj['params'], 'weights.pth')"
        )
    with path.open("rb") as file:
        head = file.read(64)
    if head and not head.startswith((b"PK", b"\x80")):  # torch.save's zip archive, or its legacy pickle
        return f"{shown} is not a readable PyTorch checkpoint: it is {_file_kind(head)}, not a file torch.save writes"
    if head.startswith(b"PK") and (why := _other_zip(path)):
        return f"{shown} is not a readable PyTorch checkpoint: {why}"
    if head.startswith(b"\x80") and len(head) > 1 and head[1] > 2:  # torch.save's legacy format is protocol 2
        why = f"it is a pickle of protocol {head[1]}, as pickle.dump writes, not torch.save"
        return f"{shown} is not a readable PyTorch checkpoint: {why} (save the weights with torch.save)"
    text = text.rpartition("WeightsUnpickler error:")[2]  # what is wrong, after torch's advice on weights_only
    if not text.strip():
        text = "empty file" if path.stat().st_size == 0 else type(err).__name__
    reason = text.strip().splitlines()[0].split(". This is an internal")[0]  # not miniz's advice on its bugs
    return f"{shown} is not a readable PyTorch checkpoint (truncated, corrupt, or not a checkpoint): {reason}"


def _other_zip(path: Path) -> str | None:
    """What a zip archive that torch.save did not write is (every torch.save archive holds a `*/data.pkl`), or None
    for one that is torch's, or unreadable as a zip (cut short: said as truncated)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return None
    if any(name.endswith("data.pkl") for name in names):
        return None
    inside = [name for name in names if name.lower().endswith((".pth", ".pt", ".ckpt", ".safetensors"))]
    what = f"unpack it and give its {inside[0]}" if inside else "unpack it and give the checkpoint it holds"
    return f"it is a zip archive, not one torch.save writes (it holds no data.pkl): {what}"

"""The file system's limits on names (`NAME_MAX`, `PATH_MAX`, `check_name_lengths`), a name made from text that
every system takes (`portable_name`), whether it tells names apart by case (`folds_case`), and where a path not yet
made would be created (`nearest_existing`)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..console import shown_name

# The longest file name, in bytes, that common file systems take (ext4, XFS, Btrfs, NTFS, APFS).
NAME_MAX = 255
# The longest path, in bytes with its terminating NUL, that Linux's system calls take (macOS': 1024).
PATH_MAX = os.pathconf("/", "PC_PATH_MAX") if hasattr(os, "pathconf") else 4096


def check_name_lengths(path: str | os.PathLike, what: str) -> None:
    """Raise ValueError when a name in `path` is over NAME_MAX bytes, or the whole path (made absolute) PATH_MAX
    (the system would refuse even to look it up, with an OSError); `what` names the path in the message ("input",
    "output folder")."""
    longest = max((len(os.fsencode(part)) for part in Path(path).parts), default=0)
    if longest > NAME_MAX:
        raise ValueError(
            f"{what} {shown_name(path)}: a name in it is {longest} bytes, more than the {NAME_MAX} a file name may have"
        )
    length = len(os.fsencode(os.path.abspath(path)))
    if length >= PATH_MAX:  # the system's limit counts the terminating NUL byte
        too_long = f"its path is {length} bytes, more than the {PATH_MAX - 1} a path may have"
        raise ValueError(f"{what} {shown_name(path)}: {too_long}")


# What no name may hold on Windows (a drive's `C:` would put a component outside its folder), nor anywhere `/`; and
# control characters, NUL among them.
_NOT_IN_NAMES = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
# Bytes a `portable_name` takes at most: room left for a suffix (`_x4.png`) within NAME_MAX.
PORTABLE_NAME_MAX = 200


def portable_name(text: str) -> str:
    """`text` (a row's name, a model's label) as one file name any system takes: characters Windows refuses and
    control characters as `_` (`C:\\runs\\a` → `C__runs_a`), never "", "." or "..", and at most
    `PORTABLE_NAME_MAX` bytes (a longer one cut, with 8 hex digits of its hash: still told apart)."""
    name = _NOT_IN_NAMES.sub("_", text)
    name = name if name.strip(".") else "_" * max(1, len(name))
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > PORTABLE_NAME_MAX:
        digest = hashlib.sha256(encoded).hexdigest()[:8]
        name = encoded[: PORTABLE_NAME_MAX - 9].decode("utf-8", "ignore") + "-" + digest
    return name


def nearest_existing(path: Path) -> Path:
    """`path` if it exists (a symlink to nothing too), else the nearest of its parents that does (where it would be
    created)."""
    return next(p for p in (path, *path.parents) if p.exists() or p.is_symlink())


def folds_case(path: Path) -> bool:
    """Whether names that differ only in case are one file in the folder `path` (made or not): macOS' and Windows'
    file systems by default. Probed by looking up an ASCII name with letters with its case swapped (the same file
    there): one of the nearest existing folder's entries (not a link, which may point nowhere), else that folder's
    own name in its parent (another file system where it is a mount point); False where no such name is found."""
    existing = nearest_existing(path)
    folder = existing if existing.is_dir() else existing.parent
    try:
        with os.scandir(folder) as entries:
            inside = [folder / entry.name for _, entry in zip(range(64), entries, strict=False)]
    except OSError:
        inside = []
    for probe in (*inside, folder, *folder.parents):
        if probe.name.isascii() and probe.name.swapcase() != probe.name and not probe.is_symlink():
            try:
                return os.path.samefile(probe, probe.with_name(probe.name.swapcase()))
            except OSError:  # no such file: case tells names apart
                return False
    return False

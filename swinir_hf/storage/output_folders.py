"""Output folders: checked before any work (no file in their way, writable, not holding files a job would replace)
and held against other runs (`folder_claimed`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..console import shown_name
from .atomic_writes import left_by_killed_write
from .paths import check_name_lengths, nearest_existing


def file_in_the_way(folder: Path) -> Path | None:
    """The nearest existing one of `folder` and its parents when it is not a folder (so `folder` cannot be made),
    else None."""
    existing = nearest_existing(folder)
    return None if existing.is_dir() else existing


def check_output_folder(out_dir: str | Path, option: str = "-o") -> None:
    """Raise ValueError when `out_dir`, or the nearest of its parents that exists, is a file, or a name in it is over
    NAME_MAX bytes: once, before the model loads, rather than one error per input (`option` names the argument to
    change)."""
    check_name_lengths(out_dir, "output folder")
    path = Path(out_dir).absolute()
    if (existing := file_in_the_way(path)) is not None:
        dangling = existing.is_symlink() and not existing.exists()
        where = f" ({shown_name(existing)} is {'a symlink to nothing' if dangling else 'a file'})"
        if existing == path:
            where = " (it is a symlink to nothing)" if dangling else ""
        raise ValueError(f"output folder {shown_name(out_dir)} is not a folder{where}: choose another {option}")


def check_writable_folder(out_dir: str | Path, option: str = "-o") -> None:
    """Raise ValueError when `out_dir`, or the nearest of its parents that exists (where it would be created), is
    not writable: once, before the model loads, rather than after restoring each image."""
    path = Path(out_dir).absolute()
    existing = nearest_existing(path)
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" ({shown_name(existing)} is not writable)"
        raise ValueError(f"cannot write into output folder {shown_name(out_dir)}{where}: choose another {option}")


def would_replace(folder: str | Path, path: str | Path) -> bool:
    """Whether writing `folder` anew would replace `path`: it is `path`, or holds it (links resolved)."""
    folder, path = Path(folder).resolve(), Path(path).resolve()
    return folder == path or folder in path.parents


def check_fresh_output_folder(
    out_dir: str | Path, overwrite: bool, option: str = "-o", replaces: str = "it", resumes: str | None = None
) -> None:
    """`check_output_folder`, and, unless `overwrite`, raise ValueError when `out_dir` has files: a job that writes
    the whole folder would replace them (`replaces` says what, after "pass --overwrite to replace"). `resumes`: the
    name of the job's own folder of unfinished work in `out_dir`, which does not count."""
    check_output_folder(out_dir, option)
    out = Path(out_dir)

    def counts(path: Path) -> bool:
        # Not a killed run's temporary file or folder (the next write removes it), nor the job's unfinished work.
        return not left_by_killed_write(path) and path.name != resumes

    if out.exists() and any(counts(p) for p in out.iterdir()) and not overwrite:
        raise ValueError(f"{shown_name(out)} exists and is not empty; pass --overwrite to replace {replaces}")


class FolderInUseError(ValueError):
    """An output folder another process (or thread) holds: `folder_claimed`."""


@contextmanager
def folder_claimed(folder: str | os.PathLike, option: str = "-o") -> Iterator[Path]:
    """Hold `folder` (made with its parents if missing; removed at the end if made here and left empty) for the
    block, against every other `folder_claimed` of it, in this process or another on this machine (or one sharing
    the file system's locks): checks of what the folder holds, done inside the block, stay true until it ends.

    An exclusive `flock` on the folder itself: no lock file to find in the folder or clean up, and the kernel drops
    it with its process, so a killed run never leaves the folder claimed. Where the folder cannot be locked (Windows,
    an NFS mount without directory locks) the block runs unguarded, as before claims existed.

    Raises:
        FolderInUseError: another run holds `folder` (`option` names the argument to change).
        ValueError: `folder` cannot be made, or written: `check_output_folder`, `check_writable_folder`.
    """
    check_output_folder(folder, option)
    check_writable_folder(folder, option)
    folder = Path(folder)
    made = [p for p in (folder, *folder.parents) if not p.exists()]  # innermost first, as they are removed
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # where `os.access` cannot tell: root in /proc, a read-only mount
        raise ValueError(
            f"cannot make output folder {shown_name(folder)} ({err.strerror or err}): choose another {option}"
        ) from None
    fd = _locked(folder, option)
    try:
        yield folder
    finally:
        for path in made:
            try:
                path.rmdir()
            except OSError:  # not empty: the block wrote into it, or another process did
                break
        if fd is not None:
            _CLAIMS.discard(fd)
            os.close(fd)  # the lock goes with the descriptor


# The descriptors holding this process's claims. A forked child (a DataLoader worker) shares their locks: it drops
# its copies at once, or a killed run's folder would stay claimed while its orphaned workers live on.
_CLAIMS: set[int] = set()


def _drop_inherited_claims() -> None:
    for fd in _CLAIMS:
        os.close(fd)
    _CLAIMS.clear()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_drop_inherited_claims)


def _locked(folder: Path, option: str) -> int | None:
    """A descriptor of `folder` holding its exclusive lock; None where locks are not available."""
    try:
        import fcntl
    except ImportError:  # Windows
        return None
    for _ in range(100):
        try:
            fd = os.open(folder, os.O_RDONLY)
        except FileNotFoundError:  # removed by a run that ended meanwhile
            folder.mkdir(parents=True, exist_ok=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderInUseError(
                f"{shown_name(folder)} is in use by another swinir-hf run writing into it: wait for it to end, or "
                f"choose another {option}"
            ) from None
        except OSError:  # EBADF, ENOLCK, EINVAL...: a file system without directory locks (NFS, SMB)
            os.close(fd)
            return None
        # The folder this locked may have been removed (and made again) by a run that ended meanwhile.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(folder))
        except FileNotFoundError:
            same = False
        if same:
            _CLAIMS.add(fd)
            return fd
        os.close(fd)
        folder.mkdir(parents=True, exist_ok=True)
    shown = shown_name(folder)
    raise FolderInUseError(f"{shown} keeps being removed and made again by other runs: choose another {option}")

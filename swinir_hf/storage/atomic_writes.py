"""Atomic writes: temporary files that outputs are written through (`written_atomically`; a set of files at once:
`written_aside`), those left by a killed process recognised and removed, and a failed write's error naming what the
user asked for (`WriteError`).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from ..console import shown_name
from .paths import NAME_MAX, nearest_existing

# Temporary files are `.swinir-<host>-<pid>-<random>-<name>` (<host>: `_host()`, with the PID namespace): one left
# by a killed process (kill -9, power loss) is recognised by its process id and removed by the next write into its
# folder.
_TEMP_PREFIX = ".swinir-"


@lru_cache(maxsize=1)  # asked once per file of a folder listing; neither part changes in a process
def _host() -> str:
    """This host's short name (`-` made `_`), with the inode of this process's PID namespace where there is one
    (Linux): a container sharing the folder and the host name (`docker run --network host`) numbers its processes
    apart, so its process ids cannot be checked from here."""
    name = socket.gethostname().split(".")[0].replace("-", "_")
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:  # not Linux
        return name
    return f"{name}.{namespace.removeprefix('pid:[').removesuffix(']')}"


def process_tag() -> str:
    """`<host>.<PID namespace>-<pid>` of this process (`<host>-<pid>` off Linux), for the names of its temporary
    files and folders (see `left_by_dead_process`)."""
    return f"{_host()}-{os.getpid()}"


def left_by_dead_process(name: str, prefix: str) -> bool:
    """Whether `name` is `prefix` + a `process_tag()` of a process of this host and PID namespace that has died
    (killed, power loss). Other hosts' and namespaces' names are never claimed: their processes cannot be checked
    from here (but for names of swinir-hf versions that named no namespace: see below)."""
    # Names without the namespace (swinir-hf before it was added) are taken as of this one, as those versions did.
    host = _host()
    for owner in {f"{prefix}{host}-", f"{prefix}{host.split('.')[0]}-"}:
        pid = name[len(owner) :].split("-", 1)[0] if name.startswith(owner) else ""
        if pid.isdigit():
            return not _alive(int(pid))
    return False


def process_folder(root: Path, prefix: str) -> Path:
    """A new empty folder in `root` named `prefix` + this process's `process_tag()` + `-<random>` (mkdtemp's: mode
    0700), which `remove_dead` removes once this process has died without removing it."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{process_tag()}-", dir=root))


def remove_dead(
    root: Path,
    prefix: str,
    *,
    files: bool = False,
    named: re.Pattern[str] | None = None,
    then: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Remove the folders (and with `files`, the files) in `root` named `prefix` + the `process_tag()` of a process
    that died (kill -9, out of memory, power loss) without removing its own → what was removed. `named`: only names
    it fully matches (a prefix a user may also name folders with); `then`: called on each folder removed."""
    removed = []
    for old in root.glob(f"{prefix}*"):
        if not left_by_dead_process(old.name, prefix) or (named and not named.fullmatch(old.name)):
            continue
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)  # another process may be removing it too
            if then is not None:
                then(old)
        elif files:
            try:
                old.unlink(missing_ok=True)
            except OSError:  # not ours to remove (a folder without write permission)
                continue
        else:
            continue
        if not old.exists():
            removed.append(old)
    return removed


def left_by_killed_write(path: Path) -> bool:
    """Whether `path` is the temporary file or folder of a write (`written_atomically`, `written_aside`) whose process
    died: the next write into its folder removes it, and it does not make the folder "not empty"."""
    return left_by_dead_process(path.name, _TEMP_PREFIX)


def create_temp(path: Path) -> str:
    """A new empty file beside `path`, created with mode 0666 & ~umask (as the final file should be; mkstemp
    would give 0600)."""
    for _ in range(100):
        head = f"{_TEMP_PREFIX}{process_tag()}-{secrets.token_hex(4)}-"
        # The target's name is only a hint for a reader: cut to the NAME_MAX bytes a file name may have, so that a
        # target whose own name is near that limit can still be written.
        hint = os.fsencode(path.name)[: max(0, NAME_MAX - len(os.fsencode(head)))].decode("utf-8", "ignore")
        tmp = path.parent / f"{head}{hint}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return str(tmp)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {shown_name(path)}")


def create_temp_folder(folder: Path) -> Path:
    """A new empty hidden folder in `folder`, named as this process's temporary files are (`left_by_killed_write`):
    one left by a killed process is removed by the next write into `folder` (`remove_stale_temp_files`)."""
    return process_folder(folder, _TEMP_PREFIX)


def replace_folder(new: Path, target: Path, aside_in: Callable[[Path], Path] = create_temp_folder) -> None:
    """Move the folder `new` to `target`, in the same folder. An earlier `target` is first renamed aside, onto the
    name of a new folder that `aside_in(target.parent)` makes (a temporary folder's, which a later run removes when
    its process has died), and removed only once `new` is in place: killed at any moment (kill -9, power loss), the
    process leaves the earlier folder or the new one whole at `target`, where removing the earlier one in place
    could leave part of it under its name."""
    aside = None
    if target.exists():
        aside = aside_in(target.parent)
        aside.rmdir()  # only its unique name: a folder is renamed onto a free one on every system
        target.rename(aside)
    try:
        new.rename(target)
    except OSError:
        if aside is not None:
            aside.rename(target)  # the earlier folder back
        raise
    if aside is not None:
        shutil.rmtree(aside)


class AppearedError(FileExistsError):
    """An output that `written_atomically(..., replace=False)` found written by someone else meanwhile."""


@contextmanager
def written_atomically(path: str | os.PathLike, replace: bool = True) -> Iterator[Path]:
    """A new temporary file beside `path` for the block to write; renamed over `path` when the block ends, removed
    when it raises: a killed run leaves the earlier file or the new one, never half of one (and its temporary file,
    which the next write into that folder removes: `remove_stale_temp_files`). With `replace` False, a `path` that
    exists by then (another run wrote it since this one checked) is kept, in one atomic step: `AppearedError`.

    Raises:
        AppearedError: "PATH was written by another run ...", when not `replace`.
        WriteError: "cannot write PATH: reason", naming `path` (not the temporary file) for any OSError of the
            block, the temporary file's creation or the rename, and a writer's own error on a full disk
            (`write_error`).
    """
    path = Path(path)
    remove_stale_temp_files(path.parent)
    tmp = None
    try:
        tmp = Path(create_temp(path))
        yield tmp
        if replace:
            os.replace(tmp, path)
        else:
            move_unless_exists(tmp, path)
    except AppearedError:
        raise
    except Exception as err:
        if (failure := write_error(err, path, tmp or path.parent)) is None:
            raise
        raise failure from err
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()


def move_unless_exists(source: Path, target: Path) -> None:
    """Rename `source` to `target` unless `target` exists (a dangling link too): `AppearedError`, `source` kept.
    Atomic where the file system has hard links (a link fails on an existing name; a rename replaces it); cut short
    between the link and the unlink, both names hold the file."""
    appeared = AppearedError(
        f"{shown_name(target)} was written by another run (or program) since this one started: kept; pass "
        "--overwrite to replace it"
    )
    try:
        os.link(source, target)
    except FileExistsError:
        raise appeared from None
    except OSError as err:
        # No hard links here (FAT, some network and FUSE file systems): checked, then renamed. EINVAL: Windows'
        # "Incorrect function" / "not supported" (FAT, exFAT, some SMB shares).
        if err.errno not in (
            errno.EPERM,
            errno.ENOTSUP,
            errno.EOPNOTSUPP,
            errno.EMLINK,
            errno.ENOSYS,
            errno.EXDEV,
            errno.EINVAL,
        ):
            raise
        if target.exists() or target.is_symlink():
            raise appeared from None
        os.replace(source, target)
        return
    os.unlink(source)


@contextmanager
def written_aside(
    folder: str | os.PathLike, replaces: Sequence[str], owned: Callable[[Path], bool] | None = None
) -> Iterator[Path]:
    """A new hidden folder inside `folder` (created if needed) for the block to fill with a set of files that belong
    together (a model, a dataset). When the block ends they are moved into `folder`, and its files matching the glob
    patterns `replaces` that the block did not write (an earlier set's) are removed, with Ctrl-C / SIGTERM held back
    for those renames; when the block raises, `folder` is left as it was. Other files in `folder` are never touched,
    nor are those for which `owned` (given) answers False: a name a set may hold that something else wrote.

    Raises:
        WriteError: "cannot write FOLDER: reason" for an OSError of the block or the moves, and a writer's own error
            on a full disk (`write_error`); other errors of the block as they are.
    """
    from ..interrupts import signals_deferred

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(folder)
    staging = create_temp_folder(folder)
    try:
        yield staging
        written = {path.name for path in staging.iterdir()}
        with signals_deferred():
            for path in files_matching(folder, replaces):
                if path.name not in written and (owned is None or owned(path)):
                    path.unlink(missing_ok=True)  # another process's run may have removed it
            for name in sorted(written):
                os.replace(staging / name, folder / name)
    except Exception as err:
        if (failure := write_error(err, folder, staging)) is None:
            raise
        raise failure from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def files_matching(folder: str | os.PathLike, patterns: Sequence[str]) -> list[Path]:
    """The files (not folders) in `folder` whose names match any of the glob `patterns`, sorted."""
    return sorted({path for pattern in patterns for path in Path(folder).glob(pattern) if path.is_file()})


def os_reason(err: BaseException, path: Path) -> str:
    """An error's text without the file name it repeats (the message that quotes it already starts with one)."""
    text = getattr(err, "strerror", None) or str(err)
    for form in (f" '{path}'", f' "{path}"', f": '{path}'", str(path)):
        text = text.replace(form, "")
    return text.strip(" :") or type(err).__name__


# Free space under which a writer's failure that says nothing of it (a codec's, safetensors', torch's archive
# writer's) is taken for a full disk.
FULL_DISK_BYTES = 1 << 20


class WriteError(OSError):
    """ "cannot write TARGET: reason": a write that failed (a full disk, a folder without permission), naming what
    the user asked for, not the temporary file or folder it went through."""

    def __init__(self, target: str | os.PathLike, reason: str, number: int | None = None) -> None:
        super().__init__(f"cannot write {shown_name(target)}: {reason}")
        self.target, self.reason, self.errno = Path(target), reason, number

    def __reduce__(self) -> tuple:  # sent between the processes of a launch (`processes.on_every_process`)
        return type(self), (self.target, self.reason, self.errno)


def write_error(err: BaseException, target: Path, place: Path | None = None) -> WriteError | None:
    """`err`, raised while writing `target`, as a `WriteError`, or None for an error that is not the write's.
    `place`: the file or folder being written (a temporary one), whose name the reason should not repeat.

    Writers that are not Python's file objects fail on a full disk with exceptions of their own (Pillow's TIFF
    encoder: "tiff codec initialization failed", or an OSError without errno, "encoder error -9 ..."; torch's archive
    writer: "unexpected pos ..."; safetensors'): those are taken for "No space left on device" when the disk has less
    than `FULL_DISK_BYTES` free."""
    from safetensors import SafetensorError

    place = place or target
    if isinstance(err, WriteError):  # a nested write's (a temporary file inside a temporary folder)
        return WriteError(target, err.reason, err.errno)
    if isinstance(err, OSError) and err.errno is not None:
        return WriteError(target, os_reason(err, place), err.errno)
    if not isinstance(err, (OSError, RuntimeError, SafetensorError)):  # a caller's own (a failed check)
        return None
    try:
        free = shutil.disk_usage(nearest_existing(place.absolute()).parent).free
    except OSError:
        free = None
    if free is not None and free < FULL_DISK_BYTES:
        return WriteError(target, f"No space left on device ({type(err).__name__}: {err})", errno.ENOSPC)
    # An encoder's own OSError ("encoder error -2 ...") is the write's; another error is the caller's to raise.
    return WriteError(target, os_reason(err, place)) if isinstance(err, OSError) else None


def write_text_file(path: str | os.PathLike, text: str, replace: bool = True) -> None:
    """Write `text` to `path` atomically (`written_atomically`, which says what `replace` False does)."""
    with written_atomically(path, replace) as tmp:
        tmp.write_text(text, encoding="utf-8")  # as the package reads them, whatever the locale


# The folders cleaned, most recently written last: a run writes many files into few folders, but a server writes
# each result into a folder of its own (the demo), which must not grow this for ever.
_cleaned: OrderedDict[Path, None] = OrderedDict()
_CLEANED_KEPT = 1024
_cleaned_lock = threading.Lock()


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files of `written_atomically` calls in `folder` whose process (on this host) has died;
    once per folder while it is among the process's last `_CLEANED_KEPT` folders written. Returns what was
    removed."""
    folder = Path(folder)
    with _cleaned_lock:
        if folder in _cleaned:
            _cleaned.move_to_end(folder)
            return []
        if not folder.is_dir():
            return []
        _cleaned[folder] = None
        if len(_cleaned) > _CLEANED_KEPT:
            _cleaned.popitem(last=False)
    return remove_dead(folder, _TEMP_PREFIX, files=True)  # folders: `written_aside`'s


def _alive(pid: int) -> bool:
    if sys.platform == "win32":  # where os.kill(pid, 0) sends Ctrl-C (CTRL_C_EVENT is 0)
        return _alive_on_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _alive_on_windows(pid: int) -> bool:
    """Whether process `pid` runs, by a handle to wait on (Windows)."""
    import _winapi

    try:
        handle = _winapi.OpenProcess(getattr(_winapi, "SYNCHRONIZE", 0x00100000), False, pid)
    except OSError as err:
        return isinstance(err, PermissionError)  # access denied (winerror 5): someone else's; else none such
    try:
        return _winapi.WaitForSingleObject(handle, 0) == _winapi.WAIT_TIMEOUT
    finally:
        _winapi.CloseHandle(handle)

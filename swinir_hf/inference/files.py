"""The files of a run: the inputs a command line names, the output folder checked before any work (no file in its
way, writable, not holding files a job would replace) and held against other runs (`folder_claimed`), and temporary
files that outputs are written through (atomically: `written_atomically`), with those left by a killed process
recognised and removed.
"""

from __future__ import annotations

import errno
import glob
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

# Temporary files are `.swinir-<host>-<pid>-<random>-<name>` (<host>: `_host()`, with the PID namespace): one left
# by a killed process (kill -9, power loss) is recognised by its process id and removed by the next write into its
# folder.
_TEMP_PREFIX = ".swinir-"

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
            f"{what} {path}: a name in it is {longest} bytes, more than the {NAME_MAX} a file name may have"
        )
    length = len(os.fsencode(os.path.abspath(path)))
    if length >= PATH_MAX:  # the system's limit counts the terminating NUL byte
        raise ValueError(f"{what} {path}: its path is {length} bytes, more than the {PATH_MAX - 1} a path may have")


def nearest_existing(path: Path) -> Path:
    """`path` if it exists (a symlink to nothing too), else the nearest of its parents that does (where it would be
    created)."""
    return next(p for p in (path, *path.parents) if p.exists() or p.is_symlink())


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
        where = f" ({existing} is {'a symlink to nothing' if dangling else 'a file'})"
        if existing == path:
            where = " (it is a symlink to nothing)" if dangling else ""
        raise ValueError(f"output folder {out_dir} is not a folder{where}: choose another {option}")


def check_writable_folder(out_dir: str | Path, option: str = "-o") -> None:
    """Raise ValueError when `out_dir`, or the nearest of its parents that exists (where it would be created), is
    not writable: once, before the model loads, rather than after restoring each image."""
    path = Path(out_dir).absolute()
    existing = nearest_existing(path)
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" ({existing} is not writable)"
        raise ValueError(f"cannot write into output folder {out_dir}{where}: choose another {option}")


def check_fresh_output_folder(out_dir: str | Path, overwrite: bool, option: str = "-o", replaces: str = "it") -> None:
    """`check_output_folder`, and, unless `overwrite`, raise ValueError when `out_dir` has files: a job that writes
    the whole folder would replace them (`replaces` says what, after "pass --overwrite to replace")."""
    check_output_folder(out_dir, option)
    out = Path(out_dir)
    # A killed run's temporary files and folders, which the next write removes, do not count.
    if out.exists() and any(not left_by_killed_write(p) for p in out.iterdir()) and not overwrite:
        raise ValueError(f"{out} exists and is not empty; pass --overwrite to replace {replaces}")


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
    folder.mkdir(parents=True, exist_ok=True)
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
                f"{folder} is in use by another swinir-hf run writing into it: wait for it to end, or choose "
                f"another {option}"
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
    raise FolderInUseError(f"{folder} keeps being removed and made again by other runs: choose another {option}")


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
    """`<host>-<pid>` of this process, for the names of its temporary files and folders (see `left_by_dead_process`)."""
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
    raise FileExistsError(f"no free temporary name beside {path}")


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
            _move_unless_exists(tmp, path)
    except AppearedError:
        raise
    except Exception as err:
        if (failure := write_error(err, path, tmp or path.parent)) is None:
            raise
        raise failure from err
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()


def _move_unless_exists(tmp: Path, path: Path) -> None:
    """Rename `tmp` to `path` unless `path` exists (a dangling link too), atomically where the file system has hard
    links (a link fails on an existing name; a rename replaces it)."""
    appeared = AppearedError(
        f"{path} was written by another run (or program) since this one started: kept; pass --overwrite to replace it"
    )
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise appeared from None
    except OSError as err:
        # No hard links here (FAT, some network and FUSE file systems): checked, then renamed.
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EXDEV):
            raise
        if path.exists() or path.is_symlink():
            raise appeared from None
        os.replace(tmp, path)


@contextmanager
def written_aside(folder: str | os.PathLike, replaces: Sequence[str]) -> Iterator[Path]:
    """A new hidden folder inside `folder` (created if needed) for the block to fill with a set of files that belong
    together (a model, a dataset). When the block ends they are moved into `folder`, and its files matching the glob
    patterns `replaces` that the block did not write (an earlier set's) are removed, with Ctrl-C / SIGTERM held back
    for those renames; when the block raises, `folder` is left as it was. Other files in `folder` are never touched.

    Raises:
        WriteError: "cannot write FOLDER: reason" for an OSError of the block or the moves, and a writer's own error
            on a full disk (`write_error`); other errors of the block as they are.
    """
    from ..interrupts import signals_deferred

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(folder)
    staging = Path(tempfile.mkdtemp(prefix=f"{_TEMP_PREFIX}{process_tag()}-", dir=folder))
    try:
        yield staging
        written = {path.name for path in staging.iterdir()}
        with signals_deferred():
            for path in files_matching(folder, replaces):
                if path.name not in written:
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
        super().__init__(f"cannot write {target}: {reason}")
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
        tmp.write_text(text)


_cleaned: set[Path] = set()


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files of `written_atomically` calls in `folder` whose process (on this host) has died;
    once per folder and process. Returns what was removed."""
    folder = Path(folder)
    if folder in _cleaned or not folder.is_dir():
        return []
    _cleaned.add(folder)
    removed = []
    for tmp in folder.glob(f"{_TEMP_PREFIX}*"):
        if left_by_killed_write(tmp):
            try:
                shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()  # a folder: `written_aside`'s
                removed.append(tmp)
            except OSError:
                pass  # another process got there first
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def collect_inputs(inputs: Iterable[str], recursive: bool = False) -> list[tuple[Path, Path]]:
    """Files, folders and glob patterns → sorted unique (file, path relative to its root) pairs, each file named
    by `_real_name`.

    A folder contributes every non-hidden file in it (its sub-folders too with `recursive`), so that files that are
    not images (or not regular files: FIFOs, dangling links) get reported rather than silently skipped; a glob's
    matches are relative to its `glob_root`, so that `photos/*/a.png` keeps `2023/a.png` and `2024/a.png` apart. A
    file named by several inputs keeps the deepest of its relative paths (a folder's over a bare file name).

    Raises:
        FileNotFoundError: an input that names nothing, or a folder with no (non-hidden) files to collect.
        ValueError: a folder that cannot be listed (no permission), an input with a name over NAME_MAX bytes.
    """
    found: dict[Path, Path] = {}

    def add(file: Path, rel: Path) -> None:
        # A file named twice keeps its deepest relative path, whatever the order of the inputs: `in/sub/a.png`
        # beside `in --recursive` goes to sub/a.png, not onto in/a.png's output.
        key = _real_name(file)
        if key not in found or len(rel.parts) > len(found[key].parts):
            found[key] = rel

    for spec in inputs:
        check_name_lengths(spec, "input")
        path = Path(spec)
        if path.is_dir():
            try:
                # Not only regular files: a FIFO or a dangling link is reported (never opened), not left out unsaid.
                files = [f for f in (path.rglob("*") if recursive else path.iterdir()) if not f.is_dir()]
            except OSError as err:  # no read permission on the folder (or a file in it)
                raise ValueError(f"cannot read folder {spec}: {err.strerror or err}") from err
            files = [f for f in files if not any(part.startswith(".") for part in f.relative_to(path).parts)]
            if not files:  # a typo or a forgotten --recursive, which a bare "restored 0" would hide
                subfolders = not recursive and any(p.is_dir() for p in path.iterdir())
                raise FileNotFoundError(
                    f"no files in folder {spec}" + " (pass --recursive for its sub-folders)" * subfolders
                )
            for f in files:
                add(f, f.relative_to(path))
        elif path.is_file():
            add(path, Path(path.name))
        else:
            # `**` asks for sub-folders itself; without recursion glob would read it as `*`, one level only.
            deep = recursive or "**" in spec
            matches = [Path(m) for m in glob.glob(spec, recursive=deep) if not Path(m).is_dir()]
            if not matches:
                raise FileNotFoundError(f"no such file, folder or matching files: {spec}")
            root = glob_root(spec)
            for m in matches:
                add(m, m.relative_to(root))
    return sorted(found.items())


def glob_root(pattern: str) -> Path:
    """The folders a glob pattern starts with that hold no wildcard (`photos` for `photos/**/*.png`; `.` for
    `*.png`): its matches keep their paths below it, as a folder input's files do."""
    fixed = []
    for part in Path(pattern).parts[:-1]:
        if any(c in part for c in "*?["):  # glob's wildcards
            break
        fixed.append(part)
    return Path(*fixed)


def _real_name(path: Path) -> Path:
    """`path` with its folders resolved but not its own name: one file reached by two paths (`in/a.png`,
    `./in/a.png`) is one input, while a symlink beside its target (`a.png -> z.png`) is an input of its own, as a
    user listing the folder sees it; which of the two were kept would otherwise depend on the listing order."""
    return path.absolute().parent.resolve() / path.name

"""The command lines' standard streams: what they print never fails for want of an encoding, and the package's
logged warnings read as its errors and notes do (`warning: ...`)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

# Error handlers that never raise on a character the stream's encoding lacks.
_TOLERANT = ("backslashreplace", "replace", "ignore", "namereplace", "xmlcharrefreplace")


def tolerant_output() -> None:
    """Print what stdout / stderr cannot encode as backslash escapes instead of raising `UnicodeEncodeError` after
    the work is done: the commands print →, ×, σ, and file names, which may not be valid UTF-8 (strict in a UTF-8
    locale), or anything beyond ASCII (`LANG=C`, `PYTHONIOENCODING=ascii`, Windows' code page when redirected).
    stderr whose reader has gone is dropped (`StderrReaderGone`); stdout that fails otherwise is one line
    (`CheckedStdout`). For the programs only (`swinir-hf`, `python -m swinir_hf.*`), not a caller's streams."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure") and getattr(stream, "errors", None) not in _TOLERANT:
            stream.reconfigure(errors="backslashreplace")
    if sys.stderr is not None and not isinstance(sys.stderr, StderrReaderGone):
        sys.stderr = StderrReaderGone(sys.stderr)
    if sys.stdout is not None and not isinstance(sys.stdout, CheckedStdout):
        sys.stdout = CheckedStdout(sys.stdout)
    if not isinstance(sys.excepthook, StdoutErrorHook):
        sys.excepthook = StdoutErrorHook(sys.excepthook)


class StdoutUnwritable(Exception):
    """stdout failed for another reason than its reader having gone (`swinir-hf eval ... > out.md` on a full disk, an
    I/O error): what it was to print is lost, which the command's caller learns from a message and exit status 1."""


class StdoutErrorHook:
    """`sys.excepthook` that says a `StdoutUnwritable` in one line (`error: ...`; Python's exit status for it, 1),
    wherever a program meets it (`--help`, a config printed, a table), and leaves other errors to `hook`."""

    def __init__(self, hook: Any) -> None:
        self.hook = hook

    def __call__(self, kind: type[BaseException], error: BaseException, traceback: Any) -> None:
        if isinstance(error, StdoutUnwritable):
            print(f"error: {error}", file=sys.stderr)
        else:
            self.hook(kind, error, traceback)


class _GuardedStream:
    """A text stream whose write and flush errors go to `_failed`, which raises or lets the work go on (what was
    written is then taken as written); the rest (isatty, encoding, fileno, ...) is the stream's."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as err:
            self._failed(err)
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as err:
            self._failed(err)

    def _failed(self, err: OSError) -> None:
        raise err

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class CheckedStdout(_GuardedStream):
    """stdout whose write errors other than a closed pipe raise `StdoutUnwritable` (said in one line:
    `StdoutErrorHook`), not OSError's traceback; what is still buffered then goes to the null device, not to a second
    error at exit."""

    def _failed(self, err: OSError) -> None:
        if isinstance(err, BrokenPipeError):  # the reader has gone: the commands' own handling
            raise err
        _to_null_device(self.stream)
        raise StdoutUnwritable(f"standard output could not be written: {err.strerror or err}") from err


class StderrReaderGone(_GuardedStream):
    """stderr that, once its reader has gone (`swinir-hf restore ... 2>&1 | head -1`), sends what is written to the
    null device and lets the work go on, as stdout does (`print_results`): a message or progress bar that met the
    closed pipe raised BrokenPipeError, which ended the run at once, with nothing done and exit status 0."""

    def _failed(self, err: OSError) -> None:
        if not isinstance(err, BrokenPipeError):
            raise err
        _to_null_device(self.stream)


def print_results(text: str) -> None:
    """Print `text` on stdout, flushed; once its reader has gone (`swinir-hf eval ... | head -1`), nothing more is
    printed, and the work goes on: what it writes besides (`--json`, saved images, the tables of the sets left) is
    still wanted."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        stdout_gone()


def stdout_gone() -> None:
    """Send stdout to the null device: its reader has gone, and Python's flush at exit would fail a second time."""
    _to_null_device(sys.stdout)


def _to_null_device(stream: Any) -> None:
    """Point `stream`'s file descriptor at the null device: what is still buffered and written later goes nowhere."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


class LevelPrefix(logging.Formatter):
    """A warning or error as `warning: MESSAGE` / `error: MESSAGE`, as the package's own errors read; other records
    (the trainer's progress lines) as they are formatted."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return f"{record.levelname.lower()}: {text}" if record.levelno >= logging.WARNING else text


def prefixed_warnings() -> None:
    """Print the package's logged warnings (and errors) on stderr as `warning: MESSAGE`, as its own errors read
    `error: ...`: without a handler, Python's last resort printed them bare. For the programs that log nothing else
    (`restore`, `eval`, `convert`, `hub`); the trainer has its own handler."""
    logger = logging.getLogger("swinir_hf")
    if not any(isinstance(h.formatter, LevelPrefix) for h in logger.handlers):
        handler = logging.StreamHandler()  # stderr as it is then (a test's capture included)
        handler.setLevel(logging.WARNING)
        handler.setFormatter(LevelPrefix("%(message)s"))
        logger.addHandler(handler)


def some_names(names: Sequence[str], most: int = 3) -> str:
    """Up to `most` names and how many more, for a message: "README, a.xmp and 4 more", "a and b", "a"."""
    shown = [*names[:most], *([f"{len(names) - most} more"] if len(names) > most else [])]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" and {shown[-1]}"

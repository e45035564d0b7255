"""The command lines' standard streams: what they print never fails for want of an encoding, the package's logged
warnings read as its errors and notes do (`warning: ...`) and keep clear of its progress bars, and the options that
say how much they print (`--no-progress`, `--quiet`)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# Error handlers that never raise on a character the stream's encoding lacks.
_TOLERANT = ("backslashreplace", "replace", "ignore", "namereplace", "xmlcharrefreplace")
# What a terminal would act on in text the commands print: C0 and C1 controls, escape sequences among them (window
# title, clipboard, clear screen, reports typed back as input; a cursor moved up and a line erased: a line printed
# before rewritten). Newlines and tabs lay out the package's own messages.
_TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# What progress bars write of their own (tqdm's, a library's display), kept by the guarded streams: a write of
# cursor moves up alone (tqdm's `moveto`, the Hub's upload display), or a carriage return, optionally erasing the
# line, that starts a write (a bar redrawn, `\r\x1b[K` line by line). Anywhere else, as in a file name, they are
# someone else's, which could rewrite what was printed before (a name holding `\x1b[1A\x1b[2K`).
_BAR_MOVES = re.compile(r"(?:\x1b\[[0-9]*A)+\Z|\r(?:\x1b\[K)?")
# In a name (a file's, a folder's, an image's) newlines, tabs and carriage returns are controls too: printed, one
# would start a line of the name's own (a forged "restored ..." line, a table row split), which no stream can tell
# from the message's own lines; so are Unicode's line and paragraph separators, line breaks to YAML (a comment in a
# run's training_config.yaml would end there, the rest read as settings) and to `str.splitlines`.
_NAME_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(control: re.Match) -> str:
    return control[0].encode("unicode_escape").decode("ascii")


def terminal_safe(text: str) -> str:
    """`text` with the terminal controls it holds (`_TERMINAL_CONTROLS`) as backslash escapes: `\\x1b]0;...\\x07`,
    `\\x1b[1A`; for text from outside (a file name, a dataset's field) wherever it is printed."""
    return _TERMINAL_CONTROLS.sub(_escaped, text)


def shown_name(name: object) -> str:
    """A name or path for a message: `terminal_safe`, and its newlines, tabs, carriage returns and line separators
    escaped too (`\\n`, `\\t`, `\\r`, `\\u2028`), so that it stays on its line."""
    return _NAME_CONTROLS.sub(_escaped, str(name))


def shell_word(word: str) -> str:
    """`word` quoted for a shell command to paste, on one line: `shlex.quote`'s quotes, which keep a newline as it is
    (the command printed on two lines), or where it holds a control character bash's `$'...'`, the control escaped
    (`\\n`, `\\u001b`) as bash reads it back."""
    if _NAME_CONTROLS.search(word) is None:
        return shlex.quote(word)
    body = word.replace("\\", "\\\\").replace("'", "\\'")
    return "$'" + _NAME_CONTROLS.sub(lambda c: _SHELL_ESCAPES.get(c[0], f"\\u{ord(c[0]):04x}"), body) + "'"


_SHELL_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def typed_path(text: str) -> str:
    """A path as a user typed or pasted it into a text box: without the spaces around it, or the one pair of quotes
    around it that Windows Explorer's "Copy as path" (or a shell line) adds, and with a leading `~` expanded (a text
    box has no shell to do it: `~/models/x4` was looked for in a folder named `~`)."""
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return os.path.expanduser(text)


def _stream_safe(text: str) -> str:
    """What the guarded streams write of `text`: a progress bar's own moves at the start of a write kept
    (`_BAR_MOVES`), every other terminal control as an escape (`terminal_safe`)."""
    kept = _BAR_MOVES.match(text)
    start = 0 if kept is None else kept.end()
    return text[:start] + terminal_safe(text[start:])


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
    # Python 3.13+ colours a traceback (3.14 argparse's help too) on a terminal, which the guarded streams would print
    # as escapes (`_stream_safe`: `\x1b[35m`), unreadable: asked for none, by its own switch (set for the processes
    # a program starts too, which guard their streams alike).
    os.environ["PYTHON_COLORS"] = "0"


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
    written is then taken as written), and which writes terminal controls as escapes (`_stream_safe`); the rest
    (isatty, encoding, fileno, ...) is the stream's."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            self.stream.write(_stream_safe(text))
            return len(text)
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


# The package's loggers are this one's children: a program (or a user) sets its level and handlers here.
PACKAGE_LOGGER = "swinir_hf"


class LevelPrefix(logging.Formatter):
    """A warning or error as `warning: MESSAGE` / `error: MESSAGE`, as the package's own errors read; other records
    (the trainer's progress lines) as they are formatted."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return f"{record.levelname.lower()}: {text}" if record.levelno >= logging.WARNING else text


class _AboveTheBars(logging.Handler):
    """Records on stderr (the one of the moment: a test's capture included) through `tqdm.write`, which clears the
    progress bars drawn there, writes the line and draws them again below it: a plain stream handler wrote into the
    bar's line (`restore:   0%|...| 0/3 [...]warning: tile_overlap=0: ...`)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


# The name of `prefixed_warnings`' handler, by which it is found again: a class would not do, since
# `importlib.reload` of this module (a notebook's) makes new classes, of which the handler added before is no instance.
_PREFIXED_HANDLER = "swinir_hf.prefixed_warnings"


def _prefixed_handler(level: int) -> logging.Handler:
    """The package's log on stderr from `level` up, warnings and errors as `warning: ...` / `error: ...`."""
    handler = _AboveTheBars(level)
    handler.setFormatter(LevelPrefix("%(message)s"))
    return handler


def prefixed_warnings() -> None:
    """Print the package's logged warnings (and errors) on stderr as `warning: MESSAGE`, as its own errors read
    `error: ...`: without a handler, Python's last resort printed them bare. For the programs that log nothing else
    (`restore`, `eval`, `convert`, `hub`, a spawned data worker); the trainer's command line has `package_log`."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    if not any(handler.get_name() == _PREFIXED_HANDLER for handler in logger.handlers):  # once: each call, a copy
        handler = _prefixed_handler(logging.WARNING)
        handler.set_name(_PREFIXED_HANDLER)
        logger.addHandler(handler)


@contextmanager
def package_log(level: int) -> Iterator[None]:
    """The package's log records from `level` up (INFO: the trainer's progress lines) on stderr while open, with
    its level set to `level`, both put back after: for the trainer's command line alone. `run_training` called
    from Python adds no handler and sets no level, so its records go where the caller's logging sends them, once."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    handler, before = _prefixed_handler(level), logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(before)


_said_once: set[str] = set()
_said_once_lock = threading.Lock()


def warn_once(logger: logging.Logger, message: str) -> None:
    """Log the warning `message` the first time this process has it to say, not again: a note on how the engine
    runs (`tile_overlap=0`) came once for each `restore()` call, each of which builds a restorer."""
    with _said_once_lock:
        if message in _said_once:
            return
        _said_once.add(message)
    logger.warning(message)


# The warnings said within `warnings_once` (None outside one: each is said).
_said_within: ContextVar[set[str] | None] = ContextVar("swinir_warnings_said_within", default=None)


@contextmanager
def warnings_once() -> Iterator[None]:
    """Within, `warn_once_within` logs each message once: a command (`swinir-hf eval`) that resolves the same setting
    for several purposes and sets says a warning about it once, where Python calls each say theirs."""
    token = _said_within.set(set())
    try:
        yield
    finally:
        _said_within.reset(token)


def warn_once_within(logger: logging.Logger, message: str) -> None:
    """Log the warning `message`, unless already said within the enclosing `warnings_once`."""
    said = _said_within.get()
    if said is not None:
        if message in said:
            return
        said.add(message)
    logger.warning(message)


def bar_switch(progress: bool) -> dict[str, bool]:
    """tqdm's keyword for the package's own bars: `disable=True` where `progress` is off, else none, so that tqdm's
    default stands, and with it its environment (`TQDM_DISABLE=1`), which an explicit `disable=False` overrode."""
    return {} if progress else {"disable": True}


def bars_redrawn() -> bool:
    """Whether a progress bar on stderr is redrawn in place: on a terminal, or in a notebook (`in_notebook_kernel`),
    as `tqdm.auto`'s widget or, without ipywidgets, as tqdm's text bar, which a notebook's output redraws on each
    carriage return. Elsewhere (`> log 2>&1`, nohup, a pipe) every redraw is appended after the last: a file of one
    long line."""
    from tqdm.auto import tqdm

    if any(kind.__module__ == "tqdm.notebook" for kind in tqdm.__mro__) or in_notebook_kernel():
        return True
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # no stream, or a closed one
        return False


def in_notebook_kernel() -> bool:
    """Whether this process is a Jupyter kernel (notebook, JupyterLab, VS Code, Colab: IPython's
    `ZMQInteractiveShell` or a subclass, as Colab's), whose stderr is no terminal though its output is redrawn.
    Looked up in the modules loaded (a notebook has loaded IPython), never imported: IPython is no dependency."""
    get_ipython = getattr(sys.modules.get("IPython"), "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return any(kind.__name__ == "ZMQInteractiveShell" for kind in type(shell).__mro__)


def add_progress_arguments(parser: Any, no_progress_help: str = "no progress bars (logs)") -> None:
    """`--no-progress` and `-q` / `--quiet`, for `restore`, `eval` and `train` alike (`shows_progress`,
    `quiet_notes`). Each is the command's own: neither goes to accelerate's launcher, whose `-q` is another thing."""
    parser.add_argument("--no-progress", action="store_true", help=no_progress_help)
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars and no notes: only warnings and errors"
    )


def shows_progress(args: argparse.Namespace) -> bool:
    """Whether the command draws progress bars: neither `--no-progress` nor `--quiet` given."""
    return not (args.no_progress or args.quiet)


def reports_progress(args: argparse.Namespace) -> bool:
    """Whether the command says how far it has got, by a bar or, where none is drawn (`--no-progress`, stderr not a
    terminal), in lines (`progress_lines`): unless `--quiet`."""
    return not args.quiet


_quiet = False


@contextmanager
def quiet_notes(quiet: bool) -> Iterator[None]:
    """`note` says nothing while open with `quiet` (`--quiet`); put back after."""
    global _quiet
    before, _quiet = _quiet, quiet
    try:
        yield
    finally:
        _quiet = before


def note(text: str) -> None:
    """A command's line of information on stderr (a summary, what was skipped), above any progress bar, unless the
    command runs `--quiet`: its warnings and errors are said all the same."""
    if not _quiet:
        from tqdm import tqdm

        tqdm.write(text, file=sys.stderr)


def some_names(names: Sequence[str], most: int = 3) -> str:
    """Up to `most` names (`shown_name`) and how many more, for a message: "README, a.xmp and 4 more", "a and b"."""
    shown = [*map(shown_name, names[:most]), *([f"{len(names) - most} more"] if len(names) > most else [])]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + f" and {shown[-1]}"


def counted(n: int, noun: str) -> str:
    """`n` and `noun` for a message, the noun plural unless `n` is 1: "1 image", "3 images", "2 processes"."""
    plural = noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")
    return f"{n:,} {noun if n == 1 else plural}"

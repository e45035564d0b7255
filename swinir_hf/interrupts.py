"""How the commands stop on Ctrl-C and SIGTERM: SIGTERM (a scheduler preempting a job) is raised as `Terminated`, a
`KeyboardInterrupt`, so that both unwind through the same `finally` blocks (temporary files removed) to one line
and exit status (`stopped_by`); `signals_deferred` holds both back while a few renames make a folder whole."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# What a command says when stopped before it began (while its modules load or its options are read): training's
# run, any other command.
NOT_STARTED = "the {} had not started, nothing was written"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread to stop as Ctrl-C does."""


def stopped_by(stop: KeyboardInterrupt) -> tuple[str, int]:
    """How a command was stopped, as its message says it, and its exit status: 130 for Ctrl-C, 143 for SIGTERM."""
    return ("terminated (SIGTERM)", 143) if isinstance(stop, Terminated) else ("interrupted", 130)


def not_started(stop: KeyboardInterrupt, what: str = "command") -> int:
    """Say that the `what` ("run": training's) was stopped before it began, once for a launch (by its first
    process: torchrun's RANK 0, or the launcher, which has none); → the exit status."""
    how, status = stopped_by(stop)
    if os.environ.get("RANK", "0") == "0":  # every process of a launch gets the terminal's Ctrl-C
        sys.stderr.write(f"{how}: {NOT_STARTED.format(what)}\n")
    return status


@contextmanager
def entry_imports(entry: str, what: str = "command") -> Iterator[None]:
    """Around the imports of the `python -m` entry module whose `__name__` is `entry`: run (`__main__`), a Ctrl-C
    meanwhile (torch and transformers import: a second, in every process of a launch) is `not_started`'s one line
    and exit status, as later; imported, the interrupt is the importer's to handle. Run under a launcher, the
    process stops when the launcher dies (`processes.stop_with_the_launcher`)."""
    if entry == "__main__":
        from .processes import stop_with_the_launcher

        stop_with_the_launcher()
    try:
        yield
    except KeyboardInterrupt as stop:
        if entry != "__main__":
            raise
        raise SystemExit(not_started(stop, what)) from None


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()  # elsewhere signals cannot be handled


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While active, SIGTERM raises `Terminated` in the main thread."""
    if not _in_main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """SIGINT and SIGTERM received while the block runs are held back and raised again when it ends (to the handlers
    of before): the renames that swap a folder's files are not cut in half. The `KeyboardInterrupt` a held signal
    then raises says that the block had finished (`finished_before`). Main thread only, a no-op elsewhere."""
    if not _in_main_thread():
        yield
        return
    held: list[int] = []
    signums = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum)) for s in signums}
    finished = False
    try:
        yield
        finished = True
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if held:
            try:
                signal.raise_signal(held[0])
            except KeyboardInterrupt as stop:
                stop.finished_block = finished
                raise


def finished_before(stop: KeyboardInterrupt) -> bool:
    """Whether `stop` was a signal held back by `signals_deferred` until its block had finished: the files it was
    moving are in place, and a message must not say that nothing changed."""
    return getattr(stop, "finished_block", False)

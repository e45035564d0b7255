"""How far `restore` and `eval` have got, where no bar can be redrawn (stderr a log file, a pipe, CI, nohup) or none
is wanted (`--no-progress`, `TQDM_DISABLE=1`): a plain line at most every `LINE_SECONDS`, in place of a bar that
tqdm would append redraw after redraw to one long line. On a terminal, tqdm's bar as before (`progress_bar`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .console import bars_redrawn, note, quiet_notes, shown_name, shows_progress

# The rule: a line once this many seconds have passed since the last one (or since the work began), so a short run
# prints none, a long one two a minute however small its steps (images or tiles). The trainer's `step N/M` lines come
# every `log_every` steps instead: a figure (the loss) is due then, not only a count.
LINE_SECONDS = 30.0


def _now() -> float:
    return time.monotonic()


_lines_for_bars = False
# The ProgressLines open in each thread, innermost last: a tile loop reports into the image count around it.
_open = threading.local()


@contextmanager
def lines_for_bars(on: bool) -> Iterator[None]:
    """While open with `on` (`--no-progress`), `progress_bar` gives lines even on a terminal; put back after."""
    global _lines_for_bars
    before, _lines_for_bars = _lines_for_bars, on
    try:
        yield
    finally:
        _lines_for_bars = before


@contextmanager
def progress_as_asked(args: Any) -> Iterator[None]:
    """A command's `-q` (`quiet_notes`) and `--no-progress` (`lines_for_bars`) while open, and with either, the
    libraries' bars (transformers', the Hub's) off. Where stderr is not a terminal the command's loading steps turn
    transformers' bars off themselves (`library_bars_wanted`): switched off here, they would load transformers before
    a usage error is said. datasets' bars follow `library_bars_wanted` alone, in every case, once the options are
    checked: `datasets_bars_off(not library_bars_wanted(...))` around the work that reads a dataset."""
    from .library_bars import library_bars_off

    with quiet_notes(args.quiet), lines_for_bars(args.no_progress):
        if shows_progress(args):
            yield
        else:
            with library_bars_off():
                yield


def library_bars_wanted(shown: bool) -> bool:
    """Whether a library's bars (transformers' "Loading weights", datasets' "Generating train split") may be drawn
    beside the command's: where it shows progress (`shown`: not `-q`, on the process of a launch that says it),
    without `--no-progress` (`lines_for_bars`), and a bar is redrawn in place; in a log file each would be one long
    line."""
    return shown and not _lines_for_bars and bars_redrawn()


def progress_bar(shown: bool, bars: bool = True, **kwargs: Any) -> Any:
    """What says how far the work has got (tqdm's keywords: `iterable`, `total`, `desc`, `unit`, `initial`, ...):
    nothing unless `shown`; else tqdm's bar where one is redrawn in place (`bars_redrawn`), `bars` allows one (False:
    a library's bars are off) and neither `--no-progress` (`lines_for_bars`) nor tqdm's `TQDM_DISABLE` is set;
    else `ProgressLines`."""
    from tqdm.auto import tqdm

    if kwargs.get("desc"):  # a test set's name, say: escaped before tqdm fits the bar to its width (`shown_name`)
        kwargs["desc"] = shown_name(kwargs["desc"])
    if not shown:
        return tqdm(**kwargs, disable=True)
    if bars and not _lines_for_bars and bars_redrawn():
        bar = tqdm(**kwargs)
        if not bar.disable:  # disabled: TQDM_DISABLE=1, tqdm's own switch, which has lines said instead (as train)
            return bar
    return ProgressLines(**kwargs)


def inner_progress(shown: bool, total: int, unit: str) -> Any:
    """Progress over the parts of one item of an outer count (the tiles of an image): reported in the lines of the
    `ProgressLines` open in this thread, if any (even where not `shown`: the command line's images are counted in
    lines, its tiles had no bar); else `progress_bar(shown, ...)`, a bar that goes when done."""
    outer = _innermost()
    if outer is not None:
        return ProgressLines(total=total, unit=unit, outer=outer)
    return progress_bar(shown, total=total, unit=unit, leave=False)


def _innermost() -> ProgressLines | None:
    stack = getattr(_open, "stack", None)
    return stack[-1] if stack else None


class ProgressLines:
    """tqdm's bar as the commands use it (`update`, `close`, iteration, a context manager), writing instead a
    line `DESC: N of TOTAL UNITs (P%), MM:SS elapsed, ~MM:SS left` on stderr (a note: `--quiet` says none) once
    `LINE_SECONDS` have passed since the last; one `outer` to another (the tiles of an image) adds its count to
    the outer's line (`; the image in progress: N of TOTAL tiles`) and writes none of its own."""

    disable = False

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        desc: str | None = None,
        total: float | None = None,
        unit: str = "it",
        initial: int = 0,
        outer: ProgressLines | None = None,
        **_: Any,  # tqdm's keywords of a bar's looks (leave, dynamic_ncols, ...)
    ) -> None:
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable, self.desc, self.total, self.unit = iterable, desc, total, unit
        self.n, self.initial, self.outer, self.inner = initial, initial, outer, None
        self.started = self.last = _now()
        self._lock = threading.Lock()
        if outer is not None:
            outer.inner = self
        else:
            _open.stack = [*getattr(_open, "stack", []), self]

    def __iter__(self) -> Iterator[Any]:
        try:
            for item in self.iterable or ():
                yield item
                self.update()
        finally:  # a loop that ends (or breaks off) closes it, as tqdm's
            self.close()

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        """`n` more done; a line if one is due."""
        self.n += n
        if self.outer is not None:
            self.outer.say_if_due()
        else:
            self.say_if_due()

    def say_if_due(self) -> None:
        """Write the line if `LINE_SECONDS` have passed since the last one."""
        with self._lock:
            now = _now()
            if now - self.last < LINE_SECONDS:
                return
            self.last = now
        note(self.line(now))

    def line(self, now: float) -> str:
        """The line for the count so far at time `now`."""
        from tqdm import tqdm

        seconds = now - self.started
        text = f"{self.desc + ': ' if self.desc else ''}{self.count()}, {tqdm.format_interval(seconds)} elapsed"
        done = self.n - self.initial
        if self.total and 0 < done and self.n < self.total:  # the speed of this run's work (not a resumed run's)
            text += f", ~{tqdm.format_interval((self.total - self.n) * seconds / done)} left"
        inner = self.inner
        return text + (f"; the {self.unit} in progress: {inner.count()}" if inner is not None else "")

    def count(self) -> str:
        """`N of TOTAL UNITs (P%)`, or `N UNITs` with no total."""
        units = f"{self.unit}s"
        if not self.total:
            return f"{self.n:g} {units}"
        return f"{self.n:g} of {self.total:g} {units} ({100 * self.n / self.total:.0f}%)"

    def close(self) -> None:
        """The work is over (or given up): an inner count leaves its outer's lines; no line of its own."""
        if self.outer is not None:
            if self.outer.inner is self:
                self.outer.inner = None
            return
        stack = getattr(_open, "stack", [])
        if self in stack:
            stack.remove(self)

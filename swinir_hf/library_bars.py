"""The libraries' progress bars (transformers', the Hub's, datasets') switched off around work whose own bar, or
log, they would break up; every layer uses them."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext


class _BarsOff:
    """transformers' progress bars (and the Hub's, through it) off while any `transformers_bars_off` block runs. The
    switches are process-wide, so blocks that overlap (threads) share them: the first in saves both libraries'
    settings, the last out restores them (transformers' switch back on turns every Hub bar on, each group's too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self._saved: tuple[bool, dict[str, bool] | None] = (True, None)

    def __enter__(self) -> None:
        from transformers.utils import logging as hf_logging

        with self._lock:
            if self._open == 0:
                hub = _hub_bar_states()
                self._saved = hf_logging.is_progress_bar_enabled(), None if hub is None else dict(hub)
                hf_logging.disable_progress_bar()
            self._open += 1

    def __exit__(self, *exc_info: object) -> None:
        from transformers.utils import logging as hf_logging

        with self._lock:
            self._open -= 1
            if self._open == 0:
                was_on, saved = self._saved
                if was_on:
                    hf_logging.enable_progress_bar()
                if (hub := _hub_bar_states()) is not None and saved is not None:
                    hub.clear()
                    hub.update(saved)


def _hub_bar_states() -> dict[str, bool] | None:
    """huggingface_hub's record of its global and per-group progress-bar switches (None where it keeps none)."""
    return getattr(importlib.import_module("huggingface_hub.utils.tqdm"), "progress_bar_states", None)


_BARS_OFF = _BarsOff()


@contextmanager
def transformers_bars_off(when: bool = True) -> Iterator[None]:
    """No progress bars from transformers (nor the Hub's, through it) inside, `when` (False leaves them as they are:
    the process of a launch that shows them): a bar for writing or loading one small weights file only breaks up the
    output around it (a training run's bar, a command's lines). Both libraries' settings are put back after as they
    were, also when blocks on several threads overlap (`_BarsOff`)."""
    with _BARS_OFF if when else nullcontext():
        yield


@contextmanager
def library_bars_off(datasets_too: bool = False) -> Iterator[None]:
    """No bars from transformers ("Loading weights"), the Hub (downloads) or, `datasets_too`, datasets (`map`,
    "Generating train split"): a command's `--no-progress`."""
    with datasets_bars_off() if datasets_too else nullcontext(), transformers_bars_off():
        yield


@contextmanager
def datasets_bars_off(when: bool = True) -> Iterator[None]:
    """No bars from `datasets` inside (a bar per part of a `map`, "Generating train split"), `when` (False leaves them
    as they are, without importing datasets), put back after as they were; nothing without datasets installed
    (`load_image_dataset` says which extra provides it)."""
    if not when:
        yield
        return
    try:
        import datasets
    except ImportError:
        yield
        return
    was_on = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_on:
            datasets.enable_progress_bars()

"""What the package prints and logs on stderr around its progress bars, and how a caller turns them off."""

from __future__ import annotations

import contextlib
import logging
import sys

import numpy as np
import pytest
from tqdm.auto import tqdm

from swinir_hf import SwinIRForImageRestoration, console, restore


@pytest.fixture(scope="module")
def model(tiny_config):
    return SwinIRForImageRestoration(tiny_config()).eval()


def _final_lines(err: str) -> list[str]:
    """Each line of `err` as a terminal leaves it: what follows its last carriage return."""
    return [line.rsplit("\r", 1)[-1] for line in err.split("\n")]


@pytest.mark.parametrize("logged", ["prefixed_warnings", "package_log"])
def test_a_logged_warning_goes_above_a_progress_bar_not_into_it(logged, monkeypatch, capsys):
    """The package's log handlers wrote straight to stderr while a bar was drawn there, which left
    `restore:   0%|...| 0/3 [...]warning: tile_overlap=0: ...` on one line (and so the trainer's Ctrl-C notice)."""
    monkeypatch.setattr(logging.getLogger("swinir_hf"), "handlers", [])  # put back after
    with console.package_log(logging.INFO) if logged == "package_log" else contextlib.nullcontext():
        if logged == "prefixed_warnings":
            console.prefixed_warnings()
        with tqdm(total=3, desc="restore") as bar:
            logging.getLogger("swinir_hf.train").warning("SIGINT: stopping after this step")
            bar.update()
    err = capsys.readouterr().err
    assert "warning: SIGINT: stopping after this step" in _final_lines(err)
    assert "restore:" in err.split("stopping after this step")[1]  # the bar, drawn again below it


def test_tqdm_disable_is_left_to_tqdm_where_a_bar_is_wanted(tqdm_environment, model, capsys):
    """`disable=not progress` was passed to every bar: tqdm's environment (`TQDM_DISABLE=1`) only sets defaults."""
    assert console.bar_switch(False) == {"disable": True}
    restore(model, np.zeros((16, 16, 3), np.uint8), tile=8, progress=True)  # a bar over its tiles (left: cleared)
    assert "tile/s" in capsys.readouterr().err
    tqdm_environment(disable=True)
    restore(model, np.zeros((16, 16, 3), np.uint8), tile=8, progress=True)
    assert capsys.readouterr().err == ""


def test_a_bar_is_redrawn_in_place_on_a_terminal_only(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not console.bars_redrawn()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert console.bars_redrawn()


def test_warn_once_says_each_message_once_per_process(caplog):
    logger = logging.getLogger("swinir_hf.inference.restoration")
    for message in ("a", "b", "a", "a", "b"):
        console.warn_once(logger, message)
    assert caplog.messages == ["a", "b"]


def test_quiet_silences_the_notes(capsys):
    with console.quiet_notes(True):
        console.note("restored 3")
    console.note("said")
    assert capsys.readouterr().err == "said\n"

"""`swinir-hf` conventions shared by every subcommand: `--version`, help and usage errors."""

from __future__ import annotations

import pytest

from swinir_hf import __version__
from swinir_hf.cli import main


def test_version_is_printed_on_stdout(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    out, err = capsys.readouterr()
    assert (out, err) == (f"swinir-hf {__version__}\n", "")

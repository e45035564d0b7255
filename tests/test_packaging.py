"""What an installed (non-editable) wheel holds and tells its users: every data file the package reads at run time
is declared as package data, and every declared pattern names a file that exists."""

from __future__ import annotations

from pathlib import Path

import pytest

import swinir_hf

PACKAGE = Path(swinir_hf.__file__).parent
REPO = PACKAGE.parent


@pytest.fixture(scope="module")
def package_data() -> list[str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    pyproject = REPO / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not a checkout: no pyproject.toml beside the package")
    with pyproject.open("rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]["package-data"]["swinir_hf"]


def _data_files() -> set[Path]:
    """The package's files that are not Python source (nor caches)."""
    return {
        p.relative_to(PACKAGE)
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts
    }


def test_every_package_data_pattern_matches_a_file(package_data):
    """setuptools skips a pattern that matches nothing without a word, so a declared file that was never added
    (py.typed) is missing from every wheel."""
    for pattern in package_data:
        assert any(p.is_file() for p in PACKAGE.glob(pattern)), f"package-data pattern {pattern!r} matches no file"


def test_every_data_file_of_the_package_is_declared(package_data):
    """A data file not matched by package-data is in a checkout (and an editable install) but not in the wheel."""
    declared = {p.relative_to(PACKAGE) for pattern in package_data for p in PACKAGE.glob(pattern) if p.is_file()}
    assert sorted(map(str, _data_files() - declared)) == []


def test_the_package_is_marked_typed():
    """PEP 561: type checkers read an installed package's annotations only when it ships py.typed."""
    assert (PACKAGE / "py.typed").is_file()

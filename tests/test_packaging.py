"""What an installed (non-editable) wheel holds and tells its users: every data file the package reads at run time
is declared as package data, and every declared pattern names a file that exists; the sdist and the wheel built
from it as `python -m build` builds them."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import swinir_hf

PACKAGE = Path(swinir_hf.__file__).parent
REPO = PACKAGE.parent


@pytest.fixture(scope="module")
def pyproject() -> dict:
    """The checkout's pyproject.toml, read by tomllib (Python 3.11+) or, on 3.10, its backport tomli (pytest's)."""
    toml = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    path = REPO / "pyproject.toml"
    if not path.is_file():
        pytest.skip("not a checkout: no pyproject.toml beside the package")
    with path.open("rb") as f:
        return toml.load(f)


@pytest.fixture(scope="module")
def package_data(pyproject) -> list[str]:
    return pyproject["tool"]["setuptools"]["package-data"]["swinir_hf"]


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


def test_the_pins_hold_on_the_oldest_python_the_package_declares(pyproject, constraint_pins):
    """`pip install -c constraints.txt ...` (the README's and CI's command) fails outright on a declared Python that
    one pinned release does not support (transformers 5.24 and numpy 2.4 need 3.11; requires-python says 3.10): a
    pin that applies there must declare it. Checked for the pins installed here at their version (their metadata
    holds their Requires-Python)."""
    from importlib import metadata

    from packaging.specifiers import SpecifierSet

    oldest = re.fullmatch(r">=\s*(3\.\d+)", pyproject["project"]["requires-python"]).group(1)
    checked, refused = 0, []
    for name, version in constraint_pins(oldest).items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        checked += 1
        requires = dist.metadata.get("Requires-Python")
        if requires and f"{oldest}.0" not in SpecifierSet(requires):
            refused.append(f"{name}=={version} (Requires-Python {requires})")
    if not checked:
        pytest.skip("no pinned release is installed here: installed without constraints.txt")
    assert refused == [], f"pins that Python {oldest} cannot install: give each a python_version marker and a twin"


def test_the_classifiers_name_the_pythons_from_the_declared_oldest_on(pyproject):
    """PyPI and pip's users read the supported Pythons off the `Programming Language :: Python :: 3.X` classifiers:
    one for each minor version from requires-python's bound on, none skipped, none below it."""
    oldest = int(re.fullmatch(r">=\s*3\.(\d+)", pyproject["project"]["requires-python"]).group(1))
    pattern = r"Programming Language :: Python :: 3\.(\d+)"
    minors = [int(m.group(1)) for c in pyproject["project"]["classifiers"] if (m := re.fullmatch(pattern, c))]
    assert minors and minors == list(range(oldest, oldest + len(minors))), minors


def test_the_tested_versions_of_the_docs_include_the_ones_ci_installs(constraint_pins):
    """docs/transformers.md, "Tested versions and platforms", still named huggingface_hub 1.31 / 1.33 / 2.4 once
    constraints.txt (what CI installs) had moved to 2.5.0: the versions it names as CI's are constraints.txt's."""
    text = (REPO / "docs/transformers.md").read_text(encoding="utf-8").split("## Tested versions and platforms")[1]
    pins = constraint_pins()
    minor = {name: ".".join(pins[name].split(".")[:2]) for name in ("huggingface-hub", "pillow", "gradio")}
    tested = re.search(r"Tested on transformers 5 \(5\.(\d+)-5\.(\d+)\), huggingface_hub ([\d. /]+),", text)
    assert int(tested[1]) <= int(pins["transformers"].split(".")[1]) <= int(tested[2]), pins["transformers"]
    assert minor["huggingface-hub"] in tested[3].split(" / "), f"huggingface_hub {pins['huggingface-hub']}"
    assert f"CI runs torch {pins['torch']};" in text and f"CI installs Pillow {minor['pillow']} " in text
    assert f"gradio {minor['gradio']} " in text


def test_the_package_is_marked_typed():
    """PEP 561: type checkers read an installed package's annotations only when it ships py.typed."""
    assert (PACKAGE / "py.typed").is_file()


@pytest.mark.parametrize(
    ("checkout", "hint"),
    [
        (False, "pip install 'swinir-hf[demo]' (keeps the installed swinir-hf, adds the extra's packages)"),
        (True, "pip install -e '.[demo]' in a checkout of the swinir-hf repository"),
    ],
)
def test_a_missing_extra_is_installed_the_way_the_package_was(monkeypatch, tmp_path, checkout, hint):
    """An installed wheel (the package in site-packages, no pyproject.toml beside it) is told to add the extra by
    name, which pip does keeping the installed swinir-hf; only a checkout is sent to `pip install -e`."""
    import sys

    from swinir_hf import extras

    if checkout:
        (tmp_path / "pyproject.toml").write_text("[project]\nname = 'swinir-hf'\n")
    monkeypatch.setattr(extras, "PACKAGE_PARENT", tmp_path)
    monkeypatch.setitem(sys.modules, "gradio", None)
    with pytest.raises(extras.MissingExtraError) as err:
        extras.require("gradio", "demo", "swinir-hf demo")
    assert str(err.value) == f"swinir-hf demo needs the 'gradio' package, which the [demo] extra provides: {hint}"


@pytest.mark.parametrize(
    ("init", "error"),
    [
        (
            "raise ImportError('pyarrow requires NumPy 2.0 or newer, found 1.26.4')",
            "pyarrow requires NumPy 2.0 or newer, found 1.26.4",
        ),
        ("import a_dependency_that_is_gone", "No module named 'a_dependency_that_is_gone'"),
    ],
)
def test_an_installed_extra_that_fails_to_import_gives_its_own_error(monkeypatch, tmp_path, init, error):
    """Installing the extra again would not help: the message says why the installed package does not import."""
    from swinir_hf import extras

    (tmp_path / "broken_extra").mkdir()
    (tmp_path / "broken_extra" / "__init__.py").write_text(init + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(extras.MissingExtraError) as err:
        extras.require("broken_extra", "train", "loading the dataset")
    assert str(err.value) == (
        f"loading the dataset needs the 'broken_extra' package, which is installed but fails to import: {error}"
    )


def test_this_checkout_gets_the_checkout_hint():
    from swinir_hf.extras import install_hint

    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("not a checkout")
    assert install_hint("train") == "pip install -e '.[train]' in a checkout of the swinir-hf repository"


def _build(backend_call: str, source: Path, out: Path) -> Path:
    """Run setuptools' build backend (`build_sdist` / `build_wheel`) in `source` (no isolation: the test extra's
    setuptools, no network) and return the file it wrote to `out`."""
    code = f"from setuptools import build_meta; print(build_meta.{backend_call}({str(out)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=source, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[list[str], list[str]]:
    """(sdist members, wheel members), names relative to the sdist's folder, the wheel as it is: the sdist built from
    (a copy of) this checkout, the wheel from the unpacked sdist."""
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("not a checkout: no pyproject.toml beside the package")
    out = tmp_path_factory.mktemp("dist")
    # A copy without what git ignores: setuptools would add the files listed by an earlier build's egg-info.
    ignored = [line.strip("/") for line in (REPO / ".gitignore").read_text().splitlines() if line[:1] not in ("", "#")]
    source = out / "checkout"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", *ignored))
    sdist = _build("build_sdist", source, out)
    with tarfile.open(sdist) as tar:
        # (tarfile's extraction filters came with Python 3.10.12 / 3.11.4; the package declares >= 3.10)
        tar.extractall(out, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        top = sdist.name.removesuffix(".tar.gz")
        members = sorted(m.name.removeprefix(top + "/") for m in tar.getmembers() if m.isfile())
    wheel = _build("build_wheel", out / top, out)
    with zipfile.ZipFile(wheel) as whl:
        return members, sorted(whl.namelist())


def test_the_wheel_holds_every_file_of_the_package_and_its_licence(built):
    """Built from the sdist, as pip builds one: the package's every file (bundled models, configs, the remote code)
    and the licence text, no tests."""
    _, wheel = built
    package = sorted(
        f"swinir_hf/{p.relative_to(PACKAGE).as_posix()}"
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in p.parts
    )
    assert [name for name in wheel if name.startswith("swinir_hf/")] == package
    assert any(re.fullmatch(r"swinir_hf-[^/]+\.dist-info/licenses/LICENSE", name) for name in wheel)
    assert not [name for name in wheel if name.startswith("tests/")]


def test_the_sdist_runs_its_tests_and_resolves_the_readme_links(built):
    """The sdist's tests have their conftest.py and fixtures, and every file the README links to is in it."""
    sdist, _ = built
    assert {"LICENSE", "constraints.txt", "app.py", "tests/conftest.py"} <= set(sdist)
    fixtures = sorted(f"tests/fixtures/{p.name}" for p in (REPO / "tests" / "fixtures").iterdir() if p.is_file())
    assert fixtures and set(fixtures) <= set(sdist)
    links = re.findall(r"\]\((?!https?:)([^)#]+)", (REPO / "README.md").read_text())
    assert links and sorted(set(links) - set(sdist)) == []
    # the GPU lease's working checkpoints (a quarter of the sdist) are no source
    assert "hub/gpu_lease.py" in sdist and not [name for name in sdist if name.startswith("hub/lease_state")]


def test_the_installed_version_is_the_packages():
    """The version pip records (pyproject reads it from `swinir_hf.__version__`) is the one `swinir-hf --version` and
    exported cards print: one definition, so a release cannot carry two."""
    import importlib.metadata

    import swinir_hf

    assert importlib.metadata.version("swinir-hf") == swinir_hf.__version__

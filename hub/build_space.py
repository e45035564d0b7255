"""Assemble a Hugging Face Space folder from the repo: `python hub/build_space.py OUT_DIR [--overwrite]
[--hardware {cpu-basic,zero-a10g}]`.

The Space gets app.py, a copy of the `swinir_hf` package (bundled default checkpoints and the demo's example images
included, so the Space works without the Hub) and hub/space/ (README with the Space header, to which the build adds
the Hub models the demo offers; the requirements, pinned down to what gradio brings). A rebuild over a folder with
`--overwrite` names the files in it the build did not write (uploaded too).
`--hardware zero-a10g` (ZeroGPU) rewrites the last two for ZeroGPU's runtime: Python 3.10.13, PyPI's CUDA torch at a
version ZeroGPU lists, and `suggested_hardware`. Upload it with
`hf upload --repo-type space ORG/NAME OUT_DIR --delete "*"` (which also removes from the Space what the build no
longer has).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPACE = ROOT / "hub" / "space"
CONSTRAINTS = ROOT / "constraints.txt"
# The Hub's names for the hardware (what a Space's settings and `suggested_hardware` take): CPU basic, ZeroGPU.
HARDWARE = ("cpu-basic", "zero-a10g")
# ZeroGPU's runtime, from its docs (huggingface.co/docs/hub/spaces-zerogpu, read 2026-12-06): one Python, 3.10.13,
# and the torch versions it lists (2.1.0 ... 2.8.0): 2.8.0 is the newest, and the package needs ≥ 2.8. The Space's
# other pins are constraints.txt's for Python 3.10, where the suite passes.
ZERO_GPU_PYTHON = "3.10.13"
ZERO_GPU_TORCH = "2.8.0"
# What the Space's packages add on Python 3.10 only (anyio needs exceptiongroup, huggingface_hub tomli, 3.10's
# python-dateutil six): `pip install --dry-run` of gradio and the ZeroGPU requirements on 3.10.13, 2026-12-07, brought
# these three beyond the list (and torch's own nvidia-* and triton, which torch pins). Pinned at constraints.txt's.
ZERO_GPU_EXTRAS = ("exceptiongroup", "six", "tomli")
ZERO_GPU_HEADER = f"""\
# hub/space/requirements.txt rewritten by `hub/build_space.py --hardware zero-a10g`: the same packages at
# constraints.txt's versions for ZeroGPU's Python ({ZERO_GPU_PYTHON}), and PyPI's torch (the CUDA build) at
# {ZERO_GPU_TORCH}, a version ZeroGPU lists, and what they bring on Python 3.10 only ({", ".join(ZERO_GPU_EXTRAS)}).
# The `spaces` package comes with the Space; gradio from sdk_version.
"""


def space_files() -> dict[str, Path]:
    """Name in the Space folder → source path in the repo."""
    files = {"app.py": ROOT / "app.py", "swinir_hf": ROOT / "swinir_hf"}
    files.update({p.name: p for p in sorted(SPACE.iterdir())})
    return files


def build_space(out: Path, overwrite: bool = False, hardware: str = "cpu-basic") -> list[str]:
    """Copy the Space's files into `out` and return their names; `hardware` ("cpu-basic" or "zero-a10g") picks the
    README header and requirements.

    Raises:
        ValueError: `out` or a folder above it is a file, or `out` has files and `overwrite` is not set (only the
            Space's own names are replaced); an unknown `hardware`.
    """
    from swinir_hf.storage.output_folders import check_fresh_output_folder  # the package's check (imports torch)

    if hardware not in HARDWARE:
        raise ValueError(f"unknown hardware {hardware!r}: choose one of {', '.join(HARDWARE)}")
    out = Path(out)
    check_fresh_output_folder(out, overwrite, "output folder", replaces="the Space files in it")
    out.mkdir(parents=True, exist_ok=True)
    files = space_files()
    for name, source in files.items():
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, target)
    readme = with_models((SPACE / "README.md").read_text())
    (out / "README.md").write_text(zero_gpu_readme(readme) if hardware == "zero-a10g" else readme, encoding="utf-8")
    if hardware == "zero-a10g":
        requirements = zero_gpu_requirements((SPACE / "requirements.txt").read_text(), CONSTRAINTS.read_text())
        (out / "requirements.txt").write_text(requirements, encoding="utf-8")
    return sorted(files)


def with_models(readme: str) -> str:
    """The Space README with `models:` in its header: the authors' checkpoints the demo offers by Hub id (the
    catalogue's), so that the Hub links the Space and those models both ways."""
    from swinir_hf.checkpoints.catalog import load_catalog

    models = "".join(f"\n  - {release.repo_id()}" for release in load_catalog().releases)
    end = readme.index("\n---", 3)  # the header's closing line
    return f"{readme[:end]}\nmodels:{models}{readme[end:]}"


def not_space_files(out: Path) -> list[str]:
    """Names in `out` that the build does not write (a file of the user's, or one an earlier version wrote): `hf
    upload` uploads them too. A clone's `.git` and `.gitattributes` and huggingface_hub's `.cache` are not counted."""
    own = {*space_files(), ".git", ".gitattributes", ".cache"}
    return sorted(p.name for p in Path(out).iterdir() if p.name not in own)


def zero_gpu_readme(readme: str) -> str:
    """The Space README's header for ZeroGPU: its Python, and the hardware suggested to whoever duplicates it."""
    header, found = re.subn(r"(?m)^python_version: .*$", f'python_version: "{ZERO_GPU_PYTHON}"', readme, count=1)
    if not found:
        raise ValueError("hub/space/README.md has no python_version line in its header")
    end = header.index("\n---", 3)  # the header's closing line
    return f"{header[:end]}\nsuggested_hardware: zero-a10g{header[end:]}"


def zero_gpu_requirements(cpu_requirements: str, constraints: str) -> str:
    """`cpu_requirements` (hub/space/requirements.txt) for ZeroGPU: its packages and `ZERO_GPU_EXTRAS` at
    `constraints`' versions for ZeroGPU's Python, torch at `ZERO_GPU_TORCH` from PyPI (no CPU index)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    python = {"python_version": ".".join(ZERO_GPU_PYTHON.split(".")[:2]), "python_full_version": ZERO_GPU_PYTHON}
    tested, elsewhere = {}, set()
    for line in constraints.splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(python):
                tested[canonicalize_name(req.name)] = str(req.specifier).removeprefix("==")
            else:
                elsewhere.add(canonicalize_name(req.name))
    pins = []
    names = [line.split("==")[0].strip() for line in cpu_requirements.splitlines() if line.strip()]
    for name in [*(n for n in names if not n.startswith(("#", "-"))), *ZERO_GPU_EXTRAS]:
        version = ZERO_GPU_TORCH if name == "torch" else tested.get(canonicalize_name(name))
        if version is not None:
            pins.append(f"{name}=={version}\n")
        elif canonicalize_name(name) not in elsewhere:  # pinned for the other Pythons only: not installed here
            raise ValueError(f"constraints.txt pins no {name} for Python {ZERO_GPU_PYTHON}")
    return ZERO_GPU_HEADER + "".join(pins)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output_dir", type=Path, help="folder to write the Space into")
    parser.add_argument("--overwrite", action="store_true", help="replace the Space files in a non-empty folder")
    parser.add_argument(
        "--hardware",
        choices=HARDWARE,
        default="cpu-basic",
        help="the Space's hardware: cpu-basic (default), or zero-a10g (ZeroGPU: Python, torch and header for it)",
    )
    args = parser.parse_args(argv)
    from swinir_hf.console import shown_name  # the package (torch) once the options are read, as `build_space`

    try:
        names = build_space(args.output_dir, overwrite=args.overwrite, hardware=args.hardware)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Space for {args.hardware} assembled in {args.output_dir}: {', '.join(names)}")
    others = ", ".join(shown_name(name) for name in not_space_files(args.output_dir))
    if others:  # an earlier build's leftovers would reach the Space: `hf upload` sends the whole folder
        print(
            f"also in {shown_name(args.output_dir)}, not from this build (uploaded too; delete what is stale): {others}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

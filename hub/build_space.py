"""Assemble a Hugging Face Space folder from the repo: `python hub/build_space.py OUT_DIR [--overwrite]`.

The Space gets app.py, a copy of the `swinir_hf` package (bundled default checkpoints and the demo's example images
included, so the Space works without the Hub) and hub/space/ (README with the Space header, pinned requirements).
Upload it with `hf upload --repo-type space ORG/NAME OUT_DIR`.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPACE = ROOT / "hub" / "space"


def space_files() -> dict[str, Path]:
    """Name in the Space folder → source path in the repo."""
    files = {"app.py": ROOT / "app.py", "swinir_hf": ROOT / "swinir_hf"}
    files.update({p.name: p for p in sorted(SPACE.iterdir())})
    return files


def build_space(out: Path, overwrite: bool = False) -> list[str]:
    """Copy the Space's files into `out` and return their names.

    Raises:
        ValueError: `out` or a folder above it is a file, or `out` has files and `overwrite` is not set (only the
            Space's own names are replaced).
    """
    from swinir_hf.storage.output_folders import check_fresh_output_folder  # the package's check (imports torch)

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
    return sorted(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path, help="folder to write the Space into")
    parser.add_argument("--overwrite", action="store_true", help="replace the Space files in a non-empty folder")
    args = parser.parse_args(argv)
    try:
        names = build_space(args.output_dir, overwrite=args.overwrite)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Space assembled in {args.output_dir}: {', '.join(names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A benchmark image's given input in an `--lr-dir` folder: `NAME.*` or `NAMEx<scale>.*` (the authors' naming), and
what the folder holds instead where neither is there; folders named as given inputs (`LR/`, `LR_bicubic/`)."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from ..console import shown_name
from ..inference.files import IMAGE_SUFFIXES


def lr_file(lr_dir: Path, name: str, scale: int, names: Collection[str] = ()) -> Path:
    """The file of `lr_dir` that holds image `name`'s ×`scale` input: `NAME.*` or `NAMEx{scale}.*`. `names`: the
    set's images' names, whose own inputs (`img_1_2x2.png` beside `img_1`) are no hint of `name`'s.

    Raises:
        FileNotFoundError: no such folder, or neither file in it (the message says what it holds instead, if
            anything: another scale's inputs, or files named otherwise).
        ValueError: both (or two suffixes of one): which is meant is not known.
    """
    if not lr_dir.is_dir():
        raise FileNotFoundError(f"no such LR folder: {shown_name(lr_dir)}")
    stems = [name, f"{name}x{scale}"]
    images = [f for f in sorted(lr_dir.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    found = [f for f in images if f.stem in stems]
    if not found:
        others = [f for f in images if not _input_of(f.stem, set(names) - {name})]
        hint = _other_scales(images, name, scale) or _named_otherwise(others, name, scale)
        looked = f"looked for {' / '.join(map(shown_name, stems))}.*"
        raise FileNotFoundError(f"no LR image for {shown_name(name)} in {shown_name(lr_dir)} ({looked}){hint}")
    if len(found) > 1:
        names = " and ".join(shown_name(f.name) for f in found)
        lr_of = f"in {shown_name(lr_dir)} could each be the LR image of {shown_name(name)}"
        raise ValueError(f"{names} {lr_of}: keep one of them")
    return found[0]


def _other_scales(images: list[Path], name: str, scale: int) -> str:
    """What the folder of `images` holds instead of `name`'s ×`scale` input, where it holds another scale's
    (`babyx2.png` in Set5/LR_bicubic/X2, or `babyX2.png`, for a ×4 evaluation), in words; else "". A file of this
    scale named with `X` is `_named_otherwise`'s."""
    pattern = re.compile(rf"{re.escape(name)}[xX](\d+)")
    matches = (pattern.fullmatch(f.stem) for f in images)
    found = sorted((int(m[1]), m[0] != f"{name}x{m[1]}", m[0]) for m in matches if m and int(m[1]) != scale)
    if not found:
        return ""
    scales = sorted({s for s, _, _ in found})
    held = f"×{' / ×'.join(map(str, scales))} inputs ({shown_name(found[0][2])})"  # the authors' naming first
    return f": it holds {held}, this evaluation is ×{scale}"


def _named_otherwise(images: list[Path], name: str, scale: int) -> str:
    """The files of `images` that look like `name`'s input under another naming (`baby_x2.png`, `baby-LR.png`,
    `babyX2.png`, `Baby.png`: the name in any case, then nothing, a separator or X and digits), in words; else "".
    Another image's name (`baby2` beside `baby`) is no such file."""
    pattern = re.compile(rf"{re.escape(name)}([^a-z0-9].*|x\d+)?", re.IGNORECASE)
    look_alike = [f.name for f in images if pattern.fullmatch(f.stem)]
    if not look_alike:
        return ""
    held = ", ".join(map(shown_name, look_alike[:3])) + (", ..." if len(look_alike) > 3 else "")
    return f": it holds {held}, named otherwise: name the inputs {shown_name(name)}.* or {shown_name(name)}x{scale}.*"


def _input_of(stem: str, names: set[str]) -> bool:
    """Whether a file of stem `stem` is the input of one of the images `names` (as `NAME` or `NAMEx<digits>`)."""
    return stem in names or re.sub(r"x\d+$", "", stem) in names


# A folder of degraded inputs, as the authors, BasicSR and DIV2K name them: LR, LQ, LR_bicubic, LRbicx4,
# DIV2K_valid_LR_bicubic, LR-x4.
_INPUTS_FOLDER = re.compile(r"(^|[_-])(LR|LQ)($|[_-]|bic|x\d)", re.IGNORECASE)


def named_as_inputs(folder: Path) -> str | None:
    """The name by which `folder` says it holds degraded inputs (`_INPUTS_FOLDER`), or its parent for a scale's
    folder (`Set5/LR_bicubic/X4`); else None."""
    folder = folder.resolve()  # `--dataset .` inside one
    named = (folder, folder.parent) if re.fullmatch(r"[xX]\d+", folder.name) else (folder,)
    return next((p.name for p in named if _INPUTS_FOLDER.search(p.name)), None)


def input_folders(folder: Path) -> list[Path]:
    """`folder`'s sub-folders named as degraded inputs (`_INPUTS_FOLDER`: `Set5/LR_bicubic`, `LR`), sorted."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and _INPUTS_FOLDER.search(p.name))


def super_resolution_inputs(folder: Path) -> bool:
    """Whether `folder` holds inputs for super-resolution: bicubic by its name, or by scale (`X2/`, `x4/`)."""
    scales = (p for p in folder.iterdir() if p.is_dir())
    return "bic" in folder.name.lower() or any(re.fullmatch(r"[xX]\d+", p.name) for p in scales)

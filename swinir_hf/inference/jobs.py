"""The jobs of a collection: each input's output name and size (and the `outscale` resize to it, `resize_float`),
and what is skipped (outputs that exist, inputs that are outputs of an earlier run) or refused before any work
(`plan_jobs`); `job_runner` runs them in one process, `swinir_hf.inference.collection` spreads them over processes."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..console import shown_name
from ..storage.output_folders import file_in_the_way
from ..storage.paths import NAME_MAX, folds_case
from .existing_outputs import Found, MadeOtherwise

if TYPE_CHECKING:
    import numpy as np

OUTPUT_FORMATS = ("auto", "png", "jpg", "webp", "tif")
# JPEG's suffixes, as Pillow registers them (and writes them: a .jfif or .jpe file is a JPEG).
JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")
# Formats `--ext auto` keeps (with the input's own suffix); any other input (BMP, GIF, PPM, ...) becomes PNG,
# which is lossless and holds alpha and 16 bits.
KEPT_SUFFIXES = (".png", *JPEG_SUFFIXES, ".webp", ".tif", ".tiff")
# The JPEG / lossy WebP quality when none is asked.
DEFAULT_QUALITY = 95


@dataclass(frozen=True)
class OutputOptions:
    """How outputs are named, sized and encoded.

    `ext` is "auto" (the input's format: PNG / JPEG / WebP / TIFF kept, lossless WebP stays lossless, others
    become PNG) or one of png, jpg, webp, tif; `outscale` resizes the model output to
    floor(outscale · W + 0.5) × floor(outscale · H + 0.5) of the W × H input (Lanczos, in float, before rounding to
    the output's bit depth); `quality` (1-100; None: `DEFAULT_QUALITY`) is for JPEG and lossy WebP: one asked of
    ext "webp" makes a lossless WebP input's output lossy too, which it otherwise keeps lossless (as "auto" always
    does); `overwrite` replaces existing outputs (inputs never).
    """

    ext: str = "png"
    suffix: str = ""
    outscale: float | None = None
    quality: int | None = None
    overwrite: bool = False

    @property
    def encoder_quality(self) -> int:
        """The JPEG / lossy WebP quality outputs are written with."""
        return DEFAULT_QUALITY if self.quality is None else self.quality

    @property
    def keeps_lossless(self) -> bool:
        """Whether a lossless WebP input is written as lossless WebP."""
        return self.ext == "auto" or (self.ext == "webp" and self.quality is None)

    def __post_init__(self) -> None:
        if self.ext not in OUTPUT_FORMATS:
            raise ValueError(f"ext must be one of {', '.join(OUTPUT_FORMATS)}, got {self.ext!r}")
        check_outscale(self.outscale)
        check_quality(self.quality)
        if "/" in self.suffix or "\\" in self.suffix:
            raise ValueError(f"suffix must not contain a path separator, got {self.suffix!r}")
        # A stem of one byte and the shortest extension (".png", ".jpg", ".tif") take 5 bytes.
        if (n := len(os.fsencode(self.suffix))) > NAME_MAX - 5:
            raise ValueError(
                f"suffix is {n} bytes: with an extension no output name fits in the {NAME_MAX} bytes a file name "
                "may have"
            )


@dataclass(frozen=True)
class Job:
    """One input file and where its restoration goes; `lossless` asks for lossless WebP."""

    src: Path
    dst: Path
    lossless: bool = False


@dataclass
class Plan:
    """The jobs to run and what was set aside: `existing` outputs (skipped), `made_otherwise` (existing outputs
    that this run would not make alike, by their record or size: `existing_outputs.set_aside`; not replaced),
    `earlier_outputs` (inputs that are outputs of an earlier run into the same folder, not re-processed) and `errors`
    ((input, message) pairs)."""

    jobs: list[Job]
    existing: list[Found] = field(default_factory=list)
    made_otherwise: list[MadeOtherwise] = field(default_factory=list)
    earlier_outputs: list[Path] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)


def check_outscale(outscale: float | None) -> None:
    """Raise ValueError unless `outscale` is None or a finite positive number: `output_size` makes any other value's
    outputs 1 × 1 pixels (0, negative) or fails midway (NaN, infinity)."""
    is_number = isinstance(outscale, numbers.Real) and not isinstance(outscale, bool)
    if outscale is not None and not (is_number and math.isfinite(outscale) and outscale > 0):
        raise ValueError(f"outscale must be a positive number, got {_as_given(outscale)}")


def check_quality(quality: int | None) -> None:
    """Raise ValueError unless `quality` is None or an int in 1..100: Pillow's JPEG encoder refuses any other (a
    float too), at each output's write."""
    is_int = isinstance(quality, numbers.Integral) and not isinstance(quality, bool)
    if quality is not None and not (is_int and 1 <= quality <= 100):
        raise ValueError(f"quality must be an int in 1..100, got {_as_given(quality)}")


def _as_given(value: object) -> str:
    """A number as it reads (2, 0.0, nan), anything else as its repr: `'2'` shows a str was given for a number."""
    return str(value) if isinstance(value, numbers.Number) else repr(value)


def output_size(width: int, height: int, outscale: float) -> tuple[int, int]:
    """(W, H) input pixels → (W', H') = (floor(outscale·W + 0.5), floor(outscale·H + 0.5)), at least 1 each."""
    return max(1, math.floor(outscale * width + 0.5)), max(1, math.floor(outscale * height + 0.5))


def resize_float(colour: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float32 → (size[1], size[0], C) float32, Lanczos per channel, neither clamped nor rounded: the
    `outscale` resize, of a restorer's call and of `swinir-hf restore --outscale` (the same pixels)."""
    import numpy as np  # here: the command line's options (`restore_arguments`) import this module before numpy
    from PIL import Image

    if colour.shape[1::-1] == tuple(size):
        return colour
    out = np.empty((size[1], size[0], colour.shape[2]), np.float32)
    for c in range(colour.shape[2]):  # one plane at a time into `out`: the planes all held and stacked are 2 outputs
        plane = Image.fromarray(np.ascontiguousarray(colour[..., c], dtype=np.float32))
        out[..., c] = np.asarray(plane.resize(size, Image.Resampling.LANCZOS))
    return out


def output_path(src: Path, rel: Path, out_dir: Path, output: OutputOptions) -> Path:
    """Where the restoration of `src` (found at `rel` under its input root) is written."""
    return out_dir / rel.parent / f"{rel.stem}{output.suffix}{output_suffix(src, output.ext)}"


def output_suffix(src: Path, ext: str) -> str:
    """The output suffix of `src` for an `ext` of `OUTPUT_FORMATS`: "auto" keeps a `KEPT_SUFFIXES` one, else PNG."""
    return _auto_suffix(src) if ext == "auto" else "." + ext


def writes_lossless(src: Path, output: OutputOptions) -> bool:
    """Whether `src`'s output is written as lossless WebP: a lossless WebP input whose `output` keeps it so."""
    return output.keeps_lossless and src.suffix.lower() == ".webp" and _is_lossless_webp(src)


# The longest side each lossy format's encoder takes (libwebp, libjpeg); PNG and TIFF have no such limit.
_MAX_SIDE = {".webp": ("WebP", 16383)} | dict.fromkeys(JPEG_SUFFIXES, ("JPEG", 65500))


def check_encodable(
    dst: Path, size: tuple[int, int], advice: str = "use --ext png or tif, or a smaller --outscale"
) -> None:
    """Raise ValueError when a (W, H) image is too large for `dst`'s format: found before the model runs, not
    after; the message ends with `advice` (the command line's options, or the caller's words for them)."""
    name, side = _MAX_SIDE.get(dst.suffix.lower(), ("", 0))
    if side and max(size) > side:
        too_large = f"the {size[0]}×{size[1]} output is larger than {name} allows ({side} pixels a side)"
        raise ValueError(f"{too_large}: {advice}")


def _auto_suffix(src: Path) -> str:
    """The output suffix `--ext auto` gives `src`."""
    return src.suffix if src.suffix.lower() in KEPT_SUFFIXES else ".png"


def _apart(src: Path, others: list[Path]) -> str:
    """How to keep inputs that share an output apart (a suffix is added to all of them alike, so it cannot)."""
    # `--ext auto` parts only inputs whose kept formats differ: a.gif and a.png both become a.png.
    if all(_auto_suffix(p).lower() != _auto_suffix(src).lower() for p in others):
        return "use --ext auto (each output keeps its input's format)"
    # One name in several folders, named file by file (often a shell's expansion of an unquoted glob).
    if all(p.parent != src.parent for p in others):
        return (
            "pass their common folder with --recursive or a quoted glob, which keep sub-folders apart "
            "(or restore them into separate -o folders)"
        )
    return "restore them into separate -o folders"


def _case_folded(path: Path) -> str:
    return str(path).casefold()


def plan_jobs(
    files: list[tuple[Path, Path]], out_dir: str | Path, output: OutputOptions, read_existing: bool = False
) -> Plan:
    """(input, relative path) pairs (as `collect_inputs` gives: folders resolved) → the `Plan`. Reads no pixels.

    An existing output is in `existing` (without `overwrite`), with its record and size and its input's size read
    from their headers when `read_existing` (`existing_outputs.Found`), for `existing_outputs.set_aside` to judge.

    Deterministic for a given file list and output folder, so every process of a distributed run computes
    the same plan. An input is an earlier output when another input maps onto it: the same file, or with a
    `suffix`, the same folder and stem (an earlier run may have used another `ext`); or when it lies in `out_dir`
    inside the folder (or glob root) it was collected from (`photos --recursive -o photos/restored`), whatever its
    name and format.
    """
    # -o resolved, nothing below it: an output name that is a symlink is replaced by the new file (written beside it
    # and renamed over it), and a symlinked sub-folder refused, never followed to files elsewhere.
    out_dir = Path(out_dir).resolve()
    # Where names that differ only in case are one file (macOS, Windows), Photo.png and photo.png are one output.
    key = _case_folded if folds_case(out_dir) else str
    targets = [(src, output_path(src, rel, out_dir, output)) for src, rel in files]
    outputs = {key(dst) for _, dst in targets}
    # With a suffix an earlier run's output is recognised by folder and stem, whatever format it was written in.
    output_stems = {key(dst.with_suffix("")) for _, dst in targets} if output.suffix else set()
    plan = Plan(jobs=[])
    kept = []
    for (src, dst), (_, rel) in zip(targets, files, strict=True):
        earlier = (key(src) in outputs and key(src) != key(dst)) or key(src.with_suffix("")) in output_stems
        if earlier or _in_output(src, rel, out_dir, key):
            plan.earlier_outputs.append(src)
        else:
            kept.append((src, dst))
    # An earlier output is ours: skipped if it exists, like any output. A symlinked input is guarded as its target.
    sources = {key(p) for src, _ in kept for p in (src, src.resolve())}
    by_output: dict[str, list[Path]] = {}
    for src, dst in kept:
        by_output.setdefault(key(dst), []).append(src)
    for src, dst in kept:
        if (problem := _not_a_file(src)) is not None:
            plan.errors.append((src, problem))
        elif (size := len(os.fsencode(dst.name))) > NAME_MAX:  # found now, not after restoring
            fix = "use a shorter --suffix (or rename the input)" if output.suffix else "rename the input"
            message = f"output name {shown_name(dst.name)} is {size} bytes, more than the {NAME_MAX} a file name may "
            message += f"have: {fix}"
            plan.errors.append((src, message))
        elif key(dst) in sources:
            # An earlier run into the inputs' folder with another --ext and no --suffix wrote outputs that now read
            # as inputs: they cannot be told from the user's own files.
            fix = "choose another -o or a --suffix (outputs written beside their inputs without one read as inputs)"
            plan.errors.append((src, f"output {shown_name(dst)} would overwrite an input: {fix}"))
        elif len(by_output[key(dst)]) > 1:
            others = [p for p in by_output[key(dst)] if p != src]
            message = f"output {shown_name(dst)} would also be written from {', '.join(map(shown_name, others))}: "
            message += _apart(src, others)
            plan.errors.append((src, message))
        elif (link := _linked_folder(out_dir, dst.parent)) is not None:
            message = f"cannot write {shown_name(dst)}: {shown_name(link)} is a symlink, and -o is not written "
            plan.errors.append((src, message + "through links"))
        elif (blocker := file_in_the_way(dst.parent)) is not None:  # found now, not after restoring
            plan.errors.append((src, f"cannot write {shown_name(dst)}: {shown_name(blocker)} is a file, not a folder"))
        elif dst.is_dir():  # not an earlier output: nothing would ever be written there
            plan.errors.append((src, f"output {shown_name(dst)} is a folder: move it or use a --suffix"))
        elif dst.exists() and not dst.is_file() and not output.overwrite:  # a FIFO, a socket, a device: no output
            problem = "is not a regular file (a FIFO, a socket or a device): move it, or --overwrite replaces it"
            plan.errors.append((src, f"output {shown_name(dst)} {problem}"))
        elif (dst.exists() or dst.is_symlink()) and not output.overwrite:  # a dangling link is taken too
            plan.existing.append(Found.read(Job(src, dst)) if read_existing else Found(Job(src, dst)))
        else:
            plan.jobs.append(Job(src, dst, writes_lossless(src, output)))
    return plan


def _in_output(src: Path, rel: Path, out_dir: Path, key: Callable[[Path], str] = str) -> bool:
    """Whether `src` (at `rel` below the folder it was collected from) lies in `out_dir` (resolved) below that
    folder: an earlier run's output, not an input (in `out_dir` itself, an in-place run's inputs are the user's);
    paths compared by `key` (case-folded where the file system folds case). Only along real folders: outputs are
    never written through links, and a file reached through a linked folder (`photos/phone -> /mnt/phone/DCIM`) is
    the user's, wherever the link points."""
    real = src.resolve()
    if real.parts[-len(rel.parts) :] != rel.parts:  # a link along `rel`: its folders are not `rel`'s
        return False
    root = key(real.parents[len(rel.parts) - 1])
    return root in map(key, out_dir.parents) and key(out_dir) in map(key, real.parents)


def _not_a_file(path: Path) -> str | None:
    """Why an input cannot be read as an image file, or None: it is never opened (reading a FIFO waits forever)."""
    if path.is_file():
        return None
    if path.is_symlink() and not path.exists():
        return f"a symlink to nothing ({shown_name(os.readlink(path))}): skipped"
    return "not a regular file (a FIFO, socket or device): skipped"


def _linked_folder(root: Path, folder: Path) -> Path | None:
    """The first folder from `folder` up to (not including) `root` that is a symlink, or None."""
    for path in (folder, *folder.parents):
        if path == root or root not in path.parents:
            return None
        if path.is_symlink():
            return path
    return None


def _is_lossless_webp(path: Path) -> bool:
    from .image_io import is_lossless_webp

    try:
        return is_lossless_webp(path)
    except OSError:
        return False  # unreadable: the read reports it

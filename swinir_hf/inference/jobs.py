"""The jobs of a collection and one process's loop over them: each input's output name and size, what is skipped
(outputs that exist, inputs that are outputs of an earlier run), and the pipelined loop that decodes ahead and
encodes behind in threads while the model runs, writing outputs atomically (`swinir_hf.inference.collection`
spreads the jobs over processes)."""

from __future__ import annotations

import math
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from .atomic_writes import AppearedError
from .files import NAME_MAX
from .output_folders import file_in_the_way

if TYPE_CHECKING:
    import torch

    from ..models.image_processing_swinir import ImageLayout
    from .restoration import SwinIRRestorer

OUTPUT_FORMATS = ("auto", "png", "jpg", "webp", "tif")
# Formats `--ext auto` keeps (with the input's own suffix); any other input (BMP, GIF, PPM, ...) becomes PNG,
# which is lossless and holds alpha and 16 bits.
KEPT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class OutputOptions:
    """How outputs are named, sized and encoded.

    `ext` is "auto" (the input's format: PNG / JPEG / WebP / TIFF kept, lossless WebP stays lossless, others
    become PNG) or one of png, jpg, webp, tif; `outscale` resizes the model output to
    floor(outscale · W + 0.5) × floor(outscale · H + 0.5) of the W × H input (Lanczos, in float, before rounding to
    the output's bit depth); `quality` (1-100) is for JPEG and lossy WebP; `overwrite` replaces existing outputs
    (inputs never).
    """

    ext: str = "png"
    suffix: str = ""
    outscale: float | None = None
    quality: int = 95
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.ext not in OUTPUT_FORMATS:
            raise ValueError(f"ext must be one of {', '.join(OUTPUT_FORMATS)}, got {self.ext!r}")
        if self.outscale is not None and not (math.isfinite(self.outscale) and self.outscale > 0):
            raise ValueError(f"outscale must be a positive number, got {self.outscale}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be in 1..100, got {self.quality}")
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
    """The jobs to run and what was set aside: `existing` outputs (skipped), `earlier_outputs` (inputs that are
    outputs of an earlier run into the same folder, not re-processed) and `errors` ((input, message) pairs)."""

    jobs: list[Job]
    existing: list[Path] = field(default_factory=list)
    earlier_outputs: list[Path] = field(default_factory=list)
    errors: list[tuple[Path, str]] = field(default_factory=list)


def output_size(width: int, height: int, outscale: float) -> tuple[int, int]:
    """(W, H) input pixels → (W', H') = (floor(outscale·W + 0.5), floor(outscale·H + 0.5)), at least 1 each."""
    return max(1, math.floor(outscale * width + 0.5)), max(1, math.floor(outscale * height + 0.5))


def output_path(src: Path, rel: Path, out_dir: Path, output: OutputOptions) -> Path:
    """Where the restoration of `src` (found at `rel` under its input root) is written."""
    suffix = _auto_suffix(src) if output.ext == "auto" else "." + output.ext
    return out_dir / rel.parent / f"{rel.stem}{output.suffix}{suffix}"


# The longest side each lossy format's encoder takes (libwebp, libjpeg); PNG and TIFF have no such limit.
_MAX_SIDE = {".webp": ("WebP", 16383), ".jpg": ("JPEG", 65500), ".jpeg": ("JPEG", 65500)}


def check_encodable(dst: Path, size: tuple[int, int]) -> None:
    """Raise ValueError when a (W, H) image is too large for `dst`'s format: found before the model runs, not
    after."""
    name, side = _MAX_SIDE.get(dst.suffix.lower(), ("", 0))
    if side and max(size) > side:
        raise ValueError(
            f"the {size[0]}×{size[1]} output is larger than {name} allows ({side} pixels a side): use --ext png or "
            "tif, or a smaller --outscale"
        )


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


def plan_jobs(files: list[tuple[Path, Path]], out_dir: str | Path, output: OutputOptions) -> Plan:
    """(input, relative path) pairs (as `collect_inputs` gives: folders resolved) → the `Plan`. Reads no pixels.

    Deterministic for a given file list and output folder, so every process of a distributed run computes
    the same plan. An input is an earlier output when another input maps onto it: the same file, or with a
    `suffix`, the same folder and stem (an earlier run may have used another `ext`).
    """
    # -o resolved, nothing below it: an output name that is a symlink is replaced by the new file (written beside it
    # and renamed over it), and a symlinked sub-folder refused, never followed to files elsewhere.
    out_dir = Path(out_dir).resolve()
    targets = [(src, output_path(src, rel, out_dir, output)) for src, rel in files]
    outputs = {dst for _, dst in targets}
    # With a suffix an earlier run's output is recognised by folder and stem, whatever format it was written in.
    output_stems = {dst.with_suffix("") for _, dst in targets} if output.suffix else set()
    plan = Plan(jobs=[])
    kept = []
    for src, dst in targets:
        if (src in outputs and src != dst) or src.with_suffix("") in output_stems:
            plan.earlier_outputs.append(src)
        else:
            kept.append((src, dst))
    # An earlier output is ours: skipped if it exists, like any output. A symlinked input is guarded as its target.
    sources = {p for src, _ in kept for p in (src, src.resolve())}
    by_output: dict[Path, list[Path]] = {}
    for src, dst in kept:
        by_output.setdefault(dst, []).append(src)
    for src, dst in kept:
        if (problem := _not_a_file(src)) is not None:
            plan.errors.append((src, problem))
        elif (size := len(os.fsencode(dst.name))) > NAME_MAX:  # found now, not after restoring
            fix = "use a shorter --suffix (or rename the input)" if output.suffix else "rename the input"
            message = f"output name {dst.name} is {size} bytes, more than the {NAME_MAX} a file name may have: {fix}"
            plan.errors.append((src, message))
        elif dst in sources:
            # An earlier run into the inputs' folder with another --ext and no --suffix wrote outputs that now read
            # as inputs: they cannot be told from the user's own files.
            fix = "choose another -o or a --suffix (outputs written beside their inputs without one read as inputs)"
            plan.errors.append((src, f"output {dst} would overwrite an input: {fix}"))
        elif len(by_output[dst]) > 1:
            others = [p for p in by_output[dst] if p != src]
            message = f"output {dst} would also be written from {', '.join(map(str, others))}: {_apart(src, others)}"
            plan.errors.append((src, message))
        elif (link := _linked_folder(out_dir, dst.parent)) is not None:
            plan.errors.append((src, f"cannot write {dst}: {link} is a symlink, and -o is not written through links"))
        elif (blocker := file_in_the_way(dst.parent)) is not None:  # found now, not after restoring
            plan.errors.append((src, f"cannot write {dst}: {blocker} is a file, not a folder"))
        elif dst.is_dir():  # not an earlier output: nothing would ever be written there
            plan.errors.append((src, f"output {dst} is a folder: move it or use a --suffix"))
        elif (dst.exists() or dst.is_symlink()) and not output.overwrite:  # a dangling link is taken too
            plan.existing.append(dst)
        else:
            lossless = output.ext in ("auto", "webp") and src.suffix.lower() == ".webp" and _is_lossless_webp(src)
            plan.jobs.append(Job(src, dst, lossless))
    return plan


def _not_a_file(path: Path) -> str | None:
    """Why an input cannot be read as an image file, or None: it is never opened (reading a FIFO waits forever)."""
    if path.is_file():
        return None
    if path.is_symlink() and not path.exists():
        return f"a symlink to nothing ({os.readlink(path)}): skipped"
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


def resize_float(colour: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(H, W, C) float32 → (size[1], size[0], C) float32, Lanczos per channel, neither clamped nor rounded."""
    if colour.shape[1::-1] == tuple(size):
        return colour
    planes = [Image.fromarray(np.ascontiguousarray(colour[..., c], dtype=np.float32)) for c in range(colour.shape[2])]
    return np.stack([np.asarray(p.resize(size, Image.Resampling.LANCZOS)) for p in planes], axis=-1)


def restore_image(
    restorer: SwinIRRestorer, image: Image.Image | np.ndarray, outscale: float | None = None
) -> Image.Image | np.ndarray:
    """`restorer(image)`, resized to `output_size(W, H, outscale)` of the W × H input when `outscale` is given."""
    from ..models.image_processing_swinir import compose_image, split_image

    colour, layout = split_image(image)
    size = output_size(colour.shape[1], colour.shape[0], outscale) if outscale is not None else None
    restored = restorer.restore_float(colour, size, more_outputs=restorer.alpha_passes(layout))
    layout = restorer.restore_alpha(layout, size)
    return compose_image(restored if size is None else resize_float(restored, size), layout)


# ---------------------------------------------------------------------------------------------------------------
# One process: the pipelined loop.


@dataclass
class _Loaded:
    """A decoded input: `pixel_values` (k, C, H, W) (k = 3 for colour into a grey model, else 1)."""

    job: Job
    pixel_values: torch.Tensor
    channels: int
    layout: ImageLayout
    icc_profile: bytes | None
    exif: bytes | None


@dataclass
class Counts:
    """What one process did with its share of the jobs."""

    restored: int = 0
    failed: int = 0
    appeared: int = 0  # outputs another run (or the user) wrote while this one worked: kept, as existing ones are


def _load(job: Job, num_channels: int, scale: int, outscale: float | None) -> _Loaded:
    """Decode `job`'s input; raise `ImageTooLargeError` when its output cannot be held (judged from the file's
    header, before decoding), ValueError when it (`scale` ×, or resized to `outscale` ×) cannot be encoded in
    `job.dst`'s format."""
    import torch

    from ..models.image_processing_swinir import split_image, to_pixel_values
    from .image_io import image_size, read_image
    from .memory import check_output_memory

    try:
        w, h = image_size(job.src)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        pass  # `read_image` says what is wrong with the file
    else:  # refused from the header: decoding an image whose output cannot be held could take gigabytes already
        resized = output_size(w, h, outscale) if outscale is not None else None
        check_output_memory((1, num_channels, h, w), scale, torch.device("cpu"), resized)
    data = read_image(job.src)
    colour, layout = split_image(data.pixels)
    h, w = colour.shape[:2]
    check_encodable(job.dst, output_size(w, h, outscale) if outscale is not None else (scale * w, scale * h))
    pixel_values = to_pixel_values(colour, num_channels)
    return _Loaded(job, pixel_values, colour.shape[-1], layout, data.icc_profile, data.exif)


def _save(item: _Loaded, reconstruction: torch.Tensor, output: OutputOptions) -> None:
    from ..models.image_processing_swinir import compose_image, from_reconstruction
    from .image_writing import write_image

    colour = from_reconstruction(reconstruction, item.channels)
    if output.outscale is not None:
        h, w = item.pixel_values.shape[-2:]
        colour = resize_float(colour, output_size(w, h, output.outscale))
    try:
        item.job.dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # as write_image's errors: the target, then why
        where = err.filename or item.job.dst.parent
        raise OSError(f"cannot write {item.job.dst}: cannot create folder {where} ({err.strerror or err})") from err
    image = compose_image(colour, item.layout)
    # Not replacing what another run (or the user) wrote since the plan found no file there.
    write_image(
        item.job.dst,
        image,
        item.icc_profile,
        exif=item.exif,
        quality=output.quality,
        lossless=item.job.lossless,
        replace=output.overwrite,
    )


_ERRORS = (ValueError, OSError, RuntimeError, MemoryError)


def _read_ahead(jobs: list[Job], load: Callable[[Job], _Loaded], pool: ThreadPoolExecutor, depth: int):
    """Yield (job, `_Loaded` or the exception reading it raised) in job order, `depth` reads in flight."""
    queue: deque[tuple[Job, Future]] = deque()
    remaining = iter(jobs)
    for job in remaining:
        queue.append((job, pool.submit(load, job)))
        if len(queue) >= depth:
            break
    while queue:
        job, future = queue.popleft()
        nxt = next(remaining, None)
        if nxt is not None:
            queue.append((nxt, pool.submit(load, nxt)))
        try:
            yield job, future.result()
        except _ERRORS as err:
            yield job, err


@dataclass
class _Writer:
    """The back half of `run_jobs`: restored batches go to the writer threads; at most `depth` wait in memory."""

    restorer: SwinIRRestorer
    output: OutputOptions
    pool: ThreadPoolExecutor
    depth: int
    bar: Any
    report: Callable[[str], None]
    counts: Counts = field(default_factory=Counts)
    pending: deque[tuple[Job, Future]] = field(default_factory=deque)

    def fail(self, job: Job, err: BaseException) -> None:
        self.counts.failed += 1
        self.bar.update()
        text = str(err)  # read_image's messages already start with the file
        self.report(f"error: {text}" if text.startswith(str(job.src)) else f"error: {job.src}: {text}")

    def restore(self, batch: list[_Loaded]) -> None:
        """One forward pass over `batch` (inputs of one size) and one over the alphas the model upscales, then its
        outputs queued for writing."""
        import torch

        x = torch.cat([b.pixel_values for b in batch])
        size = output_size(x.shape[-1], x.shape[-2], self.output.outscale) if self.output.outscale else None
        try:
            alphas = sum(self.restorer.alpha_passes(b.layout) for b in batch)  # planned with the colour
            out = self.restorer.restore_tensor(x, size, more_outputs=alphas).cpu()
            layouts = self.restorer.restore_alphas([b.layout for b in batch], size)  # one more batch, if any
        except _ERRORS as err:
            for b in batch:
                self.fail(b.job, err)
            return
        start = 0
        for b, layout in zip(batch, layouts, strict=True):
            k = b.pixel_values.shape[0]
            saved = self.pool.submit(_save, replace(b, layout=layout), out[start : start + k], self.output)
            self.pending.append((b.job, saved))
            start += k
        self.settle(self.depth)

    def settle(self, limit: int) -> None:
        """Wait for written outputs until at most `limit` are pending."""
        while len(self.pending) > limit:
            job, future = self.pending.popleft()
            try:
                future.result()
            except AppearedError as err:
                self.counts.appeared += 1
                self.bar.update()
                self.report(f"note: {job.src}: {err}")
                continue
            except _ERRORS as err:
                self.fail(job, err)
                continue
            self.counts.restored += 1
            self.bar.update()


def _same_size_batches(loaded: Iterator[tuple[Job, Any]], batch_size: int, writer: _Writer) -> Iterator[list[_Loaded]]:
    """Consecutive inputs of one size, at most `batch_size` per batch; failed reads are reported to `writer`."""
    batch: list[_Loaded] = []
    for job, item in loaded:
        if isinstance(item, BaseException):
            writer.fail(job, item)
            continue
        if batch and (len(batch) == batch_size or item.pixel_values.shape[1:] != batch[0].pixel_values.shape[1:]):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def run_jobs(
    jobs: list[Job],
    restorer: SwinIRRestorer,
    output: OutputOptions,
    *,
    batch_size: int = 1,
    workers: int = 2,
    progress: bool = False,
    report: Callable[[str], None] | None = None,
) -> Counts:
    """Restore `jobs` in order with one model: `workers` threads decode ahead and encode / write behind the model,
    and up to `batch_size` consecutive inputs of the same size go through one forward pass.

    Every failure is reported (`error: FILE: why`) and counted; the rest go on.
    """
    from tqdm.auto import tqdm

    report = report or (lambda msg: tqdm.write(msg, file=sys.stderr))
    num_channels = restorer.model.config.num_channels
    with (
        ThreadPoolExecutor(workers, thread_name_prefix="swinir-read") as readers,
        ThreadPoolExecutor(workers, thread_name_prefix="swinir-write") as writers,
        tqdm(total=len(jobs), disable=not progress, unit="image", desc="restore") as bar,
    ):
        # Bounded: restored images wait in memory only until the writers catch up.
        writer = _Writer(restorer, output, writers, 2 * workers, bar, report)
        load = partial(_load, num_channels=num_channels, scale=restorer.scale, outscale=output.outscale)
        loaded = _read_ahead(jobs, load, readers, workers + batch_size)
        for batch in _same_size_batches(loaded, batch_size, writer):
            writer.restore(batch)
        writer.settle(0)
    return writer.counts


def sort_by_size(jobs: list[Job]) -> list[Job]:
    """Jobs ordered by stored image size (header only), then path, so that same-size inputs are neighbours."""

    def key(job: Job) -> tuple[int, int, str]:
        from .image_io import image_size

        try:
            return (*image_size(job.src), str(job.src))
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):  # reported when it is read
            return (0, 0, str(job.src))

    return sorted(jobs, key=key)

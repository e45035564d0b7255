"""One process's loop over its jobs: pipelined, decoding ahead and encoding behind in threads while the model runs,
same-size inputs batched, outputs written atomically."""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..console import note, shown_name
from ..progress_lines import progress_bar
from ..storage.atomic_writes import AppearedError
from .jobs import Job, OutputOptions, check_encodable, output_size, resize_float

if TYPE_CHECKING:
    import torch

    from ..models.pixels_swinir import ImageLayout
    from .restoration import SwinIRRestorer


@dataclass
class _Loaded:
    """A decoded input: `pixel_values` (k, C, H, W) (k = 3 for colour into a grey model, else 1)."""

    job: Job
    pixel_values: torch.Tensor
    channels: int
    layout: ImageLayout
    icc_profile: bytes | None
    exif: bytes | None
    dpi: tuple[float, float] | None


@dataclass
class Counts:
    """What one process did with its share of the jobs."""

    restored: int = 0
    failed: int = 0
    appeared: int = 0  # outputs another run (or the user) wrote while this one worked: kept, as existing ones are
    alpha_dropped: list[Path] = field(default_factory=list)  # JPEG outputs of transparent inputs: warned of at the end
    written: list[Path] = field(default_factory=list)  # every output written, by the writer threads (list.append)


def _load(job: Job, num_channels: int, scale: int, outscale: float | None) -> _Loaded:
    """Decode `job`'s input; raise `ImageTooLargeError` when its output cannot be held (judged from the file's
    header, before decoding), ValueError when it (`scale` ×, or resized to `outscale` ×) cannot be encoded in
    `job.dst`'s format."""
    import torch

    from ..models.pixels_swinir import split_image, to_pixel_values, warn_if_clamped
    from .image_io import read_restorable
    from .memory import check_output_fits

    check_output_fits(job.src, num_channels, scale, torch.device("cpu"), outscale)
    data = read_restorable(job.src)
    warn_if_clamped(data.pixels, str(job.src))  # a float file past [0, 1]: its output is clamped
    colour, layout = split_image(data.pixels)
    h, w = colour.shape[:2]
    check_encodable(job.dst, output_size(w, h, outscale) if outscale is not None else (scale * w, scale * h))
    pixel_values = to_pixel_values(colour, num_channels)
    return _Loaded(job, pixel_values, colour.shape[-1], layout, data.icc_profile, data.exif, data.dpi)


def _save(
    item: _Loaded,
    reconstruction: torch.Tensor,
    output: OutputOptions,
    made_by: str | None = None,
    alpha_dropped: Callable[[Path], None] | None = None,
) -> None:
    from ..models.pixels_swinir import compose_image, from_reconstruction
    from .image_writing import write_image
    from .photo_metadata import scaled_dpi

    colour = from_reconstruction(reconstruction, item.channels)
    h, w = item.pixel_values.shape[-2:]
    if output.outscale is not None:
        colour = resize_float(colour, output_size(w, h, output.outscale))
    try:
        item.job.dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # as write_image's errors: the target, then why
        where = err.filename or item.job.dst.parent
        raise OSError(f"cannot write {item.job.dst}: cannot create folder {where} ({err.strerror or err})") from err
    image = compose_image(colour, item.layout)
    del colour  # a resized output's float canvas, not needed while the image is encoded
    # Not replacing what another run (or the user) wrote since the plan found no file there.
    write_image(
        item.job.dst,
        image,
        item.icc_profile,
        exif=item.exif,
        dpi=scaled_dpi(item.dpi, output.outscale or reconstruction.shape[-1] / w),  # the same print size
        quality=output.encoder_quality,
        lossless=item.job.lossless,
        replace=output.overwrite,
        made_by=made_by,
        alpha_dropped=alpha_dropped,
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
    made_by: str | None = None  # the outputs' `provenance` record
    said: Callable[[Path], None] | None = None  # told each output's path as it is written (`run_jobs`' `on_output`)
    counts: Counts = field(default_factory=Counts)
    pending: deque[tuple[Job, Future]] = field(default_factory=deque)

    def fail(self, job: Job, err: BaseException) -> None:
        self.counts.failed += 1
        self.bar.update()
        text, src = str(err), shown_name(job.src)  # read_image's messages already start with the file
        self.report(f"error: {text}" if text.startswith(src) else f"error: {src}: {text}")

    def restore(self, batch: list[_Loaded]) -> None:
        """One forward pass over `batch` (inputs of one size) and one over the alphas the model upscales, then its
        outputs queued for writing. A batch too large for memory is restored one image at a time."""
        from ..models.pixels_swinir import batched
        from .memory import ImageTooLargeError

        x = batched([b.pixel_values for b in batch])
        size = output_size(x.shape[-1], x.shape[-2], self.output.outscale) if self.output.outscale else None
        try:
            try:
                out, layouts = self._forward(batch, x, size)
            except ImageTooLargeError:
                if len(batch) > 1:  # --batch-size is for speed: images that each fit alone are not refused
                    out = None
                elif not self.pending:
                    raise
                else:
                    self.settle(0)  # the outputs waiting for the writers hold memory that this one may need
                    out, layouts = self._forward(batch, x, size)
        except _ERRORS as err:
            for b in batch:
                self.fail(b.job, err)
            return
        if out is None:  # outside the except block, whose traceback would keep the refused pass's tensors
            del x  # the stacked batch: each image goes in with its own pixels
            for b in batch:
                self.restore([b])
            return
        start = 0
        for b, layout in zip(batch, layouts, strict=True):
            k = b.pixel_values.shape[0]
            saved = self.pool.submit(self._write, replace(b, layout=layout), out[start : start + k])
            self.pending.append((b.job, saved))
            start += k
        self.settle(self.depth)

    def _write(self, item: _Loaded, reconstruction: torch.Tensor) -> None:
        """`_save` in a writer thread, then the output counted as written and said (`said`): at once, not when the
        main thread settles it, so that a stopped run's count and the paths said include the writes it waited for."""
        _save(item, reconstruction, self.output, self.made_by, self.counts.alpha_dropped.append)  # appends: atomic
        self.counts.written.append(item.job.dst)
        if self.said is not None:
            self.said(item.job.dst)

    def _forward(
        self, batch: list[_Loaded], x: torch.Tensor, size: tuple[int, int] | None
    ) -> tuple[torch.Tensor, list[ImageLayout]]:
        """`batch`'s (stacked in x) restored colour on the CPU, and its layouts with the alphas the model upscales."""
        alphas = sum(self.restorer.alpha_passes(b.layout) for b in batch)  # planned with the colour
        out = self.restorer.restore_tensor(x, size, more_outputs=alphas).cpu()
        return out, self.restorer.restore_alphas([b.layout for b in batch], size)  # one more batch, if any

    def settle(self, limit: int) -> None:
        """Wait for written outputs until at most `limit` are pending."""
        while len(self.pending) > limit:
            job, future = self.pending.popleft()
            try:
                future.result()
            except AppearedError as err:
                self.counts.appeared += 1
                self.bar.update()
                note(f"note: {shown_name(job.src)}: {err}")
                if self.said is not None:  # an output of this command all the same, as those skipped as existing
                    self.said(job.dst)
                continue
            except _ERRORS as err:
                self.fail(job, err)
                continue
            self.counts.restored += 1
            self.bar.update()


def _rechecked(
    loaded: Iterator[tuple[Job, Any]], load: Callable[[Job], _Loaded], writer: _Writer
) -> Iterator[tuple[Job, Any]]:
    """`loaded`, an input refused for memory read again once the writers are done: it was judged while this run's
    other images (being restored, written, read ahead) held memory; the outputs' memory is free now (the few images
    read ahead of it are still held); refused again, it stays refused."""
    from .memory import ImageTooLargeError

    for job, item in loaded:
        if isinstance(item, ImageTooLargeError):
            writer.settle(0)
            try:
                item = load(job)
            except _ERRORS as err:
                item = err
        yield job, item


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
    made_by: str | None = None,
    on_output: Callable[[Path], None] | None = None,
) -> Counts:
    """Restore `jobs` in order with one model: `workers` threads decode ahead and encode / write behind the model,
    and up to `batch_size` consecutive inputs of the same size go through one forward pass. Each output records
    `made_by` (a `provenance.Provenance` record). `on_output` is called (from a writer thread) with each output's path
    as it is written, and with one another run wrote meanwhile (kept, as existing).

    Every failure is reported (`error: FILE: why`) and counted; the rest go on. A `KeyboardInterrupt` leaves with
    `outputs_written` set to the number of outputs written, the queued writes finished first.
    """
    from tqdm.auto import tqdm

    report = report or (lambda msg: tqdm.write(msg, file=sys.stderr))
    counts = Counts()
    try:
        return _run_jobs(jobs, restorer, output, batch_size, workers, progress, report, made_by, on_output, counts)
    except KeyboardInterrupt as stop:  # the pools have finished the writes queued: they are written too
        stop.outputs_written = getattr(stop, "outputs_written", 0) + len(counts.written)
        raise


def _run_jobs(
    jobs: list[Job],
    restorer: SwinIRRestorer,
    output: OutputOptions,
    batch_size: int,
    workers: int,
    progress: bool,
    report: Callable[[str], None],
    made_by: str | None,
    on_output: Callable[[Path], None] | None,
    counts: Counts,
) -> Counts:
    """`run_jobs`, its `counts` made by the caller (read after an interrupt)."""
    num_channels = restorer.model.config.num_channels
    with (
        ThreadPoolExecutor(workers, thread_name_prefix="swinir-read") as readers,
        ThreadPoolExecutor(workers, thread_name_prefix="swinir-write") as writers,
        progress_bar(progress, total=len(jobs), unit="image", desc="restore") as bar,
    ):
        # Bounded: restored images wait in memory only until the writers catch up.
        writer = _Writer(restorer, output, writers, 2 * workers, bar, report, made_by, on_output, counts)
        load = partial(_load, num_channels=num_channels, scale=restorer.scale, outscale=output.outscale)
        loaded = _rechecked(_read_ahead(jobs, load, readers, workers + batch_size), load, writer)
        for batch in _same_size_batches(loaded, batch_size, writer):
            writer.restore(batch)
        writer.settle(0)
    return writer.counts


def sort_by_size(jobs: list[Job]) -> list[Job]:
    """Jobs ordered by stored image size (header only), then path, so that same-size inputs are neighbours."""

    def key(job: Job) -> tuple[int, int, str]:
        from .image_io import header_size

        return (*(header_size(job.src) or (0, 0)), str(job.src))  # an unreadable one: reported when it is read

    return sorted(jobs, key=key)

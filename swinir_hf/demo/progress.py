"""Progress, Cancel and the time limit inside a running restoration: forward pre-hooks on the model and its Swin
blocks read the job of the thread that runs them.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from ..inference.restoration import EngineOptions
from ..models.modeling_swinir import SwinIRForImageRestoration, SwinTransformerBlock
from ..models.tiling_swinir import tile_grid

PROGRESS_EVERY_S = 0.25


class Cancelled(BaseException):
    """Raised inside the model's forward when the user cancels; a BaseException so no retry logic swallows it."""


class TimeLimitExceeded(Cancelled):
    """Raised inside the model's forward once the job has run longer than its `time_limit_s`."""

    def __init__(self, limit_s: float) -> None:
        super().__init__(limit_s)
        self.limit_s = limit_s


def _now() -> float:
    """The jobs' clock (a test's fake one replaces it)."""
    return time.perf_counter()


@dataclass
class Job:
    """One running restoration as the model hooks see it: its cancel flag, its time limit and its progress.

    Progress counts Swin blocks: the first forward's input shape tells how many tiles (forwards) the image needs,
    so the bar moves per block in every mode (whole image, tiles, ensemble passes). `tiled` says whether any
    forward ran on less than the whole image, i.e. the engine ran in tiles. `time_limit_s` (0: none) counts from
    `started`, the job's creation: the restoration's own time, not the wait for a worker.
    """

    report: Callable[[float, str], None]
    blocks_per_forward: int
    image_hw: tuple[int, int]
    images: int = 1
    overlap: int = EngineOptions.tile_overlap
    passes: int = 1
    cancel: threading.Event = field(default_factory=threading.Event)
    time_limit_s: float = 0
    forwards: int | None = None
    blocks_done: int = 0
    tiled: bool = False
    started: float = field(default_factory=lambda: _now())
    _last_report: float = 0.0

    def check(self) -> None:
        """Raise `Cancelled` once the job is cancelled, `TimeLimitExceeded` once it has run past its time limit."""
        if self.cancel.is_set():
            raise Cancelled
        if self.time_limit_s and _now() - self.started > self.time_limit_s:
            raise TimeLimitExceeded(self.time_limit_s)

    def on_forward(self, shape: torch.Size) -> None:
        # By area: an ensemble pass rotated 90° has the whole image's. Every forward counts, as an out-of-memory
        # retry goes from the whole image to tiles.
        self.tiled = self.tiled or shape[-2] * shape[-1] < self.image_hw[0] * self.image_hw[1]
        if self.forwards is None:
            self.forwards = forwards_needed(shape, self.image_hw, self.images, self.overlap) * self.passes

    def on_block(self) -> None:
        self.blocks_done += 1
        now = _now()
        if now - self._last_report < PROGRESS_EVERY_S:
            return
        self._last_report = now
        fraction = min(self.blocks_done / (self.blocks_per_forward * (self.forwards or 1)), 0.99)
        left = (now - self.started) * (1 - fraction) / fraction
        self.report(fraction, f"Restoring, about {format_seconds(left)} left")


def forwards_needed(shape: torch.Size, image_hw: tuple[int, int], images: int, overlap: int) -> int:
    """Forward passes `restore` makes for an image, from the shape of its first one (as `tiled_apply` plans)."""
    batch, _, th, tw = shape
    h, w = image_hw
    if th >= h and tw >= w:
        return 1
    ys, xs, _ = tile_grid(h, w, th if th < h else tw, overlap)
    return math.ceil(len(ys) * len(xs) / max(1, batch // images))


def format_seconds(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


_current = threading.local()


def _before_model(module, args) -> None:
    job = getattr(_current, "job", None)
    if job is not None:
        job.check()
        job.on_forward(args[0].shape)


def _before_block(module, args) -> None:
    job = getattr(_current, "job", None)
    if job is not None:
        job.check()
        job.on_block()


def count_blocks(model: SwinIRForImageRestoration) -> int:
    return sum(isinstance(m, SwinTransformerBlock) for m in model.modules())


def watch(model: SwinIRForImageRestoration) -> None:
    """Give the model the hooks: on every forward and Swin block they stop the job of the running thread when its
    cancel event is set or its time limit has passed (so Cancel and the limit free the CPU within one block, whatever
    the tiling) and move its progress."""
    model.register_forward_pre_hook(_before_model)
    for module in model.modules():
        if isinstance(module, SwinTransformerBlock):
            module.register_forward_pre_hook(_before_block)


@contextmanager
def attached(job: Job) -> Iterator[None]:
    """Make `job` the one the hooks see on this thread while the block runs."""
    _current.job = job
    try:
        yield
    finally:
        _current.job = None

"""The order processes and steps take the training samples in: optimizer step s consumes the sample keys
[s·B, (s+1)·B) of `data.TrainingPatches`, shared out over processes and accumulation steps; the DataLoader that makes
their batches (`build_loader`), and the run's stop when its data cannot make one (`next_batch`)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..checkpoints.run_folder import list_checkpoints
from ..console import prefixed_warnings
from .checks import multiples_near
from .data import SampleError
from .signals import ignore_stop_signals

if TYPE_CHECKING:
    from .data import TrainingPatches
    from .state import Run

logger = logging.getLogger("swinir_hf.train")


ACCUMULATIONS_LISTED = 6  # at most, in check_batch_split's message


def check_batch_split(batch_size: int, accumulation: int, num_processes: int) -> None:
    """Raise `ValueError` unless `train.batch_size` (the total per optimizer step) splits into equal micro-batches
    over `accumulation` steps and `num_processes` processes, naming the batch sizes and, for a resumed run (which keeps
    its batch size: it draws the samples) launched on another number of processes, the accumulations that would."""
    parts = accumulation * num_processes
    if batch_size % parts:
        # a · processes divides the batch: a divides batch / processes (a loop to the batch size took minutes at 10⁹)
        fits = [str(a) for a in _divisors(batch_size // num_processes)] if batch_size % num_processes == 0 else []
        if len(fits) > ACCUMULATIONS_LISTED:  # 192 for a batch of 720720 on 2 processes: the smallest, then the count
            either = f"{', '.join(fits[:ACCUMULATIONS_LISTED])}, ... ({len(fits)} in all: the divisors of "
            either += f"{batch_size // num_processes})"
        else:
            either = f"{', '.join(fits[:-1])} or {fits[-1]}" if len(fits) > 1 else "".join(fits)
        keep = f"train.gradient_accumulation_steps {either}" if fits else f"a process count that divides {batch_size}"
        raise ValueError(
            f"train.batch_size {batch_size} must be divisible by train.gradient_accumulation_steps × processes = "
            f"{accumulation} × {num_processes}: use {multiples_near(batch_size, parts)}, or keep it (as a resumed run "
            f"must) with {keep}"
        )


def _divisors(n: int) -> list[int]:
    """The divisors of `n` ≥ 1, ascending, from those up to its square root."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted({*small, *(n // d for d in small)})


class StepBatchSampler(torch.utils.data.Sampler[list[int]]):
    """The sample keys of one process's micro-batches, from `start_step` to `max_steps`.

    Optimizer step s consumes global keys [s·B, (s+1)·B) with B = `batch_size` (the total over processes and
    accumulation); micro-batch a of process r takes the `micro_batch` keys starting at
    s·B + (a · num_processes + r) · micro_batch.
    """

    def __init__(
        self, batch_size: int, accumulation: int, num_processes: int, rank: int, start_step: int, max_steps: int
    ) -> None:
        check_batch_split(batch_size, accumulation, num_processes)
        self.batch_size, self.accumulation, self.num_processes, self.rank = (
            batch_size,
            accumulation,
            num_processes,
            rank,
        )
        self.micro_batch = batch_size // (accumulation * num_processes)
        self.start_step, self.max_steps = start_step, max_steps

    def __len__(self) -> int:
        return max(0, self.max_steps - self.start_step) * self.accumulation

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start_step, self.max_steps):
            for a in range(self.accumulation):
                first = step * self.batch_size + (a * self.num_processes + self.rank) * self.micro_batch
                yield list(range(first, first + self.micro_batch))


def build_loader(run: Run, dataset: TrainingPatches, start: int) -> torch.utils.data.DataLoader:
    """Batches of steps `start`.. of this process (a function of (seed, step), so resuming continues exactly)."""
    t, acc = run.cfg.train, run.accelerator
    sampler = StepBatchSampler(
        t.batch_size, t.gradient_accumulation_steps, acc.num_processes, acc.process_index, start, t.max_steps
    )
    return torch.utils.data.DataLoader(
        _Samples(dataset),
        batch_sampler=sampler,
        collate_fn=_collate,
        num_workers=run.cfg.data.num_workers,
        pin_memory=acc.device.type == "cuda",
        # Worker seeds come from this generator, not the global RNG, so resuming does not shift any random stream.
        generator=torch.Generator().manual_seed(t.seed),
        persistent_workers=False,
        worker_init_fn=start_worker,
    )


def start_worker(worker_id: int) -> None:
    """A DataLoader worker: stop signals left to the main process; its warnings (an unreadable image) prefixed as
    the main process's are. A spawned worker (macOS, Windows) starts without any log handler (the command line's,
    or a caller's logging), and Python's last resort printed them bare; a forked one has those of its process."""
    ignore_stop_signals(worker_id)
    if not logger.hasHandlers():
        prefixed_warnings()


def end_workers(batches: Any) -> None:
    """Ask a DataLoader iterator's workers to stop now, as its own end does, however the steps ended. An error's
    traceback, which Python keeps to the interpreter's exit, keeps the iterator alive: multiprocessing then ends the
    workers with SIGTERM, which they ignore (`start_worker`), and waits for them for ever: the error was printed, but
    the run never exited."""
    shutdown = getattr(batches, "_shutdown_workers", None)  # torch's (a private method); none without workers
    if shutdown is not None:
        shutdown()


class _Samples(torch.utils.data.Dataset):
    """The loader's `TrainingPatches`: a sample its files cannot make (`SampleError`) is returned as the error, for
    `next_batch` to raise with where the run stands. Raised in a DataLoader worker, torch re-raised it in the main
    process as "Caught ValueError in DataLoader worker process 0" and the worker's whole traceback. Any other error
    (a bug: `TrainingPatches.__getitem__`) is raised, its traceback kept."""

    def __init__(self, dataset: TrainingPatches) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: int) -> dict[str, torch.Tensor] | SampleError:
        try:
            return self.dataset[key]
        except SampleError as err:
            return err.with_traceback(None)  # its frames: sent to the main process, or kept there until it is raised


def _collate(samples: list) -> dict[str, torch.Tensor] | SampleError:
    """A micro-batch of `_Samples`' samples, or the first error among them."""
    failed = next((sample for sample in samples if isinstance(sample, SampleError)), None)
    return failed if failed is not None else torch.utils.data.default_collate(samples)


def next_batch(batches: Iterator, out: Path, step: int) -> dict[str, torch.Tensor]:
    """The next micro-batch of step `step` (0-based) of the run in `out`. One its data cannot make stops the run in
    one line: the files and what is wrong with them (`TrainingPatches`), and what to do. Nothing is saved then (the
    other processes of a launch are in the step, not at a save): the checkpoints saved before are the run's."""
    batch = next(batches)
    if not isinstance(batch, SampleError):
        return batch
    saved = list_checkpoints(out)
    goes_on = (
        f"continue from {saved[-1].name} with --resume latest (with the images the run started with, by name)"
        if saved
        else "run the same command again (no checkpoint was saved yet)"
    )
    raise SampleError(f"training stopped after step {step}: {batch}. Fix the files, then {goes_on}")

"""The order processes and steps take the training samples in: optimizer step s consumes the sample keys
[s·B, (s+1)·B) of `data.TrainingPatches`, shared out over processes and accumulation steps."""

from __future__ import annotations

from collections.abc import Iterator

import torch


def check_batch_split(batch_size: int, accumulation: int, num_processes: int) -> None:
    """Raise `ValueError` unless `train.batch_size` (the total per optimizer step) splits into equal micro-batches
    over `accumulation` steps and `num_processes` processes."""
    parts = accumulation * num_processes
    if batch_size % parts:
        below, above = batch_size - batch_size % parts, batch_size - batch_size % parts + parts
        choices = f"{below} or {above}" if below else str(above)
        raise ValueError(
            f"train.batch_size {batch_size} must be divisible by train.gradient_accumulation_steps × processes = "
            f"{accumulation} × {num_processes}: use {choices}"
        )


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

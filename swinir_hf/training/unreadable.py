"""The training images found unreadable mid-run (a folder unmounted, a file changed since the checks before the run):
each DataLoader worker names the first `LISTED` it finds; the stop's line counts those found by all the workers of
its process, the run's summary those of every process, not one worker's."""

from __future__ import annotations

import logging
from typing import Any

import torch

from .images import dataloader_worker

logger = logging.getLogger("swinir_hf.train")  # the trainer's log
LISTED = 3  # training images found unreadable mid-run that a worker (or a process without any) names, each a warning


class FoundUnreadable:
    """Which of `n` training images were found unreadable mid-run, and which of those were named, by this process or
    any of its DataLoader workers. Each worker decodes with its own copy of the data, so a count of its own was one
    worker's (a stop's line gave the failing worker's; a finished run said none): the flags are tensors in shared
    memory, which torch hands to the workers, forked or spawned, and which each only ever sets (no lock needed)."""

    def __init__(self, n: int) -> None:
        self.found = torch.zeros(n, dtype=torch.bool).share_memory_()
        self.named = torch.zeros(n, dtype=torch.bool).share_memory_()
        self.here = 0  # found by this worker (or process): its own first `LISTED` are named

    def add(self, index: int) -> bool:
        """Image `index` found unreadable here for the first time; → whether to name it (one of the first
        `LISTED` here)."""
        self.here += 1
        self.found[index] = True
        if self.here <= LISTED:
            self.named[index] = True
        return self.here <= LISTED

    def counted(self) -> str:
        """How many were found, and by whom, for the stop's line: "12 found so by this process's 2 DataLoader
        workers, 6 of them not listed; " (empty where every one found was named)."""
        found, unlisted = int(self.found.sum()), int((self.found & ~self.named).sum())
        worker = torch.utils.data.get_worker_info()
        where = "in this process" if worker is None else f"by this process's {worker.num_workers} DataLoader workers"
        return f"{found} found so {where}, {unlisted} of them not listed; " if unlisted > 0 else ""


def more_counted_line() -> str:
    """The warning that this worker names no more of those it finds."""
    more = f"those after the first {LISTED} in {dataloader_worker() or 'this process'} are counted, not listed"
    return f"skipping more unreadable training images: {more}"


def unreadable_summary(found: FoundUnreadable, accelerator: Any) -> str | None:
    """The run's line on the training images found unreadable mid-run, by any DataLoader worker of any process
    (each process has its share of the samples: a collective, on every process), or None where none was."""
    flags = found.found
    if accelerator.num_processes > 1:
        every = accelerator.gather(flags.to(accelerator.device, torch.uint8))  # one after another, process by process
        flags = every.view(accelerator.num_processes, -1).any(0).cpu()
    count = int(flags.sum())
    if count == 0:
        return None
    return (
        f"{count} of the {len(flags)} training images could not be decoded during the run and were skipped (their "
        "samples taken from the next images, and the first ones named above): fix or remove them"
    )


def warn_of_unreadable(found: FoundUnreadable, accelerator: Any) -> None:
    """Say `unreadable_summary`'s line, if any, from the main process; called on every process (a collective), once
    the steps are done: the warnings named only each worker's first few."""
    if (line := unreadable_summary(found, accelerator)) is not None and accelerator.is_main_process:
        logger.warning(line)

"""Stopping a training run on SIGINT / SIGTERM: after the step in progress, with a checkpoint (`StopSignals`,
`TrainingInterrupted`), all processes of a launch together; DataLoader workers leave the signals to the main
process (`ignore_stop_signals`, `stop_signals_held` while they start)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..console import shown_name

logger = logging.getLogger("swinir_hf.train")


def ignore_stop_signals(worker_id: int = 0) -> None:
    """Ignore Ctrl-C / SIGTERM: DataLoader workers leave them to the main process, which stops cleanly (and ends
    them); the program, once its run is complete (`cli.exit_status`), has nothing left to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@contextmanager
def stop_signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held (blocked) on this thread while open, for starting DataLoader workers: the processes
    started inherit the block and keep it until `ignore_stop_signals` discards what came meanwhile. A spawned worker
    (the start method on macOS and Windows) boots a fresh interpreter for seconds before it gets there, and a Ctrl-C
    then killed it, and the run with it ("DataLoader worker exited unexpectedly", no checkpoint). This process gets a
    signal that came meanwhile once the block ends (or on another of its threads at once)."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class TrainingInterrupted(Exception):
    """SIGINT / SIGTERM stopped a run after step `step`, saved as `checkpoint`."""

    def __init__(self, signum: int, step: int, checkpoint: Path) -> None:
        name = signal.Signals(signum).name
        super().__init__(
            f"{name}: stopped after step {step}, saved in {shown_name(checkpoint)}; continue with --resume latest"
        )
        self.signum, self.step, self.checkpoint = signum, step, checkpoint


# torchrun (and `accelerate launch`, its launcher) passes a signal it gets on to every process it started, which
# a Ctrl-C in the terminal has already reached: a SIGINT this soon after the first is that copy, not a second press.
FORWARDED_WITHIN_S = 1.0


class StopSignals:
    """While active (main thread only), SIGINT and SIGTERM ask the loop to stop after the step in progress instead
    of killing it mid-step; a second SIGINT raises KeyboardInterrupt at once (under torchrun, not the launcher's copy
    of the first, `FORWARDED_WITHIN_S`), and a SIGTERM after the first stop leaves it as it is. `announce`: log that
    it will stop `when` (the main process of a launch; the launcher passes a signal on to every process)."""

    def __init__(
        self, announce: bool = True, when: str = "after this step with a checkpoint", first: StopSignals | None = None
    ) -> None:
        # `first`: the stop an earlier phase got (in the last step), so that the next Ctrl-C is the second one
        self.signal: int | None = first.signal if first else None
        self.announce, self.when = announce, when
        self._previous: dict[int, Any] = {}
        self._since = first._since if first else 0.0  # time.monotonic() of the first signal

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: object) -> None:
        now = time.monotonic()
        if self.signal is not None and signum == signal.SIGINT:
            launched = "TORCHELASTIC_RUN_ID" in os.environ  # set by torchrun's agent in every process it starts
            if launched and now - self._since < FORWARDED_WITHIN_S:
                return
            raise KeyboardInterrupt
        if self.signal is not None:
            # A SIGTERM after a stop was asked: `accelerate launch`'s one-process launcher sends one on a Ctrl-C its
            # process already got. The stop stands as first asked (its message and exit status).
            return
        self.signal, self._since = signum, now
        if self.announce:
            logger.warning(f"{signal.Signals(signum).name}: stopping {self.when} (Ctrl-C again: now)")

    def requested(self, accelerator: Any) -> bool:
        """Whether any process got a stop signal. All processes agree, so that they checkpoint together, and on
        which signal (the main process's, else the lowest rank's), so that they exit with one status."""
        if accelerator.num_processes == 1:
            return self.signal is not None
        import torch  # here: the command line imports this module before it knows whether it will train

        flags = accelerator.gather(torch.tensor([float(self.signal or 0)], device=accelerator.device))
        got = [int(flag) for flag in flags.tolist() if flag]
        if got:
            self.signal = got[0]
        return bool(got)

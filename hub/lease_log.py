"""The GPU lease's log: each line printed, and appended to lease.log in OUT, which comes back with the checkpoints."""

from __future__ import annotations

import time
from pathlib import Path

LOG_FILES: list[Path] = []  # lease.log in OUT, so that the log comes back with the checkpoints


def log(message: str) -> None:
    line = f"[gpu_lease {time.strftime('%H:%M:%S')}] {message}"
    print(line, flush=True)
    for path in LOG_FILES:
        with open(path, "a") as f:
            f.write(line + "\n")

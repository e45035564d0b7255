"""Whether the outputs a rerun finds were made as this run makes them: by their record (`provenance`: the model, its
weights, `--outscale`) and by their size, which every output has, an earlier version's or another program's too.

`set_aside` judges them twice: once planned, with what the run knows before its model loads (its name,
`--outscale`), and once the model is loaded, with its scale and weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .provenance import Provenance, read_record_and_size

if TYPE_CHECKING:
    from .jobs import Job, Plan


@dataclass(frozen=True)
class Found:
    """An output that exists (`job.dst`), and what the headers tell of it: its `record` (None: none there, or not
    read), its (W, H) `size` and its input's `input_size` (None: not read, or unreadable)."""

    job: Job
    record: Provenance | None = None
    size: tuple[int, int] | None = None
    input_size: tuple[int, int] | None = None

    @classmethod
    def read(cls, job: Job) -> Found:
        """`job`'s output, its record and size read from one read of its header, and its input's size from that
        one's (no pixels decoded)."""
        from .image_io import header_size

        record, size = read_record_and_size(job.dst)
        return cls(job, record, size, header_size(job.src))


@dataclass(frozen=True)
class MadeOtherwise:
    """An existing output that this run would not make alike: `how` it was made, as a user reads it after "was"
    (outputs that share it are said in one line), and the `detail` of this one ("" when none)."""

    output: Path
    how: str
    detail: str = ""


def set_aside(plan: Plan, run: Provenance) -> None:
    """Move the outputs in `plan.existing` that `run` (this run's record) would not make alike to
    `plan.made_otherwise`: neither skipped as done nor replaced. What `run` does not know yet (its scale, its
    weights: None) is not judged."""
    kept = []
    for found in plan.existing:
        if (otherwise := made_otherwise(found, run)) is None:
            kept.append(found)
        else:
            plan.made_otherwise.append(otherwise)
    plan.existing = kept


def made_otherwise(found: Found, run: Provenance) -> MadeOtherwise | None:
    """How `found` was made otherwise than `run` makes it: by its record (another model, other weights, another
    `--outscale`) or by its size, that of `run`'s factor (`--outscale`, else the model's scale) × its input's; None
    when not, as far as `run` and the headers tell."""
    from .jobs import output_size

    if found.record is not None and (difference := found.record.difference(run)):
        return MadeOtherwise(found.job.dst, f"restored with {difference}")
    factor = run.scale if run.outscale is None else run.outscale
    if factor is None or found.size is None or found.input_size is None:
        return None
    expected = output_size(*found.input_size, factor)
    if found.size == expected:
        return None
    sizes = f"{_pixels(found.size)}, this run: {_pixels(expected)}"
    return MadeOtherwise(found.job.dst, "made at another size than this run makes", sizes)


def _pixels(size: tuple[int, int]) -> str:
    return f"{size[0]}×{size[1]}"

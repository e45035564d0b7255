"""Restore whole collections of image files (across processes / GPUs with `accelerate`).

One plan for every process: the sorted input list, each input's output name, and what is skipped (outputs that
exist, inputs that are outputs of an earlier run). Each process then restores its share of the remaining jobs with
the model loaded once, files decoded ahead and encoded behind in threads while the model runs, and same-size
images optionally batched into one forward. Outputs are written atomically, so a rerun after preemption resumes.

Its command line (`swinir-hf restore`, `accelerate launch -m swinir_hf.restore`) is `collection_cli`; a `datasets`
dataset is restored by `dataset_restoration`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checkpoints.bundled import DEFAULT_MODEL
from ..console import note, shown_name
from ..processes import main_first, process_state
from ..progress_lines import library_bars_wanted
from ..storage.atomic_writes import remove_stale_temp_files
from ..storage.output_folders import check_output_folder, check_writable_folder
from .existing_outputs import MadeOtherwise, set_aside
from .files import IMAGE_SUFFIXES, CollectedInputs, collect_inputs, left_out_note, skipped_folders_note
from .image_writing import warn_alpha_dropped
from .job_runner import Counts, run_jobs, sort_by_size
from .jobs import OutputOptions, Plan, plan_jobs
from .provenance import Provenance, model_label
from .restoration import EngineOptions

if TYPE_CHECKING:
    import torch

    from ..models.modeling_swinir import SwinIRForImageRestoration
    from .restoration import SwinIRRestorer


@dataclass(frozen=True)
class ModelEngine(EngineOptions):
    """A model to load (`model`, a `load_model` spec, at `revision` for a Hub model, its weights at `weights_key` for
    a checkpoint file) and how the engine runs it (the `EngineOptions` fields)."""

    model: str = DEFAULT_MODEL
    revision: str | None = None
    weights_key: str | None = None

    def load(self) -> SwinIRForImageRestoration:
        """The model, as `load_model` gives it."""
        from ..checkpoints.loading import load_model

        return load_model(self.model, revision=self.revision, weights_key=self.weights_key)

    def build(self, device: str | torch.device | None = None, progress: bool = False) -> SwinIRRestorer:
        """Load the model and wrap it; `device` (when `self.device` is None) is where it runs."""
        return replace(self, device=self.device or device).restorer(self.load(), progress=progress)


# ---------------------------------------------------------------------------------------------------------------
# All processes.


@dataclass
class Summary:
    """A whole run, all processes together; `seconds` is the wall time of the restoring phase."""

    restored: int
    failed: int
    existing: int
    earlier_outputs: int
    seconds: float
    processes: int
    out_dir: Path
    unrecorded: int = 0  # of the existing: without a record of how they were made (`provenance`)

    def __str__(self) -> str:
        rate = self.restored / self.seconds if self.seconds > 0 else 0.0
        text = f"restored {self.restored}, failed {self.failed}, skipped {self.existing} existing"
        if self.unrecorded:
            them = "it" if self.unrecorded == 1 else "them"
            text += (
                f" ({self.unrecorded} without a record of the model that made {them}: an earlier version's or "
                f"another program's; --overwrite redoes {them})"
            )
        elif self.existing:
            text += " (pass --overwrite to replace them)"
        if self.earlier_outputs:
            text += f", left {_count(self.earlier_outputs, 'earlier output')} alone"
        processes = f"{self.processes} process" + ("es" if self.processes > 1 else "")
        speed = f"{rate:.2f} images/s, {processes}" if self.restored else processes  # no rate of nothing done
        return f"{text} → {shown_name(self.out_dir)} in {self.seconds:.1f} s ({speed})"


def _count(n: int, thing: str) -> str:
    """`n` and `thing`, in the plural unless one: "1 earlier output", "2 earlier outputs"."""
    return f"{n} {thing}" + ("" if n == 1 else "s")


def first_few(names: Iterable[object], limit: int = 3) -> str:
    """The first `limit` of `names` for a message, then ", ..." if there are more: "a.png, b.png, ..."."""
    names = [shown_name(name) for name in names]
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def check_not_a_file_name(out_dir: str | Path) -> None:
    """Raise ValueError when `out_dir` does not exist and ends like an image file (`-o photo_x4.png`, as
    realesrgan-ncnn-vulkan takes for one file): it would become a folder of that name."""
    path = Path(out_dir)
    if not path.exists() and path.suffix.lower() in IMAGE_SUFFIXES:
        raise ValueError(
            f"-o {shown_name(out_dir)} looks like an image file's name, but -o is the output folder: outputs are named "
            "after their inputs (--suffix and --ext change that); to use this name for a folder, create it first"
        )


def restore_files(
    inputs: Iterable[str],
    out_dir: str | Path,
    engine: ModelEngine,
    output: OutputOptions,
    *,
    recursive: bool = False,
    batch_size: int = 1,
    workers: int = 2,
    progress: bool = True,
    listed: CollectedInputs | None = None,
    on_output: Callable[[Path], None] | None = None,
) -> Summary:
    """Restore files, folders and globs into `out_dir` on every process of the current `accelerate` launch
    (one process when not launched), each process on its own device, and return the run's `Summary`. `listed`: the
    `collect_inputs` of `inputs` made already (a command line's check), which is then not made again. `on_output`
    is called with the path of each output of the run, as `out_dir` was given (relative stays relative): on the main
    process, those skipped as existing, before anything is restored; on every process, each it writes, as it is
    written (from a writer thread).

    Inputs that fail to read / restore are reported and counted; a folder's files that are not images by their
    suffix are left out (`collect_inputs`); outputs that exist are skipped unless `output.overwrite`, and refused
    (counted as failed) when they record another model, other weights or another `outscale` (`provenance`), or are
    not the size this run makes (`existing_outputs`); an input is never overwritten.

    Raises:
        FileNotFoundError, ValueError, CheckpointError, ModelNotAvailableError: nothing could be started (no
            such input, an output folder that is a file, a bad option or model).
    """
    from accelerate.utils import gather_object

    from ..checkpoints.convert import CheckpointError
    from ..checkpoints.loading import unavailable_model

    state = process_state(engine.device)
    made_by = Provenance(model_label(engine.model, engine.revision, engine.weights_key), output.outscale)
    plan = _planned(inputs, out_dir, output, made_by, recursive, listed, state.is_main_process)
    jobs = sort_by_size(plan.jobs) if batch_size > 1 else plan.jobs
    if not jobs and (problem := unavailable_model(engine.model)):  # a mistyped name said before anything loads
        raise CheckpointError(problem)
    # Nothing left (a rerun of a finished run): no engine to build. Every process has the same plan, so all skip it
    # alike. transformers' "Loading weights" bar where the restore bar is, not once more for every other process.
    bars = library_bars_wanted(progress and state.is_local_main_process)
    restorer = build_main_first(engine, state, bars=bars) if jobs else None
    if jobs or plan.existing:  # what the outputs that exist are judged by, and this run's record
        made_by = loaded_record(made_by, engine, restorer, state, bars)
        set_aside(plan, made_by)
    if state.is_main_process:
        report_plan(plan)
    as_given = _as_given(out_dir, on_output)
    if as_given is not None and state.is_main_process:
        for found in plan.existing:
            as_given(found.job.dst)
    start = time.perf_counter()
    # Every r-th job: neighbours in the plan are alike (size-sorted, one camera's files), so each process gets a mix,
    # and one beyond the number of jobs gets none (accelerate < 1.14's split_between_processes gave it the last job
    # again, which two processes then both restored).
    mine = jobs[state.process_index :: state.num_processes]
    counts = Counts()
    if restorer is not None:
        counts = run_jobs(
            mine,
            restorer,
            output,
            batch_size=batch_size,
            workers=workers,
            progress=progress and state.is_local_main_process,
            made_by=made_by.text(),
            on_output=as_given,
        )
    everyone = gather_object([counts])
    return _summary(plan, everyone, time.perf_counter() - start, state, Path(out_dir))


def _as_given(out_dir: str | Path, on_output: Callable[[Path], None] | None) -> Callable[[Path], None] | None:
    """`on_output` called with a plan's output path (under the resolved `out_dir`) as under `out_dir` as given."""
    if on_output is None:
        return None
    given, resolved = Path(out_dir), Path(out_dir).resolve()
    return lambda dst: on_output(given / dst.relative_to(resolved))


def _summary(plan: Plan, everyone: list[Counts], seconds: float, state: Any, out_dir: Path) -> Summary:
    """The run's `Summary`, from its plan and every process's `Counts`; the JPEG outputs whose alpha was dropped are
    warned of here, by the main process, once for them all (it was once for each file)."""
    if state.is_main_process and (dropped := sorted(path for c in everyone for path in c.alpha_dropped)):
        warn_alpha_dropped(dropped)
    return Summary(
        restored=sum(c.restored for c in everyone),
        failed=sum(c.failed for c in everyone) + len(plan.errors) + len(plan.made_otherwise),
        existing=len(plan.existing) + sum(c.appeared for c in everyone),
        earlier_outputs=len(plan.earlier_outputs),
        seconds=seconds,
        processes=state.num_processes,
        out_dir=out_dir,
        unrecorded=sum(found.record is None for found in plan.existing),
    )


def _planned(
    inputs: Iterable[str],
    out_dir: str | Path,
    output: OutputOptions,
    made_by: Provenance,
    recursive: bool,
    listed: CollectedInputs | None,
    main: bool,
) -> Plan:
    """`restore_files`' plan, once its inputs are listed and `out_dir` checked, with the outputs that exist judged by
    what is known before the model loads (`made_by`: its name, `--outscale`): refused by it, they need none loaded."""
    collected = collect_inputs(inputs, recursive=recursive) if listed is None else listed
    check_output_folder(out_dir)
    check_writable_folder(out_dir)
    check_not_a_file_name(out_dir)
    plan = plan_jobs(collected.files, out_dir, output, read_existing=True)
    set_aside(plan, made_by)
    if main:
        if collected.left_out:
            note(left_out_note(collected.left_out))
        if said := skipped_folders_note(collected.skipped_folders, Path(out_dir)):
            note(said)
        # A killed run's temporary files beside outputs that exist now: no write into their folders would remove them.
        for folder in sorted({found.job.dst.parent for found in plan.existing}):
            remove_stale_temp_files(folder)
    return plan


def build_main_first(engine: ModelEngine, state: Any, bars: bool = True) -> SwinIRRestorer:
    """`engine.build` on every process of `state`, the main process first (it downloads a Hub model once), with
    transformers' loading (and the Hub's download) bars only where `bars`.

    A model that fails to load on any process raises the same error on every process: the others would otherwise
    wait for it at their next collective and die there with a communication traceback. Every process has planned
    (looked at which outputs exist) before any returns from this, so none writes an output another then skips.
    """
    from ..library_bars import transformers_bars_off

    def build() -> SwinIRRestorer:
        with transformers_bars_off(when=not bars):
            return engine.build(state.device)

    return main_first(build, state)


def loaded_record(
    made_by: Provenance, engine: ModelEngine, restorer: SwinIRRestorer | None, state: Any, bars: bool = True
) -> Provenance:
    """`made_by` with the scale and `weights_fingerprint` of the model this process restores with: `restorer`'s,
    taken before it runs (as loaded, whatever dtype and device it runs in), or with nothing to restore, the model
    loaded for them alone on every process of `state`, the main one first (transformers' bars where `bars`). Every
    process loads the same weights, so all judge the outputs that exist alike, and each output records the weights
    that made it."""
    from ..checkpoints.fingerprint import weights_fingerprint
    from ..library_bars import transformers_bars_off

    def load() -> SwinIRForImageRestoration:
        with transformers_bars_off(when=not bars):
            return engine.load()

    model = restorer.model if restorer is not None else main_first(load, state)
    return replace(made_by, scale=model.config.upscale, weights=weights_fingerprint(model))


def report_plan(plan: Plan) -> None:
    """Print the plan's refused inputs (one error line each), its outputs made otherwise than this run makes them
    (one line for each folder and way, with the first one's detail) and the earlier outputs it leaves alone."""
    from tqdm.auto import tqdm

    for src, message in plan.errors:
        tqdm.write(f"error: {shown_name(src)}: {message}", file=sys.stderr)
    groups: dict[tuple[Path, str], list[MadeOtherwise]] = {}
    for otherwise in plan.made_otherwise:
        groups.setdefault((otherwise.output.parent, otherwise.how), []).append(otherwise)
    for (folder, how), outputs in groups.items():
        names = first_few(p.output.name for p in outputs)
        were = "was" if len(outputs) == 1 else "were"
        made = f"{_count(len(outputs), 'output')} in {shown_name(folder)} ({names}) {were}"
        detail = f" ({shown_name(outputs[0].output.name)}: {outputs[0].detail})" if outputs[0].detail else ""
        fix = f"--overwrite replaces {'them' if len(outputs) > 1 else 'it'}, or choose another -o"
        tqdm.write(f"error: {made} {how}{detail}: {fix}", file=sys.stderr)
    if plan.earlier_outputs:
        names = first_few(p.name for p in plan.earlier_outputs)
        note(f"not re-processing {_count(len(plan.earlier_outputs), 'earlier output')} ({names})")

"""Restore whole collections: many image files (across processes / GPUs with `accelerate`) or a `datasets` dataset.

One plan for every process: the sorted input list, each input's output name, and what is skipped (outputs that
exist, inputs that are outputs of an earlier run). Each process then restores its share of the remaining jobs with
the model loaded once, files decoded ahead and encoded behind in threads while the model runs, and same-size
images optionally batched into one forward. Outputs are written atomically, so a rerun after preemption resumes.

Its command line (`swinir-hf restore`, `accelerate launch -m swinir_hf.restore`) is `collection_cli`.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .files import check_name_lengths
from .image_io import IMAGE_SUFFIXES
from .jobs import (
    KEPT_SUFFIXES,
    Counts,
    OutputOptions,
    Plan,
    file_in_the_way,
    plan_jobs,
    restore_image,
    run_jobs,
    sort_by_size,
)
from .restoration import EngineOptions

T = TypeVar("T")

if TYPE_CHECKING:
    import datasets
    import torch

    from .restoration import SwinIRRestorer


@dataclass(frozen=True)
class ModelEngine(EngineOptions):
    """A model to load (`model`, a `load_model` spec) and how the engine runs it (the `EngineOptions` fields)."""

    model: str = "sr-x4"

    def build(self, device: str | torch.device | None = None, progress: bool = False) -> SwinIRRestorer:
        """Load the model and wrap it; `device` (when `self.device` is None) is where it runs."""
        from ..checkpoints.loading import load_model

        return replace(self, device=self.device or device).restorer(load_model(self.model), progress=progress)


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

    def __str__(self) -> str:
        rate = self.restored / self.seconds if self.seconds > 0 else 0.0
        text = f"restored {self.restored}, failed {self.failed}, skipped {self.existing} existing"
        if self.existing:
            text += " (pass --overwrite to replace them)"
        if self.earlier_outputs:
            text += f", left {self.earlier_outputs} earlier outputs alone"
        return (
            f"{text} → {self.out_dir} in {self.seconds:.1f} s ({rate:.2f} images/s, {self.processes} process"
            f"{'es' if self.processes > 1 else ''})"
        )


def launched_processes() -> int:
    """How many processes this one's launch (`accelerate launch`, torchrun) started: its WORLD_SIZE; 1 when not
    launched."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def several_processes_on_cpu(device: str | None = None) -> bool:
    """Whether this is one of several launched processes (`accelerate launch --multi_gpu` / torchrun) that run on
    the CPU: no GPU here, or `device` a CPU. accelerate only picks its multi-CPU (gloo) mode when told to use the
    CPU (`cpu=True`); else each process would think it is alone and do all the work."""
    import torch

    several = launched_processes() > 1
    on_cpu = not torch.cuda.is_available() or (device is not None and torch.device(device).type == "cpu")
    return several and on_cpu


def process_state(device: str | None = None):
    """This process's `accelerate.PartialState` (multi-CPU where `several_processes_on_cpu(device)`)."""
    from accelerate import PartialState

    return PartialState(cpu=several_processes_on_cpu(device))


# Where launchers put a process's rank: torchrun / `accelerate launch`, then MPI (the variables accelerate reads).
RANK_VARIABLES = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")


def is_main_process() -> bool:
    """Whether this is its launch's main process (rank 0; also when not launched), from the launcher's environment:
    known before accelerate's process group exists, and without one. Every process of a launch parses the same
    command line and checks the same inputs, so a user error found there is printed by this process only."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value) == 0
    return True


def check_output_folder(out_dir: str | Path, option: str = "-o") -> None:
    """Raise ValueError when `out_dir`, or the nearest of its parents that exists, is a file, or a name in it is over
    NAME_MAX bytes: once, before the model loads, rather than one error per input (`option` names the argument to
    change)."""
    check_name_lengths(out_dir, "output folder")
    path = Path(out_dir).absolute()
    if (existing := file_in_the_way(path)) is not None:
        where = "" if existing == path else f" ({existing} is a file)"
        raise ValueError(f"output folder {out_dir} is not a folder{where}: choose another {option}")


def check_writable_folder(out_dir: str | Path, option: str = "-o") -> None:
    """Raise ValueError when `out_dir`, or the nearest of its parents that exists (where it would be created), is
    not writable: once, before the model loads, rather than after restoring each image."""
    path = Path(out_dir).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == path else f" ({existing} is not writable)"
        raise ValueError(f"cannot write into output folder {out_dir}{where}: choose another {option}")


def check_not_a_file_name(out_dir: str | Path) -> None:
    """Raise ValueError when `out_dir` does not exist and ends like an image file (`-o photo_x4.png`, as
    realesrgan-ncnn-vulkan takes for one file): it would become a folder of that name."""
    path = Path(out_dir)
    if not path.exists() and path.suffix.lower() in {*IMAGE_SUFFIXES, *KEPT_SUFFIXES}:
        raise ValueError(
            f"-o {out_dir} looks like an image file's name, but -o is the output folder: outputs are named after "
            "their inputs (--suffix and --ext change that); to use this name for a folder, create it first"
        )


def check_fresh_output_folder(out_dir: str | Path, overwrite: bool, option: str = "-o", replaces: str = "it") -> None:
    """`check_output_folder`, and, unless `overwrite`, raise ValueError when `out_dir` has files: a job that writes
    the whole folder would replace them (`replaces` says what, after "pass --overwrite to replace")."""
    check_output_folder(out_dir, option)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ValueError(f"{out} exists and is not empty; pass --overwrite to replace {replaces}")


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
) -> Summary:
    """Restore files, folders and globs into `out_dir` on every process of the current `accelerate` launch
    (one process when not launched), each process on its own device, and return the run's `Summary`.

    Inputs that fail to read / restore are reported and counted; outputs that exist are skipped unless
    `output.overwrite`; an input is never overwritten.

    Raises:
        FileNotFoundError, ValueError, CheckpointError, ModelNotAvailableError: nothing could be started (no
            such input, an output folder that is a file, a bad option or model).
    """
    from accelerate.utils import gather_object

    from .files import collect_inputs

    state = process_state(engine.device)
    files = collect_inputs(inputs, recursive=recursive)
    check_output_folder(out_dir)
    check_writable_folder(out_dir)
    check_not_a_file_name(out_dir)
    plan = plan_jobs(files, out_dir, output)
    if state.is_main_process:
        report_plan(plan)
    jobs = sort_by_size(plan.jobs) if batch_size > 1 else plan.jobs
    # Nothing left (a rerun of a finished run): no model to load, which could take long or need the Hub. Every
    # process has the same plan, so all skip it alike.
    restorer = build_main_first(engine, state) if jobs else None
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
        )
    everyone = gather_object([counts])
    seconds = time.perf_counter() - start
    return Summary(
        restored=sum(c.restored for c in everyone),
        failed=sum(c.failed for c in everyone) + len(plan.errors),
        existing=len(plan.existing),
        earlier_outputs=len(plan.earlier_outputs),
        seconds=seconds,
        processes=state.num_processes,
        out_dir=Path(out_dir),
    )


def build_main_first(engine: ModelEngine, state: Any) -> SwinIRRestorer:
    """`engine.build` on every process of `state`, the main process first (it downloads a Hub model once).

    A model that fails to load on the main process raises the same error on every process: the others would
    otherwise wait for it at a barrier and die there with a collective-communication traceback. The closing
    barrier guarantees that every process has planned (looked at which outputs exist) before any writes one.
    """
    restorer = on_main_process(lambda: engine.build(state.device), state.is_main_process, state.num_processes)
    if restorer is None:
        restorer = engine.build(state.device)
    state.wait_for_everyone()
    return restorer


def on_main_process(work: Callable[[], T], main: bool, num_processes: int) -> T | None:
    """`work()` on the main process of a launch (`main`) only; its exception is raised on every process, which all
    call this. Returns `work`'s result on the main process, None on the others.

    Work done by the main process alone (loading a model first, creating the run folder) that fails would leave the
    other processes waiting for it at their next collective, to die there with a communication traceback. Raised
    alike everywhere, it is one user error that the main process reports.
    """
    result, error = _attempt(work) if main else (None, None)
    return _raise_everywhere(result, error, num_processes)


def on_every_process(work: Callable[[], T], num_processes: int) -> T:
    """`work()` on every process of a launch, which all call this. An exception on any of them is raised on every
    one, so that none waits for a failed one at its next collective: a process that failed raises its own, the
    others the lowest failed rank's."""
    return _raise_everywhere(*_attempt(work), num_processes)


def _attempt(work: Callable[[], T]) -> tuple[T | None, Exception | None]:
    try:
        return work(), None
    except Exception as err:  # raised by `_raise_everywhere`, on every process
        return None, err


def _raise_everywhere(result: T, error: Exception | None, num_processes: int) -> T:
    """`result`, unless this or (with several processes) another process's work raised: then the first error."""
    if num_processes > 1:
        import pickle

        from accelerate.utils import gather_object

        try:
            pickle.loads(pickle.dumps(error))
            shared = error
        except Exception:  # one that does not survive pickling travels as its message
            shared = RuntimeError(f"{type(error).__name__}: {error}")
        gathered = gather_object([shared])  # by every process, the failed ones too
        error = error or next((e for e in gathered if e is not None), None)
    if error is not None:
        raise error
    return result


def report_plan(plan: Plan) -> None:
    """Print the plan's refused inputs (one error line each) and the earlier outputs it leaves alone."""
    from tqdm.auto import tqdm

    for src, message in plan.errors:
        tqdm.write(f"error: {src}: {message}", file=sys.stderr)
    if plan.earlier_outputs:
        names = ", ".join(p.name for p in plan.earlier_outputs[:3]) + (", ..." * (len(plan.earlier_outputs) > 3))
        print(f"not re-processing {len(plan.earlier_outputs)} earlier outputs ({names})", file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------------
# Datasets.


def is_saved_dataset(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder written by `datasets`' `save_to_disk` (of a `Dataset` or a `DatasetDict`)."""
    path = Path(path)
    dataset_files = (path / "state.json").is_file() and (path / "dataset_info.json").is_file()
    return dataset_files or (path / "dataset_dict.json").is_file()


def is_hub_dataset_id(spec: str) -> bool:
    """Whether `spec` can name a Hub dataset (`NAME` or `OWNER/NAME`) rather than a local path: a repo id
    (`is_repo_id`; `photos/` or `my photos` is a path, which must not be sent to the Hub to fail there with a message
    about repo ids) that is not an image file's name."""
    from ..checkpoints.loading import is_repo_id

    return is_repo_id(spec) and Path(spec).suffix.lower() not in IMAGE_SUFFIXES  # photo.png: a file, not a dataset


def image_columns(dataset: datasets.Dataset) -> list[str]:
    """The names of the dataset's `datasets.Image` columns, in order."""
    import datasets

    return [name for name, feature in dataset.features.items() if isinstance(feature, datasets.Image)]


def load_saved_dataset(path: str | os.PathLike, split: str) -> datasets.Dataset | None:
    """The dataset of a folder written by `datasets`' `save_to_disk` (of a `DatasetDict`: its split `split`), or
    None when `path` is no such folder (restored datasets, test sets and training sets can be these)."""
    if not is_saved_dataset(path):
        return None
    from ..extras import require

    datasets = require("datasets", "train", f"reading the save_to_disk folder {path}")
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise ValueError(f"the save_to_disk folder {path} has no split {split!r} (splits: {list(loaded)})")
        loaded = loaded[split]
    return loaded


def load_image_dataset(
    spec: str, split: str | None = None, *, default_split: str = "train", cache_dir: str | None = None
) -> datasets.Dataset:
    """The dataset `spec` names: `imagefolder:DIR` (split default "train"), a `save_to_disk` folder or a Hub
    dataset id (split default `default_split`).

    Raises:
        FileNotFoundError: no such folder, a folder that is not a saved dataset, or a Hub dataset that cannot be
            loaded (offline, missing, no such split).
    """
    from ..extras import require

    if spec.startswith("imagefolder:"):
        data_dir = spec.split(":", 1)[1]
        if not Path(data_dir).is_dir():
            raise FileNotFoundError(f"no such imagefolder directory: {data_dir}")
        datasets = require("datasets", "train", f"loading the dataset {spec!r}")
        return datasets.load_dataset("imagefolder", data_dir=data_dir, split=split or "train", cache_dir=cache_dir)
    if Path(spec).is_dir():
        loaded = load_saved_dataset(spec, split or default_split)
        if loaded is None:
            raise FileNotFoundError(
                f"{spec} is not a datasets save_to_disk folder (for a folder of images: imagefolder:{spec})"
            )
        return loaded
    if not is_hub_dataset_id(spec):
        raise FileNotFoundError(f"no such dataset folder: {spec}")
    datasets = require("datasets", "train", f"loading the dataset {spec!r}")
    from ..checkpoints.loading import hub_offline

    offline = hub_offline()
    try:
        with datasets_offline(offline):
            return datasets.load_dataset(spec, split=split or default_split, cache_dir=cache_dir)
    except Exception as err:  # datasets raises many kinds (offline, missing, no such split)
        if offline is not None:
            raise FileNotFoundError(
                f"dataset {spec!r}: no local folder of that name, and not in the local Hugging Face cache while "
                f"{offline}. Pass a local folder (imagefolder:DIR, or a save_to_disk folder); or load it once on a "
                f"machine with internet access (`datasets.load_dataset({spec!r})`), copy its cache "
                "(~/.cache/huggingface, or the folder HF_HOME points to) here and run with HF_HUB_OFFLINE=1"
            ) from err
        raise FileNotFoundError(f"cannot load dataset {spec!r}: {err}") from err


@contextmanager
def datasets_offline(offline: object) -> Iterator[None]:
    """`datasets` in offline mode inside when `offline` is truthy: the local cache only, at once, where it would
    otherwise retry an unreachable Hub for half a minute. (datasets reads the mode from its config module.)"""
    import datasets.config

    if not offline:
        yield
        return
    was = datasets.config.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE = was


def restore_dataset(
    dataset: datasets.Dataset,
    restorer: SwinIRRestorer,
    *,
    column: str | None = None,
    output_column: str | None = None,
    outscale: float | None = None,
    model_name: str = "",
) -> datasets.Dataset:
    """A new dataset whose `output_column` (default: `column`, replaced) holds each image of `column` (default:
    the first `datasets.Image` column) restored, via `Dataset.map`; other columns are kept.

    The map's fingerprint comes from the dataset's, `model_name` and the options, so the model is never hashed.
    """
    import datasets
    from datasets.fingerprint import Hasher

    columns = image_columns(dataset)
    column = column or (columns[0] if columns else None)
    if column not in columns:
        raise ValueError(f"{column!r} is not an image column of the dataset (image columns: {columns})")
    output_column = output_column or column
    features = dataset.features.copy()
    features[output_column] = datasets.Image()
    options = (restorer.tile, restorer.tile_overlap, restorer.ensemble, restorer.dtype, outscale, output_column)
    fingerprint = Hasher.hash((dataset._fingerprint, model_name, restorer.scale, options))

    def fn(example: dict[str, Any]) -> dict[str, Any]:
        return {output_column: restore_image(restorer, example[column], outscale)}

    return dataset.map(fn, features=features, new_fingerprint=fingerprint, desc="restore")

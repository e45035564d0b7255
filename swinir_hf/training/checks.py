"""Checks before the first step: the output folder, Hub access, the launch's parallelism, the patch size. (Whether a
checkpoint can be resumed: `resume_checks`; whether the training images decode: `images.check_readable`; stopping on
a signal: `signals`.)"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from ..checkpoints.run_folder import (
    CHECKPOINTS,
    SUMMARY,
    checkpoint_step,
    list_checkpoints,
    resolve_resume,
    unfinished_saves,
)
from ..console import shell_word, shown_name
from ..storage.atomic_writes import left_by_killed_write

# What a run writes into its folder only once it has started training (earlier versions wrote
# training_config.yaml and logs/ first): a folder holding nothing else is a run that never took a step.
_NO_WORK_YET = ("training_config.yaml", "logs", CHECKPOINTS)


# accelerate's sharding engines: the launcher's option (a field of its parsed options) and the variable through
# which it selects each in the processes it starts.
_SHARDING_ENGINES = {
    "FSDP": ("use_fsdp", "ACCELERATE_USE_FSDP"),
    "DeepSpeed": ("use_deepspeed", "ACCELERATE_USE_DEEPSPEED"),
    "Megatron-LM": ("use_megatron_lm", "ACCELERATE_USE_MEGATRON_LM"),
}


def check_parallelism(launcher_options: argparse.Namespace | None = None) -> None:
    """Raise `ValueError` if the launcher was asked for FSDP, DeepSpeed or Megatron-LM (in `launcher_options`, else
    in this process's environment, as the launcher passes it on), which shard the weights: the trainer keeps them
    whole on every process (its EMA copy, validation and model folders read them there). SwinIR needs no sharding:
    SwinIR-L's 28M parameters take 28M × 20 bytes ≈ 0.6 GB per GPU under DDP (float32 weights, gradients, Adam's
    two moments and the EMA copy)."""
    configured = _configured_engine(launcher_options) if launcher_options is not None else None
    for engine, (option, variable) in _SHARDING_ENGINES.items():
        if launcher_options is not None:
            asked = bool(getattr(launcher_options, option, False)) or configured == engine
        else:
            asked = os.environ.get(variable, "false").lower() in ("1", "true")
        if asked:
            raise ValueError(
                f"{engine} is not supported: the trainer keeps whole weights on every process (EMA copy, validation, "
                "model folders), and SwinIR needs no sharding (SwinIR-L's weights, gradients, Adam state and EMA take "
                "~0.6 GB per GPU): launch with --multi_gpu, without FSDP / DeepSpeed in your accelerate config"
            )


def _configured_engine(launcher_options: argparse.Namespace) -> str | None:
    """The sharding engine (a key of `_SHARDING_ENGINES`) that the accelerate config file in effect chooses, where the
    launcher options choose no distributed mode themselves (then the file's `distributed_type` decides, as in
    accelerate's launcher); else None. A file that does not load is left to the launcher to report."""
    from ..launch import config_file_in_effect

    chosen = ("multi_gpu", "tpu", "tpu_use_cluster", "use_deepspeed", "use_fsdp", "use_megatron_lm")
    path = config_file_in_effect(launcher_options)
    if path is None or any(getattr(launcher_options, option, False) for option in chosen):
        return None
    from accelerate.commands.config.config_args import load_config_from_file

    try:
        kind = load_config_from_file(path).distributed_type
    except Exception:  # missing, unreadable or malformed: the launcher says what is wrong with it
        return None
    return {"DEEPSPEED": "DeepSpeed", "FSDP": "FSDP", "MEGATRON_LM": "Megatron-LM"}.get(getattr(kind, "value", kind))


def _fresh(out: Path) -> bool:
    """Whether `out` may be trained into without --overwrite / --resume: missing, empty, or left by a run that
    failed before its first checkpoint (no entries but `_NO_WORK_YET` and a killed write's temporary files, no
    checkpoint)."""
    if not out.exists():
        return True
    return all(p.name in _NO_WORK_YET or left_by_killed_write(p) for p in out.iterdir()) and not list_checkpoints(out)


def check_resume_given(resume: str | None) -> None:
    """Refuse an empty `resume` (an unset shell variable: `--resume "$CKPT"`), which started a new run quietly."""
    if resume is not None and not resume.strip():
        raise ValueError(
            "--resume is empty (an unset shell variable?): give 'latest' or a checkpoint folder, or null for none"
        )


def check_output_dir(
    out: Path, resume: str | None, overwrite: bool, init_from: str | None = None, disc_from: str | None = None
) -> Path | None:
    """The checkpoint to resume (None: start at step 0). Starting at step 0 in a folder that holds anything but an
    unstarted run's leftovers needs `overwrite`, also with `--resume latest` finding no checkpoint there: the run
    would replace the folder's model files at its end. So does resuming where the folder holds work of another
    lineage (`superseded_work`). A run starting at step 0 from weights inside `out` (`init_from`, its discriminator's
    `disc_from`) is refused, `overwrite` or not (`check_start_outside`). `out` is not a file, nor under one:
    `check_output_folder`. Its path must be valid UTF-8: the model card, the logs and the config quote it (one that is
    not failed at the first checkpoint)."""
    try:
        str(out.absolute()).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"train.output_dir {str(out)!r}: its path is not valid UTF-8; choose another") from None
    resume_from = resolve_resume(resume, out) if resume else None
    if resume_from is None:
        check_start_outside(init_from, out)
        check_start_outside(disc_from, out, "gan.init_discriminator_from")
    if resume_from is None and not overwrite and not _fresh(out):
        if resume:
            raise FileExistsError(
                f"{shown_name(out)} holds no checkpoint to resume (checkpoints/step-*) but is not empty: pass "
                "--overwrite to start a new run in it, or choose another train.output_dir"
            )
        raise FileExistsError(
            f"{shown_name(out)} is not empty: pass --resume latest to continue it or --overwrite to reuse it"
        )
    if resume_from is not None and not overwrite and (superseded := superseded_work(out, resume_from)):
        if not in_run_folder(out, resume_from):
            raise FileExistsError(
                f"{shown_name(out)} holds another run: resuming {shown_name(resume_from)} into it would mix the two "
                "runs' checkpoints and models. Choose an empty train.output_dir, or pass --overwrite to replace what "
                "it holds"
            )
        later = ", ".join(p.name for p in superseded if p.parent.name == CHECKPOINTS)
        raise FileExistsError(
            f"{shown_name(out)} has checkpoints after {resume_from.name} ({later}): continuing from {resume_from.name} "
            "would mix them with the new ones (the newest are kept). Pass --overwrite to delete them and go on from "
            f"{resume_from.name}, or --resume latest"
        )
    return resume_from


def check_start_outside(init_from: str | None, out: Path, setting: str = "model.init_from") -> None:
    """Refuse a new run whose starting weights are in its own output folder (`--init-from runs/x2` without a new
    `-o`): `--overwrite`, which the not-empty refusal offered, deleted them before the first step and the run
    replaced them with its own model, its card naming as its start the folder that now holds its result."""
    if not init_from:
        return
    source = Path(init_from).expanduser()
    if source.exists() and source.resolve().is_relative_to(out.resolve()):
        raise FileExistsError(
            f"{setting} {shown_name(source)} is in train.output_dir {shown_name(out)}: the new run would "
            "replace the weights it starts from; give it a folder of its own (-o / --output-dir)"
        )


def in_run_folder(out: Path, checkpoint: Path) -> bool:
    """Whether `checkpoint` is one of the run `out`'s own (not another run's, resumed into it)."""
    return checkpoint.resolve().parent == (out / CHECKPOINTS).resolve()


def superseded_work(out: Path, resume_from: Path | None) -> list[Path]:
    """What in the run folder `out` is not part of a run going on from `resume_from` (None: from step 0) and must
    go before it writes anything: checkpoints of another run, or of this run after
    `resume_from` (a rewind), which pruning would keep in place of the new ones and `--resume latest` would take;
    and then the final model and summary, which until the run's end would load, export and push as its own.
    Empty when going on from the newest checkpoint of `out`'s own run."""
    from ..checkpoints.folders import model_folder_files

    if resume_from is not None and in_run_folder(out, resume_from):
        step = checkpoint_step(resume_from)
        checkpoints = [p for p in list_checkpoints(out) if (checkpoint_step(p) or 0) > (step or 0)]
        if not checkpoints:
            return []  # going on from the newest checkpoint: the run's own folder, as it is
    else:
        checkpoints = list_checkpoints(out)
    return [*checkpoints, *(p for p in [*model_folder_files(out), out / SUMMARY] if p.exists())]


def remove_superseded_work(out: Path, resume_from: Path | None) -> None:
    """Delete `superseded_work` and unfinished saves (the logs stay: TensorBoard is told to drop what came after
    the resumed step)."""
    for path in [*superseded_work(out, resume_from), *unfinished_saves(out)]:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def check_run_push_access(repo_id: str, output_dir: Path) -> str:
    """Raise `ValueError` (saying what to do: push `output_dir` later with `swinir-hf hub`) unless this machine can
    push the trained model to `repo_id`; returns `repo_id` with its namespace (the token's user for a bare name)."""
    from ..checkpoints.repo_names import check_push_access as check
    from ..checkpoints.repo_names import check_repo_id_given

    check_repo_id_given(repo_id)  # before the offline advice, whose command would name it
    return check(repo_id, push_later_command(repo_id, output_dir))


def push_later_command(repo_id: str, output_dir: Path) -> str:
    """The `swinir-hf hub ... --push` command (in backquotes) that pushes the run `output_dir` to `repo_id` as the
    trainer's `--push-to-hub` does, for when it cannot now; quoted (`shell_word`), so that it is pasted into a shell as
    it is, and on one line."""
    org, _, name = repo_id.rpartition("/")
    command = ["swinir-hf", "hub", str(output_dir), "-o", "hub_out", "--org", org or "YOUR_USER_NAME", "--name", name]
    return f"`{' '.join(map(shell_word, [*command, '--push']))}`"


def check_patch_size(patch_size: int, window_size: int) -> None:
    """Raise `ValueError` unless the training patch is a whole number of attention windows: the model would
    reflect-pad every patch up to one, spending steps on mirrored borders it never meets inside an image."""
    if patch_size % window_size == 0:
        return
    above = patch_size - patch_size % window_size + window_size
    raise ValueError(
        f"data.patch_size {patch_size} is not a multiple of the model's window_size {window_size} (each patch would "
        f"be reflect-padded to {above} inside the model): use {multiples_near(patch_size, window_size)}"
    )


def multiples_near(value: int, step: int) -> str:
    """The multiples of `step` either side of `value` (a setting that must be one), for a message: "8 or 16", or
    only the one above where none below is positive."""
    below = value - value % step
    return f"{below} or {below + step}" if below else str(below + step)

"""Checks before the first step: the output folder, Hub access, resumability, the launch's parallelism. (Whether
the training images decode: `images.check_readable`; stopping on a signal: `signals`.)"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError

from ..checkpoints.run_folder import (
    CHECKPOINTS,
    MODEL,
    PROGRESS,
    SUMMARY,
    checkpoint_step,
    list_checkpoints,
    resolve_resume,
    unfinished_saves,
)
from ..image_datasets import source_location
from ..inference.atomic_writes import left_by_killed_write
from ..models.modeling_swinir import REMOTE_CODE_FIELDS, SwinIRForImageRestoration

if TYPE_CHECKING:
    from .config import TrainingConfig
    from .sections import GanArgs

logger = logging.getLogger("swinir_hf.train")
# What torch, safetensors, pickle and json raise for a checkpoint file that is truncated, missing or not theirs.
UNREADABLE_CHECKPOINT = (OSError, RuntimeError, EOFError, ValueError, KeyError, pickle.UnpicklingError, SafetensorError)


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


def check_output_dir(out: Path, resume: str | None, overwrite: bool) -> Path | None:
    """The checkpoint to resume (None: start at step 0). Starting at step 0 in a folder that holds anything but an
    unstarted run's leftovers needs `overwrite`, also with `--resume latest` finding no checkpoint there: the run
    would replace the folder's model files at its end. So does resuming where the folder holds work of another
    lineage (`superseded_work`). `out` is not a file, nor under one: `check_output_folder`. Its path must be valid
    UTF-8: the model card, the logs and the config quote it (one that is not failed at the first checkpoint)."""
    try:
        str(out.absolute()).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"train.output_dir {str(out)!r}: its path is not valid UTF-8; choose another") from None
    resume_from = resolve_resume(resume, out) if resume else None
    if resume_from is None and not overwrite and not _fresh(out):
        if resume:
            raise FileExistsError(
                f"{out} holds no checkpoint to resume (checkpoints/step-*) but is not empty: pass --overwrite to start "
                "a new run in it, or choose another train.output_dir"
            )
        raise FileExistsError(f"{out} is not empty: pass --resume latest to continue it or --overwrite to reuse it")
    if resume_from is not None and not overwrite and (superseded := superseded_work(out, resume_from)):
        if not _in_run(out, resume_from):
            raise FileExistsError(
                f"{out} holds another run: resuming {resume_from} into it would mix the two runs' checkpoints and "
                "models. Choose an empty train.output_dir, or pass --overwrite to replace what it holds"
            )
        later = ", ".join(p.name for p in superseded if p.parent.name == CHECKPOINTS)
        raise FileExistsError(
            f"{out} has checkpoints after {resume_from.name} ({later}): continuing from {resume_from.name} would mix "
            "them with the new ones (the newest are kept). Pass --overwrite to delete them and go on from "
            f"{resume_from.name}, or --resume latest"
        )
    return resume_from


def _in_run(out: Path, checkpoint: Path) -> bool:
    return checkpoint.resolve().parent == (out / CHECKPOINTS).resolve()


def superseded_work(out: Path, resume_from: Path | None) -> list[Path]:
    """What in the run folder `out` is not part of a run going on from `resume_from` (None: from step 0) and must
    go before it writes anything: checkpoints of another run, or of this run after
    `resume_from` (a rewind), which pruning would keep in place of the new ones and `--resume latest` would take;
    and then the final model and summary, which until the run's end would load, export and push as its own.
    Empty when going on from the newest checkpoint of `out`'s own run."""
    from ..checkpoints.folders import model_folder_files

    if resume_from is not None and _in_run(out, resume_from):
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


def check_resume_step(checkpoint: Path, max_steps: int) -> None:
    """Raise `ValueError` when `checkpoint` lacks a file every checkpoint has (accelerate would skip its random
    states without a word), its progress.json is unreadable, or it is past `max_steps`: the run would take no step
    and save the checkpoint's model as the final one, under a card saying "12 of 8 steps"."""
    names = {p.name for p in checkpoint.iterdir()}
    missing = [n for n in ("optimizer.bin", "random_states_0.pkl", PROGRESS) if n not in names]
    if not names & {"model.safetensors", "pytorch_model.bin"}:
        missing.insert(0, "model.safetensors")
    if missing:
        raise unreadable_checkpoint(checkpoint, FileNotFoundError(f"it has no {', '.join(missing)}"))
    try:
        step = int(json.loads((checkpoint / PROGRESS).read_text())["step"])
    except (*UNREADABLE_CHECKPOINT, TypeError) as err:
        raise unreadable_checkpoint(checkpoint, ValueError(f"its {PROGRESS} is unreadable ({err})")) from None
    if step > max_steps:
        raise ValueError(
            f"cannot resume from {checkpoint}: it is at step {step}, past train.max_steps {max_steps}. Raise "
            "train.max_steps, or resume an earlier checkpoint with --resume PATH --overwrite (which deletes the later "
            "ones)"
        )


def check_push_access(repo_id: str, output_dir: Path) -> str:
    """Raise `ValueError` (saying what to do: push `output_dir` later with `swinir-hf hub`) unless this machine can
    push the trained model to `repo_id`; returns `repo_id` with its namespace (the token's user for a bare name)."""
    from ..checkpoints.folders import check_push_access as check
    from ..checkpoints.folders import check_repo_id_given

    check_repo_id_given(repo_id)  # before the offline advice, whose command would name it
    return check(repo_id, push_later_command(repo_id, output_dir))


def push_later_command(repo_id: str, output_dir: Path) -> str:
    """The `swinir-hf hub ... --push` command (in backquotes) that pushes the run `output_dir` to `repo_id` as the
    trainer's `--push-to-hub` does, for when it cannot now; quoted, so that it is pasted into a shell as it is."""
    org, _, name = repo_id.rpartition("/")
    command = ["swinir-hf", "hub", str(output_dir), "-o", "hub_out", "--org", org or "YOUR_USER_NAME", "--name", name]
    return f"`{shlex.join([*command, '--push'])}`"


def check_run_resumable(checkpoint: Path, model: SwinIRForImageRestoration, cfg: TrainingConfig) -> None:
    """Raise `ValueError` unless this run (its `model` built, `cfg`) can go on from `checkpoint`: its step, model,
    training samples, GAN stage and EMA as the run that saved it had them."""
    check_resume_step(checkpoint, cfg.train.max_steps)
    check_resumable(checkpoint, model)
    check_samples_resumable(checkpoint, cfg)
    check_gan_resumable(checkpoint, cfg.gan)
    check_ema_resumable(checkpoint, cfg.train.ema_decay)


def check_resumable(checkpoint: Path, model: SwinIRForImageRestoration) -> None:
    """Raise `ValueError` when `checkpoint`'s model (its `model/` folder) has other parameters or shapes than
    `model`, i.e. the run's architecture was changed since: naming the config fields that differ."""
    from safetensors import safe_open

    weights = checkpoint / MODEL / "model.safetensors"
    if not weights.is_file():
        return  # a checkpoint of an older version: accelerate's own load reports a mismatch
    try:
        with safe_open(str(weights), framework="pt") as f:
            stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 (safe_open has no iter)
    except UNREADABLE_CHECKPOINT as err:
        raise unreadable_checkpoint(checkpoint, err) from err
    wanted = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if stored == wanted:
        return
    changed = []
    config_file = checkpoint / MODEL / "config.json"
    if config_file.is_file():
        # Both through the config class: config.json omits PretrainedConfig's generic attributes (id2label,
        # return_dict, ...), which to_dict() fills in, and they would all read as changes.
        old = type(model.config).from_dict(json.loads(config_file.read_text())).to_dict()
        new = model.config.to_dict()
        # Nor are the fields naming a folder's code (`model.save_pretrained` writes an auto_map) architecture.
        ignored = {"architectures", "transformers_version", "dtype", "torch_dtype", *REMOTE_CODE_FIELDS}
        keys = sorted((set(old) | set(new)) - ignored)
        changed = [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    differ = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
    raise ValueError(
        f"cannot resume from {checkpoint}: its model has another architecture than this config ("
        + (f"changed: {', '.join(changed)}; " if changed else "")
        + f"{len(differ)} parameters differ, e.g. {', '.join(differ[:3])}). Resume with the settings the run was "
        "started with (its training_config.yaml), or train into a new train.output_dir"
    )


# The settings that make a run's training samples (each a pure function of the seed and its place in the stream):
# a resumed run that changed one would train on two streams that its card and training_config.yaml cannot tell apart.
SAMPLE_SETTINGS = (
    "train.seed",
    "train.batch_size",
    "data.train",
    "data.train_lr",
    "data.split",
    "data.patch_size",
    "data.degradation",
    "data.noise_sigma",
    "data.jpeg_quality",
    "data.flip",
)


def sample_settings(cfg: TrainingConfig) -> dict[str, Any]:
    """This run's `SAMPLE_SETTINGS` as JSON values (paths as given), which each checkpoint's progress.json keeps."""
    sections = {"train": cfg.train, "data": cfg.data}
    values = {name: getattr(sections[name.split(".")[0]], name.split(".")[1]) for name in SAMPLE_SETTINGS}
    return json.loads(json.dumps(values))


def check_samples_resumable(checkpoint: Path, cfg: TrainingConfig) -> None:
    """Raise `ValueError` when this config draws other training samples than the run `checkpoint` was saved by
    (`SAMPLE_SETTINGS`; not checked for a checkpoint written before they were kept)."""
    saved = json.loads((checkpoint / PROGRESS).read_text()).get("samples")  # read by check_resume_step already
    now = sample_settings(cfg)
    changed = [
        f"{k}: {saved[k]!r} → {now[k]!r}"
        for k in SAMPLE_SETTINGS
        if saved and _resolved(saved.get(k, now[k])) != _resolved(now[k])
    ]
    if changed:
        raise ValueError(
            f"cannot resume from {checkpoint}: this config draws other training samples (changed: "
            f"{', '.join(changed)}). Resume with the settings the run was started with (its training_config.yaml), "
            f"or start from its model with --init-from {checkpoint / MODEL} and a new train.output_dir"
        )


def _resolved(value: Any) -> Any:
    """A setting to compare: folders (`data.train` entries) by where they are, not as written."""
    if isinstance(value, list):
        return [source_location(v) if isinstance(v, str) else v for v in value]
    return value


def check_same_images(checkpoint: Path, now: dict[str, Any]) -> None:
    """Raise `ValueError` when the run `checkpoint` was saved by sampled other images than this one's (`now`, their
    `items_fingerprint`), by name and size: its folders, written alike, may hold others (read from another folder)."""
    saved = json.loads((checkpoint / PROGRESS).read_text()).get("samples", {})
    if "images" in saved and saved["images"] != now:
        then = saved["images"]["count"]
        how = f"{then} then, {now['count']} now" if then != now["count"] else f"{then}, of other names or sizes"
        raise ValueError(
            f"cannot resume from {checkpoint}: data.train holds other images than the run was started with ({how}). "
            f"Resume where its images are, or start from its model with --init-from {checkpoint / MODEL} and a new "
            "train.output_dir"
        )


def check_gan_resumable(checkpoint: Path, gan: GanArgs) -> None:
    """Raise `ValueError` when `checkpoint` and this config disagree on the GAN stage: whether it holds a
    discriminator (accelerate's second model, `model_1`) and, if so, its width. accelerate's own load would report
    a missing or mis-shaped file, which reads as a damaged checkpoint."""
    from safetensors import safe_open

    saved = sorted(checkpoint.glob("model_1.safetensors")) + sorted(checkpoint.glob("pytorch_model_1.bin"))
    keep = "Resume with the settings the run was started with (its training_config.yaml)"
    if gan.enabled and not saved:
        raise ValueError(
            f"cannot resume from {checkpoint}: it was saved without a discriminator (gan.enabled: false) and this "
            f"config trains a GAN. {keep}, or start the GAN stage from its model with --init-from "
            f"{checkpoint / 'model'} and a new train.output_dir"
        )
    if saved and not gan.enabled:
        raise ValueError(
            f"cannot resume from {checkpoint}: it was saved by a GAN run (gan.enabled: true) and this config trains "
            f"without one. {keep}, or start from its model with --init-from {checkpoint / 'model'} and a new "
            "train.output_dir"
        )
    if not saved or saved[0].suffix != ".safetensors":
        return
    try:
        with safe_open(str(saved[0]), framework="pt") as f:
            width = f.get_slice("conv_in.weight").get_shape()[0]
    except UNREADABLE_CHECKPOINT as err:
        raise unreadable_checkpoint(checkpoint, err) from err
    if width != gan.discriminator_channels:
        raise ValueError(
            f"cannot resume from {checkpoint}: its discriminator has another architecture than this config "
            f"(changed: gan.discriminator_channels: {width} → {gan.discriminator_channels}). {keep}, or train into "
            "a new train.output_dir"
        )


def check_ema_resumable(checkpoint: Path, ema_decay: float) -> None:
    """Raise `ValueError` when `checkpoint` and this config disagree on keeping a weight EMA: accelerate's own load
    would report a count of custom states, which reads as a damaged checkpoint. (Its custom states are the LR
    schedule and, with EMA, the EMA model.)"""
    saved = len(list(checkpoint.glob("custom_checkpoint_*.pkl"))) > 1
    if saved == bool(ema_decay):
        return
    how = "with a weight EMA (train.ema_decay > 0)" if saved else "without a weight EMA (train.ema_decay: 0)"
    raise ValueError(
        f"cannot resume from {checkpoint}: it was saved {how} and this config has train.ema_decay: {ema_decay}. "
        "Resume with the settings the run was started with (its training_config.yaml), or start from its model with "
        f"--init-from {checkpoint / MODEL} and a new train.output_dir"
    )


def check_plain_states(checkpoint: Path) -> None:
    """Raise `ValueError` unless the custom states of `checkpoint` (`custom_checkpoint_N.pkl`: the LR schedule and
    the EMA model, which accelerate's `load_state` unpickles in full, with `weights_only=False`) hold plain data
    only: tensors, numbers, strings, lists and dicts. Anything else in a pickle can run code when loaded."""
    from accelerate.utils import load

    from ..checkpoints.convert import refused_global

    for path in sorted(checkpoint.glob("custom_checkpoint_*.pkl")):
        try:
            load(path, map_location="cpu")  # weights_only=True, with the globals accelerate itself saves
        except pickle.UnpicklingError as err:
            held = f" ({found})" if (found := refused_global(err)) else ""
            raise ValueError(
                f"cannot resume from {checkpoint}: {path.name} holds Python objects other than a training "
                f"state{held}, and loading it could run code. Resume from a checkpoint this package wrote, or "
                "start afresh with --overwrite"
            ) from None


def unreadable_checkpoint(checkpoint: Path, err: Exception) -> ValueError:
    """The one-line error for a checkpoint whose files fail to load (`err`, one of `UNREADABLE_CHECKPOINT`)."""
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0].rstrip(".")
    return ValueError(
        f"cannot resume from {checkpoint}: {reason}. If its files are damaged, delete it and resume again (--resume "
        "latest takes the newest one left), or resume an earlier one with --resume PATH --overwrite"
    )

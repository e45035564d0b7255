"""Whether a run can go on from a checkpoint: its files, step, model, GAN stage, EMA and recipe (its training
samples, starting weights, loss, ...: `recipe`) as the run that saved it had them; each refusal says why and what to
do instead."""

from __future__ import annotations

import json
import logging
import pickle
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError

from ..checkpoints.run_folder import MODEL, PROGRESS
from ..console import shown_name, some_names
from ..models.code_files_swinir import REMOTE_CODE_FIELDS
from ..models.modeling_swinir import SwinIRForImageRestoration
from ..processes import is_main_process
from .recipe import (
    LOCATED_SETTINGS,
    SAMPLE_SETTINGS,
    CheckpointRecord,
    checkpoint_record,
    recipe_changes,
    run_config_file,
    sample_settings,
    setting_change,
    start,
)

if TYPE_CHECKING:
    from .config import TrainingConfig
    from .sections import GanArgs

logger = logging.getLogger("swinir_hf.train")

# What torch, safetensors, pickle and json raise for a checkpoint file that is truncated, missing or not theirs.
UNREADABLE_CHECKPOINT = (OSError, RuntimeError, EOFError, ValueError, KeyError, pickle.UnpicklingError, SafetensorError)


# How a refused resume goes on as the run did, and otherwise (`{model}`: the checkpoint's model folder).
KEEP_SETTINGS = "Resume with the settings the run was started with (its training_config.yaml)"
FROM_ITS_MODEL = "start from its model with --init-from {model} and a new train.output_dir"
# A GAN run's: its discriminator goes on too (else the new run's would start untrained).
FROM_ITS_GAN = (
    "start from its model and discriminator with --init-from {model} --init-discriminator-from {checkpoint} and a "
    "new train.output_dir"
)
NEW_FOLDER = "train into a new train.output_dir"


def cannot_resume(checkpoint: Path, reason: str, keep: str = KEEP_SETTINGS, instead: str = FROM_ITS_MODEL) -> str:
    """The one-line refusal of a resume from `checkpoint`: `cannot resume from CHECKPOINT: REASON. KEEP, or INSTEAD`,
    why (`reason`), how to resume it (`keep`) and what to do otherwise (`instead`; `{model}` in it is its model
    folder, `{checkpoint}` the checkpoint)."""
    other = instead.format(model=shown_name(checkpoint / MODEL), checkpoint=shown_name(checkpoint))
    return f"cannot resume from {shown_name(checkpoint)}: {reason}. {keep}, or {other}"


def read_checkpoint(checkpoint: Path, cfg: TrainingConfig) -> CheckpointRecord:
    """What `checkpoint` records of its run (`CheckpointRecord`: its progress.json, read here once for the resume).
    Raise `ValueError` when it lacks a file every checkpoint has (accelerate would skip its random states without a
    word) or its progress.json is unreadable."""
    names = {p.name for p in checkpoint.iterdir()}
    missing = [n for n in ("optimizer.bin", "random_states_0.pkl", PROGRESS) if n not in names]
    if not names & {"model.safetensors", "pytorch_model.bin"}:
        missing.insert(0, "model.safetensors")
    if missing:
        raise unreadable_checkpoint(checkpoint, FileNotFoundError(f"it has no {', '.join(missing)}"))
    try:
        progress = json.loads((checkpoint / PROGRESS).read_text())
        int(progress["step"])
    except (*UNREADABLE_CHECKPOINT, TypeError) as err:
        raise unreadable_checkpoint(checkpoint, ValueError(f"its {PROGRESS} is unreadable ({err})")) from None
    return checkpoint_record(checkpoint, progress, cfg)


def check_resume_step(record: CheckpointRecord, max_steps: int) -> None:
    """Raise `ValueError` when the checkpoint of `record` is past `max_steps`: the run would take no step and save
    the checkpoint's model as the final one, under a card saying "12 of 8 steps"."""
    if record.step > max_steps:
        reason = f"it is at step {record.step}, past train.max_steps {max_steps}"
        later = "resume an earlier checkpoint with --resume PATH --overwrite (which deletes the later ones)"
        raise ValueError(cannot_resume(record.checkpoint, reason, "Raise train.max_steps", later))


def check_resume_start(checkpoint: Path, cfg: TrainingConfig) -> CheckpointRecord:
    """What `checkpoint` records of its run (`read_checkpoint`), once checked: raise `ValueError` unless it is whole,
    not past `train.max_steps`, and saved by a run that started from the weights this config starts from: before the
    model is built (its starting weights loaded)."""
    record = read_checkpoint(checkpoint, cfg)
    check_resume_step(record, cfg.train.max_steps)
    warn_unrecorded(record)
    check_start_resumable(record, cfg)
    return record


def check_run_resumable(record: CheckpointRecord, model: SwinIRForImageRestoration, cfg: TrainingConfig) -> None:
    """Raise `ValueError` unless this run (its `model` built, `cfg`) can go on from the checkpoint of `record`
    (`check_resume_start` passed): its model, GAN stage, EMA and recipe as the run that saved it had them."""
    check_resumable(record.checkpoint, model)
    check_gan_resumable(record.checkpoint, cfg.gan)
    check_ema_resumable(record.checkpoint, cfg.train.ema_decay)
    check_recipe_resumable(record, cfg, model)


def warn_unrecorded(record: CheckpointRecord) -> None:
    """Warn, once (from the main process), where neither the checkpoint of `record` (written by an earlier swinir-hf)
    nor its run folder (a checkpoint moved out of it) records the config the run trained with: this one cannot be
    checked."""
    if record.config is not None or not is_main_process():
        return
    saved = record.progress
    kept = [what for key, what in (("samples", "training samples"), ("start", "starting weights")) if key in saved]
    logger.warning(
        f"{shown_name(record.checkpoint)} keeps no record of the config its run trained with (an earlier swinir-hf "
        "wrote it), and there is no training_config.yaml in its run folder: whether this config trains as the run did "
        "cannot be checked"
        + (f" (only its {' and '.join(kept)} are)" if kept else "")
        + ". Resume it with the settings the run was started with"
    )


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
    changed = model_config_changes(checkpoint, model) or []
    differ = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
    listed = f"changed: {', '.join(changed)}; " if changed else ""
    how = f"{listed}{len(differ)} parameters differ, e.g. {', '.join(differ[:3])}"
    raise ValueError(
        cannot_resume(checkpoint, f"its model has another architecture than this config ({how})", instead=NEW_FOLDER)
    )


def model_config_changes(checkpoint: Path, model: SwinIRForImageRestoration) -> list[str] | None:
    """The fields of `model`'s config that differ from `checkpoint`'s model's (its `model/config.json`), as messages
    say them; None where it has none."""
    config_file = checkpoint / MODEL / "config.json"
    if not config_file.is_file():
        return None
    # Both through the config class: config.json omits PretrainedConfig's generic attributes (id2label,
    # return_dict, ...), which to_dict() fills in, and they would all read as changes.
    old = type(model.config).from_dict(json.loads(config_file.read_text())).to_dict()
    new = model.config.to_dict()
    # Nor are the fields naming a folder's code (`model.save_pretrained` writes an auto_map) the model's.
    ignored = {"architectures", "transformers_version", "dtype", "torch_dtype", *REMOTE_CODE_FIELDS}
    if "charbonnier" not in (old["loss"], new["loss"]):  # only its loss reads the ε, which an L1 run once took
        ignored.add("charbonnier_eps")
    keys = sorted((set(old) | set(new)) - ignored)
    return [f"{k}: {old.get(k)!r} → {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]


def check_recipe_resumable(record: CheckpointRecord, cfg: TrainingConfig, model: SwinIRForImageRestoration) -> None:
    """Raise `ValueError` when this config (its `model` built) trains otherwise than the run that saved the checkpoint
    of `record`: draws other training samples (`SAMPLE_SETTINGS`, by the checkpoint's record of them, else by its
    recorded config) or changes a setting that a resume may not change (`recipe_changes`; the model's settings
    compared as its config resolves them, where the checkpoint's model has one). Not checked where nothing is
    recorded (`warn_unrecorded`)."""
    checkpoint, recorded = record.checkpoint, record.config
    saved = record.progress.get("samples") or (sample_settings(recorded) if recorded is not None else None)
    now = sample_settings(cfg)
    # Folders whose images the checkpoint lists are compared by those (`check_same_images`): moved, they are the same.
    keys = [k for k in SAMPLE_SETTINGS if not (saved and "images" in saved and k in LOCATED_SETTINGS)]
    drawn = [change for k in keys if saved and (change := setting_change(saved, now, k))]
    same_model = model_config_changes(checkpoint, model) == []
    # A GAN run's checkpoint holds a discriminator (`check_gan_resumable` passed), which a new run can start from.
    instead = FROM_ITS_GAN if cfg.gan.enabled else FROM_ITS_MODEL
    changed = [*drawn, *(recipe_changes(recorded, cfg, same_model) if recorded is not None else [])]
    if changed != drawn:
        own = run_config_file(checkpoint)
        keep = (
            "A resume may change how long the run trains, its learning-rate schedule and how its steps run, validate, "
            "checkpoint and log, not what it trains: resume with the run's own settings "
            + (f"(--config {shown_name(own)})" if own else "(its training_config.yaml)")
        )
        reason = f"this config trains otherwise than the run did (changed: {', '.join(changed)})"
        raise ValueError(cannot_resume(checkpoint, reason, keep, instead))
    if drawn:
        reason = f"this config draws other training samples (changed: {', '.join(drawn)})"
        per_device = any(change.startswith("train.batch_size:") for change in drawn)
        raise ValueError(cannot_resume(checkpoint, reason, instead=instead) + (_PER_DEVICE if per_device else ""))


# A Trainer user's per_device_train_batch_size is not train.batch_size: the total, which draws the samples.
_PER_DEVICE = (
    ". (train.batch_size is the samples per optimizer step over all processes: to put fewer on each device, raise "
    "train.gradient_accumulation_steps instead, which a resume may change)"
)


def check_start_resumable(record: CheckpointRecord, cfg: TrainingConfig) -> None:
    """Raise `ValueError` when this config starts from other weights (`model.init_from`, and a GAN run's
    discriminator: `check_discriminator_start_resumable`) than the run that saved the checkpoint of `record`
    (`record.start`): its card would name them. A config that names none goes on from the
    run's, and so does one that names them as the run did, or where they were."""
    checkpoint, saved, now = record.checkpoint, record.start, start(cfg)
    check_discriminator_start_resumable(record, now)
    # Named alike, they are the run's: a folder gone since (or another machine's) cannot be told apart from them.
    if saved is None or not now["init_from"] or now["init_from"] == saved["init_from"]:
        return
    if now["located"] != saved["located"]:
        reason = (
            f"the run started from model.init_from {shown_name(saved['init_from'] or 'null')}, this config from "
            f"{shown_name(now['init_from'])}"
        )
        raise ValueError(cannot_resume(checkpoint, reason))


def check_discriminator_start_resumable(record: CheckpointRecord, now: dict[str, Any]) -> None:
    """Raise `ValueError` when this config's start (`now`, `recipe.start`) names another discriminator
    (`gan.init_discriminator_from`) than the run that saved the checkpoint of `record` started from (or one where
    it started untrained); one that names none goes on from the run's, as `model.init_from`."""
    saved, ours = (record.start or {}).get("discriminator"), now.get("discriminator")
    if record.start is None or ours is None or (saved and ours["init_from"] == saved["init_from"]):
        return
    if saved is None or ours["located"] != saved["located"]:
        theirs = shown_name(saved["init_from"]) if saved else "none (untrained)"
        reason = (
            f"the run started its discriminator from gan.init_discriminator_from {theirs}, this config from "
            f"{shown_name(ours['init_from'])}"
        )
        raise ValueError(cannot_resume(record.checkpoint, reason))


def check_same_images(record: CheckpointRecord, now: dict[str, Any], cfg: TrainingConfig) -> list[str]:
    """The training images' changes since the run that saved the checkpoint of `record` listed them, against this
    run's (`now`, their `items_fingerprint`; `cfg`), as `Progress.changes` notes: its folders moved (another disk or
    machine: the same images, by name and size) and files of the same names and order whose size changed (a damaged
    image replaced by a good copy), which change only the samples drawn from them. Raise `ValueError` where images
    were added, removed or renamed (or its folders, written alike, hold others: read from another folder): an epoch
    draws a permutation of all of them, so every later sample would be another."""
    samples = record.progress.get("samples", {})
    checkpoint, saved = record.checkpoint, samples.get("images")
    if saved is None:
        return []
    moved = [change for k in LOCATED_SETTINGS if (change := setting_change(samples, sample_settings(cfg), k))]
    if (saved["count"], saved["sha256"]) == (now["count"], now["sha256"]):
        return moved
    then, files = saved.get("files"), now.get("files")  # unlisted: before they were, or too many
    paired = cfg.data.degradation == "paired"
    if then is not None and files is not None and [name for name, _ in then] == [name for name, _ in files]:
        return moved + [
            f"{field} file {shown_name(a[0])}: {_bytes(a[1])} → {_bytes(b[1])}"
            for (field, old), (_, new) in zip(_by_field(then, paired), _by_field(files, paired), strict=True)
            for a, b in zip(old, new, strict=True)
            if a != b
        ]
    keep = (
        "Each epoch draws a permutation of all of them, so every sample after the checkpoint would differ from the "
        "run's: resume with the files it was started with (put them back, move the new ones out; a file of the same "
        "name may be a new copy)"
    )
    raise ValueError(cannot_resume(checkpoint, _other_images(saved, now, paired), keep))


def _by_field(listing: list, paired: bool) -> list[tuple[str, list]]:
    """A listing of the training images (`items_fingerprint`'s) by the setting that names them: in paired data the
    HR images (data.train), then as many LR ones (data.train_lr)."""
    half = len(listing) // 2 if paired else len(listing)
    return [("data.train", listing[:half]), *([("data.train_lr", listing[half:])] if paired else [])]


def _other_images(saved: dict[str, Any], now: dict[str, Any], paired: bool) -> str:
    """How the images `now` differ from those `saved` (their `items_fingerprint`s), by the settings naming them: the
    counts (of pairs in paired data) and, where both are listed, the names added and gone."""
    then, files = saved.get("files"), now.get("files")
    if then is None or files is None:  # the digest of the listing alone
        field = "data.train and data.train_lr hold" if paired else "data.train holds"
        a, b = (saved["count"] // 2, now["count"] // 2) if paired else (saved["count"], now["count"])
        how = f"{a} then, {b} now" if a != b else f"{a}, of other names or sizes"
        return f"{field} other images than the run was started with ({how})"
    said = []
    for (field, old), (_, new) in zip(_by_field(then, paired), _by_field(files, paired), strict=True):
        before, after = [name for name, _ in old], [name for name, _ in new]
        if before == after:  # the same files (a size changed is no other image)
            continue
        how = f"{len(old)} then, {len(new)} now" if len(old) != len(new) else f"{len(new)}"
        names, earlier = Counter(after), Counter(before)
        diffs = (("added", names - earlier), ("gone", earlier - names))
        named = [f"{what}: {some_names(sorted(diff.elements()))}" for what, diff in diffs if diff]
        how += "; " + "; ".join(named) if named else ", in another order"
        said.append(f"{field} holds other images than the run was started with ({how})")
    return "; ".join(said)


def _bytes(size: int) -> str:
    return f"{size:,} bytes" if size >= 0 else "unreadable"


def check_gan_resumable(checkpoint: Path, gan: GanArgs) -> None:
    """Raise `ValueError` when `checkpoint` and this config disagree on the GAN stage: whether it holds a
    discriminator (accelerate's second model, `model_1`) and, if so, its width. accelerate's own load would report
    a missing or mis-shaped file, which reads as a damaged checkpoint."""
    from safetensors import safe_open

    saved = sorted(checkpoint.glob("model_1.safetensors")) + sorted(checkpoint.glob("pytorch_model_1.bin"))
    if gan.enabled and not saved:
        reason = "it was saved without a discriminator (gan.enabled: false) and this config trains a GAN"
        raise ValueError(
            cannot_resume(checkpoint, reason, instead=f"start the GAN stage {FROM_ITS_MODEL.removeprefix('start ')}")
        )
    if saved and not gan.enabled:
        reason = "it was saved by a GAN run (gan.enabled: true) and this config trains without one"
        raise ValueError(cannot_resume(checkpoint, reason))
    if not saved or saved[0].suffix != ".safetensors":
        return
    try:
        with safe_open(str(saved[0]), framework="pt") as f:
            width = f.get_slice("conv_in.weight").get_shape()[0]
    except UNREADABLE_CHECKPOINT as err:
        raise unreadable_checkpoint(checkpoint, err) from err
    if width != gan.discriminator_channels:
        changed = f"gan.discriminator_channels: {width} → {gan.discriminator_channels}"
        reason = f"its discriminator has another architecture than this config (changed: {changed})"
        raise ValueError(cannot_resume(checkpoint, reason, instead=NEW_FOLDER))


def check_ema_resumable(checkpoint: Path, ema_decay: float) -> None:
    """Raise `ValueError` when `checkpoint` and this config disagree on keeping a weight EMA: accelerate's own load
    would report a count of custom states, which reads as a damaged checkpoint. (Its custom states are the LR
    schedule and, with EMA, the EMA model.)"""
    saved = len(list(checkpoint.glob("custom_checkpoint_*.pkl"))) > 1
    if saved == bool(ema_decay):
        return
    how = "with a weight EMA (train.ema_decay > 0)" if saved else "without a weight EMA (train.ema_decay: 0)"
    raise ValueError(cannot_resume(checkpoint, f"it was saved {how} and this config has train.ema_decay: {ema_decay}"))


def check_plain_states(checkpoint: Path) -> None:
    """Raise `ValueError` unless the custom states of `checkpoint` (`custom_checkpoint_N.pkl`: the LR schedule and
    the EMA model, which accelerate's `load_state` unpickles in full, with `weights_only=False`) hold plain data
    only: tensors, numbers, strings, lists and dicts. Anything else in a pickle can run code when loaded."""
    from accelerate.utils import load

    from ..checkpoints.checkpoint_files import refused_global

    for path in sorted(checkpoint.glob("custom_checkpoint_*.pkl")):
        try:
            load(path, map_location="cpu")  # weights_only=True, with the globals accelerate itself saves
        except pickle.UnpicklingError as err:
            held = f" ({found})" if (found := refused_global(err)) else ""
            reason = f"{shown_name(path.name)} holds Python objects other than a training state{held}"
            keep, instead = "Resume from a checkpoint this package wrote", "start afresh with --overwrite"
            refusal = cannot_resume(checkpoint, f"{reason}, and loading it could run code", keep, instead)
            raise ValueError(refusal) from None


def unreadable_checkpoint(checkpoint: Path, err: Exception) -> ValueError:
    """The one-line error for a checkpoint whose files fail to load (`err`, one of `UNREADABLE_CHECKPOINT`)."""
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0].rstrip(".")
    keep = "If its files are damaged, delete it and resume again (--resume latest takes the newest one left)"
    return ValueError(cannot_resume(checkpoint, reason, keep, "resume an earlier one with --resume PATH --overwrite"))

"""Whether a run can go on from a checkpoint: its files, step, model, training samples, GAN stage and EMA as the run
that saved it had them; each refusal says why and what to do instead."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError

from ..checkpoints.run_folder import MODEL, PROGRESS
from ..image_datasets import source_location
from ..models.loading_swinir import REMOTE_CODE_FIELDS
from ..models.modeling_swinir import SwinIRForImageRestoration

if TYPE_CHECKING:
    from .config import TrainingConfig
    from .sections import GanArgs

# What torch, safetensors, pickle and json raise for a checkpoint file that is truncated, missing or not theirs.
UNREADABLE_CHECKPOINT = (OSError, RuntimeError, EOFError, ValueError, KeyError, pickle.UnpicklingError, SafetensorError)


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


def check_resume_start(checkpoint: Path, cfg: TrainingConfig) -> None:
    """Raise `ValueError` unless `checkpoint` is whole, not past `train.max_steps`, and saved by a run that started
    from the weights this config starts from: before the model is built (its starting weights loaded)."""
    check_resume_step(checkpoint, cfg.train.max_steps)
    check_start_resumable(checkpoint, cfg)


def check_run_resumable(checkpoint: Path, model: SwinIRForImageRestoration, cfg: TrainingConfig) -> None:
    """Raise `ValueError` unless this run (its `model` built, `cfg`) can go on from `checkpoint` (`check_resume_start`
    passed): its model, training samples, GAN stage and EMA as the run that saved it had them."""
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


# The settings that name folders: compared by where the folders are, which each checkpoint keeps too (`located`).
LOCATED_SETTINGS = ("data.train", "data.train_lr")


def sample_settings(cfg: TrainingConfig) -> dict[str, Any]:
    """This run's `SAMPLE_SETTINGS` as JSON values (paths as given), which each checkpoint's progress.json keeps, and
    where its folders are (`located`): a run resumed from another working folder names them otherwise."""
    sections = {"train": cfg.train, "data": cfg.data}
    values = {name: getattr(sections[name.split(".")[0]], name.split(".")[1]) for name in SAMPLE_SETTINGS}
    values["located"] = {name: _resolved(values[name]) for name in LOCATED_SETTINGS}
    return json.loads(json.dumps(values))


def check_samples_resumable(checkpoint: Path, cfg: TrainingConfig) -> None:
    """Raise `ValueError` when this config draws other training samples than the run `checkpoint` was saved by
    (`SAMPLE_SETTINGS`; not checked for a checkpoint written before they were kept)."""
    saved = json.loads((checkpoint / PROGRESS).read_text()).get("samples")  # read by check_resume_step already
    now = sample_settings(cfg)
    changed = [change for k in SAMPLE_SETTINGS if saved and (change := _change(saved, now, k))]
    if changed:
        raise ValueError(
            f"cannot resume from {checkpoint}: this config draws other training samples (changed: "
            f"{', '.join(changed)}). Resume with the settings the run was started with (its training_config.yaml), "
            f"or start from its model with --init-from {checkpoint / MODEL} and a new train.output_dir"
        )


def start(cfg: TrainingConfig) -> dict[str, Any]:
    """The weights the run started from (`model.init_from`, as given and where it is), which each checkpoint's
    progress.json keeps: the card of a resumed run names them, not the resumed command's."""
    return {"init_from": cfg.model.init_from, "located": _resolved(cfg.model.init_from)}


def check_start_resumable(checkpoint: Path, cfg: TrainingConfig) -> None:
    """Raise `ValueError` when this config starts from other weights (`model.init_from`) than the run `checkpoint`
    was saved by (not checked for a checkpoint written before they were kept): its card would name them."""
    saved = json.loads((checkpoint / PROGRESS).read_text()).get("start")
    now = start(cfg)
    if saved is not None and saved["located"] != now["located"]:
        raise ValueError(
            f"cannot resume from {checkpoint}: the run started from model.init_from {saved['init_from'] or 'null'}, "
            f"this config from {now['init_from'] or 'null'}. Resume with the settings the run was started with (its "
            f"training_config.yaml), or start from its model with --init-from {checkpoint / MODEL} and a new "
            "train.output_dir"
        )


def _change(saved: dict[str, Any], now: dict[str, Any], name: str) -> str | None:
    """Setting `name`'s change between the checkpoint's `sample_settings` and this run's, as the message says it
    (folders written alike but elsewhere, from another working folder: by where they are); None if unchanged."""
    before, after = _compared(saved, name, now[name]), _compared(now, name, now[name])
    if before == after:
        return None
    if saved.get(name) != now[name]:
        before, after = saved.get(name), now[name]
    return f"{name}: {before!r} → {after!r}"


def _compared(settings: dict[str, Any], name: str, default: Any) -> Any:
    """Setting `name` of `sample_settings` (`default` where a checkpoint lacks it) as compared: folders by where they
    were when saved (`located`; a checkpoint of an earlier swinir-hf: as written, from this working folder)."""
    if name not in LOCATED_SETTINGS:
        return settings.get(name, default)
    located = settings.get("located", {})
    return located[name] if name in located else _resolved(settings.get(name, default))


def _resolved(value: Any) -> Any:
    """A setting to compare: folders (`data.train` entries) by where they are, not as written."""
    if isinstance(value, list):
        return [source_location(v) if isinstance(v, str) else v for v in value]
    return source_location(value) if isinstance(value, str) else value


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

"""A GAN run's discriminator started from an earlier GAN run's (`gan.init_discriminator_from`, BasicSR's
`pretrain_network_d`): the weights of the newest checkpoint of a run folder, or of one checkpoint, loaded whole or
not at all. Its optimizer state is not taken (nor is it by BasicSR): the new run's Adam starts afresh, at its own
`gan.discriminator_lr` and schedule."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..checkpoints.run_folder import CHECKPOINTS, MODEL, is_checkpoint, list_checkpoints
from ..console import shown_name

if TYPE_CHECKING:
    from .gan import GanParts

# What accelerate's `save_state` names a run's second prepared model (the discriminator: `loop.prepare`).
DISCRIMINATOR_FILES = ("model_1.safetensors", "pytorch_model_1.bin")
OPTION = "gan.init_discriminator_from"
PASS = "pass a GAN run's folder or one of its checkpoints (RUN/checkpoints/step-N)"


def discriminator_checkpoint(source: str) -> Path:
    """The checkpoint whose discriminator `source` names: itself (a checkpoint folder) or the newest of a run folder.
    Raise `ValueError` (one line: what is wrong, what to pass) for anything else, or a checkpoint without one."""
    path = Path(source).expanduser()
    if not path.exists():
        raise ValueError(f"{OPTION} {shown_name(source)} does not exist: {PASS}")
    if path.name == MODEL and is_checkpoint(path.parent):  # what --init-from takes: the discriminator is beside it
        raise ValueError(
            f"{OPTION} {shown_name(source)} is a checkpoint's model (the generator): pass its checkpoint folder, "
            f"{shown_name(path.parent)}"
        )
    if not is_checkpoint(path):
        found = list_checkpoints(path) if (path / CHECKPOINTS).is_dir() else None
        if not found:
            what = "a run folder without checkpoints" if found is not None else "neither a run folder nor a checkpoint"
            raise ValueError(f"{OPTION} {shown_name(source)} is {what}: {PASS}")
        path = found[-1]
    if not any((path / name).is_file() for name in DISCRIMINATOR_FILES):
        raise ValueError(
            f"{OPTION} {shown_name(path)} holds no discriminator (its run trained without a GAN, gan.enabled false): "
            f"{PASS}, or drop {OPTION} to start the discriminator untrained"
        )
    return path


def load_discriminator(disc: nn.Module, source: str) -> Path:
    """Load the discriminator of `source` (`discriminator_checkpoint`) into `disc`, strictly, and return the
    checkpoint it came from. Raise `ValueError` (one line) where its tensors' names or shapes differ from `disc`'s:
    a discriminator half loaded would train from a mixture of the two."""
    checkpoint = discriminator_checkpoint(source)
    state = _read(checkpoint)
    own = disc.state_dict()
    missing, unexpected = sorted(own.keys() - state.keys()), sorted(state.keys() - own.keys())
    shapes = [k for k in sorted(own.keys() & state.keys()) if own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        raise ValueError(f"{OPTION} {shown_name(checkpoint)}: {_mismatch(own, state, missing, unexpected, shapes)}")
    disc.load_state_dict(state, strict=True)
    return checkpoint


def _read(checkpoint: Path) -> dict[str, torch.Tensor]:
    """The discriminator's state dict saved in `checkpoint` (read as an authors' file is: `load_state_dict_file`, a
    decompression bomb refused unread); `ValueError` (one line) where it is unreadable."""
    from ..checkpoints.checkpoint_files import CheckpointError, load_state_dict_file

    path = next(checkpoint / name for name in DISCRIMINATOR_FILES if (checkpoint / name).is_file())
    try:
        return load_state_dict_file(path)
    except CheckpointError as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"{OPTION}: {reason}: {PASS}") from None


def _mismatch(
    own: dict[str, torch.Tensor],
    state: dict[str, torch.Tensor],
    missing: list[str],
    unexpected: list[str],
    shapes: list[str],
) -> str:
    """Why `state` does not fit the discriminator `own`, and what to change: its width or image channels where those
    differ (`gan.discriminator_channels`, the model's channels), else the tensors."""
    ours, theirs = own["conv_in.weight"].shape, state.get("conv_in.weight", own["conv_in.weight"]).shape
    if ours[1] != theirs[1]:
        return (
            f"its discriminator takes {theirs[1]}-channel images, this run's model makes {ours[1]}-channel ones: "
            f"start from a GAN run of {ours[1]}-channel images, or drop {OPTION}"
        )
    if ours[0] != theirs[0]:
        return (
            f"its discriminator has {theirs[0]} channels (gan.discriminator_channels), this run's {ours[0]}: pass "
            f"--gan.discriminator_channels {theirs[0]}"
        )
    kinds = (("missing", missing), ("unexpected", unexpected), ("shapes differ", shapes))
    said = "; ".join(f"{what}: {', '.join(names[:3])}" for what, names in kinds if names)
    return f"not a discriminator of this swinir-hf's U-Net ({said}): {PASS}"


def start_discriminator(gan: GanParts | None, source: str | None, log: bool) -> Path | None:
    """Start the discriminator of a new GAN run's `gan` (None: no GAN) from `source` (`gan.init_discriminator_from`;
    None: untrained) and return the checkpoint it came from, logged where `log` (the main process). Not for a resumed
    run: its checkpoint holds its discriminator as trained so far."""
    if gan is None or not source:
        return None
    checkpoint = load_discriminator(gan.disc, source)
    if log:
        logging.getLogger("swinir_hf.train").info(f"discriminator initialised from {shown_name(checkpoint)}")
    return checkpoint

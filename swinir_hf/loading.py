"""Resolve a model spec (local folder, authors' checkpoint file, or Hub repo id) to a loaded model."""

from __future__ import annotations

import os
from pathlib import Path

from .convert import CheckpointError, convert_original_checkpoint
from .modeling_swinir import SwinIRForImageRestoration

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")


class ModelNotAvailableError(OSError):
    """A Hub model that cannot be fetched (offline, not cached, or no such repo)."""


def load_model(spec: str | os.PathLike, revision: str | None = None) -> SwinIRForImageRestoration:
    """Load a model from a `save_pretrained` folder, an authors' `.pth` / `.safetensors` file (converted on the
    fly) or a Hub repo id (`org/name`), in eval mode.

    Raises:
        CheckpointError: a local file that is not a SwinIR checkpoint.
        ModelNotAvailableError: a Hub id that cannot be downloaded here, with what to do about it.
    """
    path = Path(spec)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise CheckpointError(f"{path} is a folder without config.json: not a save_pretrained model folder")
        return SwinIRForImageRestoration.from_pretrained(path).eval()
    if path.is_file():
        return convert_original_checkpoint(path)
    if path.suffix in CHECKPOINT_SUFFIXES or os.sep in str(spec) and str(spec).count("/") != 1:
        raise CheckpointError(f"{spec} does not exist")
    return from_hub(str(spec), revision=revision)


def from_hub(repo_id: str, revision: str | None = None) -> SwinIRForImageRestoration:
    """`from_pretrained` on a Hub repo id, turning network / cache failures into one actionable message."""
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled, RepositoryNotFoundError

    try:
        return SwinIRForImageRestoration.from_pretrained(repo_id, revision=revision).eval()
    except RepositoryNotFoundError as err:
        raise ModelNotAvailableError(f"no model repository {repo_id!r} on the Hugging Face Hub") from err
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, OSError) as err:
        raise ModelNotAvailableError(
            f"model {repo_id!r} is not in the local Hugging Face cache and the Hub cannot be reached. "
            f"Either download it on a machine with internet access (`huggingface-cli download {repo_id}`) and copy "
            "the cache (~/.cache/huggingface/hub, or set HF_HOME) here, run with HF_HUB_OFFLINE=1 once it is cached, "
            "or pass a local folder / authors' .pth file instead of a repo id."
        ) from err

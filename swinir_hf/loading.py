"""Resolve a model spec (local folder, authors' checkpoint file, catalogue name or Hub repo id) to a loaded model."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .convert import CheckpointError, convert_original_checkpoint
from .modeling_swinir import SwinIRForImageRestoration

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")
# One quick look at the Hub before from_pretrained: unreachable, huggingface_hub would retry each file with
# backoff for ~45 s, logging every attempt, before giving up.
PROBE_TIMEOUT_S = 5.0


# The package's own checkpoints (trained with `swinir_hf.train` on ../shared/trainsets; see their model cards):
# `save_pretrained` folders shipped inside the package, so they work offline.
DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"
DEFAULT_MODELS = {
    "sr-x4": "x4 super-resolution (small SwinIR, bicubic degradation)",
    "sr-x2": "x2 super-resolution (small SwinIR, bicubic degradation)",
    "denoise-color": "blind colour denoising, Gaussian noise σ 0-50 (small SwinIR)",
}


class ModelNotAvailableError(OSError):
    """A Hub model that cannot be fetched (offline, not cached, or no such repo)."""


def load_default(name: str = "sr-x4") -> SwinIRForImageRestoration:
    """One of the bundled checkpoints (`DEFAULT_MODELS`), in eval mode, float32; no network needed."""
    if name not in DEFAULT_MODELS:
        raise ValueError(f"unknown bundled model {name!r}; choose one of {sorted(DEFAULT_MODELS)}")
    folder = DEFAULTS_DIR / name
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"bundled model {name!r} is missing from {folder}: reinstall swinir-hf")
    return SwinIRForImageRestoration.from_pretrained(folder, dtype=torch.float32).eval()


def resolve_spec(spec: str | os.PathLike) -> str | Path:
    """A local path (if it exists), else the folder of a bundled model (`sr-x4`), else the Hub repo id of a
    catalogue name (`swinir-classical-sr-x4-df2k`), else `spec` itself as a Hub repo id."""
    from .catalog import find_release

    path = Path(spec)
    if path.exists():
        return path
    text = str(spec)
    if text in DEFAULT_MODELS:
        return DEFAULTS_DIR / text
    if "/" not in text and (release := find_release(text)) is not None and release.repo == text:
        return release.repo_id()
    return text


def load_model(
    spec: str | os.PathLike, revision: str | None = None, cache_dir: str | os.PathLike | None = None
) -> SwinIRForImageRestoration:
    """Load a model, in eval mode, from a `save_pretrained` folder, an authors' `.pth` / `.safetensors` file
    (converted on the fly), a bundled model name (`sr-x4`, `sr-x2`, `denoise-color`), a catalogue name
    (`swinir-classical-sr-x4-df2k`, see `swinir_hf.catalog`) or a Hub repo id (`org/name`).

    Raises:
        CheckpointError: a local file that is not a SwinIR checkpoint, or a path that does not exist.
        ModelNotAvailableError: a Hub model that cannot be downloaded here, with what to do about it.
    """
    from .catalog import find_release

    resolved = resolve_spec(spec)
    if isinstance(resolved, Path):
        if resolved.is_dir():
            if not (resolved / "config.json").is_file():
                raise CheckpointError(f"{resolved} is a folder without config.json: not a save_pretrained folder")
            return SwinIRForImageRestoration.from_pretrained(resolved, dtype=torch.float32).eval()
        return convert_original_checkpoint(resolved)
    if Path(resolved).suffix in CHECKPOINT_SUFFIXES or os.sep in resolved and resolved.count("/") != 1:
        hint = ""
        if (release := find_release(Path(resolved).name)) is not None:
            hint = f"; the converted release loads with load_model({release.repo!r})"
        raise CheckpointError(f"{spec} does not exist{hint}")
    return from_hub(resolved, revision=revision, cache_dir=cache_dir)


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether one HEAD request to the Hub endpoint gets any answer within `timeout` seconds (no retries)."""
    import requests
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=timeout, allow_redirects=False)
    except requests.RequestException:
        return False
    return True


def from_hub(
    repo_id: str, revision: str | None = None, cache_dir: str | os.PathLike | None = None
) -> SwinIRForImageRestoration:
    """`from_pretrained` on a Hub repo id, turning network / cache failures into one actionable message.

    Offline (`HF_HUB_OFFLINE=1`) or with the Hub unreachable, only the local cache is used, without retries.
    """
    from huggingface_hub import constants
    from huggingface_hub.errors import RepositoryNotFoundError

    offline = constants.HF_HUB_OFFLINE or not hub_reachable()
    try:
        model = SwinIRForImageRestoration.from_pretrained(
            repo_id, revision=revision, cache_dir=cache_dir, local_files_only=offline
        )
    except RepositoryNotFoundError as err:
        raise ModelNotAvailableError(f"no model repository {repo_id!r} on the Hugging Face Hub") from err
    except OSError as err:
        why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "the Hub cannot be reached"
        if not offline:
            why = f"downloading it failed ({err})"
        raise ModelNotAvailableError(
            f"model {repo_id!r} is not in the local Hugging Face cache and {why}. Either download it on a machine "
            f"with internet access (`huggingface-cli download {repo_id}`) and copy the cache (~/.cache/huggingface/"
            "hub, or the folder HF_HOME / HF_HUB_CACHE points to) here, then run with HF_HUB_OFFLINE=1; or pass a "
            "local save_pretrained folder or the authors' .pth file instead of a repo id."
        ) from err
    return model.eval()

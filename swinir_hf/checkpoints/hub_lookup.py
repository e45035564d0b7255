"""What a spec is on the Hub, answered without torch and without the network: whether the Hub would take it as
a repo id, and whether a Hub model is in the local cache (`swinir-hf models` marks those; `swinir-hf eval --dataset
DIR/` tells a missing folder from a Hub dataset before loading anything)."""

from __future__ import annotations


def is_repo_id(spec: str) -> bool:
    """Whether the Hub accepts `spec` as a repo id (`NAME` or `OWNER/NAME`, huggingface_hub's rule): `./x`,
    `a/b/c`, `~/x`, `my model` or `x/` (a folder as shells complete it) are paths, never sent to the Hub."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(spec)
    except HFValidationError:
        return False
    return True


def hub_cached(repo_id: str) -> bool:
    """Whether a Hub model's config.json and model.safetensors are in the local cache (it loads offline)."""
    from huggingface_hub import try_to_load_from_cache

    return all(isinstance(try_to_load_from_cache(repo_id, name), str) for name in ("config.json", "model.safetensors"))

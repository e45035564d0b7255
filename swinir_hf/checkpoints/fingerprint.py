"""Which model made a result: a digest of a model's config and weights, for the records that must tell two models
apart when a name does not (two of one scale, one retrained in place): `eval --save-images`' manifest and
`restore --dataset`'s parts; and a short one of its weights alone, which `restore`'s outputs record."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models.modeling_swinir import SwinIRForImageRestoration

# The hex digits of `weights_fingerprint`: 64 bits, which no two versions of one model share by chance.
WEIGHTS_DIGITS = 16


def model_fingerprint(model: SwinIRForImageRestoration | None) -> str:
    """sha256 of the model's config and weights (names, dtypes, shapes and bytes); "identity" for None."""
    if model is None:
        return "identity"
    digest = hashlib.sha256(model.config.to_json_string(use_diff=False).encode())
    _add_weights(digest, model)
    return digest.hexdigest()


def weights_fingerprint(model: SwinIRForImageRestoration) -> str:
    """The first `WEIGHTS_DIGITS` hex digits of the sha256 of the model's weights (names, dtypes, shapes and bytes)
    as they are now: taken as loaded, before an engine casts them (`--dtype`), they are the same on any device. Not
    of its config, whose text changes with the transformers version that writes it."""
    digest = hashlib.sha256()
    _add_weights(digest, model)
    return digest.hexdigest()[:WEIGHTS_DIGITS]


def _add_weights(digest: Any, model: SwinIRForImageRestoration) -> None:
    """Feed `digest` (a hashlib object) the model's weights, in the order of their names."""
    import torch

    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy())  # any dtype, bfloat16 too

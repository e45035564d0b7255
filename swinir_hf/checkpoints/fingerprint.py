"""Which model made a result: a digest of a model's config and weights, for the records that must tell two models
apart when a name does not (two of one scale, one retrained in place): `eval --save-images`' manifest and
`restore --dataset`'s parts."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models.modeling_swinir import SwinIRForImageRestoration


def model_fingerprint(model: SwinIRForImageRestoration | None) -> str:
    """sha256 of the model's config and weights (names, dtypes, shapes and bytes); "identity" for None."""
    import torch

    if model is None:
        return "identity"
    digest = hashlib.sha256(model.config.to_json_string(use_diff=False).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy())  # any dtype, bfloat16 too
    return digest.hexdigest()

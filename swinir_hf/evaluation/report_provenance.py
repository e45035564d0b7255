"""What an evaluation's figures depend on beyond its options, for its JSON report: how the inputs were drawn (the
seeds), the device, the versions of what computed them, and each model's sha256 (config and weights)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..checkpoints.fingerprint import model_fingerprint
from ..degradations.setting import REAL_WORLD, Degradation
from ..models.modeling_swinir import SwinIRForImageRestoration

# The noise seed of the authors' test script (`np.random.seed(seed=0)`).
NOISE_SEED = 0
# Base seed of the real-world degradations' random draws (`real`, `real-esrgan`); each image draws from (REAL_SEED,
# a hash of its name), so the figures average over many draws of the pipeline and do not depend on which images are
# scored.
REAL_SEED = 0


def provenance(
    models: dict[str, SwinIRForImageRestoration | None], device: torch.device | None, degradation: Degradation
) -> dict[str, Any]:
    """The report's `device`, `versions`, `model_sha256` and, as the setting draws its inputs, `noise_seed`,
    `real_seed` and `jpeg_encoder`."""
    import PIL
    import skimage

    from .. import __version__

    drawn = {"noise_seed": NOISE_SEED} if degradation.kind == "noise" else {}
    if degradation.kind in REAL_WORLD:
        drawn["real_seed"] = REAL_SEED
    if degradation.kind in ("jpeg", *REAL_WORLD):  # the real-world pipelines compress with Pillow too
        drawn["jpeg_encoder"] = f"Pillow {PIL.__version__}"
    return {
        "device": None if device is None else "cpu" if device.type == "cpu" else str(device),  # a CPU's index: none
        "versions": {"swinir_hf": __version__, **{lib.__name__: lib.__version__ for lib in (torch, np, PIL, skimage)}},
        "model_sha256": {label: model_fingerprint(model) for label, model in models.items()},
        **drawn,
    }

"""The models a GPU lease trains (hub/gpu_lease.py): bundled name → gpu_* config, the warm starts between them,
and where the repository keeps the lease state.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATE = REPO / "hub" / "lease_state"  # the lean lease state, committed: each model's newest step
# Bundled model name → config, in the priority order.
MODELS = {
    "sr-x4": "gpu_sr_x4",
    "real-sr-x4": "gpu_real_sr_x4",
    "denoise-color": "gpu_color_dn",
    "jpeg-color": "gpu_color_jpeg",
    "sr-x2": "gpu_sr_x2",
}
# A model that has no checkpoint of its own starts from the newest EMA weights of the first of its sources that has
# some, a model whose body it shares (its head is re-initialised and, for JPEG's window 7, its relative-position
# biases fitted: the trainer's init report lists the tensors), as the authors start their x3 / x4 models from x2. On
# the CPU, x2 and colour JPEG from x4 reached in half the steps what they reached from scratch, colour JPEG from the
# colour denoiser did better still, and colour denoising from x4 scored 0.18 dB higher after 800 steps; real-world x4
# gained nothing (benchmarks/README.md, "Warm starts").
WARM_START = {"denoise-color": ("sr-x4",), "jpeg-color": ("denoise-color", "sr-x4"), "sr-x2": ("sr-x4",)}

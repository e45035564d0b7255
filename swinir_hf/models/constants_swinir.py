"""The model layer's plain values, without torch or transformers: the tasks (`TASK_TABLE`), the alpha modes
(`AlphaMode`), the default tile overlap (`TILE_OVERLAP`), the training losses (`LOSSES`) and how the package reads
its environment variables (`env_setting`). The command line offers them before any model loads (`swinir-hf restore
--help`, `swinir-hf models` and `python -m swinir_hf.train --help` answer without importing torch); the model
layer's other modules import them from here (shipped beside them as remote code, like them it imports nothing of
`swinir_hf`).
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

# How an upscaling model enlarges an image's alpha channel: through the model, as a grey image (edges as sharp as
# the colour's, as Real-ESRGAN does; one more forward pass), or bicubically (blurred by the scale, no model time).
AlphaMode = Literal["model", "bicubic"]
ALPHA_MODES: tuple[str, ...] = get_args(AlphaMode)
# Input pixels neighbouring tiles share by default (`swinir_hf.restore`'s and a Hub folder pipeline's `tile_overlap`,
# `tiling_swinir`): a few windows, so that each tile's padded edge is blended away.
TILE_OVERLAP = 32
# The training losses a config's `loss` names (`SwinIRForImageRestoration` computes them when given `labels`).
LOSSES = ("l1", "charbonnier")


@dataclass(frozen=True)
class Task:
    """One task of the paper: what it restores and what it is called (model cards, the catalogue, the demo).

    `restores` is the kind of input: "sr" (a clean, downscaled image), "real_sr" (a real photo), "dn" (a noisy
    image) or "jpeg" (a JPEG). `title` names it in prose, `card_name` in a card's model-index, `short` in the
    demo's model menu; `tags` are the Hub tags of its cards.
    """

    restores: str
    title: str
    card_name: str
    short: str
    tags: tuple[str, ...]


_SR, _DN, _JPEG = "Image Super-Resolution", "Image Denoising", "JPEG Artifact Reduction"
# The one table of tasks: a new task is a row here (and a preset in `presets_swinir.PRESETS`).
TASK_TABLE: Mapping[str, Task] = MappingProxyType(
    {
        "classical_sr": Task("sr", "classical image super-resolution", _SR, "classical", ("super-resolution",)),
        "lightweight_sr": Task(
            "sr", "lightweight image super-resolution", _SR, "lightweight", ("super-resolution", "lightweight")
        ),
        "real_sr": Task(
            "real_sr",
            "real-world image super-resolution",
            "Real-World Image Super-Resolution",
            "real-world",
            ("super-resolution", "real-world-super-resolution"),
        ),
        "gray_dn": Task("dn", "grayscale image denoising", _DN, "grey", ("image-denoising",)),
        "color_dn": Task("dn", "color image denoising", _DN, "colour", ("image-denoising",)),
        "jpeg_car": Task(
            "jpeg", "grayscale JPEG compression artifact reduction", _JPEG, "grey", ("jpeg-artifact-reduction",)
        ),
        "color_jpeg_car": Task(
            "jpeg", "color JPEG compression artifact reduction", _JPEG, "colour", ("jpeg-artifact-reduction",)
        ),
    }
)
TASKS = tuple(TASK_TABLE)


def dtype_name(dtype: object) -> str:
    """A torch dtype's name as the options and messages write it (`torch.bfloat16` → "bfloat16"), told without
    importing torch; a name is returned as it is."""
    return str(dtype).removeprefix("torch.")


def env_setting(name: str, default: str) -> str:
    """The value of the environment variable `name`, else `default`: set but empty (`NAME=`, as a shell, a Dockerfile
    or a compose file writes a variable cleared) counts as unset, as it does for most programs."""
    return os.environ.get(name) or default

"""The measured results of an exported model's card (`--eval`): this package's benchmark on each dataset given, in
the paper's convention, at the noise level or JPEG quality of a ×1 model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch-free at import: the model cards read `PSNR_B` / `read_results` from here
    from ..models.modeling_swinir import SwinIRForImageRestoration

# PSNR-B's one spelling in figures, as `evaluate()`'s keys and results.json write it; "psnr_b" (the catalogue's and
# the cards' figures before it was one) is still read (`read_results`). A card's model-index names it "psnr-b": the
# metric type every card already on the Hub has (`card_metadata.METRICS`).
PSNR_B = "psnrb"
_OTHER_SPELLINGS = {"psnr_b": PSNR_B}
# A benchmark's figures at a degradation level are named "<benchmark> <level>" (`labelled`); the bundled real-SR
# model's are "Set5 real ×4" (hub/bundle_default.py).
_LEVELS = {"noise": "σ{:g}", "jpeg": "q{}"}
_LEVEL = re.compile(r"(?P<benchmark>.+) (?P<level>σ[0-9.]+|q[0-9]+|real ×[0-9]+)")


def scored_on(upscale: int) -> str:
    """The suffix of `evaluate()`'s keys that the paper reports a model of this scale on (its convention): "_y", the
    Y channel, for super-resolution, with a border of `upscale` pixels cropped (by `evaluate`); "" otherwise, the
    image's own channels (RGB, or grey for a grey model)."""
    return "_y" if upscale > 1 else ""


def scoring(upscale: int, num_channels: int) -> tuple[str, dict[str, int | bool]]:
    """How the paper's figures of such a model are computed (`scored_on`), as a card's model-index states it: the
    channel ("Y channel", "RGB" or "grey") and `swinir_hf.evaluation.metrics`' arguments (border cropped, Y)."""
    y = bool(scored_on(upscale))
    channel = "Y channel" if y else "grey" if num_channels == 1 else "RGB"
    return channel, {"crop_border": upscale if y else 0, "test_y_channel": y}


def paper_figures(mean: Mapping[str, float], upscale: int) -> dict[str, float]:
    """`evaluate()`'s mean scores → the figures the paper reports for a model of this scale: {"psnr", "ssim"[,
    `PSNR_B` (JPEG)]} on its channel (`scored_on`)."""
    y = scored_on(upscale)
    return {key: mean[f"{key}{y}"] for key in ("psnr", "ssim", PSNR_B) if f"{key}{y}" in mean}


def read_results(results: Mapping[str, Mapping[str, float]] | None) -> dict[str, dict[str, float]]:
    """benchmark → figures, PSNR-B spelt `PSNR_B` whichever spelling it came in."""
    return {
        name: {_OTHER_SPELLINGS.get(k, k): v for k, v in figures.items()} for name, figures in (results or {}).items()
    }


def labelled(dataset: str, levels: Mapping[str, float | None]) -> str:
    """A benchmark's name with the level its inputs are degraded at (`levels`: `evaluate`'s `noise` / `jpeg`):
    "CBSD68 σ25", "LIVE1 q10"; the name alone at none."""
    given = [_LEVELS[k].format(v) for k, v in levels.items() if v is not None]
    return " ".join([dataset, *given])


def split_level(name: str) -> tuple[str, str | None]:
    """(benchmark, level) of a `labelled` name, or of a bundled model's "Set5 real ×4"; (name, None) without one."""
    match = _LEVEL.fullmatch(name)
    return (match["benchmark"], match["level"]) if match else (name, None)


def measure(model: SwinIRForImageRestoration, datasets: Sequence[str], levels: dict) -> dict:
    """This package's `evaluate` on each dataset, at `levels` (its `noise` / `jpeg` arguments) → {dataset with its
    level (`labelled`): `paper_figures`}."""
    from ..evaluation.benchmark import evaluate
    from .remote_code import HubExportError

    given = [f"--{k}" for k, v in levels.items() if v is not None]
    c = model.config
    if c.upscale == 1 and not given:
        raise HubExportError(
            f"--eval of a ×1 ({c.task}) model needs --noise SIGMA or --jpeg QUALITY: the level its benchmark inputs "
            "are degraded at"
        )
    if c.upscale > 1 and given:
        raise HubExportError(
            f"{given[0]} is for --eval of ×1 models; this one is ×{c.upscale} (scored on bicubic-downscaled "
            f"inputs): drop {given[0]}"
        )
    results = {}
    for dataset in datasets:
        try:
            evaluation = evaluate(model, dataset, progress=False, model_name="model", **levels)
        except (ValueError, FileNotFoundError) as err:
            raise HubExportError(f"--eval on {dataset}: {err}") from err
        results[labelled(evaluation.dataset, levels)] = paper_figures(evaluation.mean("model"), c.upscale)
    return results

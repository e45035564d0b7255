"""The measured results of an exported model's card (`--eval`): this package's benchmark on each dataset given, in
the paper's convention, at the noise level or JPEG quality of a ×1 model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch-free at import: the model cards read `PSNR_B` / `read_results` from here
    from ..models.modeling_swinir import SwinIRForImageRestoration

# PSNR-B's one spelling in figures, as `evaluate()`'s keys and results.json write it; "psnr_b" (the catalogue's and
# the cards' figures before it was one) is still read (`read_results`). A card's model-index names it "psnr-b": the
# metric type every card already on the Hub has (`cards.METRICS`).
PSNR_B = "psnrb"
_OTHER_SPELLINGS = {"psnr_b": PSNR_B}


def scored_on(upscale: int) -> str:
    """The suffix of `evaluate()`'s keys that the paper reports a model of this scale on (its convention): "_y", the
    Y channel, for super-resolution, with a border of `upscale` pixels cropped (by `evaluate`); "" otherwise, the
    image's own channels (RGB, or grey for a grey model)."""
    return "_y" if upscale > 1 else ""


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


def measure(model: SwinIRForImageRestoration, datasets: Sequence[str], levels: dict, labelled: bool = False) -> dict:
    """This package's `evaluate` on each dataset, at `levels` (its `noise` / `jpeg` arguments) → {dataset:
    `paper_figures`}. `labelled`: the benchmarks are named with their level (`CBSD68 σ25`, `LIVE1 q10`), for a model
    whose name does not say it (a release's does)."""
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
        figures = paper_figures(evaluation.mean("model"), c.upscale)
        label = {"noise": "σ{:g}", "jpeg": "q{}"}
        name = " ".join([evaluation.dataset] + [label[k].format(v) for k, v in levels.items() if v is not None])
        results[name if labelled else evaluation.dataset] = figures
    return results

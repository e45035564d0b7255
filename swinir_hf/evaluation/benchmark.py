"""Benchmark evaluation with the paper's protocol: degrade, restore, score against the ground truth.

Protocol (that of the SwinIR authors' `main_test_swinir.py`, see docs/evaluation.md):

- super-resolution ×s: LR = MATLAB bicubic downscale of the HR image cropped to a multiple of s (or a given LR
  file); the ground truth is the HR image cropped to s × the LR size; border s; baseline = bicubic upscale.
- denoising σ: noisy = HR/255 + N(0, σ/255) with the generator re-seeded to 0 for every image, not clipped,
  fed to the model as floats; border 0; baseline = the noisy image rounded to uint8.
- JPEG quality q: Pillow JPEG of the HR image (greyscale models: of its MATLAB Y); border 0; baseline = the JPEG.

The model runs as `engine` says; the paper's (`PAPER_ENGINE`) pads each input as the authors' script pads it
(`padding="authors"`: `inference.padding.authors_padding`) and crops its output back to scale × the input. Outputs
are rounded to uint8 and scored on RGB and on Y (BT.601), plus PSNR-B for JPEG, by `swinir_hf.evaluation.metrics`,
into an `Evaluation` (`results`).
Greyscale images among RGB ones (Set14's `bridge`) are scored by `grey_convention`: "rgb" (read as RGB, then Y, as
the authors' test script reads them for a colour model: the paper's figures, and the default for one) or "native"
(their own grey channel, as the published bicubic tables).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..console import note, shown_name
from ..degradations.setting import Degradation
from ..degradations.synthetic import as_uint8, imresize
from ..inference.devices import check_device, check_dtype
from ..inference.options import PAPER_ENGINE, EngineOptions
from ..inference.restoration import SwinIRRestorer
from ..models.modeling_swinir import SwinIRForImageRestoration
from ..models.pixels_swinir import float_to_image, match_channels
from ..models.tiling_swinir import rounded_tile
from ..progress_lines import progress_bar
from ..storage.paths import folds_case
from . import metrics
from .benchmark_setting import authors_reading, common_degradation, grey_conventions
from .report_provenance import NOISE_SEED, REAL_SEED, provenance
from .results import Evaluation
from .saved_outputs import SavedOutputs, first_twin, saved_alike, saved_as_one
from .testsets import GreyConvention, Sample, load_samples, unread_inputs_note

logger = logging.getLogger(__name__)


def to_model_channels(image: np.ndarray, channels: int | None, kind: str) -> np.ndarray:
    """Reduce RGB ground truth to grey for a 1-channel model as the authors: MATLAB Y for JPEG, BT.601 luma else."""
    if channels != 1 or image.shape[-1] == 1:
        return image
    if kind == "jpeg":
        # The authors' `bgr2ycbcr(img, y_only=True)` arithmetic: float32 levels / 255, float64 weights, rounded. Exact
        # halves (LIVE1 holds some) land just above .5 there and round up; float64 Y rounds them either way.
        bgr = image[..., ::-1].astype(np.float32) / 255.0
        return (np.dot(bgr, metrics.Y_COEFFICIENTS[::-1]) + 16.0).round().astype(np.uint8)[..., None]
    return float_to_image(match_channels(image / 255.0, 1), output_type="np")[..., None]


def degrade(
    hr: np.ndarray, degradation: Degradation, lr: np.ndarray | None = None, name: str = ""
) -> tuple[np.ndarray, np.ndarray]:
    """(ground truth, model input) for one (H, W, C) uint8 image named `name`; the input is uint8, or float64 for
    noise.

    A given `lr` is used as the input as it is; the ground truth is then cropped to scale × its size.
    """
    s = degradation.scale
    if lr is None:  # the real-world degradation's draws are fixed per image, the noise is the authors' seed's
        rng = np.random.default_rng((REAL_SEED, zlib.crc32(name.encode("utf-8", "surrogateescape"))))  # any file name
        lr = degradation.sample(hr, rng, noise_seed=NOISE_SEED)
    return hr[: lr.shape[0] * s, : lr.shape[1] * s], lr


def baseline(lq: np.ndarray, degradation: Degradation) -> np.ndarray:
    """The trivial restoration, uint8: bicubic upscale for SR, the degraded input itself otherwise."""
    if degradation.task == "sr":
        return imresize(lq, degradation.scale)
    return as_uint8(lq)


def score(output: np.ndarray, gt: np.ndarray, degradation: Degradation) -> dict[str, float]:
    """PSNR / SSIM on RGB and Y (and PSNR-B for JPEG) of a uint8 output against its ground truth."""
    b = degradation.border
    out = {
        "psnr": metrics.psnr(output, gt, b),
        "ssim": metrics.ssim(output, gt, b),
        "psnr_y": metrics.psnr(output, gt, b, test_y_channel=True),
        "ssim_y": metrics.ssim(output, gt, b, test_y_channel=True),
    }
    if degradation.kind == "jpeg":
        out["psnrb"] = metrics.psnrb(output, gt, b)
        out["psnrb_y"] = metrics.psnrb(output, gt, b, test_y_channel=True)
    return out


def evaluate(
    model: SwinIRForImageRestoration | None,
    dataset: str | os.PathLike,
    *,
    scale: int | None = None,
    noise: float | None = None,
    jpeg: int | None = None,
    real: bool | str = False,
    lr_dir: str | os.PathLike | None = None,
    grey_convention: GreyConvention | None = None,
    split: str | None = None,
    model_name: str | None = None,
    progress: bool = True,
    engine: EngineOptions = PAPER_ENGINE,
) -> Evaluation:
    """Score `model` (None: the identity, i.e. the degraded input itself) and the baseline on a benchmark.

    `dataset`, `lr_dir`, `split`: see `load_samples`; `scale` / `noise` / `jpeg` / `real`: see `resolve_degradation`
    (None values are ignored). `grey_convention` None reads greyscale images as the authors' test script reads them
    for the model, which reproduces the paper's figures: as RGB for a colour model ("rgb"; Set14's `bridge` then
    scores on Y), as grey for 1-channel models and the identity ("native"). A 1-channel model always sees grey
    images as they are, and a colour model denoises them as RGB images (noise drawn per channel), whatever is asked.
    `engine` says how the restoration engine runs the model; the default, `PAPER_ENGINE`, runs whole images in
    float32, padded as the authors' script pads them, as the paper (`dataclasses.replace` it to change one option).
    """
    if model_name is None:
        model_name = "identity" if model is None else f"SwinIR ({model.config.task})"
    return evaluate_models(
        [(model_name, model)],
        dataset,
        scale=scale,
        noise=noise,
        jpeg=jpeg,
        real=real,
        lr_dir=lr_dir,
        grey_convention=grey_convention,
        split=split,
        progress=progress,
        engine=engine,
    )


def evaluate_models(
    models: Sequence[tuple[str, SwinIRForImageRestoration | None]],
    dataset: str | os.PathLike,
    *,
    scale: int | None = None,
    noise: float | None = None,
    jpeg: int | None = None,
    real: bool | str = False,
    lr_dir: str | os.PathLike | None = None,
    grey_convention: GreyConvention | None = None,
    split: str | None = None,
    progress: bool = True,
    engine: EngineOptions = PAPER_ENGINE,
    column: str | None = None,
    lr_column: str | None = None,
    shard: tuple[int, int] = (0, 1),
    save_dir: str | os.PathLike | None = None,
    reuse_saved: bool = False,
) -> Evaluation:
    """Score several (name, model) pairs in one table under one baseline row, as `evaluate` scores one: the set is
    read, each image degraded and the baseline scored once for all of them. `column`, `lr_column`: the dataset's
    image columns of the ground truth and of given inputs (see `load_samples`).

    `shard` (k, n) scores only the images k, k + n, ... of the set, as process k of n; `combine_shares` of the n
    shares is the whole set's `Evaluation`, as one process scores it. With `save_dir`, each model's outputs, the
    uint8 images scored, are written there as PNG: `save_dir/<row name>/<image name>.png` (replacing any such file);
    `reuse_saved` reads one found there instead of restoring its image again (a resumed evaluation: the folder must
    hold this one's outputs, which `saved_outputs.open_saved_outputs` checks). Without given inputs, a folder
    set's folders of them (`Set5/LR_bicubic/`) are noted as unread (`unread_inputs_note`): on stderr with `progress`,
    else logged (INFO).

    Raises:
        ValueError: the models need different settings (scales), share a name, or do not see the same inputs and
            ground truths (a 1-channel model beside a colour one on colour images), or the engine's device is
            unknown or missing here, or its precision does not run there (float16 off CUDA).
    """
    device = _checked_run(models, engine, shard)
    engine = _tile_as_run(engine, [model for _, model in models if model is not None])
    degradation = common_degradation(models, scale, noise, jpeg, real)
    folded = save_dir is not None and folds_case(Path(save_dir).resolve())
    saved_as = None if save_dir is None else functools.partial(saved_as_one, folded=folded)
    labels = _method_names([label for label, _ in models], degradation, saved_as)
    conventions = grey_conventions(models, labels, degradation, grey_convention)
    if lr_dir is None and lr_column is None and (said := unread_inputs_note(dataset, degradation.scale)):
        (note if progress else logger.info)(said)  # with the bar, on stderr: own inputs there were unread unsaid
    sets = {
        c: load_samples(dataset, lr_dir, degradation.scale, c, split, shard, saved_as, column, lr_column)
        for c in dict.fromkeys(conventions)
    }
    name, samples = sets[conventions[0]]
    result = Evaluation(
        name,
        labels[0],
        degradation,
        conventions[0],
        engine=engine if any(model is not None for _, model in models) else None,
        lr_dir=None if lr_dir is None else str(lr_dir),
        lr_column=samples[0].lr_column if samples else None,  # process k > 0 of more than the images has none
        provenance=provenance(dict(zip(labels, (model for _, model in models), strict=True)), device, degradation),
        shard=shard,
    )
    result.scores = {method: [] for method in [degradation.baseline_name, *labels]}
    result.seconds = {label: [] for label, (_, model) in zip(labels, models, strict=True) if model is not None}
    for sample in samples:  # all of them, before any is restored: not the n-th one's error after n - 1
        _check_scoreable(sample, degradation, name)
    saved = None if save_dir is None else SavedOutputs(Path(save_dir), reuse_saved)
    restorers = _restorers(models, labels, engine)
    for i, sample in enumerate(progress_bar(progress, iterable=samples, desc=f"evaluating {name}", unit="image")):
        entrants = [(label, r, sets[c][1][i]) for label, r, c in zip(labels, restorers, conventions, strict=True)]
        try:
            scores = _score_image(entrants, degradation, saved, sample.name, result.seconds)
        except ValueError as err:  # an image too small for the scale or for SSIM's window: say which one
            raise ValueError(f"{shown_name(name)}/{shown_name(sample.name)}: {err}") from err
        result.names.append(sample.name)
        for method, figures in zip(result.methods, scores, strict=True):
            result.scores[method].append(figures)
    return result


def _check_scoreable(sample: Sample, degradation: Degradation, set_name: str) -> None:
    """Raise ValueError (naming the image) when `sample`'s ground truth, cropped to whole LR pixels and by the
    border, is too small for SSIM (or PSNR-B); an image smaller than the scale is said by `degrade`."""
    h, w = sample.hr.shape[:2]
    s, border = degradation.scale, degradation.border
    if h < s or w < s:
        return
    try:
        metrics.check_size(h - h % s - 2 * border, w - w % s - 2 * border, psnrb=degradation.kind == "jpeg")
    except ValueError as err:
        raise ValueError(f"{shown_name(set_name)}/{shown_name(sample.name)}: {err}") from None


def scored_setting(
    models: Sequence[tuple[str, SwinIRForImageRestoration | None]],
    scale: int | None = None,
    noise: float | None = None,
    jpeg: int | None = None,
    real: bool | str = False,
    grey_convention: GreyConvention | None = None,
) -> dict[str, str]:
    """What `evaluate_models`' options come to for these models, as JSON values: the degradation they are scored at
    (a scale left unset is theirs) and the grey convention (unset: the authors' reading), so that options spelt out
    at those values are the same evaluation as options left unset."""
    degradation = common_degradation(models, scale, noise, jpeg, real)
    return {"degradation": str(degradation), "grey_convention": grey_convention or authors_reading(models)}


def _checked_run(
    models: list[tuple[str, SwinIRForImageRestoration | None]], engine: EngineOptions, shard: tuple[int, int]
) -> torch.device | None:
    """The device the models run on (None: no model), once `models`, `engine` and `shard` are checked: before the
    set is read, and not as the first image's problem (the engine would refuse them on every image)."""
    if not models:
        raise ValueError("no model to evaluate")
    k, n = shard
    if not (isinstance(k, int) and isinstance(n, int) and 0 <= k < n):
        raise ValueError(f"shard must be (k, n), process k of n with 0 <= k < n; got {shard}")
    first = next((model for _, model in models if model is not None), None)
    if first is None:
        return None
    # check_device first: torch.device("gpu0") raises a RuntimeError, not the ValueError saying what to use.
    device = check_device(engine.device) if engine.device is not None else next(first.parameters()).device
    check_dtype(engine.dtype, device)
    return device


def _tile_as_run(engine: EngineOptions, models: list[SwinIRForImageRestoration]) -> EngineOptions:
    """`engine` with a fixed tile size as the models run it (`rounded_tile`: `--tile 12` runs 8-px tiles under a
    window of 8), which the report states. Raises `ValueError` where the models' windows round it differently."""
    if not isinstance(engine.tile, int) or not models:
        return engine
    tiles = sorted({rounded_tile(engine.tile, model.config.window_size) for model in models})
    if len(tiles) > 1:
        windows = sorted({model.config.window_size for model in models})
        raise ValueError(
            f"tile {engine.tile} runs as tiles of {' and '.join(map(str, tiles))} px under these models' windows "
            f"({' and '.join(map(str, windows))}), which one table cannot state: give a multiple of each window"
        )
    return dataclasses.replace(engine, tile=tiles[0])


def _restorers(
    models: Sequence[tuple[str, SwinIRForImageRestoration | None]], labels: list[str], engine: EngineOptions
) -> list[SwinIRRestorer | None]:
    """One restorer per model (None: the identity) for the whole set, so that its one-off warnings (tile_overlap=0)
    are said once, not per image; of several models, each named by its row label, which its warnings start with."""
    named = len(models) > 1
    return [
        None if model is None else engine.restorer(model, name=label if named else None)
        for (_, model), label in zip(models, labels, strict=True)
    ]


def _method_names(
    labels: list[str], degradation: Degradation, saved_as: Callable[[str], str] | None = None
) -> list[str]:
    """The models' row names, kept apart from the baseline's; two models of one name, or of names `saved_as` one
    folder (where images are saved: `saved_as_one`, "a/b" and "a_b"; "A" and "a" on a case-folding disk), are an
    error."""
    # One row per method: a model named after the baseline is told apart.
    names = [f"{label} (model)" if label == degradation.baseline_name else label for label in labels]
    if (twins := first_twin(names, saved_as or str)) is not None:
        twin, name = twins
        if twin == name:
            raise ValueError(f"two models are called {name!r}: the same model given twice, or labels to tell apart")
        raise ValueError(
            f"two models are called {twin!r} and {name!r}, whose saved images would share one folder "
            f"({saved_alike(twin, name)}): give them labels that differ in more than that"
        )
    return names


def _score_image(
    entrants: list[tuple[str, SwinIRRestorer | None, Sample]],
    degradation: Degradation,
    saved: SavedOutputs | None = None,
    image: str = "",
    seconds: dict[str, list[float]] | None = None,
) -> list[dict[str, float]]:
    """The scores of one benchmark image: the baseline's, then each (name, restorer of its model, the image as that
    model's grey convention reads it)'s. Each distinct input is made once; every model must see the first one's.
    `saved`: where each model's uint8 output of the image named `image` is saved (and read from, when reused);
    `seconds`: each model's wall times of restoring, to which this image's is added (not for an output reused)."""
    inputs: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}
    first = None
    scores = []
    for label, restorer, sample in entrants:
        channels = restorer.model.config.num_channels if restorer is not None else None
        key = (id(sample), channels == 1)
        if key not in inputs:
            inputs[key] = _model_inputs(sample, degradation, channels)
        gt, lq = inputs[key]
        if first is None:
            first = label, gt, lq
            scores.append(score(baseline(lq, degradation), gt, degradation))
        elif not (_same(gt, first[1]) and _same(lq, first[2])):
            raise ValueError(
                f"{label} does not see the same inputs and ground truths as {first[0]} (a grey model beside a colour "
                "one?): evaluate them separately"
            )
        output = None if saved is None else saved.load(label, image, gt.shape)
        if output is None:
            start = time.perf_counter()
            output = as_uint8(_restored(restorer, lq))  # numpy out: a GPU's work is done when the clock stops
            if seconds is not None and restorer is not None:
                seconds[label].append(time.perf_counter() - start)
            if saved is not None:
                saved.save(label, image, output)
        scores.append(score(output, gt, degradation))
    return scores


def _model_inputs(sample: Sample, degradation: Degradation, channels: int | None) -> tuple[np.ndarray, np.ndarray]:
    """(ground truth, model input) of one benchmark image for a model of `channels` (None: the identity)."""
    hr = to_model_channels(sample.hr, channels, degradation.kind)
    lr = to_model_channels(sample.lr, channels, degradation.kind) if sample.lr is not None else None
    return degrade(hr, degradation, lr, sample.name)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)


def _restored(restorer: SwinIRRestorer | None, lq: np.ndarray) -> np.ndarray:
    """The restorer's model's output for `lq` (padded as its `padding` says: the paper's, the authors' padding); the
    identity's (None) is `lq` itself."""
    if restorer is None:
        return lq
    # A noisy input overshoots [0, 1] by design (the paper's protocol does not clip it): no warning of it.
    return restorer.restore_images([lq], names=[None])[0]

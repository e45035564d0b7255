"""The benchmark setting an evaluation scores: the `Degradation` its flags name (a scale, a noise σ, a JPEG
quality, the real-world pipeline) or, without one, the model's own scale, checked against the model; and the grey
convention each model is scored under (`grey_conventions`); of several models, the one setting they share
(`common_degradation`). Within `console.warnings_once`, each warning about them is logged once."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..console import warn_once_within
from ..degradations.levels import REAL_WORLD, check_level, check_scale
from ..degradations.setting import Degradation
from ..models.constants_swinir import TASK_TABLE
from .model_levels import run_real_world_kind
from .protocol import GreyConvention

if TYPE_CHECKING:
    from ..models.modeling_swinir import SwinIRForImageRestoration

logger = logging.getLogger(__name__)


def resolve_degradation(
    model: SwinIRForImageRestoration | None,
    scale: int | None = None,
    noise: float | None = None,
    jpeg: int | None = None,
    real: bool | str = False,
    label: str | None = None,
) -> Degradation:
    """The benchmark setting from the flags given (at most one), else bicubic at the model's upscale factor (a ×1
    model, the identity included, needs `noise` or `jpeg`: a `ValueError` says so); checked against the model's
    upscale factor. `model` None is the identity (scores the degraded input itself). `real` is a real-world
    degradation at the model's scale (or `scale`), drawn with a fixed seed per image: True or "real" the
    BSRGAN-style one, "real-esrgan" Real-ESRGAN's second-order one (`REAL_WORLD`); never chosen for a real-world
    model by itself. `label`: the model's name, which a warning about it starts with (of several models: which)."""
    upscale = model.config.upscale if model is not None else 1
    if real:
        kind = REAL_WORLD[0] if real is True else real
        if kind not in REAL_WORLD:
            raise ValueError(f"real must be True or one of {', '.join(REAL_WORLD)}, got {real!r}")
        if noise is not None or jpeg is not None:
            raise ValueError("real is a super-resolution setting: give no noise σ or JPEG quality with it")
        degradation = Degradation(kind, scale or upscale)
    else:
        degradation = _flagged_degradation(model, upscale, scale, noise, jpeg)
    if model is not None:
        _warn_of_another_task(model, degradation, label)
    if degradation.scale != upscale:
        who = "the identity model" if model is None else "the model"
        hint = ""
        if model is not None:  # leaving out the scale only helps a super-resolution model on an SR setting
            own = "leave out the scale to use the model's own, or " if upscale > 1 and degradation.task == "sr" else ""
            hint = f": {own}give a ×{degradation.scale} model"
        raise ValueError(f"{degradation} needs a ×{degradation.scale} model, but {who} is ×{upscale}{hint}")
    return degradation


def _warn_of_another_task(model: SwinIRForImageRestoration, degradation: Degradation, label: str | None) -> None:
    """Warn when a denoising model is scored on JPEG inputs or a JPEG one on noisy inputs, or a real-world SR
    model on clean bicubic ones: figures a researcher may want (how it copes), but more often a mistyped or
    forgotten flag."""
    task = TASK_TABLE.get(model.config.task or "")
    restores = {"dn": "noise", "jpeg": "jpeg"}.get(task.restores) if task else None  # a ×1 model's inputs
    who = "" if label is None else f"{label}: "
    if restores and degradation.kind in ("noise", "jpeg") and restores != degradation.kind:
        warn_once_within(
            logger, f"{who}a model trained for {task.title} ({model.config.task}) is scored on {degradation} inputs"
        )
    if task and task.restores == "real_sr" and degradation.kind == "bicubic":  # it learnt to remove noise and blocks
        # the setting its training run validated at, where it comes from one (a Real-ESRGAN one's is no BSRGAN's)
        esrgan = run_real_world_kind(model) == "real-esrgan"
        flag, kind = ("--real real-esrgan", "Real-ESRGAN's second-order") if esrgan else ("--real", "BSRGAN-style")
        warn_once_within(
            logger,
            f"{who}a model trained for {task.title} ({model.config.task}) is scored on {degradation} inputs; {flag} "
            f"scores it on real-world ({kind}) degraded ones",
        )


def _flagged_degradation(
    model: SwinIRForImageRestoration | None, upscale: int, scale: int | None, noise: float | None, jpeg: int | None
) -> Degradation:
    """The bicubic / noise / JPEG setting of the one flag given, else the model's own scale."""
    given = [(k, v) for k, v in (("sr", scale), ("dn", noise), ("jpeg", jpeg)) if v is not None]
    if len(given) > 1:
        raise ValueError("give at most one of scale, noise and jpeg")
    if not given:
        if upscale == 1:
            who = "the identity model" if model is None else f"a ×1 ({model.config.task}) model"
            raise ValueError(
                f"cannot tell the benchmark setting from {who}: give a noise σ or a JPEG quality (--noise or --jpeg; "
                "noise= or jpeg= from Python)"
            )
        given = [("sr", upscale)]
    kind, value = given[0]
    if kind == "sr":
        check_scale(value, "scale")
        value = int(value)
    else:  # the levels training takes, checked by the one definition
        level = "noise" if kind == "dn" else "jpeg"
        check_level(level, value, level, ranged=False)
    levels = {"sr": {"scale": int(value)}, "dn": {"noise_sigma": float(value)}, "jpeg": {"jpeg_quality": int(value)}}
    return Degradation({"sr": "bicubic", "dn": "noise"}.get(kind, kind), **levels[kind])


def grey_conventions(
    models: Sequence[tuple[str, SwinIRForImageRestoration | None]],
    labels: list[str],
    degradation: Degradation,
    asked: GreyConvention | None,
) -> list[GreyConvention]:
    """Each model's grey convention (`_applied_convention` of the one `asked`, else the authors' reading); one asked
    that does not apply to a model is warned of."""
    conventions = [_applied_convention(model, degradation, asked or authors_reading(models)) for _, model in models]
    if asked and (overridden := [label for label, c in zip(labels, conventions, strict=True) if c != asked]):
        warn_once_within(
            logger,
            f"--grey-convention {asked} does not apply to {', '.join(overridden)}: a 1-channel model reads grey "
            "images as grey (native), a colour denoiser as RGB (rgb), as the authors' scripts do",
        )
    return conventions


def _applied_convention(
    model: SwinIRForImageRestoration | None, degradation: Degradation, asked: GreyConvention
) -> GreyConvention:
    """The grey convention a model is scored under: `asked`, but always "native" for a 1-channel model (the
    authors' grey scripts read grey files as grey: MATLAB Y of grey-as-RGB is not the image) and "rgb" for a colour
    denoiser (their colour script reads every file as colour and draws noise per channel: noise drawn on the grey
    channel and replicated is no colour noise, which the model barely removes)."""
    channels = model.config.num_channels if model is not None else None
    if channels == 1:
        return "native"
    if channels == 3 and degradation.kind == "noise":
        return "rgb"
    return asked


def authors_reading(models: Sequence[tuple[str, SwinIRForImageRestoration | None]]) -> GreyConvention:
    """How the authors' test script reads greyscale images for these models: as RGB ("rgb") when a colour model is
    among them (their colour scripts read every file as colour; Set14's `bridge` then scores on Y), else as grey."""
    colour = any(model is not None and model.config.num_channels == 3 for _, model in models)
    return "rgb" if colour else "native"


def common_degradation(
    models: Sequence[tuple[str, SwinIRForImageRestoration | None]],
    scale: int | None,
    noise: float | None,
    jpeg: int | None,
    real: bool | str,
) -> Degradation:
    """The one setting every model is scored at (`resolve_degradation` of each, its refusal and warnings naming the
    model when there are several: "the model is ×4" alone does not say which)."""
    settings = []
    for label, model in models:
        named = label if len(models) > 1 else None
        try:
            settings.append((label, resolve_degradation(model, scale, noise, jpeg, real, label=named)))
        except ValueError as err:
            if len(models) == 1:
                raise
            raise ValueError(f"{label}: {err}") from None
    first_label, first = settings[0]
    for label, degradation in settings[1:]:
        if degradation != first:
            raise ValueError(
                f"{label} is scored at {degradation} but {first_label} at {first}: give models of one scale, or "
                "evaluate them separately"
            )
    return first

"""The model card of a training run: `checkpoints.cards.render_model_card` with the run's data, recipe, steps and
validation curve."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checkpoints.cards import render_model_card
from .data import training_degradation
from .validation import validation_metric, validation_set

if TYPE_CHECKING:
    from ..models.modeling_swinir import SwinIRForImageRestoration
    from .config import TrainingConfig
    from .state import Progress
    from .warm_start import InitReport


def training_card(
    cfg: TrainingConfig,
    model: SwinIRForImageRestoration,
    progress: Progress,
    baseline: float | None,
    init: InitReport | None,
    model_id: str,
    discriminator: dict[str, Any] | None = None,
    **results: Any,
) -> str:
    """README.md for a model trained with `swinir_hf.train` (`render_model_card`) with the training data, recipe,
    steps and the validation curve; `results` (`paper_results`, `measured_results`, `protocol`, `license`,
    `license_name`, `license_link`: default `train.license` / `license_name` / `license_link`) go to the card.
    Weights initialised from a Hub model name it as `base_model`; a GAN run's discriminator started from an earlier
    run's (`discriminator`: the run's record of it, `recipe.start`) is named too."""
    from ..image_datasets import is_hub_dataset_id

    c, d, t = model.config, cfg.data, cfg.train
    description = "Trained with `swinir_hf.train` (the swinir-hf package).\n\n" + "\n".join(
        _training_recipe(cfg, model, progress, init, discriminator)
    )
    if progress.history:
        description += "\n\n" + _validation_table(cfg, model, progress, baseline)
    task = (c.task or "restoration").replace("_", " ")
    title = f"SwinIR {task}" + (f" x{c.upscale}" if c.upscale > 1 else "") + f" ({progress.step} steps)"
    return render_model_card(
        c,
        model_id=model_id,
        title=title,
        description=description,
        training_data=[Path(str(s)).name for s in d.train],
        # Local folders are named in the text only: the Hub would link `datasets` entries as dataset repos.
        datasets=[s for s in map(str, d.train) if is_hub_dataset_id(s) and not Path(s).exists()],
        num_parameters=model.num_parameters(),
        tags=["swinir-hf-trained", *(["gan"] if cfg.gan.enabled else [])],  # as the authors' GAN releases
        remote_code=False,  # the trainer saves weights, config and processor only
        base_model=_hub_base_model(init),
        training_patch=d.patch_size,
        **{"license": cfg.train.license, "license_name": t.license_name, "license_link": t.license_link, **results},
    )


def _shown(spec: str | os.PathLike) -> str:
    """A data / weights spec as a card shows it: an absolute path as its last two parts (`…/photos/train`), so that
    a pushed card does not publish the machine's folders (the run's training_config.yaml keeps the whole path)."""
    builder, colon, rest = str(spec).partition(":")
    if colon and builder.isidentifier():  # `imagefolder:/data/photos`
        return f"{builder}:{_shown(rest)}"
    path = Path(spec)
    return f"…/{Path(*path.parts[-2:]).as_posix()}" if path.is_absolute() and len(path.parts) > 3 else str(spec)


def _hub_base_model(init: InitReport | None) -> str | None:
    """The Hub repo id the starting weights came from; None for local folders, files and bundled models."""
    from ..checkpoints.loading import resolve_spec

    if init is None:
        return None
    source = resolve_spec(init.source)
    return source if isinstance(source, str) else None


def _validation_table(
    cfg: TrainingConfig, model: SwinIRForImageRestoration, progress: Progress, baseline: float | None
) -> str:
    """The validation PSNR after each evaluation step, under the trivial baseline's."""
    c, metric = model.config, validation_metric(model.config)
    rows = [f"| {'bicubic' if c.upscale > 1 else 'input'} | {baseline:.2f} |"] if baseline is not None else []
    # A resumed run's earlier scores may be another metric's (an earlier swinir-hf scored colour ×1 models on Y), or
    # of other images (data.val changed at a resume): marked, not mixed into one curve.
    other = {h.get("metric", "not recorded, by an earlier swinir-hf") for h in progress.history} - {metric.name}
    images = validation_set(cfg.data)  # None: validation turned off at a resume, its curve kept as it was
    sets = {h["set"] for h in progress.history if "set" in h} - {images} if images else set()
    for h in progress.history:
        mark = ("" if h.get("metric") == metric.name else " †") + (" ‡" if h.get("set", images) in sets else "")
        rows.append(f"| step {h['step']} | {h['psnr']:.2f}{mark} |")
    n = cfg.data.val_max_images
    first = f" (its first {n} images)" if n and n > 1 else " (its first image)" if n else ""
    if cfg.data.val:
        what = f"on {_shown(cfg.data.val)}{first} during training"
    else:  # `data.val` null on resuming a run that validated: its curve so far is kept
        what = "during training, until it was turned off at a resume"
    header = f"Validation {what} (PSNR in dB, {metric}):"
    note = f"\n\n† scored with another metric ({', '.join(sorted(other))}): not comparable with the others"
    note = note if other else ""
    if sets:
        # Not named: the history records them by their real paths, which a pushed card must not publish.
        note += (
            "\n\n‡ scored on other validation images (another data.val, split, LR folder, level or number of images): "
            "not comparable with the others"
        )
    return f"{header}\n\n| model | PSNR |\n|---|---:|\n" + "\n".join(rows) + note


def _training_recipe(
    cfg: TrainingConfig,
    model: SwinIRForImageRestoration,
    progress: Progress,
    init: InitReport | None,
    discriminator: dict[str, Any] | None = None,
) -> list[str]:
    """The recipe lines of a training card: data, degradation, schedule, GAN terms, starting weights (the
    discriminator's too)."""
    c, t, d = model.config, cfg.train, cfg.data
    kind = training_degradation(cfg, c.upscale).description()
    recipe = [
        f"- data: {', '.join(map(_shown, d.train))}"
        + (f" (LR: {', '.join(map(_shown, d.train_lr))})" if d.train_lr else ""),
        f"- degradation: {kind}; {d.patch_size}×{d.patch_size} input patches, flips {d.flip}, rotations {d.rot90}"
        + ("; targets sharpened (Real-ESRGAN's unsharp mask)" if d.sharpen_target else ""),
        f"- {progress.step} of {t.max_steps} steps, batch {t.batch_size}, Adam lr {t.learning_rate} × {t.lr_gamma} "
        f"at steps {cfg.milestones()}"
        + (f" after a {t.warmup_steps}-step linear warmup" if t.warmup_steps else "")
        + f", {c.loss} loss"
        + (f", EMA {t.ema_decay} (these are the EMA weights)" if t.ema_decay else "")
        + f", precision {t.mixed_precision}, seed {t.seed}",
    ]
    if progress.compute:
        recipe.append(_compute_line(progress))
    if cfg.gan.enabled:
        g = cfg.gan
        recipe.append(
            # What the weights are for: a GAN model scores lower PSNR than the L1 model it started from, by design.
            "- GAN-trained: tuned for perceptual quality, not PSNR (sharper textures, a lower PSNR than a "
            f"PSNR-oriented L1 model); loss pixel L1 × {g.pixel_weight} + VGG-19 perceptual × {g.perceptual_weight} "
            f"({g.perceptual_layers}) + GAN × {g.gan_weight}; U-Net discriminator with spectral norm "
            f"({g.discriminator_channels} channels, Adam lr {g.discriminator_lr}); VGG weights: "
            + (
                _shown(g.vgg_weights)
                if g.vgg_weights
                else "random (gan.allow_random_vgg, for tests: no perceptual loss to speak of)"
            )
        )
    if init is not None and not init.loaded:  # a resumed run's start, recorded without its tensors (`recorded`)
        recipe.append(f"- initialised from `{_shown(init.source)}`")
    elif init is not None:
        recipe.append(
            f"- initialised from `{_shown(init.source)}` ({len(init.loaded)} tensors loaded"
            + (f", {len(init.fitted)} of them fitted to this window size" if init.fitted else "")
            + (f", {len(init.to_grey)} of them made grey from the colour model's" if init.to_grey else "")
            + f", {len(init.reinitialised)} re-initialised, {len(init.dropped)} dropped)"
        )
    if discriminator is not None:
        # A run folder's checkpoint: its newest when the run started (`_shown` of the checkpoint would hide the run).
        given, loaded = discriminator["init_from"], Path(discriminator.get("checkpoint", discriminator["init_from"]))
        step = f" ({loaded.name})" if loaded.name != Path(given).name else ""
        recipe.append(f"- discriminator initialised from `{_shown(given)}`{step} (gan.init_discriminator_from)")
    return recipe


def _compute_line(progress: Progress) -> str:
    """The recipe line of the compute spent: wall time per launch (`Progress.compute`) and in all."""
    launches = [
        f"steps {c['start_step']}-{c['end_step']} on {c['device']}"
        + (f" × {c['processes']} processes" if c["processes"] > 1 else "")
        + f", {c['seconds']:.0f} s"
        for c in progress.compute
    ]
    total = progress.compute_seconds()
    return (
        f"- compute: {total / 60:.1f} min of training wall time, validation and checkpoints included "
        f"({'; '.join(launches)})"
    )

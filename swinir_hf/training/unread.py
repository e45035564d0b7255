"""What a training config sets that its own other settings leave unread: a level of another degradation,
`data.train_lr` without degradation 'paired', `data.sharpen_target` of a denoising or JPEG model, a GAN run's pixel
loss or a discriminator's start without a GAN, a compile mode or compiled regions without their backend.
`TrainingConfig.validate` refuses them (they would be silently ignored); in the config of a run started by an earlier
swinir-hf, which took and ignored them, they count as unset (`as_read`: its checkpoint's record,
`recipe.CheckpointRecord`, and its training_config.yaml given as --config)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..degradations.levels import LEVELS

if TYPE_CHECKING:
    from .config import TrainingConfig

# Settings added since a run may have been recorded, at what an earlier swinir-hf, which had none, did: a record (a
# checkpoint's config or samples) without one reads so, not as the resuming config's value, which would let a resume
# switch it on unnoticed (`as_read`, `recipe.setting_change`).
EARLIER_VALUES = MappingProxyType({"data.sharpen_target": False, "gan.init_discriminator_from": None})


def unread_settings(cfg: TrainingConfig, written_levels: Collection[str] = ()) -> dict[str, str]:
    """Each setting of `cfg` (by dotted name) that its other settings leave unread, with the error that refuses it:
    the levels another degradation reads first, in one error naming them all (also those of `written_levels`, the
    command line's, which `DataArgs` dropped at their default)."""
    d, t = cfg.data, cfg.train
    levels = [
        name
        for kind, level in LEVELS.items()
        for name in (level.field, f"val_{level.field}")
        if kind != d.degradation and (getattr(d, name) is not None or name in written_levels)
    ]
    unread = {f"data.{name}": unread_levels(levels, d.degradation) for name in levels}
    if d.train_lr and d.degradation != "paired":  # the inputs are made from data.train by the degradation
        unread["data.train_lr"] = (
            f"data.train_lr is only read with degradation 'paired' (this config degrades data.train with "
            f"'{d.degradation}'): pass --data.degradation paired, or drop data.train_lr"
        )
    if d.sharpen_target and d.degradation in ("noise", "jpeg"):  # the clean image is the target: nothing to sharpen
        unread["data.sharpen_target"] = (
            "data.sharpen_target is for super-resolution (degradation bicubic, real, real-esrgan or paired): a "
            f"'{d.degradation}' model would learn to sharpen clean images too; drop it (--data.sharpen_target false)"
        )
    for name in ("loss", "charbonnier_eps"):
        if cfg.gan.enabled and getattr(t, name) is not None:  # `gan_step` takes L1 whatever they say
            unread[f"train.{name}"] = (
                "train.loss / train.charbonnier_eps choose the pixel loss of a run without GAN; a GAN run's is L1 "
                "(× gan.pixel_weight): drop them, or set gan.enabled false"
            )
    if cfg.gan.init_discriminator_from and not cfg.gan.enabled:  # no discriminator to start
        unread["gan.init_discriminator_from"] = (
            "gan.init_discriminator_from starts a GAN run's discriminator, and gan.enabled is false: add --gan.enabled "
            "true, or drop gan.init_discriminator_from"
        )
    if t.compile_mode is not None and t.compile is None:
        unread["train.compile_mode"] = (
            f"train.compile_mode {t.compile_mode} needs train.compile (inductor, say): the steps run eagerly without it"
        )
    elif t.compile_mode is not None and t.compile != "inductor":  # torch only warns that it drops it
        unread["train.compile_mode"] = (
            f"train.compile_mode is a mode of the inductor backend; train.compile {t.compile} ignores it: pass "
            "--train.compile inductor, or drop train.compile_mode"
        )
    if t.compile_regions and t.compile is None:
        unread["train.compile_regions"] = (
            "train.compile_regions compiles the Swin layers with train.compile's backend, and this config has none: "
            "pass --train.compile inductor, or drop train.compile_regions"
        )
    return unread


def unread_levels(names: list[str], degradation: str) -> str:
    """The error for the `data` levels `names` (`noise_sigma`, `val_jpeg_quality`, ...), each of another degradation
    than `degradation`, the config's: one line naming them all (one at a time, a config that sets two took two
    refusals in turn)."""
    kinds = {name: kind for kind, level in LEVELS.items() for name in (level.field, f"val_{level.field}")}
    found = sorted({kinds[name] for name in names})
    items = [f"data.{name}" + (f" (degradation '{kinds[name]}')" if len(found) > 1 else "") for name in names]
    listed = " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)
    nulls = " ".join(f"--data.{name} null" for name in names)
    its = f"with degradation '{found[0]}'" if len(found) == 1 else "with their degradation"
    change = f"pass --data.degradation {found[0]}, or " if len(found) == 1 else ""
    return (
        f"{listed} {'is' if len(names) == 1 else 'are'} only read {its} (this config degrades with '{degradation}'): "
        f"{change}drop {'it' if len(names) == 1 else 'them'} ({nulls})"
    )


def as_earlier_meant(raw: dict[str, Any]) -> dict[str, Any]:
    """`raw` (a config's sections, as a run wrote them) with what an earlier swinir-hf wrote in other words than this
    one takes: an empty `model.init_from` (`--model.init_from ""` trained from scratch; it is refused now, as an unset
    shell variable) as null."""
    model = raw.get("model")
    if isinstance(model, dict) and model.get("init_from") == "":
        return raw | {"model": model | {"init_from": None}}
    return raw


def as_read(raw: dict[str, Any], base: TrainingConfig) -> tuple[TrainingConfig, list[str]]:
    """`raw` (a config's sections, as a run wrote them: unchecked) on top of `base`, as that run read it, and what of
    `raw` was left out (dotted names): the fields this swinir-hf does not have, and then the settings that the
    config's own other settings leave unread (`unread_settings`: an earlier swinir-hf took and ignored them), at their
    defaults. A field `raw` does not name (added to swinir-hf since) stays at `base`'s value (at `EARLIER_VALUES`'
    where it has one); one an earlier swinir-hf wrote otherwise is as it meant it (`as_earlier_meant`)."""
    raw, sections, ignored = as_earlier_meant(raw), {}, []
    for name in (f.name for f in dataclasses.fields(base)):
        now, given = getattr(base, name), raw.get(name)
        given = given if isinstance(given, dict) else {}
        known = {f.name for f in dataclasses.fields(now)}
        ignored += [f"{name}.{key}" for key in given if key not in known]
        earlier = {k: EARLIER_VALUES[f"{name}.{k}"] for k in known - set(given) if f"{name}.{k}" in EARLIER_VALUES}
        # Through the section's own class: a level another degradation does not read reads as null (`DataArgs`).
        sections[name] = dataclasses.replace(now, **earlier, **{k: v for k, v in given.items() if k in known})
    for setting in unread_settings(type(base)(**sections)):
        name, field = setting.split(".")
        section = sections[name]
        sections[name] = dataclasses.replace(section, **{field: getattr(type(section)(), field)})
        ignored.append(setting)
    return type(base)(**sections), ignored

"""What a training config sets that its own other settings leave unread: a level of another degradation,
`data.train_lr` without degradation 'paired', a GAN run's pixel loss, a compile mode or compiled regions without
their backend. `TrainingConfig.validate` refuses them (they would be silently ignored); in the config of a run
started by an earlier swinir-hf, which took and ignored them, they count as unset (`as_read`: its checkpoint's record,
`recipe.CheckpointRecord`, and its training_config.yaml given as --config)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from ..degradations.levels import LEVELS

if TYPE_CHECKING:
    from .config import TrainingConfig


def unread_settings(cfg: TrainingConfig) -> dict[str, str]:
    """Each setting of `cfg` (by dotted name) that its other settings leave unread, with the error that refuses it."""
    d, t = cfg.data, cfg.train
    unread = {
        f"data.{name}": unread_level(name, kind, d.degradation)
        for kind, level in LEVELS.items()
        for name in (level.field, f"val_{level.field}")
        if getattr(d, name) is not None and kind != d.degradation
    }
    if d.train_lr and d.degradation != "paired":  # the inputs are made from data.train by the degradation
        unread["data.train_lr"] = (
            f"data.train_lr is only read with degradation 'paired' (this config degrades data.train with "
            f"'{d.degradation}'): pass --data.degradation paired, or drop data.train_lr"
        )
    for name in ("loss", "charbonnier_eps"):
        if cfg.gan.enabled and getattr(t, name) is not None:  # `gan_step` takes L1 whatever they say
            unread[f"train.{name}"] = (
                "train.loss / train.charbonnier_eps choose the pixel loss of a run without GAN; a GAN run's is L1 "
                "(× gan.pixel_weight): drop them, or set gan.enabled false"
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


def unread_level(name: str, kind: str, degradation: str) -> str:
    """The error for `data.NAME`, a level of degradation `kind`, set in a config that degrades with `degradation`."""
    return (
        f"data.{name} is only read with degradation '{kind}' (this config degrades with '{degradation}'): pass "
        f"--data.degradation {kind}, or drop it (--data.{name} null)"
    )


def as_read(raw: dict[str, Any], base: TrainingConfig) -> tuple[TrainingConfig, list[str]]:
    """`raw` (a config's sections, as a run wrote them: unchecked) on top of `base`, as that run read it, and what of
    `raw` was left out (dotted names): the fields this swinir-hf does not have, and then the settings that the
    config's own other settings leave unread (`unread_settings`: an earlier swinir-hf took and ignored them), at their
    defaults. A field `raw` does not name (added to swinir-hf since) stays at `base`'s value."""
    sections, ignored = {}, []
    for name in (f.name for f in dataclasses.fields(base)):
        now, given = getattr(base, name), raw.get(name)
        given = given if isinstance(given, dict) else {}
        known = {f.name for f in dataclasses.fields(now)}
        ignored += [f"{name}.{key}" for key in given if key not in known]
        # Through the section's own class: a level another degradation does not read reads as null (`DataArgs`).
        sections[name] = dataclasses.replace(now, **{k: v for k, v in given.items() if k in known})
    for setting in unread_settings(type(base)(**sections)):
        name, field = setting.split(".")
        section = sections[name]
        sections[name] = dataclasses.replace(section, **{field: getattr(type(section)(), field)})
        ignored.append(setting)
    return type(base)(**sections), ignored

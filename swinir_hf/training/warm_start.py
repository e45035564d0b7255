"""How a run's model is built: its config resolved from `model.preset` / `model.init_from` / `model.config`, and the
starting weights of `model.init_from` transferred (`transfer_weights`), with a report of what each tensor got
(`InitReport`)."""

from __future__ import annotations

import inspect
import json
import math
import shlex
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml

from ..checkpoints.run_folder import MODEL
from ..console import shown_name
from ..models.configuration_swinir import CONFIG_ERRORS, SwinIRConfig
from ..models.constants_swinir import TASK_TABLE
from ..models.modeling_swinir import SwinIRForImageRestoration
from .sections import ModelArgs, TrainArgs


@dataclass
class InitReport:
    """What `--init-from` did to each tensor of the new model."""

    source: str
    loaded: list[str]
    reinitialised: list[str]
    dropped: list[str]
    fitted: list[str] = field(default_factory=list)  # loaded after `fit_position_bias` (another window size)
    preset: str | None = None  # model.preset: the architecture is the preset's, not the source's
    changed: list[str] = field(default_factory=list)  # without a preset: the source's config fields set otherwise
    differences: list[str] = field(default_factory=list)  # every config field set otherwise: "num_heads [2] → [4]"
    to_grey: list[str] = field(default_factory=list)  # loaded after `grey_ends` (a grey model from a colour one)
    # The source is a weights file: its config was read from the tensors' shapes, the rest of it made up (defaults).
    no_config: bool = False

    @classmethod
    def recorded(cls, start: dict[str, Any]) -> InitReport | None:
        """The report a run's record of its starting weights keeps (`recipe.start`); None for a run from scratch. A
        record of an earlier swinir-hf keeps none: the source alone, its tensors not counted (`loaded` empty)."""
        if not start.get("init_from"):
            return None
        if "report" not in start:
            return cls(start["init_from"], [], [], [])
        known = {f.name for f in fields(cls)}  # a later swinir-hf's record may report more
        return cls(**{k: v for k, v in start["report"].items() if k in known})

    def __str__(self) -> str:
        def names(items: list[str]) -> str:
            return ", ".join(items[:6]) + (f", … (+{len(items) - 6})" if len(items) > 6 else "")

        lines = [f"initialised from {shown_name(self.source)}: {len(self.loaded)} tensors loaded"]
        if self.no_config:
            lines.append(
                "  the source is a weights file with no config beside it: its architecture was read from its tensors, "
                "and no other config field of it is known to compare with this model's"
            )
        if self.differences:  # model.config of a config file applies under model.preset null too
            lines.append(f"  this model's config differs from the source's: {', '.join(self.differences)}")
        if self.fitted:
            lines.append(
                f"  of them fitted to this window size (relative-position bias, shared offsets kept): "
                f"{len(self.fitted)}: {names(self.fitted)}"
            )
        if self.to_grey:
            lines.append(
                f"  of them made grey from the colour model's (input filters summed over RGB, output filters "
                f"averaged): {len(self.to_grey)}: {names(self.to_grey)}"
            )
        if self.reinitialised:
            lines.append(
                f"  re-initialised (not in the source or shape differs): {len(self.reinitialised)}: "
                f"{names(self.reinitialised)}"
            )
        if self.dropped:
            lines.append(
                f"  dropped from the source (no place in this model): {len(self.dropped)}: {names(self.dropped)}"
            )
        return "\n".join(lines)

    def why_from_scratch(self) -> str:
        """What makes the architecture differ from the source's, and what to change: `preset=null` only where a
        preset is set (to a run without one it said to set what it had)."""
        if self.preset is not None or not self.changed:
            return (
                "With model.preset set, the architecture is the preset's (and model.config's), not the source's: "
                "model.preset=null takes the source's"
            )
        return (
            f"This run's model.config / model.scale give {', '.join(self.changed)} other than the source's: drop "
            "them to take the source's architecture"
        )


def build_model(
    args: ModelArgs, training: TrainArgs, bars: bool = True, resumed: Path | None = None
) -> tuple[SwinIRForImageRestoration, InitReport | None]:
    """The model to train, its config from the preset / `init_from` / `config` fields, starting weights loaded (with
    transformers' loading and the Hub's download bars only where `bars`: each process of a launch loads them). A run
    resumed from the checkpoint `resumed` loads none (`_starting_point`), and reports none."""
    source, base = _starting_point(args, bars, resumed)
    overrides = dict(args.config)
    if args.scale is not None and overrides.get("upscale", args.scale) != args.scale:  # one would be ignored
        raise ValueError(
            f"model.scale {args.scale} and model.config.upscale {overrides['upscale']} disagree (either may come from "
            "the config file): set both to the scale you want"
        )
    if training.loss is not None:
        overrides["loss"] = training.loss
    if training.charbonnier_eps is not None:
        overrides["charbonnier_eps"] = training.charbonnier_eps
    try:
        config = _model_config(args, base, overrides)
    except CONFIG_ERRORS as err:  # a strict-dataclass type error spans lines
        raise ValueError(f"model: {' '.join(str(err).split())}") from err
    if training.charbonnier_eps is not None and config.loss != "charbonnier":  # the run's loss would not read it
        whose = "" if training.loss else ", the model config's"
        raise ValueError(
            f"train.charbonnier_eps is only read by the charbonnier loss (this run's is {config.loss}{whose}): pass "
            "--train.loss charbonnier, or drop train.charbonnier_eps"
        )
    model = SwinIRForImageRestoration(config)
    if args.gradient_checkpointing:
        model.checkpoint_layers()
    if source is None:
        return model, None
    return model, _start_from(source, model, args)


def _start_from(source: SwinIRForImageRestoration, model: SwinIRForImageRestoration, args: ModelArgs) -> InitReport:
    """Load `source`'s weights into `model` (`transfer_weights`) and report it; raise `ValueError` where the start
    would not be the source's: too few tensors fit, or attention weights would be split into other heads."""
    report = transfer_weights(source.state_dict(), model, args.init_from)
    if source.config.num_channels == 3 and model.config.num_channels == 1:
        grey_ends(source.state_dict(), source.config, model, report)
    report.preset = args.preset
    report.no_config = _is_weights_file(args.init_from)
    given = [*args.config, *(["upscale"] * (args.scale is not None))]  # the architecture fields this run sets
    ours, theirs = model.config.to_dict(), source.config.to_dict()
    report.changed = sorted({k for k in given if ours.get(k) != theirs.get(k)})
    own = inspect.get_annotations(SwinIRConfig)  # SwinIR's fields, not transformers' bookkeeping
    if not report.no_config:  # a file's other fields are defaults, not the source's: no difference to name
        report.differences = [f"{k} {theirs.get(k)} → {ours[k]}" for k in own if ours[k] != theirs.get(k)]
    if len(report.reinitialised) > len(report.loaded):  # a task change keeps the body: most tensors load
        total, fit = len(report.loaded) + len(report.reinitialised), len(report.loaded)
        how_many, how_much = ("none", "all") if not fit else (str(fit), "most")
        raise ValueError(
            f"model.init_from: {how_many} of this model's {total} tensors fit {shown_name(args.init_from)}'s, so "
            f"{how_much} of it would start from scratch. {report.why_from_scratch()}; or drop model.init_from "
            "(--init-from) to train from scratch"
        )
    _check_heads(report, ours["num_heads"], theirs["num_heads"], args)
    return report


def _is_weights_file(spec: str) -> bool:
    """Whether `spec` names a local weights file (an authors' `.pth`, a bare `model.safetensors`): no config.json."""
    from ..checkpoints.loading import resolve_spec

    resolved = resolve_spec(spec)
    return isinstance(resolved, Path) and resolved.is_file()


def _check_heads(report: InitReport, heads: list[int], source_heads: list[int], args: ModelArgs) -> None:
    """Refuse attention weights loaded into another number of heads: `qkv` has the same shape for any head count
    (3·embed_dim × embed_dim), so they load, but each layer's queries and keys are then compared in other groups of
    channels (and the bias tables, one column per head, start afresh): not the source's model, nor a start from
    scratch. A window size change needs no such refusal: the bias tables are fitted to it (`fit_position_bias`)."""
    split = [
        i
        for i, (ours, theirs) in enumerate(zip(heads, source_heads, strict=False))
        if ours != theirs
        and any(n.startswith(f"layers.{i}.") and n.endswith(".attn.qkv.weight") for n in report.loaded)
    ]
    if not split:
        return
    keep = [source_heads[i] if i < len(source_heads) else h for i, h in enumerate(heads)]
    fix = {k: v for k, v in args.config.items() if k != "num_heads"}
    if args.preset is not None or keep != source_heads:  # else dropping it takes the source's
        fix["num_heads"] = keep
    flow = yaml.safe_dump(fix, default_flow_style=True, sort_keys=False, width=10**6).strip()
    raise ValueError(
        f"model.init_from: {shown_name(args.init_from)}'s attention weights fit this model's by shape, not its "
        f"num_heads ({source_heads} → {heads}, from model.config or model.preset): loaded, they would be split into "
        f"other heads, a different model. Keep the source's heads (--model.config {shlex.quote(flow)}), or drop "
        "model.init_from (--init-from) to train from scratch"
    )


def _starting_point(
    args: ModelArgs, bars: bool, resumed: Path | None
) -> tuple[SwinIRForImageRestoration | None, dict[str, Any]]:
    """The model whose weights the run starts from (None: none to load) and the config its architecture starts from
    without a preset (`_model_config`). A resumed run's checkpoint replaces the starting weights, which may be gone
    since (a folder of another machine): they are not loaded, and its own model's config stands in for theirs; only
    for a checkpoint without one (an earlier swinir-hf's), and no preset, is the starting model read for its config."""
    if not args.init_from:
        return None, {}
    if resumed is not None and args.preset is not None:
        return None, {}
    if resumed is not None and (resumed / MODEL / "config.json").is_file():
        return None, json.loads((resumed / MODEL / "config.json").read_text())
    from ..checkpoints.convert import CheckpointError
    from ..checkpoints.loading import load_model
    from ..library_bars import transformers_bars_off

    # Named: the path may come from a config file, not the command line.
    try:
        with transformers_bars_off(when=not bars):
            source = load_model(args.init_from)
    except CheckpointError as err:
        raise CheckpointError(f"model.init_from: {err}") from err
    except (ValueError, OSError) as err:  # an uncached Hub model (ModelNotAvailableError), ...
        raise ValueError(f"model.init_from: {err}") from err
    return (source if resumed is None else None), source.config.to_dict()


def _model_config(args: ModelArgs, base: dict[str, Any], overrides: dict) -> SwinIRConfig:
    if args.preset is not None:
        return SwinIRConfig.from_preset(args.preset, args.scale, **overrides)
    base = dict(base)
    for key in ("architectures", "transformers_version", "model_type", "torch_dtype", "dtype"):
        base.pop(key, None)
    if args.scale is not None:
        overrides["upscale"] = args.scale
    channels = overrides.get("num_channels", base.get("num_channels"))
    if channels != base.get("num_channels") and "rgb_mean" not in overrides:  # the source's means are of its channels
        # A grey model from a colour one subtracts their mean, which keeps its start closest to it (`grey_ends`).
        means = base.get("rgb_mean") or []
        overrides["rgb_mean"] = [round(sum(means) / len(means), 6)] if channels == 1 and len(means) == 3 else None
    if channels != base.get("num_channels") and "task" not in overrides:  # color_dn's weights made a gray_dn model
        overrides["task"] = task_for_channels(base.get("task"), channels)
    return SwinIRConfig(**{**base, **overrides})


def task_for_channels(task: str | None, channels: int) -> str | None:
    """`task`'s counterpart for `channels` (1: grey, 3: colour) in `TASK_TABLE`: the task restoring the same kind of
    input for the other channels (color_dn ↔ gray_dn, color_jpeg_car ↔ jpeg_car); `task` itself where it has none
    (super-resolution is one task for either)."""
    row = TASK_TABLE.get(task or "")
    want = {1: "grey", 3: "colour"}.get(channels)
    if row is None or row.short not in ("grey", "colour") or want is None or row.short == want:
        return task
    return next((k for k, t in TASK_TABLE.items() if t.restores == row.restores and t.short == want), task)


def transfer_weights(state: dict[str, torch.Tensor], model: torch.nn.Module, source: str) -> InitReport:
    """Copy every tensor of `state` whose name and shape exist in `model`, and every relative-position bias table
    of another window size but the same heads, fitted (`fit_position_bias`); report the rest."""
    target = model.state_dict()
    fits = {k: v for k, v in state.items() if k in target and target[k].shape == v.shape}
    fitted = {
        k: fit_position_bias(v, target[k].shape[0])
        for k, v in state.items()
        if k.endswith(".relative_position_bias_table")
        and k in target
        and k not in fits
        and v.shape[1:] == target[k].shape[1:]
    }
    model.load_state_dict({**fits, **fitted}, strict=False)
    loaded = set(fits) | set(fitted)
    return InitReport(
        source=source,
        loaded=sorted(loaded),
        reinitialised=sorted(set(target) - loaded),
        dropped=sorted(set(state) - loaded),
        fitted=sorted(fitted),
    )


def grey_ends(state: dict[str, torch.Tensor], colour: SwinIRConfig, model: torch.nn.Module, report: InitReport) -> None:
    """Load a colour model's `conv_first` and `conv_last` (`state`, of config `colour`) into the grey `model`, in
    place of the fresh ones `transfer_weights` left there (their channels differ), and move them to `report.to_grey`:
    the colour model fed a grey image as R = G = B meets the sum of its RGB input filters, and its grey output is the
    mean of its RGB ones. Biases take up the difference of the models' `rgb_mean` and `img_range`, so the grey model
    restores a grey image as the colour model does the same image in RGB, averaged: exactly where the colour means
    are equal, else up to the image border (the zero padding of `conv_first` meets other means there). A
    pixel-shuffle-direct head (`upsample.0`, no `conv_last`) is left re-initialised."""
    grey, target = model.config, model.state_dict()
    means = torch.tensor(colour.rgb_mean, dtype=torch.float64) - grey.rgb_mean[0]
    ratio = grey.img_range / colour.img_range
    made = {}
    w, b = state.get("conv_first.weight"), state.get("conv_first.bias")
    if w is not None and target["conv_first.weight"].shape == (w.shape[0], 1, *w.shape[2:]) and w.shape[1] == 3:
        made["conv_first.weight"] = w.sum(1, keepdim=True) / ratio
        made["conv_first.bias"] = b - colour.img_range * (w.double().sum((2, 3)) @ means).to(b.dtype)
    w, b = state.get("conv_last.weight"), state.get("conv_last.bias")
    if w is not None and target.get("conv_last.weight", w).shape == (1, *w.shape[1:]) and w.shape[0] == 3:
        # Without an upsampler the output is the input plus the head's: the means cancel out.
        offset = 0.0 if grey.upsampler is None else grey.img_range * float(means.mean())
        made["conv_last.weight"] = w.mean(0, keepdim=True) * ratio
        made["conv_last.bias"] = b.mean(0, keepdim=True) * ratio + offset
    model.load_state_dict(made, strict=False)
    report.to_grey = sorted(made)
    report.loaded = sorted({*report.loaded, *made})
    report.reinitialised = [k for k in report.reinitialised if k not in made]
    report.dropped = [k for k in report.dropped if k not in made]


def fit_position_bias(table: torch.Tensor, rows: int) -> torch.Tensor:
    """A ((2·ws-1)², heads) relative-position bias table for another window ws', ((2·ws'-1)² = `rows`, heads).

    Both index the same pixel offsets (dy, dx) at the same image scale, so a smaller window keeps the source's biases
    of the offsets it has (the table's centre) and a larger one repeats the outermost ones beyond: no interpolation,
    which would shift every offset's bias (Swin's bicubic resize suits a change of image resolution, not this).
    """
    n, m = math.isqrt(table.shape[0]), math.isqrt(rows)
    if n * n != table.shape[0] or m * m != rows or n % 2 == 0 or m % 2 == 0:
        raise ValueError(f"not relative-position bias tables of (2·ws-1)² rows: {table.shape[0]} → {rows}")
    grid = table.T.reshape(1, -1, n, n)  # (1, heads, dy, dx)
    if m < n:
        cut = (n - m) // 2
        grid = grid[..., cut : cut + m, cut : cut + m]
    elif m > n:
        grid = F.pad(grid.float(), (((m - n) // 2),) * 4, mode="replicate").to(table.dtype)
    return grid.reshape(-1, m * m).T.contiguous()

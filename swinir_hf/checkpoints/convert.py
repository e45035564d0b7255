"""Import of the authors' released checkpoints (`.pth` / `.safetensors` state dicts).

Every hyperparameter that shapes the network is read off the state dict; the derived buffers the authors store
(`relative_position_index`, `attn_mask`) are checked against what this package computes, then dropped.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch

from ..console import shown_name
from ..models.configuration_swinir import CONFIG_ERRORS, SwinIRConfig
from ..models.modeling_swinir import SwinIRForImageRestoration
from ..models.windows_swinir import relative_position_index, shift_window_mask
from .checkpoint_files import CheckpointError, load_state_dict_file
from .weight_keys import WEIGHT_KEYS

# The authors' files store these buffers; this model rebuilds them (`relative_position_index`, `shift_window_mask`).
BUFFER_SUFFIXES = (".relative_position_index", ".attn_mask")
_BLOCK = re.compile(r"^layers\.(\d+)\.residual_group\.blocks\.(\d+)\.")


def extract_state_dict(obj: Mapping[str, Any], weights_key: str | None = None) -> dict[str, torch.Tensor]:
    """Unwrap `{'params_ema': ...}` / `{'params': ...}` / bare dicts and strip DataParallel `module.` prefixes.

    `params_ema` (the weight EMA, BasicSR's better weights) is preferred over `params` when both are present; the
    authors' test script takes it for real-world SR only, but every released file holds one of them: pass
    `weights_key` to choose in a file of your own training.
    """
    if weights_key is not None:
        if weights_key not in obj:
            raise CheckpointError(f"checkpoint has no {weights_key!r} entry; it has {sorted(obj)[:10]}")
        obj = obj[weights_key]
        if not isinstance(obj, Mapping):
            raise CheckpointError(f"checkpoint entry {weights_key!r} holds {_kind(obj)}, not a state dict")
    elif found := next((key for key in WEIGHT_KEYS if isinstance(obj.get(key), Mapping)), None):
        obj = obj[found]
    elif nested := [key for key, value in obj.items() if isinstance(value, Mapping)]:  # a trainer's own key
        raise CheckpointError(
            f"the checkpoint holds its weights neither at the top level nor under {', '.join(WEIGHT_KEYS)}: if "
            f"{nested[0]!r} holds them, pass --weights-key {nested[0]} (weights_key={nested[0]!r})"
        )
    state = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"entry {key!r} holds {_kind(value)}, not a tensor: not a state dict")
        state[key.removeprefix("module.")] = value
    return state


def _kind(value: Any) -> str:
    """What a checkpoint entry holds, for a message: "an int", "a list"."""
    name = type(value).__name__
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _check_complete(state: Mapping[str, torch.Tensor]) -> None:
    """Every bias with its layer's weight: a head's weight cut from a checkpoint would otherwise pass it for another
    head (they are told apart by their weights), and be reported as that head's misfits, not as the missing key."""
    for key in state:
        if key.endswith(".bias") and (weight := key.removesuffix(".bias") + ".weight") not in state:
            raise CheckpointError(f"incomplete checkpoint: missing {weight} (its bias is there)")


# Keys of other architectures' checkpoints that users take for SwinIR's (upscalers beside it, and its successors,
# which share much of its key layout): RRDBNet, of ESRGAN (`RRDB_trunk.`, old `model.1.sub.`) and Real-ESRGAN /
# BasicSR (`body.0.rdb1.`); Swin2SR (SwinV2 attention: `logit_scale`, `cpb_mlp`; transformers' port: `swin2sr.`); HAT
# (its overlapping cross-attention and channel-attention blocks).
_OTHER_ARCHITECTURES = {
    re.compile(r"^(RRDB_trunk\.|body\.0\.rdb1\.|model\.1\.sub\.0\.RDB1\.)"): "an RRDBNet's (ESRGAN / Real-ESRGAN)",
    re.compile(r"\.attn\.(logit_scale|cpb_mlp\.)|^swin2sr\."): "a Swin2SR's",
    re.compile(r"^relative_position_index_(SA|OCA)$|\.overlap_attn\.|\.conv_block\.cab\."): "a HAT's",
}


def _check_architecture(state: Mapping[str, torch.Tensor]) -> None:
    """Refuse, saying what it is, a state dict of an architecture mistaken for SwinIR's: HAT's and Swin2SR's share
    most of its keys, and were refused for the rest, as a damaged SwinIR file (missing or unexpected keys)."""
    for marker, name in _OTHER_ARCHITECTURES.items():
        if key := next((k for k in state if marker.search(k)), None):
            raise CheckpointError(
                f"not a SwinIR checkpoint (it has {key!r}); its keys are {name}, not SwinIR's: run it with that "
                "project's code"
            )


def _require(state: Mapping[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(f"not a SwinIR checkpoint: missing {key!r} (keys start with {sorted(state)[:5]})")
    return state[key]


def detect_config(state: Mapping[str, torch.Tensor], **overrides: Any) -> SwinIRConfig:
    """Infer the `SwinIRConfig` of an authors' state dict from its keys and shapes alone.

    `img_range` is not stored in the weights: as in the authors' releases it is 255 for window-7 same-size models
    (JPEG artifact reduction) and 1 otherwise; pass `img_range=` to override any detected field.
    """
    # SwinIRConfig keeps unknown keys as extra attributes: a misspelt override (img_rnge=) would be dropped unseen.
    if unknown := sorted(set(overrides) - {f.name for f in dataclasses.fields(SwinIRConfig)}):
        raise TypeError(f"{', '.join(unknown)} is not a SwinIRConfig field")
    _check_architecture(state)
    _check_complete(state)
    fields = _body_fields(state)
    fields |= _head_fields(state, fields["num_channels"], fields["window_size"])
    fields.update(overrides)
    try:
        return SwinIRConfig(**fields)
    except CONFIG_ERRORS as err:
        raise CheckpointError(f"the detected hyperparameters are inconsistent: {' '.join(str(err).split())}") from err


def _body_fields(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The shallow conv and Swin body's config fields: widths, depths, heads, window, patch size, options."""
    conv_first = _require(state, "conv_first.weight")
    _require(state, "layers.0.residual_group.blocks.0.attn.relative_position_bias_table")
    embed_dim, num_channels = conv_first.shape[:2]

    blocks: dict[int, set[int]] = {}
    for key in state:
        if m := _BLOCK.match(key):
            blocks.setdefault(int(m[1]), set()).add(int(m[2]))
    if sorted(blocks) != list(range(len(blocks))) or any(sorted(b) != list(range(len(b))) for b in blocks.values()):
        raise CheckpointError(f"RSTB / Swin layer numbering has gaps: {dict(sorted(blocks.items()))}")
    tables = [state[f"layers.{i}.residual_group.blocks.0.attn.relative_position_bias_table"] for i in blocks]
    window_size = (math.isqrt(tables[0].shape[0]) + 1) // 2
    if (2 * window_size - 1) ** 2 != tables[0].shape[0]:
        raise CheckpointError(f"relative_position_bias_table has {tables[0].shape[0]} rows, not (2·ws-1)²")
    fc1 = _require(state, "layers.0.residual_group.blocks.0.mlp.fc1.weight")

    if "absolute_pos_embed" in state:
        image_size = math.isqrt(state["absolute_pos_embed"].shape[1])
    elif masks := [v for k, v in state.items() if k.endswith(".attn_mask")]:
        image_size = window_size * math.isqrt(masks[0].shape[0])  # (img/ws)² windows
    else:  # derived buffers stripped: the training patch size is unknown and irrelevant at inference
        image_size = window_size * 8
    return {
        "num_channels": num_channels,
        "embed_dim": embed_dim,
        "depths": [len(blocks[i]) for i in range(len(blocks))],
        "num_heads": [t.shape[1] for t in tables],
        "window_size": window_size,
        "image_size": image_size,
        "mlp_ratio": fc1.shape[0] / embed_dim,
        "qkv_bias": "layers.0.residual_group.blocks.0.attn.qkv.bias" in state,
        "patch_norm": "patch_embed.norm.weight" in state,
        "use_absolute_embeddings": "absolute_pos_embed" in state,
        "resi_connection": "3conv" if "conv_after_body.0.weight" in state else "1conv",
    }


def _head_fields(state: Mapping[str, torch.Tensor], num_channels: int, window_size: int) -> dict[str, Any]:
    """The reconstruction head's fields (upsampler, scale, num_feat) and the task it implies."""
    if "conv_up1.weight" in state:
        return {
            "upsampler": "nearest+conv",
            "upscale": 4 if "conv_up2.weight" in state else 2,
            "num_feat": state["conv_before_upsample.0.weight"].shape[0],
            "task": "real_sr",
        }
    if "conv_before_upsample.0.weight" in state:
        num_feat = state["conv_before_upsample.0.weight"].shape[0]
        convs = [state[k] for k in sorted(state) if re.fullmatch(r"upsample\.\d+\.weight", k)]
        scale = 3 if len(convs) == 1 and convs[0].shape[0] == 9 * num_feat else 2 ** len(convs)
        return {"upsampler": "pixelshuffle", "upscale": scale, "num_feat": num_feat, "task": "classical_sr"}
    if "upsample.0.weight" in state:
        scale = math.isqrt(state["upsample.0.weight"].shape[0] // num_channels)
        return {"upsampler": "pixelshuffledirect", "upscale": scale, "task": "lightweight_sr"}
    jpeg = window_size == 7  # the authors' JPEG models use window 7, their denoisers window 8
    if num_channels == 1:
        task = "jpeg_car" if jpeg else "gray_dn"
    else:
        task = "color_jpeg_car" if jpeg else "color_dn"
    return {"upsampler": None, "upscale": 1, "img_range": 255.0 if jpeg else 1.0, "task": task}


def _check_buffers(state: Mapping[str, torch.Tensor], config: SwinIRConfig) -> None:
    """The authors store derived buffers; they must equal what this package derives."""
    ws = config.window_size
    index = relative_position_index(ws)
    mask = None
    for key, value in state.items():
        if key.endswith(".relative_position_index") and not torch.equal(value.long(), index):
            raise CheckpointError(f"{key} differs from the standard relative-position index for window {ws}")
        if key.endswith(".attn_mask"):
            if mask is None:
                mask = shift_window_mask(config.image_size, config.image_size, ws, ws // 2)
            if value.shape != mask.shape or not torch.equal(value.float(), mask):
                raise CheckpointError(f"{key} differs from the shift mask of a {config.image_size}² patch")


def load_into(model: SwinIRForImageRestoration, state: Mapping[str, torch.Tensor]) -> None:
    """Strictly load parameters into `model`, raising `CheckpointError` that lists every mismatch."""
    params = {k: v for k, v in state.items() if not k.endswith(BUFFER_SUFFIXES)}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(params))
    unexpected = sorted(set(params) - set(expected))
    shapes = [
        f"{k}: checkpoint {tuple(params[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(params) & set(expected))
        if params[k].shape != expected[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)):
            if items:
                more = f" (+{len(items) - 8} more)" if len(items) > 8 else ""
                parts.append(f"{title}: {', '.join(items[:8])}{more}")
        raise CheckpointError("state dict does not fit the SwinIR configuration; " + "; ".join(parts))
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in params.items()}, strict=True)


def convert_original_checkpoint(
    checkpoint: str | os.PathLike | Mapping[str, Any],
    weights_key: str | None = None,
    *,
    dtype: torch.dtype | Literal["auto"] = torch.float32,
    **config_overrides: Any,
) -> SwinIRForImageRestoration:
    """Build a `SwinIRForImageRestoration` from an authors' checkpoint, detecting its configuration.

    Args:
        checkpoint: path to a `.pth` / `.safetensors` file, or an already loaded (possibly wrapped) state dict.
        weights_key: entry holding the weights (`params` / `params_ema`); found automatically when unset.
        dtype: the model's dtype (a torch floating dtype), or `"auto"`, as `from_pretrained`'s: the one the weights
            are stored in (`storage_dtype`), a float16 file converting to a float16 model value for value; in float16
            the modules where it overflows stay float32, as `from_pretrained` keeps them.
        config_overrides: config fields to set instead of detecting them (e.g. `img_range`, `task`).

    Returns:
        The model in eval mode.
    """
    if not isinstance(checkpoint, (str, os.PathLike, Mapping)):
        raise TypeError(f"checkpoint must be a file path or a state dict, got {type(checkpoint).__name__}")
    if dtype != "auto" and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a torch floating dtype (torch.float16) or 'auto', got {dtype!r}")
    if not isinstance(checkpoint, (str, os.PathLike)):
        return _converted(extract_state_dict(checkpoint, weights_key), dtype, config_overrides)
    try:
        model = _converted(extract_state_dict(load_state_dict_file(checkpoint), weights_key), dtype, config_overrides)
    except ValueError as err:  # CheckpointError, and a configuration the detected fields do not make
        if shown_name(Path(checkpoint)) in str(err):  # load_state_dict_file's own messages name it (as a Path)
            raise
        raise CheckpointError(f"{shown_name(checkpoint)}: {err}") from None  # which of several --model it is
    check_named_release(model, Path(checkpoint))
    return model


def _converted(
    state: Mapping[str, torch.Tensor], dtype: torch.dtype | str, config_overrides: dict[str, Any]
) -> SwinIRForImageRestoration:
    """The model of an extracted state dict: its configuration detected, its weights loaded, in eval mode."""
    config = detect_config(state, **config_overrides)
    _check_buffers(state, config)
    with torch.random.fork_rng(devices=[]):  # the initial weights are all replaced: leave a seeded script's draws
        model = SwinIRForImageRestoration(config)
    load_into(model, state)
    model.to(storage_dtype(state) if dtype == "auto" else dtype)
    for name in model._keep_in_fp32_modules if model.dtype == torch.float16 else ():
        if (module := getattr(model, name, None)) is not None:  # this head's (`upsample`, `conv_last`, ...)
            module.float()
    return model.eval()


def storage_dtype(state: Mapping[str, torch.Tensor]) -> torch.dtype:
    """The floating dtype `state`'s body is stored in (the authors' float32, a float16 copy's float16), as a model's
    `dtype` is its body's: the edges a float16 model keeps in float32 (`_keep_in_fp32_modules`, as `convert` and
    `save_pretrained` write float16 folders) do not count, unless nothing else is floating; float32 for a body stored
    in several (no one precision holds it, float32 holds every value)."""
    floating = {k: v.dtype for k, v in state.items() if v.is_floating_point() and not k.endswith(BUFFER_SUFFIXES)}
    kept = set(SwinIRForImageRestoration._keep_in_fp32_modules)
    dtypes = {v for k, v in floating.items() if k.split(".", 1)[0] not in kept} or set(floating.values())
    return dtypes.pop() if len(dtypes) == 1 else torch.float32


# Fields a catalogue release fixes: a file named like one must convert to them.
RELEASE_FIELDS = (
    "task",
    "num_channels",
    "upscale",
    "image_size",
    "embed_dim",
    "depths",
    "num_heads",
    "window_size",
    "mlp_ratio",
    "upsampler",
    "resi_connection",
    "img_range",
)


def check_named_release(model: SwinIRForImageRestoration, checkpoint: Path) -> None:
    """Raise `CheckpointError` when `checkpoint` is named like a catalogue release (`find_release`) but `model`,
    converted from it, lacks some of its `RELEASE_FIELDS` values: a cut or damaged copy converts into another model
    (a ×4 file without its last upsampling step into a ×2 one), which would otherwise run silently."""
    from .catalog import find_release

    if (release := find_release(checkpoint.name)) is None:
        return
    expected = release.config()
    wrong = [
        f"{name} {getattr(model.config, name)!r} (catalogue: {getattr(expected, name)!r})"
        for name in RELEASE_FIELDS
        if getattr(model.config, name) != getattr(expected, name)
    ]
    if wrong:
        raise CheckpointError(
            f"{shown_name(checkpoint)} is named like the release {release.file} but its weights do not match it: "
            f"{', '.join(wrong)}; the file may be cut or damaged (download it again), or another model (rename it)"
        )

"""How a run compiles its training steps (`train.compile`): the whole model through accelerate's dynamo plugin, or
each Swin layer on its own (`train.compile_regions`)."""

from __future__ import annotations

from typing import Any

import torch

from ..models.modeling_swinir import SwinTransformerBlock
from .sections import TrainArgs


def dynamo_plugin(t: TrainArgs) -> Any:
    """accelerate's torch.compile plugin for `train.compile` of the whole model; None when the steps run eagerly or
    `train.compile_regions` compiles the Swin layers instead (`compile_layers`)."""
    from accelerate.utils import TorchDynamoPlugin

    if t.compile is None or t.compile_regions:
        return None
    return TorchDynamoPlugin(backend=t.compile.upper(), mode=t.compile_mode)


def compile_layers(model: torch.nn.Module, backend: str, mode: str | None) -> str:
    """Compile each Swin layer of `model` in place (`nn.Module.compile`: names and state dict unchanged) with
    torch.compile's `backend` and `mode`; returns a line for the log. Dynamo traces the layers' parameters as
    inputs, and stochastic depth comes in drawn (`stochastic_depth_scales`), so layers alike reuse one graph: one
    per kind (shifted windows or not, with stochastic depth or without: the first layer's rate is 0; per head
    count). The kinds share one function, whose graphs torch caps (`torch._dynamo.config.recompile_limit`, 8 by
    default, past which it runs the layers of other kinds eagerly): the cap is raised to the kinds where fewer."""
    layers = [m for m in model.modules() if isinstance(m, SwinTransformerBlock)]
    for layer in layers:
        layer.compile(backend=backend, mode=mode)
    kinds = len({(layer.shift_size, layer.drop_path_rate > 0, layer.attn.num_heads) for layer in layers})
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, kinds)
    return f"train.compile_regions: {len(layers)} Swin layers compiled apart, {kinds} graphs"

"""SwinIR (Liang et al., 2021): shallow conv → residual Swin Transformer blocks → conv → reconstruction head.

Parameter names equal the authors' release files, so their checkpoints load after dropping the derived buffers
(`relative_position_index`, `attn_mask`), which this implementation computes (and caches) instead of storing.

Top-down: the window geometry, the network as the paper builds it, then how it loads and saves, then the machinery
that makes inference fast and bounded in memory without changing its results.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import math
import os
import shutil
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedConfig, PreTrainedModel
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils import ModelOutput, can_return_tuple

from .configuration_swinir import SwinIRConfig
from .hub_push_swinir import SaidPush

logger = logging.getLogger(__name__)

# What a model's cached shift masks may take together while it keeps more than the 2 sizes built last (which it
# keeps whatever they take: an ensemble alternates H×W and W×H); `_evict_shift_masks`.
SHIFT_MASK_CACHE_BYTES = 256 << 20


# --- windows: partition, shifts and the relative-position index ---------------------------------------------------


@lru_cache(maxsize=16)
def relative_position_index(window_size: int, device: torch.device | None = None) -> torch.Tensor:
    """(ws², ws²) int64 index into the (2·ws-1)² relative-position bias table, on `device` (None: the CPU)."""
    # Cached: built outside inference mode so that training may reuse it after an inference_mode() call.
    with torch.inference_mode(False):
        steps = torch.arange(window_size, device=device)
        coords = torch.stack(torch.meshgrid(steps, steps, indexing="ij"))
        coords = coords.flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window_size - 1)
        return rel[..., 0] * (2 * window_size - 1) + rel[..., 1]


def on_device(build: Callable[..., torch.Tensor], args: tuple, device: torch.device) -> torch.Tensor:
    """`build(*args)` (`relative_position_index`, `shift_border_windows`) built on `device` and cached there by
    `build`'s own cache, since a copy from host memory per layer and step makes the host wait for the GPU each time
    (counted in the repository's benchmarks/README.md). Under torch.compile traced, not cached (dynamo warns on an
    lru_cache call), and still built on `device`: a compiled graph with a host tensor would copy it to the GPU at
    every step, and CUDA graphs (inductor's reduce-overhead mode) skip such a graph."""
    if torch.compiler.is_compiling():
        return build.__wrapped__(*args, device=device)
    return build(*args, device=device)


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """(B, H, W, C) → (B·nW, ws², C), windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // window_size, window_size, w // window_size, window_size, c)
    return x.transpose(2, 3).reshape(-1, window_size * window_size, c)


def window_reverse(windows: torch.Tensor, window_size: int, h: int, w: int, b: int = -1) -> torch.Tensor:
    """(B·nW, ws², C) → (B, H, W, C); inverse of `window_partition`. `b`: B where known (-1: inferred), which
    keeps a traced B symbolic."""
    c = windows.shape[-1]
    x = windows.view(b, h // window_size, w // window_size, window_size, window_size, c)  # b given: no inferred size
    return x.transpose(2, 3).reshape(b, h, w, c)


def shift_window_mask(h: int, w: int, window_size: int, shift: int, device: torch.device | None = None) -> torch.Tensor:
    """(nW, ws², ws²) additive mask (0 / -100, as the authors) separating regions rolled into one window, on
    `device` (None: the CPU)."""
    region = torch.zeros(1, h, w, 1, device=device)
    bounds = (slice(0, -window_size), slice(-window_size, -shift), slice(-shift, None))
    for i, hs in enumerate(bounds):
        for j, ws in enumerate(bounds):
            region[:, hs, ws, :] = i * 3 + j
    region = window_partition(region, window_size).squeeze(-1)
    diff = region[:, None, :] - region[:, :, None]
    return torch.where(diff != 0, -100.0, 0.0)


class ShiftMaskCache(dict):
    """A model's shift masks by (H, W, device): derived from its config alone, so a copy of the model starts with
    none. A deep copy that copied them would iterate this dict while another thread running the model may add a
    mask ("dictionary changed size during iteration": the engine copies a model that a thread is running to run it
    in another dtype)."""

    def __deepcopy__(self, memo: dict) -> ShiftMaskCache:
        return type(self)()

    def __reduce__(self) -> tuple:  # pickled (torch.save of a whole model) empty too
        return type(self), ()


@lru_cache(maxsize=64)  # a size per device and input size
def shift_border_windows(h: int, w: int, window_size: int, device: torch.device | None = None) -> torch.Tensor:
    """int64 indices, on `device` (None: the CPU), of the windows of an H×W map where `shift_window_mask` is not
    zero: the last row and column of windows, where rolled regions meet. From the geometry, not the mask, so that
    compilers and exporters see a fixed size (`nonzero` on the mask has a data-dependent one, which `torch.export`
    refuses)."""
    rows, cols = h // window_size, w // window_size
    with torch.inference_mode(False):  # cached, as `relative_position_index`
        # Tensor ops, not a Python loop over rows / cols: traced with symbolic sizes they stay symbolic.
        k = torch.arange(rows + cols - 1, device=device)  # the last column's first rows - 1 windows, then the last row
        return torch.where(k < rows - 1, k * cols + (cols - 1), (rows - 1) * cols + k - (rows - 1))


def _window_range(windows: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """The indices in `windows` (sorted) that fall in [lo, hi), counted from lo: a chunk's own border windows."""
    first, last = (int(torch.searchsorted(windows, bound)) for bound in (lo, hi))
    return windows[first:last] - lo


def stochastic_depth_scales(x: torch.Tensor, p: float, training: bool) -> torch.Tensor | None:
    """Stochastic depth of a Swin layer's two residual branches (attention, then MLP) on the (B, L, C) tokens `x`:
    (2, B, 1, 1) factors, 0 (the sample's branch dropped, with probability p) or 1 / (1 - p); None when p is 0 or
    not `training`. Drawn outside the layer and passed in: compiled layers of different rates then share one graph
    (a rate inside a layer is a constant of its graph)."""
    if p == 0.0 or not training:
        return None
    keep = [x.new_empty((x.shape[0], 1, 1)).bernoulli_(1 - p) for _ in range(2)]  # the branches' draws, in turn
    return torch.stack(keep) / (1 - p)


# --- the network, as the paper: window attention → Swin layer → RSTB → heads → model ------------------------------


class WindowAttention(nn.Module):
    """Multi-head self-attention inside ws×ws windows with a learned relative-position bias.

    `config._attn_implementation` (read at each call, so `set_attn_implementation` takes effect) picks the kernel:
    "sdpa" (the default) `F.scaled_dot_product_attention`, "eager" explicit matmuls and softmax (the authors' code).
    Under "sdpa", CPU inference takes whichever of the two `faster_cpu_attention` finds faster on this machine
    (`cpu_attention_kernel`).
    """

    def __init__(self, config: SwinIRConfig, num_heads: int) -> None:
        super().__init__()
        dim, ws = config.embed_dim, config.window_size
        self.config = config
        self.num_heads = num_heads
        self.window_size = ws
        self.scale = config.qk_scale or (dim // num_heads) ** -0.5
        self.attn_drop = config.attention_probs_dropout_prob
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, num_heads))
        self.qkv = Linear(dim, dim * 3, bias=config.qkv_bias)
        self.proj = Linear(dim, dim)
        self.proj_drop = nn.Dropout(config.hidden_dropout_prob)

    def position_bias(self) -> torch.Tensor:
        """(heads, ws², ws²) relative-position bias."""
        index = on_device(relative_position_index, (self.window_size,), self.relative_position_bias_table.device)
        n = self.window_size**2
        return self.relative_position_bias_table[index.view(-1)].view(n, n, -1).permute(2, 0, 1).contiguous()

    def forward(
        self,
        windows: torch.Tensor,
        mask: torch.Tensor | None,
        border: torch.Tensor | None = None,
        attentions: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """windows: (B·nW, ws², C), image-major; mask: None, or the (nW, ws², ws²) shift mask of the nW window
        positions each image's windows cycle through; border: the indices of the mask's non-zero windows
        (`shift_border_windows`, on the windows' device; needed with a mask), the only ones SDPA computes with the
        mask → (B·nW, ws², C).
        A list given as `attentions` gets the attention probabilities, (B·nW, heads, ws², ws²), from the explicit
        path."""
        bnw, n, c = windows.shape
        heads, hd = self.num_heads, c // self.num_heads
        qkv = self.qkv(windows).view(bnw, n, 3, heads, hd).permute(2, 0, 3, 1, 4)  # (3, B·nW, heads, n, hd)
        bias = self.position_bias().to(qkv.dtype).unsqueeze(0)
        # A training layer without autograd (reentrant checkpointing's first pass) is not inference: it must draw
        # the dropout its recomputation draws, so it takes the training kernel.
        inference = not (torch.is_grad_enabled() or self.training)
        if (
            attentions is not None
            or self.config._attn_implementation == "eager"
            or (windows.device.type == "cpu" and inference and self._cpu_matmuls(qkv))
            or (not inference and _exporting())  # exporters (ONNX) fail decomposing SDPA's backward-ready output
        ):
            # One contiguous copy of q, k, v lets the matmuls read them (and k transposed) without copying each;
            # chunked CPU inference keeps the scores small.
            q, k, v = qkv.contiguous().unbind(0)
            # In place only without autograd: unbind's views may not be modified where gradients flow.
            scores = torch.matmul(q.mul_(self.scale) if inference else q * self.scale, k.transpose(-2, -1)).add_(bias)
            if mask is not None:
                scores.view(-1, mask.shape[0], heads, n, n).add_(mask.to(scores.dtype).unsqueeze(1))
            probs = F.dropout(scores.softmax(-1), self.attn_drop, self.training)
            if attentions is not None:
                attentions.append(probs)
            out = torch.matmul(probs, v).transpose(1, 2).reshape(bnw, n, c)
            return self.proj_drop(self.proj(out))
        pad = fused_sdpa_padding(hd, windows.device)
        q, k, v = (F.pad(qkv, (0, pad)) if pad else qkv).unbind(0)
        dropout = self.attn_drop if self.training else 0.0
        if mask is not None and border.numel() and shifted_in_one_pass(mask.shape[0], bnw, border.numel(), q.device):
            return self.proj_drop(self.proj(self._attention_in_one_call(q, k, v, bias, mask, dropout, hd)))
        # A 4-D mask lets CPU SDPA take its fused kernel (faster); a 3-D one falls back to the math path.
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout, scale=self.scale)
        if mask is not None and border.numel():
            # The shift mask is zero except in the last row and column of windows (where rolled regions meet), so
            # every window gets the plain bias above and only those few are recomputed with bias + mask: no
            # (B·nW, heads, n, n) combined mask is ever built.
            nw = mask.shape[0]
            idx = (torch.arange(bnw // nw, device=q.device)[:, None] * nw + border).flatten()
            masked = bias + mask[border].to(qkv.dtype).unsqueeze(1).repeat(bnw // nw, 1, 1, 1)
            redo = F.scaled_dot_product_attention(
                q[idx], k[idx], v[idx], attn_mask=masked, dropout_p=dropout, scale=self.scale
            )
            # In place without autograd (SDPA's backward needs its output unchanged): the CPU kernel returns the
            # output token-major ((B·nW, n, heads, hd), seen transposed), so the reshape below is a view; an
            # out-of-place index_copy would copy it head-major, and the reshape then copy it back.
            out = out.index_copy_(0, idx, redo) if inference else out.index_copy(0, idx, redo)
        out = out[..., :hd].transpose(1, 2).reshape(bnw, n, c)
        return self.proj_drop(self.proj(out))

    def _attention_in_one_call(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        bias: torch.Tensor,
        mask: torch.Tensor,
        dropout: float,
        head_dim: int,
    ) -> torch.Tensor:
        """Shifted windows' attention in one SDPA call: q, k, v (B·nW, heads, n, d ≥ head_dim, d - head_dim zero
        channels), bias (1, heads, n, n), mask (nW, n, n) → (B·nW, n, heads · head_dim).

        Every window position's bias + mask, (1, nW · heads, n, n), broadcast over the batch (`shifted_in_one_pass`
        says when): no second call, gathers or scatter, and the same sums per window (bias + 0 off the border)."""
        nw, n = mask.shape[0], mask.shape[-1]
        b, heads = q.shape[0] // nw, q.shape[1]
        masked = (bias + mask.to(bias.dtype).unsqueeze(1)).reshape(1, nw * heads, n, n)
        # 4-D, window positions × heads as SDPA's heads: the fused kernels take 4-D inputs only (a copy where q is a
        # strided view of the qkv projection; none for CUDA's padded heads).
        q, k, v = (t.reshape(b, nw * heads, n, t.shape[-1]) for t in (q, k, v))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=masked, dropout_p=dropout, scale=self.scale)
        out = out.view(b, nw, heads, n, -1)[..., :head_dim]
        return out.permute(0, 1, 3, 2, 4).reshape(b * nw, n, heads * head_dim)

    def _cpu_matmuls(self, qkv: torch.Tensor) -> bool:
        """Whether CPU inference takes the explicit matmuls (under "sdpa": `cpu_attention_kernel`'s choice)."""
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            return True  # no timing inside a trace; the explicit path is the one exporters have always seen
        _, _, heads, tokens, head_dim = qkv.shape
        return cpu_attention_kernel(heads, tokens, head_dim, qkv.dtype) == "matmul"


def shifted_in_one_pass(positions: int, windows: int, border: int, device: torch.device) -> bool:
    """Whether SDPA takes `windows` shifted windows (images × `positions` window positions, `border` of them on the
    mask's border) in one call with every position's mask, rather than plainly and then the border windows again
    with theirs: when that mask (`positions` of them) is no larger than the border windows' (images × `border`), as
    for training's batches of small patches. Not yet on CUDA, where it is still to be timed (the GPU lease's probe
    times both: benchmarks/shifted_attention.py)."""
    return device.type != "cuda" and positions <= windows // positions * border


def _exporting() -> bool:
    """Whether `torch.export` (which `torch.onnx.export(dynamo=True)` runs) is tracing this call."""
    is_exporting = getattr(torch.compiler, "is_exporting", None)  # torch ≥ 2.7
    return bool(is_exporting and is_exporting())


class Mlp(nn.Module):
    def __init__(self, config: SwinIRConfig) -> None:
        super().__init__()
        hidden = int(config.embed_dim * config.mlp_ratio)
        self.fc1 = Linear(config.embed_dim, hidden)
        self.fc2 = Linear(hidden, config.embed_dim)
        self.drop = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.fc1, Linear):
            hidden = self.fc1(x, activation="gelu")  # fused into the matmul in CPU inference
        else:
            # fc1 replaced by a wrapper (PEFT's LoRA layer passes keyword arguments on to the layer it wraps and adds
            # its update to what that returns): a GELU fused there would come before the update, not after it.
            hidden = F.gelu(self.fc1(x))
        return self.drop(self.fc2(self.drop(hidden)))


class SwinTransformerBlock(GradientCheckpointingLayer):
    """One Swin layer: (shifted) window attention and an MLP, each pre-norm with a residual."""

    def __init__(self, config: SwinIRConfig, num_heads: int, shift: bool, drop_path_rate: float) -> None:
        super().__init__()
        ws = config.window_size
        # As the authors: a training patch no larger than one window disables shifting.
        self.shift_size = ws // 2 if shift and config.image_size > ws else 0
        self.config = config
        self.window_size = ws
        self.drop_path_rate = drop_path_rate
        self.norm1 = nn.LayerNorm(config.embed_dim, eps=config.layer_norm_eps)
        self.attn = WindowAttention(config, num_heads)
        self.norm2 = nn.LayerNorm(config.embed_dim, eps=config.layer_norm_eps)
        self.mlp = Mlp(config)

    def forward(
        self,
        x: torch.Tensor,
        size: tuple[int, int],
        shift_mask: torch.Tensor,
        drop_scales: torch.Tensor | None = None,
        attentions: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """x: (B, H·W, C) tokens of an H×W map (multiples of the window); shift_mask: (nW, ws², ws²); drop_scales:
        the stochastic depth of the two residual branches (`stochastic_depth_scales`), None for none; a list given
        as `attentions` gets this layer's attention probabilities (the whole map at once, not chunked)."""
        # The chunked path has no dropout or stochastic depth: inference only, not a training layer run without
        # autograd (reentrant checkpointing's first pass, whose recomputation draws dropout).
        if attentions is None and not self.training and chunked_inference(self.config, x):
            return self._forward_chunked(x, size, shift_mask, self.config.inference_chunk_size)
        h, w = size
        b, _, c = x.shape
        ws, s = self.window_size, self.shift_size
        y = self.norm1(x).view(b, h, w, c)
        if s:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        if s:
            border = on_device(shift_border_windows, (h, w, ws), x.device)
            y = self.attn(window_partition(y, ws), shift_mask, border, attentions)
        else:
            y = self.attn(window_partition(y, ws), None, attentions=attentions)
        y = window_reverse(y, ws, h, w, b)
        if s:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        y = y.reshape(b, h * w, c)
        x = x + (y if drop_scales is None else y * drop_scales[0])
        y = self.mlp(self.norm2(x))
        return x + (y if drop_scales is None else y * drop_scales[1])

    def _forward_chunked(
        self, x: torch.Tensor, size: tuple[int, int], shift_mask: torch.Tensor, chunk: int
    ) -> torch.Tensor:
        """Inference: the same layer in bands of window rows of about `chunk` tokens, attention over at most
        `chunk` tokens at a time, and the MLP over `chunk`-token slices. No temporary is larger than a chunk's
        qkv (SwinIR-M: 18 MB), where a whole 256² layer would allocate ≈ 0.9 GB of them; the only full-size
        allocation is the output."""
        h, w = size
        b, _, c = x.shape
        ws, s = self.window_size, self.shift_size
        grid = x.view(b, h, w, c)
        out = torch.empty_like(grid)
        band_rows = ws * max(1, chunk // (ws * w))
        step = max(1, chunk // ws**2)  # windows per attention call
        borders = on_device(shift_border_windows, (h, w, ws), x.device) if s else None
        for top in range(0, h, band_rows):
            # Rows of the cyclically shifted map (torch.roll by -s) that this band of window rows covers.
            rows = torch.arange(top + s, min(top + band_rows, h) + s, device=x.device).remainder_(h)
            band = grid.index_select(1, rows)
            windows = window_partition(torch.roll(band, -s, dims=2) if s else band, ws)
            nw = windows.shape[0] // b  # windows per image in this band
            first = top // ws * (w // ws)  # their first window position, for the shift mask
            parts = []
            for i in range(b):
                for start in range(0, nw, step):
                    part = slice(i * nw + start, i * nw + min(start + step, nw))
                    mask = border = None
                    if s:
                        lo, hi = first + start, first + min(start + step, nw)
                        mask, border = shift_mask[lo:hi], _window_range(borders, lo, hi)
                    parts.append(self.attn(self.norm1(windows[part]), mask, border))  # LayerNorm is per token
            # One call covers the band of one image up to chunk / ws pixels wide: its output is used as it is,
            # not copied into a band-sized buffer.
            y = window_reverse(parts[0] if len(parts) == 1 else torch.cat(parts), ws, len(rows), w)
            out.index_copy_(1, rows, band.add_(torch.roll(y, s, dims=2) if s else y))
        out = out.view(b, h * w, c)
        for part in out.view(-1, c).split(chunk):
            part += self.mlp(self.norm2(part)).to(part.dtype)
        return out


class BasicLayer(nn.Module):
    """A stack of Swin layers alternating regular and shifted windows."""

    def __init__(self, config: SwinIRConfig, depth: int, num_heads: int, drop_path_rates: list[float]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinTransformerBlock(config, num_heads, shift=i % 2 == 1, drop_path_rate=drop_path_rates[i])
            for i in range(depth)
        )

    def forward(
        self,
        x: torch.Tensor,
        size: tuple[int, int],
        shift_mask: torch.Tensor,
        attentions: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        for block in self.blocks:
            drop_scales = stochastic_depth_scales(x, block.drop_path_rate, block.training)
            x = block(x, size, shift_mask, drop_scales, attentions=attentions)
        return x


def residual_conv(dim: int, kind: str) -> nn.Module:
    """Conv closing an RSTB and the body: 3×3 (`1conv`) or the 3×3→1×1→3×3 bottleneck (`3conv`)."""
    if kind == "1conv":
        return Conv2d(dim, dim, 3, 1, 1)
    return nn.Sequential(
        Conv2d(dim, dim // 4, 3, 1, 1),
        nn.LeakyReLU(0.2, inplace=True),
        Conv2d(dim // 4, dim // 4, 1, 1, 0),
        nn.LeakyReLU(0.2, inplace=True),
        Conv2d(dim // 4, dim, 3, 1, 1),
    )


def tokens_to_map(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, H·W, C) → (B, C, H, W)."""
    return x.transpose(1, 2).unflatten(2, size)


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) → (B, H·W, C)."""
    return x.flatten(2).transpose(1, 2)


class RSTB(nn.Module):
    """Residual Swin Transformer Block: Swin layers → conv, plus the block's input."""

    def __init__(self, config: SwinIRConfig, depth: int, num_heads: int, drop_path_rates: list[float]) -> None:
        super().__init__()
        self.residual_group = BasicLayer(config, depth, num_heads, drop_path_rates)
        self.conv = residual_conv(config.embed_dim, config.resi_connection)

    def forward(
        self,
        x: torch.Tensor,
        size: tuple[int, int],
        shift_mask: torch.Tensor,
        attentions: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        y = tokens_to_map(self.residual_group(x, size, shift_mask, attentions), size)
        return map_to_tokens(self.conv(y)) + x


class PatchEmbedNorm(nn.Module):
    """The authors' `patch_embed`: with patch size 1 it only normalises the tokens (holds `patch_embed.norm`)."""

    def __init__(self, config: SwinIRConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(config.embed_dim, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


class Upsample(nn.Sequential):
    """Classical-SR upsampler: (3×3 conv → PixelShuffle(2)) × log2(scale), or one conv → PixelShuffle(3)."""

    def __init__(self, scale: int, num_feat: int) -> None:
        steps = [2] * int(math.log2(scale)) if scale != 3 else [3]
        layers: list[nn.Module] = []
        for r in steps:
            layers += [Conv2d(num_feat, r * r * num_feat, 3, 1, 1), nn.PixelShuffle(r)]
        super().__init__(*layers)


class UpsampleOneStep(nn.Sequential):
    """Lightweight-SR upsampler: one 3×3 conv to scale²·C_out channels → PixelShuffle(scale)."""

    def __init__(self, scale: int, dim: int, out_channels: int) -> None:
        super().__init__(Conv2d(dim, scale * scale * out_channels, 3, 1, 1), nn.PixelShuffle(scale))


@dataclass
class ImageRestorationOutput(ModelOutput):
    """Output of [`SwinIRForImageRestoration`].

    Args:
        loss: scalar training loss (L1 or Charbonnier), present when `labels` were given.
        reconstruction: (N, C, scale·H, scale·W) restored images, nominally in [0, 1] (not clamped).
        hidden_states: with `output_hidden_states`, the embedding output and each RSTB's output, (N, embed_dim,
            H', W') maps at the window-padded size H' × W' (1 + len(depths) of them); the last is what the final norm
            and the reconstruction head take.
        attentions: with `output_attentions` (eager attention only), each Swin layer's attention probabilities,
            (N·windows, heads, ws², ws²), windows row-major over the padded map (cyclically shifted in odd layers).
    """

    loss: torch.FloatTensor | None = None
    reconstruction: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


# Saves take turns, each editing its model's config while it writes (`save_pretrained`).
_SAVES_TURN = threading.Lock()


_Model = TypeVar("_Model", bound="SwinIRPreTrainedModel")  # `from_pretrained` returns the class it is called on


class SwinIRPreTrainedModel(SaidPush, PreTrainedModel):
    config: SwinIRConfig
    config_class = SwinIRConfig
    base_model_prefix = "swinir"
    main_input_name = "pixel_values"
    input_modalities = ("image",)
    supports_gradient_checkpointing = True
    # `WindowAttention` honours `attn_implementation="sdpa"` (the default) and "eager".
    _supports_sdpa = True
    # A forward with **kwargs tells transformers' Trainer that the loss is normalised by the `num_items_in_batch`
    # it then passes. Ours is a plain mean, so the Trainer must divide it by the gradient accumulation steps itself:
    # otherwise every accumulated micro-batch counts in full (the step is that many times too large).
    accepts_loss_kwargs = False
    _no_split_modules = ["SwinTransformerBlock"]
    # The shallow conv and everything after the transformer body work on img_range-scaled pixels and wide
    # feature maps, where float16 overflows (the authors' code gives black / NaN images in float16): loaded in
    # float16 they keep float32 weights, and under float16 autocast they run in float32.
    _keep_in_fp32_modules = [
        "conv_first",
        "conv_after_body",
        "conv_before_upsample",
        "upsample",
        "conv_up1",
        "conv_up2",
        "conv_hr",
        "conv_last",
    ]

    # What PEFT-style fine-tuning hooks (`enable_input_require_grads`) as the layer that first sees the input.
    _input_embed_layer = "conv_first"

    def resize_token_embeddings(self, *args: Any, **kwargs: Any) -> Any:
        # transformers' would fail inside on the convolution ("too many values to unpack").
        raise NotImplementedError(
            "SwinIR has no token embeddings to resize: its input embedding (get_input_embeddings) is a convolution"
        )

    @property
    def dtype(self) -> torch.dtype:
        """The body's dtype: transformers' (the first parameter's) would be that of `conv_first`, which a model loaded
        in float16 keeps in float32, so such a model would be saved, and reloaded, as a float32 one."""
        kept = set(self._keep_in_fp32_modules or ())
        for name, param in self.named_parameters():
            if param.is_floating_point() and name.split(".", 1)[0] not in kept:
                return param.dtype
        return super().dtype

    @classmethod
    def _can_set_attn_implementation(cls) -> bool:
        # transformers guesses from the source (an AttentionInterface call) and would ignore
        # `set_attn_implementation`; `WindowAttention` reads the config at each call instead.
        return True

    @classmethod
    def from_pretrained(
        cls: type[_Model], pretrained_model_name_or_path: str | os.PathLike[str] | None, *args: Any, **kwargs: Any
    ) -> _Model:
        """transformers' `from_pretrained`, strict: stored parameters that are missing, unexpected or of another
        shape raise `IncompatibleWeightsError` naming them (transformers would only warn and initialise them
        randomly). A caller who passes `output_loading_info=True` or `ignore_mismatched_sizes=True` gets
        transformers' lenient behaviour and the report to judge.

        `use_kernels` defaults to False: SwinIR has no layer with Hub kernels, and transformers ≥ 5.25 kernelizes by
        default, which fails without the `kernels` package (and can reach for the Hub)."""
        kwargs.setdefault("use_kernels", False)
        if isinstance(pretrained_model_name_or_path, str) and pretrained_model_name_or_path.startswith("~"):
            pretrained_model_name_or_path = os.path.expanduser(pretrained_model_name_or_path)  # as a shell would
        if kwargs.get("output_loading_info") or kwargs.get("ignore_mismatched_sizes"):
            with (
                _not_cached_said(pretrained_model_name_or_path, kwargs.get("revision"), kwargs.get("subfolder")),
                _readable_weights(pretrained_model_name_or_path),
            ):
                return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        kwargs = {k: v for k, v in kwargs.items() if k not in ("output_loading_info", "ignore_mismatched_sizes")}
        if isinstance(pretrained_model_name_or_path, (str, os.PathLike)):
            if kwargs.get("config") is None:  # with a config, transformers loads a weights file itself
                _check_not_a_weights_file(pretrained_model_name_or_path)
            _check_stored_weights(cls, Path(pretrained_model_name_or_path, kwargs.get("subfolder") or ""), kwargs)
        report_logger = logging.getLogger("transformers.modeling_utils")
        quiet = _DropLoadReport()
        report_logger.addFilter(quiet)
        try:
            with (
                _not_cached_said(pretrained_model_name_or_path, kwargs.get("revision"), kwargs.get("subfolder")),
                _readable_weights(pretrained_model_name_or_path),
            ):
                model, info = super().from_pretrained(
                    pretrained_model_name_or_path,
                    *args,
                    output_loading_info=True,
                    ignore_mismatched_sizes=True,
                    **kwargs,
                )
        finally:
            report_logger.removeFilter(quiet)
        reported = any(info.get(k) for k in ("missing_keys", "unexpected_keys", "mismatched_keys"))
        config_given = reported and _config_not_stored(cls, pretrained_model_name_or_path, kwargs)
        check_loading_info(info, pretrained_model_name_or_path, config_given)
        return check_finite_weights(model, pretrained_model_name_or_path)

    def save_pretrained(
        self, save_directory: str | os.PathLike, *args: Any, remote_code: bool = True, **kwargs: Any
    ) -> None:
        """transformers' `save_pretrained` (also behind `push_to_hub`), plus the code files the config names
        (`auto_map`, `custom_pipelines`: a model loaded from a Hub folder) when transformers does not copy them: it
        copies the files of remote-code classes only. A config that names none is saved with `MODEL_AUTO_MAP` and its
        files, so the folder loads with trust_remote_code=True without this package; `model.config` is as it was once
        the save ends (saves take turns: they edit it meanwhile, and two at once on threads mixed their edits).
        `remote_code=False` saves no code and none of the `REMOTE_CODE_FIELDS` (the package's own folders).

        Also removes the weights of an earlier save that this one replaces in another layout: transformers deletes
        old shards but not an old single `model.safetensors`, which loading prefers to the new shards' index."""
        if kwargs.get("push_to_hub"):  # the folder finished (code files too) before it is uploaded
            self.save_then_push(save_directory, *args, remote_code=remote_code, **kwargs)
            return
        with _SAVES_TURN:
            fields = self.config.__dict__
            saved = {k: fields[k] for k in REMOTE_CODE_FIELDS if k in fields}
            if not remote_code:
                for k in saved:
                    del fields[k]
            elif not saved.get("auto_map"):
                fields["auto_map"] = dict(MODEL_AUTO_MAP)
            try:
                self._save_weights_and_config(Path(save_directory), *args, **kwargs)
                if remote_code:
                    self._copy_named_code(Path(save_directory))
            finally:  # the config as it was
                for k in REMOTE_CODE_FIELDS:
                    fields.pop(k, None)
                fields.update(saved)

    def _save_weights_and_config(self, folder: Path, *args: Any, **kwargs: Any) -> None:
        """transformers' `save_pretrained`, removing an earlier save's weights in the other layout."""
        variant = kwargs.get("variant")
        layouts = [folder / _with_variant(name, variant) for name in WEIGHTS_LAYOUTS]
        before = {path: _file_id(path) for path in layouts}
        super().save_pretrained(folder, *args, **kwargs)
        if any(_file_id(path) not in (None, before[path]) for path in layouts):  # this save wrote one of them
            for path in layouts:
                if before[path] is not None and _file_id(path) == before[path]:
                    path.unlink()

    def _upload_modified_files(
        self,
        working_dir: str | os.PathLike,
        repo_id: str,
        files_timestamps: dict[str, float],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """transformers' upload of a save (`save_pretrained(..., push_to_hub=True)`, `push_to_hub`), with the code
        files the saved config.json names: transformers uploads only the files the save changed, which code left in
        the folder by an earlier save is not."""
        saved = Path(working_dir) / "config.json"
        code = self._copy_named_code(Path(working_dir), json.loads(saved.read_text()) if saved.is_file() else {})
        files_timestamps = {name: t for name, t in files_timestamps.items() if name not in code}
        return super()._upload_modified_files(working_dir, repo_id, files_timestamps, *args, **kwargs)

    def _named_code(self, fields: dict[str, Any] | None = None) -> list[str]:
        """The module files the `auto_map` / `custom_pipelines` entries of the config (or of `fields`, a saved
        config.json's) name."""
        fields = vars(self.config) if fields is None else fields
        refs = list((fields.get("auto_map") or {}).values())
        refs += [entry["impl"] for entry in (fields.get("custom_pipelines") or {}).values()]
        modules = (ref.split("--")[-1].rsplit(".", 1)[0] for ref in refs)  # "[org/repo--]module.Class"
        return list(dict.fromkeys(f"{module}.py" for module in modules))

    def _copy_named_code(self, folder: Path, fields: dict[str, Any] | None = None) -> list[str]:
        """Copy beside the saved config the modules its `auto_map` / `custom_pipelines` entries name: from beside
        this file (the package, or the remote code transformers fetched), else from the folder or Hub repo the model
        was loaded from (a remote-code model fetched only its own module and its imports). Returns their names."""
        from transformers.dynamic_module_utils import get_relative_imports

        names = self._named_code(fields)
        for name in names:  # grows by the modules each one imports (transformers loads those with it)
            target = folder / name
            if target.exists():
                names += [f"{module}.py" for module in get_relative_imports(target) if f"{module}.py" not in names]
                continue
            source = Path(__file__).with_name(name)
            if not source.is_file() and (found := self._loaded_from(name)) is not None:
                source = Path(found)
            if source.is_file():
                shutil.copyfile(source, target)
                names += [f"{module}.py" for module in get_relative_imports(target) if f"{module}.py" not in names]
            else:
                logger.warning(
                    "config.json names %s, which could not be copied into %s (not beside this code, nor in %r): "
                    "add it, or the folder will not load with trust_remote_code=True",
                    name,
                    folder,
                    getattr(self.config, "_name_or_path", ""),
                )
        return names

    def _loaded_from(self, filename: str) -> str | None:
        """`filename` from the local folder or Hub repo this model was loaded from (the Hub cache when offline)."""
        from transformers.utils import cached_file

        source = getattr(self.config, "_name_or_path", "")
        if not source:
            return None
        try:
            return cached_file(
                source,
                filename,
                revision=getattr(self.config, "_commit_hash", None),
                _raise_exceptions_for_missing_entries=False,
                _raise_exceptions_for_connection_errors=False,
            )
        except OSError:
            return None

    def checkpoint_layers(self) -> None:
        """Recompute each Swin layer in the backward pass (less memory, slower steps): transformers' activation
        checkpointing, by its current name (`gradient_checkpointing_enable` before transformers 5.23)."""
        kwargs = {"use_reentrant": False}
        if hasattr(self, "activation_checkpointing_enable"):
            self.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            self.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Conv2d):
            module.reset_parameters()
        elif isinstance(module, WindowAttention):
            nn.init.trunc_normal_(module.relative_position_bias_table, std=std)
        elif isinstance(module, SwinIRForImageRestoration) and module.absolute_pos_embed is not None:
            nn.init.trunc_normal_(module.absolute_pos_embed, std=std)


class SwinIRForImageRestoration(SwinIRPreTrainedModel):
    """SwinIR for super-resolution, denoising and JPEG artifact reduction.

    `forward(pixel_values)` takes (N, C, H, W) floats in [0, 1] of any H, W ≥ 1 and returns
    `reconstruction` of exactly (N, C, scale·H, scale·W).
    """

    def __init__(self, config: SwinIRConfig) -> None:
        # SwinIRConfig validates itself when built and transformers again when saving, but not after `update()` or
        # an attribute assignment: an inconsistent config would build a model that fails deep inside forward.
        for check in (config.validate_body, config.validate_head, config.validate_training):
            check()
        super().__init__(config)
        dim, c = config.embed_dim, config.num_channels
        self.conv_first = Conv2d(c, dim, 3, 1, 1)
        self.patch_embed = PatchEmbedNorm(config) if config.patch_norm else None
        self.absolute_pos_embed = (
            nn.Parameter(torch.zeros(1, config.image_size**2, dim)) if config.use_absolute_embeddings else None
        )
        self.pos_drop = nn.Dropout(config.hidden_dropout_prob)
        n = sum(config.depths)
        rates = [config.drop_path_rate * i / max(n - 1, 1) for i in range(n)]  # linear stochastic-depth decay
        starts = [sum(config.depths[:i]) for i in range(len(config.depths))]
        self.layers = nn.ModuleList(
            RSTB(config, depth, heads, rates[start : start + depth])
            for depth, heads, start in zip(config.depths, config.num_heads, starts, strict=True)
        )
        self.norm = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.conv_after_body = residual_conv(dim, config.resi_connection)
        self._build_head(config)
        self._shift_masks = ShiftMaskCache()
        self.post_init()

    def activation_bytes_per_pixel(self, device: torch.device | str | None = None) -> float:
        """Rough peak activation bytes per input pixel of one float32 forward pass on `device` (default: where the
        model is), without a safety margin; tile planners divide their memory budget by it."""
        device = torch.device(device) if device is not None else self.device
        return activation_bytes_per_pixel(self.config, device)

    def _build_head(self, config: SwinIRConfig) -> None:
        dim, feat, c, scale = config.embed_dim, config.num_feat, config.num_channels, config.upscale
        if config.upsampler in ("pixelshuffle", "nearest+conv"):
            # nn.LeakyReLU's default slope (0.01) here, as in the authors' code.
            self.conv_before_upsample = nn.Sequential(Conv2d(dim, feat, 3, 1, 1), nn.LeakyReLU(inplace=True))
        if config.upsampler == "pixelshuffle":
            self.upsample = Upsample(scale, feat)
            self.conv_last = Conv2d(feat, c, 3, 1, 1)
        elif config.upsampler == "pixelshuffledirect":
            self.upsample = UpsampleOneStep(scale, dim, c)
        elif config.upsampler == "nearest+conv":
            self.conv_up1 = Conv2d(feat, feat, 3, 1, 1)
            if scale == 4:
                self.conv_up2 = Conv2d(feat, feat, 3, 1, 1)
            self.conv_hr = Conv2d(feat, feat, 3, 1, 1)
            self.conv_last = Conv2d(feat, c, 3, 1, 1)
        else:
            self.conv_last = Conv2d(dim, c, 3, 1, 1)

    def shift_mask(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        """(nW, ws², ws²) shift mask for an H×W feature map, built once per size and device."""
        if torch.compiler.is_compiling():  # traced, not cached: a tensor attribute set while exporting is refused
            return shift_window_mask(h, w, self.config.window_size, self.config.window_size // 2, device)
        key = (h, w, str(device))
        mask = self._shift_masks.get(key)
        if mask is None:
            ws = self.config.window_size
            with torch.inference_mode(False):  # a cached inference tensor could not be saved for backward later
                mask = shift_window_mask(h, w, ws, ws // 2).to(device)
            # Threads share a model (the demo's jobs): each step is one atomic dict operation, and the mask returned
            # is this call's own, whichever entries another thread evicts meanwhile.
            self._shift_masks[key] = mask
            self._evict_shift_masks()
        return mask

    def _evict_shift_masks(self) -> None:
        """Drop the cached shift masks built first (a cache hit does not refresh one) while more than 8 sizes are
        kept, or more than 2 (an ensemble alternates H×W and W×H) taking over `SHIFT_MASK_CACHE_BYTES` together: a
        mask takes ws² · 4 bytes per pixel (256 MiB for a 1024² map at ws 8), and a server restores images of many
        sizes."""
        while len(keys := list(self._shift_masks)) > 2:
            held = sum(mask.nbytes for mask in list(self._shift_masks.values()))
            if len(keys) <= 8 and held <= SHIFT_MASK_CACHE_BYTES:
                return
            self._shift_masks.pop(keys[0], None)

    def pad_to_window(self, x: torch.Tensor) -> torch.Tensor:
        """Reflect-pad the bottom / right to a multiple of the window, as the authors. Inputs smaller than the
        padding are reflected repeatedly (a single row / column is replicated first)."""
        ws = self.config.window_size
        if torch.compiler.is_compiling() and min(x.shape[-2:]) >= ws:
            # One branch-free pad (possibly by 0): traced sizes stay symbolic, no guard on H, W mod ws.
            return F.pad(x, (0, -x.shape[-1] % ws, 0, -x.shape[-2] % ws), mode="reflect")
        while True:
            h, w = x.shape[-2:]
            pad_h, pad_w = -h % ws, -w % ws
            if not pad_h and not pad_w:
                return x
            if min(h, w) == 1:
                x = F.pad(x, (0, min(pad_w, 1), 0, min(pad_h, 1)), mode="replicate")
            else:
                x = F.pad(x, (0, min(pad_w, w - 1), 0, min(pad_h, h - 1)), mode="reflect")

    def forward_features(
        self,
        x: torch.Tensor,
        hidden_states: list[torch.Tensor] | None = None,
        attentions: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Deep feature extraction: (N, embed_dim, H, W) → (N, embed_dim, H, W), H and W multiples of the window.
        Lists given as `hidden_states` / `attentions` get the `ImageRestorationOutput` fields of those names."""
        size = (x.shape[2], x.shape[3])
        x = map_to_tokens(x)
        if self.patch_embed is not None:
            x = self.patch_embed(x)
        if self.absolute_pos_embed is not None:
            x = x + self.absolute_pos_embed
        x = self.pos_drop(x)
        mask = self.shift_mask(*size, x.device)
        for layer in self.layers:
            if hidden_states is not None:
                hidden_states.append(tokens_to_map(x, size))
            x = layer(x, size, mask, attentions)
        if hidden_states is not None:
            hidden_states.append(tokens_to_map(x, size))
        return tokens_to_map(self.norm(x), size)

    def _reconstruct(
        self,
        x: torch.Tensor,
        hidden_states: list[torch.Tensor] | None = None,
        attentions: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """(N, C, H, W) normalised pixels, H and W multiples of the window → the head's output (the lists are filled
        as in `forward_features`).

        The `_keep_in_fp32_modules` run outside float16 autocast, and without autocast every part runs in its
        weights' dtype (a model loaded in float16 has a float16 body and a float32 head).
        """
        device_type = x.device.type
        with outside_float16_autocast(device_type):
            shallow = self.conv_first(_to_dtype_of(self.conv_first, x))
        features = self.forward_features(_to_dtype_of(self.norm, shallow), hidden_states, attentions)
        with outside_float16_autocast(device_type):
            features = self.conv_after_body(_to_dtype_of(self.conv_first, features)) + shallow
            if self.config.upsampler is None:
                return x + self.conv_last(features)
            if chunked_inference(self.config, features):
                return self._upsample_in_bands(features, self.config.inference_chunk_size)
            return self._upsample(features)

    def _upsample(self, x: torch.Tensor) -> torch.Tensor:
        """The upsampling head: (N, embed_dim, H, W) deep features → (N, C, scale·H, scale·W)."""
        upsampler = self.config.upsampler
        if upsampler == "pixelshuffledirect":
            return self.upsample(x)
        x = self.conv_before_upsample(x)
        if upsampler == "pixelshuffle":
            return self.conv_last(self.upsample(x))
        x = F.leaky_relu(self.conv_up1(F.interpolate(x, scale_factor=2, mode="nearest")), 0.2)
        if self.config.upscale == 4:
            x = F.leaky_relu(self.conv_up2(F.interpolate(x, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(x), 0.2))

    # Input rows each band of `_upsample_in_bands` shares with its neighbours. Every head's 3×3 convs reach less
    # than 3.5 input pixels around an output pixel (1/f per conv at resolution f, plus under half a pixel of
    # sub-pixel offset over all upsamplings), so bands are exact with 4.
    _BAND_HALO = 4

    def _upsample_in_bands(self, x: torch.Tensor, pixels: int) -> torch.Tensor:
        """`_upsample` over row bands of about `pixels` input pixels (at least 8 rows): the same result, with
        feature maps at the output resolution a band at a time (SwinIR-M x4 at 256²: 0.55 GB at once)."""
        h, w = x.shape[-2:]
        rows = max(8, pixels // w)
        if rows >= h:
            return self._upsample(x)
        s, halo, bands = self.config.upscale, self._BAND_HALO, []
        for top in range(0, h, rows):
            lo, hi = max(top - halo, 0), min(top + rows + halo, h)
            y = self._upsample(x[:, :, lo:hi])
            bands.append(y[:, :, (top - lo) * s : (min(top + rows, h) - lo) * s])
        return torch.cat(bands, dim=2)

    @can_return_tuple
    def forward(
        self,
        pixel_values: torch.Tensor,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        output_attentions: bool | None = None,
        **kwargs,
    ) -> ImageRestorationOutput:
        """
        Args:
            pixel_values: (N, C, H, W) floats in [0, 1], any H, W ≥ 1 (with `use_absolute_embeddings`, sizes
                that pad to `image_size`).
            labels: (N, C, scale·H, scale·W) targets in [0, 1]; when given, `loss` is computed.
            output_hidden_states: return `hidden_states` (default: the config's `output_hidden_states`).
            output_attentions: return `attentions` (default: the config's); needs the eager attention.
            kwargs: `return_dict` only (`can_return_tuple`); others, set, raise a TypeError rather than being ignored.
        """
        if output_hidden_states is None:
            output_hidden_states = self.config.output_hidden_states
        if output_attentions is None:
            output_attentions = self.config.output_attentions
        self._check_call(pixel_values, output_attentions, kwargs)
        hidden_states: list[torch.Tensor] | None = [] if output_hidden_states else None
        attentions: list[torch.Tensor] | None = [] if output_attentions else None
        h, w = pixel_values.shape[-2:]
        scale = self.config.upscale
        mean = torch.tensor(self.config.rgb_mean, dtype=pixel_values.dtype, device=pixel_values.device)
        mean = mean.view(1, -1, 1, 1)
        x = (self.pad_to_window(pixel_values) - mean) * self.config.img_range
        # Channels-last convs run faster through oneDNN, and a channels-last map is already token-major,
        # so the conv ↔ token reshapes of the body become views.
        x = self._reconstruct(x.contiguous(memory_format=torch.channels_last), hidden_states, attentions)
        x = x / self.config.img_range + mean
        if torch.compiler.is_compiling():  # a gather, not a view: no guard on whether the crop is contiguous
            rows, cols = (torch.arange(n * scale, device=x.device) for n in (h, w))
            reconstruction = x.contiguous().index_select(2, rows).index_select(3, cols)
        else:
            reconstruction = x[:, :, : h * scale, : w * scale].contiguous()

        return ImageRestorationOutput(
            loss=None if labels is None else self._loss(reconstruction, labels),
            reconstruction=reconstruction,
            hidden_states=None if hidden_states is None else tuple(hidden_states),
            attentions=None if attentions is None else tuple(attentions),
        )

    def _check_call(self, pixel_values: torch.Tensor, output_attentions: bool, kwargs: dict[str, Any]) -> None:
        """Raise the TypeError / ValueError of a call `forward` cannot run as asked."""
        # A typo (`label=`) or an option of other models would otherwise be ignored in silence; unset (None / False),
        # as generic callers pass them, they are fine.
        if unknown := sorted(k for k, v in kwargs.items() if v is not None and v is not False):
            raise TypeError(
                f"{type(self).__name__}.forward() got unsupported argument(s) {', '.join(unknown)}: it takes "
                "pixel_values, labels, output_hidden_states, output_attentions and return_dict"
            )
        if output_attentions and self.config._attn_implementation != "eager":
            raise ValueError(
                "output_attentions=True needs the eager attention (SDPA computes no attention probabilities): load "
                'the model with attn_implementation="eager" or call model.set_attn_implementation("eager")'
            )
        if pixel_values.ndim != 4 or pixel_values.shape[1] != self.config.num_channels:
            raise ValueError(
                f"pixel_values must be (N, {self.config.num_channels}, H, W), got {tuple(pixel_values.shape)}"
            )
        if 0 in pixel_values.shape:  # the windows' count per image would divide by zero deep inside
            raise ValueError(f"pixel_values holds no pixels: {tuple(pixel_values.shape)} (an empty batch or image)")
        if self.absolute_pos_embed is not None:  # one embedding per pixel of an image_size² map: no other size adds
            side, ws = self.config.image_size, self.config.window_size
            h, w = (-(-n // ws) * ws for n in pixel_values.shape[-2:])  # as `pad_to_window` pads them
            if (h, w) != (side, side):
                raise ValueError(
                    f"pixel_values of {tuple(pixel_values.shape[-2:])} pad to {h}×{w}, but this model's absolute "
                    f"position embeddings (use_absolute_embeddings) fit {side}×{side} only: pass inputs of "
                    f"{side - ws + 1} to {side} pixels a side (tiles of {side}, say)"
                )
        if not pixel_values.is_floating_point():  # uint8 pixels would meet a mean cast to 0 and wrap around
            raise ValueError(
                f"pixel_values must be floats in [0, 1], got {pixel_values.dtype}: divide 8-bit pixels by 255 (the "
                "image processor does)"
            )

    def _loss(self, reconstruction: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The config's loss (L1 or Charbonnier) of a reconstruction against (N, C, scale·H, scale·W) labels."""
        if labels.shape != reconstruction.shape:
            raise ValueError(f"labels must be {tuple(reconstruction.shape)}, got {tuple(labels.shape)}")
        if not labels.is_floating_point():  # 8-bit labels would give a loss of ~127 and train towards them
            raise ValueError(
                f"labels must be floats in [0, 1], as pixel_values, got {labels.dtype}: divide 8-bit pixels by 255 "
                "(the image processor does: processor(images)['pixel_values'])"
            )
        diff = reconstruction - labels.to(reconstruction.dtype)
        if self.config.loss == "l1":
            return diff.abs().mean()
        return torch.sqrt(diff * diff + self.config.charbonnier_eps**2).mean()


# --- loading and saving: strict weights, the code a saved folder names --------------------------------------------


class IncompatibleWeightsError(ValueError):
    """Stored weights that do not fit the model their config.json describes (missing, unexpected or mis-shaped
    parameters): loading them would give a partly random model."""


def _own_fields(config_class: type[PreTrainedConfig]) -> set[str]:
    """The fields SwinIR's config adds to transformers' generic ones (a load dtype, `output_hidden_states`: they
    shape no weight)."""
    return set(config_class().to_dict()) - set(PreTrainedConfig().to_dict())


def _config_overrides(cls: type[SwinIRPreTrainedModel], kwargs: dict[str, Any]) -> dict[str, Any]:
    """SwinIR's config fields among `from_pretrained`'s keyword arguments, which transformers sets on the config it
    loads (`upscale=2`)."""
    own = _own_fields(cls.config_class)
    return {k: v for k, v in kwargs.items() if k in own}


def _config_not_stored(cls: type[SwinIRPreTrainedModel], source: Any, kwargs: dict[str, Any]) -> bool:
    """Whether `from_pretrained(source, **kwargs)` built its model from another config than `source`'s config.json:
    config fields among `kwargs` (`upscale=2`), or a `config=` that differs from the stored one. The Auto classes
    and the pipeline pass the stored one (as AutoConfig read it, with such fields applied): alike, the folder is
    to blame."""
    if _config_overrides(cls, kwargs):
        return True
    if (given := kwargs.get("config")) is None:
        return False
    where = {k: kwargs[k] for k in ("subfolder", "revision", "cache_dir", "token", "local_files_only") if k in kwargs}
    try:
        stored = cls.config_class.from_pretrained(source, **where)
    except (OSError, ValueError):  # no config.json of its own to blame
        return True
    return any(getattr(given, k, None) != getattr(stored, k) for k in _own_fields(cls.config_class))


def _check_not_a_weights_file(source: str | os.PathLike) -> None:
    """Raise an `OSError` saying what `from_pretrained` takes when `path` is a weights file (an authors' `.pth`, a
    folder's `model.safetensors`) given without a `config`, or a path (`./run`, `/models/x4`) where nothing is:
    transformers reads such a file as a config.json and says only that it "is not a valid JSON file", and takes a
    missing folder for a malformed Hub id."""
    name, path = os.fspath(source), Path(source)
    if not path.exists() and (name.startswith(("/", "./", "../")) or name.count("/") > 1 or "\\" in name):
        raise OSError(f"{name} does not exist (from_pretrained takes a model folder or a Hub id)")
    if path.suffix.lower() not in (".pth", ".pt", ".ckpt", ".bin", ".safetensors"):
        return
    if not path.exists():  # not a Hub id either: told to download it, or that it might be a bundled model's name
        raise OSError(f"{path} does not exist (from_pretrained takes a model folder or a Hub id)")
    if path.is_file():
        raise OSError(
            f"{path} is a weights file, not a model folder: from_pretrained takes the folder that save_pretrained "
            "wrote, or a Hub id; an authors' .pth loads with swinir_hf.load_model(path), or becomes such a "
            "folder with `swinir-hf convert PTH FOLDER`"
        )


def _check_stored_weights(cls: type[SwinIRPreTrainedModel], folder: Path, kwargs: dict[str, Any]) -> None:
    """Raise `IncompatibleWeightsError` when a local folder's safetensors weights (read from their headers) hold
    tensors that are not floating point (transformers would cast them and load), or when the model the folder loads
    as (its config.json, or the `config` of `from_pretrained`'s `kwargs`, with their config fields applied) is far
    larger than its weights, before transformers allocates it: an edited or damaged config (`upscale` 1000,
    `embed_dim` 10**6, `depths` [10**6]) would take gigabytes, or end in an allocator's traceback, before the mismatch
    is reported. Folders without config or safetensors weights are left to `from_pretrained`."""
    if problem := shard_problem(folder):
        raise OSError(f"the weights of {folder} cannot be read: {problem}; save or download the model again")
    tensors = _stored_tensors(folder)
    if tensors is None:
        return
    _check_floating(folder, tensors)
    stored = sum(values for _, values in tensors.values())
    given = kwargs.get("config")
    overrides = _config_overrides(cls, kwargs)
    if given is None and not overrides and not (folder / "config.json").is_file():
        # transformers would build a default-config model (11.5 M parameters) and report its weights as mismatched.
        inner = folder / "model" / "config.json"
        where = f": its model is in {inner.parent} (a training checkpoint's loadable model)" if inner.is_file() else ""
        raise OSError(f"{folder} has weights but no config.json, so it is not a saved model folder{where}")
    try:
        if given is None or isinstance(given, (str, os.PathLike)):
            config = cls.config_class.from_pretrained(folder if given is None else given)
        else:
            config = copy.deepcopy(given)
        for key, value in overrides.items():  # as from_pretrained applies them
            setattr(config, key, value)
    except (OSError, ValueError, TypeError, AttributeError):
        return  # from_pretrained says what is wrong with it
    # Each Swin layer holds at least its attention's four C × C projections: a config of a million layers is refused
    # before its module tree is built (on the meta device still seconds, and gigabytes of Python objects).
    least = sum(config.depths) * 4 * config.embed_dim**2
    at_least = "at least " if least > 2 * stored else ""
    try:
        with torch.device("meta"):  # shapes only, no memory
            expected = least if at_least else sum(p.numel() for p in cls(config).parameters())
    except ValueError:  # a setting refused as such (attn_implementation="flash_attention_2"): from_pretrained says it
        return
    except (RuntimeError, OverflowError) as err:
        expected, why = None, str(err).splitlines()[0] if str(err) else type(err).__name__
    else:
        why = None
    if expected is None or expected > 2 * stored:
        size = (
            f"a model of {at_least}{expected:,} parameters"
            if expected is not None
            else f"a model it cannot build ({why})"
        )
        # The Auto classes pass the folder's own config as `config=`: then the file is to blame all the same.
        stored_kwargs = {k: v for k, v in kwargs.items() if k != "subfolder"}  # `folder` is the subfolder already
        given_differs = _config_not_stored(cls, folder, stored_kwargs)
        config_is = "the config given describes" if given_differs else "its config.json describes"
        # The caller's config is to blame, not the folder: no "re-export it" for a folder that is fine.
        hint = (
            "pass no config or fields, so that its config.json is used"
            if given_differs
            else "an edited or damaged config.json?"
        )
        raise IncompatibleWeightsError(
            f"{folder}: {config_is} {size}, but its weights hold {stored:,} values: the config and the weights do not "
            f"belong together ({hint})"
        )


def safetensors_files(folder: Path) -> list[Path] | None:
    """A local folder's safetensors weights: its single file, or the shards its index names; None when it has
    neither (another format, or not a local folder).

    Raises:
        ValueError, KeyError, OSError: an index that cannot be read.
    """
    single, index = (folder / name for name in WEIGHTS_LAYOUTS)
    if index.is_file():
        return sorted({folder / name for name in json.loads(index.read_text())["weight_map"].values()})
    return [single] if single.is_file() else None


def shard_problem(folder: Path) -> str | None:
    """What is wrong with the shards a local folder's safetensors index names (one missing, or outside the folder:
    transformers raised a bare `FileNotFoundError`, or a `ValueError` taken for the config's), in words; None if
    nothing is, or the folder has no readable index."""
    try:
        files = safetensors_files(folder) if (folder / WEIGHTS_LAYOUTS[1]).is_file() else None
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return None  # an unreadable index: `_readable_weights` names it
    inside = folder.resolve()
    for file in files or ():
        if inside not in file.resolve().parents:
            return f"its weights index names {file.relative_to(folder)}, outside the folder"
        if not file.is_file():
            return f"its weights index names {file.relative_to(folder)}, which is missing"
    return None


def _stored_tensors(folder: Path) -> dict[str, tuple[str, int]] | None:
    """Name → (safetensors dtype, number of values) of a local folder's safetensors weights (`safetensors_files`),
    from their headers; None when it has none."""
    from safetensors import SafetensorError, safe_open

    try:
        if (files := safetensors_files(folder)) is None:
            return None
        stored = {}
        for file in files:
            with safe_open(file, framework="pt") as weights:
                for key in weights.keys():  # noqa: SIM118
                    tensor = weights.get_slice(key)
                    stored[key] = (tensor.get_dtype(), math.prod(tensor.get_shape()))
        return stored
    except (OSError, ValueError, KeyError, SafetensorError):
        return None  # damaged: `_readable_weights` reports it


# safetensors' names of the floating-point dtypes; integer or boolean weights would be cast to floats and load.
_FLOAT_TENSORS = ("F16", "BF16", "F32", "F64")


def _check_floating(folder: Path, tensors: dict[str, tuple[str, int]]) -> None:
    """Raise `IncompatibleWeightsError` naming the stored tensors (`_stored_tensors`) that are not floating point."""
    if not_float := [f"{name} ({dtype})" for name, (dtype, _) in tensors.items() if dtype not in _FLOAT_TENSORS]:
        raise IncompatibleWeightsError(
            f"{folder}: its weights hold tensors that are not floating point ({_names(not_float, 3)}): they are not "
            "a model's weights (a damaged or hand-made file?); re-export it (swinir-hf convert, or save_pretrained)"
        )


class _DropLoadReport(logging.Filter):
    """Hides transformers' load-report warning of this thread's load while `from_pretrained` raises its own,
    one-line error instead (other threads' loads, of other models, keep theirs: the logger is process-wide)."""

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread or "LOAD REPORT" not in str(record.msg)


@contextlib.contextmanager
def _readable_weights(source: object) -> Iterator[None]:
    """Turn the bare errors of a truncated or damaged weights file, raised from deep inside transformers
    (safetensors' "Error while deserializing header", the `JSONDecodeError` of a sharded checkpoint's index: a
    damaged config.json is transformers' own `OSError`), into an `OSError` that names `source` and what to do."""
    from safetensors import SafetensorError

    try:
        yield
    except (SafetensorError, json.JSONDecodeError) as err:
        what = "its weights index (.index.json)" if isinstance(err, json.JSONDecodeError) else "a .safetensors file"
        raise OSError(
            f"the weights of {source} cannot be read ({err}): {what} is truncated or damaged; save or download "
            "the model again"
        ) from err


@contextlib.contextmanager
def _not_cached_said(source: object, revision: str | None = None, subfolder: str | None = None) -> Iterator[None]:
    """A Hub id that is not in the cache while the Hub cannot be reached: transformers says only "We couldn't
    connect to 'https://huggingface.co'"; say that the model is not cached and the ways to get it. A `subfolder`
    and a `revision` other than main are named: the cache may hold the repo at main, or without that subfolder
    (a misspelt one, say), and the plain download would fetch main."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        yield
    except OSError as err:
        causes, cause = [], err
        while cause is not None and len(causes) < 8:
            causes.append(cause)
            cause = cause.__cause__ or cause.__context__
        if not any(isinstance(c, LocalEntryNotFoundError) for c in causes):
            raise
        what = f"the subfolder {subfolder!r} of {source}" if subfolder else str(source)
        option = ""
        if revision not in (None, "main"):
            what, option = f"{what} at revision {revision!r}", f" --revision {revision}"
        from huggingface_hub import constants

        offline = constants.HF_HUB_OFFLINE
        raise OSError(
            f"{what} is not in the Hugging Face cache and "
            + ("HF_HUB_OFFLINE is set: " if offline else "the Hub cannot be reached: ")
            + _bundled_hint(source)
            + f"download it where there is a network (hf download {source}{option}) and copy the cache (HF_HOME) "
            "here, or pass the path of a local model folder; "
            + (
                "or unset HF_HUB_OFFLINE if this machine can reach the Hub"
                if offline
                else "HF_HUB_OFFLINE=1 makes such a load fail at once instead of retrying the connection"
            )
        ) from err


def _bundled_hint(source: object) -> str:
    """For a bare name (no org/), as the package's bundled models are called (`sr-x4`): how those load, which
    `from_pretrained` cannot do by name (they are folders inside the package, not Hub repos); then the Hub's way."""
    name = str(source)
    if "/" in name or os.sep in name:
        return ""
    return (
        f"if {name!r} is a model bundled with swinir_hf (`swinir-hf models` lists them), load it with "
        f"swinir_hf.load_model({name!r}) or from_pretrained(swinir_hf.loading.DEFAULTS_DIR / {name!r}); if it is a "
        "Hub repo, "
    )


def check_loading_info(info: dict, source: object, config_given: bool = False) -> None:
    """Raise `IncompatibleWeightsError` naming the parameters `from_pretrained`'s loading info reports as missing,
    unexpected or of another shape. The derived buffers (`relative_position_index`, `attn_mask`) are not stored by
    design, so they are never reported. `config_given`: the model was built from a `config=` or config fields passed
    to `from_pretrained`, not from the folder's config.json alone, which is then not to blame."""
    problems = []
    if missing := sorted(info.get("missing_keys") or ()):
        problems.append(f"missing {_names(missing)}")
    if unexpected := sorted(info.get("unexpected_keys") or ()):
        problems.append(f"unexpected {_names(unexpected)}")
    if mismatched := sorted(info.get("mismatched_keys") or ()):
        shapes = [f"{k} (stored {tuple(a)}, config needs {tuple(b)})" for k, a, b in mismatched]
        problems.append(f"wrong shape {_names(shapes)}")
    if problems and config_given:
        raise IncompatibleWeightsError(
            f"{source}: the weights do not fit the config given to from_pretrained: {'; '.join(problems)}. To start "
            "a model of that config from these weights (another scale or task, say), pass ignore_mismatched_sizes="
            "True: what fits is loaded and the rest initialised anew"
        )
    if problems:
        raise IncompatibleWeightsError(
            f"{source}: the weights do not fit its config.json: {'; '.join(problems)}. The folder is incomplete or "
            "its config.json was edited: re-export it (swinir-hf convert, or save_pretrained)"
        )


def check_finite_weights(model: _Model, source: object) -> _Model:
    """`model`, unless a weight is NaN or infinite (a training run that diverged saves such weights): every image
    would come out NaN, written as black.

    Raises:
        IncompatibleWeightsError: naming the first such parameters.
    """
    # (Parameters offloaded to disk by a `device_map` are on the meta device here: not read.)
    held = ((name, p) for name, p in model.named_parameters() if p.device.type != "meta")
    if bad := [name for name, p in held if not bool(torch.isfinite(p).all())]:
        raise IncompatibleWeightsError(
            f"{source}: its weights hold NaN or infinite values ({_names(bad, 3)}): it cannot restore an image; use "
            "another checkpoint (a training run that diverged saves such weights)"
        )
    return model


def _names(items: list[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (f", … (+{len(items) - limit} more)" if len(items) > limit else "")


# The config.json entries that name a folder's own code: the Auto classes' (`auto_map`) and a Hub export's pipeline.
REMOTE_CODE_FIELDS = ("auto_map", "custom_pipelines")
# The `auto_map` a plain `save_pretrained` writes for a config that names no code (a model built or loaded through
# this package), beside the two files it names, so that the folder loads with trust_remote_code=True without the
# package. The image processor and the pipeline are a Hub export's (`swinir-hf hub`), which adds them.
MODEL_AUTO_MAP = {
    "AutoConfig": "configuration_swinir.SwinIRConfig",
    "AutoModel": "modeling_swinir.SwinIRForImageRestoration",
    "AutoModelForImageToImage": "modeling_swinir.SwinIRForImageRestoration",
}

# The two layouts of safetensors weights: one file, or shards named by an index.
WEIGHTS_LAYOUTS = ("model.safetensors", "model.safetensors.index.json")


def _with_variant(name: str, variant: str | None) -> str:
    """transformers' file name of a weights `variant` (`model.fp16.safetensors`)."""
    if variant is None:
        return name
    stem, suffix = name.rsplit(".", 1)
    return f"{stem}.{variant}.{suffix}"


def _file_id(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime ns, size) of a file, None if there is none: tells a file rewritten by a save from an old one."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


# --- runs: one model shared by the restorations of threads (the engine's, the pipeline's) -----------------------------


@dataclass
class _Runs:
    """A model's restorations running now, on any thread, and the training mode the first of them found."""

    count: int = 0
    was_training: bool = False
    dtypes: dict[str, torch.dtype] | None = None  # the floating tensors' own dtypes, where the first run cast them
    own_dtype: torch.dtype | None = None  # `model.dtype` before that cast


_RUNS: weakref.WeakKeyDictionary[nn.Module, _Runs] = weakref.WeakKeyDictionary()
# Re-entrant: what is done under it allocates (a cast, a copy), and the garbage collection that may set off in this
# thread can end an abandoned run's `running`, whose exit takes the lock too (a plain lock waited on itself).
_RUNS_LOCK = threading.RLock()


def _holds(model: nn.Module, device: torch.device, dtype: torch.dtype | None) -> bool:
    """Whether `model`'s weights are on `device` (any GPU for a bare "cuda") and, unless `dtype` is None, all in
    `dtype`."""
    return all(
        t.device.type == device.type
        and (device.index is None or t.device.index == device.index)
        and (dtype is None or not t.is_floating_point() or t.dtype == dtype)
        for t in itertools.chain(model.parameters(), model.buffers())
    )


def _run_dtype(model: nn.Module, device: torch.device) -> torch.dtype | None:
    """float32 for float16 weights off CUDA (lossless; torch's CPU kernels refuse float16 parameters under bfloat16
    autocast), else None: as they are."""
    half = device.type != "cuda" and any(p.dtype == torch.float16 for p in model.parameters())
    return torch.float32 if half else None


def _floating_tensors(model: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """`model`'s floating-point parameters and buffers, by name."""
    for name, t in itertools.chain(model.named_parameters(), model.named_buffers()):
        if t.is_floating_point():
            yield name, t


def _cast_back(model: nn.Module, dtypes: dict[str, torch.dtype]) -> None:
    """Cast the tensors named in `dtypes` back to theirs, in place as `.to()` casts (the same parameter objects,
    which an optimizer may hold)."""
    for name, param in model.named_parameters():
        if name in dtypes:
            param.data = param.data.to(dtypes[name])
            if param.grad is not None:  # as `.to()` casts them
                param.grad = param.grad.to(dtypes[name])
    for name, buffer in list(model.named_buffers()):
        if name in dtypes:
            owner, _, attribute = name.rpartition(".")
            setattr(model.get_submodule(owner), attribute, buffer.to(dtypes[name]))


def resting_dtype(model: PreTrainedModel) -> torch.dtype:
    """`model.dtype` as it is between restorations: what it was before a running one cast it in place (`running`)."""
    with _RUNS_LOCK:
        runs = _RUNS.get(model)
        return runs.own_dtype if runs is not None and runs.count and runs.dtypes else model.dtype


@contextlib.contextmanager
def running(
    model: SwinIRForImageRestoration, device: torch.device, dtype: torch.dtype | None
) -> Iterator[SwinIRForImageRestoration]:
    """`model` on `device`, in `dtype` (None: as it is, but float16 weights off CUDA as float32: `_run_dtype`) and in
    eval mode for one restoration.

    Threads may share a model: it is moved / cast in place (as `.to()` does) only while no other restoration runs
    it, and its training mode and dtypes come back when the last one ends (a float16 model cast to float32 off CUDA
    is float16 again, its float32 layers as they were; it stays on `device`); a restoration that needs it on
    another device or in another dtype while others run it gets a converted copy instead, so no thread's weights
    change under it.
    """
    with _RUNS_LOCK:
        dtype = dtype or _run_dtype(model, device)  # as the model is now, another run's cast undone or not
        runs = _RUNS.setdefault(model, _Runs())
        # A model dispatched by accelerate (`device_map`: offloaded, split over devices) runs where it was placed.
        holds = getattr(model, "hf_device_map", None) is not None or _holds(model, device, dtype)
        shared = runs.count == 0 or holds
        if shared:
            if runs.count == 0:
                runs.dtypes = None
                if not holds:
                    if dtype is not None:
                        runs.dtypes = {name: t.dtype for name, t in _floating_tensors(model) if t.dtype != dtype}
                        runs.own_dtype = getattr(model, "dtype", None)
                    model.to(device, dtype)
                runs.was_training = model.training
                model.eval()
            runs.count += 1
        else:  # copied here: another run's cast back would change the model midway
            converted = copy.deepcopy(model).to(device, dtype).eval()
    if not shared:
        yield converted
        return
    try:
        yield model
    finally:
        with _RUNS_LOCK:
            runs.count -= 1
            if runs.count == 0:
                model.train(runs.was_training)
                if runs.dtypes:
                    _cast_back(model, runs.dtypes)


# --- inference machinery: chunks, precision, CPU kernels (results unchanged; figures in benchmarks/README.md) -----


def chunks_on(config: SwinIRConfig, device: torch.device) -> bool:
    """Whether inference on `device` runs in chunks (`config.inference_chunk_size`): on CPUs only. On a GPU small
    chunks are launch-bound (slower: benchmarks/README.md in the repository), and tiling bounds memory there."""
    return bool(config.inference_chunk_size) and device.type == "cpu"


def activation_bytes_per_pixel(config: SwinIRConfig, device: torch.device) -> float:
    """Rough peak activation bytes per input pixel of one float32 forward pass on `device` (no safety margin): what
    a tile planner needs to know of this architecture (`SwinIRForImageRestoration.activation_bytes_per_pixel`).

    Chunked inference (`chunks_on`) holds a few full-size token maps (block input and output, the RSTB and
    shallow-feature residuals, a conv output) and the output image (model output, crop, host copy); its chunk
    temporaries do not grow with the image. Unchunked, add each layer's qkv, attention scores and MLP hidden
    state, and the head's feature maps at the output resolution.
    """
    d, scale2 = config.embed_dim, config.upscale**2
    if chunks_on(config, device):
        return 4.0 * (6 * d + 3 * scale2 * config.num_channels)
    heads, n = max(config.num_heads), config.window_size**2
    body = 4 * d + 3 * d + 2 * heads * n + config.mlp_ratio * d
    if config.upsampler in ("pixelshuffle", "nearest+conv"):
        head = 2 * scale2 * config.num_feat
    elif config.upsampler == "pixelshuffledirect":
        head = 2 * scale2 * config.num_channels
    else:
        head = d
    return 4.0 * (body + head)


class ImageTooLargeError(MemoryError):
    """An image whose output, or whole-image pass, does not fit in memory, found before any work (or at its
    allocation)."""


# The share of `activation_bytes_per_pixel`'s estimate that a pass surely needs: measured peaks run from 14 % under it
# (sr-x4 on CPU at 512²: 0.36 GiB for 0.42) to 19 % over (denoise-color); only what cannot fit is refused.
SURELY_NEEDED = 0.8


def check_forward_memory(
    config: SwinIRConfig, shape: tuple[int, ...], device: torch.device, precision: str = "float32"
) -> None:
    """Raise `ImageTooLargeError` (with the sizes) when one forward pass over a whole (N, C, H, W) input cannot fit
    on `device`: `SURELY_NEEDED` of its `activation_bytes_per_pixel` estimate against the memory free there now.
    Without it such a pass fails deep in the model, or the OS kills the process. The estimate is float32's: a pass
    under `precision` "bfloat16" / "float16" (autocast) on a GPU is counted at half of it, the least it can need,
    so that only what surely cannot fit is refused; on the CPU it is counted as float32, as it needs no less."""
    n, _, h, w = shape
    needed = int(n * h * w * activation_bytes_per_pixel(config, device))
    # autocast's 2-byte activations on a GPU; softmax and norms stay float32, so never below half. Not on the CPU:
    # there a bfloat16 pass peaked above the float32 one (embed_dim 60, 640²: +793 MB against +614 MB RSS).
    if precision != "float32" and device.type == "cuda":
        needed //= 2
    available = cuda_free_memory(device) if device.type == "cuda" else available_host_memory()
    if SURELY_NEEDED * needed > available:
        raise ImageTooLargeError(
            f"one pass over {'a whole' if n == 1 else f'{n} whole'} {w}×{h} image{'s' * (n > 1)} needs ≈ "
            f"{byte_size(needed)} of memory on {device}, but only {byte_size(available)} are available: run it in "
            "tiles (swinir_hf.restore(model, image) with its default tile='auto'; --tile auto on the command line), "
            "crop or downscale it, or use a machine with more memory"
        )


def cuda_free_memory(device: torch.device) -> int:
    """Bytes torch may still allocate on the CUDA `device`: the driver's free memory plus what torch's caching
    allocator holds unused. The driver counts that cache (an earlier pass's activations, kept for reuse) as taken,
    so its figure alone refused the second of two same-size whole images that the first one's memory would run."""
    free, _ = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


def available_host_memory() -> int:
    """Bytes this process may still allocate: the least of the system's MemAvailable, the cgroup's limit minus its
    usage, and the address-space limit (ulimit -v) minus this process's size. Where none of these can be read
    (no /proc, no `SC_AVPHYS_PAGES`: macOS), `sys.maxsize`: nothing is refused and tile plans take their cap."""
    candidates = [sys.maxsize]
    try:
        candidates.append(_meminfo("MemAvailable") or os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError):
        pass
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:
            candidates.append(int(limit) - usage)
        break
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            candidates.append(soft - (_meminfo("VmSize", "/proc/self/status") or 0))
    except (ImportError, OSError, ValueError):
        pass
    return max(0, min(candidates))


def _meminfo(key: str, path: str = "/proc/meminfo") -> int | None:
    """A `key:  N kB` line of /proc/meminfo (or /proc/self/status) in bytes; None where there is none."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def byte_size(n: int) -> str:
    """`n` bytes for a message: GiB from 1 GiB up, else MiB ("0.0 GiB vs 0.0 GiB" says nothing)."""
    n = max(n, 0)
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


def chunked_inference(config: SwinIRConfig, x: torch.Tensor) -> bool:
    """Whether layers and head run in chunks on `x` now: `chunks_on` its device, without autograd, and eager
    (tracers and compilers would unroll the chunk loops into one huge, size-specific graph)."""
    return (
        chunks_on(config, x.device)
        and not torch.is_grad_enabled()
        and not (torch.jit.is_tracing() or torch.compiler.is_compiling())
    )


def autocast_on(device_type: str) -> bool:
    """Whether autocast is on for `device_type`; False where autocast has no such type ("meta": a forward on meta
    tensors, which shape and FLOP counters run, would fail to ask)."""
    return torch.amp.is_autocast_available(device_type) and torch.is_autocast_enabled(device_type)


@contextlib.contextmanager
def outside_float16_autocast(device_type: str) -> Iterator[None]:
    """Suspend float16 autocast (only float16: bfloat16 has float32's range) while open."""
    if autocast_on(device_type) and torch.get_autocast_dtype(device_type) == torch.float16:
        with torch.autocast(device_type, enabled=False):
            yield
    else:
        yield


class _TF32Off:
    """TF32 off while any float32 pass on CUDA runs. The flags are process-wide, so passes that overlap (threads: the
    demo's workers) share the switch: the first in saves the settings it finds, the last out restores them.

    torch ≥ 2.9 sets TF32 per backend and operation (`fp32_precision`), and checks at every cuBLAS float32 product
    that it agrees with the legacy `float32_matmul_precision`. So matrix products go off through
    `set_float32_matmul_precision("highest")`, which sets both, and convolutions through their own setting (which
    cuDNN reads per operation); both settings come back as they were, also a per-operation one left to follow
    `torch.backends.fp32_precision`. The legacy `allow_tf32` flags, written over the new settings, pinned them or
    made torch's getters raise. Older torch has only the flags.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self._saved: tuple = ()

    @staticmethod
    def _save() -> tuple:
        if not _PER_OPERATION_TF32:
            return torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
        try:
            legacy = torch.get_float32_matmul_precision()
        except RuntimeError:  # the settings disagree already (a user's per-operation one): nothing to put back
            legacy = None
        return legacy, torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision

    @staticmethod
    def _turn_off() -> None:
        if not _PER_OPERATION_TF32:
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
            return
        torch.set_float32_matmul_precision("highest")
        torch.backends.cudnn.conv.fp32_precision = "ieee"

    @staticmethod
    def _restore(saved: tuple) -> None:
        if not _PER_OPERATION_TF32:
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
            return
        legacy, conv, matmul = saved
        if legacy is not None:
            torch.set_float32_matmul_precision(legacy)
        torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision = conv, matmul

    def __enter__(self) -> None:
        with self._lock:
            if self._open == 0:
                self._saved = self._save()
                self._turn_off()
            self._open += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0:
                self._restore(self._saved)


_PER_OPERATION_TF32 = hasattr(torch.backends.cuda.matmul, "fp32_precision")
_TF32_OFF = _TF32Off()


@contextlib.contextmanager
def inference_precision(dtype: str, device: torch.device) -> Iterator[None]:
    """Run a SwinIR forward pass in `dtype` ("float32", "bfloat16" or "float16") on float32 weights.

    "float32" is exact: on CUDA, TF32 (cuDNN's default for convolutions, ≈ 1e-3 relative error) is turned off
    while one is open on any thread, and the settings found restored after. The half types are autocast; under
    float16 the model keeps its `_keep_in_fp32_modules` in float32 itself.
    """
    if dtype == "float32":
        if device.type != "cuda":
            yield
            return
        with _TF32_OFF:
            yield
        return
    if dtype not in ("bfloat16", "float16"):
        raise ValueError(f"dtype must be 'float32', 'bfloat16' or 'float16', got {dtype!r}")
    with torch.autocast(device.type, dtype=getattr(torch, dtype)):
        yield


def _to_dtype_of(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`x` in `module`'s weight dtype, unless autocast (which picks the dtypes itself) is on."""
    if autocast_on(x.device.type):
        return x
    return x.to(next(module.parameters()).dtype)


class Linear(nn.Linear):
    """`nn.Linear` that runs CPU inference through oneDNN rather than MKL: faster on SwinIR's token matrices (GEMM
    figures: benchmarks/README.md in the repository), and under bfloat16 autocast no separate bias copy. Same
    parameters, same results up to rounding. `activation="gelu"` applies the exact GELU, fused into the matmul
    there. Training and GPUs use `F.linear`."""

    def forward(self, x: torch.Tensor, activation: str = "none") -> torch.Tensor:
        dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
        if (
            x.device.type == "cpu"
            and not torch.is_grad_enabled()
            and dtype in _ONEDNN_LINEAR_DTYPES
            and not (torch.jit.is_tracing() or torch.compiler.is_compiling())  # exporters know only public ops
        ):
            bias = None if self.bias is None else self.bias.to(dtype)
            algorithm = "none" if activation == "gelu" else ""  # "none": erf GELU, not the tanh approximation
            return torch.ops.mkldnn._linear_pointwise(
                x.to(dtype), self.weight.to(dtype), bias, activation, [], algorithm
            )
        y = super().forward(x)
        return F.gelu(y) if activation == "gelu" else y


def _onednn_linear_dtypes() -> tuple[torch.dtype, ...]:
    if not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")):
        return ()
    return (torch.float32, torch.bfloat16) if torch.ops.mkldnn._is_mkldnn_bf16_supported() else (torch.float32,)


_ONEDNN_LINEAR_DTYPES = _onednn_linear_dtypes()


class Conv2d(nn.Conv2d):
    """`nn.Conv2d` whose output stays channels-last when its input is: with the weight in the default layout
    PyTorch would return a contiguous map, and every conv → token reshape would copy it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            return self._conv_forward(x, self.weight.contiguous(memory_format=torch.channels_last), self.bias)
        return super().forward(x)


# CUDA's fused SDPA kernels (memory-efficient, cuDNN) take head dims in multiples of 8 only (16-bit inputs; of 4 in
# float32); others, such as SwinIR-S's 60 / 6 = 10, fall back to the unfused math path.
FUSED_SDPA_HEAD_MULTIPLE = 8


def fused_sdpa_padding(head_dim: int, device: torch.device) -> int:
    """Zero channels to append to each head of q, k and v so that SDPA on `device` can take a fused kernel: 0 off
    CUDA (the CPU's fused kernel takes any head dim). Exact: zeros add nothing to q·k or probs·v, the scale stays
    1/√head_dim (passed explicitly) and the padded output channels are dropped."""
    return -head_dim % FUSED_SDPA_HEAD_MULTIPLE if device.type == "cuda" else 0


# Tokens per timed call of `faster_cpu_attention`: a chunk's worth at the default `inference_chunk_size`.
_TIMED_TOKENS = 8192


@lru_cache(maxsize=32)
def faster_cpu_attention(heads: int, tokens: int, head_dim: int, dtype: torch.dtype, threads: int) -> str:
    """The faster way to compute CPU inference's window attention on this machine with `threads` threads: "sdpa"
    (SDPA's fused kernel) or "matmul" (two batched matmuls with the softmax between), timed once per process and
    shape, best of 6 on random windows. Which wins depends on the CPU (figures: benchmarks/README.md in the
    repository); both agree to float rounding."""
    gen, windows = torch.Generator().manual_seed(0), max(1, _TIMED_TOKENS // tokens)
    q, k, v = (torch.randn(windows, heads, tokens, head_dim, generator=gen).to(dtype) for _ in range(3))
    # The shift mask is left out: SDPA recomputes only a chunk's few border windows with it (`WindowAttention`).
    bias = torch.randn(1, heads, tokens, tokens, generator=gen).to(dtype)
    kernels = {
        "matmul": lambda: torch.matmul(torch.matmul(q, k.transpose(-2, -1)).add_(bias).softmax(-1), v),
        "sdpa": lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=bias),
    }
    best = dict.fromkeys(kernels, math.inf)
    with torch.inference_mode(), torch.autocast("cpu", enabled=False):
        for _ in range(6):  # interleaved, so that a burst of load on the machine hits both
            for name, kernel in kernels.items():
                start = time.perf_counter()
                kernel()
                best[name] = min(best[name], time.perf_counter() - start)
    return min(best, key=best.get)


ENV_CPU_ATTENTION = "SWINIR_CPU_ATTENTION"
_TIMING = threading.Lock()


def cpu_attention_kernel(heads: int, tokens: int, head_dim: int, dtype: torch.dtype) -> str:
    """The kernel of CPU inference's window attention: "matmul" or "sdpa" as the `SWINIR_CPU_ATTENTION`
    environment variable pins it (the same pixels from every process and run), else `faster_cpu_attention`'s."""
    pinned = os.environ.get(ENV_CPU_ATTENTION, "auto")
    if pinned == "auto":
        with _TIMING:  # threads asking at once: one times the kernels, the others take its answer
            return faster_cpu_attention(heads, tokens, head_dim, dtype, torch.get_num_threads())
    if pinned not in ("matmul", "sdpa"):
        raise ValueError(f"{ENV_CPU_ATTENTION} must be auto, matmul or sdpa, got {pinned!r}")
    return pinned

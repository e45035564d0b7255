"""SwinIR (Liang et al., 2021): shallow conv → residual Swin Transformer blocks → conv → reconstruction head.

Parameter names equal the authors' release files, so their checkpoints load after dropping the derived buffers
(`relative_position_index`, `attn_mask`), which this implementation computes (and caches) instead of storing.

Top-down, the network as the paper builds it: window attention → Swin layer → RSTB → heads → model. The window
geometry it cuts feature maps by (partition, shifts, the relative-position index) is `windows_swinir`'s; how it loads
and saves strictly, `loading_swinir`'s; the code files a save writes beside it, `code_files_swinir`'s; how it runs
fast, in bounded memory and shared by threads, without changing its results, `runtime_swinir`'s (its CPU kernels:
`Linear`, `Conv2d`).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.utils import ModelOutput, can_return_tuple

from .code_files_swinir import LoadOptions, copy_named_code, save_with_code
from .configuration_swinir import SwinIRConfig, check_attention_kernel
from .hub_push_swinir import SaidPush
from .loading_swinir import strict_from_pretrained
from .memory_swinir import activation_bytes_per_pixel, fixed_activation_bytes
from .moved_swinir import moved_names
from .runtime_swinir import (
    Conv2d,
    Linear,
    chunked_inference,
    cpu_attention_kernel,
    fused_sdpa_padding,
    outside_float16_autocast,
    to_dtype_of,
)
from .weight_files_swinir import replacing_other_layout
from .windows_swinir import (
    ShiftMaskCache,
    on_device,
    relative_position_index,
    shift_border_windows,
    shift_window_mask,
    window_partition,
    window_range,
    window_reverse,
)

if TYPE_CHECKING:  # never run: transformers 5.4 copies only a local module's direct relative imports
    from .constants_swinir import TASKS  # noqa: F401  (configuration_swinir's)
    from .hub_files_swinir import hub_reachable  # noqa: F401  (loading_swinir's)
    from .presets_swinir import PRESETS  # noqa: F401  (configuration_swinir's)

logger = logging.getLogger(__name__)

SDPA_ATTENTIONS_WARNING = (
    'output_attentions=True with attn_implementation="sdpa", which computes no attention probabilities: such calls '
    "take the eager attention (an eager model's reconstruction, slower); load the model with "
    'attn_implementation="eager" or call model.set_attn_implementation("eager") to make it the model\'s own'
)

# The names that lived here up to 0.1.0, before how the model loads and runs had modules of their own: importing them
# from here goes on working, with a warning naming their place.
_MOVED = (
    dict.fromkeys(
        ("IncompatibleWeightsError", "check_finite_weights", "check_loading_info"),
        "loading_swinir",
    )
    | dict.fromkeys(
        ("WEIGHTS_LAYOUTS", "safetensors_files", "shard_problem"),
        "weight_files_swinir",
    )
    | dict.fromkeys(
        (
            "ENV_CPU_ATTENTION",
            "FUSED_SDPA_HEAD_MULTIPLE",
            "autocast_on",
            "chunks_on",
            "faster_cpu_attention",
            "inference_precision",
            "resting_dtype",
            "running",
        ),
        "runtime_swinir",
    )
    | dict.fromkeys(
        (
            "ImageTooLargeError",
            "SURELY_NEEDED",
            "available_host_memory",
            "byte_size",
            "check_forward_memory",
            "cuda_free_memory",
        ),
        "memory_swinir",
    )
)
# 0.1.0 defined these two here too; they live with the other code-file names now.
_MOVED |= dict.fromkeys(("MODEL_AUTO_MAP", "REMOTE_CODE_FIELDS"), "code_files_swinir")

if not TYPE_CHECKING:  # (type checkers would take any name here for one of these)
    __getattr__ = moved_names(__name__, _MOVED)


# What a model's cached shift masks may take together while it keeps more than the 2 sizes built last (which it
# keeps whatever they take: an ensemble alternates H×W and W×H); `_evict_shift_masks`.
SHIFT_MASK_CACHE_BYTES = 256 << 20


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
            scores = self._scores(q, k, bias, mask, inference)
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

    def _scores(
        self, q: torch.Tensor, k: torch.Tensor, bias: torch.Tensor, mask: torch.Tensor | None, inference: bool
    ) -> torch.Tensor:
        """The explicit path's scores: q, k (B·nW, heads, n, d) views of one contiguous qkv copy, bias (1, heads, n,
        n), mask None or (nW, n, n) → scaled q·kᵀ + bias (+ mask), (B·nW, heads, n, n)."""
        # The scale in place only without autograd: unbind's views may not be modified where gradients flow.
        # Neither in place in a trace (torch.compile, export): functionalizing an in-place op on a view replays the
        # view at concrete sizes, a guard on the window count (with dynamic=True, a graph per window grid); the
        # compiler plans its own buffers there.
        traced = torch.compiler.is_compiling()
        q = q.mul_(self.scale) if inference and not traced else q * self.scale
        scores = torch.matmul(q, k.transpose(-2, -1)).add_(bias)
        if mask is None:
            return scores
        per_position = scores.view(-1, mask.shape[0], *scores.shape[1:])
        mask = mask.to(scores.dtype).unsqueeze(1)
        if traced:
            return (per_position + mask).view(scores.shape)
        per_position.add_(mask)  # a view: scores gets the mask
        return scores

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
    # The dynamo of torch 2.8-2.11 answers is_exporting() True in any trace, torch.compile's too (compiled training
    # took the explicit matmuls): the flag it returns vetoes, read as torch 2.13's dynamo reads it.
    return bool(is_exporting and is_exporting() and getattr(torch.compiler, "_is_exporting_flag", True))


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
                        mask, border = shift_mask[lo:hi], window_range(borders, lo, hi)
                    parts.append(self.attn(self.norm1(windows[part]), mask, border))  # LayerNorm is per token
            # One call covers the band of one image up to chunk / ws pixels wide: its output is used as it is,
            # not copied into a band-sized buffer.
            y = window_reverse(parts[0] if len(parts) == 1 else torch.cat(parts), ws, len(rows), w)
            out.index_copy_(1, rows, band.add_(torch.roll(y, s, dims=2) if s else y))
        out = out.view(b, h * w, c)
        for part in out.view(-1, c).split(chunk):
            part += self.mlp(self.norm2(part)).to(part.dtype)
        return out


def stochastic_depth_scales(x: torch.Tensor, p: float, training: bool) -> torch.Tensor | None:
    """Stochastic depth of a Swin layer's two residual branches (attention, then MLP) on the (B, L, C) tokens `x`:
    (2, B, 1, 1) factors, 0 (the sample's branch dropped, with probability p) or 1 / (1 - p); None when p is 0 or
    not `training`. Drawn outside the layer and passed in: compiled layers of different rates then share one graph
    (a rate inside a layer is a constant of its graph)."""
    if p == 0.0 or not training:
        return None
    keep = [x.new_empty((x.shape[0], 1, 1)).bernoulli_(1 - p) for _ in range(2)]  # the branches' draws, in turn
    return torch.stack(keep) / (1 - p)


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
    # Where `from_pretrained` found the model (`strict_from_pretrained`): a save looks for the config's files there.
    _loaded_with: LoadOptions | None = None

    @property
    def loss_function(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The loss `forward(labels=...)` computes: `loss_function(reconstruction, labels)`, the config's L1 or
        Charbonnier as a mean over pixels (no `num_items_in_batch`: `accepts_loss_kwargs`), or the one set in its
        place. transformers' default would be its causal-LM loss (SwinIR has no `loss_type`), with a warning."""
        chosen = getattr(self, "_loss_function", None)
        return self._loss if chosen is None else chosen

    @loss_function.setter
    def loss_function(self, value: Callable[..., torch.Tensor]) -> None:
        self._loss_function = value

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

    def _check_and_adjust_attn_implementation(
        self, attn_implementation: str | None, is_init_check: bool = False, allow_all_kernels: bool = False
    ) -> str:
        # Behind from_pretrained, from_config and set_attn_implementation alike.
        check_attention_kernel(attn_implementation)
        return super()._check_and_adjust_attn_implementation(attn_implementation, is_init_check, allow_all_kernels)

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
        return strict_from_pretrained(cls, super().from_pretrained, pretrained_model_name_or_path, *args, **kwargs)

    def save_pretrained(
        self, save_directory: str | os.PathLike, *args: Any, remote_code: bool = True, **kwargs: Any
    ) -> None:
        """transformers' `save_pretrained` (also behind `push_to_hub`), plus the code files the config names
        (`code_files_swinir`; `auto_map`, `custom_pipelines`: a model loaded from a Hub folder) when transformers does
        not copy them: it copies the files of remote-code classes only. A config that names none is saved with
        `MODEL_AUTO_MAP` and its files, so the folder loads with trust_remote_code=True without this package;
        `model.config` is as it was once the save ends (saves take turns: they edit it meanwhile, and two at once on
        threads mixed their edits).
        `remote_code=False` saves no code and none of the `REMOTE_CODE_FIELDS` (the package's own folders).
        A folder holding a file of a code name the save writes that is not this code's (`is_swinir_code`: a user's
        own `modeling_swinir.py`) is refused before anything is written: FileExistsError.

        Also removes the weights of an earlier save that this one replaces in another layout: transformers deletes
        old shards but not an old single `model.safetensors`, which loading prefers to the new shards' index."""
        if kwargs.get("push_to_hub"):  # the folder finished (code files too) before it is uploaded
            self.save_then_push(save_directory, *args, remote_code=remote_code, **kwargs)
            return
        folder = Path(save_directory)
        save_with_code(
            self.config,
            folder,
            lambda: self._save_weights_and_config(folder, *args, **kwargs),
            remote_code,
            self._loaded_with,
        )

    def _save_weights_and_config(self, folder: Path, *args: Any, **kwargs: Any) -> None:
        """transformers' `save_pretrained`, removing an earlier save's weights in the other layout."""
        with replacing_other_layout(folder, kwargs.get("variant")):
            super().save_pretrained(folder, *args, **kwargs)

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
        fields = json.loads(saved.read_text()) if saved.is_file() else {}
        code = copy_named_code(self.config, Path(working_dir), fields, self._loaded_with)
        files_timestamps = {name: t for name, t in files_timestamps.items() if name not in code}
        return super()._upload_modified_files(working_dir, repo_id, files_timestamps, *args, **kwargs)

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

    # Whether this model has warned of `output_attentions` under SDPA (`SDPA_ATTENTIONS_WARNING`); a class default,
    # so that a whole model pickled by an earlier version has it too.
    _warned_sdpa_attentions = False

    def __init__(self, config: SwinIRConfig) -> None:
        # SwinIRConfig validates itself when built and transformers again when saving, but not after `update()` or
        # an attribute assignment: an inconsistent config would build a model that fails deep inside forward.
        for check in (config.validate_body, config.validate_head, config.validate_training, config.check_buildable):
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

    def fixed_activation_bytes(self, device: torch.device | str | None = None) -> float:
        """Rough peak bytes of one float32 forward pass on `device` (default: where the model is) that do not grow
        with the image (its window attention's); tile planners set them aside before dividing their budget."""
        device = torch.device(device) if device is not None else self.device
        return fixed_activation_bytes(self.config, device)

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

    @property
    def dummy_inputs(self) -> dict[str, torch.Tensor]:
        """`{"pixel_values": (1, C, S, S)}` of mid-grey, S a window (`image_size` with absolute position
        embeddings), on the first conv's device and dtype: transformers' default gives `input_ids`."""
        side = self.config.image_size if self.absolute_pos_embed is not None else self.config.window_size
        weight = self.conv_first.weight
        shape = (1, self.config.num_channels, side, side)
        return {"pixel_values": torch.full(shape, 0.5, dtype=weight.dtype, device=weight.device)}

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
            shallow = self.conv_first(to_dtype_of(self.conv_first, x))
        features = self.forward_features(to_dtype_of(self.norm, shallow), hidden_states, attentions)
        with outside_float16_autocast(device_type):
            features = self.conv_after_body(to_dtype_of(self.conv_first, features)) + shallow
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
            loss=None if labels is None else self.loss_function(reconstruction, labels),
            reconstruction=reconstruction,
            hidden_states=None if hidden_states is None else tuple(hidden_states),
            attentions=None if attentions is None else tuple(attentions),
        )

    def _check_call(self, pixel_values: torch.Tensor, output_attentions: bool, kwargs: dict[str, Any]) -> None:
        """Raise the TypeError / ValueError of a call `forward` cannot run as asked; warn (once per model) of
        `output_attentions` under SDPA, which the call computes with the eager attention instead."""
        # A typo (`label=`) or an option of other models would otherwise be ignored in silence; unset (None / False),
        # as generic callers pass them, they are fine.
        if unknown := sorted(k for k, v in kwargs.items() if v is not None and v is not False):
            raise TypeError(
                f"{type(self).__name__}.forward() got unsupported argument(s) {', '.join(unknown)}: it takes "
                "pixel_values, labels, output_hidden_states, output_attentions and return_dict"
            )
        if output_attentions and self.config._attn_implementation != "eager" and not self._warned_sdpa_attentions:
            # transformers' own models warn here too (and return no attentions); `WindowAttention` computes them.
            self._warned_sdpa_attentions = True
            logger.warning(SDPA_ATTENTIONS_WARNING)
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

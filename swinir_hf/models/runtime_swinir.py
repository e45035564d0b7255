"""How a SwinIR model runs, without changing its results: one model shared by the restorations of threads
(`running`), chunked CPU inference, precision (`inference_precision`: autocast, TF32 off for exact float32), and the
CPU kernels its layers choose (oneDNN linears, the faster attention). Figures in benchmarks/README.md. (Its memory,
planned and checked before a pass, is `memory_swinir`'s.)"""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from .configuration_swinir import SwinIRConfig
from .constants_swinir import env_setting
from .moved_swinir import moved_names

if TYPE_CHECKING:
    from .modeling_swinir import SwinIRForImageRestoration
else:  # what lived here before a pass's memory had a module of its own
    __getattr__ = moved_names(
        __name__,
        dict.fromkeys(
            (
                "ImageTooLargeError",
                "SURELY_NEEDED",
                "activation_bytes_per_pixel",
                "available_host_memory",
                "byte_size",
                "check_forward_memory",
                "cuda_free_memory",
                "fixed_activation_bytes",
                "forward_bytes",
                "free_memory",
            ),
            "memory_swinir",
        ),
    )

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


def chunks_on(config: SwinIRConfig, device: torch.device) -> bool:
    """Whether inference on `device` runs in chunks (`config.inference_chunk_size`): on CPUs only. On a GPU small
    chunks are launch-bound (slower: benchmarks/README.md in the repository), and tiling bounds memory there."""
    return bool(config.inference_chunk_size) and device.type == "cpu"


def chunked_inference(config: SwinIRConfig, x: torch.Tensor) -> bool:
    """Whether layers and head run in chunks on `x` now: `chunks_on` its device, without autograd, and eager
    (tracers and compilers would unroll the chunk loops into one huge, size-specific graph)."""
    return (
        chunks_on(config, x.device)
        and not torch.is_grad_enabled()
        and not (torch.jit.is_tracing() or torch.compiler.is_compiling())
    )


# Device types that have autocast, asked once here: the dynamo of torch 2.8-2.11 cannot trace `is_autocast_available`
# (2.13's can): a graph break in every forward, which failed torch.export and fullgraph compiles.
_AUTOCAST_DEVICE_TYPES = frozenset(t for t in ("cpu", "cuda", "mps", "xpu") if torch.amp.is_autocast_available(t))


def autocast_on(device_type: str) -> bool:
    """Whether autocast is on for `device_type`; False where autocast has no such type ("meta": a forward on meta
    tensors, which shape and FLOP counters run, would fail to ask)."""
    available = device_type in _AUTOCAST_DEVICE_TYPES or torch.amp.is_autocast_available(device_type)
    return available and torch.is_autocast_enabled(device_type)


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
    made torch's getters raise. Older torch has cuDNN's flag and the matrix products' precision, whose `allow_tf32`
    is only a view of it (True reads any precision but "highest", and writes "high": saved and restored through the
    flag, a user's "medium" came back "high").
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open = 0
        self._saved: tuple = ()

    @staticmethod
    def _save() -> tuple:
        if not _PER_OPERATION_TF32:
            return torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
        try:
            legacy = torch.get_float32_matmul_precision()
        except RuntimeError:  # the settings disagree already (a user's per-operation one): nothing to put back
            legacy = None
        return legacy, torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision

    @staticmethod
    def _turn_off() -> None:
        torch.set_float32_matmul_precision("highest")
        if _PER_OPERATION_TF32:
            torch.backends.cudnn.conv.fp32_precision = "ieee"
        else:
            torch.backends.cudnn.allow_tf32 = False

    @staticmethod
    def _restore(saved: tuple) -> None:
        if not _PER_OPERATION_TF32:
            torch.set_float32_matmul_precision(saved[0])
            torch.backends.cudnn.allow_tf32 = saved[1]
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


def to_dtype_of(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
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
TIMED_TOKENS = 8192


@lru_cache(maxsize=32)
def faster_cpu_attention(heads: int, tokens: int, head_dim: int, dtype: torch.dtype, threads: int) -> str:
    """The faster way to compute CPU inference's window attention on this machine with `threads` threads: "sdpa"
    (SDPA's fused kernel) or "matmul" (two batched matmuls with the softmax between), timed once per process and
    shape, best of 6 on random windows. Which wins depends on the CPU (figures: benchmarks/README.md in the
    repository); both agree to float rounding."""
    gen, windows = torch.Generator().manual_seed(0), max(1, TIMED_TOKENS // tokens)
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
    pinned = env_setting(ENV_CPU_ATTENTION, "auto")  # set but empty: auto
    if pinned == "auto":
        with _TIMING:  # threads asking at once: one times the kernels, the others take its answer
            return faster_cpu_attention(heads, tokens, head_dim, dtype, torch.get_num_threads())
    if pinned not in ("matmul", "sdpa"):
        raise ValueError(f"{ENV_CPU_ATTENTION} must be auto, matmul or sdpa, got {pinned!r}")
    return pinned

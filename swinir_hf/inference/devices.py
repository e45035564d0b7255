"""Where and in what precision a model runs: devices checked (`check_device`), the precisions each device type runs
(`DTYPES`, `device_dtypes`, `check_dtype`, `auto_dtype`), and a model put there for one restoration, shared safely
between threads (`running`)."""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from ..models.modeling_swinir import SwinIRForImageRestoration
from .options import DTYPES  # defined without torch, for command lines


def check_device(device: str | torch.device) -> torch.device:
    """`device` as a `torch.device` that exists here.

    Raises:
        ValueError: a malformed name (`gpu0`) or a device this machine / torch build does not have, saying which
            devices there are.
    """
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}: use cpu, cuda, cuda:1, mps ({available_devices()})") from err
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device {device!r}: this machine / torch build has no CUDA GPU ({available_devices()})")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"device {device!r}: there are only {count} CUDA GPU(s), cuda:0..cuda:{count - 1}")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {device!r}: MPS is not available here ({available_devices()})")
    elif dev.type != "cpu" and not getattr(getattr(torch, dev.type, None), "is_available", lambda: False)():
        raise ValueError(f"device {device!r} is not supported: use cpu, cuda, cuda:1 or mps ({available_devices()})")
    return dev


def available_devices() -> str:
    """'available here: cpu, cuda:0, ...' for error messages."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        names.append("mps")
    return "available here: " + ", ".join(names)


def device_dtypes(device_type: str) -> tuple[str, ...]:
    """The precisions besides "auto" that a device type ("cpu", "cuda", "mps") runs: float16 only on CUDA (its
    autocast keeps the overflow-prone modules in float32; torch's CPU kernels lack float16 ones)."""
    return tuple(d for d in DTYPES if d != "auto" and (d != "float16" or device_type == "cuda"))


def check_dtype(dtype: str, device: str | torch.device) -> None:
    """Raise ValueError, saying what to use, for a precision (one of `DTYPES`) that `device` does not run."""
    if dtype != "auto" and dtype not in device_dtypes(torch.device(device).type):
        raise ValueError(f"{dtype} is only supported on CUDA; use bfloat16 or float32 here")


def auto_dtype(device: torch.device) -> str:
    """What `dtype="auto"` runs: the fastest precision whose Set5 PSNR stays within 0.05 dB of float32.

    bfloat16 on CPUs with native bfloat16 (AVX512-BF16 or AMX), float32 on other CPUs (bfloat16 is emulated there,
    and slower), float16 on CUDA (the model keeps its overflow-prone modules in float32). The measurements behind
    this choice: benchmarks/README.md, "`dtype="auto"`: measured".
    """
    if device.type == "cuda":
        return "float16"
    if device.type == "cpu" and _native_cpu_bfloat16():
        return "bfloat16"
    return "float32"


@functools.cache
def _native_cpu_bfloat16() -> bool:
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


@dataclass
class _Runs:
    """A model's restorations running now, on any thread, and the training mode the first of them found."""

    count: int = 0
    was_training: bool = False
    dtypes: dict[str, torch.dtype] | None = None  # the floating tensors' own dtypes, where the first run cast them


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
        holds = _holds(model, device, dtype)
        shared = runs.count == 0 or holds
        if shared:
            if runs.count == 0:
                runs.dtypes = None
                if not holds:
                    if dtype is not None:
                        runs.dtypes = {name: t.dtype for name, t in _floating_tensors(model) if t.dtype != dtype}
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

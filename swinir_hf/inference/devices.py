"""Where and in what precision a model runs: devices checked (`check_device`), the precisions each device type runs
(`DTYPES`, `device_dtypes`, `check_dtype`, `auto_dtype`); a model put there for one restoration, shared safely
between threads (`running`), is the model layer's, which the pipeline shares."""

from __future__ import annotations

import functools

import torch

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

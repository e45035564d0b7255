"""A SwinIR forward pass's memory, planned and checked before any work: the activation bytes per input pixel and the
fixed part (`activation_bytes_per_pixel`, `fixed_activation_bytes`: what tile planners divide their budget by), the
memory free on a device (`free_memory`), and the refusal of a pass that cannot fit (`check_forward_memory`:
`ImageTooLargeError`). Figures in benchmarks/README.md ("Activation memory")."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from .configuration_swinir import SwinIRConfig
from .runtime_swinir import TIMED_TOKENS, chunks_on


def activation_bytes_per_pixel(config: SwinIRConfig, device: torch.device) -> float:
    """Rough peak activation bytes per input pixel of one float32 forward pass on `device` (no safety margin): what
    a tile planner needs to know of this architecture (`SwinIRForImageRestoration.activation_bytes_per_pixel`),
    beside what a pass needs whatever the image size (`fixed_activation_bytes`).

    Every pass holds the shift mask of its size (ws² floats a pixel, cached; twice that while it is built).
    Chunked inference (`chunks_on`) holds a few full-size token maps (block input and output, the RSTB and
    shallow-feature residuals, a conv output) and the output image (model output, crop, host copy); its chunk
    temporaries do not grow with the image. Unchunked, add each layer's qkv, attention scores and MLP hidden state,
    and the head's feature maps at the output resolution.
    """
    d, scale2, n = config.embed_dim, config.upscale**2, config.window_size**2
    if chunks_on(config, device):
        return max(4.0 * (6 * d + 3 * scale2 * config.num_channels + n), 8.0 * n)
    heads = max(config.num_heads)
    body = 4 * d + 3 * d + 2 * heads * n + n + config.mlp_ratio * d
    if config.upsampler in ("pixelshuffle", "nearest+conv"):
        head = 2 * scale2 * config.num_feat
    elif config.upsampler == "pixelshuffledirect":
        head = 2 * scale2 * config.num_channels
    else:
        head = d
    return 4.0 * (body + head)


def fixed_activation_bytes(config: SwinIRConfig, device: torch.device) -> float:
    """Rough peak bytes of one float32 forward pass on `device` that do not grow with the image: the (heads, ws²,
    ws²) position bias and its int64 index; chunked (`chunks_on`), one attention call's scores and softmax over a
    chunk's windows (at least one window: ws⁴ floats a head, hundreds of MB from window 32 on), the same for the
    one timing of the CPU kernels (`faster_cpu_attention`), and a chunk's qkv and MLP temporaries. Small for
    SwinIR's 8-pixel windows; tile planners set it aside before dividing their budget into pixels."""
    n, heads = config.window_size**2, max(config.num_heads)
    bias = 4.0 * heads * n * n + 16.0 * n * n
    if not chunks_on(config, device):
        return bias  # the scores are per pixel there
    chunk = config.inference_chunk_size
    windows = max(1, max(chunk, TIMED_TOKENS) // n)  # per attention call, and per timed call
    return bias + 8.0 * heads * n * n * windows + 4.0 * chunk * (3 + config.mlp_ratio) * config.embed_dim


class ImageTooLargeError(MemoryError):
    """An image whose output, or whole-image pass, does not fit in memory, found before any work (or at its
    allocation)."""


# The share of the estimate (`activation_bytes_per_pixel`, `fixed_activation_bytes`) that a pass surely needs:
# measured peaks fall on both sides of it (benchmarks/README.md, "Activation memory"); only what cannot fit is refused.
SURELY_NEEDED = 0.8


def check_forward_memory(
    config: SwinIRConfig,
    shape: tuple[int, ...] | None,
    device: torch.device,
    precision: str = "float32",
    how_to_tile: str | Callable[[], str] = "",
) -> None:
    """Raise `ImageTooLargeError` (with the sizes) when one forward pass cannot fit on `device`: over a whole
    (N, C, H, W) input `shape`, `SURELY_NEEDED` of its estimate (`forward_bytes`), or, with `shape` None (tiles, of
    any size), of the fixed part alone, against the memory free there now (`free_memory`). Without it such a pass
    fails deep in the model, or the OS kills the process. `how_to_tile`: how the caller runs tiles (its own option,
    as "tile='auto'"), said in the whole image's refusal; or a function that says it, called only for a refusal."""
    n, _, h, w = shape or (0, 0, 0, 0)
    needed, fixed = forward_bytes(config, n * h * w, device, precision)
    available = free_memory(device)
    if SURELY_NEEDED * fixed > available:  # tiles would not help
        ws, halved = config.window_size, _halved(precision, device)
        raise ImageTooLargeError(
            f"this model's attention over {ws}×{ws}-pixel windows needs ≈ {byte_size(int(fixed))} of memory on "
            f"{device} at once, whatever the image or tile size, but only {byte_size(available)} are available: "
            "use a machine with more memory" + ("" if halved or device.type == "cpu" else ", or dtype='bfloat16'")
        )
    if SURELY_NEEDED * needed > available:
        how = how_to_tile() if callable(how_to_tile) else how_to_tile
        tiles = f"run it in tiles ({how})" if how else "run it in tiles"
        raise ImageTooLargeError(
            f"one pass over {'a whole' if n == 1 else f'{n} whole'} {w}×{h} image{'s' * (n > 1)} needs ≈ "
            f"{byte_size(needed)} of memory on {device}, but only {byte_size(available)} are available: {tiles}, "
            "crop or downscale it, or use a machine with more memory"
        )


def forward_bytes(
    config: SwinIRConfig, pixels: int, device: torch.device, precision: str = "float32"
) -> tuple[int, float]:
    """(all, fixed part) of the estimated peak bytes of one forward pass over `pixels` input pixels (of all its
    images or tiles together) on `device`: `activation_bytes_per_pixel` × `pixels` + `fixed_activation_bytes`.
    The estimate is float32's: a pass under `precision` "bfloat16" / "float16" (autocast) on a GPU is counted at
    half of it, the least it can need, so that only what surely cannot fit is refused; on the CPU it is counted as
    float32, as it needs no less."""
    fixed = fixed_activation_bytes(config, device)
    needed = int(pixels * activation_bytes_per_pixel(config, device) + fixed)
    if _halved(precision, device):
        return needed // 2, fixed // 2
    return needed, fixed


def _halved(precision: str, device: torch.device) -> bool:
    # autocast's 2-byte activations on a GPU; softmax and norms stay float32, so never below half. Not on the CPU:
    # there a bfloat16 pass peaked above the float32 one (embed_dim 60, 640²: +793 MB against +614 MB RSS).
    return precision != "float32" and device.type == "cuda"


def free_memory(device: torch.device) -> int:
    """Bytes a pass on `device` may still allocate: `cuda_free_memory` on a GPU, else `available_host_memory`."""
    return cuda_free_memory(device) if device.type == "cuda" else available_host_memory()


def cuda_free_memory(device: torch.device) -> int:
    """Bytes torch may still allocate on the CUDA `device`: the driver's free memory plus what torch's caching
    allocator holds unused. The driver counts that cache (an earlier pass's activations, kept for reuse) as taken,
    so its figure alone refused the second of two same-size whole images that the first one's memory would run."""
    free, _ = torch.cuda.mem_get_info(device)
    return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)


def available_host_memory() -> int:
    """Bytes this process may still allocate: the least of the system's MemAvailable, the cgroup's limit minus its
    usage, and the address-space limit (ulimit -v) minus this process's size. Where none of these can be read
    (no /proc, no `SC_AVPHYS_PAGES`: macOS; no `os.sysconf`: Windows), `sys.maxsize`: nothing is refused and tile
    plans take their cap."""
    candidates = [sys.maxsize]
    try:
        candidates.append(_meminfo("MemAvailable") or os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
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

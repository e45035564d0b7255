"""Inference benchmark (not a test): seconds per image, throughput, peak memory, GFLOP/s vs the GEMM peak, PSNR of
reduced precision against float32.

Every configuration runs in a fresh subprocess, so its peak memory (RSS on CPU, allocated on CUDA) is its own.
Models are the paper's architectures with random weights (seeded): speed does not depend on the weights; the
PSNR column compares a reduced-precision output with the float32 output of the same model. `--set5 MODEL` instead
scores a model on Set5 in each precision (the 0.05 dB criterion behind `dtype="auto"`).

    python benchmarks/inference.py --models lightweight_x4 classical_x4 color_dn --sizes 64 128 256
    python benchmarks/inference.py --cpu-attention matmul   # one attention kernel, not the faster one timed here
    python benchmarks/inference.py --set5 path/to/model --dtypes float32 bfloat16
    python benchmarks/inference.py --device cuda --dtypes float32 bfloat16 float16 --sizes 256 512 1024
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from arguments import loaded_model, positive, require_device  # beside this script
from PIL import Image

SHARED = Path(os.environ.get("SWINIR_SHARED", Path(__file__).resolve().parents[2] / "shared"))
MODELS = {"lightweight_x4": ("lightweight_sr", 4), "classical_x4": ("classical_sr", 4), "color_dn": ("color_dn", None)}


def build_model(name: str):
    from swinir_hf import SwinIRConfig, SwinIRForImageRestoration

    preset, scale = MODELS[name]
    torch.manual_seed(0)
    return SwinIRForImageRestoration(SwinIRConfig.from_preset(preset, scale=scale)).eval()


def test_image(size: int) -> np.ndarray:
    """(size, size, 3) float32 crop of a real photo (Set5 butterfly, repeated by reflection if needed)."""
    img = np.asarray(Image.open(SHARED / "testsets/Set5/HR/butterfly.png").convert("RGB"), dtype=np.float32) / 255
    reps = -(-size // min(img.shape[:2]))
    return np.ascontiguousarray(np.pad(img, ((0, img.shape[0] * reps),) * 2 + ((0, 0),), "reflect")[:size, :size])


def count_flops(model, x: torch.Tensor) -> float:
    """2 × multiply-accumulates of the convs, linears and the two attention matmuls of one forward pass."""
    from swinir_hf.models.modeling_swinir import WindowAttention

    total = 0.0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += 2.0 * k * output.numel()
        elif isinstance(module, torch.nn.Linear):
            total += 2.0 * module.in_features * output.numel()
        elif isinstance(module, WindowAttention):
            bnw, n, c = inputs[0].shape
            total += 4.0 * bnw * n * n * c

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return total


def gemm_peak(device: str, dtype: str) -> float:
    """GFLOP/s of a 4096×256 @ 256×1024 product (CPU: through oneDNN where the model's linears use it, else
    `F.linear`, as they then do) or 8192³ (CUDA)."""
    from swinir_hf.models.runtime_swinir import _ONEDNN_LINEAR_DTYPES

    dt = getattr(torch, dtype)
    if device == "cuda":
        a, b = torch.rand(8192, 8192, device=device, dtype=dt), torch.rand(8192, 8192, device=device, dtype=dt)
        fn, flops = (lambda: torch.mm(a, b)), 2 * 8192**3
    else:
        # oneDNN has no bfloat16 inner product on CPUs without native bfloat16 (e.g. AVX2 only): it raises there.
        a, w = torch.rand(4096, 256).to(dt), torch.rand(1024, 256).to(dt)
        if dt in _ONEDNN_LINEAR_DTYPES:
            fn = lambda: torch.ops.mkldnn._linear_pointwise(a, w, None, "none", [], "")  # noqa: E731
        else:
            fn = lambda: torch.nn.functional.linear(a, w)  # noqa: E731
        flops = 2 * 4096 * 256 * 1024
    fn()
    return flops / min(_timed(fn, device) for _ in range(20)) / 1e9


def _timed(fn, device: str = "cpu") -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def synchronize(device: str) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously); nothing to wait for on the CPU."""
    if device == "cuda":
        torch.cuda.synchronize()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    from swinir_hf.evaluation.metrics import psnr as metric

    return metric(np.clip(a, 0, 1), np.clip(b, 0, 1))


def record_cpu_attention(choice: str) -> set[str]:
    """Make CPU inference's attention kernel `choice` ("matmul", "sdpa"; "auto": the model's own timing) and return
    the set that collects the kernels used."""
    from swinir_hf.models import runtime_swinir

    timed, used = runtime_swinir.faster_cpu_attention, set()

    def pick(*shape) -> str:
        kernel = timed(*shape) if choice == "auto" else choice
        used.add(kernel)
        return kernel

    runtime_swinir.faster_cpu_attention = pick
    return used


def run_one(cfg: dict) -> dict:
    """One configuration, in this process: returns its figures."""
    from swinir_hf.inference.restoration import SwinIRRestorer

    torch.set_num_threads(cfg["threads"])
    device = cfg["device"]
    kernels = record_cpu_attention(cfg["cpu_attention"])
    model = build_model(cfg["model"])
    if cfg["chunk"] is not None:
        model.config.inference_chunk_size = cfg["chunk"]
    img = test_image(cfg["size"])
    tile = cfg["tile"] if cfg["mode"] == "tiled" else None
    options = dict(tile=tile, tile_overlap=cfg["overlap"], tune_malloc=cfg["tune_allocator"], device=device)
    restorer = SwinIRRestorer(model, dtype=cfg["dtype"], **options)
    times = []
    for i in range(cfg["warmup"] + cfg["repeats"]):
        start = time.perf_counter()
        out = restorer.restore_float(img)  # returns host memory: synchronised
        if i >= cfg["warmup"]:
            times.append(time.perf_counter() - start)
    if device == "cuda":
        memory = torch.cuda.max_memory_allocated() / 1024**3
    else:
        memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    x = torch.from_numpy(img.transpose(2, 0, 1)[None].copy()).to(device)
    flops = count_flops(model, x)
    result = {
        "seconds": statistics.median(times),
        "memory_gib": memory,
        "flops": flops,
        "out_pixels": out.shape[0] ** 2,
        "attention": "+".join(sorted(kernels)) or "—",
    }
    if cfg["dtype"] != "float32":
        out32 = SwinIRRestorer(model, dtype="float32", **options).restore_float(img)
        result["psnr_vs_fp32"] = psnr(out, out32)
        result["finite"] = bool(np.isfinite(out).all())
    return result


def set5_check(model_path: str, dtypes: list[str], device: str) -> None:
    from hr_testset import hr_files

    from swinir_hf.evaluation import evaluate
    from swinir_hf.inference.options import PAPER_ENGINE

    hr_files(str(SHARED / "testsets/Set5"))  # there, or one line saying where it looked
    model = loaded_model(model_path)
    print(f"Set5 x{model.config.upscale}, {model_path}, {device}\n")
    print("| dtype | PSNR-Y | Δ vs float32 | seconds |\n|:--|--:|--:|--:|")
    ref = None
    for dtype in dtypes:
        start = time.perf_counter()
        result = evaluate(
            model,
            SHARED / "testsets/Set5",
            engine=dataclasses.replace(PAPER_ENGINE, dtype=dtype, device=device),
            progress=False,
            model_name="m",
        )
        value = result.mean("m")["psnr_y"]
        ref = value if ref is None else ref
        print(f"| {dtype} | {value:.3f} | {value - ref:+.3f} | {time.perf_counter() - start:.1f} |")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--sizes", nargs="+", type=positive(1), default=[64, 128, 256])
    parser.add_argument("--modes", nargs="+", default=["whole", "tiled"], choices=["whole", "tiled"])
    parser.add_argument(
        "--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16", "float16"]
    )
    parser.add_argument("--tile", type=int, default=64, help="tile size of the tiled mode (input pixels)")
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument("--repeats", type=positive(1), default=3)
    parser.add_argument("--warmup", type=positive(0), default=1)
    parser.add_argument("--threads", type=positive(1), default=torch.get_num_threads())
    parser.add_argument("--no-tune-allocator", dest="tune_allocator", action="store_false")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--chunk", type=int, help="override config.inference_chunk_size (0: whole layers)")
    parser.add_argument(
        "--cpu-attention",
        default="auto",
        choices=["auto", "matmul", "sdpa"],
        help="CPU inference's attention kernel (default: the faster here, as the model times it)",
    )
    parser.add_argument("--set5", metavar="MODEL", help="score MODEL on Set5 in each of --dtypes instead")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return
    require_device(args.device)
    if args.set5:
        set5_check(args.set5, args.dtypes, args.device)
        return
    torch.set_num_threads(args.threads)
    peaks = {dtype: gemm_peak(args.device, dtype) for dtype in args.dtypes}
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {args.threads} threads"
    print(
        f"{where}; GEMM peak (GFLOP/s): "
        + ", ".join(f"{dtype} {peak:.0f}" for dtype, peak in peaks.items())
        + f"; allocator tuned: {args.tune_allocator}"
        + f"; inference_chunk_size: {'default' if args.chunk is None else args.chunk}"
        + f"; CPU attention: {args.cpu_attention}\n"
    )
    memory = "peak CUDA GiB" if args.device == "cuda" else "peak RSS GiB"
    print(
        f"| model | input | mode | dtype | s / image | out MP/s | {memory} | GFLOP/s | % of peak | PSNR vs fp32 "
        "| attention |"
    )
    print("|:--|--:|:--|:--|--:|--:|--:|--:|--:|--:|:--|")
    for name in args.models:
        for size in args.sizes:
            for mode in args.modes:
                if mode == "tiled" and size <= args.tile:
                    continue
                for dtype in args.dtypes:
                    cfg = dict(vars(args), model=name, size=size, mode=mode, dtype=dtype)
                    cfg = {k: v for k, v in cfg.items() if k not in ("models", "sizes", "modes", "dtypes", "one")}
                    proc = subprocess.run(
                        [sys.executable, __file__, "--one", json.dumps(cfg)], capture_output=True, text=True
                    )
                    if proc.returncode:
                        print(f"| {name} | {size}² | {mode} | {dtype} | failed: {proc.stderr.strip()[-200:]} |")
                        continue
                    r = json.loads(proc.stdout.strip().splitlines()[-1])
                    gflops = r["flops"] / r["seconds"] / 1e9
                    psnr_cell = "—"
                    if "psnr_vs_fp32" in r:
                        psnr_cell = f"{r['psnr_vs_fp32']:.2f} dB" + ("" if r["finite"] else " (NaN/inf!)")
                    print(
                        f"| {name} | {size}² | {mode} | {dtype} | {r['seconds']:.3f} | "
                        f"{r['out_pixels'] / r['seconds'] / 1e6:.3f} | {r['memory_gib']:.2f} | {gflops:.0f} | "
                        f"{100 * gflops / peaks[dtype]:.0f} % | {psnr_cell} | {r['attention']} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()

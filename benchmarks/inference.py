"""Inference benchmark (not a test): seconds per image, throughput, peak RSS, GFLOP/s vs the GEMM peak, bf16 PSNR.

Every configuration runs in a fresh subprocess, so its peak RSS is its own. Models are the paper's architectures
with random weights (seeded): speed does not depend on the weights; the bf16-vs-fp32 PSNR column compares the two
outputs of the same model. `--set5 MODEL` instead scores a model on Set5 in each precision (the 0.05 dB criterion
behind `dtype="auto"`).

    python benchmarks/inference.py --models lightweight_x4 classical_x4 color_dn --sizes 64 128 256
    python benchmarks/inference.py --set5 path/to/model --dtypes float32 bfloat16
"""

from __future__ import annotations

import argparse
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
    from swinir_hf.modeling_swinir import WindowAttention

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


def gemm_peak() -> dict[str, float]:
    """fp32 GFLOP/s of a 4096×256 @ 256×1024 product through oneDNN (the model's linears) and MKL (`torch.mm`)."""
    a, w = torch.rand(4096, 256), torch.rand(1024, 256)
    runs = {
        "onednn": lambda: torch.ops.mkldnn._linear_pointwise(a, w, None, "none", [], ""),
        "mkl": lambda: torch.mm(a, w.t()),
    }
    out = {}
    for name, fn in runs.items():
        fn()
        best = min(_timed(fn) for _ in range(20))
        out[name] = 2 * 4096 * 256 * 1024 / best / 1e9
    return out


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    from swinir_hf.metrics import psnr as metric

    return metric(np.clip(a, 0, 1), np.clip(b, 0, 1))


def run_one(cfg: dict) -> dict:
    """One configuration, in this process: returns its figures."""
    from swinir_hf.restoration import SwinIRRestorer

    torch.set_num_threads(cfg["threads"])
    model = build_model(cfg["model"])
    img = test_image(cfg["size"])
    tile = cfg["tile"] if cfg["mode"] == "tiled" else None
    options = dict(tile=tile, tile_overlap=cfg["overlap"], tune_malloc=cfg["tune_allocator"])
    restorer = SwinIRRestorer(model, dtype=cfg["dtype"], **options)
    times = []
    for i in range(cfg["warmup"] + cfg["repeats"]):
        start = time.perf_counter()
        out = restorer.restore_float(img)
        if i >= cfg["warmup"]:
            times.append(time.perf_counter() - start)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    x = torch.from_numpy(img.transpose(2, 0, 1)[None].copy())
    flops = count_flops(model, x)
    result = {"seconds": statistics.median(times), "rss_gib": rss, "flops": flops, "out_pixels": out.shape[0] ** 2}
    if cfg["dtype"] != "float32":
        result["psnr_vs_fp32"] = psnr(out, SwinIRRestorer(model, **options)(img))
    return result


def set5_check(model_path: str, dtypes: list[str]) -> None:
    from swinir_hf.evaluation import evaluate
    from swinir_hf.loading import load_model

    model = load_model(model_path)
    print(f"Set5 x{model.config.upscale}, {model_path}\n")
    print("| dtype | PSNR-Y | Δ vs float32 | seconds |\n|:--|--:|--:|--:|")
    ref = None
    for dtype in dtypes:
        start = time.perf_counter()
        result = evaluate(model, SHARED / "testsets/Set5", dtype=dtype, progress=False, model_name="m")
        value = result.mean("m")["psnr_y"]
        ref = value if ref is None else ref
        print(f"| {dtype} | {value:.3f} | {value - ref:+.3f} | {time.perf_counter() - start:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 128, 256])
    parser.add_argument("--modes", nargs="+", default=["whole", "tiled"], choices=["whole", "tiled"])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--tile", type=int, default=64, help="tile size of the tiled mode (input pixels)")
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--no-tune-allocator", dest="tune_allocator", action="store_false")
    parser.add_argument("--set5", metavar="MODEL", help="score MODEL on Set5 in each of --dtypes instead")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(json.loads(args.one))))
        return
    if args.set5:
        set5_check(args.set5, args.dtypes)
        return
    torch.set_num_threads(args.threads)
    peak = gemm_peak()
    print(
        f"fp32 GEMM peak: oneDNN {peak['onednn']:.0f} GFLOP/s, MKL {peak['mkl']:.0f} GFLOP/s; "
        f"{args.threads} threads; allocator tuned: {args.tune_allocator}\n"
    )
    print("| model | input | mode | dtype | s / image | out MP/s | peak RSS GiB | GFLOP/s | % of peak | PSNR vs fp32 |")
    print("|:--|--:|:--|:--|--:|--:|--:|--:|--:|--:|")
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
                    psnr_cell = f"{r['psnr_vs_fp32']:.2f} dB" if "psnr_vs_fp32" in r else "—"
                    print(
                        f"| {name} | {size}² | {mode} | {dtype} | {r['seconds']:.3f} | "
                        f"{r['out_pixels'] / r['seconds'] / 1e6:.3f} | {r['rss_gib']:.2f} | {gflops:.0f} | "
                        f"{100 * gflops / peak['onednn']:.0f} % | {psnr_cell} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()

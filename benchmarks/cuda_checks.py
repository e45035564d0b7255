"""GPU checks of the restoration engine (not a test: needs a CUDA device). Prints markdown.

1. Precision: each bundled model scored on Set5 in float32 / bfloat16 / float16 on the GPU (the 0.05 dB criterion
   behind `dtype="auto"`), and whether any output holds NaN / inf.
2. float16 overflow: paper-size models in plain `.half()` (the reference code's fp16) against the engine's float16
   (the overflow-prone modules kept in float32): non-finite outputs and PSNR against float32.
3. Reference parity on the GPU: the authors' outputs (../shared fixtures) against a plain forward pass under
   PyTorch's defaults (cuDNN convolutions in TF32) and against the engine's float32 (TF32 off).
4. Out-of-memory fallback: the GPU capped to a small memory fraction, an explicit tile too large for it; the
   engine must halve the tile until it fits and return what an uncapped tiled run returns.
5. A 2048² input through lightweight x4 (8192² output), tiled: seconds and peak GPU memory.

    python benchmarks/cuda_checks.py
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time

import numpy as np
import torch
from arguments import require_device  # beside this script
from inference import SHARED
from inference import test_image as photo  # run as a script: benchmarks/ is on sys.path
from safetensors.torch import load_file

from swinir_hf import SwinIRConfig, SwinIRForImageRestoration, SwinIRRestorer, convert_original_checkpoint
from swinir_hf.evaluation import evaluate
from swinir_hf.evaluation.metrics import psnr
from swinir_hf.inference.options import PAPER_ENGINE
from swinir_hf.loading import load_model

DTYPES = ("float32", "bfloat16", "float16")


def precision_on_set5() -> None:
    print("## Bundled models on Set5, by precision (CUDA)\n")
    print("| model | task | dtype | PSNR-Y | Δ vs float32 | finite | seconds |\n|:--|:--|:--|--:|--:|:--|--:|")
    for name in ("sr-x4", "sr-x2", "denoise-color"):
        model = load_model(name).cuda()
        noise = 25 if model.config.upscale == 1 else None
        ref = None
        for dtype in DTYPES:
            torch.cuda.synchronize()
            start = time.perf_counter()
            result = evaluate(
                model,
                SHARED / "testsets/Set5",
                noise=noise,
                progress=False,
                model_name="m",
                engine=dataclasses.replace(PAPER_ENGINE, dtype=dtype, device="cuda"),
            )
            seconds = time.perf_counter() - start
            value = result.mean("m")["psnr_y"]
            ref = value if ref is None else ref
            finite = bool(np.isfinite(SwinIRRestorer(model, tile=None, dtype=dtype).restore_float(photo(128))).all())
            task = f"σ{noise}" if noise else f"x{model.config.upscale}"
            print(f"| {name} | {task} | {dtype} | {value:.3f} | {value - ref:+.3f} | {finite} | {seconds:.1f} |")
    print()


def fp16_overflow() -> None:
    print("## float16: plain `.half()` vs the engine (paper architectures, random weights, 256² photo)\n")
    print("| preset | plain .half(): non-finite px | plain: PSNR vs fp32 | engine fp16: non-finite px | engine: PSNR |")
    print("|:--|--:|--:|--:|--:|")
    img = photo(256)
    x = torch.from_numpy(img.transpose(2, 0, 1)[None].copy()).cuda()
    for preset, scale in (("classical_sr", 4), ("color_dn", None), ("color_jpeg_car", None)):
        torch.manual_seed(0)
        model = SwinIRForImageRestoration(SwinIRConfig.from_preset(preset, scale=scale)).cuda().eval()
        ref = SwinIRRestorer(model, tile=None, dtype="float32").restore_float(img)
        with torch.no_grad():
            plain = model.half()(x.half()).reconstruction.float()[0].permute(1, 2, 0).cpu().numpy()
        model.float()
        ours = SwinIRRestorer(model, tile=None, dtype="float16").restore_float(img)
        cells = []
        for out in (plain, ours):
            bad = int((~np.isfinite(out)).any(axis=-1).sum())
            cells += [str(bad), f"{psnr(np.clip(np.nan_to_num(out), 0, 1), np.clip(ref, 0, 1)):.2f} dB"]
        print(f"| {preset} | " + " | ".join(cells) + " |")
    print()


def parity_on_cuda() -> None:
    print("## Reference parity on the GPU (max |Δ| against the authors' outputs, float32)\n")
    print('| case | plain forward, PyTorch defaults (TF32 convs) | engine `dtype="float32"` |\n|:--|--:|--:|')
    root = SHARED / "fixtures/official_parity"
    for case in sorted(json.loads((root / "INDEX.json").read_text())):
        model = convert_original_checkpoint(root / f"{case}.pth").cuda().eval()
        data = load_file(root / f"{case}.safetensors", device="cuda")
        plain = engine = 0.0
        for name in ("odd", "batch"):
            x, ref = data[f"input_{name}"], data[f"output_{name}"]
            with torch.no_grad():
                plain = max(plain, (model(x).reconstruction - ref).abs().max().item())
            out = SwinIRRestorer(model, tile=None, dtype="float32").restore_tensor(x)
            engine = max(engine, (out - ref).abs().max().item())
        print(f"| {case} | {plain:.2e} | {engine:.2e} |")
    print()


class _Retries(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def oom_fallback() -> None:
    print("## Out-of-memory fallback (CUDA)\n")
    torch.manual_seed(0)
    # Unchunked layers (inference_chunk_size=0) need ≈ 7 GB for this image: far over the cap.
    config = SwinIRConfig.from_preset("classical_sr", scale=4, inference_chunk_size=0)
    model = SwinIRForImageRestoration(config).cuda().eval()
    img = photo(512)
    expected = SwinIRRestorer(model, tile=128, tile_overlap=32, dtype="float32").restore_float(img)
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    cap = 2 << 30
    torch.cuda.set_per_process_memory_fraction(cap / total)
    retries = _Retries()
    logging.getLogger("swinir_hf.inference.restoration").addHandler(retries)
    try:
        out = SwinIRRestorer(model, tile=512, tile_overlap=32, dtype="float32").restore_float(img)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    print(f"- GPU capped at {cap / 2**30:.0f} GiB; SwinIR-M x4 (unchunked) on a 512² input with `tile=512`:")
    for message in retries.messages or ["no out-of-memory error"]:
        print(f"  - {message}")
    print(f"- output {out.shape}, PSNR against an uncapped run with 128-pixel tiles: {psnr(out, expected):.2f} dB\n")


def large_tiled() -> None:
    print('## 2048² → 8192² through lightweight x4 (CUDA; `tile="auto"` runs it whole when it fits)\n')
    torch.manual_seed(0)
    model = SwinIRForImageRestoration(SwinIRConfig.from_preset("lightweight_sr", scale=4)).cuda().eval()
    img = photo(2048)
    for tile in ("auto", 512):
        for dtype in DTYPES:
            torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            out = SwinIRRestorer(model, tile=tile, dtype=dtype).restore_float(img)
            seconds = time.perf_counter() - start
            peak = torch.cuda.max_memory_allocated() / 2**30
            print(f"- tile={tile}, {dtype}: {out.shape[1]}×{out.shape[0]} in {seconds:.1f} s, peak GPU {peak:.2f} GiB")
    print()


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    require_device("cuda")
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}\n")
    precision_on_set5()
    fp16_overflow()
    parity_on_cuda()
    oom_fallback()
    large_tiled()


if __name__ == "__main__":
    main()

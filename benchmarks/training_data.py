"""Training-data benchmark (not a test): what one training sample costs the CPU, per GPU-recipe config.

On a lent GPU the data loaders, not the GPU, set the pace of these small models, so a sample's CPU cost decides
the steps a lease gets. Prints markdown:

1. The real-world degradation's blur on a 256² RGB float32 patch: `real_world.blur` (FFT) against a direct
   depthwise convolution (`torch.nn.functional.conv2d`, what `blur` did before), per kernel.
2. MATLAB bicubic `imresize` (the bicubic degradation and the benchmark's LR images): the sparse product against
   the tap-by-tap gathering it replaced, on training patches and a DIV2K-sized image.
3. Milliseconds per training sample (decode, crop, augment, degrade) of each `gpu_*` config (or of `--configs`), one
   thread, on the packed `gpu_data/` (`python hub/pack_gpu_data.py` makes it from ../shared): wall time, or with
   `--cpu-time` the process's CPU time, which other jobs on a shared machine disturb less. A `real` config is also
   timed with the direct blur and with `real-esrgan` (Real-ESRGAN's second-order degradation) in its place, with and
   without Real-ESRGAN's sharpened targets (`data.sharpen_target`).

    OMP_NUM_THREADS=1 python benchmarks/training_data.py
    OMP_NUM_THREADS=1 python benchmarks/training_data.py --cpu-time --configs gpu_real_sr_x4
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from swinir_hf.degradations import real_world
from swinir_hf.degradations.real_world import blur, gaussian_kernel
from swinir_hf.degradations.synthetic import imresize, resize_weights
from swinir_hf.training.cli import parse_command_line
from swinir_hf.training.data import build_dataset
from swinir_hf.training.state import build_model

REPO = Path(__file__).resolve().parent.parent
SHARPENED = ("--data.sharpen_target", "true")
CONFIGS = ("gpu_sr_x4", "gpu_real_sr_x4", "gpu_color_dn", "gpu_color_jpeg", "gpu_sr_x2")


def direct_blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The same convolution, direct: one depthwise `conv2d` over the reflect-padded image."""
    k = kernel.shape[0]
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    x = torch.nn.functional.pad(x, (k // 2,) * 4, mode="reflect")
    weight = torch.from_numpy(kernel[::-1, ::-1].copy()).to(x.dtype).expand(image.shape[2], 1, k, k)
    return torch.nn.functional.conv2d(x, weight, groups=image.shape[2])[0].numpy().transpose(1, 2, 0)


def gathered_imresize(image: np.ndarray, scale: float) -> np.ndarray:
    """`imresize` as it was before the sparse product: the taps gathered and accumulated one by one."""
    out = image.astype(np.float64)
    for axis in (0, 1):
        indices, weights = resize_weights(out.shape[axis], scale)
        lines = np.moveaxis(out, axis, 0)
        acc = np.zeros((indices.shape[0],) + lines.shape[1:])
        for k in range(indices.shape[1]):
            acc += weights[:, k].reshape((-1,) + (1,) * (lines.ndim - 1)) * lines[indices[:, k]]
        out = np.clip(np.floor(np.moveaxis(acc, 0, axis) + 0.5), 0, 255)
    return out.astype(image.dtype)


def best_ms(fn, *args, repeat: int = 10) -> float:
    """Fastest of `repeat` calls, in milliseconds (the least disturbed by other jobs)."""
    fn(*args)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def blur_table() -> None:
    print("## Blur of a 256² RGB float32 patch (ms, best of 10)\n")
    print("| kernel | direct conv2d | FFT (`blur`) | ratio | max abs diff |\n|:--|--:|--:|--:|--:|")
    image = np.random.default_rng(0).random((256, 256, 3)).astype(np.float32)
    for size, sx, sy in ((7, 1.0, 1.0), (13, 2.0, 2.0), (21, 3.0, 3.0), (21, 3.0, 0.5)):
        kernel = gaussian_kernel(size, sx, sy, 0.7)
        diff = np.abs(blur(image, kernel) - direct_blur(image, kernel)).max()
        direct, fft = best_ms(direct_blur, image, kernel), best_ms(blur, image, kernel)
        print(f"| {size}², σ {sx} / {sy} | {direct:.2f} | {fft:.2f} | {direct / fft:.1f}× | {diff:.1e} |")
    print()


def resize_table() -> None:
    print("## MATLAB bicubic `imresize` of a uint8 RGB image (ms, best of 5)\n")
    print("| image | scale | taps gathered | sparse product (`imresize`) | ratio | same pixels |")
    print("|:--|--:|--:|--:|--:|:--|")
    rng = np.random.default_rng(0)
    for (h, w), scale in (((256, 256), 1 / 4), ((128, 128), 1 / 2), ((1356, 2040), 1 / 4), ((200, 300), 3.0)):
        image = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        same = np.array_equal(imresize(image, scale), gathered_imresize(image, scale))
        before, after = best_ms(gathered_imresize, image, scale, repeat=5), best_ms(imresize, image, scale, repeat=5)
        print(f"| {w}×{h} | {scale:.3g} | {before:.2f} | {after:.2f} | {before / after:.1f}× | {same} |")
    print()


def sample_ms(dataset, samples: int, repeat: int = 3, clock=time.perf_counter) -> float:
    """Milliseconds of `clock` per `dataset[key]` over keys 1..samples: the fastest of `repeat` passes (the least
    disturbed by other jobs; files cached after the first)."""
    dataset[0]
    passes = []
    for _ in range(repeat):
        start = clock()
        for key in range(1, samples + 1):
            dataset[key]
        passes.append(clock() - start)
    return 1e3 * min(passes) / samples


def sample_table(configs: list[str], cpu_time: bool, samples: int = 40) -> None:
    clock = time.process_time if cpu_time else time.perf_counter
    ms_of = "CPU ms" if cpu_time else "ms"
    print(f"## One training sample per config ({ms_of}, mean of {samples}, fastest of 3 passes, one thread)\n")
    print(f"| config | degradation | target patch | {ms_of} / sample | samples/s per core |\n|:--|:--|--:|--:|--:|")
    for name in configs:
        cfg, _ = parse_command_line(["--config", name])
        model, _ = build_model(cfg.model, cfg.train)
        dataset = build_dataset(cfg, model.config)
        side = cfg.data.patch_size * model.config.upscale
        ms = sample_ms(dataset, samples, clock=clock)
        print(f"| `{name}` | {cfg.data.degradation} | {side}² | {ms:.1f} | {1e3 / ms:.0f} |")
        if cfg.data.degradation == "real":  # the same samples with the direct blur, as before the FFT
            with mock.patch.object(real_world, "blur", direct_blur):
                ms = sample_ms(dataset, samples, clock=clock)
            print(f"| `{name}`, direct blur | {cfg.data.degradation} | {side}² | {ms:.1f} | {1e3 / ms:.0f} |")
            # the same patches through Real-ESRGAN's second-order degradation instead of BSRGAN's
            cfg, _ = parse_command_line(["--config", name, "--data.degradation", "real-esrgan"])
            ms = sample_ms(build_dataset(cfg, model.config), samples, clock=clock)
            print(f"| `{name}`, second order | real-esrgan | {side}² | {ms:.1f} | {1e3 / ms:.0f} |")
            # and with Real-ESRGAN's sharpened targets (`data.sharpen_target`: an unsharp mask of each target)
            cfg, _ = parse_command_line(["--config", name, "--data.degradation", "real-esrgan", *SHARPENED])
            ms = sample_ms(build_dataset(cfg, model.config), samples, clock=clock)
            print(f"| `{name}`, second order, sharpened target | real-esrgan | {side}² | {ms:.1f} | {1e3 / ms:.0f} |")
        if cfg.data.degradation == "paired":  # the LR images of gpu_lr/ against resizing each patch, as before
            resized = ["--data.degradation", "bicubic", "--data.train_lr", "[]"]  # LR files are for `paired` only
            cfg, _ = parse_command_line(["--config", name, *resized])
            ms = sample_ms(build_dataset(cfg, model.config), samples, clock=clock)
            print(f"| `{name}`, resized per patch | bicubic | {side}² | {ms:.1f} | {1e3 / ms:.0f} |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS), help="configs to sample")
    parser.add_argument("--cpu-time", action="store_true", help="time samples by CPU time instead of wall time")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not (REPO / "gpu_data").is_dir() or not (REPO / "gpu_lr").is_dir():
        raise SystemExit("no gpu_data/ or gpu_lr/ here: run `python hub/pack_gpu_data.py` first (it reads ../shared)")
    blur_table()
    resize_table()
    sample_table(args.configs, args.cpu_time)


if __name__ == "__main__":
    main()

"""Pipeline benchmark (not a test): images/s of `pipeline("image-restoration")` over same-size images at each
`--batch-sizes` N (the pipeline's `batch_size`: a batch's images of one size share one forward pass).

Random RGB images through a bundled model (`--model`, float32), the batch sizes alternating `--repeats` times in
one process after a warm-up; prints each one's median seconds and images/s, and its speed against batch size 1.

    python benchmarks/pipeline_batches.py --images 64 --size 32 --batch-sizes 1 4 16
    python benchmarks/pipeline_batches.py --device cuda --images 512 --size 64 --batch-sizes 1 8 32
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from arguments import positive  # beside this script
from PIL import Image


def timed(restorer, images: list[Image.Image], batch_size: int, device: str) -> float:
    """Seconds to restore `images` with `batch_size`, the device's queued work included."""
    import torch

    start = time.perf_counter()
    outputs = restorer(images, batch_size=batch_size)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    assert len(outputs) == len(images)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=positive(1), default=64)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--model", default="sr-x4", help="a bundled model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=positive(1), default=3)
    args = parser.parse_args()
    if min(args.batch_sizes) < 1:
        parser.error("--batch-sizes must be at least 1")

    import torch
    from transformers import pipeline

    import swinir_hf  # noqa: F401  (registers the pipeline)
    from swinir_hf.checkpoints.bundled import DEFAULT_MODELS, DEFAULTS_DIR

    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"error: {args.device}: torch sees no CUDA device here")
    if args.model not in DEFAULT_MODELS:
        raise SystemExit(f"error: {args.model} is not a bundled model ({', '.join(DEFAULT_MODELS)})")
    # float32 on every device (the bundled weights are stored in float16, which a GPU would run in float16).
    restorer = pipeline(
        "image-restoration", model=str(DEFAULTS_DIR / args.model), device=args.device, dtype=torch.float32
    )
    assert restorer.model.dtype == torch.float32  # the precision the pipeline runs
    rng = np.random.default_rng(0)
    shape = (args.size, args.size, 3)
    images = [Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)) for _ in range(args.images)]
    sizes = sorted(set(args.batch_sizes) | {1})
    for n in sizes:  # warm-up: first-call costs (kernels chosen, memory pools grown) out of the figures
        timed(restorer, images[: 2 * n], n, args.device)
    times: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(args.repeats):
        for n in sizes:
            times[n].append(timed(restorer, images, n, args.device))
    base = statistics.median(times[1])
    print(f"{args.images} images of {args.size}² through {args.model} on {args.device}, median of {args.repeats}")
    print(f"{'batch_size':>10} {'seconds':>8} {'images/s':>9} {'speed':>6}")
    for n in sizes:
        seconds = statistics.median(times[n])
        print(f"{n:>10} {seconds:8.2f} {args.images / seconds:9.1f} {base / seconds:5.2f}×")


if __name__ == "__main__":
    main()

"""Peak memory of the image processor (not a test): what `SwinIRImageProcessor` allocates above its inputs while it
turns a list of images into `pixel_values` (return_tensors="pt") and a reconstruction back into images, as a multiple
of the batch's float32 bytes (N × 3 × H × W × 4: the `pixel_values` themselves, or the reconstruction handed in).

Each measurement runs in a fresh process that builds its inputs first, then runs the call once: "traced" is
`tracemalloc`'s peak (numpy's allocations; torch's and Pillow's are not traced), "RSS" the rise of the process's peak
resident size (`resource.getrusage`) above its resident size before the call. 1.0 is the preprocessed batch itself;
a postprocess to uint8 arrays keeps 0.25 (its outputs); a postprocess to PIL images keeps Pillow's copies (not
traced). "post-bf16" post-processes a bfloat16 reconstruction (half the batch's bytes) to PIL images.

    python benchmarks/processor_memory.py --count 8 --size 512
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from arguments import positive  # beside this script

CASES = ("pre-pil", "pre-numpy", "post-pil", "post-np", "post-bf16")

# Run in the fresh process: argv = case, count, size; prints {"traced": bytes, "rss": bytes}.
_MEASURE = r"""
import json, resource, sys, tracemalloc
import numpy as np, torch
from PIL import Image
from swinir_hf import SwinIRImageProcessor

case, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
processor = SwinIRImageProcessor(num_channels=3)
rng = np.random.default_rng(0)
arrays = [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]
if case == "pre-pil":
    inputs, call = [Image.fromarray(a) for a in arrays], lambda x: processor(x, return_tensors="pt")
elif case == "pre-numpy":
    inputs, call = arrays, lambda x: processor(x, return_tensors="pt")
else:
    inputs = torch.empty(count, 3, size, size)  # filled image by image: no float64 batch to raise the peak
    for slot, a in zip(inputs, arrays):
        slot.copy_(torch.from_numpy(a).permute(2, 0, 1) / 255.0)
    if case == "post-bf16":  # a bfloat16 model's output, to PIL images
        inputs = inputs.to(torch.bfloat16)
    kind = "np" if case == "post-np" else "pil"
    call = lambda x: processor.post_process_image_restoration(x, output_type=kind)
del arrays
call(inputs[:1])  # lazy imports and caches, outside the measurement

def resident() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()

with open("/proc/self/clear_refs", "w") as f:  # the peak resident size, reset to the current one (Linux)
    f.write("5")
before = resident()
tracemalloc.start()
result = call(inputs)
traced = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before  # ru_maxrss: KiB on Linux, reset above
print(json.dumps({"traced": traced, "rss": rss, "source": sys.modules["swinir_hf"].__file__}))
"""


def measure(case: str, count: int, size: int) -> dict[str, Any]:
    """Peak bytes ("traced", "rss") of one call of `case` on `count` RGB images of `size`², in a fresh process
    (run from the root folder, so that PYTHONPATH says which swinir_hf it imports, not the working folder), and the
    swinir_hf it imported ("source")."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, case, str(count), str(size)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd="/",
    )
    if done.returncode:
        raise RuntimeError(f"{case} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--count", type=positive(1), default=8, help="images in the batch")
    parser.add_argument("--size", type=positive(1), default=512, help="side of each (square, RGB) image")
    args = parser.parse_args()
    batch = args.count * 3 * args.size**2 * 4
    print(f"batch: {args.count} × 3 × {args.size}² float32 = {batch / 2**20:.1f} MiB")
    print("| case | traced peak | traced / batch | RSS rise | RSS / batch |")
    print("|:--|--:|--:|--:|--:|")
    for case in args.cases:
        peak = measure(case, args.count, args.size)
        print(
            f"| {case} | {peak['traced'] / 2**20:.1f} MiB | {peak['traced'] / batch:.2f} | "
            f"{peak['rss'] / 2**20:.1f} MiB | {peak['rss'] / batch:.2f} |"
        )
    print(f"(swinir_hf: {peak['source']})")


if __name__ == "__main__":
    main()

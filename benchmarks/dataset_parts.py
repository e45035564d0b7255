"""Dataset-restoration benchmark (not a test): what restoring a `datasets` dataset in resumable parts costs, and
what batching its images gains.

`restore_dataset` maps a dataset in parts of `ROWS_PER_PART` rows, each written to its own file, so that a stopped
`swinir-hf restore --dataset` keeps what it finished. This times the same dataset restored in parts of each size
given (`--rows`), in one part (`whole`, as before parts), and in parts of `ROWS_PER_PART` rows with each
`--batch-sizes` N > 1 (`--batch-size N`: N images per forward pass), and with `--streaming` the same images read as
a stream (`load_dataset(..., streaming=True)`, in parts of `ROWS_PER_PART` rows: `stream_restoration`), alternating
the ways `--repeats` times in one process. It prints each way's median seconds, the part of them outside the
model's calls (`other`: reading, encoding, writing, the parts' files and their concatenation), and what each part
adds to `other` against `whole`. The model's own time varies from run to run by more than the parts cost, so the
cost per part is read from `other`.

    python benchmarks/dataset_parts.py --images 128 --size 32 --rows 16 4
    python benchmarks/dataset_parts.py --images 128 --size 32 --rows 16 --batch-sizes 4 16 --device cuda
    python benchmarks/dataset_parts.py --images 128 --size 32 --rows 16 --streaming
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from arguments import positive, require_device  # beside this script
from PIL import Image


def make_dataset(folder: Path, count: int, size: int):
    """An imagefolder dataset of `count` random RGB images of `size`² pixels (read from files, as the CLI's are), and
    the same read as a stream."""
    import datasets

    rng = np.random.default_rng(0)
    images = folder / "images"
    images.mkdir()
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(images / f"{i:05d}.png")
    read = {"data_dir": str(images), "split": "train", "cache_dir": str(folder / "cache")}
    return datasets.load_dataset("imagefolder", **read), datasets.load_dataset("imagefolder", **read, streaming=True)


class TimedRestorer:
    """A restorer that adds up the seconds spent restoring images (`model_seconds`)."""

    def __init__(self, restorer) -> None:
        self.restorer, self.model_seconds = restorer, 0.0

    def __getattr__(self, name: str):  # the engine's options and the model, which the parts' fingerprint reads
        return getattr(self.restorer, name)

    def restore_images(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.restorer.restore_images(*args, **kwargs)
        finally:
            self.model_seconds += time.perf_counter() - start


def timed(dataset, restorer: TimedRestorer, rows: int, parts_dir: Path, batch_size: int = 1) -> tuple[float, float]:
    """(seconds, seconds outside the restorer's calls) to restore `dataset` in parts of `rows` rows (rounded up to a
    multiple of `batch_size`), `batch_size` images per pass, into the empty folder `parts_dir`."""
    import shutil

    import swinir_hf.inference.dataset_restoration as dataset_restoration

    shutil.rmtree(parts_dir, ignore_errors=True)
    dataset_restoration.ROWS_PER_PART = rows
    restorer.model_seconds = 0.0
    start = time.perf_counter()
    restored = dataset_restoration.restore_dataset(dataset, restorer, parts_dir=parts_dir, batch_size=batch_size)
    seconds = time.perf_counter() - start
    assert len(restored) == restorer.images  # a stream has no length of its own
    return seconds, seconds - restorer.model_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=positive(1), default=128)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--rows", type=int, nargs="+", default=[16], help="rows per part to time")
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[], help="images per forward pass to time")
    parser.add_argument("--model", default="sr-x4")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=positive(1), default=3)
    parser.add_argument("--streaming", action="store_true", help="also time the images read as a stream")
    args = parser.parse_args()
    require_device(args.device)

    import datasets

    from swinir_hf.inference.collection import ModelEngine

    datasets.disable_progress_bars()
    from swinir_hf.inference.dataset_restoration import ROWS_PER_PART

    restorer = TimedRestorer(ModelEngine(model=args.model, tile=None).build(args.device))
    restorer.images = args.images
    ways = {  # way: (rows per part, batch size, read as a stream)
        "whole": (args.images, 1, False),
        **{f"{rows} rows": (rows, 1, False) for rows in args.rows},
        **{f"batch {n}": (ROWS_PER_PART, n, False) for n in args.batch_sizes if n > 1},
        **({"stream": (ROWS_PER_PART, 1, True)} if args.streaming else {}),
    }
    times: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
    with tempfile.TemporaryDirectory() as tmp:
        dataset, stream = make_dataset(Path(tmp), args.images, args.size)
        timed(dataset, restorer, args.images, Path(tmp) / "parts")  # warm-up: first-call costs out of the figures
        for _ in range(args.repeats):
            for way, (rows, batch_size, streamed) in ways.items():
                source = stream if streamed else dataset
                times[way].append(timed(source, restorer, rows, Path(tmp) / "parts", batch_size))
    whole = statistics.median(other for _, other in times["whole"])
    print(f"{args.images} images of {args.size}² through {args.model} on {args.device}, median of {args.repeats}")
    print(f"{'way':>10} {'seconds':>8} {'images/s':>9} {'other s':>8} {'ms/part added':>14}")
    for way, (rows, batch_size, _) in ways.items():
        parts = -(-args.images // (-(-rows // batch_size) * batch_size))
        seconds = statistics.median(total for total, _ in times[way])
        other = statistics.median(other for _, other in times[way])
        added = "" if way == "whole" or batch_size > 1 or parts < 2 else f"{1000 * (other - whole) / (parts - 1):14.1f}"
        print(f"{way:>10} {seconds:8.2f} {args.images / seconds:9.1f} {other:8.3f} {added}")


if __name__ == "__main__":
    main()

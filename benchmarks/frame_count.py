"""Counting an animated file's frames (not a test): how long `frame_count` takes on a long GIF and a TIFF of many
pages, against the count it replaced (a GIF's frames found by Pillow's public seek, which decodes each one; a TIFF's
by Pillow's `n_frames`, which reads every page's tags) and Pillow's `n_frames` itself (every frame, uncapped).

The GIF holds `--gif-frames` frames of `--side`² pixels (4 grey levels of noise, a new draw each frame); the TIFF
`--tiff-pages` pages of 1 × 1 pixel, written by hand (Pillow takes minutes to save that many). Each count is timed on
a file opened anew, `--repeats` times, and the best time kept.

    python benchmarks/frame_count.py --gif-frames 1000 --side 512 --tiff-pages 100000
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from swinir_hf.models.frames_swinir import FRAMES_COUNTED, frame_count


def count_before(image: Image.Image, cap: int = FRAMES_COUNTED) -> int:
    """`frame_count` as it was: a GIF's frames by Pillow's public seek, up to `cap`; any other's by `n_frames`."""
    if not getattr(image, "is_animated", False):
        return 1
    if image.format != "GIF":
        return min(image.n_frames, cap + 1)
    here, count = image.tell(), 1
    try:
        while count <= cap:
            image.seek(count)
            count += 1
    except EOFError:
        pass
    finally:
        image.seek(here)
    return count


def write_gif(path: Path, frames: int, side: int) -> None:
    """`frames` grey frames of side² pixels, each a new draw of 4 levels (LZW packs them to about 3 bits a pixel)."""
    rng = np.random.default_rng(0)
    images = (Image.fromarray(rng.integers(0, 4, (side, side), dtype=np.uint8) * 85) for _ in range(frames))
    first = next(images)
    first.save(path, save_all=True, append_images=images, duration=40)


def write_tiff(path: Path, pages: int) -> None:
    """`pages` 1 × 1 grey pages: each an IFD of 8 entries (all LONG), then its one pixel (and a pad byte)."""
    ifd_size = 2 + 8 * 12 + 4
    page_size = ifd_size + 2
    with open(path, "wb") as f:
        f.write(b"II*\0" + struct.pack("<L", 8))
        for i in range(pages):
            at = 8 + i * page_size
            entries = [(256, 1), (257, 1), (258, 8), (259, 1), (262, 1), (273, at + ifd_size), (278, 1), (279, 1)]
            f.write(struct.pack("<H", len(entries)))
            f.write(b"".join(struct.pack("<HHLL", tag, 4, 1, value) for tag, value in entries))
            f.write(struct.pack("<L", at + page_size if i + 1 < pages else 0) + bytes([i % 256, 0]))


def best_time(path: Path, count: Callable[[Image.Image], int], repeats: int) -> tuple[float, int]:
    """(the fastest of `repeats` counts of a file opened anew, in seconds; the count)."""
    times, frames = [], 0
    for _ in range(repeats):
        with Image.open(path) as image:
            image.load()  # as `read_image` has it: the first frame decoded
            start = time.perf_counter()
            frames = count(image)
            times.append(time.perf_counter() - start)
    return min(times), frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gif-frames", type=int, default=1000)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--tiff-pages", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    counts = {
        "before": count_before,
        "frame_count": frame_count,
        "Pillow n_frames": lambda image: image.n_frames,
    }
    print("| file | MB | " + " | ".join(f"{name} (s)" for name in counts) + " | counts |")
    print("| :-- | --: | " + " | ".join("--:" for _ in counts) + " | :-- |")
    with tempfile.TemporaryDirectory() as folder:
        gif, tiff = Path(folder) / "long.gif", Path(folder) / "pages.tif"
        write_gif(gif, args.gif_frames, args.side)
        write_tiff(tiff, args.tiff_pages)
        labels = {
            gif: f"GIF, {args.gif_frames:,} frames of {args.side}²",
            tiff: f"TIFF, {args.tiff_pages:,} pages of 1²",
        }
        for path, label in labels.items():
            timed = [best_time(path, count, args.repeats) for count in counts.values()]
            seconds = " | ".join(f"{t:.4f}" for t, _ in timed)
            found = ", ".join(f"{n:,}" for _, n in timed)
            print(f"| {label} | {path.stat().st_size / 1e6:.1f} | {seconds} | {found} |")


if __name__ == "__main__":
    main()

"""Shifted-window attention benchmark (not a test): a training step's shifted `WindowAttention` (forward and
backward, SDPA) computed the two ways the model knows, on training-sized batches.

- `one pass`: one SDPA call with every window position's bias + mask, broadcast over the batch.
- `border redo`: SDPA over every window with the bias, then the border windows again with bias + mask, copied in.

The model takes the first where its mask is no larger than the second's (`shifted_in_one_pass`: a batch of small
patches; not yet on CUDA); here both are forced on the same inputs, alternating, and each prints its median
milliseconds (and, on CUDA, its peak memory). The two give the same outputs (`tests/test_modeling.py`).

    python benchmarks/shifted_attention.py --batch 8 --repeats 30
    python benchmarks/shifted_attention.py --device cuda --batch 32 --repeats 100
"""

from __future__ import annotations

import argparse
import statistics
import time

from arguments import positive, require_device  # beside this script


def timed(attention, windows, mask, border, grad, repeats: int, sync) -> list[float]:
    """Seconds of each of `repeats` forward + backward passes."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        attention(windows, mask, border).backward(grad)
        sync()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=positive(1), default=8, help="images (patches) per batch")
    parser.add_argument("--patch", type=int, default=64, help="patch side at the model's input, pixels")
    parser.add_argument("--embed-dim", type=int, default=60, help="60: SwinIR-S; 180: SwinIR-M")
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--repeats", type=positive(2), default=30, help="timed passes, half of each way per round")
    args = parser.parse_args()
    require_device(args.device)

    import torch

    from swinir_hf import SwinIRConfig
    from swinir_hf.models import modeling_swinir, windows_swinir

    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    config = SwinIRConfig(embed_dim=args.embed_dim, num_heads=[args.heads], depths=[2], window_size=args.window)
    attention = modeling_swinir.WindowAttention(config, args.heads).to(device).train()
    p, ws = args.patch, args.window
    mask = windows_swinir.shift_window_mask(p, p, ws, ws // 2, device)
    border = windows_swinir.shift_border_windows(p, p, ws, device)
    windows = torch.randn(args.batch * mask.shape[0], ws * ws, args.embed_dim, device=device, requires_grad=True)
    grad = torch.randn_like(windows)
    ways = {"one pass": True, "border redo": False}
    times: dict[str, list[float]] = {way: [] for way in ways}
    peaks: dict[str, int] = {}
    for _ in range(2):  # alternating halves, after a warm-up of each
        for way, one_pass in ways.items():
            modeling_swinir.shifted_in_one_pass = lambda *_, one_pass=one_pass: one_pass
            timed(attention, windows, mask, border, grad, 3, sync)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            times[way] += timed(attention, windows, mask, border, grad, args.repeats // 2, sync)
            if device.type == "cuda":
                peaks[way] = torch.cuda.max_memory_allocated(device)
    shape = f"{args.batch} × {mask.shape[0]} windows of {ws}², {args.embed_dim} channels, {args.heads} heads"
    print(f"shifted WindowAttention forward + backward on {device.type}: {shape}, {border.numel()} on the border")
    for way, seconds in times.items():
        peak = f", peak {peaks[way] / 2**20:.0f} MiB" if way in peaks else ""
        print(f"{way:>12}: median {1000 * statistics.median(seconds):.1f} ms over {len(seconds)}{peak}")


if __name__ == "__main__":
    main()

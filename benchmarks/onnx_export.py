"""ONNX export check (not a test: the package does not depend on onnx): export a model with dynamic batch, height and
width through `torch.onnx.export(dynamo=True)`, as a plain call does (gradients enabled) and under `torch.no_grad()`,
run each file with onnxruntime at several sizes, and print the largest difference from PyTorch's output at each;
with `--torchscript`, also the older TorchScript exporter's (`dynamo=False`) at the size it traced.

    pip install onnx onnxscript onnxruntime
    python benchmarks/onnx_export.py --model sr-x4 --sizes 1x40x52 2x37x45 1x64x64 1x24x80 1x52x40
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch


def size(text: str) -> tuple[int, int, int]:
    """'BxHxW' → (B, H, W)."""
    try:
        b, h, w = (int(n) for n in text.split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not BxHxW (e.g. 1x40x52)") from None
    if min(b, h, w) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes start at 1")
    return b, h, w


class Reconstruction(torch.nn.Module):
    """The model's `reconstruction` alone: the TorchScript exporter takes tensors, not output dataclasses."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).reconstruction


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="sr-x4", help="a load_model spec (default: the bundled sr-x4)")
    p.add_argument(
        "--sizes", nargs="+", type=size, default=[(1, 40, 52), (2, 37, 45), (1, 64, 64), (1, 24, 80), (1, 52, 40)]
    )
    p.add_argument("--torchscript", action="store_true", help="also check the TorchScript exporter (dynamo=False)")
    args = p.parse_args()
    try:
        import onnx
        import onnxruntime
        import onnxscript
    except ImportError as err:
        print(f"error: {err.name} is missing: pip install onnx onnxscript onnxruntime", file=sys.stderr)
        return 2
    from torch.export import Dim

    from swinir_hf.checkpoints.loading import load_model

    model = load_model(args.model)
    c = model.config.num_channels
    dims = {"pixel_values": {0: Dim.DYNAMIC, 2: Dim.DYNAMIC, 3: Dim.DYNAMIC}}
    print(
        f"torch {torch.__version__}, onnx {onnx.__version__}, onnxscript {onnxscript.__version__}, onnxruntime "
        f"{onnxruntime.__version__}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for grad in (True, False):
            path = Path(folder) / f"model-{grad}.onnx"
            start = time.perf_counter()
            with torch.set_grad_enabled(grad):
                # Traced with a batch of 2: torch specialises a dimension of size 1.
                x = torch.rand(2, c, 40, 52)
                torch.onnx.export(model, (x,), path, dynamo=True, dynamic_shapes=dims, input_names=["pixel_values"])
            how = "gradients enabled" if grad else "under torch.no_grad()"
            print(f"{args.model}, exported {how} in {time.perf_counter() - start:.0f} s:")
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            for b, h, w in args.sizes:
                x = torch.rand(b, c, h, w, generator=torch.Generator().manual_seed(h * w))
                out = torch.from_numpy(session.run(None, {"pixel_values": x.numpy()})[0])
                with torch.no_grad():
                    expected = model(x).reconstruction
                diff = (out - expected).abs().max().item() if out.shape == expected.shape else float("nan")
                print(f"  {b}×{c}×{h}×{w} → {tuple(out.shape)}: max |ONNX − PyTorch| = {diff:.2e}")
        if args.torchscript:
            torch.set_grad_enabled(False)
            x = torch.rand(1, c, 40, 52, generator=torch.Generator().manual_seed(0))
            traced = Path(folder) / "torchscript.onnx"
            torch.onnx.export(Reconstruction(model), (x,), traced, dynamo=False, opset_version=17)
            session = onnxruntime.InferenceSession(str(traced), providers=["CPUExecutionProvider"])
            out = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
            diff = (out - model(x).reconstruction).abs().max().item()
            print(f"TorchScript exporter (dynamo=False), at its traced 1×{c}×40×52: max |ONNX − PyTorch| = {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

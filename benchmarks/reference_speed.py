"""Speed against the authors' reference code (not a test): SwinIR-M x4 classical SR on one whole image on the CPU,
the authors' `models/network_swinir.py` against this package, both with the same seeded random weights.

The reference file is not part of this project: get it with `git clone https://github.com/JingyunLiang/SwinIR`
and pass `--reference SwinIR/models/network_swinir.py`. It imports timm for `DropPath`, `to_2tuple` and
`trunc_normal_` only; where timm is not installed, a small stand-in of `timm.models.layers` takes its place (the
output says so). The reference model (`upscale=4, img_size=48, window_size=8, embed_dim=180, depths=[6]*6,
num_heads=[6]*6, mlp_ratio=2, upsampler='pixelshuffle', resi_connection='1conv'`, the authors' own initialisation
under `torch.manual_seed(0)`) is saved as the authors release checkpoints (`{'params': state_dict}`) and this
package's model is converted from that file (`convert_original_checkpoint`). Both are run on the benchmark input
(a seeded random square image) first: nothing is timed when their outputs differ by more than 1e-4.

Each row runs in a fresh subprocess (its own peak RSS and allocator state), float32 unless labelled, under
`torch.no_grad()`, on `--threads` threads: `--warmup` passes, then the median of `--repeats` seconds per image.

- reference: `model(x)`, as the authors' `main_test_swinir.py` runs a whole image (`--size` is a multiple of the
  window, so neither side pads).
- reference + tune_allocator: the same after this package's `tune_allocator()` (glibc `mallopt`, as its restorer
  does on CPU), so that what the allocator alone is worth shows.
- swinir-hf: `SwinIRRestorer(model, tile=None, dtype=..., device="cpu").restore_tensor(x)`, as `restore()` and the
  CLI run one image, as shipped (the restorer tunes the allocator itself; the model picks its CPU attention kernel).
- swinir-hf bfloat16 (`--dtypes float32 bfloat16`): another precision; its speed-up is against the reference's
  float32 and labelled so, never one of the same-precision ones.

Peak RSS is the row process's `ru_maxrss`, imports included; "imports GiB" is its peak before the model is built
(the rows that tune the allocator import swinir_hf, hence transformers). On Linux a child's `ru_maxrss` starts from
its parent's RSS at the fork, so this script's own process never imports torch: the check runs in a subprocess too.

    python benchmarks/reference_speed.py --reference ../SwinIR/models/network_swinir.py
    python benchmarks/reference_speed.py --reference ../SwinIR/models/network_swinir.py --threads 2 \\
        --dtypes float32 bfloat16
    python benchmarks/reference_speed.py --reference ../SwinIR/models/network_swinir.py --size 32 --repeats 1 \\
        --threads 1   # a quick check that everything runs
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from arguments import positive  # beside this script

if TYPE_CHECKING:
    import torch

REFERENCE_KWARGS: dict[str, Any] = dict(
    upscale=4,
    in_chans=3,
    img_size=48,
    window_size=8,
    img_range=1.0,
    depths=[6] * 6,
    embed_dim=180,
    num_heads=[6] * 6,
    mlp_ratio=2,
    upsampler="pixelshuffle",
    resi_connection="1conv",
)
WINDOW = REFERENCE_KWARGS["window_size"]
TOLERANCE = 1e-4
GET_REFERENCE = (
    "get the authors' code with `git clone https://github.com/JingyunLiang/SwinIR` and pass "
    "--reference SwinIR/models/network_swinir.py"
)
VARIANTS = ("reference", "reference + tune_allocator", "swinir-hf")


def install_timm_stub() -> bool:
    """Put a minimal `timm.models.layers` (what network_swinir.py imports) in `sys.modules` when timm itself cannot
    be imported; returns whether it did."""
    try:
        import timm.models.layers  # noqa: F401
    except ImportError:
        pass
    else:
        return False
    import torch

    class DropPath(torch.nn.Module):
        """Stochastic depth: each sample's residual branch dropped with probability p in training, else identity."""

        def __init__(self, drop_prob: float = 0.0) -> None:
            super().__init__()
            self.drop_prob = drop_prob

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if not self.training or self.drop_prob == 0.0:
                return x
            keep = 1.0 - self.drop_prob
            mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
            return x * mask / keep

    def to_2tuple(value: Any) -> tuple:
        return tuple(value) if isinstance(value, Iterable) and not isinstance(value, str) else (value, value)

    def trunc_normal_(
        tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
    ) -> torch.Tensor:
        return torch.nn.init.trunc_normal_(tensor, mean, std, a, b)

    layers = types.ModuleType("timm.models.layers")
    layers.DropPath, layers.to_2tuple, layers.trunc_normal_ = DropPath, to_2tuple, trunc_normal_
    models, timm = types.ModuleType("timm.models"), types.ModuleType("timm")
    models.layers, timm.models = layers, models
    sys.modules.update({"timm": timm, "timm.models": models, "timm.models.layers": layers})
    return True


def load_reference(path: Path) -> types.ModuleType:
    """The authors' network_swinir.py as a module (timm stood in for where it is missing)."""
    install_timm_stub()
    spec = importlib.util.spec_from_file_location("swinir_reference", path)
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():  # its meshgrid call without `indexing` warns on every model built
        warnings.simplefilter("ignore", UserWarning)
        spec.loader.exec_module(module)
    return module


def build_reference(module: types.ModuleType, weights: Path | None = None) -> torch.nn.Module:
    """The reference SwinIR-M x4 in eval mode: its own seeded initialisation, or `weights` (authors' format)."""
    import torch

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = module.SwinIR(**REFERENCE_KWARGS)
    if weights is not None:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True)["params"], strict=True)
    return model.eval()


def benchmark_input(size: int) -> torch.Tensor:
    """(1, 3, size, size) uniform [0, 1) pixels, seeded."""
    import torch

    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))


def restorer(weights: Path, dtype: str, tune_malloc: bool = True) -> Any:
    """This package's model converted from the authors'-format `weights`, in a restorer run as `restore()` runs it."""
    from swinir_hf import convert_original_checkpoint
    from swinir_hf.inference.restoration import SwinIRRestorer

    model = convert_original_checkpoint(weights)
    return SwinIRRestorer(model, tile=None, dtype=dtype, device="cpu", tune_malloc=tune_malloc)


def peak_rss_gib() -> float:
    """Peak resident memory of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**3 if sys.platform == "darwin" else peak / 1024**2


def prepare(cfg: dict) -> tuple[Any, float]:
    """The row's callable on an input, and the peak RSS (GiB) of its imports, before its model is built."""
    weights = Path(cfg["weights"])
    if cfg["variant"] == "swinir-hf":
        import swinir_hf.inference.restoration  # noqa: F401

        imports = peak_rss_gib()
        return restorer(weights, cfg["dtype"]).restore_tensor, imports  # the restorer tunes the allocator
    module = load_reference(Path(cfg["reference"]))
    if cfg["variant"] == "reference + tune_allocator":
        from swinir_hf.inference.memory import tune_allocator

        tune_allocator()
    imports = peak_rss_gib()
    return build_reference(module, weights), imports


def run_one(cfg: dict) -> dict:
    """One row, in this (fresh) process: its figures."""
    import torch

    torch.set_num_threads(cfg["threads"])
    run, imports = prepare(cfg)
    x = benchmark_input(cfg["size"])
    times = []
    with torch.no_grad():
        for i in range(cfg["warmup"] + cfg["repeats"]):
            start = time.perf_counter()
            run(x)
            if i >= cfg["warmup"]:
                times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "peak_gib": peak_rss_gib(), "imports_gib": imports}


def spawn(cfg: dict) -> dict | str:
    """`check(cfg)` / `run_one(cfg)` in a fresh subprocess: its result, or the end of its error."""
    proc = subprocess.run([sys.executable, __file__, "--one", json.dumps(cfg)], capture_output=True, text=True)
    if proc.returncode:
        return proc.stderr.strip().splitlines()[-1][-200:] if proc.stderr.strip() else f"exit {proc.returncode}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check(cfg: dict) -> dict:
    """In a fresh process: save the seeded reference model's weights in the authors' format to `cfg["weights"]`
    and compare its output with this package's (converted from that file) on the benchmark input."""
    import torch

    threads = cfg["threads"] or torch.get_num_threads()
    torch.set_num_threads(threads)
    stub = install_timm_stub()
    model = build_reference(load_reference(Path(cfg["reference"])))
    torch.save({"params": model.state_dict()}, cfg["weights"])
    x = benchmark_input(cfg["size"])
    with torch.no_grad():
        ref = model(x)
    ours = restorer(Path(cfg["weights"]), "float32", tune_malloc=False)  # this process only checks
    diff = (ours.restore_tensor(x) - ref).abs().max().item()
    return {"diff": diff, "stub": stub, "threads": threads, "machine": machine(threads)}


def machine(threads: int) -> str:
    """CPU model, threads, torch version."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}; {threads} threads; torch {torch.__version__}; Python {platform.python_version()}"


def speed_up(row: tuple[str, str], seconds: float, base: float | None) -> str:
    """The row's speed-up against the reference's float32, labelled when the precisions differ."""
    if base is None:
        return "—"
    label = "" if row[1] == "float32" else f" ({row[1]} vs float32)"
    return f"{base / seconds:.2f}×{label}"


def print_table(rows: list[tuple[str, str]], results: dict) -> None:
    print("| variant | dtype | s / image | peak RSS GiB | imports GiB | speed-up vs reference float32 |")
    print("|:--|:--|--:|--:|--:|:--|")
    base = results.get(("reference", "float32"))
    base_s = base["seconds"] if isinstance(base, dict) else None
    for row in rows:
        r = results[row]
        if not isinstance(r, dict):
            print(f"| {row[0]} | {row[1]} | failed: {r} | | | |")
            continue
        print(
            f"| {row[0]} | {row[1]} | {r['seconds']:.3f} | {r['peak_gib']:.2f} | {r['imports_gib']:.2f} | "
            f"{speed_up(row, r['seconds'], base_s)} |"
        )


def print_split(results: dict) -> None:
    """How much of the float32 gap the allocator alone accounts for, and how much the rest of the package."""
    ref, tuned, ours = (results.get((v, "float32")) for v in VARIANTS)
    if all(isinstance(r, dict) for r in (ref, tuned, ours)):
        ref, tuned, ours = ref["seconds"], tuned["seconds"], ours["seconds"]
        print(
            f"\nfloat32: swinir-hf is {ref / ours:.2f}× the reference's speed; tuning the allocator alone gives the "
            f"reference {ref / tuned:.2f}×, the rest of the package {tuned / ours:.2f}× on top"
        )


class OneLineParser(argparse.ArgumentParser):
    """Errors on one line, without the usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_args() -> argparse.Namespace:
    parser = OneLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, metavar="PATH", help="the authors' models/network_swinir.py")
    parser.add_argument("--size", type=positive(WINDOW, WINDOW), default=256, help="input side (default 256)")
    parser.add_argument("--threads", type=positive(1), help="default: all cores (torch.get_num_threads())")
    parser.add_argument("--warmup", type=positive(0), default=1)
    parser.add_argument("--repeats", type=positive(1), default=3)
    parser.add_argument(
        "--dtypes", nargs="+", default=["float32"], choices=["float32", "bfloat16"], help="this package's rows"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is None and args.reference is None:
        parser.error(f"--reference is required: {GET_REFERENCE}")
    return args


def main() -> None:
    args = parse_args()
    if args.one:
        cfg = json.loads(args.one)
        print(json.dumps(check(cfg) if cfg["task"] == "check" else run_one(cfg)))
        return
    if not args.reference.is_file():
        print(f"{Path(sys.argv[0]).name}: error: {args.reference} not found: {GET_REFERENCE}", file=sys.stderr)
        raise SystemExit(2)
    digest = hashlib.sha256(args.reference.read_bytes()).hexdigest()[:12]
    print(f"reference: {args.reference} (sha256 {digest}…)")
    with tempfile.TemporaryDirectory() as tmp:
        common = dict(reference=str(args.reference.resolve()), weights=str(Path(tmp) / "seeded_weights.pth"))
        common |= dict(size=args.size, warmup=args.warmup, repeats=args.repeats, threads=args.threads)
        checked = spawn(dict(common, task="check"))
        if not isinstance(checked, dict):
            raise SystemExit(f"error: the reference did not run: {checked}")
        if checked["stub"]:
            print("timm is not installed: its DropPath / to_2tuple / trunc_normal_ are stood in by this script's own")
        print(f"machine: {checked['machine']}")
        print(f"SwinIR-M x4, {args.size}² input: max |swinir-hf − reference| = {checked['diff']:.3g} (float32)")
        if not checked["diff"] <= TOLERANCE:
            raise SystemExit(f"error: the outputs differ by more than {TOLERANCE:g}: not timing")
        print(f"warmup {args.warmup}, median of {args.repeats}; each row in a fresh process\n")
        rows = [(v, "float32") for v in VARIANTS[:2]] + [("swinir-hf", d) for d in args.dtypes]
        common["threads"] = checked["threads"]
        results = {row: spawn(dict(common, task="time", variant=row[0], dtype=row[1])) for row in rows}
    print_table(rows, results)
    print_split(results)


if __name__ == "__main__":
    main()

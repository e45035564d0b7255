"""Soak run (not a test): does anything a long-lived process holds grow with each restoration?

`--calls` images of random sizes (sides `--min-side`..`--max-side`, odd shapes, modes cycled) go one by one through
the bundled `--model`, each way a long-lived process calls it, each way in a fresh process of its own:

- `restore`: `swinir_hf.restore(model, image)` in a loop (a notebook, a script);
- `pipeline`: `pipeline("image-restoration", model=FOLDER, trust_remote_code=True)` of the model's exported Hub
  folder (a service; swinir_hf is not imported there, the folder's own code runs);
- `handler`: the folder's Inference Endpoints `handler.py`, `EndpointHandler(FOLDER)({"inputs": image})`;
- `demo`: the demo's restore callback (`RestorationDemo.restore`) on one event loop, as gradio's queue awaits it,
  the image given as an uploaded file's path.

Every `--every` calls it prints the process's RSS after `gc.collect()` (and after glibc's `malloc_trim`, which
returns freed heap pages: what stays is what is held), Python objects, open file descriptors, OS threads, and the
sizes of what could grow per call: the package's `lru_cache`s (the remote code's copies too), each model's shift-mask
cache, logging handlers, warnings filters and registries, live tqdm bars, the demo's result files. The last line per
way is the growth from the first report (after `--every` calls: first-use costs out) to the last.

    OMP_NUM_THREADS=1 python benchmarks/soak.py --calls 200 --every 20
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import ctypes
import gc
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from arguments import positive  # beside this script
from PIL import Image

WAYS = ("restore", "pipeline", "handler", "demo")
MODES = ("RGB", "L", "RGBA")
CACHE_MODULES = ("swinir_hf", "transformers_modules")  # the package and a Hub folder's remote code


def shapes(calls: int, lo: int, hi: int, seed: int = 0) -> list[tuple[int, int]]:
    """`calls` (width, height) pairs, each side uniform in lo..hi: most pairs differ, many are odd and not square."""
    rng = np.random.default_rng(seed)
    return [(int(w), int(h)) for w, h in rng.integers(lo, hi + 1, (calls, 2))]


def make_image(w: int, h: int, mode: str, seed: int) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (h, w, len(mode)), dtype=np.uint8)
    return Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)


# --- what the process holds ------------------------------------------------------------------------------------


def _status_field(name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return -1


def rss_mib() -> float:
    return _status_field("VmRSS") / 1024


def trimmed_rss_mib() -> float:
    """RSS after glibc hands freed heap pages back (where it can): freed-but-kept pages do not count."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    return rss_mib()


def lru_cache_sizes() -> dict[str, int]:
    """currsize of every `functools` cache of the package's modules and of the loaded remote code, by name."""
    sizes: dict[str, int] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith(CACHE_MODULES):
            continue
        for attr, value in list(vars(module).items()):
            info = getattr(value, "cache_info", None)
            if callable(info) and getattr(value, "__module__", None) == name:
                short = f"{name.rsplit('.', 1)[-1]}.{attr}"
                sizes[short] = sizes.get(short, 0) + info().currsize
    return sizes


def _registry(module: Any) -> dict:
    """A module's warnings registry (what `warnings` keeps of each warning shown once), empty without one."""
    registry = getattr(module, "__dict__", {}).get("__warningregistry__")
    return registry if isinstance(registry, dict) else {}


def held(models: list[Any], outputs: Path | None) -> dict[str, int]:
    """Sizes of what could grow per call (see the module's docstring)."""
    loggers = [logging.getLogger()] + [
        lg for lg in list(logging.root.manager.loggerDict.values()) if isinstance(lg, logging.Logger)
    ]
    tqdm = sys.modules.get("tqdm")
    figures = {
        "handlers": sum(len(lg.handlers) for lg in loggers),
        "filters": len(warnings.filters),
        "registries": sum(len(_registry(m)) for m in list(sys.modules.values())),
        "bars": len(getattr(getattr(tqdm, "tqdm", None), "_instances", ()) or ()),
        "masks": sum(len(getattr(mod, "_shift_masks", ())) for m in models for mod in m.modules()),
        "hooks": sum(len(mod._forward_pre_hooks) + len(mod._forward_hooks) for m in models for mod in m.modules()),
    }
    if outputs is not None:
        figures["results"] = sum(len(files) for _, _, files in os.walk(outputs))
    return figures | lru_cache_sizes()


def report(calls: int, models: list[Any], outputs: Path | None) -> dict[str, Any]:
    gc.collect()
    row = {"calls": calls, "rss": rss_mib(), "trimmed": trimmed_rss_mib(), "objects": len(gc.get_objects())}
    row |= {"fds": len(os.listdir("/proc/self/fd")), "threads": _status_field("Threads")}
    row |= {"py_threads": threading.active_count()} | held(models, outputs)
    return row


# --- the ways of calling ---------------------------------------------------------------------------------------


def tiles(args: argparse.Namespace) -> dict[str, int]:
    """The tile options asked for (`--tile`, `--overlap`), as `restore` and the pipeline take them; none: each way's
    default."""
    return {"tile": args.tile, "tile_overlap": args.overlap} if args.tile else {}


# A way's one call, the models it holds (asked at each report) and the folder of its result files (the demo's).
Way = tuple[Callable[[Image.Image], Any], Callable[[], list], Path | None]


def restore_way(args: argparse.Namespace, folder: Path | None) -> Way:
    import swinir_hf

    model = swinir_hf.load_model(args.model)
    options = tiles(args) | ({"progress": True} if args.progress else {})
    return (lambda image: swinir_hf.restore(model, image, **options)), lambda: [model], None


def pipeline_way(args: argparse.Namespace, folder: Path | None) -> Way:
    from transformers import pipeline

    pipe = pipeline("image-restoration", model=str(folder), trust_remote_code=True, device="cpu")
    assert "swinir_hf" not in sys.modules  # the folder's own code, as on a machine without the package
    return (lambda image: pipe(image, **tiles(args))), lambda: [pipe.model], None


def handler_way(args: argparse.Namespace, folder: Path | None) -> Way:
    import importlib.util

    spec = importlib.util.spec_from_file_location("handler", folder / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = module.EndpointHandler(str(folder), device="cpu")
    request = {"parameters": tiles(args)} if args.tile else {}
    return (lambda image: handler({"inputs": image, **request})), lambda: [handler.pipeline.model], None


def demo_way(args: argparse.Namespace, folder: Path | None) -> Way:
    import types

    from swinir_hf.demo.callbacks import RestorationDemo
    from swinir_hf.demo.menu import SR

    demo = RestorationDemo()
    label = f"{args.model} · bundled"
    loop = asyncio.new_event_loop()  # gradio's one loop: its default executor's threads serve every job
    uploads = Path(tempfile.mkdtemp(prefix="soak-uploads-"))
    atexit.register(shutil.rmtree, uploads, ignore_errors=True)
    request = types.SimpleNamespace(session_hash="soak")
    tile, overlap = (str(args.tile), args.overlap) if args.tile else ("auto", 32)
    settings = (None, "", tile, overlap, False, "auto", "model")  # level, custom path, tile, overlap, ...

    def call(image: Image.Image) -> Any:
        path = uploads / f"upload-{image.width}x{image.height}.png"
        image.save(path)
        try:
            work = demo.restore(str(path), SR, 2, label, *settings, request=request)
            return loop.run_until_complete(work)
        finally:
            path.unlink()

    return call, lambda: list(demo.models._models.values()), demo.output_dir  # what its jobs loaded


def soak(way: str, args: argparse.Namespace, folder: Path | None) -> list[dict[str, Any]]:
    """Restore `args.calls` images the `way` way, a report every `args.every` calls."""
    call, models, outputs = globals()[f"{way}_way"](args, folder)
    rows = []
    for i, (w, h) in enumerate(shapes(args.calls, args.min_side, args.max_side), 1):
        image = make_image(w, h, args.modes[i % len(args.modes)], i)
        out = call(image)
        result = out[1] if isinstance(out, tuple) else out  # the demo: (previews, file, info)
        assert result is not None
        if i % args.every == 0 or i == args.calls:
            rows.append(report(i, models(), outputs))
            print_row(way, rows[-1], header=len(rows) == 1)
    return rows


# --- output ----------------------------------------------------------------------------------------------------


FIXED = ("calls", "rss", "trimmed", "objects", "fds", "threads", "py_threads")


def print_row(way: str, row: dict[str, Any], header: bool) -> None:
    others = [k for k in row if k not in FIXED]
    if header:
        print(f"\n{way}: " + " ".join(f"{k}" for k in others), flush=True)
        print("| calls | RSS MiB | trimmed MiB | objects | fds | threads (py) | sizes |")
        print("| --: | --: | --: | --: | --: | --: | :-- |")
    sizes = " ".join(str(row[k]) for k in others)
    print(
        f"| {row['calls']} | {row['rss']:.1f} | {row['trimmed']:.1f} | {row['objects']} | {row['fds']} | "
        f"{row['threads']} ({row['py_threads']}) | {sizes} |",
        flush=True,
    )


def print_growth(way: str, rows: list[dict[str, Any]], seconds: float) -> None:
    first, last = rows[0], rows[-1]
    grew = {k: last[k] - first[k] for k in last if k not in ("calls",) and last[k] != first[k]}
    shown = ", ".join(f"{k} {v:+.1f}" if isinstance(v, float) else f"{k} {v:+d}" for k, v in grew.items())
    print(f"{way}: calls {first['calls']}→{last['calls']} in {seconds:.0f} s; growth: {shown or 'none'}", flush=True)


def export_folder(model_name: str, into: Path) -> Path:
    from swinir_hf.checkpoints.bundled import DEFAULTS_DIR
    from swinir_hf.checkpoints.export import export_model_folder

    return export_model_folder(DEFAULTS_DIR / model_name, into, organization="soak").path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=positive(1), default=200)
    parser.add_argument("--every", type=positive(1), default=20, help="calls between reports")
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    parser.add_argument("--model", default="sr-x2", help="a bundled model")
    parser.add_argument("--min-side", type=positive(1), default=8)
    parser.add_argument("--max-side", type=positive(1), default=96)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES), help="cycled through the calls")
    parser.add_argument("--tile", type=positive(8), help="tiles of this many pixels a side (default: each way's)")
    parser.add_argument("--overlap", type=positive(0), default=8, help="tile overlap with --tile")
    parser.add_argument("--progress", action="store_true", help="the restore way's progress=True (bars / lines)")
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)  # a child's exported folder
    args = parser.parse_args(argv)
    if args.min_side > args.max_side:
        parser.error("--min-side must be at most --max-side")
    if len(args.ways) == 1 and (args.folder or args.ways[0] in ("restore", "demo")):
        start = time.perf_counter()
        rows = soak(args.ways[0], args, args.folder)
        print_growth(args.ways[0], rows, time.perf_counter() - start)
        return
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        folder = export_folder(args.model, Path(tmp)) if {"pipeline", "handler"} & set(args.ways) else None
        for way in args.ways:  # each in a fresh process: one way's caches and heap do not count for the next
            command = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]), "--ways", way]
            command += ["--folder", str(folder)] if folder else []
            done = subprocess.run(command, check=False, env={**os.environ, "HF_HUB_OFFLINE": "1"})
            if done.returncode:
                raise SystemExit(f"error: the {way} run failed (exit status {done.returncode}): see its output above")


if __name__ == "__main__":
    main()

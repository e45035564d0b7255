"""Training-step benchmark (not a test): samples/s of one model's optimizer steps, by precision, torch.compile mode
and batch size, on synthetic batches already on the device (so the data loaders are out of the picture;
`training_data.py` times those, and the trainer's `train/data_wait` says which one sets a run's pace).

For the GPU lease recipe (issue #13): which of bf16 autocast, torch.compile (inductor, of the whole model or of
each Swin layer apart: `regions`, as `train.compile_regions`) and CUDA graphs (inductor's reduce-overhead mode) and
which batch size give the most samples/s for the `gpu_*` configs. Each variant reports its first step (the compile
time, when compiling; `--cold-compile`: without inductor's on-disk caches, as on a fresh machine), then the steady
steps/s and samples/s. "bf16 two processes" times two processes at once, each its own model (a lease's trainers
side by side): their steps/s in all. A variant that fails is a `failed:` row (its traceback on stderr), and the
others are timed.

    python benchmarks/train_step.py --device cuda --configs gpu_sr_x4 gpu_real_sr_x4 --seconds 10
    python benchmarks/train_step.py --device cpu --configs tiny_sr_x2 --steps 3 --variants fp32 bf16   # smoke test

`--profile` adds, per config, torch.profiler's operators by device time (CPU time on the CPU) over two steps of its
first variant, with per step the aten operator calls, the kernel launches and the kernels' GPU time (CUDA) and the
host-device synchronisations: what a step spends its time on, and whether the GPU or the host sets its pace. Each
profile follows its row at once (the table goes on below it), so that a run stopped by a time limit keeps the
profiles it made.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import NamedTuple

import torch
from arguments import require_device  # run as a script: benchmarks/ is on sys.path
from inference import synchronize

from swinir_hf.models import runtime_swinir
from swinir_hf.training.cli import parse_command_line
from swinir_hf.training.compiling import compile_layers
from swinir_hf.training.state import EMA, build_model, step_seed


class Variant(NamedTuple):
    bf16: bool  # autocast to bfloat16
    backend: str | None = None  # torch.compile's backend; None: eager
    mode: str | None = None  # its mode
    regions: bool = False  # compile each Swin layer on its own, as train.compile_regions
    factor: int = 1  # the config's batch times this
    pad_heads: bool = True  # heads padded for the fused SDPA kernels
    extras: bool = False  # the trainer's per-step extras: seeding, gradient clipping, LR schedule, EMA update
    processes: int = 1  # this many at once, each its own model (a lease's trainers side by side): steps/s in all


VARIANTS = {
    "fp32": Variant(False),
    "bf16": Variant(True),
    "bf16 trainer step": Variant(True, extras=True),
    "bf16 unpadded heads": Variant(True, pad_heads=False),
    "bf16 x2 batch": Variant(True, factor=2),
    "bf16 two processes": Variant(True, processes=2),
    "bf16 inductor": Variant(True, "inductor"),
    "bf16 inductor reduce-overhead": Variant(True, "inductor", "reduce-overhead"),
    "bf16 inductor regions": Variant(True, "inductor", regions=True),
    "bf16 inductor reduce-overhead regions": Variant(True, "inductor", "reduce-overhead", regions=True),
    "bf16 inductor x2 batch": Variant(True, "inductor", factor=2),
}
HEAD_MULTIPLE = runtime_swinir.FUSED_SDPA_HEAD_MULTIPLE


def time_variant(
    config: str,
    variant: str,
    device: torch.device,
    steps: int | None,
    seconds: float,
    overrides: list[str],
    profile: bool = False,
    ready: Callable[[], None] | None = None,
) -> dict:
    """Build the config's model and time its optimizer steps in one variant; returns the row's figures (and,
    with `profile`, the operator table of two more steps). `ready`: called after the warm-up steps, returns when
    the timing may start (`time_together`)."""
    bf16, backend, mode, regions, factor, pad_heads, extras, _ = VARIANTS[variant]
    cfg, _ = parse_command_line(["--config", config, *overrides])
    t = cfg.train
    model, _ = build_model(cfg.model, t)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=t.learning_rate)
    step_model = torch.compile(model, backend=backend, mode=mode) if backend and not regions else model
    batch, p, scale = t.batch_size * factor, cfg.data.patch_size, model.config.upscale
    x = torch.rand(batch, model.config.num_channels, p, p, device=device)
    y = torch.rand(batch, model.config.num_channels, p * scale, p * scale, device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()
    # What the trainer adds to each step (`training.loop.train_step`), with its own classes.
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, cfg.milestones(), gamma=t.lr_gamma) if extras else None
    ema = EMA(model, t.ema_decay) if extras and t.ema_decay else None
    if regions:  # as the trainer: after the EMA's copy
        compile_layers(model, backend, mode)
    done = [0]

    def step() -> None:
        if extras:
            torch.manual_seed(step_seed(t.seed, done[0], 0))
        with autocast:
            loss = step_model(pixel_values=x, labels=y).loss
        loss.backward()
        if extras and t.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if extras:
            scheduler.step()
            if ema is not None:
                ema.update(model, done[0])
        done[0] += 1

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    # 1: no padding (`fused_sdpa_padding`), so that SDPA takes its unfused math path on CUDA (as before padding)
    runtime_swinir.FUSED_SDPA_HEAD_MULTIPLE = HEAD_MULTIPLE if pad_heads else 1
    try:
        row = _time_steps(step, device, steps, seconds, profile, ready)
    finally:
        runtime_swinir.FUSED_SDPA_HEAD_MULTIPLE = HEAD_MULTIPLE
        torch._dynamo.reset()
    return row | {"batch": batch, "samples_per_s": row["steps_per_s"] * batch}


def _time_steps(
    step: Callable[[], None],
    device: torch.device,
    steps: int | None,
    seconds: float,
    profile: bool,
    ready: Callable[[], None] | None,
) -> dict:
    """Time `step` as `time_variant` says: its first call, then steady calls for `steps` or `seconds`."""
    start = time.perf_counter()
    step()
    synchronize(device.type)
    first = time.perf_counter() - start
    for _ in range(3):  # CUDA graphs record on the first calls after compiling
        step()
    synchronize(device.type)
    if ready is not None:
        ready()
    done, start = 0, time.perf_counter()
    while (done < steps) if steps else (time.perf_counter() - start < seconds):
        step()
        done += 1
        if not steps and done % 10 == 0:
            synchronize(device.type)
    synchronize(device.type)
    rate = done / (time.perf_counter() - start)
    memory = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    table = profile_steps(step, device, 2) if profile else None
    return {"first": first, "steps_per_s": rate, "gib": memory, "profile": table}


def time_together(
    config: str, variant: str, device: torch.device, steps: int | None, seconds: float, overrides: list[str]
) -> dict:
    """`variant`'s eager bf16 step in its `processes` processes at once, each with its own model, as a lease's
    trainers side by side: the others are this script again (`--peers`), and all time the same window, after every
    one's warm-up. The row's steps/s is their sum; `each` has every process's."""
    n = VARIANTS[variant].processes
    with tempfile.TemporaryDirectory() as folder:
        meeting = Path(folder)
        command = [sys.executable, __file__, "--device", device.type, "--configs", config, "--variants", "bf16"]
        command += ["--steps", str(steps)] if steps else ["--seconds", str(seconds)]
        command += ["--peers", str(n), "--meet-in", folder, "--set", *overrides]
        others = [
            subprocess.Popen([*command, "--json", str(meeting / f"{i}.json")], stdout=subprocess.DEVNULL)
            for i in range(1, n)
        ]
        try:
            own = time_variant(
                config, "bf16", device, steps, seconds, overrides, ready=lambda: meet(meeting, n, others)
            )
            if any(p.wait() for p in others):
                raise RuntimeError(f"a peer process failed: {' '.join(command)}")
        finally:
            for p in others:
                p.kill()
        rates = [
            own["steps_per_s"],
            *(json.loads((meeting / f"{i}.json").read_text())[0]["steps_per_s"] for i in range(1, n)),
        ]
    return own | {"steps_per_s": sum(rates), "samples_per_s": sum(rates) * own["batch"], "each": rates}


def meet(folder: Path, peers: int, others: list[subprocess.Popen] | None = None, timeout: float = 600.0) -> None:
    """Mark this process ready in `folder` and return once `peers` processes are (raise if one of `others` ended
    first, if this process's parent did (a probe stopped by its time limit), or after `timeout` seconds)."""
    (folder / f"ready-{os.getpid()}").touch()
    deadline, parent = time.monotonic() + timeout, os.getppid()
    while len(list(folder.glob("ready-*"))) < peers:
        ended = any(p.poll() is not None for p in others or []) or os.getppid() != parent
        if ended or time.monotonic() > deadline:
            raise RuntimeError(f"the other processes of a side-by-side timing did not get ready ({folder})")
        time.sleep(0.01)


# The CUDA runtime / driver calls that launch a kernel.
LAUNCHES = ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cuLaunchKernelEx")


def profile_steps(step: Callable[[], None], device: torch.device, steps: int, rows: int = 20) -> str:
    """torch.profiler's operator table for `steps` calls of `step`, sorted by device time (CPU time on the CPU),
    under a line of figures per step: the aten operator calls the host dispatches and, on CUDA, the kernel launches
    and the kernels' own GPU time. Against the step's time (1 / steps/s) that says whether the GPU or the host's
    dispatching sets the pace."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        synchronize(device.type)
    events = prof.key_averages()
    syncs = sum(e.count for e in events if e.key == "cudaStreamSynchronize") / steps
    figures = [f"{sum(e.count for e in events if e.key.startswith('aten::')) / steps:.0f} aten operator calls"]
    if device.type == "cuda":
        gpu_us = sum(getattr(e, "self_device_time_total", 0) for e in events)  # kernels' own time, in µs
        figures.append(f"{sum(e.count for e in events if e.key in LAUNCHES) / steps:.0f} kernel launches")
        figures.append(f"{gpu_us / steps / 1e3:.1f} ms of GPU kernel time")
    key = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    table = events.table(sort_by=key, row_limit=rows, max_name_column_width=50)
    per_step = ", ".join(figures)
    return f"{steps} steps; per step: {per_step}; host-device synchronisations per step: {syncs:g}\n\n```\n{table}\n```"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=["gpu_sr_x4", "gpu_real_sr_x4"], help="training configs")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per variant (after warm-up)")
    parser.add_argument("--steps", type=int, help="timed steps per variant instead of --seconds")
    parser.add_argument("--set", nargs="*", default=[], help="config overrides, as the trainer takes them")
    parser.add_argument("--profile", action="store_true", help="also profile each config's first variant")
    parser.add_argument("--json", type=Path, help="also write the rows here (rewritten after each row)")
    parser.add_argument("--peers", type=int, default=1, help=argparse.SUPPRESS)  # a process of `time_together`
    parser.add_argument("--meet-in", type=Path, help=argparse.SUPPRESS)  # its meeting folder
    parser.add_argument(
        "--cold-compile",
        action="store_true",
        help="compile each variant from scratch, inductor's on-disk caches off: the first step a fresh machine pays",
    )
    return parser


def _row(config: str, variant: str, first: bool, device: torch.device, args: argparse.Namespace) -> dict:
    """One variant's figures (`time_variant`, `time_together`), or {"failed": why} when it cannot run: a compile
    this torch or GPU cannot do (its traceback on stderr, the lease's log) does not cost the variants after it."""
    try:
        if VARIANTS[variant].processes > 1:
            return time_together(config, variant, device, args.steps, args.seconds, args.set)
        ready = partial(meet, args.meet_in, args.peers) if args.meet_in else None
        return time_variant(config, variant, device, args.steps, args.seconds, args.set, args.profile and first, ready)
    except Exception as err:
        traceback.print_exc()
        return {"failed": f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0][:200]}"}


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    require_device(args.device)
    for config in args.configs:  # a misspelt config or override: one line now, not a traceback later
        try:
            parse_command_line(["--config", config, *args.set])
        except ValueError as err:
            parser.error(str(err))
    if args.cold_compile:
        torch._inductor.config.force_disable_caches = True
        warnings.filterwarnings("ignore", message="dynamo_pgo force disabled")  # what was asked
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"## Training steps on {name}, torch {torch.__version__}, synthetic batches on the device\n")
    header = "| config | variant | batch | first step s | steps/s | samples/s | peak GiB |\n" + "|:--|:--|" + "--:|" * 5
    rows, table_open = [], False
    for config in args.configs:
        for i, variant in enumerate(args.variants):
            if not table_open:  # the first row, or the first after a profile
                print(header)
                table_open = True
            r = _row(config, variant, i == 0, device, args)
            if args.json:  # after every row: a probe stopped by its time limit keeps the rows it has; a failed one
                # too, so that a lease's next probe tries that variant last
                rows.append({"config": config, "variant": variant} | {k: v for k, v in r.items() if k != "profile"})
                # Renamed into place: the probe's time limit SIGKILLs this script, maybe mid-write.
                partial = args.json.with_name(args.json.name + ".partial")
                partial.write_text(json.dumps(rows, indent=1))
                os.replace(partial, args.json)
            if "failed" in r:
                print(f"| `{config}` | {variant} | failed: {r['failed']} |||||", flush=True)
                continue
            print(
                f"| `{config}` | {variant} | {r['batch']} | {r['first']:.1f} | {r['steps_per_s']:.2f} "
                f"| {r['samples_per_s']:.0f} | {r['gib']:.2f} |",
                flush=True,
            )
            if r["profile"]:  # at once, between tables: a probe stopped by its time limit keeps it
                print(f"\n### `{config}`, {variant}: operators by time\n\n{r['profile']}\n", flush=True)
                table_open = False


if __name__ == "__main__":
    main()

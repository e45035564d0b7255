"""The GPU lease's probe (`--probe`): the training steps timed per variant (precision, attention kernel, compile
mode, batch), the rows kept in the lease state for leases without `--probe`, and the variant each trainer runs in.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from lease_log import log  # beside this script
from lease_models import MODELS, REPO

PROBE_ROWS = "probe.json"  # in the lease state: the last probe's speeds per config, for leases without --probe
# What `--probe` times per model (benchmarks/train_step.py): the recipe's bf16 (heads padded for CUDA's fused
# attention); inductor and CUDA graphs compiling each Swin layer apart (`train.compile_regions`: on the CPU its
# compile took a quarter of the whole model's, benchmarks/README.md), first among the untimed because the eager step
# looks host-bound (docs/training.md, fourth lease); two eager processes at once (steps/s in all near twice one's:
# the host sets the pace, and two models side by side would each keep theirs); the step with the trainer's per-step
# extras (clipping, EMA, schedule, seeding), a doubled batch, the unfused attention, float32 (in the first lease,
# before the padding, eager float32 made 7.46 steps/s and bf16 7.11), and the whole model compiled. A lease probes
# those no kept row has before the others (`probe_order`).
PROBE_VARIANTS = (
    "bf16",
    "bf16 inductor regions",
    "bf16 inductor reduce-overhead regions",
    "bf16 two processes",
    "bf16 trainer step",
    "bf16 x2 batch",
    "bf16 unpadded heads",
    "fp32",
    "bf16 inductor",
    "bf16 inductor reduce-overhead",
)
# Figures benchmarks/README.md lacks for a GPU, timed before the steps (benchmarks/SCRIPT ARGS, each within
# FIGURE_SECONDS): the shifted windows' SDPA both ways at the x4 configs' batch of 32 patches of 64² (a CUDA start-up
# and 66 passes of a few ms each), and the pipeline's `batch_size` on small images (transformers imported and the
# model loaded, then 64 images twice per batch size: a few seconds).
PIPELINE_FIGURE = ["--images", "64", "--size", "64", "--batch-sizes", "1", "16", "--repeats", "2"]
DEVICE_FIGURES = {
    "Shifted windows' attention": ["shifted_attention.py", "--batch", "32", "--repeats", "60"],
    "Pipeline batches": ["pipeline_batches.py", *PIPELINE_FIGURE],
}
FIGURE_SECONDS = 15
VARIANT_SECONDS = 5  # each variant's steps are timed this long (train_step.py --seconds), after its warm-up
# The probed variants a lease may train in instead of eager bf16, and the trainer overrides that select them.
REGIONS = ["train.compile=inductor", "train.compile_regions=true"]
ALTERNATIVES = {
    "fp32": ["train.mixed_precision=no"],
    "bf16 inductor": ["train.compile=inductor"],
    "bf16 inductor reduce-overhead": ["train.compile=inductor", "train.compile_mode=reduce-overhead"],
    "bf16 inductor regions": REGIONS,
    "bf16 inductor reduce-overhead regions": [*REGIONS, "train.compile_mode=reduce-overhead"],
}


def probe_order(kept: list[dict], models: list[str]) -> list[str]:
    """PROBE_VARIANTS, those that `kept` (this device's kept rows) lacks for any of the models first: a probe cut
    short by its seconds has then timed what no lease had, and the kept rows stand in for the rest (`merged`)."""
    timed = {(row["config"], row["variant"]) for row in kept}
    untimed = [v for v in PROBE_VARIANTS if any((MODELS[m], v) not in timed for m in models)]
    return untimed + [v for v in PROBE_VARIANTS if v not in untimed]


def merged(fresh: list[dict], kept: list[dict]) -> list[dict]:
    """A probe's rows and, for each config and variant it did not time, the kept row (of this device)."""
    timed = {(row["config"], row["variant"]) for row in fresh}
    return fresh + [row for row in kept if (row["config"], row["variant"]) not in timed]


def probe(models: list[str], args: argparse.Namespace, env: dict, kept: list[dict], found: list[dict]) -> None:
    """Time the models' training steps by attention kernel, precision, compile mode and batch
    (benchmarks/train_step.py) for at most `--probe` seconds, into OUT/train_step.md, before the trainers start,
    the variants `kept` lacks first (`probe_order`: the first one's profile comes with them); adds the rows finished
    by then to `found`, also when an exception (the lease's SIGTERM) cuts the probe short."""
    configs = [MODELS[m] for m in models]
    rows = args.out / "train_step.json"
    command = [sys.executable, str(REPO / "benchmarks" / "train_step.py"), "--device", args.device, "--configs"]
    variants = probe_order(kept, models)
    command += [*configs, "--seconds", str(VARIANT_SECONDS), "--variants", *variants, "--profile", "--json", str(rows)]
    command += ["--set", *args.set]
    start = time.monotonic()
    time_device_figures(args, env, min(FIGURE_SECONDS, args.probe / 8))
    seconds = args.probe - (time.monotonic() - start)
    log(f"probe: up to {seconds:.0f} s: {' '.join(command[1:])}")
    with (args.out / "train_step.md").open("a") as table, (args.out / "lease.log").open("a") as errors:
        try:
            subprocess.run(command, env=env, stdout=table, stderr=errors, timeout=seconds)
        except subprocess.TimeoutExpired:
            log("probe: time is up; the rows so far are in train_step.md")
        finally:  # a SIGTERM's exception too: the lease's summary.json then holds the rows timed so far
            found.extend(taken_rows(rows))


def taken_rows(rows: Path) -> list[dict]:
    """The rows train_step.py wrote to `rows` (none: []), removed from OUT: train_step.md has them, and OUT returns at
    most 8 files."""
    try:
        found = json.loads(rows.read_text()) if rows.is_file() else []
    except ValueError as err:  # train_step.py renames it into place; a file cut short must not end the lease
        log(f"probe: {rows.name} is cut short ({err}); its rows are in train_step.md")
        found = []
    rows.unlink(missing_ok=True)
    rows.with_name(rows.name + ".partial").unlink(missing_ok=True)  # what a SIGKILL mid-write left
    return found


def time_device_figures(args: argparse.Namespace, env: dict, seconds: float) -> None:
    """Each of `DEVICE_FIGURES` on the device for at most `seconds`, into a new OUT/train_step.md, a section each:
    `TITLE: benchmarks/SCRIPT --device D ARGS`, then what the script printed."""
    with (args.out / "train_step.md").open("w") as table, (args.out / "lease.log").open("a") as errors:
        for title, (script, *script_args) in DEVICE_FIGURES.items():
            command = [sys.executable, str(REPO / "benchmarks" / script), "--device", args.device, *script_args]
            log(f"probe: up to {seconds:.0f} s: {' '.join(command[1:])}")
            table.write(f"{title}: benchmarks/{script} {' '.join(command[2:])}\n\n```\n")
            table.flush()  # before the child's lines
            try:
                subprocess.run(command, env=env, stdout=table, stderr=errors, timeout=seconds)
            except subprocess.TimeoutExpired:
                log(f"probe: {title[0].lower()}{title[1:]} ran out of time")
            table.write("```\n\n")


def device_rows(state: Path, models: list[str], device: str) -> list[dict]:
    """The models' probe rows kept in `state` (PROBE_ROWS) that were timed on a `device` of this kind."""
    return [row for name in models for row in kept_probe(state).get(MODELS[name], []) if row["device"] == device]


def recorded_probe(state: Path, models: list[str], device: str) -> list[dict]:
    """The probe rows an earlier lease on a `device` of this kind returned and `collect` kept in `state` (PROBE_ROWS),
    for a lease without `--probe`: its trainers then pick from them for this lease's own budget, without spending it
    on probing. Rows timed on another kind of device are left out (a lease that draws another accelerator probes)."""
    rows = device_rows(state, models, device)
    if rows:
        configs = ", ".join(sorted({r["config"] for r in rows}))
        log(f"no --probe: picking from the probe rows in {state / PROBE_ROWS} ({configs})")
        return rows
    devices = {row["device"] for name in models for row in kept_probe(state).get(MODELS[name], [])}
    if devices:
        timed = ", ".join(sorted(devices))
        log(f"no --probe: the kept probe rows were timed on {timed}, not on this {device}: eager bf16 (pass --probe)")
    return rows


def earlier_rows(runs: Path, state: Path, models: list[str], device: str, probing: bool) -> list[dict]:
    """The probe rows this lease starts from: those an earlier call of the session timed on this very machine (kept in
    `runs`, which a still-warm machine keeps between calls, by `keep_on_machine`), then, for what that one did not
    time, those of this kind of device kept in `state` (`recorded_probe`, which logs them, unless `probing`). So a
    session's second call, started before `collect`, trains in what its first call's probe found fastest."""
    machine = device_rows(runs, models, device)
    if machine and not probing:
        configs = ", ".join(sorted({r["config"] for r in machine}))
        log(f"no --probe: picking from this machine's probe rows of an earlier call, {runs / PROBE_ROWS} ({configs})")
    kept = device_rows(state, models, device) if probing or machine else recorded_probe(state, models, device)
    return merged(machine, kept)


def keep_on_machine(fresh: list[dict], device: str, runs: Path) -> None:
    """Keep a probe's rows in `runs` (PROBE_ROWS), for the session's next call on this machine (`earlier_rows`)."""
    record_probe({"probe_rows": fresh, "device": device}, runs)


def kept_probe(state: Path) -> dict[str, list[dict]]:
    """Config → the probe rows kept in `state` (PROBE_ROWS; none kept: {}), each with the device it was timed on."""
    path = state / PROBE_ROWS
    return json.loads(path.read_text()) if path.is_file() else {}


def record_probe(summary: dict, state: Path) -> list[str]:
    """Keep a lease's fresh probe rows (`summary["probe_rows"]`, timed on `summary["device"]`) in `state`
    (PROBE_ROWS); the configs updated. A fresh row replaces the kept one of its config and variant; the kept rows of
    variants it did not reach stay (a probe cut short by `--probe` keeps what an earlier one timed), unless they were
    timed on another kind of device, whose figures do not compare."""
    fresh: dict[str, list[dict]] = {}
    for row in summary.get("probe_rows", []):
        fresh.setdefault(row["config"], []).append(row | {"device": summary["device"]})
    if not fresh:
        return []
    kept = kept_probe(state)
    for config, rows in fresh.items():
        replaced = {row["variant"] for row in rows}
        earlier = [r for r in kept.get(config, []) if r["device"] == summary["device"] and r["variant"] not in replaced]
        kept[config] = earlier + rows
    (state / PROBE_ROWS).write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")
    return sorted(fresh)


def pick_variant(rows: list[dict], config: str, seconds: float) -> tuple[str, list[str]]:
    """The probed variant, of eager bf16 and `ALTERNATIVES`, that makes the most steps of `config` in `seconds` of
    training (a compiled one pays its first step, the compile, again in the trainer), and its trainer overrides:
    eager bf16 unless another variant makes ≥ 5 % more, or the probe timed no eager bf16 step. A variant that failed
    in the probe (its row `failed`) is not one to train in."""
    timed = {r["variant"]: r for r in rows if r["config"] == config and "failed" not in r}
    if "bf16" not in timed:
        return "bf16", []

    def steps(variant: str) -> float:
        return timed[variant]["steps_per_s"] * max(0.0, seconds - timed[variant]["first"])

    best = max((v for v in ALTERNATIVES if v in timed), key=steps, default=None)
    if best and steps(best) >= 1.05 * steps("bf16") and steps(best) > 0:  # no time left: no compile either
        return best, ALTERNATIVES[best]
    return "bf16", []


def device_name(device: str) -> str:
    """What a lease trains on, as summary.json and the kept probe rows name it: the GPU's model, or "cpu"."""
    return torch.cuda.get_device_name(0) if device != "cpu" and torch.cuda.is_available() else "cpu"

"""Train the gpu_* configs side by side within one GPU lease, and bring back compact, resumable checkpoints.

On the lease machine, from the repository root (docs/training.md, "GPU leases", has the `run` tool call):

    python3 hub/gpu_lease.py run --budget 540 --out "$OUT"

1. makes the trainer importable there: installs the carried gpu_wheels/ it lacks (transformers ≥ 5.18, jsonargparse,
   docstring_parser; training on plain image folders needs no `datasets`, which that machine also lacks);
2. makes gpu_lr/ (the bicubic x4 LR images of gpu_data/, `pack_gpu_data.py --lr-only`; seconds) and restores each
   model's checkpoint into runs/gpu/NAME/checkpoints/ from the newer of the carried gpu_ckpt/NAME.tar and the
   lease state in the working tree, hub/lease_state/NAME.tar; a model with neither starts from the EMA weights of
   the first of its WARM_START sources that has some (sr-x2 and denoise-color from sr-x4, jpeg-color from
   denoise-color, else sr-x4), else from scratch;
3. starts one `python -m swinir_hf.train --config gpu_... --resume latest` process per model on the one GPU;
4. stops them with SIGTERM `--stop-margin` seconds before `--budget` (the trainer finishes its step and saves a
   checkpoint), and meanwhile packs every new checkpoint into OUT every `--pack-every` seconds, so that a hard
   kill still returns the last one;
5. leaves in OUT one NAME.tar per model (≤ 8 files in all), summary.json and lease.log.

With `--probe S`, it first (before 3.) spends up to S seconds timing the training steps (benchmarks/train_step.py)
in bf16 with and without the attention heads padded for CUDA's fused kernels, in float32, with torch.compile
(inductor), with CUDA graphs and with a doubled batch, and profiling the bf16 step, into train_step.md; then each
trainer runs in float32 or compiled where the probe says that makes more steps before the budget, compile time
included (eager bf16 again if that trainer fails). The probe's figures come back in summary.json; `collect` keeps
them in hub/lease_state/probe.json (per config, variant and device), and a later lease without `--probe` on the same
kind of device picks from those for its own budget.

NAME.tar is the newest checkpoint, compacted (hub/lease_checkpoints.py: ~6 bytes per parameter instead of ~20).
Before it, `python hub/gpu_lease.py plan --models NAME` prints the `carry` list and checks what the call would send
against its 64 MiB. Back here, `python hub/gpu_lease.py collect FILES_AT` files the returned tars into gpu_ckpt/ (the
carry of a next call in this session), writes their lean copies (float16 EMA only, ~2 bytes per parameter) into
hub/lease_state/, which is committed, since ignored folders do not outlive a session, and unpacks them into
runs/gpu/NAME/: a finished model for hub/bundle_default.py, an unfinished one's checkpoint (its EMA model in
checkpoints/step-N/model/, which `swinir-hf eval --model` takes) to score.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from lease_checkpoints import holds_model, lean, origin, pack, step_folders, unpack, verified_step  # beside this script
from pack_gpu_data import folder_size

REPO = Path(__file__).resolve().parent.parent
STATE = REPO / "hub" / "lease_state"  # the lean lease state, committed: each model's newest step
PROBE_ROWS = "probe.json"  # in the lease state: the last probe's speeds per config, for leases without --probe
# Bundled model name → config, in the priority order.
MODELS = {
    "sr-x4": "gpu_sr_x4",
    "real-sr-x4": "gpu_real_sr_x4",
    "denoise-color": "gpu_color_dn",
    "jpeg-color": "gpu_color_jpeg",
    "sr-x2": "gpu_sr_x2",
}
# A model that has no checkpoint of its own starts from the newest EMA weights of the first of its sources that has
# some, a model whose body it shares (its head is re-initialised and, for JPEG's window 7, its relative-position
# biases fitted: the trainer's init report lists the tensors), as the authors start their x3 / x4 models from x2. On
# the CPU, x2 and colour JPEG from x4 reached in half the steps what they reached from scratch, colour JPEG from the
# colour denoiser did better still, and colour denoising from x4 scored 0.18 dB higher after 800 steps; real-world x4
# gained nothing (benchmarks/README.md, "Warm starts").
WARM_START = {"denoise-color": ("sr-x4",), "jpeg-color": ("denoise-color", "sr-x4"), "sr-x2": ("sr-x4",)}
MIN_TRANSFORMERS = (5, 18)
# A trainer's exit statuses that are no failure: finished, or stopped by SIGINT / SIGTERM after saving a checkpoint.
ENDED_WELL = (0, 130, 143)
# What `--probe` times per model (benchmarks/train_step.py): the recipe's bf16 (heads padded for CUDA's fused
# attention), the unfused attention, float32 (in the first lease, before the padding, eager float32 made 7.46 steps/s
# and bf16 7.11), inductor, CUDA graphs, a doubled batch. The eager ones, quick to time, first.
PROBE_VARIANTS = (
    "bf16",
    "bf16 unpadded heads",
    "fp32",
    "bf16 inductor",
    "bf16 inductor reduce-overhead",
    "bf16 x2 batch",
)
# The probed variants a lease may train in instead of eager bf16, and the trainer overrides that select them.
ALTERNATIVES = {
    "fp32": ["train.mixed_precision=no"],
    "bf16 inductor": ["train.compile=inductor"],
    "bf16 inductor reduce-overhead": ["train.compile=inductor", "train.compile_mode=reduce-overhead"],
}


LOG_FILES: list[Path] = []  # lease.log in OUT, so that the log comes back with the checkpoints


def log(message: str) -> None:
    line = f"[gpu_lease {time.strftime('%H:%M:%S')}] {message}"
    print(line, flush=True)
    for path in LOG_FILES:
        with open(path, "a") as f:
            f.write(line + "\n")


# --- the lease --------------------------------------------------------------------------------------------------


def _version_ok(python: str, env: dict) -> bool:
    code = "import transformers; print(transformers.__version__)"
    done = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode:
        return False
    version = tuple(int(p) for p in done.stdout.strip().split(".")[:2])
    log(f"transformers {done.stdout.strip()}")
    return version >= MIN_TRANSFORMERS


def _import_error(python: str, module: str, env: dict) -> str | None:
    """The last line of the error importing `module` in `python`, or None when it imports."""
    done = subprocess.run([python, "-c", f"import {module}"], env=env, capture_output=True, text=True)
    return (done.stderr.strip().splitlines() or ["failed"])[-1] if done.returncode else None


def _lacks(wheel: Path, env: dict) -> bool:
    """Whether this machine lacks what `wheel` carries: transformers ≥ 5.18, or the wheel's module at all."""
    module = wheel.name.split("-")[0]  # transformers, jsonargparse, docstring_parser
    if module == "transformers":
        return not _version_ok(sys.executable, env)
    return _import_error(sys.executable, module, env) is not None


def prepare_env(args: argparse.Namespace) -> dict:
    """The trainers' environment: the carried wheels this machine lacks (a new enough transformers, jsonargparse,
    docstring_parser), installed into a temporary folder put first on PYTHONPATH."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "TQDM_MININTERVAL": "10"}
    paths = [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    needed = [wheel for wheel in sorted(args.wheels.glob("*.whl")) if _lacks(wheel, env)]
    if needed:
        site = Path(tempfile.mkdtemp(prefix="gpu-lease-site-"))
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
        subprocess.run([*pip, "--target", str(site), *map(str, needed)], check=True)
        env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
        log(f"installed {', '.join(wheel.name for wheel in needed)}")
    if not _version_ok(sys.executable, env):
        raise SystemExit(f"transformers < {MIN_TRANSFORMERS} and no newer transformers wheel in {args.wheels}")
    error = _import_error(sys.executable, "swinir_hf.train", env)
    if error:
        raise SystemExit(f"swinir_hf.train does not import ({error}; carried wheels: {args.wheels})")
    return env


def _config(name: str) -> dict:
    import yaml

    return yaml.safe_load((REPO / "swinir_hf" / "configs" / f"{MODELS[name]}.yaml").read_text())


def worker_shares(models: list[str], total: int) -> dict[str, int]:
    """Data-loader workers per model: `total` split in proportion to the configs' num_workers (≥ 1 each when
    total > 0; 0 loads in the training process)."""
    weights = {m: _config(m)["data"]["num_workers"] for m in models}
    if total <= 0:
        return dict.fromkeys(models, 0)
    return {m: max(1, total * w // sum(weights.values())) for m, w in weights.items()}


def launch(
    name: str, args: argparse.Namespace, env: dict, workers: int, overrides: list[str]
) -> tuple[subprocess.Popen, Path]:
    """Start one trainer, with `overrides` (its warm start, the probe's picks) and then the `--set` ones; its output
    goes to runs/NAME.log."""
    run = args.runs / name
    log_file = args.runs / f"{name}.log"
    command = [sys.executable, "-m", "swinir_hf.train", "--config", MODELS[name], "--resume", "latest"]
    # --set last: what the person running the lease says wins over the warm start and the probe's picks.
    command += ["--output-dir", str(run), "--data.num_workers", str(workers), *overrides, *args.set]
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(command, cwd=args.workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    log(f"{name}: pid {proc.pid}, {workers} workers: {' '.join(command[1:])}")
    return proc, log_file


def pack_all(models: list[str], args: argparse.Namespace, packed: dict[str, int]) -> None:
    """Pack each model's newest checkpoint into OUT if it is newer than the one packed before."""
    for name in models:
        run = args.runs / name
        found = step_folders(run)
        if not found or packed.get(name) == found[-1].name:
            continue
        try:
            step = pack(run, args.out / f"{name}.tar", args.runs / f"{name}.log", _warm_started(name, args))
        except (FileNotFoundError, OSError, RuntimeError) as err:  # the trainer replaced it meanwhile
            log(f"{name}: packing {found[-1].name} failed ({err}); next time")
            continue
        packed[name] = found[-1].name
        log(f"{name}: packed step {step} ({(args.out / f'{name}.tar').stat().st_size / 2**20:.2f} MiB)")


def stop(procs: dict[str, subprocess.Popen], grace: float) -> None:
    """SIGTERM every trainer (each saves a checkpoint after its current step); SIGKILL what outlives `grace`."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    end = time.monotonic() + grace
    for name, proc in procs.items():
        try:
            proc.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{name}: still running {grace:.0f} s after SIGTERM: killed")
            proc.kill()
            proc.wait()


def _progress(run: Path) -> dict:
    found = step_folders(run)
    return json.loads((found[-1] / "progress.json").read_text()) if found else {"step": 0}


def _max_steps(name: str, run: Path) -> int:
    """The run's own max_steps (its training_config.yaml holds `--set` overrides), else its config's."""
    import yaml

    resolved = run / "training_config.yaml"
    config = yaml.safe_load(resolved.read_text()) if resolved.is_file() else _config(name)
    return config["train"]["max_steps"]


def summarize(models: list[str], args: argparse.Namespace, info: dict) -> dict:
    """Per model: steps this lease, steps/s (start-up included), last loss and validation PSNR, exit status."""
    result = {}
    for name in models:
        progress = _progress(args.runs / name)
        start, seconds = info["start_step"][name], info["seconds"][name]
        tar = args.out / f"{name}.tar"
        result[name] = {
            "config": MODELS[name],
            "start_step": start,
            "end_step": progress["step"],
            "max_steps": _max_steps(name, args.runs / name),
            "exit_code": info["exit"][name],
            "overrides_picked": info["picked"][name],
            "warm_start": _warm_started(name, args),  # the model and step it started from, if not from scratch
            "seconds": round(seconds, 1),
            "steps_per_s_incl_startup": round((progress["step"] - start) / seconds, 3) if seconds else None,
            "last_loss": progress.get("losses", [{}])[-1].get("loss") if progress.get("losses") else None,
            "last_val_psnr": progress["history"][-1] if progress.get("history") else None,
            "last_window": progress.get("speed"),  # steps/s without start-up, and the share spent waiting for data
            "returned_bytes": tar.stat().st_size if tar.is_file() else None,
        }
    return result


def probe(models: list[str], args: argparse.Namespace, env: dict) -> list[dict]:
    """Time the models' training steps by attention kernel, precision, compile mode and batch
    (benchmarks/train_step.py) for at most `--probe` seconds, into OUT/train_step.md, before the trainers start;
    returns the rows finished by then."""
    configs = [MODELS[m] for m in models]
    rows = args.out / "train_step.json"
    command = [sys.executable, str(REPO / "benchmarks" / "train_step.py"), "--device", args.device, "--configs"]
    command += [*configs, "--seconds", "5", "--variants", *PROBE_VARIANTS, "--profile", "--json", str(rows)]
    command += ["--set", *args.set]
    log(f"probe: up to {args.probe:.0f} s: {' '.join(command[1:])}")
    with (args.out / "train_step.md").open("w") as table, (args.out / "lease.log").open("a") as errors:
        try:
            subprocess.run(command, env=env, stdout=table, stderr=errors, timeout=args.probe)
        except subprocess.TimeoutExpired:
            log("probe: time is up; the rows so far are in train_step.md")
    found = json.loads(rows.read_text()) if rows.is_file() else []
    rows.unlink(missing_ok=True)  # train_step.md has them; OUT returns at most 8 files
    return found


def recorded_probe(state: Path, models: list[str], device: str) -> list[dict]:
    """The probe rows an earlier lease on a `device` of this kind returned and `collect` kept in `state` (PROBE_ROWS),
    for a lease without `--probe`: its trainers then pick from them for this lease's own budget, without spending it
    on probing. Rows timed on another kind of device are left out (a lease that draws another accelerator probes)."""
    kept = [row for name in models for row in kept_probe(state).get(MODELS[name], [])]
    rows = [row for row in kept if row["device"] == device]
    if rows:
        configs = ", ".join(sorted({r["config"] for r in rows}))
        log(f"no --probe: picking from the probe rows in {state / PROBE_ROWS} ({configs})")
    elif kept:
        timed = ", ".join(sorted({r["device"] for r in kept}))
        log(f"no --probe: the kept probe rows were timed on {timed}, not on this {device}: eager bf16 (pass --probe)")
    return rows


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
    eager bf16 unless another variant makes ≥ 5 % more, or the probe timed no eager bf16 step."""
    timed = {r["variant"]: r for r in rows if r["config"] == config}
    if "bf16" not in timed:
        return "bf16", []

    def steps(variant: str) -> float:
        return timed[variant]["steps_per_s"] * max(0.0, seconds - timed[variant]["first"])

    best = max((v for v in ALTERNATIVES if v in timed), key=steps, default=None)
    if best and steps(best) >= 1.05 * steps("bf16"):
        return best, ALTERNATIVES[best]
    return "bf16", []


def failed_alternatives(procs: dict[str, subprocess.Popen], picked: dict[str, list[str]]) -> list[str]:
    """The trainers started with a picked variant's overrides that have ended with an error (not by SIGTERM or SIGINT
    with a checkpoint, nor by finishing)."""
    return [name for name, proc in procs.items() if picked[name] and proc.poll() not in (None, *ENDED_WELL)]


def restore_sources(name: str, ckpt: Path, state: Path) -> list[tuple[Path, int | str]]:
    """The tars a lease may restore name from, each with its step (or why it is unreadable), best first: the
    newer of the carried one and the lean lease state; the carried one on a tie, as it also holds the raw
    weights and Adam's moments."""
    found: list[tuple[Path, int | str]] = []
    for tar in (ckpt / f"{name}.tar", state / f"{name}.tar"):
        if tar.is_file():
            try:
                found.append((tar, verified_step(tar)))
            except ValueError as error:
                found.append((tar, str(error)))
    return sorted(found, key=lambda item: item[1] if isinstance(item[1], int) else -1, reverse=True)  # stable


def restore(name: str, args: argparse.Namespace) -> None:
    """runs/NAME/checkpoints/ from the best readable tar, and the warm start it records; a damaged one is logged
    and passed over."""
    sources = restore_sources(name, args.ckpt, args.state)
    for tar, step in sources:
        if isinstance(step, int):
            log(f"{name}: restored step {unpack(tar, args.runs / name)} from {tar}")
            _record_warm_start(name, args, origin(tar))
            return
        log(f"{name}: {step}: passed over")
    log(f"{name}: neither {args.ckpt / name}.tar nor {args.state / name}.tar to restore: starts from step 0")


def _record_warm_start(name: str, args: argparse.Namespace, started_from: dict | None) -> None:
    """Keep the warm start beside the run (runs/NAME.warm_start.json) for `pack` to record in each tar."""
    record = args.runs / f"{name}.warm_start.json"
    if started_from is None:
        record.unlink(missing_ok=True)
    else:
        record.write_text(json.dumps(started_from))


def _warm_started(name: str, args: argparse.Namespace) -> dict | None:
    record = args.runs / f"{name}.warm_start.json"
    return json.loads(record.read_text()) if record.is_file() else None


def warm_source(
    name: str, args: argparse.Namespace, usable: Callable[[Path], bool] = lambda tar: True
) -> tuple[str, Path, int] | None:
    """(source, its best readable and `usable` tar, that tar's step) for the first of `name`'s WARM_START sources
    that has one; only a tar that holds a model/ folder to start from counts."""
    for source in WARM_START.get(name, ()):
        for tar, step in restore_sources(source, args.ckpt, args.state):
            if isinstance(step, int) and usable(tar) and holds_model(tar):
                return source, tar, step
    return None


def _no_source_text(name: str) -> str:
    return f"no {' or '.join(WARM_START[name])} checkpoint with a model/ folder to start from"


def warm_start(name: str, args: argparse.Namespace) -> list[str]:
    """The trainer overrides that start `name`, which has no checkpoint yet, from the EMA model of its first
    WARM_START source's best readable tar (unpacked into runs/NAME.init/); [] (from scratch) where there is none."""
    _record_warm_start(name, args, None)  # one an earlier call left here holds only if this start takes one
    if name not in WARM_START:
        return []
    found = warm_source(name, args)
    if found is None:
        log(f"{name}: {_no_source_text(name)}: starts from scratch")
        return []
    source, tar, _ = found
    init = args.runs / f"{name}.init"
    shutil.rmtree(init, ignore_errors=True)
    step = unpack(tar, init)
    model = step_folders(init)[-1] / "model"
    _record_warm_start(name, args, {"model": source, "step": step})
    log(f"{name}: starts from {source}'s EMA weights at step {step} ({tar})")
    return [f"model.init_from={model}"]


def device_name(device: str) -> str:
    """What a lease trains on, as summary.json and the kept probe rows name it: the GPU's model, or "cpu"."""
    return torch.cuda.get_device_name(0) if device != "cpu" and torch.cuda.is_available() else "cpu"


def write_summary(
    models: list[str], args: argparse.Namespace, info: dict, device: str, rows: list[dict], wall_s: float
) -> None:
    """OUT/summary.json: the lease (device, budget, time, overrides), `summarize`'s figures per model and a probing
    lease's rows; the models' figures go to the log too."""
    summary = {
        "device": device,
        "budget_s": args.budget,
        "wall_s": round(wall_s, 1),
        "overrides": args.set,
        "models": summarize(models, args, info),
        # What `collect` records for later leases without --probe (the figures only: train_step.md has the rest).
        "probe_rows": [{k: r[k] for k in ("config", "variant", "steps_per_s", "first")} for r in rows]
        if args.probe
        else [],
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    log(json.dumps(summary["models"]))


def run_lease(args: argparse.Namespace) -> int:
    """The whole lease: environment, restore, train until the budget, stop, pack, summarize."""
    t0 = time.monotonic()
    for name in ("out", "ckpt", "state", "wheels", "runs", "workdir"):
        setattr(args, name, getattr(args, name).resolve())
    models = args.models.split(",") if args.models else list(MODELS)
    args.out.mkdir(parents=True, exist_ok=True)
    args.runs.mkdir(parents=True, exist_ok=True)
    LOG_FILES.append(args.out / "lease.log")
    env = prepare_env(args)
    make_lr = [
        sys.executable,
        str(REPO / "hub" / "pack_gpu_data.py"),
        "--lr-only",
        "--out",
        str(args.workdir / "gpu_data"),
    ]
    subprocess.run(make_lr, env=env, check=True)  # gpu_lr/: gpu_sr_x4's LR images (not carried)
    device = device_name(args.device)
    rows = probe(models, args, env) if args.probe else recorded_probe(args.state, models, device)
    deadline, picked = t0 + args.budget - args.stop_margin, {}
    for name in models:
        variant, picked[name] = pick_variant(rows, MODELS[name], deadline - time.monotonic())
        if rows:
            log(f"{name}: trains as the probe's {variant!r}{' ' + ' '.join(picked[name]) if picked[name] else ''}")
    start_step, init = {}, {}
    for name in models:
        if not step_folders(args.runs / name):  # a warm machine's own checkpoint wins over any tar
            restore(name, args)
        start_step[name] = _progress(args.runs / name)["step"]
        init[name] = warm_start(name, args) if start_step[name] == 0 else []
    shares = worker_shares(models, args.workers if args.workers is not None else (os.cpu_count() or 2) - len(models))
    procs, started = {}, {}
    for name in models:
        procs[name], _ = launch(name, args, env, shares[name], init[name] + picked[name])
        started[name] = time.monotonic()
    packed, next_pack = {}, time.monotonic() + args.pack_every
    while any(p.poll() is None for p in procs.values()) and time.monotonic() < deadline:
        time.sleep(1.0)
        for name in failed_alternatives(procs, picked):
            log(f"{name}: failed (exit {procs[name].returncode}) with {' '.join(picked[name])}; again in eager bf16")
            picked[name] = []
            procs[name], _ = launch(name, args, env, shares[name], init[name])
        if time.monotonic() >= next_pack:
            pack_all(models, args, packed)
            next_pack = time.monotonic() + args.pack_every
    log("budget reached: stopping" if time.monotonic() >= deadline else "all runs ended")
    stop(procs, args.stop_grace)
    ended = time.monotonic()
    pack_all(models, args, packed)
    info = {
        "start_step": start_step,
        "exit": {n: p.returncode for n, p in procs.items()},
        "picked": picked,
        "seconds": {n: ended - started[n] for n in models},
    }
    write_summary(models, args, info, device, rows, time.monotonic() - t0)
    # 143 / 130: stopped by the budget with a checkpoint (the expected end of a lease); anything else is a failure.
    return 0 if all(code in ENDED_WELL for code in info["exit"].values()) else 1


def collect(args: argparse.Namespace) -> int:
    """Here, after a lease: returned tars → lean copies in the lease state (to commit), the carry folder and
    runs/gpu/NAME/checkpoints/ (unfinished runs, to score them); finished models' final/ → runs/gpu/NAME/."""
    tars = sorted(args.files_at.glob("*.tar"))
    if not tars:  # a mistyped folder would otherwise do nothing, silently
        print(f"error: no NAME.tar in {args.files_at} (the run tool's files_at folder)", file=sys.stderr)
        return 1
    args.ckpt.mkdir(parents=True, exist_ok=True)
    summary_path = args.files_at / "summary.json"
    if summary_path.is_file():
        args.state.mkdir(parents=True, exist_ok=True)
        for config in record_probe(json.loads(summary_path.read_text()), args.state):
            print(f"{config}: probe rows → {args.state / PROBE_ROWS} (commit it: leases without --probe use them)")
    status = 0
    for tar_path in tars:
        try:
            step = verified_step(tar_path)
        except ValueError as error:
            print(f"error: {error}: not collected", file=sys.stderr)
            status = 1
            continue
        later = []
        for path, kept_step in restore_sources(tar_path.stem, args.ckpt, args.state):
            if isinstance(kept_step, str):
                print(f"note: {kept_step}: replaced")
            elif kept_step > step:
                later.append((path, kept_step))
        if later and not args.force:
            # A lease that started afresh (no tar carried, no state) must not replace a longer run's checkpoint.
            print(
                f"error: {tar_path.name} holds step {step}, {later[0][0]} step {later[0][1]}: kept (--force "
                "replaces it)",
                file=sys.stderr,
            )
            status = 1
            continue
        lean(tar_path, args.state / tar_path.name)
        print(
            f"{tar_path.stem}: step {step}{_origin_text(tar_path)} → {args.state / tar_path.name} (commit it: the "
            "next session resumes)"
        )
        with tarfile.open(tar_path) as tar:
            final = [m for m in tar.getmembers() if m.name.startswith("final/")]
            if not final:
                shutil.copy2(tar_path, args.ckpt / tar_path.name)
                unpack(tar_path, args.runs / tar_path.stem, rebuild_model=True)  # to score its model/
                folder = step_folders(args.runs / tar_path.stem)[-1]
                print(f"{tar_path.name} → {args.ckpt}/ (carry it to this session's next call); {folder}")
                continue
            run = args.runs / tar_path.stem
            run.mkdir(parents=True, exist_ok=True)
            for member in final + [m for m in tar.getmembers() if m.name == "training_config.yaml"]:
                (run / Path(member.name).name).write_bytes(tar.extractfile(member).read())
        # A finished run is not carried again (it would take 64 MiB of room for nothing); its tar stays here.
        shutil.copy2(tar_path, run / tar_path.name)
        (args.ckpt / tar_path.name).unlink(missing_ok=True)
        print(f"{tar_path.stem}: finished; model in {run} (bundle it with hub/bundle_default.py)")
    return status


def _origin_text(tar: Path) -> str:
    """ " (warm-started from sr-x4 at step N)" for a tar that records a warm start, else "" (for the records)."""
    started_from = origin(tar)
    return f" (warm-started from {started_from['model']} at step {started_from['step']})" if started_from else ""


def unpack_here(args: argparse.Namespace) -> int:
    """Here, in any later session: each named model's newest readable tar → runs/gpu/NAME/checkpoints/step-N, its
    EMA model in model/, to score (`swinir-hf eval --model`) or bundle (hub/bundle_default.py)."""
    status = 0
    for name in args.names:
        readable = [(tar, step) for tar, step in restore_sources(name, args.ckpt, args.state) if isinstance(step, int)]
        if not readable:
            print(f"error: no readable {args.ckpt / name}.tar or {args.state / name}.tar", file=sys.stderr)
            status = 1
            continue
        step = unpack(readable[0][0], args.runs / name, rebuild_model=True)
        folder = args.runs / name / "checkpoints" / f"step-{step:08d}"
        print(f"{name}: step {step}{_origin_text(readable[0][0])} from {readable[0][0]} → {folder}")
    return status


CARRY_LIMIT = 64 * 2**20  # what one `run` call may send: the working tree and the carried paths together


def _tree_bytes(repo: Path) -> int:
    """Bytes of the working tree that a `run` call sends: tracked and untracked, not ignored, files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    return sum((repo / os.fsdecode(p)).stat().st_size for p in listed if p and (repo / os.fsdecode(p)).is_file())


def _bytes(path: Path) -> int:
    return path.stat().st_size if path.is_file() else folder_size(path)


def _warm_start_note(name: str, args: argparse.Namespace, sizes: dict[str, int]) -> str:
    """Where plan's model `name`, which starts afresh, takes its weights from: its first WARM_START source's best tar
    among those the call sends (the lease state, and a tar in `sizes`)."""
    if name not in WARM_START:
        return ": from scratch"
    repo = args.repo.resolve()
    found = warm_source(
        name, args, lambda tar: tar.parent == args.state or str(tar.resolve().relative_to(repo)) in sizes
    )
    if found is None:
        return f": from scratch ({_no_source_text(name)})"
    source, tar, step = found
    return f": from {source}'s EMA weights at step {step} ({tar})"


def plan(args: argparse.Namespace) -> int:
    """Here, before a lease: the `carry` list for `--models` and what it sends, checked against the 64 MiB. A
    model's carried tar (from this session's earlier call) goes along where it is the newest and fits; else the
    lease resumes that model from its lean state, which the working tree holds. Every tar is read through, so a
    damaged one is found here, not on the lease's time."""
    models, repo = args.models.split(","), args.repo.resolve()
    base = [args.data, args.wheels]
    for path in base:
        if not path.is_dir():
            print(f"error: no {path}: run hub/pack_gpu_data.py first", file=sys.stderr)
            return 1
    for path in [*base, args.ckpt]:
        if not path.resolve().is_relative_to(repo):
            print(f"error: {path} is outside {repo}: a lease carries only paths in it", file=sys.stderr)
            return 1
    sizes = {"working tree": _tree_bytes(repo)} | {str(p.resolve().relative_to(repo)): _bytes(p) for p in base}
    for name in models:
        tar, state = args.ckpt / f"{name}.tar", args.state / f"{name}.tar"
        found = dict(restore_sources(name, args.ckpt, args.state))
        damaged = [why for why in found.values() if isinstance(why, str)]
        if damaged:
            print(f"error: {damaged[0]}: replace or delete it", file=sys.stderr)
            return 1
        step, state_step = found.get(tar), found.get(state)
        fits = step is not None and tar.stat().st_size <= CARRY_LIMIT - sum(sizes.values())
        if step is not None and (state_step is None or (step >= state_step and fits)):
            sizes[str(tar.resolve().relative_to(repo))] = tar.stat().st_size
            print(f"note: {name} resumes from {tar} (step {step}), carried")
        elif state_step is not None:
            why = "" if step is None else f"{tar} (step {step}) {'is older' if fits else 'does not fit'}: "
            print(f"note: {why}{name} resumes from {state} (step {state_step}; its float16 EMA, a fresh Adam)")
        else:
            print(f"note: {name} starts from step 0 (no {tar}, no {state}){_warm_start_note(name, args, sizes)}")
    kept = kept_probe(args.state)
    for name in models:
        if MODELS[name] in kept:
            timed = ", ".join(sorted({row["device"] for row in kept[MODELS[name]]}))
            print(
                f"note: {name}: probe rows kept in {args.state / PROBE_ROWS} (timed on {timed}): a run without --probe "
                "on such a device picks from them"
            )
        else:
            print(f"note: {name}: no probe rows kept: pass --probe 150 to the first run")
    for what, size in sizes.items():
        print(f"{what}: {size / 2**20:.1f} MiB")
    total = sum(sizes.values())
    print(f"in all: {total / 2**20:.1f} MiB of {CARRY_LIMIT / 2**20:.0f}")
    print("carry: " + json.dumps([name for name in sizes if name != "working tree"]))
    if total > CARRY_LIMIT:
        print("error: over the limit: train fewer models per lease, or pack less (--max-mb)", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one lease: restore, train side by side until the budget, pack into OUT")
    run.add_argument("--budget", type=float, default=540, help="seconds from start to the end of packing")
    run.add_argument("--stop-margin", type=float, default=60, help="SIGTERM this many seconds before the budget")
    run.add_argument("--stop-grace", type=float, default=40, help="seconds a trainer gets to save after SIGTERM")
    run.add_argument("--pack-every", type=float, default=60, help="pack new checkpoints into OUT this often")
    run.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_out")), help="default: $OUT")
    run.add_argument("--ckpt", type=Path, default=REPO / "gpu_ckpt", help="carried tars of the previous lease")
    run.add_argument("--state", type=Path, default=STATE, help="the lean lease state in the working tree")
    run.add_argument("--wheels", type=Path, default=REPO / "gpu_wheels", help="carried wheels")
    run.add_argument("--runs", type=Path, default=REPO / "runs" / "gpu", help="output folders (runs/gpu/NAME)")
    run.add_argument("--workdir", type=Path, default=REPO, help="where the trainers run (holds gpu_data/)")
    run.add_argument("--models", help=f"comma-separated subset of {','.join(MODELS)} (default: all)")
    run.add_argument("--workers", type=int, help="data-loader workers in all (default: cores - models)")
    run.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: a dry run without a GPU")
    run.add_argument("--set", nargs="*", default=[], help="trainer overrides for every model (train.max_steps=20)")
    run.add_argument(
        "--probe", type=float, default=0, help="first time the training steps' speed-ups for this many seconds"
    )
    got = sub.add_parser("collect", help="here: file a lease's returned tars for the next lease and for bundling")
    got.add_argument("files_at", type=Path, help="the folder the run tool returned the files in")
    got.add_argument("--ckpt", type=Path, default=REPO / "gpu_ckpt", help="the next lease's carry folder")
    got.add_argument("--state", type=Path, default=STATE, help="where the lean copies go (committed)")
    got.add_argument("--runs", type=Path, default=REPO / "runs" / "gpu", help="where finished models go")
    got.add_argument("--force", action="store_true", help="replace a carried tar even by one of an earlier step")
    ahead = sub.add_parser("plan", help="here: the carry list of a lease of --models, and its size")
    ahead.add_argument("--models", default="sr-x4", help="comma-separated models the lease trains (default: sr-x4)")
    ahead.add_argument("--ckpt", type=Path, default=REPO / "gpu_ckpt", help="the carried tars")
    ahead.add_argument("--state", type=Path, default=STATE, help="the lean lease state in the working tree")
    ahead.add_argument("--data", type=Path, default=REPO / "gpu_data", help="the packed images")
    ahead.add_argument("--wheels", type=Path, default=REPO / "gpu_wheels", help="the carried wheels")
    ahead.add_argument("--repo", type=Path, default=REPO, help="the checkout a run call sends (default: this one)")
    out = sub.add_parser("unpack", help="here: a model's newest tar (carried or lease state) → runs/gpu/NAME/")
    out.add_argument("names", nargs="+", metavar="NAME", help=f"models ({', '.join(MODELS)})")
    out.add_argument("--ckpt", type=Path, default=REPO / "gpu_ckpt", help="the carried tars")
    out.add_argument("--state", type=Path, default=STATE, help="the lean lease state")
    out.add_argument("--runs", type=Path, default=REPO / "runs" / "gpu", help="where the checkpoints go")
    args = parser.parse_args(argv)
    if args.command == "collect":
        return collect(args)
    if args.command == "unpack":
        args.models = ",".join(args.names)
    for name in (args.models or "").split(","):
        if name and name not in MODELS:
            parser.error(f"unknown model {name!r}; models: {', '.join(MODELS)}")
    if args.command == "plan":
        return plan(args)
    if args.command == "unpack":
        return unpack_here(args)
    if args.device == "cuda" and not torch.cuda.is_available():  # the trainers would quietly run on the CPU
        parser.error("--device cuda, but torch sees no CUDA device here; --device cpu for a dry run")
    return run_lease(args)


if __name__ == "__main__":
    sys.exit(main())

"""A GPU lease, on its machine (`gpu_lease.py run`): the trainers started side by side, their checkpoints packed
into OUT as they come, stopped with SIGTERM before the budget, and the lease summarized in summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lease_checkpoints import pack, step_folders  # beside this script
from lease_env import prepare_env
from lease_log import LOG_FILES, log
from lease_models import MODELS, REPO
from lease_probe import device_name, earlier_rows, keep_on_machine, merged, pick_variant, probe
from lease_restore import restore, warm_start, warm_started

# A trainer's exit statuses that are no failure: finished, or stopped by SIGINT / SIGTERM after saving a checkpoint.
ENDED_WELL = (0, 130, 143)


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


def packed_state(run: Path) -> str | None:
    """What a pack of `run` holds now: its newest step folder's name, and "+final" once the run's summary (the
    trainer's last write, after its final model) is there; None before its first checkpoint."""
    found = step_folders(run)
    if not found:
        return None
    return found[-1].name + ("+final" if (run / "training_summary.json").is_file() else "")


def pack_all(models: list[str], args: argparse.Namespace, packed: dict[str, str]) -> None:
    """Pack each model's newest checkpoint into OUT if the run has more than the pack before holds: a newer step, or
    its final model (saved after the last checkpoint, which a pack in between held without it)."""
    for name in models:
        run = args.runs / name
        state = packed_state(run)
        if state is None or packed.get(name) == state:
            continue
        try:
            step = pack(run, args.out / f"{name}.tar", args.runs / f"{name}.log", warm_started(name, args))
        except (FileNotFoundError, OSError, RuntimeError) as err:  # the trainer replaced it meanwhile
            log(f"{name}: packing {state} failed ({err}); next time")
            continue
        packed[name] = state
        log(f"{name}: packed step {step} ({(args.out / f'{name}.tar').stat().st_size / 2**20:.2f} MiB)")


# How long `stop` waits for a SIGKILLed trainer to be reaped: a process stuck in the GPU driver (uninterruptible)
# outlives SIGKILL, and waiting on it without a bound held the lease past the run tool's limit, nothing packed.
KILL_WAIT_S = 5


def stop(procs: dict[str, subprocess.Popen], grace: float) -> None:
    """SIGTERM every trainer (each saves a checkpoint after its current step); SIGKILL what outlives `grace`, and
    leave one that even that does not end within KILL_WAIT_S (its exit status stays None): at most grace +
    KILL_WAIT_S in all."""
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
    end += KILL_WAIT_S
    for name, proc in procs.items():
        try:
            proc.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{name}: still running {KILL_WAIT_S} s after SIGKILL: left running, packing without it")


def _progress(run: Path) -> dict:
    found = step_folders(run)
    return json.loads((found[-1] / "progress.json").read_text()) if found else {"step": 0}


def _max_steps(name: str, run: Path) -> int:
    """The run's own max_steps (its training_config.yaml holds `--set` overrides), else its config's."""
    import yaml

    resolved = run / "training_config.yaml"
    config = yaml.safe_load(resolved.read_text(encoding="utf-8")) if resolved.is_file() else _config(name)
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
            "warm_start": warm_started(name, args),  # the model and step it started from, if not from scratch
            "seconds": round(seconds, 1),
            "steps_per_s_incl_startup": round((progress["step"] - start) / seconds, 3) if seconds else None,
            "last_loss": progress.get("losses", [{}])[-1].get("loss") if progress.get("losses") else None,
            "last_val_psnr": progress["history"][-1] if progress.get("history") else None,
            "last_window": progress.get("speed"),  # steps/s without start-up, and the share spent waiting for data
            "returned_bytes": tar.stat().st_size if tar.is_file() else None,
        }
    return result


def failed_alternatives(procs: dict[str, subprocess.Popen], picked: dict[str, list[str]]) -> list[str]:
    """The trainers started with a picked variant's overrides that have ended with an error (not by SIGTERM or SIGINT
    with a checkpoint, nor by finishing)."""
    return [name for name, proc in procs.items() if picked[name] and proc.poll() not in (None, *ENDED_WELL)]


PROBE_FIELDS = ("config", "variant", "steps_per_s", "first", "failed")


def write_summary(
    models: list[str], args: argparse.Namespace, info: dict, device: str, rows: list[dict], wall_s: float
) -> None:
    """OUT/summary.json: the lease (device, budget, time, overrides), `summarize`'s figures per model and the rows a
    probing lease timed (`rows`); the models' figures go to the log too."""
    summary = {
        "device": device,
        "budget_s": args.budget,
        "wall_s": round(wall_s, 1),
        "overrides": args.set,
        "models": summarize(models, args, info),
        # What `collect` records for later leases without --probe (the figures only: train_step.md has the rest), and
        # the variants that failed, which a later probe tries last.
        "probe_rows": [{k: r[k] for k in PROBE_FIELDS if k in r} for r in rows],
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    log(json.dumps(summary["models"]))


# A queued model (`--then`) starts only with this many seconds left before the stop: its start-up, data and
# first minute's checkpoint fit, so that it returns a resumable tar.
THEN_MIN_S = 90


# A lease that gets SIGTERM itself (the run tool's time limit, which its trainers get too) stops them, giving each
# this long to save its step, and packs what they saved, before the SIGKILL that follows: its last minute's steps,
# a final model saved since the last pack and summary.json (a probe's figures) come back.
TERMINATED_GRACE_S = 10


class LeaseTerminated(Exception):
    """The lease script got SIGTERM before its trainers were stopped."""


class TermHandler:
    """The lease's SIGTERM handler from its set-up to the stop: raises LeaseTerminated at once, or, for a signal that
    comes while a trainer is started and recorded (`held`), once it is recorded: else the trainer ran on, unstopped."""

    def __init__(self) -> None:
        self.holding = False
        self.pending = False

    def __call__(self, signum: int, frame: object) -> None:
        if self.holding:
            self.pending = True
        else:
            raise LeaseTerminated

    @contextmanager
    def held(self) -> Iterator[None]:
        """SIGTERM's LeaseTerminated deferred to the end of the block."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.pending:
            raise LeaseTerminated


@dataclass
class Trainers:
    """The lease's trainers, by model: what each was started with and when it ended; and the `--then` queue."""

    shares: dict[str, int]  # data-loader workers
    queue: list[str]  # `--then` models not started yet
    queued: frozenset[str]  # all the `--then` models
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    picked: dict[str, list[str]] = field(default_factory=dict)  # the probe's variant, as trainer overrides
    init: dict[str, list[str]] = field(default_factory=dict)  # the warm start, as trainer overrides
    start_step: dict[str, int] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)  # time.monotonic()
    ended: dict[str, float] = field(default_factory=dict)
    handed_on: set[str] = field(default_factory=set)  # finished ones whose place a queued model took (or could not)
    packed: dict[str, str] = field(default_factory=dict)  # model → its `packed_state` last packed into OUT
    on_term: TermHandler = field(default_factory=TermHandler)  # SIGTERM's handler, which a trainer's start holds


def start_trainer(
    name: str, args: argparse.Namespace, env: dict, rows: list[dict], deadline: float, t: Trainers
) -> None:
    """Pick `name`'s variant from the probe rows, restore its checkpoint (or warm-start it), and start its trainer."""
    variant, t.picked[name] = pick_variant(rows, MODELS[name], deadline - time.monotonic())
    if rows:
        log(f"{name}: trains as the probe's {variant!r}{' ' + ' '.join(t.picked[name]) if t.picked[name] else ''}")
    if not step_folders(args.runs / name):  # a warm machine's own checkpoint wins over any tar
        restore(name, args)
    t.start_step[name] = _progress(args.runs / name)["step"]
    # A warm start may take a source that finished in this lease: its tar, final model included, is in OUT.
    sources = argparse.Namespace(**{**vars(args), "ckpt": args.out}) if name in t.queued else args
    # A resumed one gets none: its trainer goes on from the start its checkpoint records (a folder of another machine).
    t.init[name] = warm_start(name, sources) if t.start_step[name] == 0 else []
    with t.on_term.held():  # started and recorded, for `stop`, or neither
        t.procs[name], _ = launch(name, args, env, t.shares[name], t.init[name] + t.picked[name])
        t.started[name] = time.monotonic()


def start_next(args: argparse.Namespace, env: dict, rows: list[dict], deadline: float, t: Trainers) -> None:
    """For each trainer that has finished its max_steps since the last look, the next `--then` model, in its place
    (its worker share), if THEN_MIN_S are left."""
    for name, proc in list(t.procs.items()):
        if proc.poll() != 0 or name in t.handed_on or not t.queue:
            continue
        t.handed_on.add(name)
        left = deadline - time.monotonic()
        if left < THEN_MIN_S:
            log(f"{name}: finished; {left:.0f} s left, too few to start {t.queue[0]}")
            continue
        following = t.queue.pop(0)
        log(f"{name}: finished; {following} starts in its place")
        pack_all(list(t.procs), args, t.packed)  # the finished model's tar: a warm start's source
        t.shares[following] = t.shares[name]
        start_trainer(following, args, env, rows, deadline, t)


def prepare(models: list[str], queue: list[str], args: argparse.Namespace, fresh: list[dict]) -> tuple[dict, list]:
    """Before the trainers: the carried wheels, gpu_lr/ and the probe, whose rows go to `fresh` (those timed before a
    SIGTERM too); returns (the trainers' environment, the rows the trainers pick their variants from)."""
    env, device = prepare_env(args), device_name(args.device)
    make_lr = [sys.executable, str(REPO / "hub" / "pack_gpu_data.py"), "--lr-only"]
    subprocess.run([*make_lr, "--out", str(args.workdir / "gpu_data")], env=env, check=True)  # gpu_lr/ (not carried)
    if not args.probe:
        return env, earlier_rows(args.runs, args.state, models + queue, device, probing=False)
    kept = earlier_rows(args.runs, args.state, models, device, probing=True)  # for the variants it does not reach
    probe(models, args, env, kept, fresh)
    keep_on_machine(fresh, device, args.runs)
    return env, merged(fresh, kept)


def train(models: list[str], args: argparse.Namespace, t0: float, t: Trainers) -> tuple[bool, list[dict]]:
    """`prepare`, start the trainers and `watch` them until the deadline; returns (whether the lease got SIGTERM
    meanwhile, the rows its probe timed). A SIGTERM during the set-up ends it as cleanly as a later one: no trainer
    runs then, and the summary still comes back. From then on SIGTERM is ignored: a second one does not cut the
    stop and the last pack short."""
    fresh: list[dict] = []
    try:
        signal.signal(signal.SIGTERM, t.on_term)
        env, rows = prepare(models, t.queue, args, fresh)
        deadline = t0 + args.budget - args.stop_margin
        workers = args.workers if args.workers is not None else (os.cpu_count() or 2) - len(models)
        t.shares.update(worker_shares(models, workers))
        for name in models:
            start_trainer(name, args, env, rows, deadline, t)
        watch(args, env, rows, deadline, t)
    except LeaseTerminated:
        if t.procs:
            log(f"SIGTERM: stopping the trainers ({TERMINATED_GRACE_S} s to save) and packing now")
        else:
            log("SIGTERM before any trainer started: nothing to stop or pack; writing the summary")
        return True, fresh
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return False, fresh


def run_lease(args: argparse.Namespace) -> int:
    """The whole lease: environment, restore, train until the budget, stop, pack, summarize."""
    t0 = time.monotonic()
    for name in ("out", "ckpt", "state", "wheels", "runs", "workdir"):
        setattr(args, name, getattr(args, name).resolve())
    models = args.models.split(",") if args.models else list(MODELS)
    queue = args.then.split(",") if args.then else []
    args.out.mkdir(parents=True, exist_ok=True)
    args.runs.mkdir(parents=True, exist_ok=True)
    LOG_FILES.append(args.out / "lease.log")
    t = Trainers({}, queue, frozenset(queue))
    previous = signal.getsignal(signal.SIGTERM)
    terminated, fresh = train(models, args, t0, t)
    stop(t.procs, min(args.stop_grace, TERMINATED_GRACE_S) if terminated else args.stop_grace)
    ended = time.monotonic()
    pack_all(list(t.procs), args, t.packed)
    info = {
        "start_step": t.start_step,
        "exit": {n: p.returncode for n, p in t.procs.items()},
        "picked": t.picked,
        "seconds": {n: t.ended.get(n, ended) - t.started[n] for n in t.procs},
    }
    write_summary(list(t.procs), args, info, device_name(args.device), fresh, time.monotonic() - t0)
    signal.signal(signal.SIGTERM, previous)
    if terminated:
        return 128 + signal.SIGTERM
    # 143 / 130: stopped by the budget with a checkpoint (the expected end of a lease); anything else is a failure.
    return 0 if all(code in ENDED_WELL for code in info["exit"].values()) else 1


def watch(args: argparse.Namespace, env: dict, rows: list[dict], deadline: float, t: Trainers) -> None:
    """Until the deadline or the end of every trainer: restart a failed variant in eager bf16, note when each trainer
    ended, start queued models in the place of finished ones, pack new checkpoints every `--pack-every` seconds."""
    procs, picked, next_pack = t.procs, t.picked, time.monotonic() + args.pack_every
    while time.monotonic() < deadline:
        time.sleep(1.0)
        for name in failed_alternatives(procs, picked):
            log(f"{name}: failed (exit {procs[name].returncode}) with {' '.join(picked[name])}; again in eager bf16")
            picked[name] = []
            with t.on_term.held():
                procs[name], _ = launch(name, args, env, t.shares[name], t.init[name])
                t.ended.pop(name, None)
        for name, proc in procs.items():  # when each trainer ended, for its seconds
            if proc.poll() is not None:
                t.ended.setdefault(name, time.monotonic())
        start_next(args, env, rows, deadline, t)
        # A variant that failed since the look above is restarted at the next one, not taken for the end.
        if all(p.poll() is not None for p in procs.values()) and not failed_alternatives(procs, picked):
            break
        if time.monotonic() >= next_pack:
            pack_all(list(procs), args, t.packed)
            next_pack = time.monotonic() + args.pack_every
    log("budget reached: stopping" if time.monotonic() >= deadline else "all runs ended")

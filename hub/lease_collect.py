"""Back here after a GPU lease (`gpu_lease.py collect`, `unpack`): the returned tars filed for the next lease, their
lean copies in the lease state, and each model's newest checkpoint unpacked to score or bundle.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tarfile
from pathlib import Path

from lease_checkpoints import FINAL_FILES, lean, origin, unpack, verified_step  # beside this script
from lease_probe import PROBE_ROWS, record_probe
from lease_restore import restore_sources


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
                set_aside_final(args.runs / tar_path.stem, step)
                unpacked = unpack(tar_path, args.runs / tar_path.stem, rebuild_model=True)  # to score its model/
                # its own step: the run folder may hold a later one (`--force`)
                folder = args.runs / tar_path.stem / "checkpoints" / f"step-{unpacked:08d}"
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


def set_aside_final(run: Path, step: int) -> None:
    """An earlier lease's final model in run/ (its files and NAME.tar), which the checkpoint of `step` collected now
    replaces as the run's current state: moved into run/final-step-N/, so that a later bundle or eval of run/ does
    not take it for the newest model (a run trained on past its max_steps, or `--force`)."""
    summary = run / "training_summary.json"
    if not summary.is_file():
        return
    final_step = json.loads(summary.read_text())["step"]
    if final_step == step:  # a pack made before the final model, of the same weights' step: the final one stands
        return
    aside = run / f"final-step-{final_step:08d}"
    aside.mkdir(exist_ok=True)
    for name in (*FINAL_FILES, f"{run.name}.tar"):
        if (run / name).is_file():
            os.replace(run / name, aside / name)
    print(f"note: {run} held the final model of step {final_step}; step {step} is current: moved to {aside}")


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

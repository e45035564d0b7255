"""Here, before a GPU lease (`gpu_lease.py plan`): the `carry` list for the models it trains, and what the call
would send, checked against its 64 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from lease_models import MODELS, WARM_START  # beside this script
from lease_probe import PROBE_ROWS, PROBE_VARIANTS, kept_probe
from lease_restore import no_source_text, restore_sources, warm_source
from pack_gpu_data import folder_size

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
        return f": from scratch ({no_source_text(name)})"
    source, tar, step = found
    return f": from {source}'s EMA weights at step {step} ({tar})"


def _resume_note(name: str, args: argparse.Namespace, sizes: dict[str, int], before: list[str] | None) -> str | None:
    """Print where `name` resumes from, adding its carried tar to `sizes` where that is the newest and fits; `before`:
    the models a queued (`--then`) model follows. Returns why a tar of it is damaged, if one is."""
    tar, state = args.ckpt / f"{name}.tar", args.state / f"{name}.tar"
    found = dict(restore_sources(name, args.ckpt, args.state))
    damaged = [why for why in found.values() if isinstance(why, str)]
    if damaged:
        return damaged[0]
    step, state_step = found.get(tar), found.get(state)
    fits = step is not None and tar.stat().st_size <= CARRY_LIMIT - sum(sizes.values())
    queued = " (--then)" if before is not None else ""
    follows = next((source for source in WARM_START.get(name, ()) if source in before), None) if queued else None
    if step is not None and (state_step is None or (step >= state_step and fits)):
        sizes[str(tar.resolve().relative_to(args.repo.resolve()))] = tar.stat().st_size
        print(f"note: {name}{queued} resumes from {tar} (step {step}), carried")
    elif state_step is not None:
        why = "" if step is None else f"{tar} (step {step}) {'is older' if fits else 'does not fit'}: "
        print(f"note: {why}{name}{queued} resumes from {state} (step {state_step}; its float16 EMA, a fresh Adam)")
    elif follows:
        print(f"note: {name} (--then) starts from step 0 once a model finishes: from {follows}'s final weights")
    else:
        print(f"note: {name}{queued} starts from step 0 (no {tar}, no {state}){_warm_start_note(name, args, sizes)}")
    return None


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
    queue = [name for name in (args.then or "").split(",") if name]
    for name in models + queue:
        damaged = _resume_note(name, args, sizes, models if name in queue else None)
        if damaged:
            print(f"error: {damaged}: replace or delete it", file=sys.stderr)
            return 1
    kept = kept_probe(args.state)
    for name in models:
        if MODELS[name] in kept:
            timed = ", ".join(sorted({row["device"] for row in kept[MODELS[name]]}))
            untimed = [v for v in PROBE_VARIANTS if v not in {row["variant"] for row in kept[MODELS[name]]}]
            failed = [f"{row['variant']} ({row['failed']})" for row in kept[MODELS[name]] if "failed" in row]
            print(
                f"note: {name}: probe rows kept in {args.state / PROBE_ROWS} (timed on {timed}): a run without --probe "
                "on such a device picks from them"
                + (f"; never timed: {', '.join(untimed)} (a run with --probe 150 times them first)" if untimed else "")
                + (f"; failed, tried again last: {'; '.join(failed)}" if failed else "")
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

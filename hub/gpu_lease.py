"""Train the gpu_* configs side by side within one GPU lease, and bring back compact, resumable checkpoints.

On the lease machine, from the repository root (docs/training.md, "GPU leases", has the `run` tool call):

    python3 hub/gpu_lease.py run --budget 540 --out "$OUT"

1. makes the trainer importable there: installs the carried gpu_wheels/ it lacks (transformers ≥ 5.18, jsonargparse,
   docstring_parser; training on plain image folders needs no `datasets`, which that machine also lacks);
2. makes gpu_lr/ (the bicubic x4 LR images of gpu_data/, `pack_gpu_data.py --lr-only`; seconds) and restores each
   model's checkpoint into runs/gpu/NAME/checkpoints/ from the newer of the carried gpu_ckpt/NAME.tar and the
   lease state in the working tree, hub/lease_state/NAME.tar; a model with neither starts from the EMA weights of
   the first of its WARM_START sources that has some (sr-x2 and denoise-color from sr-x4, jpeg-color from
   denoise-color, else sr-x4), else from scratch (a later lease resumes it without: its checkpoints record the start);
3. starts one `python -m swinir_hf.train --config gpu_... --resume latest` process per model on the one GPU and,
   with `--then`, the next queued model in the place of one that finishes its max_steps (if 90 s are left; its warm
   start may take the finished model's final weights);
4. stops them with SIGTERM `--stop-margin` seconds before `--budget` (the trainer finishes its step and saves a
   checkpoint), and meanwhile packs every new checkpoint into OUT every `--pack-every` seconds, so that a hard
   kill still returns the last one (a SIGTERM to this script stops them at once, and it packs and summarizes; one
   during 1., 2. or the probe writes the summary alone);
5. leaves in OUT one NAME.tar per model (≤ 8 files in all), summary.json and lease.log.

With `--probe S`, it first (before 3.) spends up to S seconds timing the training steps (benchmarks/train_step.py)
in bf16 with and without the attention heads padded for CUDA's fused kernels, in float32, with a doubled batch, with
torch.compile (inductor) and with CUDA graphs, those no kept row has timed first, and profiling the first of them,
into train_step.md; then each trainer runs in float32 or compiled where the probe (and the kept rows of the variants
it did not reach) says that makes more steps before the budget, compile time included (eager bf16 again if that
trainer fails). The probe's figures come back in summary.json; `collect` keeps them in hub/lease_state/probe.json
(per config, variant and device), and a later lease without `--probe` on the same kind of device picks from those
for its own budget.

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
import os
import sys
from pathlib import Path

import torch
from lease_collect import collect, unpack_here  # beside this script
from lease_models import MODELS, REPO, STATE
from lease_plan import plan
from lease_run import run_lease

# This script is the lease's command line; its parts, beside it: lease_models (the models, their configs and warm
# starts), lease_log, lease_env (the carried wheels installed), lease_restore (the checkpoint or warm start a trainer
# resumes from), lease_probe (step timings and the variant each trainer runs in), lease_run (`run`), lease_plan
# (`plan`), lease_collect (`collect`, `unpack`), and lease_checkpoints (the compact tars).


def _parser() -> argparse.ArgumentParser:
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
    run.add_argument(
        "--then",
        help="comma-separated models to start, one by one, in the place of a model that finishes its max_steps "
        "(a warm start may take the finished model's final weights)",
    )
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
    ahead.add_argument("--then", help="comma-separated models the lease queues (run --then)")
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
    return parser


def _check_queue(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`run --then`: known models, none of them also in --models."""
    for name in filter(None, (args.then or "").split(",")):
        if name not in MODELS:
            parser.error(f"unknown model {name!r} in --then; models: {', '.join(MODELS)}")
        if name in (args.models or ",".join(MODELS)).split(","):
            parser.error(f"{name} is in both --models and --then: a model trains once per lease")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "collect":
        return collect(args)
    if args.command == "unpack":
        args.models = ",".join(args.names)
    for name in (args.models or "").split(","):
        if name and name not in MODELS:
            parser.error(f"unknown model {name!r}; models: {', '.join(MODELS)}")
    if args.command == "unpack":
        return unpack_here(args)
    _check_queue(parser, args)
    if args.command == "plan":
        return plan(args)
    if args.device == "cuda" and not torch.cuda.is_available():  # the trainers would quietly run on the CPU
        parser.error("--device cuda, but torch sees no CUDA device here; --device cpu for a dry run")
    return run_lease(args)


if __name__ == "__main__":
    sys.exit(main())

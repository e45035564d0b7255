"""Turn a finished `swinir_hf.train` run, or a checkpoint of an unfinished one, into one of the package's bundled
default models.

    python hub/bundle_default.py runs/default_lightweight_sr_x4 sr-x4 --shared ../shared
    python hub/bundle_default.py runs/gpu/sr-x4/checkpoints/step-00012000 sr-x4 --overwrite   # its EMA model

Scores the run's weights with `swinir_hf.evaluation.benchmark` on the paper's benchmarks for its task (Set5 / Set14 for
super-resolution; CBSD68 / Kodak24 / McMaster at σ 15 / 25 / 50 for colour denoising; LIVE1 / classic5 at quality
10 / 20 / 30 / 40 for colour JPEG; Set5 / Set14 through the seeded BSRGAN-style degradation, `swinir-hf eval --real`,
for real-world SR), stores them as float16
when that moves the first benchmark by at most 0.01 dB (else float32), and writes
`swinir_hf/defaults/NAME/`: config, weights, image processor, a model card with the training recipe, the
validation curve, the measured figures next to the baseline and the paper's, and `results.json` (every mean
figure, baseline included, for docs/evaluation.md, and under "training" what the weights cost: steps, batch, patch,
precision, data and the trainer's record of each launch's device and wall time). A model already bundled under
that name is replaced only with `--overwrite`, and only by one that scores higher on the first benchmark
(`--allow-worse` to replace it anyway); one no better than the trivial baseline (bicubic, the noisy input) is
refused, bundled over another or not, unless `--allow-worse`.

    python hub/bundle_default.py real-sr-x4 --rescore

re-measures a bundled model's figures as it ships and rewrites them (results.json, the card), where a change to the
evaluation code has moved them; tests/test_defaults.py checks that Set5's recorded figure is what it measures.

    python hub/bundle_default.py all --cards-only

rewrites the cards (one bundled NAME's, or all) from the figures in their results.json, measuring nothing: for a
change to the card code (`hub_card`: usage, Results, model-index, metadata). Weights and results.json stay as they are.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# Light imports only here: torch, transformers and the evaluation load after the checks of the command line and
# the run (`_heavy`), so that a refusal comes in a second, not after ~7 s of imports.
from swinir_hf.checkpoints.bundled import DEFAULT_MODELS, DEFAULTS_DIR
from swinir_hf.console import shown_name
from swinir_hf.storage.atomic_writes import create_temp_folder, remove_stale_temp_files, replace_folder

if TYPE_CHECKING:
    from swinir_hf.models.modeling_swinir import SwinIRForImageRestoration
    from swinir_hf.training.config import TrainingConfig
    from swinir_hf.training.state import Progress

# Bundled name → the tasks and scale its model must have (the CLI and the demo pick these by name).
NAME_TASKS = {
    "sr-x4": ({"lightweight_sr", "classical_sr"}, 4),
    "sr-x2": ({"lightweight_sr", "classical_sr"}, 2),
    "real-sr-x4": ({"real_sr"}, 4),
    "denoise-color": ({"color_dn"}, 1),
    "jpeg-color": ({"color_jpeg_car"}, 1),
}
FP16_TOLERANCE_DB = 0.01
# The bundled models' license, as this project publishes them (their cards add their training data's terms).
BUNDLED_LICENSE = "apache-2.0"


def score(model: SwinIRForImageRestoration, testsets: Path, benches: list) -> dict[str, dict[str, dict]]:
    """label → {"baseline": means, "model": means} of the evaluation columns."""
    from swinir_hf.evaluation.benchmark import evaluate

    out = {}
    for label, folder, options in benches:
        result = evaluate(model, testsets / folder, model_name="model", progress=False, **options)
        out[label] = {"baseline": result.mean(result.methods[0]), "model": result.mean("model")}
        print(f"{label}: {result.methods[0]} {out[label]['baseline']} → model {out[label]['model']}", flush=True)
    return out


def stored_weights(
    model: SwinIRForImageRestoration, first: list, testsets: Path, reference: dict
) -> tuple[SwinIRForImageRestoration, float]:
    """`model` in float16 if storing it so moves the first benchmark's PSNR by at most `FP16_TOLERANCE_DB`
    (halving the package size), else `model` itself (float32); and that drift in dB."""
    from swinir_hf.models.modeling_swinir import SwinIRForImageRestoration

    half = copy.deepcopy(model).half()
    with tempfile.TemporaryDirectory() as tmp:
        half.save_pretrained(tmp)
        restored = SwinIRForImageRestoration.from_pretrained(tmp).eval().float()
    half_results = score(restored, testsets, first)
    drift = max(abs(v["model"]["psnr"] - reference[k]["model"]["psnr"]) for k, v in half_results.items())
    stored = half if drift <= FP16_TOLERANCE_DB else model
    print(f"float16 storage changes PSNR by {drift:.4f} dB on {first[0][0]} → stored as {stored.dtype}")
    return stored, drift


def training_record(cfg: TrainingConfig, progress: Progress, compute: str) -> dict:
    """results.json's "training" entry: what the weights cost. `launches` (device, processes, steps, seconds of
    wall time each) and `training_seconds` are what the trainer recorded (None / empty for runs from before it did);
    `compute` is the bundler's own sentence."""
    t, d = cfg.train, cfg.data
    return {
        "steps": progress.step,
        "max_steps": t.max_steps,
        "batch_size": t.batch_size,
        "patch_size": d.patch_size,
        "precision": t.mixed_precision,
        "data": [Path(str(spec)).name for spec in d.train],
        "training_seconds": progress.compute_seconds(),
        "launches": progress.compute,
        "compute": compute or None,
    }


def write_folder(target: Path, stored: SwinIRForImageRestoration, card: str, results: dict) -> None:
    """Stage the bundled folder next to `target`, then move it into place (a failed run leaves the old one). The
    staging folder is named as the package's temporary folders: one a killed run left (kill -9), which no `finally`
    removed, is removed by the next run into that folder."""
    from swinir_hf.checkpoints.folders import write_model_files

    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target.parent)
    staging = create_temp_folder(target.parent)
    try:
        write_model_files(staging, stored, card)
        (staging / "results.json").write_text(json.dumps({"stored_dtype": str(stored.dtype), **results}, indent=1))
        for path in (staging, *staging.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)  # mkdtemp / save_pretrained make them private
        replace_folder(staging, target)  # a kill leaves the earlier bundled model or the new one whole
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class Source:
    """What gets bundled: the model folder, the run's resolved training config and its `Progress` state."""

    model: Path
    training_config: Path
    progress: Path


def source_of(run: Path) -> Source:
    """A finished run's folder (its final model, training_summary.json), or one of its checkpoints,
    `RUN/checkpoints/step-N` (the EMA model in model/, progress.json, RUN/training_config.yaml)."""
    if (run / "progress.json").is_file():
        return Source(run / "model", run.parent.parent / "training_config.yaml", run / "progress.json")
    return Source(run, run / "training_config.yaml", run / "training_summary.json")


def input_error(run: Path, name: str, shared: Path) -> str | None:
    """Why `run` cannot be bundled as `name` with the test sets of `shared`, checked before any scoring; or None."""
    src = source_of(run)
    kind = "finished swinir_hf.train run" if src.model == run else "checkpoint of a swinir_hf.train run"
    for needed in (src.training_config, src.progress, src.model / "config.json"):
        if not needed.is_file():
            return f"{shown_name(run)} is not a {kind} (no {shown_name(needed)})"
    if not (shared / "testsets").is_dir():
        return f"no testsets/ in {shown_name(shared)}: pass --shared FOLDER"
    config = json.loads((src.model / "config.json").read_text())
    tasks, scale = NAME_TASKS[name]
    if config.get("task") not in tasks or config.get("upscale", 1) != scale:
        return f"{shown_name(run)} holds a {config.get('task')} x{config.get('upscale', 1)} model, not a {name} one"
    return None


def not_better(target: Path, label: str, scores: dict[str, dict], y: str) -> str | None:
    """Why a model of `scores` (`score`'s entry for benchmark `label`) should not be bundled as `target`: it scores
    no higher than the trivial baseline, or than the figure in target's results.json; None when it does."""
    psnr, baseline = scores["model"][f"psnr{y}"], scores["baseline"][f"psnr{y}"]
    if psnr <= baseline:  # a model worse than doing nothing: a broken run, or the wrong name for it
        return f"this model scores {psnr:.2f} dB on {label}, the trivial baseline {baseline:.2f} dB"
    results = target / "results.json"
    old = json.loads(results.read_text()).get(label, {}).get("model", {}) if results.is_file() else {}
    if f"psnr{y}" not in old or psnr > old[f"psnr{y}"]:
        return None
    return f"this model scores {psnr:.2f} dB on {label}, the bundled {target.name} {old[f'psnr{y}']:.2f} dB"


def rescore(target: Path, testsets: Path) -> None:
    """Score the bundled model in `target` as it ships (its stored weights, computed in float32) on the benchmarks
    its results.json holds, and rewrite those figures there and in its card (comparison table, Results section,
    model-index). Weights, recipe and training record stay: for figures that a later change to the evaluation code
    (a degradation's, say) has moved."""
    import torch
    from bundled_cards import card_with, stored_card  # beside this script

    from swinir_hf.models.modeling_swinir import SwinIRForImageRestoration

    model = SwinIRForImageRestoration.from_pretrained(target).eval()
    s, old, card, table = stored_card(target, model.config)
    results = score(model, testsets, [b for b in s.benches if b[0] in old])
    dtype = old["stored_dtype"]
    protocol = (
        f"{s.protocol}; measured with `swinir_hf.evaluation.benchmark` from the shipped {dtype} weights, in float32"
    )
    card = card_with(s, model.config, (card, table), results, protocol, target.name)
    stored = model.half() if dtype == str(torch.float16) else model  # float16 → float32 → float16 is exact
    write_folder(target, stored, card, {k: v for k, v in old.items() if k != "stored_dtype"} | results)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "run", type=Path, nargs="?", help="a finished swinir_hf.train output folder, or RUN/checkpoints/step-N"
    )
    parser.add_argument("name", choices=[*sorted(DEFAULT_MODELS), "all"], help="bundled model name (all: --cards-only)")
    parser.add_argument(
        "--rescore", action="store_true", help="re-measure the bundled NAME's figures as it ships (no RUN)"
    )
    parser.add_argument(
        "--cards-only", action="store_true", help="rewrite NAME's card (or all cards) from results.json (no RUN)"
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="folder holding testsets/")
    parser.add_argument("--compute", default="", help="a sentence on the compute used, for the model card")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundled model if it beats it")
    parser.add_argument(
        "--allow-worse",
        action="store_true",
        help="bundle it even if it scores no higher than the bundled model or the baseline",
    )
    parser.add_argument(
        "--defaults-dir", type=Path, default=DEFAULTS_DIR, help="where bundled models go (default: the package's)"
    )
    parser.add_argument("--benchmarks", nargs="+", help="only these benchmark labels (e.g. 'CBSD68 σ25'); default all")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    target, defaults = args.defaults_dir / args.name, shown_name(args.defaults_dir)
    if args.cards_only:
        names = [n for n in sorted(DEFAULT_MODELS) if (args.defaults_dir / n).is_dir()] if args.name == "all" else []
        if args.run is not None or args.rescore or not (names or target.is_dir()):
            parser.error(f"--cards-only rewrites bundled models' cards: pass a name (a folder in {defaults}) or all")
        from bundled_cards import rewrite_card  # beside this script

        for name in names or [args.name]:
            changed = rewrite_card(args.defaults_dir / name)
            print(f"{'rewrote' if changed else 'unchanged:'} {shown_name(args.defaults_dir / name / 'README.md')}")
        return 0
    if args.name == "all":
        parser.error("all is for --cards-only: pass one bundled name")
    if args.rescore:
        if args.run is not None or not target.is_dir():
            parser.error(f"--rescore re-measures a bundled model: pass its name only (a folder in {defaults})")
        rescore(target, args.shared / "testsets")
        print(f"re-measured {shown_name(target)}")
        return 0
    if args.run is None:
        parser.error("pass RUN NAME (or NAME --rescore)")
    return bundle(args, target)


def bundle(args: argparse.Namespace, target: Path) -> int:
    """`main` for RUN NAME: score the run's model, check it may replace `target`, and write the bundled folder."""
    if target.exists() and not args.overwrite:
        print(f"error: {shown_name(target)} exists; pass --overwrite to replace it", file=sys.stderr)
        return 1
    error = input_error(args.run, args.name, args.shared)
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return _score_and_write(args, target)


def _score_and_write(args: argparse.Namespace, target: Path) -> int:
    """`bundle` past its checks: score the run's model, refuse one no better than `target`'s, write the folder."""
    import yaml
    from bundled_cards import comparison_table, suite  # beside this script

    from swinir_hf.checkpoints.measured_results import paper_figures
    from swinir_hf.models.modeling_swinir import SwinIRForImageRestoration
    from swinir_hf.training.card import training_card
    from swinir_hf.training.config import TrainingConfig
    from swinir_hf.training.state import Progress

    src = source_of(args.run)
    cfg = TrainingConfig.from_dict(yaml.safe_load(src.training_config.read_text(encoding="utf-8")))
    summary = json.loads(src.progress.read_text())
    progress = Progress()
    progress.load_state_dict(summary)
    model = SwinIRForImageRestoration.from_pretrained(src.model).eval()
    s = suite(model.config)
    benches = [b for b in s.benches if not args.benchmarks or b[0] in args.benchmarks]
    if not benches:
        print(f"error: no benchmark among {args.benchmarks}", file=sys.stderr)
        return 1
    testsets = args.shared / "testsets"
    results = score(model, testsets, benches)
    y = s.suffix
    worse = not_better(target, benches[0][0], results[benches[0][0]], y)
    if worse and not args.allow_worse:
        kept = f"{shown_name(target)} kept" if target.exists() else "nothing written"
        print(f"error: {worse}: {kept} (--allow-worse bundles it anyway)", file=sys.stderr)
        return 1
    stored, drift = stored_weights(model, benches[:1], testsets, results)

    measured = {k: paper_figures(v["model"], model.config.upscale) for k, v in results.items()}
    card = training_card(
        cfg,
        model,
        progress,
        summary.get("baseline_psnr"),
        None,
        args.name,  # the usage snippets load it from the package
        license=BUNDLED_LICENSE,
        measured_results=measured,
        protocol=f"{s.protocol}; measured with `swinir_hf.evaluation.benchmark` in float32, stored as {stored.dtype} "
        f"(moves {benches[0][0]} by {drift:.4f} dB)",
    )
    intro, lead = "\nTrained with `swinir_hf.train`", f"{args.compute}\n\n" if args.compute else ""
    card = card.replace(intro, f"\n{lead}{comparison_table(s, results)}\n{intro}", 1)
    write_folder(target, stored, card, {"training": training_record(cfg, progress, args.compute), **results})
    print(f"wrote {shown_name(target)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Turn a finished `swinir_hf.train` run into one of the package's bundled default models.

    python hub/bundle_default.py runs/default_lightweight_sr_x4 sr-x4 --shared ../shared

Scores the run's weights with `swinir_hf.evaluation.benchmark` on the paper's benchmarks for its task (Set5 / Set14 for
super-resolution; CBSD68 / Kodak24 / McMaster at σ 15 / 25 / 50 for colour denoising), stores them as float16
when that moves the first benchmark by at most 0.01 dB (else float32), and writes
`swinir_hf/defaults/NAME/`: config, weights, image processor, a model card with the training recipe, the
validation curve, the measured figures next to the baseline and the paper's, and `results.json` (every mean
figure, baseline included) for docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

from swinir_hf.checkpoints.cards import training_card
from swinir_hf.checkpoints.catalog import load_catalog
from swinir_hf.checkpoints.folders import save_model_folder
from swinir_hf.evaluation.benchmark import evaluate
from swinir_hf.loading import DEFAULT_MODELS, DEFAULTS_DIR
from swinir_hf.models.modeling_swinir import SwinIRForImageRestoration
from swinir_hf.training.config import TrainingConfig
from swinir_hf.training.state import Progress

SIGMAS = (15, 25, 50)
FP16_TOLERANCE_DB = 0.01


def benchmarks(model: SwinIRForImageRestoration) -> list[tuple[str, str, dict]]:
    """(label, test-set folder name, evaluate() options) for the model's task, as in the paper's tables."""
    if model.config.upscale > 1:
        return [(s, s, {"scale": model.config.upscale}) for s in ("Set5", "Set14")]
    return [(f"{s} σ{n}", s, {"noise": n}) for s in ("CBSD68", "Kodak24", "McMaster") for n in SIGMAS]


def score(model: SwinIRForImageRestoration, testsets: Path, benches: list) -> dict[str, dict[str, dict]]:
    """label → {"baseline": means, "model": means} of the evaluation columns."""
    out = {}
    for label, folder, options in benches:
        result = evaluate(model, testsets / folder, model_name="model", progress=False, **options)
        out[label] = {"baseline": result.mean(result.methods[0]), "model": result.mean("model")}
        print(f"{label}: {result.methods[0]} {out[label]['baseline']} → model {out[label]['model']}", flush=True)
    return out


def paper_figures(model: SwinIRForImageRestoration) -> dict[str, dict[str, float]]:
    """The paper's figures for the closest released setting (lightweight SR at the same scale; colour DN per σ)."""
    releases = load_catalog().releases
    if model.config.upscale > 1:
        release = next(r for r in releases if r.task == "lightweight_sr" and r.scale == model.config.upscale)
        return dict(release.results)
    figures = {}
    for release in releases:
        if release.task == "color_dn":
            figures |= {f"{bench} σ{release.noise_level}": dict(v) for bench, v in release.results.items()}
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a finished swinir_hf.train output folder")
    parser.add_argument("name", choices=sorted(DEFAULT_MODELS), help="bundled model name")
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="folder holding testsets/")
    parser.add_argument("--compute", default="", help="a sentence on the compute used, for the model card")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing bundled model")
    parser.add_argument("--benchmarks", nargs="+", help="only these benchmark labels (e.g. 'CBSD68 σ25'); default all")
    args = parser.parse_args(argv)

    target = DEFAULTS_DIR / args.name
    if target.exists() and not args.overwrite:
        print(f"error: {target} exists; pass --overwrite to replace it", file=sys.stderr)
        return 1
    cfg = TrainingConfig.from_dict(yaml.safe_load((args.run / "training_config.yaml").read_text()))
    summary = json.loads((args.run / "training_summary.json").read_text())
    progress = Progress()
    progress.load_state_dict(summary)
    model = SwinIRForImageRestoration.from_pretrained(args.run).eval()
    benches = [b for b in benchmarks(model) if not args.benchmarks or b[0] in args.benchmarks]
    if not benches:
        print(f"error: no benchmark among {args.benchmarks}", file=sys.stderr)
        return 1
    results = score(model, args.shared / "testsets", benches)

    # float16 storage halves the package size; keep it only if no benchmark moves.
    half = SwinIRForImageRestoration.from_pretrained(args.run).eval().half()
    with tempfile.TemporaryDirectory() as tmp:
        half.save_pretrained(tmp)
        restored = SwinIRForImageRestoration.from_pretrained(tmp).eval().float()
    half_results = score(restored, args.shared / "testsets", benches[:1])
    drift = max(abs(v["model"]["psnr"] - results[k]["model"]["psnr"]) for k, v in half_results.items())
    stored = half if drift <= FP16_TOLERANCE_DB else model
    print(f"float16 storage changes PSNR by {drift:.4f} dB on {benches[0][0]} → stored as {stored.dtype}")

    y = "_y" if model.config.upscale > 1 else ""
    measured = {k: {"psnr": v["model"][f"psnr{y}"], "ssim": v["model"][f"ssim{y}"]} for k, v in results.items()}
    protocol = load_catalog().protocols["lightweight_sr" if y else "color_dn"]
    card = training_card(
        cfg,
        model,
        progress,
        summary.get("baseline_psnr"),
        None,
        f"swinir_hf/defaults/{args.name}",
        measured_results=measured,
        protocol=f"{protocol}; measured with `swinir_hf.evaluation.benchmark` in float32, stored as {stored.dtype} "
        f"(moves {benches[0][0]} by {drift:.4f} dB)",
    )
    # The paper's figures are for its full-size, fully trained models: a comparison in the text, not model-index
    # entries (which would claim them for these weights).
    baseline = "bicubic" if y else "noisy input"
    paper = paper_figures(model)
    rows = [
        f"| benchmark | {baseline} | this model | paper (SwinIR-{'S' if y else 'M'}, full training) |",
        "|---|--:|--:|--:|",
    ]
    for label, v in results.items():
        ref = paper.get(label, {}).get("psnr")
        rows.append(
            f"| {label} | {v['baseline'][f'psnr{y}']:.2f} | {v['model'][f'psnr{y}']:.2f} | "
            + (f"{ref:.2f} |" if ref else "– |")
        )
    comparison = "PSNR (dB) next to the trivial baseline and the paper:\n\n" + "\n".join(rows)
    intro, lead = "\nTrained with `swinir_hf.train`", f"{args.compute}\n\n" if args.compute else ""
    card = card.replace(intro, f"\n{lead}{comparison}\n{intro}", 1)
    staging = Path(tempfile.mkdtemp(prefix=f"{args.name}-", dir=DEFAULTS_DIR.parent))
    try:
        save_model_folder(staging, stored, card)
        (staging / "results.json").write_text(json.dumps({"stored_dtype": str(stored.dtype), **results}, indent=1))
        if target.exists():
            shutil.rmtree(target)
        DEFAULTS_DIR.mkdir(exist_ok=True)
        for path in (staging, *staging.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)  # mkdtemp / save_pretrained make them private
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

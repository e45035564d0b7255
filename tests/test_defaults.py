"""The bundled default models load offline and really restore images better than the trivial baseline."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from huggingface_hub import ModelCard
from PIL import Image
from safetensors.torch import load_file

from swinir_hf.checkpoints.card_metadata import METRICS, eval_results
from swinir_hf.checkpoints.measured_results import paper_figures, read_results
from swinir_hf.cli import main
from swinir_hf.degradations.synthetic import add_gaussian_noise, imresize
from swinir_hf.evaluation.benchmark import evaluate
from swinir_hf.evaluation.metrics import psnr
from swinir_hf.inference.restoration import restore
from swinir_hf.loading import DEFAULT_MODELS, DEFAULTS_DIR, load_default, load_model
from swinir_hf.training.cli import parse_command_line


@pytest.mark.parametrize("name", sorted(DEFAULT_MODELS))
def test_bundled_model_loads_as_float32_with_its_card(name):
    model = load_default(name)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert not model.training
    # `swinir-hf models` gives its size (it called SwinIR-S "small SwinIR", as the 0.3 M models)
    assert f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M" in DEFAULT_MODELS[name]
    card = ModelCard.load(DEFAULTS_DIR / name / "README.md")
    assert "Trained with `swinir_hf.train`" in card.text and "swinir-hf eval" in card.text
    assert card.data.pipeline_tag == "image-to-image" and "swinir-hf-trained" in card.data.tags
    results = json.loads((DEFAULTS_DIR / name / "results.json").read_text())
    training = results.pop("training")
    del results["stored_dtype"]
    for label, figures in results.items():
        assert figures["model"]["psnr"] > figures["baseline"]["psnr"], label
    # The record of what the weights cost agrees with the card's recipe and title.
    recipe = f"{training['steps']} of {training['max_steps']} steps, batch {training['batch_size']}"
    assert f"({training['steps']} steps)" in card.text and recipe in card.text
    assert f"{training['patch_size']}×{training['patch_size']} input patches" in card.text
    assert all(f"{source}" in card.text for source in training["data"]) and training["compute"]
    if training["launches"]:  # the trainer's record: launches one after the other, ending at the bundled step
        steps = [(launch["start_step"], launch["end_step"]) for launch in training["launches"]]
        assert steps[0][0] == 0 and steps[-1][1] == training["steps"]
        assert all(a[1] == b[0] for a, b in zip(steps, steps[1:], strict=False))
        assert training["training_seconds"] == pytest.approx(sum(c["seconds"] for c in training["launches"]))
    # The card's model-index holds exactly the measured figures the paper reports (Y channel for super-resolution;
    # PSNR-B too for JPEG), as `--rescore` writes them, none of the paper's.
    expected = {
        (label, METRICS[key][0]): round(value, 4)
        for label, figures in results.items()
        for key, value in paper_figures(figures["model"], model.config.upscale).items()
    }
    assert {(r.dataset_name, r.metric_type): r.metric_value for r in card.data.eval_results} == expected
    assert ("psnr-b" in {r.metric_type for r in card.data.eval_results}) == (model.config.task == "color_jpeg_car")
    # Its license is the project's choice, and its text names the terms of the data it was trained on.
    assert card.data.license == "apache-2.0" and "## License" in card.text
    assert "DIV2K is released for academic research only" in card.text and "BSDS500" in card.text.split("## License")[1]
    assert all(r.source_url is None for r in card.data.eval_results)
    # Its header is the one a card is written with now (`card_metadata`): the channel and unit of each figure, the
    # benchmark as the dataset type and its level as the config, the paper's arXiv tag.
    assert card.data.eval_results == eval_results(model.config, {}, read_results(_model_index_figures(card)))
    assert "arxiv:2108.10257" in card.data.tags
    assert load_model(name).state_dict().keys() == model.state_dict().keys()
    # Its usage loads it from the package wherever the user is (not "swinir_hf/defaults/NAME", relative to a clone).
    assert f"--model {name} " in card.text and f'str(DEFAULTS_DIR / "{name}")' in card.text
    assert "swinir_hf/defaults" not in card.text


def _model_index_figures(card: ModelCard) -> dict[str, dict[str, float]]:
    """benchmark → {metric key: value} of a card's model-index, keyed as results.json and `eval_results` key them."""
    key = {kind: k for k, (kind, *_) in METRICS.items()}
    figures: dict[str, dict[str, float]] = {}
    for r in card.data.eval_results:
        figures.setdefault(r.dataset_name, {})[key[r.metric_type]] = r.metric_value
    return figures


def test_a_bundled_cards_pipeline_snippet_runs_as_written(tmp_path, monkeypatch):
    card = ModelCard.load(DEFAULTS_DIR / "sr-x2" / "README.md").text
    snippet = card.split("### Pipeline\n\n```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)  # anywhere, not the repository
    Image.new("RGB", (20, 16), (10, 200, 30)).save("input.png")
    Image.new("RGB", (20, 16), (10, 200, 30)).save("large.png")  # its tiled call's input
    exec(snippet, {})
    assert Image.open("restored.png").size == (40, 32)


@pytest.mark.parametrize("name", ["sr-x4", "denoise-color"])
def test_a_bundled_cards_fine_tuning_snippet_runs_as_written(name, monkeypatch):
    # transformers loads in config.json's dtype by default: float16 storage must not give a float16 model, whose
    # first Adam step turns the weights to NaN.
    card = ModelCard.load(DEFAULTS_DIR / name / "README.md").text
    snippet = card.split("### Fine-tuning\n", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    scale = load_default(name).config.upscale
    torch.manual_seed(0)
    loader = [(torch.rand(2, 3, 12, 12), torch.rand(2, 3, 12 * scale, 12 * scale)) for _ in range(3)]
    namespace = {"loader": loader}
    exec(snippet, namespace)
    model, loss = namespace["model"], namespace["loss"]
    assert torch.isfinite(loss) and all(torch.isfinite(p).all() for p in model.parameters())
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    stored = load_file(DEFAULTS_DIR / name / "model.safetensors")
    assert {v.dtype for v in stored.values()} == {torch.float16}  # storage stays half the size


def test_unknown_bundled_name():
    with pytest.raises(ValueError, match="unknown bundled model 'sr-x3'"):
        load_default("sr-x3")


@pytest.mark.parametrize(("name", "scale"), [("sr-x4", 4), ("sr-x2", 2)])
def test_super_resolution_beats_bicubic_on_a_real_image(name, scale, shared):
    hr = np.asarray(Image.open(shared / "testsets/Set5/HR/butterfly.png").convert("RGB"))[:128, :128]
    lr = imresize(hr, 1 / scale)
    model = load_default(name)
    assert model.config.upscale == scale
    sr = restore(model, lr, tile=None)
    bicubic = imresize(lr, scale)
    ours, baseline = (psnr(x, hr, crop_border=scale, test_y_channel=True) for x in (sr, bicubic))
    assert ours > baseline + 0.5


@pytest.fixture(scope="module")
def set5_eval(shared):
    """`swinir-hf eval --model NAME --dataset Set5 [OPTIONS]`'s result for a bundled model, each measured once in this
    module (two tests score real-sr-x4 through the real-world degradation: seconds each); the tests only read them."""
    done = {}

    def measured(name: str, **options):
        key = (name, tuple(sorted(options.items())))
        if key not in done:
            set5 = shared / "testsets" / "Set5"
            done[key] = evaluate(load_default(name), set5, model_name=name, progress=False, **options)
        return done[key]

    return measured


@pytest.mark.parametrize(
    ("name", "label", "options"),
    [("sr-x4", "Set5", {"scale": 4}), ("sr-x2", "Set5", {"scale": 2}), ("real-sr-x4", "Set5 real ×4", {"real": True})],
)
def test_a_bundled_models_recorded_set5_figure_is_what_eval_measures_now(name, label, options, set5_eval):
    """results.json (and so the README, the card and docs/evaluation.md) holds the figure `swinir-hf eval --model
    NAME --dataset Set5` prints for the float16 weights as they ship: measured, not copied from a training log."""
    recorded = json.loads((DEFAULTS_DIR / name / "results.json").read_text())[label]
    measured = set5_eval(name, **options)
    for metric in ("psnr_y", "ssim_y"):
        assert measured.mean(name)[metric] == pytest.approx(recorded["model"][metric], abs=1e-4), metric
        assert measured.mean("bicubic")[metric] == pytest.approx(recorded["baseline"][metric], abs=1e-4), metric


def test_denoiser_is_blind_over_sigma(shared):
    first = sorted((shared / "testsets/CBSD68/HR").iterdir())[0]
    clean = np.asarray(Image.open(first).convert("RGB"), dtype=np.float32)[:96, :96] / 255.0
    model = load_default("denoise-color")
    for sigma in (15, 50):
        noisy = np.clip(add_gaussian_noise(clean, sigma, seed=0), 0, 1).astype(np.float32)
        out = restore(model, noisy, tile=None)
        assert psnr(out, clean) - psnr(noisy, clean) > 3.0, sigma


def test_jpeg_model_is_blind_over_quality(shared):
    """One model for JPEG quality 10-90: it beats the JPEG input on a LIVE1 crop at a low and a high quality."""
    from swinir_hf.degradations.synthetic import jpeg_compress

    first = sorted((shared / "testsets/LIVE1/HR").iterdir())[0]
    clean = np.asarray(Image.open(first).convert("RGB"))[:96, :96]
    model = load_default("jpeg-color")
    assert (model.config.task, model.config.upscale) == ("color_jpeg_car", 1)
    for quality in (10, 40):
        compressed = jpeg_compress(clean, quality)
        out = restore(model, compressed, tile=None)
        assert psnr(out, clean) - psnr(compressed, clean) > 0.3, quality


def test_real_world_model_beats_bicubic_on_degraded_photos(set5_eval):
    """`real-sr-x4` on Set5 through the seeded BSRGAN-style degradation (`swinir-hf eval --real`): better than bicubic
    and than `sr-x4`, which was trained on clean bicubic inputs and sharpens the noise along with the picture."""
    model = load_default("real-sr-x4")
    assert (model.config.task, model.config.upscale, model.config.upsampler) == ("real_sr", 4, "nearest+conv")
    real, bicubic = set5_eval("real-sr-x4", real=True), set5_eval("sr-x4", real=True)
    assert real.names == bicubic.names and real.scores["bicubic"] == bicubic.scores["bicubic"]  # the same inputs
    ours, baseline, sr = (r.mean(m)["psnr_y"] for r, m in ((real, "real-sr-x4"), (real, "bicubic"), (bicubic, "sr-x4")))
    assert ours > baseline + 0.2 and ours > sr + 0.5, (ours, baseline, sr)  # measured: +0.29 and +0.81 dB


def test_restore_cli_uses_the_bundled_x4_model_by_default(tmp_path, shared):
    src = tmp_path / "in.png"
    Image.open(shared / "testsets/Set5/HR/bird.png").convert("RGB").crop((0, 0, 40, 30)).save(src)
    assert main(["restore", str(src), "-o", str(tmp_path / "out"), "--no-progress"]) == 0
    (out,) = (tmp_path / "out").iterdir()
    assert Image.open(out).size == (160, 120)


def _small_testsets(shared: Path, tmp_path: Path, *small: str) -> Path:
    """A ../shared (links into `shared`) whose test sets named in `small` hold 64×64 crops of two of their HR images
    (their LR made by the evaluation): for the tests of what bundle_default.py writes, where those sets' figures are
    not checked (scoring the whole sets took most of their minute)."""
    testsets = tmp_path / "shared" / "testsets"
    testsets.mkdir(parents=True)
    for source in (shared / "testsets").iterdir():
        if source.name not in small:
            (testsets / source.name).symlink_to(source)
            continue
        (testsets / source.name / "HR").mkdir(parents=True)
        for image in sorted((source / "HR").iterdir())[:2]:
            with Image.open(image) as full:
                full.crop((0, 0, 64, 64)).save(testsets / source.name / "HR" / image.name)
    return testsets.parent


def _bundle_module(monkeypatch):
    script = Path(__file__).resolve().parents[1] / "hub" / "bundle_default.py"
    spec = importlib.util.spec_from_file_location("bundle_default", script)
    bundle = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bundle_default", bundle)  # its dataclass looks its module up there
    monkeypatch.syspath_prepend(str(script.parent))  # it imports bundled_cards from beside it, as when run
    spec.loader.exec_module(bundle)
    return bundle


def test_bundle_default_checks_the_run_the_test_sets_and_the_name_before_scoring(tmp_path, capsys, monkeypatch):
    """hub/bundle_default.py: one line, before any scoring and without touching --defaults-dir, for a folder that is
    not a finished run or a checkpoint of one, a --shared without testsets/, and a run whose model is not the named
    one's task."""
    bundle = _bundle_module(monkeypatch)
    run = tmp_path / "run"
    shutil.copytree(DEFAULTS_DIR / "sr-x4", run)
    (tmp_path / "shared" / "testsets").mkdir(parents=True)
    common = ["--defaults-dir", str(tmp_path / "defaults"), "--shared", str(tmp_path / "shared")]
    cases = [
        ([str(run), "sr-x4"], f"error: {run} is not a finished swinir_hf.train run (no {run}/training_config.yaml)"),
        ([str(run), "sr-x4", "--shared", str(tmp_path)], f"error: no testsets/ in {tmp_path}: pass --shared FOLDER"),
        ([str(run), "denoise-color"], f"error: {run} holds a lightweight_sr x4 model, not a denoise-color one"),
    ]
    for i, (args, message) in enumerate(cases):
        if i == 1:
            (run / "training_config.yaml").write_text("{}")
            (run / "training_summary.json").write_text("{}")
        assert bundle.main([*common, *args]) == 1
        assert capsys.readouterr().err.strip() == message
    step = tmp_path / "run2" / "checkpoints" / "step-00000658"  # an unfinished run's checkpoint
    shutil.copytree(DEFAULTS_DIR / "sr-x4", step / "model")
    launch = {"device": "NVIDIA H200", "processes": 1, "start_step": 0, "end_step": 658, "seconds": 75.0}
    (step / "progress.json").write_text(json.dumps({"step": 658, "history": [], "losses": [], "compute": [launch]}))
    message = f"error: {step} is not a checkpoint of a swinir_hf.train run (no {tmp_path}/run2/training_config.yaml)"
    assert bundle.main([*common, str(step), "sr-x4"]) == 1 and capsys.readouterr().err.strip() == message
    assert not (tmp_path / "defaults").exists()
    for name in DEFAULT_MODELS:  # every bundled model passes its own name's check
        config = json.loads((DEFAULTS_DIR / name / "config.json").read_text())
        tasks, scale = bundle.NAME_TASKS[name]
        assert config["task"] in tasks and config["upscale"] == scale


def test_bundle_defaults_messages_show_paths_on_their_line(tmp_path, capsys, monkeypatch):
    """hub/bundle_default.py's refusals and its report name paths as messages show them (`shown_name`): a run,
    --shared or --defaults-dir folder whose name holds a newline broke the line (the run's check, the --rescore and
    --cards-only refusals, the card rewritten)."""
    bundle = _bundle_module(monkeypatch)
    (run := tmp_path / "new\nrun").mkdir()
    shared, defaults = tmp_path / "shared\tsets", tmp_path / "new\nmodels"
    shared.mkdir()
    shown = tmp_path  # no control character in it
    common = [str(run), "sr-x4", "--defaults-dir", str(defaults), "--shared", str(shared)]
    assert bundle.main(common) == 1
    message = (
        f"error: {shown}/new\\nrun is not a finished swinir_hf.train run (no {shown}/new\\nrun/training_config.yaml)"
    )
    assert capsys.readouterr().err == message + "\n"
    shutil.copytree(DEFAULTS_DIR / "sr-x4", run, dirs_exist_ok=True)
    (run / "training_config.yaml").write_text("{}")
    (run / "training_summary.json").write_text("{}")
    assert bundle.main(common) == 1
    assert capsys.readouterr().err == f"error: no testsets/ in {shown}/shared\\tsets: pass --shared FOLDER\n"
    (shared / "testsets").mkdir()
    assert bundle.main([*common[:1], "denoise-color", *common[2:]]) == 1
    held = "holds a lightweight_sr x4 model, not a denoise-color one"
    assert capsys.readouterr().err == f"error: {shown}/new\\nrun {held}\n"
    for flag in ("--rescore", "--cards-only"):
        with pytest.raises(SystemExit):
            bundle.main(["sr-x2", flag, "--defaults-dir", str(defaults)])
        assert f"a folder in {shown}/new\\nmodels)" in capsys.readouterr().err.splitlines()[-1]
    shutil.copytree(DEFAULTS_DIR / "sr-x2", defaults / "sr-x2")
    assert bundle.main(["sr-x2", "--cards-only", "--defaults-dir", str(defaults)]) == 0
    assert capsys.readouterr().out == f"unchanged: {shown}/new\\nmodels/sr-x2/README.md\n"


def test_a_killed_bundlings_staging_folder_is_removed_by_the_next_bundling(tmp_path, monkeypatch):
    """hub/bundle_default.py killed (kill -9) while writing leaves its staging folder, a whole model folder, beside
    the bundled models: the next bundling into that folder removes it (and keeps a running one's)."""
    from swinir_hf.storage.atomic_writes import process_tag

    bundle = _bundle_module(monkeypatch)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=60)
    host = process_tag().rsplit("-", 1)[0]
    killed, running = f".swinir-{host}-{dead.pid}-abcd1234", f".swinir-{host}-{os.getpid()}-efgh5678"
    for name in (killed, running):
        shutil.copytree(DEFAULTS_DIR / "sr-x2", tmp_path / name)
    bundle.write_folder(tmp_path / "sr-x2", load_default("sr-x2"), "card", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == [running, "sr-x2"]
    assert (tmp_path / "sr-x2" / "model.safetensors").is_file()


def test_a_bundling_killed_while_replacing_a_bundled_model_leaves_one_of_them_whole(tmp_path, monkeypatch):
    """hub/bundle_default.py killed (kill -9) while the earlier bundled model is removed: the folder holds the earlier
    model or the new one whole, never the part of one that removing it in place left (the demo lists it)."""

    class Killed(BaseException):  # nothing after the kill runs
        pass

    bundle = _bundle_module(monkeypatch)
    shutil.copytree(DEFAULTS_DIR / "sr-x2", tmp_path / "sr-x2")
    files = sorted(p.name for p in (tmp_path / "sr-x2").iterdir())
    rmtree = shutil.rmtree

    def killed_midway(path, *args, **kwargs):
        if Path(path).is_dir() and sorted(p.name for p in Path(path).iterdir()) == files:  # the earlier model
            next(Path(path).glob("*.safetensors")).unlink()
            raise Killed
        rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", killed_midway)
    with pytest.raises(Killed):
        bundle.write_folder(tmp_path / "sr-x2", load_default("sr-x2"), "card", {})
    monkeypatch.setattr(shutil, "rmtree", rmtree)
    assert (tmp_path / "sr-x2" / "model.safetensors").is_file() and (tmp_path / "sr-x2" / "results.json").is_file()


def test_bundle_default_bundles_a_checkpoint_only_over_a_model_it_beats(tmp_path, capsys, monkeypatch, shared):
    """An unfinished run's checkpoint (its EMA model) is bundled like a finished run, its card saying how far it got;
    it replaces a bundled model only if it scores higher on the first benchmark, or with --allow-worse."""
    bundle = _bundle_module(monkeypatch)
    step = tmp_path / "run" / "checkpoints" / "step-00000658"
    shutil.copytree(DEFAULTS_DIR / "sr-x4", step / "model")
    launch = {"device": "NVIDIA H200", "processes": 1, "start_step": 0, "end_step": 658, "seconds": 75.0}
    (step / "progress.json").write_text(json.dumps({"step": 658, "history": [], "losses": [], "compute": [launch]}))
    cfg, _ = parse_command_line(["--config", "gpu_sr_x4"])
    (tmp_path / "run" / "training_config.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
    bundled = tmp_path / "defaults" / "sr-x4"
    shutil.copytree(DEFAULTS_DIR / "sr-x4", bundled)
    results = json.loads((bundled / "results.json").read_text())
    weights = (bundled / "model.safetensors").read_bytes()
    shared = _small_testsets(shared, tmp_path, "Set5")
    args = [str(step), "sr-x4", "--defaults-dir", str(bundled.parent), "--shared", str(shared), "--benchmarks", "Set5"]
    args += ["--overwrite"]

    results["Set5"]["model"]["psnr_y"] = 99.0  # a bundled model this one cannot beat
    (bundled / "results.json").write_text(json.dumps(results))
    assert bundle.main(args) == 1
    scored = capsys.readouterr()
    new = float(scored.out.split("model {", 1)[1].split("'psnr_y': ", 1)[1].split(",", 1)[0])
    assert scored.err.strip().splitlines()[-1] == (  # after transformers' loading bar
        f"error: this model scores {new:.2f} dB on Set5, the bundled sr-x4 99.00 dB: {bundled} kept "
        "(--allow-worse bundles it anyway)"
    )
    assert (bundled / "model.safetensors").read_bytes() == weights
    assert bundle.main([*args, "--allow-worse"]) == 0
    assert json.loads((bundled / "results.json").read_text())["Set5"]["model"]["psnr_y"] == pytest.approx(new)

    # a model no better than bicubic (a broken run, another task's) is refused, even where none is bundled yet
    scored, set5 = bundle.score, json.loads((bundled / "results.json").read_text())["Set5"]
    monkeypatch.setattr(bundle, "score", lambda *a: {"Set5": {**set5, "model": set5["baseline"]}})
    assert bundle.main([*args, "--defaults-dir", str(tmp_path / "none")]) == 1
    base = set5["baseline"]["psnr_y"]
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"error: this model scores {base:.2f} dB on Set5, the trivial baseline {base:.2f} dB: nothing written "
        "(--allow-worse bundles it anyway)"
    )
    assert not (tmp_path / "none").exists()
    monkeypatch.setattr(bundle, "score", scored)

    results["Set5"]["model"]["psnr_y"] = new - 0.01  # one it beats
    (bundled / "results.json").write_text(json.dumps(results))
    assert bundle.main(args) == 0
    card = (bundled / "README.md").read_text()
    assert f"658 of {cfg.train.max_steps} steps, batch 32" in card
    assert (
        "- compute: 1.2 min of training wall time, validation and checkpoints included "
        "(steps 0-658 on NVIDIA H200, 75 s)" in card
    )
    training = json.loads((bundled / "results.json").read_text())["training"]
    assert training == {
        "steps": 658,
        "max_steps": cfg.train.max_steps,
        "batch_size": 32,
        "patch_size": 64,
        "precision": "bf16",
        "data": ["DIV2K_train_HR_crops128", "BSDS500_train", "BSDS500_test"],
        "training_seconds": 75.0,
        "launches": [launch],
        "compute": None,
    }
    stored, source = load_model(str(bundled)).state_dict(), load_model(str(step / "model")).state_dict()
    assert all(torch.equal(stored[k], v) for k, v in source.items())  # the EMA weights (float16 in, float16 out)


def test_rescore_rewrites_a_bundled_models_figures_as_it_ships(tmp_path, capsys, monkeypatch, shared):
    """`bundle_default.py NAME --rescore`: the figures of a bundled model re-measured from its shipped weights (those
    `swinir-hf eval` measures: on 64×64 crops here, the whole Set5's being checked against results.json by
    test_a_bundled_models_recorded_set5_figure_is_what_eval_measures_now), in results.json and the card; the weights
    and the training record stay. A card whose table does not hold results.json's figures is refused, untouched."""
    bundle = _bundle_module(monkeypatch)
    bundled = tmp_path / "sr-x2"
    shutil.copytree(DEFAULTS_DIR / "sr-x2", bundled)
    before = json.loads((bundled / "results.json").read_text())
    stale = json.loads(json.dumps(before))
    stale["Set5"]["model"]["psnr_y"] -= 0.5  # as a change to the evaluation code would leave it, card included
    old_row = f"| Set5 | {before['Set5']['baseline']['psnr_y']:.2f} | {before['Set5']['model']['psnr_y']:.2f} |"
    card = (bundled / "README.md").read_text()
    assert old_row in card
    stale_row = old_row.replace(
        f"{before['Set5']['model']['psnr_y']:.2f} |", f"{stale['Set5']['model']['psnr_y']:.2f} |"
    )
    (bundled / "README.md").write_text(card.replace(old_row, stale_row))
    (bundled / "results.json").write_text(json.dumps(stale))
    weights = (bundled / "model.safetensors").read_bytes()
    shared = _small_testsets(shared, tmp_path, "Set5", "Set14")
    args = ["sr-x2", "--rescore", "--defaults-dir", str(tmp_path), "--shared", str(shared)]
    assert bundle.main(args) == 0
    after = json.loads((bundled / "results.json").read_text())
    set5 = evaluate(load_default("sr-x2"), shared / "testsets/Set5", scale=2, model_name="sr-x2", progress=False)
    assert after["Set5"] == {
        "baseline": pytest.approx(set5.mean("bicubic"), abs=1e-6),
        "model": pytest.approx(set5.mean("sr-x2"), abs=1e-6),
    }
    new_row = f"| Set5 | {after['Set5']['baseline']['psnr_y']:.2f} | {after['Set5']['model']['psnr_y']:.2f} |"
    assert after["training"] == before["training"] and after["stored_dtype"] == before["stored_dtype"]
    assert (bundled / "model.safetensors").read_bytes() == weights  # float16 in, float16 out
    card = ModelCard.load(bundled / "README.md")
    assert new_row in card.text and stale_row not in card.text
    assert {(r.dataset_name, r.metric_type): r.metric_value for r in card.data.eval_results}[("Set5", "psnr")] == (
        round(after["Set5"]["model"]["psnr_y"], 4)
    )
    # results.json and the card disagree (a hand edit): refused, nothing rewritten
    after["Set14"]["model"]["psnr_y"] += 1.0
    (bundled / "results.json").write_text(json.dumps(after))
    with pytest.raises(SystemExit, match="has no comparison table of results.json's figures to update"):
        bundle.main(args)
    assert json.loads((bundled / "results.json").read_text()) == after


def test_cards_only_rewrites_a_bundled_card_from_its_results_and_nothing_else(tmp_path, capsys, monkeypatch):
    """`bundle_default.py NAME|all --cards-only`: the card written again from results.json's figures and its own
    protocol (a card from older card code gets the current usage, Results and model-index), measuring nothing; the
    weights, config and results.json are left byte for byte. A card already current is left as it is."""
    import hashlib

    bundle = _bundle_module(monkeypatch)
    bundled = tmp_path / "sr-x2"
    shutil.copytree(DEFAULTS_DIR / "sr-x2", bundled)
    card = (bundled / "README.md").read_text(encoding="utf-8")
    snippet = 'restore("large.png", tile=512).save("restored.png")'
    assert snippet in card and card.count("      value: 35.742\n") == 1  # Set5's PSNR in the model-index
    stale = card.replace(snippet, "restore(old snippet)").replace("      value: 35.742\n", "      value: 30.0\n")
    (bundled / "README.md").write_text(stale, encoding="utf-8")

    def digests() -> dict[str, str]:
        files = sorted(p for p in bundled.iterdir() if p.name != "README.md")
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

    before = digests()
    assert bundle.main(["sr-x2", "--cards-only", "--defaults-dir", str(tmp_path)]) == 0
    assert (bundled / "README.md").read_text(encoding="utf-8") == card
    assert digests() == before and set(before) == {
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "results.json",
    }
    assert (bundled / "README.md").stat().st_mode & 0o777 == 0o644
    capsys.readouterr()
    assert bundle.main(["all", "--cards-only", "--defaults-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"unchanged: {bundled / 'README.md'}\n"
    with pytest.raises(SystemExit):  # a run is bundled, a bundled model's card rewritten: not both
        bundle.main([str(tmp_path), "sr-x2", "--cards-only", "--defaults-dir", str(tmp_path)])


# Where a doc gives a bundled model's size: (file, a pattern whose group `n` is the count, the models it counts; a
# range "a-b M" spans several). A re-bundled model (a GPU-trained one, say) fails here until its docs say its size.
SIZE_CLAIMS = [
    ("README.md", r"`sr-x4` is the paper's SwinIR-S \((?P<n>[\d.]+ M) parameters", ["sr-x4"]),
    (
        "README.md",
        r"The others are small models \(≈ (?P<n>[\d.]+-[\d.]+ M) parameters",
        ["sr-x2", "denoise-color", "real-sr-x4", "jpeg-color"],
    ),
    (
        "docs/evaluation.md",
        r"`sr-x4` \(since [^)]*\) is the paper's SwinIR-S \([^)]*?(?P<n>[\d,]+) parameters",
        ["sr-x4"],
    ),
    ("docs/training.md", r"This is the paper's SwinIR-S \((?P<n>[\d,]+) parameters", ["sr-x4"]),
]


@pytest.mark.parametrize(("doc", "pattern", "names"), SIZE_CLAIMS)
def test_the_docs_give_the_bundled_models_real_parameter_counts(doc, pattern, names):
    from swinir_hf.checkpoints.bundled import millions, parameter_count

    text = " ".join((Path(__file__).resolve().parents[1] / doc).read_text().split())  # a claim may span lines
    found = [m["n"] for m in re.finditer(pattern, text)]
    assert len(found) == 1, f"{doc}: {pattern!r} found {len(found)} times"
    counts = sorted(parameter_count(name) for name in names)
    if "-" in found[0]:
        expected = f"{counts[0] / 1e6:.2f}-{millions(counts[-1])}"
    elif found[0].endswith("M"):
        expected = millions(counts[0])
    else:
        expected = f"{counts[0]:,}"
    assert found[0] == expected, (
        f"{doc} gives {', '.join(names)} {found[0]} parameters; the bundled weights hold {expected}"
    )
    assert parameter_count(names[0]) == load_default(names[0]).num_parameters()


def test_bundle_default_refuses_an_existing_bundled_model_at_once_naming_it_safely(tmp_path):
    """`RUN NAME` over a bundled model without --overwrite: refused before torch loads (it took ~7 s of imports),
    the folder's name shown as a message shows paths (`shown_name`: a newline escaped, it broke the line)."""
    defaults = tmp_path / "new\nmodels"
    (defaults / "sr-x2").mkdir(parents=True)
    script = Path(__file__).resolve().parents[1] / "hub" / "bundle_default.py"
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{str(script)!r}, 'runs/x', 'sr-x2', '--defaults-dir', {str(defaults)!r}]\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit as stop:\n    print(stop.code, 'torch' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(script.parents[1]), str(script.parent)])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.stdout == "1 False\n"
    assert done.stderr == f"error: {tmp_path}/new\\nmodels/sr-x2 exists; pass --overwrite to replace it\n"

"""Evaluation protocol: published bicubic baselines, the authors' noisy-input figures, the CLI table, bad inputs."""

from __future__ import annotations

import errno
import functools
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import swinir_hf
from swinir_hf import SwinIRForImageRestoration, progress_lines
from swinir_hf.checkpoints.fingerprint import model_fingerprint
from swinir_hf.cli import main
from swinir_hf.degradations.setting import Degradation
from swinir_hf.evaluation import benchmark, metrics
from swinir_hf.evaluation.benchmark import (
    baseline,
    degrade,
    evaluate,
    evaluate_models,
    score,
)
from swinir_hf.evaluation.benchmark_setting import resolve_degradation
from swinir_hf.evaluation.results import combine_shares
from swinir_hf.evaluation.saved_outputs import saved_as_one
from swinir_hf.evaluation.testsets import load_samples

# Published bicubic PSNR-Y / SSIM-Y (border = scale), and the authors' script's Set14 (bridge read as RGB).
BICUBIC = {
    ("Set5", "native"): {2: (33.66, 0.9299), 3: (30.39, 0.8682), 4: (28.42, 0.8104)},
    ("Set14", "native"): {2: (30.24, 0.8688), 3: (27.55, 0.7742), 4: (26.00, 0.7027)},
    ("Set14", "rgb"): {2: (30.33, None), 3: (27.63, None), 4: (26.09, None)},
}


@pytest.mark.parametrize("dataset, convention", list(BICUBIC))
def test_bicubic_baselines(shared, dataset, convention):
    _, samples = load_samples(shared / "testsets" / dataset, grey_convention=convention)
    for scale, (psnr_y, ssim_y) in BICUBIC[dataset, convention].items():
        d = Degradation("bicubic", scale)
        pairs = [(baseline(lq, d), gt) for gt, lq in (degrade(s.hr, d) for s in samples)]
        psnrs = [metrics.psnr(out, gt, d.border, test_y_channel=True) for out, gt in pairs]
        assert np.mean(psnrs) == pytest.approx(psnr_y, abs=0.02), scale
        if ssim_y is not None:
            ssims = [metrics.ssim(out, gt, d.border, test_y_channel=True) for out, gt in pairs]
            assert np.mean(ssims) == pytest.approx(ssim_y, abs=0.001), scale


def test_identity_denoising_reproduces_noisy_input(shared):
    """The identity on Set12 σ 25 scores what the authors' script gives for the noisy input (metric fixtures)."""
    result = evaluate(None, shared / "testsets/Set12", noise=25, progress=False)
    assert result.methods == ["noisy input", "identity"]
    assert result.scores["noisy input"] == result.scores["identity"]
    by_name = dict(zip(result.names, result.scores["identity"], strict=True))
    cases = json.loads((shared / "fixtures/metrics/cases.json").read_text())
    dn = [c for c in cases if c["name"].startswith("dn_gray25")]
    assert len(dn) == 4
    for case in dn:
        got = by_name[case["ground_truth"].split("/")[-1].removesuffix(".png")]
        assert got["psnr"] == pytest.approx(case["psnr"], abs=0.005)
        assert got["ssim"] == pytest.approx(case["ssim"], abs=0.0005)
    assert result.mean("identity")["psnr"] == pytest.approx(20.37, abs=0.01)


@pytest.fixture
def small_set(tiny_config, shared, tmp_path):
    """Three HR crops (two RGB, one grey) of uneven sizes, and a tiny ×2 model folder."""
    hr = tmp_path / "Mini" / "HR"
    hr.mkdir(parents=True)
    Image.open(shared / "testsets/Set5/HR/baby.png").crop((100, 100, 149, 140)).save(hr / "a.png")
    Image.open(shared / "testsets/Set5/HR/bird.png").crop((50, 60, 90, 104)).save(hr / "b.png")
    Image.open(shared / "testsets/Set14/HR/bridge.png").crop((0, 0, 36, 36)).save(hr / "c.png")
    model_dir = tmp_path / "tiny_x2"
    SwinIRForImageRestoration(tiny_config(upscale=2)).save_pretrained(model_dir)
    return tmp_path / "Mini", model_dir


def _parse_table(text: str) -> tuple[list[str], list[list[str]]]:
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines() if line.startswith("|")
    ]
    header, rule, body = rows[0], rows[1], rows[2:]
    assert all(set(c) <= set(":-") and c for c in rule)
    assert all(len(r) == len(header) for r in body)
    return header, body


def test_cli_table_and_json(small_set, tmp_path, capsys):
    dataset, model_dir = small_set
    out = tmp_path / "scores.json"
    rc = main(["eval", "--model", str(model_dir), "--dataset", str(dataset), "--verbose", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    # The caption names the unit and the channels: the columns without -Y are RGB (a grey image's own channel).
    assert text.splitlines()[0] == (
        "Mini, bicubic ×2 (3 images, border 2, PSNR in dB, on RGB (or grey) and on Y = ITU-R BT.601, grey images: rgb)"
    )
    header, body = _parse_table(text)
    assert header == ["image", "method", "PSNR", "SSIM", "PSNR-Y", "SSIM-Y"]
    report = json.loads(out.read_text())
    assert report["methods"] == ["bicubic", "tiny_x2"] and report["border"] == 2 and report["scale"] == 2
    assert [r[:2] for r in body] == [
        [n, m] for n in ("a", "b", "c", "mean") for m in ("bicubic", "tiny_x2")
    ]  # baseline row first
    for row in body:
        figures = (
            report["mean"][row[1]]
            if row[0] == "mean"
            else next(i for i in report["images"] if i["name"] == row[0])["scores"][row[1]]
        )
        for col, cell in zip(("psnr", "ssim", "psnr_y", "ssim_y"), row[2:], strict=True):
            assert float(cell) == pytest.approx(figures[col], abs=0.006 if col.startswith("psnr") else 6e-5)
    # Without --verbose: the two mean rows only; an existing --json file is not overwritten.
    rc = main(["eval", "--model", str(model_dir), "--dataset", str(dataset / "HR"), "--json", str(out)])
    assert rc == 1 and "exists" in capsys.readouterr().err
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset / "HR")]) == 0
    _, body = _parse_table(capsys.readouterr().out)
    assert [r[:2] for r in body] == [["mean", "bicubic"], ["mean", "tiny_x2"]]


def test_json_to_standard_output_leaves_it_to_the_figures(small_set, tmp_path, monkeypatch, capsys):
    """`--json -` wrote a file named `-`: the figures go to stdout now, for a program to read, and the table to
    stderr; `--quiet` leaves the table out there, and the figures as they are."""
    dataset, model_dir = small_set
    monkeypatch.chdir(tmp_path)
    argv = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--no-progress", "--json", "-"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["methods"] == ["bicubic", "tiny_x2"] and not Path("-").exists()
    assert err.startswith("Mini, bicubic ×2 (3 images")
    assert [row[:2] for row in _parse_table(err)[1]] == [["mean", "bicubic"], ["mean", "tiny_x2"]]
    assert main([*argv, "--quiet"]) == 0
    quiet_out, quiet_err = capsys.readouterr()
    assert json.loads(quiet_out)["mean"] == json.loads(out)["mean"] and quiet_err == ""
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset), "-q"]) == 0  # the table is the result
    out, err = capsys.readouterr()
    assert out.startswith("Mini, bicubic ×2 (3 images") and err == ""


def _two_sets_with_json(small_set, tmp_path: Path) -> tuple[list[str], Path]:
    """The `swinir-hf eval` command (a subprocess's) scoring two sets, Mini and Other, into --json; that file."""
    dataset, model_dir = small_set
    other = tmp_path / "Other"
    shutil.copytree(dataset / "HR", other)
    out = tmp_path / "scores.json"
    command = [sys.executable, "-m", "swinir_hf.cli", "eval", "--model", str(model_dir), "--no-progress"]
    return [*command, "--dataset", str(dataset), str(other), "--json", str(out)], out


def test_a_reader_gone_ends_the_tables_not_the_evaluation(small_set, tmp_path):
    """`swinir-hf eval ... --json F | head -1`: the tables' reader gone, the sets left are still scored and --json
    written (the run ended at the first table, exit status 0, without the file)."""
    command, out = _two_sets_with_json(small_set, tmp_path)
    run = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    run.stdout.close()  # gone before the first table
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0 and err.decode().strip() == ""
    assert [report["dataset"] for report in json.loads(out.read_text())] == ["Mini", "Other"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full (Linux's) to write to")
def test_tables_lost_to_a_full_disk_fail_the_run_after_the_sets_and_json(small_set, tmp_path):
    """`swinir-hf eval ... --json F > tables.md` on a full disk: every set is still scored and --json written, and
    the run ends with one line and exit status 1 (a traceback at the first table, nothing written)."""
    command, out = _two_sets_with_json(small_set, tmp_path)
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            command, stdout=full, stderr=subprocess.PIPE, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300
        )
    assert (done.returncode, done.stderr.decode()) == (
        1,
        "error: standard output could not be written: No space left on device\n",
    )
    assert [report["dataset"] for report in json.loads(out.read_text())] == ["Mini", "Other"]


def test_a_json_file_another_run_writes_during_the_evaluation_is_kept(small_set, tmp_path, monkeypatch, capsys):
    """The --json check comes before the evaluation; a file written there meanwhile (another eval with the same
    --json) is kept, not replaced, and the run says so; with --overwrite it is replaced."""
    from swinir_hf.evaluation import benchmark

    dataset, model_dir = small_set
    out = tmp_path / "scores.json"
    score = benchmark.evaluate_models

    def another_run_writes_it(*args, **kwargs):
        out.write_text("theirs")
        return score(*args, **kwargs)

    monkeypatch.setattr(benchmark, "evaluate_models", another_run_writes_it)
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset), "--json", str(out)]) == 1
    assert capsys.readouterr().err == (  # alone: no bar in a log (lines, every 30 s), nor a line in this short run
        f"error: {out} was written by another run (or program) since this one started: kept; pass --overwrite to "
        "replace it\n"
    )
    assert out.read_text() == "theirs" and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    args = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--json", str(out), "--overwrite"]
    assert main(args) == 0 and json.loads(out.read_text())["methods"] == ["bicubic", "tiny_x2"]


def test_the_default_grey_convention_is_the_papers(small_set):
    """A grey image among colour ones (Set14's `bridge`) is scored as the authors' script scores it, read as RGB and
    then Y: the paper's figures. On its own grey channel ("native") the same errors count 255/219 times larger."""
    dataset, model_dir = small_set
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    default = evaluate(model, dataset, progress=False)
    rgb = evaluate(model, dataset, grey_convention="rgb", progress=False)
    native = evaluate(model, dataset, grey_convention="native", progress=False)
    assert default.grey_convention == "rgb" and default.scores == rgb.scores
    grey = default.names.index("c")
    gap = rgb.scores["bicubic"][grey]["psnr_y"] - native.scores["bicubic"][grey]["psnr_y"]
    assert gap == pytest.approx(20 * np.log10(255 / 219), abs=0.01)


def test_running_out_of_memory_is_one_line(small_set, monkeypatch, capsys):
    """A set with a huge image ended in numpy's `_ArrayMemoryError` traceback."""
    import swinir_hf.evaluation.benchmark as benchmark

    def out_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 967. MiB for an array with shape (3250, 13000, 3) and data type float64")

    monkeypatch.setattr(benchmark, "degrade", out_of_memory)
    dataset, model_dir = small_set
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset)]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: not enough memory to evaluate {dataset}: Unable to allocate 967. MiB for an array with shape "
        "(3250, 13000, 3) and data type float64"
    )


def test_no_progress_leaves_stderr_empty(small_set, monkeypatch, capsys):
    """`eval` had no way to keep its bars (its own, transformers' "Loading weights", datasets' "Generating ...
    split") out of a log, which `restore --no-progress` has: `--no-progress` leaves only the table, on stdout (and
    a line of how far it got every 30 s: none in a short run)."""
    dataset, model_dir = small_set
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: bars (into a log: lines)
    for source in (str(dataset), f"imagefolder:{dataset / 'HR'}"):
        args = ["eval", "--model", str(model_dir), "--dataset", source]
        assert main(args) == 0
        shown = capsys.readouterr()
        assert "evaluating" in shown.err and "Loading weights" in shown.err
        assert main([*args, "--no-progress"]) == 0
        quiet = capsys.readouterr()
        assert quiet.err == "" and quiet.out.splitlines()[1:] == shown.out.splitlines()[1:]


def test_cli_jpeg_identity(small_set, capsys):
    dataset, _ = small_set
    assert main(["eval", "--model", "identity", "--dataset", str(dataset), "--jpeg", "20", "--verbose"]) == 0
    header, body = _parse_table(capsys.readouterr().out)
    assert header[2:] == ["PSNR", "SSIM", "PSNR-Y", "SSIM-Y", "PSNR-B", "PSNR-B-Y"]
    assert body[0][1] == "JPEG input" and body[0][2:] == body[1][2:]


def test_real_world_setting_is_a_fixed_benchmark(small_set, capsys, tmp_path):
    """`--real`: the BSRGAN-style degradation with a fixed seed per image name, so two runs score the same inputs
    and each image gets its own draw; the baseline is bicubic upscaling of those inputs; the JSON says which
    degradation it was."""
    import zlib

    from swinir_hf.degradations.real_world import real_world_degradation

    dataset, model_dir = small_set
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    d = resolve_degradation(model, real=True)
    assert (d.kind, d.scale, d.task, d.baseline_name) == ("real", 2, "sr", "bicubic")
    hr = np.asarray(Image.open(dataset / "HR" / "a.png"))
    gt, lq = degrade(hr, d, name="a")
    assert np.array_equal(lq, degrade(hr, d, name="a")[1])  # the same input every time
    assert np.array_equal(lq, real_world_degradation(hr, 2, np.random.default_rng((0, zlib.crc32(b"a")))))
    assert not np.array_equal(lq, degrade(hr, d, name="b")[1])  # another image name, another draw
    assert gt.shape == (lq.shape[0] * 2, lq.shape[1] * 2, 3) and not np.array_equal(
        lq, degrade(hr, Degradation("bicubic", 2))[1]
    )
    out = tmp_path / "real.json"
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset), "--real", "--json", str(out)]) == 0
    assert capsys.readouterr().out.startswith("Mini, real ×2 (3 images, border 2")
    report = json.loads(out.read_text())
    assert (report["degradation"], report["scale"], report["methods"]) == ("real", 2, ["bicubic", "tiny_x2"])
    again = evaluate(model, dataset, real=True, progress=False)
    assert report["mean"]["tiny_x2"] == pytest.approx(again.mean(again.methods[1]))
    with pytest.raises(ValueError, match="needs a ×4 model, but the model is ×2"):
        resolve_degradation(model, scale=4, real=True)
    with pytest.raises(ValueError, match="give no noise σ or JPEG quality"):
        resolve_degradation(model, noise=5, real=True)


def test_real_esrgan_setting_scores_the_second_order_inputs(small_set, capsys, tmp_path):
    """`--real real-esrgan`: `swinir-hf eval` could only score on BSRGAN's pipeline (`--real`); now on Real-ESRGAN's
    second-order one too, drawn with the same per-image seeds, and the caption and the JSON say which."""
    import zlib

    dataset, model_dir = small_set
    out = tmp_path / "esrgan.json"
    args = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--no-progress", "--json", str(out)]
    assert main([*args, "--real", "real-esrgan"]) == 0
    assert capsys.readouterr().out.startswith("Mini, real-esrgan ×2 (3 images, border 2")
    report = json.loads(out.read_text())
    assert (report["task"], report["degradation"], report["scale"], report["real_seed"]) == ("sr", "real-esrgan", 2, 0)
    d = Degradation("real-esrgan", 2)
    samples = load_samples(dataset, None, 2, report["grey_convention"])[1]
    assert [sample.name for sample in samples] == [image["name"] for image in report["images"]] == ["a", "b", "c"]
    for sample, image in zip(samples, report["images"], strict=True):  # the baseline: bicubic of the second-order
        lq = d.sample(sample.hr, np.random.default_rng((0, zlib.crc32(sample.name.encode()))), noise_seed=0)
        assert np.array_equal(lq, degrade(sample.hr, d, name=sample.name)[1])
        assert not np.array_equal(lq, degrade(sample.hr, Degradation("real", 2), name=sample.name)[1])
        gt = sample.hr[: lq.shape[0] * 2, : lq.shape[1] * 2]
        assert image["scores"]["bicubic"] == pytest.approx(score(baseline(lq, d), gt, d))
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    assert resolve_degradation(model, real="real-esrgan") == d
    with pytest.raises(ValueError, match="real must be True or one of real, real-esrgan, got 'bicubic'"):
        resolve_degradation(model, real="bicubic")
    with pytest.raises(SystemExit) as stop:  # a mistyped kind: argparse's one line, with the one meant
        main([*args, "--real", "real_esrgan"])
    said = capsys.readouterr().err.splitlines()[-1]
    assert stop.value.code == 2 and said.startswith("swinir-hf eval: error: argument --real: invalid choice: ")
    assert said.endswith("did you mean 'real-esrgan'?")


def test_models_see_inputs_padded_as_the_authors_script_pads_them(small_set):
    """main_test_swinir.py: cat the LR with its flip along H, then W, cut to (size // window + 1) · window, run,
    crop the output to scale × the LR size. Written here in its own torch terms, for a model with random weights."""
    import torch

    folder, model_dir = small_set
    model = SwinIRForImageRestoration.from_pretrained(model_dir).eval()
    result = evaluate(model, folder, scale=2, model_name="m")
    ours = dict(zip(result.names, result.scores["m"], strict=True))
    window, checked = model.config.window_size, 0
    for sample in load_samples(folder, None, 2, "native")[1]:
        if sample.hr.ndim == 2 or sample.hr.shape[-1] == 1:  # the grey crop takes the engine's grey path
            continue
        gt, lq = degrade(sample.hr, result.degradation, None, sample.name)
        x = torch.from_numpy(lq.astype(np.float32) / 255).permute(2, 0, 1)[None]
        h, w = x.shape[-2:]
        x = torch.cat([x, torch.flip(x, [2])], 2)[:, :, : (h // window + 1) * window, :]
        x = torch.cat([x, torch.flip(x, [3])], 3)[:, :, :, : (w // window + 1) * window]
        with torch.no_grad():
            y = model(x).reconstruction[..., : 2 * h, : 2 * w].clamp(0, 1)
        out = (y[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        assert ours[sample.name]["psnr_y"] == pytest.approx(score(out, gt, result.degradation)["psnr_y"], abs=1e-9)
        checked += 1
    assert checked == 2


def test_given_lr_folder(small_set, tmp_path):
    """An HR + LR folder pair scores exactly as LR made on the fly (the authors' NAMEx2 naming is found)."""
    dataset, model_dir = small_set
    lr_dir = tmp_path / "LR"
    lr_dir.mkdir()
    for name in ("a", "b", "c"):
        hr = np.asarray(Image.open(dataset / "HR" / f"{name}.png"))
        lr = degrade(hr, Degradation("bicubic", 2))[1]
        Image.fromarray(lr).save(lr_dir / (f"{name}x2.png" if name != "c" else "c.png"))
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    made = evaluate(model, dataset, progress=False)
    given = evaluate(model, dataset, lr_dir=lr_dir, progress=False)
    assert made.scores == given.scores
    # The report says where the inputs came from: the files could hold any degradation, not "bicubic".
    assert made.caption().startswith("Mini, bicubic ×2 (3 images") and made.to_dict()["lr_dir"] is None
    assert given.caption().startswith(f"Mini, ×2 from the inputs given in {lr_dir} (3 images")
    assert given.to_dict()["lr_dir"] == str(lr_dir)
    assert made.to_dict()["lr_column"] is None and given.to_dict()["lr_column"] is None


def test_a_grey_images_lr_file_saved_as_rgb_is_read_as_grey(small_set, tmp_path, capsys):
    """A grey HR image's LR file saved with three equal channels (as MATLAB's imwrite of a replicated image saves
    Set14's bridge) was refused under the native convention as a size mismatch ("needs LR 18×18×1, but ... is
    18×18×3"); it is that grey image. An LR file in true colour for a grey HR image is refused saying so."""
    dataset, model_dir = small_set
    lr_dir = tmp_path / "LR"
    lr_dir.mkdir()
    for name in ("a", "b", "c"):
        hr = np.asarray(Image.open(dataset / "HR" / f"{name}.png"))
        lr = degrade(hr if hr.ndim == 3 else hr[..., None], Degradation("bicubic", 2))[1]
        Image.fromarray(lr.squeeze()).convert("RGB").save(lr_dir / f"{name}x2.png")
    _, samples = load_samples(dataset, lr_dir, scale=2, grey_convention="native")
    grey_lr = np.asarray(Image.open(lr_dir / "cx2.png").convert("L"))[..., None]
    assert samples[2].hr.shape == (36, 36, 1) and np.array_equal(samples[2].lr, grey_lr)
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    given = evaluate(model, dataset, lr_dir=lr_dir, grey_convention="native", progress=False)
    assert given.scores == evaluate(model, dataset, grey_convention="native", progress=False).scores
    coloured = np.asarray(Image.open(lr_dir / "cx2.png")).copy()
    coloured[0, 0] = (255, 0, 0)
    Image.fromarray(coloured).save(lr_dir / "cx2.png")
    args = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--lr-dir", str(lr_dir)]
    assert main([*args, "--grey-convention", "native"]) == 1
    err = (
        f"error: {lr_dir / 'cx2.png'} is in colour, but its HR image is greyscale: make the LR images from the HR ones"
    )
    assert capsys.readouterr().err.splitlines()[-1] == err


def test_lr_files_named_otherwise_are_pointed_out(small_set, tmp_path, capsys):
    """An LR folder that names its files otherwise (`a_x2.png` for HR `a.png`) was refused naming only what was looked
    for; the message now names the files that look like the input. Another image's name is not taken for one."""
    dataset, model_dir = small_set
    lr_dir = tmp_path / "LR"
    lr_dir.mkdir()
    Image.new("RGB", (24, 20)).save(lr_dir / "a_x2.png")
    Image.new("RGB", (24, 20)).save(lr_dir / "aX2.bmp")
    Image.new("RGB", (24, 20)).save(lr_dir / "ab.png")  # another image's: no such hint
    args = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--lr-dir", str(lr_dir), "--no-progress"]
    assert main(args) == 1
    expected = (
        f"error: no LR image for a in {lr_dir} (looked for a / ax2.*): it holds aX2.bmp, a_x2.png, named otherwise: "
        "name the inputs a.* or ax2.*"
    )
    assert capsys.readouterr().err.splitlines()[-1] == expected
    for name in ("a_x2.png", "aX2.bmp"):
        (lr_dir / name).unlink()
    assert main(args) == 1
    assert capsys.readouterr().err.splitlines()[-1] == f"error: no LR image for a in {lr_dir} (looked for a / ax2.*)"


def test_imagefolder_dataset(small_set, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    dataset, _ = small_set
    via_datasets = evaluate(None, f"imagefolder:{dataset / 'HR'}", jpeg=30, progress=False)
    via_folder = evaluate(None, dataset, jpeg=30, progress=False)
    assert via_datasets.scores == via_folder.scores
    assert via_datasets.names == via_folder.names == ["a", "b", "c"]  # its rows named by their files, not 0000...


def test_dataset_rows_are_named_by_a_name_column_or_unique_file_names_else_numbered(small_set, tmp_path):
    import datasets

    files = sorted((small_set[0] / "HR").glob("*.png"))
    twins = tmp_path / "twins"
    for i, f in enumerate(files[:2]):  # two folders, one file name
        (twins / str(i)).mkdir(parents=True)
        shutil.copy(f, twins / str(i) / "same.png")
    shutil.copy(files[0], twins / "0" / "Same.png")  # one saved file where case is not told apart (macOS, Windows)
    cases = {
        "named": ({"image": [str(f) for f in files], "name": ["x", "y", "z"]}, ["x", "y", "z"]),
        "files": ({"image": [str(f) for f in files]}, ["a", "b", "c"]),
        "twins": ({"image": [str(twins / "0" / "same.png"), str(twins / "1" / "same.png")]}, ["0000", "0001"]),
        "cased": ({"image": [str(twins / "0" / "Same.png"), str(twins / "1" / "same.png")]}, ["0000", "0001"]),
        "bytes": ({"image": [{"bytes": f.read_bytes(), "path": None} for f in files[:2]]}, ["0000", "0001"]),
    }
    for case, (columns, names) in cases.items():
        ds = datasets.Dataset.from_dict(columns).cast_column("image", datasets.Image())
        ds.save_to_disk(str(tmp_path / case))
        assert evaluate(None, tmp_path / case, jpeg=30, progress=False).names == names, case
    # A name column naming two rows alike, as saved images' file names too: a resumed run's --save-images took one
    # row's saved output for the other's (other scores than the first run's).
    for alike in (["x", "y", "x"], ["a/b", "c", "a_b"], ["A", "b", "a"]):
        ds = datasets.Dataset.from_dict({"image": [str(f) for f in files], "name": alike})
        ds.cast_column("image", datasets.Image()).save_to_disk(str(tmp_path / "alike"))
        message = rf"^the dataset's name column names rows 0 and 2 alike \({alike[0]!r}, {alike[2]!r}; the saved"
        with pytest.raises(ValueError, match=message):
            evaluate(None, tmp_path / "alike", jpeg=30, progress=False)
        shutil.rmtree(tmp_path / "alike")


def test_dataset_rows_without_a_readable_image_are_named(small_set, tmp_path):
    """A row without an image was an AttributeError traceback; one whose data `datasets` cannot decode (damaged
    bytes, a missing file, an http path without fsspec's HTTP extras) a traceback naming no row."""
    import datasets

    files = sorted((small_set[0] / "HR").glob("*.png"))
    cases = {
        "none": ([str(files[0]), None], r"row 1 \(0001\): its image column holds no image$"),
        "damaged": ([str(files[0]), {"bytes": b"not an image", "path": "x.png"}], r"row 1 \(x\): cannot identify"),
    }
    for case, (images, message) in cases.items():
        ds = datasets.Dataset.from_dict({"image": images}, features=datasets.Features({"image": datasets.Image()}))
        ds.save_to_disk(str(tmp_path / case))
        with pytest.raises(ValueError, match=rf"^{re.escape(str(tmp_path / case))}, {message}"):
            evaluate(None, tmp_path / case, jpeg=30, progress=False)


def test_of_several_models_the_one_out_of_memory_is_named(small_set, monkeypatch, caplog):
    """`eval --model a --model b --tile 24`, b out of memory on a whole image: "out of memory with the whole image;
    retrying with 12-pixel tiles" did not say which model; it starts with b's row label (alone, none)."""
    from swinir_hf.inference.options import EngineOptions

    dataset, model_dir = small_set
    models = [(label, SwinIRForImageRestoration.from_pretrained(model_dir)) for label in ("a", "b")]
    forward = models[1][1].forward

    def limited(pixel_values, *args, **kwargs):  # b runs out of memory on inputs wider than 16 pixels
        if pixel_values.shape[-1] > 16:
            raise MemoryError()
        return forward(pixel_values, *args, **kwargs)

    monkeypatch.setattr(models[1][1], "forward", limited)
    with caplog.at_level(logging.WARNING, logger="swinir_hf"):
        result = evaluate_models(models, dataset, engine=EngineOptions(tile=24), progress=False)
    widths = [Image.open(dataset / "HR" / f"{name}.png").width // 2 for name in result.names]
    assert caplog.messages == [
        f"b: out of memory with the whole image; retrying with {8 if w < 24 else 12}-pixel tiles" for w in widths
    ]


def test_a_model_that_does_not_fit_the_setting_is_named_among_several(small_set, capsys):
    """--model identity tiny_x2 --noise 10 said "the model is ×2", not which."""
    dataset, model_dir = small_set
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    with pytest.raises(ValueError, match=r"^tiny: noise σ=10 needs a ×1 model, but the model is ×2: give a ×1 model$"):
        evaluate_models([("identity", None), ("tiny", model)], dataset, noise=10, progress=False)
    with pytest.raises(ValueError, match=r"^noise σ=10 needs a ×1 model, but the model is ×2"):  # one: no name
        evaluate_models([("tiny", model)], dataset, noise=10, progress=False)


def test_split_of_a_plain_folder_is_refused_not_ignored(small_set, capsys):
    """A plain folder has no splits: --split test scored all its images, exit 0."""
    dataset, _ = small_set
    message = f"{dataset} is a plain folder of images, which has no splits, so split 'test' would be ignored: drop it"
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate(None, dataset, jpeg=30, split="test", progress=False)
    assert main(["eval", "--model", "identity", "--dataset", str(dataset), "--split", "test", "--jpeg", "30"]) == 1
    assert capsys.readouterr().err.startswith(f"error: {message}, or read the folder's split sub-folders as a ")


def test_save_to_disk_dataset(small_set, tmp_path, capsys):
    """A `save_to_disk` folder (a Dataset, or a DatasetDict's "test" split) scores as the image folder it was made
    from; it was "no images in DIR"."""
    import datasets

    dataset, _ = small_set
    files = sorted((dataset / "HR").glob("*.png"))
    ds = datasets.Dataset.from_dict({"image": [str(f) for f in files], "name": [f.stem for f in files]})
    ds = ds.cast_column("image", datasets.Image())
    ds.save_to_disk(str(tmp_path / "saved"))
    datasets.DatasetDict({"train": ds.select([0]), "test": ds}).save_to_disk(str(tmp_path / "splits"))
    via_folder = evaluate(None, dataset, jpeg=30, progress=False)
    for saved in ("saved", "splits"):
        assert evaluate(None, tmp_path / saved, jpeg=30, progress=False).scores == via_folder.scores
    assert (
        main(["eval", "--model", "identity", "--dataset", str(tmp_path / "splits"), "--split", "train", "--jpeg", "30"])
        == 0
    )
    assert capsys.readouterr().out.startswith("splits, JPEG q=30 (1 image,")  # the train split: one image


def test_split_for_a_saved_dataset_without_splits_is_refused_as_restore_refuses_it(small_set, tmp_path, capsys):
    """`eval --dataset SAVED --split train`, SAVED one save_to_disk Dataset, scored its rows, --split silently
    ignored, where `restore` refused it; now eval refuses it in restore's words, before anything is scored."""
    import datasets

    dataset, _ = small_set
    files = sorted((dataset / "HR").glob("*.png"))
    saved = tmp_path / "saved"
    datasets.Dataset.from_dict({"image": [str(f) for f in files]}).cast_column("image", datasets.Image()).save_to_disk(
        str(saved)
    )
    capsys.readouterr()  # datasets' saving bar
    args = ["eval", "--model", "identity", "--jpeg", "30", "--split", "train", "--no-progress", "--dataset", str(saved)]
    said = f"swinir-hf eval: error: --split train: {saved} is one save_to_disk Dataset, without splits: drop --split"
    assert main(args) == 2
    assert capsys.readouterr() == ("", said + "\n")
    assert main([*args, str(dataset)]) == 2  # beside a set that may need the split
    assert capsys.readouterr() == ("", said + ", or evaluate that set apart\n")


def test_the_json_report_records_the_command_as_typed(small_set, tmp_path, monkeypatch):
    """The report recorded settings, versions and seeds, but not the command that made it: now `command`, its words
    as typed (paths as given): `swinir-hf eval ...`, `python -m swinir_hf.evaluate ...`, a launch's `swinir-hf eval`
    line with the launcher's options (told to its processes); null from the Python API."""
    import accelerate.commands.launch

    from swinir_hf.evaluation.cli import main as evaluate_main
    from swinir_hf.processes import TYPED_COMMAND

    dataset, _ = small_set
    monkeypatch.chdir(dataset.parent)
    monkeypatch.delenv(TYPED_COMMAND, raising=False)
    args = ["--model", "identity", "--dataset", "Mini", "--jpeg", "30", "--no-progress", "--json", "r.json"]
    assert main(["eval", *args]) == 0
    assert json.loads(Path("r.json").read_text())["command"] == ["swinir-hf", "eval", *args]
    assert evaluate_main([*args, "--overwrite"]) == 0
    assert json.loads(Path("r.json").read_text())["command"] == [
        "python",
        "-m",
        "swinir_hf.evaluate",
        *args,
        "--overwrite",
    ]
    told = []  # what the launcher's processes are told: then each runs `python -m swinir_hf.evaluate ARGS`
    monkeypatch.setattr(accelerate.commands.launch, "launch_command", lambda _: told.append(os.environ[TYPED_COMMAND]))
    launched = ["eval", "--cpu", "--num_processes", "1", *args, "--overwrite"]
    assert main(launched) == 0 and TYPED_COMMAND not in os.environ
    monkeypatch.setenv(TYPED_COMMAND, told[0])
    assert evaluate_main([*args, "--overwrite"]) == 0
    assert json.loads(Path("r.json").read_text())["command"] == ["swinir-hf", *launched]
    assert evaluate(None, dataset, jpeg=30, progress=False).to_dict()["command"] is None


def test_shares_of_a_set_combine_into_the_whole_sets_evaluation(small_set, tmp_path):
    """Process k of n scores the images k, k + n, ... (a launch's `swinir-hf eval`); the shares, combined, are the
    evaluation of one process: same images in the same order, same figures. More processes than images leave some
    with none. A `save_to_disk` dataset is shared by its rows."""
    import datasets

    dataset, model_dir = small_set
    models = [("tiny", SwinIRForImageRestoration.from_pretrained(model_dir))]
    whole = evaluate_models(models, dataset, progress=False)
    assert whole.names == ["a", "b", "c"]
    for n in (2, 4):
        shares = [evaluate_models(models, dataset, progress=False, shard=(k, n)) for k in range(n)]
        assert [s.names for s in shares] == [whole.names[k::n] for k in range(n)]
        combined = combine_shares(shares).to_dict()
        assert combined["runtime"]["tiny"]["images"] == 3  # each share's times, joined: the only figures to differ
        assert combined | {"runtime": None} == whole.to_dict() | {"runtime": None}
    assert whole.provenance["device"] == "cpu" and combine_shares(shares).provenance["device"] == "cpu"
    for k, share in enumerate(shares):  # a launch on GPUs: each process's own (the JSON said the main one's)
        share.provenance = {**share.provenance, "device": f"cuda:{k}"}
    assert combine_shares(shares).provenance["device"] == "cuda:0, cuda:1, cuda:2, cuda:3"
    # out of order (equal shares would misorder the images silently), none, or not a share of n
    for wrong in (shares[::-1], [], shares[:2]):
        with pytest.raises(ValueError, match=r"^combine_shares takes the n shares \(k, n\) in order, k = 0 .. n-1"):
            combine_shares(wrong)
    with pytest.raises(ValueError, match="^combine_shares takes the shares of one evaluation"):
        first, other = ([(label, models[0][1])] for label in ("tiny", "other"))
        pair = [evaluate_models(m, dataset, progress=False, shard=(k, 2)) for k, m in enumerate((first, other))]
        combine_shares(pair)
    for shard in ((2, 2), (-1, 2), (0, 0)):  # images 2, 4, ... silently; the last one; "slice step cannot be zero"
        with pytest.raises(ValueError, match=r"^shard must be \(k, n\), process k of n with 0 <= k < n; got"):
            evaluate_models(models, dataset, progress=False, shard=shard)
    files = sorted((dataset / "HR").glob("*.png"))
    ds = datasets.Dataset.from_dict({"image": [str(f) for f in files]}).cast_column("image", datasets.Image())
    ds.save_to_disk(str(tmp_path / "saved"))
    whole = evaluate(None, tmp_path / "saved", jpeg=30, progress=False)
    shares = [evaluate_models([("identity", None)], tmp_path / "saved", jpeg=30, shard=(k, 2)) for k in (0, 1)]
    assert [s.names for s in shares] == [["a", "c"], ["b"]]  # by the file names the rows keep, in the whole's order
    assert combine_shares(shares).to_dict() == whole.to_dict()


def test_the_report_times_each_models_restorations_not_the_reused_outputs(small_set, tmp_path):
    """A paper's runtime column: the JSON's `runtime` gives each model's mean wall seconds per image restored; the
    identity restores nothing, and a resumed run's outputs read back from --save-images are not timed."""
    dataset, model_dir = small_set
    models = [("tiny", SwinIRForImageRestoration.from_pretrained(model_dir))]
    report = evaluate_models(models, dataset, progress=False, save_dir=tmp_path / "out").to_dict()
    assert list(report["runtime"]) == ["tiny"] and report["runtime"]["tiny"]["images"] == 3
    assert evaluate(None, dataset, jpeg=30, progress=False).to_dict()["runtime"] == {}
    assert 0 < report["runtime"]["tiny"]["seconds_per_image"] < 60
    resumed = evaluate_models(models, dataset, progress=False, save_dir=tmp_path / "out", reuse_saved=True)
    assert resumed.to_dict()["runtime"] == {"tiny": {"images": 0, "seconds_per_image": None}}
    assert resumed.scores == evaluate_models(models, dataset, progress=False).scores


def test_a_missing_dataset_folder_is_said_before_a_model_loads(tmp_path, capsys, monkeypatch):
    """A mistyped --dataset path is the error at once, not after loading (or downloading) every --model."""
    import swinir_hf.checkpoints.loading as loading

    def load_model(*args, **kwargs):
        raise AssertionError("a model was loaded before --dataset was checked")

    monkeypatch.setattr(loading, "load_model", load_model)
    for dataset, said in [(tmp_path / "nowhere", "no such dataset folder"), (f"imagefolder:{tmp_path}/no", "no such")]:
        assert main(["eval", "--model", "sr-x4", "--dataset", str(dataset), "--scale", "4"]) == 1
        assert said in capsys.readouterr().err
    # A mistyped --lr-dir too (it was read after every model had loaded).
    args = ["eval", "--model", "sr-x4", "--dataset", str(tmp_path), "--lr-dir", str(tmp_path / "LR"), "--scale", "4"]
    assert main(args) == 1
    assert capsys.readouterr().err == f"error: no such LR folder: {tmp_path / 'LR'}\n"


def test_a_denoiser_scored_on_jpeg_inputs_or_the_reverse_is_warned_of(tiny_config, caplog):
    denoiser = SwinIRForImageRestoration(tiny_config(upscale=1, upsampler="", task="color_dn"))
    dejpeg = SwinIRForImageRestoration(tiny_config(upscale=1, upsampler="", task="color_jpeg_car"))
    with caplog.at_level(logging.WARNING, logger="swinir_hf.evaluation"):
        for model, flags in ((denoiser, {"noise": 25}), (dejpeg, {"jpeg": 10}), (denoiser, {"jpeg": 10})):
            resolve_degradation(model, **flags)
        resolve_degradation(dejpeg, noise=15)
        real = SwinIRForImageRestoration(tiny_config(upscale=4, upsampler="nearest+conv", task="real_sr"))
        resolve_degradation(real, real=True)  # its own setting: nothing said
        resolve_degradation(real)
    assert caplog.messages == [
        "a model trained for color image denoising (color_dn) is scored on JPEG q=10 inputs",
        "a model trained for color JPEG compression artifact reduction (color_jpeg_car) is scored on noise σ=15 inputs",
        "a model trained for real-world image super-resolution (real_sr) is scored on bicubic ×4 inputs; --real "
        "scores it on real-world (BSRGAN-style) degraded ones",
    ]


def test_of_several_models_the_one_scored_on_another_tasks_inputs_is_named(tiny_config, caplog):
    """`eval --model a --model b --jpeg 10` warned "a model trained for color image denoising ... is scored on JPEG
    inputs" without saying which model: the warning starts with its row's label, as the refusals do."""
    from swinir_hf.evaluation.benchmark_setting import common_degradation

    denoiser = SwinIRForImageRestoration(tiny_config(upscale=1, upsampler="", task="color_dn"))
    dejpeg = SwinIRForImageRestoration(tiny_config(upscale=1, upsampler="", task="color_jpeg_car"))
    with caplog.at_level(logging.WARNING, logger="swinir_hf.evaluation"):
        setting = common_degradation([("runs/dn", denoiser), ("car-q10", dejpeg)], None, None, 10, False)
    assert str(setting) == "JPEG q=10"
    assert caplog.messages == [
        "runs/dn: a model trained for color image denoising (color_dn) is scored on JPEG q=10 inputs"
    ]


def test_a_model_scored_on_another_tasks_inputs_is_warned_of_once_per_command(tiny_config, shared, tmp_path, caplog):
    """`eval --model denoise-color --jpeg 10 --save-images OUT` logged "... is scored on JPEG q=10 inputs" twice (the
    folder's record and the scoring each resolve the setting), and again for each further `--dataset`; a
    `--grey-convention` that does not apply was said once per set."""
    model = tmp_path / "dn"
    config = tiny_config(upscale=1, upsampler="", num_channels=1, task="gray_dn")
    SwinIRForImageRestoration(config).save_pretrained(model)
    sets = [tmp_path / "A", tmp_path / "B"]
    for folder, name in zip(sets, ("baby", "bird"), strict=True):
        (folder / "HR").mkdir(parents=True)
        Image.open(shared / f"testsets/Set5/HR/{name}.png").crop((40, 40, 72, 72)).save(folder / "HR" / "x.png")
    flags = ["--jpeg", "10", "--grey-convention", "rgb", "--save-images", str(tmp_path / "out"), "--no-progress"]
    with caplog.at_level(logging.WARNING, logger="swinir_hf.evaluation"):
        assert main(["eval", "--model", str(model), "--dataset", *map(str, sets), *flags]) == 0
    assert caplog.messages == [
        "a model trained for grayscale image denoising (gray_dn) is scored on JPEG q=10 inputs",
        "--grey-convention rgb does not apply to dn: a 1-channel model reads grey images as grey (native), a colour "
        "denoiser as RGB (rgb), as the authors' scripts do",
    ]


def test_a_release_is_scored_at_the_level_its_name_gives(layout_state_dict, shared, tmp_path, capsys):
    """`eval --model 004_grayDN_..._noise15.pth` was refused ("give a noise σ or a JPEG quality") although its name
    says σ 15, and `--noise 50` on it went unsaid."""
    from swinir_hf.checkpoints.catalog import find_release

    release = find_release("004_grayDN_DFWB_s128w8_SwinIR-M_noise15.pth")
    layout = json.loads((shared / "fixtures" / "release_layouts.json").read_text())[release.file]
    state = layout_state_dict(layout["tensors"], release.patch_size, 8)
    torch.save(
        {release.state_dict_key: {k: torch.randn(v.shape) * 0.01 if v.is_meta else v for k, v in state.items()}},
        tmp_path / release.file,
    )
    folder = tmp_path / "Set12"
    folder.mkdir()
    Image.open(shared / "testsets/Set12/HR/01.png").crop((0, 0, 24, 24)).save(folder / "01.png")
    args = ["eval", "--model", str(tmp_path / release.file), "--dataset", str(folder), "--no-progress"]
    assert main([*args, "--json", str(tmp_path / "s.json")]) == 0
    note = f"note: scoring at --noise 15, the level {release.file} was trained for (its name says so)\n"
    assert capsys.readouterr().err == note and json.loads((tmp_path / "s.json").read_text())["noise"] == 15
    assert main([*args, "--noise", "50"]) == 0
    assert f"warning: {release.file} was trained for --noise 15 (its name says so)" in capsys.readouterr().err


def test_a_renamed_denoiser_is_refused_naming_the_options_that_give_a_level(shared, tmp_path, capsys):
    """`eval --model model.pth` of an authors' denoiser saved under another name (no level in its name) said "give a
    noise σ or a JPEG quality" without naming the options that give them."""
    shutil.copy(shared / "fixtures/official_parity/color_dn.pth", tmp_path / "model.pth")
    (tmp_path / "set").mkdir()
    Image.open(shared / "testsets/Set12/HR/01.png").crop((0, 0, 24, 24)).save(tmp_path / "set/01.png")
    assert main(["eval", "--model", str(tmp_path / "model.pth"), "--dataset", str(tmp_path / "set")]) == 1
    assert capsys.readouterr().err == (
        "error: cannot tell the benchmark setting from a ×1 (color_dn) model: give a noise σ or a JPEG quality "
        "(--noise or --jpeg; noise= or jpeg= from Python)\n"
    )


def test_a_training_run_is_scored_at_the_level_it_validated_at(small_set, tiny_config, tmp_path, capsys):
    """`eval --model runs/dn` of a denoising run was refused ("give a noise σ or a JPEG quality"), though its
    training_config.yaml says the level it validated at (the middle of its σ range)."""
    import yaml

    dataset, _ = small_set
    run = tmp_path / "dn"
    SwinIRForImageRestoration(tiny_config(upscale=1, upsampler="", task="color_dn")).save_pretrained(run)
    raw = {"data": {"train": ["photos"], "degradation": "noise", "noise_sigma": [0, 50], "val": "photos"}}
    (run / "training_config.yaml").write_text(yaml.safe_dump(raw))
    capsys.readouterr()
    args = ["eval", "--model", str(run), "--dataset", str(dataset), "--no-progress", "--json", str(tmp_path / "s.json")]
    assert main(args) == 0
    assert capsys.readouterr().err == (
        f"note: scoring at --noise 25, the level {run} validated at (its training_config.yaml)\n"
    )
    assert json.loads((tmp_path / "s.json").read_text())["noise"] == 25
    assert main(["eval", "--model", str(run), "--dataset", str(dataset), "--no-progress", "--noise", "50"]) == 0
    assert f"warning: {run} validated at --noise 25 (its training_config.yaml)" in capsys.readouterr().err
    # a real-world run (any head) validated on the real-world degradation: scored on clean bicubic inputs without it
    real = tmp_path / "real"
    SwinIRForImageRestoration(tiny_config(upscale=2)).save_pretrained(real)
    raw = {"data": {"train": ["photos"], "degradation": "real", "val": "photos"}}
    (real / "training_config.yaml").write_text(yaml.safe_dump(raw))
    capsys.readouterr()
    args = [
        "eval",
        "--model",
        str(real),
        "--dataset",
        str(dataset),
        "--no-progress",
        "--json",
        str(tmp_path / "r.json"),
    ]
    assert main(args) == 0
    assert (
        capsys.readouterr().err
        == f"note: scoring at --real, the setting {real} validated at (its training_config.yaml)\n"
    )
    assert json.loads((tmp_path / "r.json").read_text())["degradation"].startswith("real")
    assert main([*args[:-2], "--scale", "2"]) == 0
    assert f"warning: {real} validated at --real (its training_config.yaml)" in capsys.readouterr().err
    lr = tmp_path / "LR"  # inputs given: --real, which --lr-dir refuses, is not set on top of them
    lr.mkdir()
    for hr in (dataset / "HR").iterdir():
        image = Image.open(hr)
        image.resize((image.width // 2, image.height // 2), Image.Resampling.BICUBIC).save(lr / hr.name)
    assert main([*args[:-2], "--lr-dir", str(lr), "--json", str(tmp_path / "lr.json")]) == 0
    assert f"warning: {real} validated at --real (its training_config.yaml)" in capsys.readouterr().err
    assert json.loads((tmp_path / "lr.json").read_text())["degradation"] == "bicubic"


def test_a_real_esrgan_run_is_scored_on_its_own_degradation(tmp_path):
    """A run trained with `data.degradation: real-esrgan` was scored on clean bicubic inputs, unsaid (only `real`
    runs got their setting); now at `--real real-esrgan`, and `--real` (BSRGAN's) or a scale given is warned of."""
    import argparse

    import yaml

    from swinir_hf.evaluation.model_levels import trained_levels

    run = tmp_path / "esrgan"
    run.mkdir()
    raw = {"data": {"train": ["photos"], "degradation": "real-esrgan", "val": "photos"}}
    (run / "training_config.yaml").write_text(yaml.safe_dump(raw))
    given = {"model": [str(run)], "scale": None, "noise": None, "jpeg": None, "lr_dir": None, "real": None}
    args = argparse.Namespace(**given)
    assert trained_levels(args) == (
        f"note: scoring at --real real-esrgan, the setting {run} validated at (its training_config.yaml)"
    )
    assert args.real == "real-esrgan"
    warning = f"warning: {run} validated at --real real-esrgan (its training_config.yaml)"
    assert trained_levels(argparse.Namespace(**{**given, "real": "real"})) == warning
    assert trained_levels(argparse.Namespace(**{**given, "scale": 2})) == warning
    assert trained_levels(argparse.Namespace(**{**given, "real": "real-esrgan"})) is None


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"degradation": "real"}, "--real, the setting {run} trained at"),
        ({"degradation": "real-esrgan", "val": None}, "--real real-esrgan, the setting {run} trained at"),
        ({"degradation": "real", "val": "photos"}, "--real, the setting {run} validated at"),
        ({"degradation": "noise", "noise_sigma": 15}, "--noise 15, the level {run} trained at"),
        ({"degradation": "noise", "noise_sigma": [10, 30]}, "--noise 20, the level {run} trained around"),
        ({"degradation": "jpeg", "jpeg_quality": [10, 30], "val": "photos"}, "--jpeg 20, the level {run} validated at"),
        # a validation level it never used (no data.val) is not its level
        ({"degradation": "noise", "noise_sigma": 15, "val_noise_sigma": 50}, "--noise 15, the level {run} trained at"),
        (
            {"degradation": "jpeg", "jpeg_quality": [10, 30], "val_jpeg_quality": 40},
            "--jpeg 20, the level {run} trained around",
        ),
        (
            {"degradation": "noise", "noise_sigma": 15, "val_noise_sigma": 50, "val": "photos"},
            "--noise 50, the level {run} validated at",
        ),
    ],
)
def test_a_run_that_never_validated_is_said_to_have_trained_at_its_setting(data, said, tmp_path):
    """`eval --model RUN` of a run without validation (data.val null) said "the setting RUN validated at": it trained
    at it (around it, for a range of levels: their middle), and validated nowhere; and was scored at its `val_`
    level, never used, where it set one."""
    import argparse

    import yaml

    from swinir_hf.evaluation.model_levels import trained_levels

    run = tmp_path / "run"
    run.mkdir()
    (run / "training_config.yaml").write_text(yaml.safe_dump({"data": {"train": ["photos"], **data}}))
    given = {"model": [str(run)], "scale": None, "noise": None, "jpeg": None, "lr_dir": None, "real": None}
    assert trained_levels(argparse.Namespace(**given)) == (
        f"note: scoring at {said.format(run=run)} (its training_config.yaml)"
    )


def test_a_real_esrgan_runs_model_on_bicubic_inputs_is_pointed_to_its_own_setting(tiny_config, tmp_path, caplog):
    """A real-world model of a `real-esrgan` run (its folder, or a checkpoint's) scored on clean bicubic inputs was
    pointed to `--real`, BSRGAN's, not to the setting it validated at."""
    import yaml

    from swinir_hf.checkpoints.loading import load_model

    run, model = tmp_path / "esrgan", SwinIRForImageRestoration(tiny_config(upscale=4, task="real_sr"))
    model.save_pretrained(run)
    step = run / "checkpoints" / "step-1"
    model.save_pretrained(step / "model")
    (step / "progress.json").write_text("{}")
    (run / "training_config.yaml").write_text(yaml.safe_dump({"data": {"degradation": "real-esrgan"}}))
    with caplog.at_level(logging.WARNING, logger="swinir_hf.evaluation"):
        for spec in (run, step):
            resolve_degradation(load_model(spec))
    assert caplog.messages == 2 * [
        "a model trained for real-world image super-resolution (real_sr) is scored on bicubic ×4 inputs; --real "
        "real-esrgan scores it on real-world (Real-ESRGAN's second-order) degraded ones"
    ]


def test_runs_that_validated_at_different_settings_are_said_to_need_one(tmp_path):
    """`eval --model runA runB` of a `real` and a `real-esrgan` run scored both on clean bicubic inputs, unsaid
    (nor was a setting given); now each run's setting is said, and that the user gives the one to score at."""
    import argparse

    import yaml

    from swinir_hf.evaluation.model_levels import trained_levels

    for name, kind in (("a", "real"), ("b", "real-esrgan")):
        (tmp_path / name).mkdir()
        raw = {"data": {"degradation": kind, "val": "photos"}}
        (tmp_path / name / "training_config.yaml").write_text(yaml.safe_dump(raw))
    given = {"scale": None, "noise": None, "jpeg": None, "lr_dir": None, "real": None}
    args = argparse.Namespace(model=[str(tmp_path / "a"), str(tmp_path / "b")], **given)
    assert trained_levels(args) == (
        f"warning: {tmp_path / 'a'} validated at --real (its training_config.yaml); {tmp_path / 'b'} validated at "
        "--real real-esrgan (its training_config.yaml): no one setting is theirs; give the one to score them at "
        "(--real or --real real-esrgan)"
    )
    assert args.real is None  # neither applied


def test_an_image_too_small_to_score_is_said_before_any_is_restored(tiny_config, shared, tmp_path, monkeypatch):
    """A JPEG set whose last image has no 8×8 block boundary inside failed there, after restoring all the others."""
    folder = tmp_path / "Mixed"
    folder.mkdir()
    Image.open(shared / "testsets/classic5/HR/baboon.png").crop((0, 0, 40, 40)).save(folder / "a.png")
    Image.open(shared / "testsets/classic5/HR/baboon.png").crop((0, 0, 12, 12)).save(folder / "b.png")
    model = SwinIRForImageRestoration(tiny_config(upscale=1, upsampler="", num_channels=1, task="jpeg_car"))
    monkeypatch.setattr(model, "forward", lambda *a, **k: pytest.fail("restored an image"))
    with pytest.raises(ValueError, match=r"^Mixed/b: PSNR-B needs a boundary between 8×8 blocks inside the image"):
        evaluate(model, folder, jpeg=10, progress=False)


def test_a_datasets_ground_truth_is_its_named_column_never_a_guess(small_set, tmp_path, capsys):
    """Columns `low` (the inputs) and `target`: `low`, the first image column, was scored as the ground truth, in a
    normal table; `lr` and `target`: `lr` was taken as both."""
    import datasets

    dataset, model_dir = small_set
    files = sorted((dataset / "HR").iterdir())
    lr = []
    for f in files:
        hr = Image.open(f)
        hr.resize((hr.width // 2, hr.height // 2), Image.BICUBIC).save(tmp_path / f.name)
        lr.append(str(tmp_path / f.name))
    columns = {"lr": lr, "target": [str(f) for f in files]}
    ds = datasets.Dataset.from_dict(columns).cast_column("lr", datasets.Image()).cast_column("target", datasets.Image())
    ds.save_to_disk(str(tmp_path / "pairs"))
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    given = evaluate(model, tmp_path / "pairs", progress=False)
    assert given.names == ["a", "b", "c"]
    assert given.scores == evaluate(model, dataset, lr_dir=tmp_path, progress=False).scores  # `target` and `lr`
    ds.rename_column("lr", "low").save_to_disk(str(tmp_path / "low"))
    assert main(["eval", "--model", str(model_dir), "--dataset", str(tmp_path / "low"), "--no-progress"]) == 1
    said = "which of its image columns (low, target) holds the ground truth? Name it hr (dataset.rename_column(NAME,"
    assert said in capsys.readouterr().err


def _halved_beside(hr_dir, folder):
    """The images of `hr_dir` (sorted), each saved bicubic-halved under its name in `folder`."""
    files = sorted(hr_dir.iterdir())
    for f in files:
        hr = Image.open(f)
        hr.resize((hr.width // 2, hr.height // 2), Image.BICUBIC).save(folder / f.name)
    return files


def test_inputs_given_in_a_datasets_column_are_not_said_to_be_bicubic(small_set, tmp_path, capsys):
    """A dataset's given inputs (its `lr` column, or one --lr-column names) were captioned "bicubic ×2", as if made
    by bicubic downscaling, and the JSON said nothing of them; now they are said as --lr-dir's files are."""
    import datasets

    dataset, model_dir = small_set
    files = _halved_beside(dataset / "HR", tmp_path)
    columns = {"lr": [str(tmp_path / f.name) for f in files], "hr": [str(f) for f in files]}
    ds = datasets.Dataset.from_dict(columns).cast_column("lr", datasets.Image()).cast_column("hr", datasets.Image())
    ds.save_to_disk(str(tmp_path / "pairs"))
    ds.rename_column("lr", "small").save_to_disk(str(tmp_path / "named"))
    capsys.readouterr()  # datasets' saving bars
    auto = evaluate(SwinIRForImageRestoration.from_pretrained(model_dir), tmp_path / "pairs", progress=False)
    assert auto.caption().startswith("pairs, ×2 from the inputs given in its lr column (3 images")
    assert (auto.to_dict()["lr_column"], auto.to_dict()["lr_dir"]) == ("lr", None)
    args = ["eval", "--model", str(model_dir), "--dataset", str(tmp_path / "named"), "--lr-column", "small"]
    assert main([*args, "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("named, ×2 from the inputs given in its small column (3 images")


def test_a_datasets_columns_are_named_with_column_and_lr_column(small_set, tmp_path, capsys, monkeypatch):
    """A dataset whose image columns are not named as ground truths and inputs are (`target`, `low`) had to be
    renamed; now --column and --lr-column (restore --dataset's --column spelling) name them, and a name that is no
    image column is said with the dataset's image columns."""
    import datasets

    dataset, model_dir = small_set
    files = _halved_beside(dataset / "HR", tmp_path)
    columns = {"low": [str(tmp_path / f.name) for f in files], "target": [str(f) for f in files]}
    ds = datasets.Dataset.from_dict(columns).cast_column("low", datasets.Image())
    ds.cast_column("target", datasets.Image()).save_to_disk(str(tmp_path / "pairs"))
    args = ["eval", "--model", str(model_dir), "--dataset", str(tmp_path / "pairs"), "--no-progress"]
    assert main([*args, "--column", "target", "--lr-column", "low", "--json", str(tmp_path / "named.json")]) == 0
    named = json.loads((tmp_path / "named.json").read_text())
    given = evaluate(SwinIRForImageRestoration.from_pretrained(model_dir), dataset, lr_dir=tmp_path, progress=False)
    means = [given.mean(m)[figure] for m in given.methods for figure in ("psnr", "ssim")]
    assert [named["mean"][m][figure] for m in named["methods"] for figure in ("psnr", "ssim")] == pytest.approx(means)
    capsys.readouterr()
    assert main([*args, "--column", "hr"]) == 1
    assert capsys.readouterr().err == (
        f"error: dataset '{tmp_path / 'pairs'}' has no image column 'hr' (image columns: low, target): choose one "
        "with --column (column=)\n"
    )
    assert main(args) == 1
    assert capsys.readouterr().err.endswith("; or choose them with --column NAME and --lr-column NAME\n")
    # What is wrong with the options alone is said before any model loads.
    from swinir_hf.checkpoints import loading

    monkeypatch.setattr(loading, "load_model", lambda *a, **k: pytest.fail("loaded a model"))
    plain = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--no-progress"]
    assert main([*plain, "--column", "hr"]) == 1
    said = f"error: {dataset} is a plain folder of images, which has no columns: drop --column / --lr-column"
    assert capsys.readouterr().err.startswith(said)
    assert main([*args, "--lr-column", "low", "--lr-dir", str(tmp_path)]) == 1
    assert "--lr-dir and --lr-column each give the inputs: give one of them" in capsys.readouterr().err
    assert main([*args, "--lr-column", "low", "--real"]) == 1
    assert "error: --lr-column gives the inputs, which --real would make" in capsys.readouterr().err


def test_a_datasets_lr_column_of_another_size_is_refused_before_any_restoring(small_set, tmp_path, capsys):
    """A dataset's `lr` images were never checked: too small, they were scored against a crop of the ground truth
    (about 12 dB, exit 0); too large, the error came after the model ran ("image shapes differ")."""
    import datasets

    dataset, model_dir = small_set
    files = sorted((dataset / "HR").iterdir())
    for size, case in (((10, 10), "small"), ((48, 48), "large")):
        lr = []
        for f in files:
            Image.open(f).resize(size).save(tmp_path / f"{f.stem}_{case}.png")
            lr.append(str(tmp_path / f"{f.stem}_{case}.png"))
        columns = {"hr": [str(f) for f in files], "lr": lr, "name": [f.stem for f in files]}
        ds = datasets.Dataset.from_dict(columns).cast_column("hr", datasets.Image()).cast_column("lr", datasets.Image())
        ds.save_to_disk(str(tmp_path / case))
        capsys.readouterr()
        assert main(["eval", "--model", str(model_dir), "--dataset", str(tmp_path / case), "--no-progress"]) == 1
        h, w = Image.open(files[0]).size[::-1]
        assert capsys.readouterr().err == (
            f"error: {tmp_path / case}, row 0 ({files[0].stem}): HR/LR size mismatch for {files[0].stem}: HR "
            f"{h}×{w}×3 at ×2 needs LR {h // 2}×{w // 2}×3, but its lr image is {size[1]}×{size[0]}×3\n"
        )


def test_a_set_without_ground_truth_and_lr_dir_with_real_are_said(small_set, tmp_path, capsys):
    """A set of LR/ only (RealSRSet) said "no images in DIR"; --lr-dir with --real recorded a degradation (and its
    seed) that was never applied."""
    dataset, model_dir = small_set
    (tmp_path / "Real" / "LR").mkdir(parents=True)
    shutil.copy(dataset / "HR" / "a.png", tmp_path / "Real" / "LR" / "a.png")
    assert main(["eval", "--model", str(model_dir), "--dataset", str(tmp_path / "Real"), "--no-progress"]) == 1
    assert capsys.readouterr().err.endswith(
        f"in {tmp_path / 'Real'} (it holds LR/): scoring needs the ground-truth images, in the folder or its HR/; a "
        "set without them (RealSRSet's real photos) cannot be scored: restore it with swinir-hf restore and look\n"
    )
    lr = ["--lr-dir", str(tmp_path / "Real" / "LR"), "--real"]
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset), *lr]) == 1
    assert capsys.readouterr().err == (
        "error: --lr-dir gives the inputs, which --real would make: the real-world degradation would not be applied\n"
    )


def test_a_hub_set_that_cannot_load_is_said_before_any_set_is_scored(small_set, monkeypatch, capsys):
    """`--dataset DIR Set15` offline scored DIR and printed its table, then failed on Set15 without the --json."""
    from huggingface_hub import constants

    dataset, model_dir = small_set
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset), "NoSuchSet15", "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: dataset 'NoSuchSet15': no local folder of that name, and not in the ")


def test_a_folder_named_as_inputs_is_scored_with_a_warning(small_set, tmp_path, caplog):
    """`--dataset RealSRSet+5images/LR` (the authors' `--folder_lq`) printed a table scoring the real photos as the
    ground truth, without a word."""
    dataset, _ = small_set
    inputs = ("photos/LR", "Set/LR_bicubic/X2", "lq", "DIV2K_valid_LR_bicubic/X2", "Set5/LRbicx4")
    for folder in (tmp_path / name for name in inputs):
        shutil.copytree(dataset / "HR", folder)
        caplog.clear()
        assert evaluate(None, folder, jpeg=30, progress=False).names == ["a", "b", "c"]
        named = folder.name if folder.name != "X2" else folder.parent.name
        said = f"{folder} is named as a folder of low-quality inputs ({named}), but eval takes its images as the"
        assert [r.getMessage()[: len(said)] for r in caplog.records] == [said]
    caplog.clear()
    evaluate(None, dataset, jpeg=30, progress=False)  # Mini/HR
    for other in ("LRs", "lr_sweep/Set5"):  # not the naming; a parent's name only counts above a scale's folder
        shutil.copytree(dataset / "HR", tmp_path / other)
        evaluate(None, tmp_path / other, jpeg=30, progress=False)
    assert not caplog.records


def test_a_sets_folders_of_given_inputs_are_noted_as_unread(small_set, capsys, caplog):
    """`--dataset Mini` holding `HR/` beside `LR/` (a user's own inputs) and `LR_bicubic/X2/` scored inputs made from
    `HR/` by bicubic, the given ones unread without a word; a note now names them and `--lr-dir`."""
    dataset, model_dir = small_set
    for folder in (dataset / "LR", dataset / "LR_bicubic" / "X2"):
        folder.mkdir(parents=True)
        for hr in (dataset / "HR").iterdir():
            image = Image.open(hr)
            image.resize((image.width // 2, image.height // 2)).save(folder / f"{hr.stem}x2.png")
    args = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--no-progress"]
    assert main(args) == 0
    said = (
        f"{dataset}: the inputs are made from its HR/ images (the paper's protocol); LR/ and LR_bicubic/ are not "
        f"read: give --lr-dir DIR to score given inputs instead (--lr-dir {dataset / 'LR_bicubic' / 'X2'})"
    )
    assert said in capsys.readouterr().err.splitlines()
    for more in (["--quiet"], ["--lr-dir", str(dataset / "LR")]):  # quiet; or the inputs given
        assert main(args + more) == 0
        assert said not in capsys.readouterr().err
    caplog.clear()  # the command lines' own records, kept where an earlier test left the logger at INFO
    with caplog.at_level(logging.INFO, logger="swinir_hf"):  # Python's: logged where no progress is shown
        evaluate(None, dataset, jpeg=30, progress=False)
    # ×1: no scale's folder, and LR_bicubic/ (super-resolution's inputs) unnamed
    no_scale = said.replace(str(dataset / "LR_bicubic" / "X2"), str(dataset / "LR"))
    no_scale = no_scale.replace("LR/ and LR_bicubic/ are not", "LR/ is not")
    assert [r.getMessage() for r in caplog.records] == [no_scale]


def test_another_images_input_is_no_naming_hint(tmp_path):
    """`img_1_2x2.png` is image `img_1_2`'s input: for a missing `img_1x2.png` it was pointed out as `img_1`'s input
    named otherwise (rename it, and `img_1_2` lost its own); it is no hint now, a file named otherwise still is."""
    (hr := tmp_path / "Set" / "HR").mkdir(parents=True)
    (lr_dir := tmp_path / "LR").mkdir()
    for name in ("img_1", "img_1_2"):
        Image.new("RGB", (8, 8)).save(hr / f"{name}.png")
    Image.new("RGB", (4, 4)).save(lr_dir / "img_1_2x2.png")
    looked = f"no LR image for img_1 in {lr_dir} (looked for img_1 / img_1x2.*)"
    with pytest.raises(FileNotFoundError) as err:
        load_samples(tmp_path / "Set", lr_dir, scale=2)
    assert str(err.value) == looked
    Image.new("RGB", (4, 4)).save(lr_dir / "img_1-lr.png")
    with pytest.raises(FileNotFoundError) as err:
        load_samples(tmp_path / "Set", lr_dir, scale=2)
    assert str(err.value) == f"{looked}: it holds img_1-lr.png, named otherwise: name the inputs img_1.* or img_1x2.*"


def test_another_scales_inputs_named_with_a_capital_x_are_said_to_be_for_that_scale(tmp_path):
    """`babyX2.png` (×2 inputs) in the folder of a ×4 evaluation was pointed out as `baby`'s input named otherwise
    (rename it `babyx4`: the ×2 input taken for a ×4 one); the message says the scale it is for, as for `babyx2.png`.
    At ×2 it is still named otherwise."""
    (hr := tmp_path / "Set" / "HR").mkdir(parents=True)
    (lr_dir := tmp_path / "LR").mkdir()
    Image.new("RGB", (8, 8)).save(hr / "baby.png")
    Image.new("RGB", (4, 4)).save(lr_dir / "babyX2.png")
    with pytest.raises(FileNotFoundError) as err:
        load_samples(tmp_path / "Set", lr_dir, scale=4)
    looked = f"no LR image for baby in {lr_dir} (looked for baby / babyx4.*)"
    assert str(err.value) == f"{looked}: it holds ×2 inputs (babyX2), this evaluation is ×4"
    Image.new("RGB", (4, 4)).save(lr_dir / "babyx2.png")  # the authors' naming is the one shown
    Image.new("RGB", (1, 1)).save(lr_dir / "babyX8.png")
    with pytest.raises(FileNotFoundError) as err:
        load_samples(tmp_path / "Set", lr_dir, scale=4)
    assert str(err.value) == f"{looked}: it holds ×2 / ×8 inputs (babyx2), this evaluation is ×4"
    (lr_dir / "babyx2.png").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_samples(tmp_path / "Set", lr_dir, scale=2)
    looked = f"no LR image for baby in {lr_dir} (looked for baby / babyx2.*)"
    assert str(err.value) == f"{looked}: it holds ×8 inputs (babyX8), this evaluation is ×2"
    (lr_dir / "babyX8.png").unlink()
    with pytest.raises(FileNotFoundError) as err:
        load_samples(tmp_path / "Set", lr_dir, scale=2)
    assert str(err.value) == f"{looked}: it holds babyX2.png, named otherwise: name the inputs baby.* or babyx2.*"


def test_bad_inputs(small_set, tmp_path, capsys):
    dataset, model_dir = small_set
    lr_dir = tmp_path / "LR"
    lr_dir.mkdir()
    Image.new("RGB", (24, 20)).save(lr_dir / "a.png")  # a.png is 49×40: needs 24×20 — right
    Image.new("RGB", (20, 20)).save(lr_dir / "b.png")  # b.png is 40×44: needs 20×22
    args = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--lr-dir", str(lr_dir)]
    assert main(args) == 1
    assert "HR/LR size mismatch for b: HR 44×40×3 at ×2 needs LR 22×20×3" in capsys.readouterr().err
    Image.new("RGB", (20, 22)).save(lr_dir / "b.png")
    assert main(args) == 1
    assert capsys.readouterr().err.endswith(f"no LR image for c in {lr_dir} (looked for c / cx2.*)\n")
    Image.new("RGB", (9, 9)).save(lr_dir / "cx4.png")  # the folder of another scale's inputs (LR_bicubic/X4)
    Image.new("RGB", (6, 6)).save(lr_dir / "cx6.bmp")
    assert main(args) == 1
    expected = (
        f"no LR image for c in {lr_dir} (looked for c / cx2.*): it holds ×4 / ×6 inputs (cx4), this evaluation is ×2"
    )
    assert capsys.readouterr().err.endswith(expected + "\n")
    for other in ("cx4.png", "cx6.bmp"):
        (lr_dir / other).unlink()
    Image.new("L", (18, 18)).save(lr_dir / "c.png")  # c is grey: its LR image may be
    Image.new("L", (24, 20)).save(lr_dir / "a.png")  # a is not: scored on Y, the lost colour would not show
    assert main(args) == 1
    err = f"error: {lr_dir / 'a.png'} is greyscale, but its HR image is in colour: make the LR images from the HR ones"
    assert capsys.readouterr().err == err + "\n"
    Image.new("RGB", (24, 20)).save(lr_dir / "ax2.png")
    assert main(args) == 1
    assert f"error: a.png and ax2.png in {lr_dir} could each be the LR image of a: keep one" in capsys.readouterr().err
    (lr_dir / "a.png").unlink()
    assert main(args) == 0
    capsys.readouterr()
    assert main(["eval", "--model", "identity", "--dataset", str(dataset), "--scale", "2"]) == 1
    assert "needs a ×2 model, but the identity model is ×1" in capsys.readouterr().err
    assert main(["eval", "--model", "identity", "--dataset", str(tmp_path / "nowhere"), "--noise", "5"]) == 1
    assert "no such dataset folder" in capsys.readouterr().err
    (tmp_path / "tiny").mkdir()
    Image.new("RGB", (1, 1)).save(tmp_path / "tiny" / "dot.png")
    assert main(["eval", "--model", "identity", "--dataset", str(tmp_path / "tiny"), "--noise", "5"]) == 1
    assert "error: tiny/dot: SSIM needs images of at least 11×11 pixels" in capsys.readouterr().err
    assert main(["eval", "--model", str(model_dir), "--dataset", str(tmp_path / "tiny")]) == 1
    assert "error: tiny/dot: image of 1×1 is smaller than the scale factor 2" in capsys.readouterr().err
    with pytest.raises(ValueError, match="at most one"):
        resolve_degradation(None, noise=25, jpeg=10)
    with pytest.raises(ValueError, match="give a noise σ or a JPEG quality"):
        resolve_degradation(None)
    # the levels training takes, by the same check (σ 300 used to be scored), named by their options before any
    # model loads (a Hub model was downloaded first)
    for option, value, said in (
        ("--noise", "300", "--noise must be a σ in 0..255 grey levels, got 300.0"),
        ("--jpeg", "500", "--jpeg must be an integer quality in 1..100, got 500"),
        ("--scale", "0", "--scale must be an integer ≥ 2, got 0"),
    ):
        assert main(["eval", "--model", "org/not-loaded", "--dataset", str(dataset), option, value]) == 2
        assert capsys.readouterr().err == f"swinir-hf eval: error: {said}\n"
    with pytest.raises(ValueError, match=r"^jpeg must be an integer quality in 1..100, got 0$"):
        resolve_degradation(None, jpeg=0)


def test_float16_on_a_cpu_is_refused_before_the_set_is_read_not_as_an_images_problem(small_set, monkeypatch, capsys):
    """`--dtype float16` on a CPU was refused by the engine inside the loop, after the set was read and the baseline
    scored, as the first image's problem ("error: Set5/baby: float16 is only supported ..."), which it is not."""
    from swinir_hf.evaluation import benchmark
    from swinir_hf.inference.options import EngineOptions

    dataset, model_dir = small_set
    monkeypatch.setattr(benchmark, "load_samples", lambda *a, **k: pytest.fail("the set was read"))
    args = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--device", "cpu", "--dtype", "float16"]
    assert main(args) == 1
    assert (
        capsys.readouterr().err.splitlines()[-1]
        == "error: float16 is only supported on CUDA; use bfloat16 or float32 here"
    )
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    with pytest.raises(ValueError, match=r"^float16 is only supported on CUDA"):
        evaluate(model, dataset, engine=EngineOptions(dtype="float16", device="cpu"), progress=False)
    # A malformed device name was a RuntimeError from torch.device ("Invalid device string: 'gpu0'") once the
    # precision was checked first; it is the engine's ValueError saying which devices there are, before the set too.
    for dtype in ("float16", "float32"):
        with pytest.raises(ValueError, match=r"^unknown device 'gpu0': use cpu, cuda"):
            evaluate(model, dataset, engine=EngineOptions(dtype=dtype, device="gpu0"), progress=False)


def test_grey_model_reads_grey_images_as_grey_under_either_convention(shared, tiny_config, tmp_path):
    """A 1-channel JPEG model on classic5 with `grey_convention="rgb"`: its JPEG input scores what the authors'
    script gives (metric fixture `car_gray_q10_boats`). It took MATLAB Y of the grey image read as RGB,
    16 + 219/255 · grey, a paler image that scored 0.7 dB higher."""
    folder = tmp_path / "classic5"
    folder.mkdir()
    (folder / "boats.png").write_bytes((shared / "testsets/classic5/HR/boats.png").read_bytes())
    model = SwinIRForImageRestoration(tiny_config(upscale=1, upsampler=None, num_channels=1))
    case = next(
        c for c in json.loads((shared / "fixtures/metrics/cases.json").read_text()) if c["name"] == "car_gray_q10_boats"
    )
    result = evaluate(model, folder, jpeg=10, grey_convention="rgb", progress=False)
    got = result.scores["JPEG input"][0]
    assert got["psnr"] == pytest.approx(case["psnr"], abs=0.005)
    assert got["psnrb"] == pytest.approx(case["psnrb"], abs=0.005)
    assert got["ssim"] == pytest.approx(case["ssim"], abs=0.0005)
    assert result.grey_convention == "native"  # what was applied, as the caption says


def test_colour_denoiser_sees_per_channel_noise_on_grey_images(shared, tmp_path, caplog):
    """The authors' colour denoising script reads a grey file as colour and draws the noise per channel. Under
    "native" the noise was drawn on the grey channel and copied to R, G and B, which the colour model barely
    removed; now a colour denoiser is scored under "rgb" whatever the convention asked."""
    from swinir_hf.loading import load_default

    folder = tmp_path / "Set12"
    folder.mkdir()
    Image.open(shared / "testsets/Set12/HR/01.png").crop((0, 0, 64, 64)).save(folder / "01.png")
    model = load_default("denoise-color")
    with caplog.at_level(logging.WARNING, logger="swinir_hf.evaluation"):
        native = evaluate(model, folder, noise=25, grey_convention="native", progress=False)
    assert caplog.messages == [  # the convention asked is not the one applied: said (it was silent)
        f"--grey-convention native does not apply to {native.model}: a 1-channel model reads grey images as grey "
        "(native), a colour denoiser as RGB (rgb), as the authors' scripts do"
    ]
    rgb = evaluate(model, folder, noise=25, progress=False)
    assert native.grey_convention == "rgb" and native.scores == rgb.scores
    gain = rgb.scores[native.model][0]["psnr_y"] - rgb.scores["noisy input"][0]["psnr_y"]
    assert gain > 5  # denoised, not left noisy


def test_a_tile_that_models_run_at_different_sizes_is_refused(small_set, tiny_config):
    from swinir_hf.inference.options import EngineOptions

    dataset, _ = small_set
    models = [(f"w{w}", SwinIRForImageRestoration(tiny_config(upscale=2, window_size=w)).eval()) for w in (4, 8)]
    with pytest.raises(ValueError, match=r"^tile 12 runs as tiles of 8 and 12 px under these models' windows \(4 and"):
        evaluate_models(models, dataset, engine=EngineOptions(tile=12), progress=False)
    result = evaluate_models(models, dataset, engine=EngineOptions(tile=16), progress=False)
    assert result.engine.tile == 16


def test_table_and_json_say_how_the_model_ran(small_set, tmp_path, capsys):
    """--ensemble (SwinIR+), --tile, --dtype and --padding model change the figures: the caption and the JSON say
    so. Both read the same as a plain run before."""
    dataset, model_dir = small_set
    plain, ensembled = tmp_path / "plain.json", tmp_path / "ensemble.json"
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset), "--json", str(plain)]) == 0
    assert "model run with" not in capsys.readouterr().out
    args = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--json", str(ensembled)]
    # The tile and overlap used, not the ones asked: tiles are multiples of the window (4: --tile 10 runs 8-px ones,
    # which the report said were 10), and overlap by half a tile at most (the report said 10).
    assert main([*args, "--ensemble", "--tile", "10", "--tile-overlap", "10", "--dtype", "bfloat16"]) == 0
    caption = capsys.readouterr().out.splitlines()[0]
    assert caption.endswith("; model run with self-ensemble ×8 (SwinIR+), tiles of 8 px (overlap 4), bfloat16)")
    # The model's own padding, not the authors' (`restore`'s default pixels): said too.
    own = tmp_path / "own.json"
    args[-1] = str(own)
    assert main([*args, "--padding", "model"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("; model run with the model's own padding)")
    plain, ensembled, own = (json.loads(path.read_text()) for path in (plain, ensembled, own))
    paper = {"ensemble": False, "tile": None, "tile_overlap": None, "dtype": "float32", "padding": "authors"}
    assert plain["engine"] == paper and own["engine"] == {**paper, "padding": "model"}
    assert ensembled["engine"] == {**paper, "ensemble": True, "tile": 8, "tile_overlap": 4, "dtype": "bfloat16"}
    assert len({run["mean"]["tiny_x2"]["psnr"] for run in (plain, ensembled, own)}) == 3  # each its own figures
    # What reproduces them besides: the device, the versions, the model's sha256
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    assert plain["model_sha256"] == {"tiny_x2": model_fingerprint(model)} and plain["device"] == "cpu"
    assert plain["versions"]["swinir_hf"] == swinir_hf.__version__ and plain["versions"]["torch"] == torch.__version__
    identity = evaluate(None, dataset, noise=5, progress=False).to_dict()
    assert identity["engine"] is None and identity["device"] is None  # the identity runs nothing
    assert (identity["model_sha256"], identity["noise_seed"]) == ({"identity": "identity"}, 0)


def test_several_models_side_by_side(small_set, tiny_config, tmp_path, capsys, monkeypatch):
    """`--model A B` (or --model repeated) scores each model in one table under one baseline row; a repeated
    --model used to keep only the last one, silently."""
    dataset, model_dir = small_set
    other = tmp_path / "other_x2"
    SwinIRForImageRestoration(tiny_config(upscale=2)).save_pretrained(other)  # other random weights
    out = tmp_path / "both.json"
    args = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--model", str(other), "--json", str(out)]
    assert main([*args, "--verbose"]) == 0
    _, body = _parse_table(capsys.readouterr().out)
    assert [r[:2] for r in body[-3:]] == [["mean", "bicubic"], ["mean", "tiny_x2"], ["mean", "other_x2"]]
    report = json.loads(out.read_text())
    assert report["methods"] == ["bicubic", "tiny_x2", "other_x2"] and report["models"] == ["tiny_x2", "other_x2"]
    for name, folder in (("tiny_x2", model_dir), ("other_x2", other)):
        alone = evaluate(SwinIRForImageRestoration.from_pretrained(folder), dataset, model_name=name, progress=False)
        assert report["mean"][name] == pytest.approx(alone.mean(name), abs=1e-12)
    assert report["mean"]["tiny_x2"] != report["mean"]["other_x2"]
    assert main(["eval", "--model", str(model_dir), str(model_dir), "--dataset", str(dataset)]) == 1
    assert f"two models are called {str(model_dir)!r}: the same model given twice" in capsys.readouterr().err
    # two checkpoints of one name (step-N of two runs): told apart by their paths as given
    twin = tmp_path / "run2" / "tiny_x2"
    SwinIRForImageRestoration(tiny_config(upscale=2)).save_pretrained(twin)
    twins = tmp_path / "twins.json"
    assert main(["eval", "--model", str(model_dir), str(twin), "--dataset", str(dataset), "--json", str(twins)]) == 0
    capsys.readouterr()
    assert json.loads(twins.read_text())["models"] == [str(model_dir), str(twin)]
    # Names of one saved folder ("a/b" and "a_b"; where case is not told apart, as on macOS and Windows, "x" and "X")
    models = [(label, SwinIRForImageRestoration.from_pretrained(model_dir)) for label in ("tiny_x2", "TINY_X2")]
    saved = {"progress": False, "save_dir": tmp_path / "saved"}
    assert evaluate_models(models, dataset, **saved).methods == ["bicubic", "tiny_x2", "TINY_X2"]  # apart here
    monkeypatch.setattr(benchmark, "folds_case", lambda path: True)
    expected = "two models are called 'tiny_x2' and 'TINY_X2', whose saved images would share one folder"
    with pytest.raises(ValueError, match=expected):
        evaluate_models(models, dataset, **saved)
    assert evaluate_models(models, dataset, progress=False).methods == ["bicubic", "tiny_x2", "TINY_X2"]  # unsaved
    slashed = [("a/b", models[0][1]), ("a_b", models[1][1])]
    with pytest.raises(ValueError, match="two models are called 'a/b' and 'a_b', whose saved images would share"):
        evaluate_models(slashed, dataset, **saved)
    assert evaluate_models(slashed, dataset, progress=False).methods == ["bicubic", "a/b", "a_b"]  # nothing saved
    cased = tmp_path / "cased"  # images of names one file on such a disk
    shutil.copytree(dataset / "HR", cased)
    (cased / "a.png").rename(cased / "B.png")
    with pytest.raises(ValueError, match=r"cased holds images whose saved outputs would be one file \(B.png, b.png: "):
        evaluate_models(models[:1], cased, **saved)
    assert evaluate_models(models[:1], cased, progress=False).names == ["B", "b", "c"]
    # Refused by every process of a launch, each scoring its share: the names are the whole set's.
    read = {"lr_dir": None, "scale": 2, "saved_as": functools.partial(saved_as_one, folded=True)}
    for shard in ((0, 2), (1, 2)):
        with pytest.raises(ValueError, match=r"holds images whose saved outputs would be one file \(B.png, b.png: "):
            load_samples(cased, shard=shard, **read)
    grey = tmp_path / "grey_x2"  # a 1-channel model sees other inputs (BT.601 luma): not one table
    SwinIRForImageRestoration(tiny_config(upscale=2, num_channels=1)).save_pretrained(grey)
    assert main(["eval", "--model", str(model_dir), str(grey), "--dataset", str(dataset)]) == 1
    assert "evaluate them separately" in capsys.readouterr().err


def test_json_keeps_image_names_apart_from_method_names(small_set):
    """Each image's figures sit under `scores`, keyed by method, beside its `name`: a model called "name" (its
    folder's name) used to overwrite the image's name in the JSON."""
    dataset, _ = small_set
    result = evaluate(None, dataset, jpeg=30, model_name="name", progress=False)
    report = json.loads(json.dumps(result.to_dict()))
    assert report["methods"] == ["JPEG input", "name"]
    assert [image["name"] for image in report["images"]] == ["a", "b", "c"]
    for i, image in enumerate(report["images"]):
        assert set(image) == {"name", "scores"}
        assert image["scores"] == {m: result.scores[m][i] for m in result.methods}


def test_several_models_share_the_inputs_and_the_baseline(small_set, tiny_config, tmp_path, monkeypatch, capsys):
    """`--model A B` read the set, degraded every image and scored the baseline once per model; now once, and each
    model scores exactly what it scores alone (the seeded `--real` inputs too). An identity beside a colour
    denoiser (which applies the "rgb" grey convention) still shares a table on a set without grey images."""
    from swinir_hf.evaluation import benchmark

    dataset, model_dir = small_set
    other = tmp_path / "other_x2"
    SwinIRForImageRestoration(tiny_config(upscale=2)).save_pretrained(other)
    calls = {"load_samples": 0, "degrade": 0, "baseline": 0}

    def counted(name):
        real = getattr(benchmark, name)

        def spy(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        return spy

    for name in calls:
        monkeypatch.setattr(benchmark, name, counted(name))
    out = tmp_path / "both.json"
    args = ["eval", "--model", str(model_dir), str(other), "--dataset", str(dataset), "--real", "--json", str(out)]
    assert main(args) == 0 and capsys.readouterr().out.startswith("Mini, real ×2 (3 images")
    assert calls == {"load_samples": 1, "degrade": 3, "baseline": 3}
    report = json.loads(out.read_text())
    for name, folder in (("tiny_x2", model_dir), ("other_x2", other)):
        alone = evaluate(SwinIRForImageRestoration.from_pretrained(folder), dataset, real=True, model_name=name)
        assert report["mean"][name] == alone.mean(name)
        assert [i["scores"][name] for i in report["images"]] == alone.scores[name]
    assert report["mean"]["bicubic"] == alone.mean("bicubic")

    colour = tmp_path / "colour_x1"
    SwinIRForImageRestoration(tiny_config(upscale=1, upsampler=None)).save_pretrained(colour)
    (tmp_path / "RGB").mkdir()
    for name in ("a", "b"):
        (tmp_path / "RGB" / f"{name}.png").write_bytes((dataset / "HR" / f"{name}.png").read_bytes())
    args = ["eval", "--model", "identity", str(colour), "--dataset", str(tmp_path / "RGB"), "--noise", "15"]
    assert main([*args, "--tile", "8", "--json", str(tmp_path / "dn.json")]) == 0
    assert [r[1] for r in _parse_table(capsys.readouterr().out)[1]] == ["noisy input", "identity", "colour_x1"]
    # How the model ran is recorded though the identity, which runs nothing, comes first (it read null).
    assert json.loads((tmp_path / "dn.json").read_text())["engine"]["tile"] == 8
    x4 = tmp_path / "x4"  # told apart before any scoring; it was "not scored on the same inputs" after the run
    SwinIRForImageRestoration(tiny_config(upscale=4)).save_pretrained(x4)
    assert main(["eval", "--model", str(model_dir), str(x4), "--dataset", str(dataset)]) == 1
    scales = "x4 is scored at bicubic ×4 but tiny_x2 at bicubic ×2: give models of one scale"
    assert f"error: {scales}, or evaluate them separately" in capsys.readouterr().err


def test_deeper_than_8_bit_images_are_named_with_the_fix(tmp_path, capsys, monkeypatch):
    """A 16-bit image in a benchmark folder ended the run with "I;16 images are not supported for evaluation",
    naming neither the file nor what to do."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    folder = tmp_path / "deep"
    folder.mkdir()
    Image.fromarray(np.full((16, 16), 1000, dtype=np.uint16)).save(folder / "grey16.png")
    assert main(["eval", "--model", "identity", "--dataset", str(folder), "--noise", "5"]) == 1
    assert capsys.readouterr().err == (
        f"error: {folder / 'grey16.png'}: a 16-bit grey (I;16) image, but benchmarks are 8-bit: convert it to 8 bits "
        "first\n"
    )
    with pytest.raises(ValueError, match=r"^imagefolder:.*deep, row 0 \(grey16\): a 16-bit grey \(I;16\) image, but "):
        load_samples(f"imagefolder:{folder}")  # a dataset's row is named as well
    capsys.readouterr()
    (folder / "grey16.png").unlink()
    colour = np.full((16, 16, 3), 1000, dtype=np.uint16)
    import png

    with open(folder / "rgb16.png", "wb") as f:
        png.Writer(16, 16, greyscale=False, bitdepth=16).write(f, colour.reshape(16, 48))
    assert main(["eval", "--model", "identity", "--dataset", str(folder), "--noise", "5"]) == 1
    assert capsys.readouterr().err == (
        f"error: {folder / 'rgb16.png'}: a 16-bit colour image, but benchmarks are 8-bit: convert it to 8 bits first\n"
    )


def test_grey_jpeg_models_see_the_authors_rounding_of_y():
    """A 1-channel JPEG model on colour images sees MATLAB Y rounded as the authors' `bgr2ycbcr(y_only=True)` rounds
    it: from float32 levels / 255, so an exact half (these pixels, from LIVE1 and Set14) always rounds up there; it
    rounded either way here, as float64 noise fell (205, 217, 209 → 198 for the authors' 199)."""
    from swinir_hf.evaluation.benchmark import to_model_channels

    ties = [(172, 116, 70), (205, 217, 209), (127, 143, 49), (146, 124, 97), (116, 142, 83)]
    rng = np.random.default_rng(0)
    rgb = np.concatenate([np.array(ties, dtype=np.uint8), rng.integers(0, 256, (995, 3), dtype=np.uint8)])
    rgb = rgb.reshape(25, 40, 3)
    authors = np.dot(rgb[..., ::-1].astype(np.float32) / 255.0, [24.966, 128.553, 65.481]) + 16.0
    np.testing.assert_array_equal(to_model_channels(rgb, 1, "jpeg")[..., 0], authors.round().astype(np.uint8))
    assert to_model_channels(rgb, 1, "jpeg")[0, :5, 0].tolist() == [126, 199, 126, 126, 126]


def test_ctrl_c_ends_the_evaluation_with_one_line(small_set, tmp_path, monkeypatch, capsys):
    """The figures come at the end: an interrupted evaluation says so and leaves no JSON (status 130)."""
    from swinir_hf.evaluation import benchmark

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchmark, "evaluate_models", interrupted)
    dataset, model_dir = small_set
    out = tmp_path / "scores.json"
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset), "--json", str(out)]) == 130
    assert capsys.readouterr().err.endswith("interrupted: no table or --json written\n") and not out.exists()


def test_saved_images_are_the_outputs_scored(small_set, tiny_config, tmp_path, capsys):
    """`--save-images DIR`: each model's outputs as DIR/MODEL/IMAGE.png, the very pixels scored (their PSNR against
    the ground truth is the table's); a folder with other files in it is refused before any work unless
    --overwrite, which restores every image again."""
    dataset, model_dir = small_set
    other = tmp_path / "tiny_b"
    SwinIRForImageRestoration(tiny_config(upscale=2)).save_pretrained(other)
    out, report = tmp_path / "outputs", tmp_path / "scores.json"
    command = ["eval", "--model", str(model_dir), str(other), "--dataset", str(dataset), "--save-images", str(out)]
    assert main([*command, "--json", str(report)]) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == [
        f"{model}/{name}.png" for model in ("tiny_b", "tiny_x2") for name in "abc"
    ]
    figures = json.loads(report.read_text())["images"]
    _, samples = load_samples(dataset, grey_convention="rgb")  # as a colour model reads them
    for sample, image in zip(samples, figures, strict=True):
        gt, _ = degrade(sample.hr, Degradation("bicubic", 2))
        for model in ("tiny_x2", "tiny_b"):
            saved = np.asarray(Image.open(out / model / f"{sample.name}.png"))
            assert metrics.psnr(saved.reshape(gt.shape), gt, 2) == pytest.approx(image["scores"][model]["psnr"])
    capsys.readouterr()
    before = (out / "tiny_x2" / "a.png").stat().st_mtime_ns
    others = tmp_path / "others"
    (others / "notes").mkdir(parents=True)
    assert main([*command[:-1], str(others)]) == 1
    error = (
        f"error: {others} exists and is not empty; pass --overwrite to replace the images this evaluation saves (it "
        "holds no evaluation.json, eval's record of the outputs it saved: an earlier version's or other files, which "
        "stay where this evaluation saves none)\n"
    )
    assert capsys.readouterr().err == error
    assert main([*command, "--overwrite"]) == 0 and (out / "tiny_x2" / "a.png").stat().st_mtime_ns > before
    # A folder of an earlier version's outputs (no evaluation.json): --overwrite saves this one's, leaving the rest.
    (others / "old_model").mkdir()
    Image.new("RGB", (4, 4)).save(others / "old_model" / "a.png")
    assert main([*command[:-1], str(others), "--overwrite"]) == 0
    assert (others / "old_model" / "a.png").is_file() and (others / "tiny_x2" / "a.png").is_file()


def test_an_evaluation_run_again_reuses_its_saved_outputs(small_set, tiny_config, tmp_path, monkeypatch, capsys):
    """Interrupted, an evaluation with --save-images keeps the outputs made; the same command again restores only
    the other images (the same table as one whole run), and an evaluation that differs (a model's weights, the
    engine's options) is refused in that folder: its outputs would be scored as this one's."""
    from swinir_hf.evaluation import benchmark

    dataset, model_dir = small_set
    out, report = tmp_path / "outputs", tmp_path / "whole.json"
    other = tmp_path / "tiny_b"
    SwinIRForImageRestoration(tiny_config(upscale=2)).save_pretrained(other)
    command = ["eval", "--model", str(model_dir), str(other), "--dataset", str(dataset), "--no-progress"]
    assert main([*command, "--json", str(report)]) == 0
    restored, calls = benchmark._restored, []

    def restored_until_the_second(restorer, lq):
        calls.append(restorer)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return restored(restorer, lq)

    monkeypatch.setattr(benchmark, "_restored", restored_until_the_second)
    assert main([*command, "--save-images", str(out)]) == 130
    assert f"the images saved so far are in {out} (the same command again reuses them)" in capsys.readouterr().err
    assert len(list(out.rglob("*.png"))) == 1  # the first model's on the first image; the second's was interrupted
    calls.clear()
    monkeypatch.setattr(benchmark, "_restored", lambda *args: calls.append(args[0]) or restored(*args))
    resumed = tmp_path / "resumed.json"
    assert main([*command, "--save-images", str(out), "--json", str(resumed)]) == 0
    assert len(calls) == 2 * 3 - 1  # every output but the one saved
    whole, again = (json.loads(path.read_text()) for path in (report, resumed))
    assert again["images"] == whole["images"] and again["mean"] == whole["mean"]
    calls.clear()
    assert main([*command, "--save-images", str(out)]) == 0 and calls == []  # all reused
    # Options spelt out at the values they default to are the same evaluation (they were "different scale").
    spelt = ["--scale", "2", "--grey-convention", "rgb", "--tile", "0", "--tile-overlap", "16", "--padding", "authors"]
    assert main([*command, "--save-images", str(out), *spelt]) == 0 and calls == []
    # A folder saved before --padding, whose manifest names none, holds outputs padded as the authors' script pads.
    manifest = json.loads((out / "evaluation.json").read_text())
    del manifest["engine"]["padding"]
    (out / "evaluation.json").write_text(json.dumps(manifest))
    assert main([*command, "--save-images", str(out)]) == 0 and calls == []
    capsys.readouterr()

    for option in (["--tile", "8"], ["--padding", "model"]):
        assert main([*command, "--save-images", str(out), *option]) == 1
        assert capsys.readouterr().err == (
            f"error: {out} holds the outputs of another evaluation (different engine): choose another --save-images, "
            "or pass --overwrite to replace its images\n"
        )
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    with torch.no_grad():
        model.conv_first.bias.add_(0.01)
    model.save_pretrained(model_dir)
    assert main([*command, "--save-images", str(out)]) == 1
    assert "holds the outputs of another evaluation (different models)" in capsys.readouterr().err
    assert calls == []
    # --overwrite stopped part-way, then resumed: it left the earlier evaluation's images under its own manifest,
    # and the resumed run scored them (another model's outputs) as its own.
    (out / "notes.txt").write_text("mine")
    monkeypatch.setattr(benchmark, "_restored", restored_until_the_second)
    assert main([*command, "--save-images", str(out), "--overwrite"]) == 130
    said = f"the images saved so far are in {out} (the same command without --overwrite reuses them)"
    assert said in capsys.readouterr().err
    assert len(list(out.rglob("*.png"))) == 1 and (out / "notes.txt").read_text() == "mine"
    calls.clear()
    monkeypatch.setattr(benchmark, "_restored", lambda *args: calls.append(args[0]) or restored(*args))
    assert main([*command, "--save-images", str(out)]) == 0 and len(calls) == 2 * 3 - 1


def test_a_resume_finds_the_outputs_an_earlier_version_saved(small_set, tmp_path, monkeypatch, capsys):
    """Versions before `portable_name` saved outputs with only "/" replaced in names (DIR/tiny:x2/e:f.png); this
    version's names replace ":" too (DIR/tiny_x2/e_f.png). Resumed, it restored that image again and left the
    earlier file behind. Found now: an earlier output is reused and renamed to this version's name, unless a file
    has that name (then reused where it is, neither replaced); --overwrite removes the earlier names' outputs too (a
    resume after a stopped overwrite took them as its own)."""
    from swinir_hf.evaluation import benchmark

    dataset, model_dir = small_set
    (dataset / "HR" / "a.png").rename(dataset / "HR" / "e:f.png")
    model = tmp_path / "tiny:x2"
    shutil.copytree(model_dir, model)
    out, report = tmp_path / "outputs", tmp_path / "first.json"
    command = ["eval", "--model", str(model), "--dataset", str(dataset), "--no-progress", "--save-images", str(out)]
    assert main([*command, "--json", str(report)]) == 0
    assert sorted(p.name for p in (out / "tiny_x2").iterdir()) == ["b.png", "c.png", "e_f.png"]
    (out / "tiny_x2").rename(out / "tiny:x2")  # as an earlier version named them
    (out / "tiny:x2" / "e_f.png").rename(out / "tiny:x2" / "e:f.png")
    _recorded_by_an_earlier_version(out)
    saved = (out / "tiny:x2" / "e:f.png").read_bytes()
    restored, calls = benchmark._restored, []
    monkeypatch.setattr(benchmark, "_restored", lambda *args: calls.append(args[0]) or restored(*args))
    again = tmp_path / "again.json"
    assert main([*command, "--json", str(again)]) == 0 and calls == []  # every output reused
    first, resumed = (json.loads(path.read_text()) for path in (report, again))
    assert resumed["images"] == first["images"] and resumed["mean"] == first["mean"]
    assert not (out / "tiny:x2").exists() and (out / "tiny_x2" / "e_f.png").read_bytes() == saved
    # A file of this version's name that is no output of the image: the earlier one reused, and both kept.
    (out / "tiny:x2").mkdir()
    (out / "tiny_x2" / "e_f.png").rename(out / "tiny:x2" / "e:f.png")
    (out / "tiny_x2" / "e_f.png").write_bytes(b"not a PNG")
    assert main(command) == 0 and calls == []
    assert (out / "tiny:x2" / "e:f.png").read_bytes() == saved
    assert (out / "tiny_x2" / "e_f.png").read_bytes() == b"not a PNG"
    capsys.readouterr()
    monkeypatch.setattr(benchmark, "_restored", lambda *args: 1 / 0)  # stopped before any output is saved
    with pytest.raises(ZeroDivisionError):
        main([*command, "--overwrite", "--tile", "8"])
    assert list(out.rglob("*.png")) == []


def _recorded_by_an_earlier_version(out: Path) -> None:
    """Make out/evaluation.json the record an earlier version wrote: without the mark of this version's names."""
    record = json.loads((out / "evaluation.json").read_text())
    del record["saved_names"]
    (out / "evaluation.json").write_text(json.dumps(record))


def test_a_folder_marked_by_overwrite_is_resumed_without_the_files_it_held(small_set, tmp_path, monkeypatch):
    """A folder without evaluation.json held DIR/tiny:x2/e:f.png, no output of this evaluation (another's, saved by
    an earlier version); `--overwrite` wrote the record and stopped before saving e:f; the same command without it
    then took that file, under an earlier version's name, as e:f's output, and renamed it into DIR/tiny_x2. Only a
    record an earlier version wrote (without this version's mark) has outputs under those names; and only there
    does --overwrite remove them. Such a record still resumes with the same command."""
    from swinir_hf.evaluation import benchmark

    dataset, model_dir = small_set
    (dataset / "HR" / "a.png").rename(dataset / "HR" / "e:f.png")
    model = tmp_path / "tiny:x2"
    shutil.copytree(model_dir, model)
    first, out = tmp_path / "first", tmp_path / "outputs"
    command = ["eval", "--model", str(model), "--dataset", str(dataset), "--no-progress", "--save-images"]
    assert main([*command, str(first), "--json", str(tmp_path / "first.json")]) == 0
    ours = np.asarray(Image.open(first / "tiny_x2" / "e_f.png"))
    (out / "tiny:x2").mkdir(parents=True)
    Image.fromarray(255 - ours).save(out / "tiny:x2" / "e:f.png")  # of the shape e:f's output has
    foreign = (out / "tiny:x2" / "e:f.png").read_bytes()
    restored, calls = benchmark._restored, []

    def stopped(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(benchmark, "_restored", stopped)
    assert main([*command, str(out), "--overwrite"]) == 130
    monkeypatch.setattr(benchmark, "_restored", lambda *args: calls.append(args[0]) or restored(*args))
    assert main([*command, str(out), "--json", str(tmp_path / "resumed.json")]) == 0 and len(calls) == 3
    figures = (json.loads((tmp_path / name).read_text())["images"] for name in ("first.json", "resumed.json"))
    assert next(figures) == next(figures)
    assert np.array_equal(np.asarray(Image.open(out / "tiny_x2" / "e_f.png")), ours)
    assert (out / "tiny:x2" / "e:f.png").read_bytes() == foreign
    # Another evaluation's --overwrite removes the outputs this record's are, not the file under the earlier name.
    monkeypatch.setattr(benchmark, "_restored", stopped)
    assert main([*command, str(out), "--overwrite", "--tile", "8"]) == 130
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["tiny:x2/e:f.png"]
    monkeypatch.setattr(benchmark, "_restored", lambda *args: calls.append(args[0]) or restored(*args))
    calls.clear()
    assert main([*command, str(out), "--tile", "8"]) == 0 and len(calls) == 3
    # A record an earlier version wrote is this evaluation's all the same: resumed, every output reused.
    _recorded_by_an_earlier_version(out)
    calls.clear()
    assert main([*command, str(out), "--tile", "8"]) == 0 and calls == []


def test_several_sets_resume_a_set_folder_an_earlier_version_named(small_set, tmp_path, monkeypatch, capsys):
    """Of several sets, an earlier version saved a set named "x:y" in DIR/x:y: resumed where it is (this version
    names it DIR/x_y), not scored again into a second folder."""
    from swinir_hf.evaluation import benchmark

    dataset, model_dir = small_set
    other = tmp_path / "x:y"
    shutil.copytree(dataset, other)
    out = tmp_path / "outputs"
    command = ["eval", "--model", str(model_dir), "--dataset", str(dataset), str(other), "--no-progress"]
    assert main([*command, "--save-images", str(out)]) == 0
    (out / "x_y").rename(out / "x:y")
    restored, calls = benchmark._restored, []
    monkeypatch.setattr(benchmark, "_restored", lambda *args: calls.append(args[0]) or restored(*args))
    assert main([*command, "--save-images", str(out)]) == 0 and calls == []
    assert sorted(p.name for p in out.iterdir()) == ["Mini", "x:y"]
    capsys.readouterr()


def test_names_saved_as_one_file_are_refused_saying_why(small_set, tmp_path, capsys):
    """`e:f.png` and `e_f.png` are one saved file (as any system takes names): refused, saying the name they share,
    why, and what to do; a name column's rows and models' labels likewise."""
    import datasets

    dataset, model_dir = small_set
    hr = dataset / "HR"
    (hr / "a.png").rename(hr / "e:f.png")
    (hr / "b.png").rename(hr / "e_f.png")
    command = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--no-progress"]
    assert main([*command, "--save-images", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == (
        f"error: {hr} holds images whose saved outputs would be one file (e:f.png, e_f.png: both saved as e_f: `/`, "
        "`:`, the other characters Windows refuses and control characters become `_`): rename them apart, or score "
        "them without saving their outputs\n"
    )
    assert main(command) == 0  # nothing saved: both scored
    capsys.readouterr()
    # Of two pairs, the message named the first two files (a:b, a:c), which are not one file, and said case was
    # not told apart: two that clash are named, and their reason.
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    for name in ("a:b", "a:c", "a_b", "a_c"):
        shutil.copy(hr / "c.png", pairs / f"{name}.png")
    with pytest.raises(ValueError) as refused:
        load_samples(pairs, saved_as=functools.partial(saved_as_one, folded=False))
    assert str(refused.value) == (
        f"{pairs} holds images whose saved outputs would be one file (a:b.png, a:c.png, a_b.png, a_c.png: a:b.png "
        "and a_b.png both saved as a_b: `/`, `:`, the other characters Windows refuses and control characters become "
        "`_`): rename them apart, or score them without saving their outputs"
    )
    files = [str(hr / name) for name in ("e:f.png", "e_f.png", "c.png")]
    ds = datasets.Dataset.from_dict({"image": files, "name": ["e:f", "c", "e_f"]})
    ds.cast_column("image", datasets.Image()).save_to_disk(str(tmp_path / "named"))
    with pytest.raises(ValueError) as refused:
        evaluate(None, tmp_path / "named", jpeg=30, progress=False)
    assert str(refused.value) == (
        "the dataset's name column names rows 0 and 2 alike ('e:f', 'e_f'; the saved images and the table go by "
        "name, both saved as e_f: `/`, `:`, the other characters Windows refuses and control characters become `_`): "
        "make the names differ in more than that, or drop the column to name the rows by their files"
    )
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    with pytest.raises(ValueError) as refused:
        evaluate_models([("m:1", model), ("m_1", model)], dataset, progress=False, save_dir=tmp_path / "out")
    assert str(refused.value) == (
        "two models are called 'm:1' and 'm_1', whose saved images would share one folder (both saved as m_1: `/`, "
        "`:`, the other characters Windows refuses and control characters become `_`): give them labels that differ "
        "in more than that"
    )


def test_several_sets_are_scored_in_turn_as_each_alone(small_set, tmp_path, capsys, monkeypatch):
    from swinir_hf.evaluation import dataset_checks

    """`--dataset A B`: the models load once, each set gets the table (and figures) it gets alone, in the order
    given; --json holds the list of their reports, --save-images DIR their outputs in DIR/A and DIR/B, each resumed
    on its own. An --lr-dir (one set's inputs) or two sets of one name saving images are refused up front."""
    dataset, model_dir = small_set
    other = tmp_path / "Other" / "HR"
    shutil.copytree(dataset / "HR", other)
    (other / "c.png").unlink()
    alone = []
    for one in (dataset, other):
        assert (
            main(["eval", "--model", str(model_dir), "--dataset", str(one), "--json", str(tmp_path / "one.json")]) == 0
        )
        alone.append((capsys.readouterr().out, json.loads((tmp_path / "one.json").read_text())))
        (tmp_path / "one.json").unlink()
    out, report = tmp_path / "outputs", tmp_path / "both.json"
    command = ["eval", "--model", str(model_dir), "--dataset", str(dataset), str(other.parent), "--no-progress"]
    assert main([*command, "--json", str(report), "--save-images", str(out)]) == 0
    assert capsys.readouterr().out == alone[0][0] + alone[1][0]
    from swinir_hf.evaluation import benchmark

    scored = benchmark.evaluate_models

    def stop_at_the_second_set(*args, **kwargs):
        if str(args[1]) == str(other.parent):
            raise KeyboardInterrupt
        return scored(*args, **kwargs)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(benchmark, "evaluate_models", stop_at_the_second_set)
        assert main([*command, "--json", str(tmp_path / "stopped.json")]) == 130
    stopped = capsys.readouterr()
    assert stopped.out == alone[0][0] and not (tmp_path / "stopped.json").exists()
    assert stopped.err.endswith("interrupted: no --json written (the tables above are of the sets done)\n")
    # Its own wall times, and its own command (each set's report records the one that made it)
    untimed = [figures | {"runtime": None, "command": None} for figures in json.loads(report.read_text())]
    assert untimed == [figures | {"runtime": None, "command": None} for _, figures in alone]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == [
        *(f"Mini/tiny_x2/{n}.png" for n in "abc"),
        *(f"Other/tiny_x2/{n}.png" for n in "ab"),
    ]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("evaluation.json")) == [
        "Mini/evaluation.json",
        "Other/evaluation.json",
    ]
    before = (out / "Other" / "tiny_x2" / "a.png").stat().st_mtime_ns
    assert main([*command, "--save-images", str(out)]) == 0  # resumed: every output reused
    assert (out / "Other" / "tiny_x2" / "a.png").stat().st_mtime_ns == before
    capsys.readouterr()
    assert main([*command, "--lr-dir", str(dataset / "HR")]) == 2
    said = "--lr-dir holds one set's inputs: give one --dataset with it"
    assert capsys.readouterr().err == f"swinir-hf eval: error: {said}\n"
    twin = tmp_path / "elsewhere" / "Mini"
    shutil.copytree(dataset, twin)
    assert main([*command[:-2], str(twin), "--save-images", str(tmp_path / "twins")]) == 2
    assert capsys.readouterr().err == (
        "swinir-hf eval: error: two sets named Mini would share --save-images/Mini: evaluate them apart\n"
    )
    shutil.move(twin, twin.with_name("mini"))
    assert main([*command[:-2], str(twin.with_name("mini")), "--save-images", str(tmp_path / "cased")]) == 0
    capsys.readouterr()
    monkeypatch.setattr(dataset_checks, "folds_case", lambda path: True)  # as on macOS' and Windows' disks
    assert main([*command[:-2], str(twin.with_name("mini")), "--save-images", str(tmp_path / "twins")]) == 2
    assert capsys.readouterr().err == (
        "swinir-hf eval: error: two sets named Mini and mini would share --save-images/Mini: evaluate them apart\n"
    )


def test_outputs_that_cannot_be_written_are_refused_before_any_work(small_set, tmp_path, monkeypatch, capsys):
    """An unwritable --json or --save-images folder is one line before the models load (not an OSError after the
    whole evaluation); the JSON is written whole or not at all (an earlier one survives a failed write), and a
    failed write is one line too."""
    import os

    from swinir_hf.storage import atomic_writes

    dataset, model_dir = small_set
    report = tmp_path / "scores.json"
    command = ["eval", "--model", str(model_dir), "--dataset", str(dataset)]
    with monkeypatch.context() as m:
        m.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)  # tmp_path alone is read-only
        assert main([*command, "--json", str(report)]) == 1
        assert capsys.readouterr().err == (
            f"error: cannot write into output folder {tmp_path}: choose another --json\n"
        )
        assert main([*command, "--save-images", str(tmp_path / "images")]) == 1
        assert capsys.readouterr().err == (
            f"error: cannot write into output folder {tmp_path / 'images'} ({tmp_path} is not writable): choose "
            "another --save-images\n"
        )
    report.write_text("earlier")

    def disk_full(self, text, **options):
        self.open("w", **options).write(text[:10])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full)
    with pytest.raises(OSError) as err:
        atomic_writes.write_text_file(report, "new figures")
    assert str(err.value) == f"cannot write {report}: No space left on device"
    # The disk fills up during the evaluation: the table is printed, the JSON's failure is one line.
    capsys.readouterr()
    assert main([*command, "--json", str(report), "--overwrite"]) == 1
    out, err = capsys.readouterr()
    assert "| mean | tiny_x2 |" in out and err == f"error: cannot write {report}: No space left on device\n"
    monkeypatch.undo()
    assert report.read_text() == "earlier" and sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [
        "scores.json"
    ]


def test_grey_with_alpha_and_1_bit_images_stay_grey_under_the_native_convention(tmp_path):
    """Grey + alpha and black-and-white (1-bit) files are grey images: read as (H, W, 1), alpha dropped, under
    "native"; as (H, W, 3) with three equal channels under "rgb"."""
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(np.dstack([grey, 255 - grey])).save(tmp_path / "a.png")  # LA
    bits = np.indices((6, 8)).sum(0) % 2 == 1
    Image.fromarray(bits).save(tmp_path / "b.png")  # mode 1
    assert Image.open(tmp_path / "a.png").mode == "LA" and Image.open(tmp_path / "b.png").mode == "1"
    _, native = load_samples(tmp_path)
    assert [(s.name, s.hr.shape) for s in native] == [("a", (6, 8, 1)), ("b", (6, 8, 1))]
    np.testing.assert_array_equal(native[0].hr[..., 0], grey)
    np.testing.assert_array_equal(native[1].hr[..., 0], bits * np.uint8(255))
    _, rgb = load_samples(tmp_path, grey_convention="rgb")
    for sample, expected in zip(rgb, (grey, bits * np.uint8(255)), strict=True):
        np.testing.assert_array_equal(sample.hr, np.repeat(expected[..., None], 3, axis=-1))


def test_saving_images_on_a_full_disk_is_one_line_naming_the_file(small_set, tmp_path, capsys, monkeypatch):
    """`--save-images` on a disk that fills up ended in an OSError traceback (`--json` alone was one line)."""
    dataset, model_dir = small_set
    out = tmp_path / "outputs"

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset), "--save-images", str(out)]) == 1
    err = capsys.readouterr().err
    assert err == f"error: cannot write {out / 'tiny_x2' / 'a.png'}: No space left on device\n"
    # No temporary file left; the folder stays marked as this evaluation's, for the rerun to resume.
    assert "Traceback" not in err and [p.name for p in out.rglob("*") if p.is_file()] == ["evaluation.json"]


def test_odd_names_in_a_set_and_a_model_given_as_dot_dot(small_set, tmp_path, capsys, monkeypatch):
    """`--model ..` was named "..": its images went to --save-images/../ (`--model .` named none: into the folder
    itself, over the set's own images with --overwrite); a macOS `._a.png` stopped the run; `a.png` beside `a.jpg`
    shared one row name and one saved image; a file name that is not valid UTF-8 stopped it."""
    dataset, model_dir = small_set
    hr = dataset / "HR"
    (hr / "._a.png").write_bytes(b"\0" * 4096)  # macOS' resource fork of a.png: not an image
    odd = os.fsdecode(b"d\xff")  # a name that is not valid UTF-8
    shutil.copy(hr / "b.png", hr / f"{odd}.png")
    nested = model_dir / "sub"
    nested.mkdir()
    monkeypatch.chdir(nested)
    out = tmp_path / "saved"
    assert main(["eval", "--model", "..", "--dataset", str(dataset), "--save-images", str(out)]) == 0
    assert "| tiny_x2 |" in capsys.readouterr().out
    saved = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.png") if "HR" not in p.parts)
    assert saved == [f"saved/tiny_x2/{name}.png" for name in sorted(["a", "b", "c", odd])]
    Image.open(hr / "a.png").convert("RGB").save(hr / "a.jpg")
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset)]) == 1
    assert capsys.readouterr().err.endswith(f"error: {hr} holds images of one name: a.jpg, a.png: keep one of each\n")


def test_an_image_name_with_a_pipe_or_a_newline_keeps_to_its_row_of_the_table(small_set, capsys):
    """`--verbose`'s table: a `|` in an image's name ended its cell (the figures in the wrong columns), a newline
    started a row of the name's own; escaped, as Markdown (`\\|`) and as messages (`shown_name`) escape them."""
    dataset, model_dir = small_set
    hr = dataset / "HR"
    shutil.copy(hr / "b.png", hr / "x|y\n| mean | forged |\tz.png")
    (hr / "c.png").unlink()
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset), "--verbose"]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in table[2:]]  # unescaped `|`
    odd = "x\\|y\\n\\| mean \\| forged \\|\\tz"
    assert [row[:2] for row in rows] == [[n, m] for n in ("a", "b", odd, "mean") for m in ("bicubic", "tiny_x2")]
    assert all(len(row) == 6 for row in rows) and rows[4][2:] == rows[2][2:]  # its figures: b's, in their columns


def test_tiles_without_overlap_are_warned_of_once_per_set_not_per_image(small_set, caplog):
    """The engine's tile_overlap=0 warning came once per image: eval made a restorer for each."""
    dataset, model_dir = small_set
    args = ["eval", "--model", str(model_dir), "--dataset", str(dataset), "--tile", "8", "--tile-overlap", "0"]
    with caplog.at_level(logging.WARNING, logger="swinir_hf.inference"):
        assert main([*args, "--no-progress"]) == 0
    assert sum(m.startswith("tile_overlap=0: neighbouring tiles are not blended") for m in caplog.messages) == 1


def test_a_hub_datasets_row_naming_a_file_of_this_machine_is_not_scored(small_set, tmp_path, monkeypatch):
    """As `restore --dataset` refuses it: a Hub dataset's row {"bytes": None, "path": "/home/me/x.png"} had that file
    read, scored and, with --save-images, its restored copy written (a reviewer's find)."""
    import datasets

    from swinir_hf.evaluation import testsets

    dataset, _ = small_set
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    secret = dataset / "HR" / "a.png"
    rows = datasets.Dataset.from_dict({"hr": [str(secret)]}).cast_column("hr", datasets.Image())
    monkeypatch.setattr(testsets, "load_image_dataset", lambda *a, **k: rows)  # as if downloaded from the Hub
    with pytest.raises(ValueError) as err:
        testsets.load_samples("someone/photos", scale=2)
    assert str(err.value) == (
        f"someone/photos, row 0: its hr column names a file of this machine ({secret}) instead of holding its image: "
        "a Hub dataset's files are read from the Hub's caches only"
    )
    (tmp_path / "cache").mkdir()
    shutil.copy(secret, tmp_path / "cache" / "a.png")  # where the Hub's files are: read
    cached = datasets.Dataset.from_dict({"hr": [str(tmp_path / "cache" / "a.png")]}).cast_column("hr", datasets.Image())
    monkeypatch.setattr(testsets, "load_image_dataset", lambda *a, **k: cached)
    assert [s.name for s in testsets.load_samples("someone/photos", scale=2)[1]] == ["a"]


def test_eval_into_a_log_writes_count_lines_not_a_bar(small_set, clock, capsys):
    dataset, model_dir = small_set
    assert main(["eval", "--model", str(model_dir), "--dataset", str(dataset)]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.err and captured.out.startswith("Mini, bicubic ×2")
    lines = captured.err.splitlines()
    assert lines and all(re.fullmatch(r"evaluating Mini: \d of 3 images \(\d+%\), .* elapsed.*", x) for x in lines)
    assert len(lines) <= 10 * len(clock) / 30
    assert progress_lines._innermost() is None  # the loop's end closed them

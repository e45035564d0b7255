"""Fine-tuning on one's own images, the config side: paired ×1 data and its validation, the refusals of settings a
run would not read, folder names on the command line, and what `--init-from` keeps of the source's model."""

from __future__ import annotations

import shlex
import shutil

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from swinir_hf import SwinIRForImageRestoration
from swinir_hf.training import cli
from swinir_hf.training.card import training_card
from swinir_hf.training.cli import build_parser, parse_command_line
from swinir_hf.training.config import TrainingConfig, read_config_file
from swinir_hf.training.data import build_dataset, build_validation
from swinir_hf.training.loop import run_training
from swinir_hf.training.sections import ModelArgs, TrainArgs
from swinir_hf.training.short_options import ALIASES
from swinir_hf.training.state import Progress
from swinir_hf.training.warm_start import InitReport, build_model


def _pairs(folder, names, size):
    """Clean images and their noisy versions, by name: `folder/clean/NAME.png`, `folder/noisy/NAME.png`."""
    rng = np.random.default_rng(0)
    for kind in ("clean", "noisy"):
        (folder / kind).mkdir(parents=True)
    for name in names:
        clean = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        noisy = np.clip(clean + rng.normal(0, 10, clean.shape), 0, 255).astype(np.uint8)
        Image.fromarray(clean).save(folder / "clean" / f"{name}.png")
        Image.fromarray(noisy).save(folder / "noisy" / f"{name}.png")


def test_paired_x1_validation_takes_val_lr_and_without_it_is_refused_before_the_images_are_read(tmp_path, tiny_config):
    # A ×1 model on one's own noisy / clean pairs: validation made its inputs by bicubic downscaling, and failed with
    # "degradation 'bicubic' needs a super-resolution model (scale >= 2)", after reading every training image.
    _pairs(tmp_path / "val", ["v"], 24)
    config = tiny_config(upscale=1, upsampler="")
    raw = {"train": [str(tmp_path / "missing")], "train_lr": ["x"], "degradation": "paired"}
    cfg = TrainingConfig.from_dict({"data": {**raw, "val": str(tmp_path / "val" / "clean")}})
    refusal = (
        r"^data.val: a ×1 model trained on paired images is validated on pairs too: give data.val_lr \(the inputs of "
        r"data.val's images, paired by file name\), or pass --data.val null$"
    )
    for build in (build_validation, build_dataset):  # the dataset's: before data.train (missing here) is read
        with pytest.raises(ValueError, match=refusal):
            build(cfg, config)
    paired = {**raw, "val": str(tmp_path / "val" / "clean"), "val_lr": str(tmp_path / "val" / "noisy")}
    (image,) = build_validation(TrainingConfig.from_dict({"data": paired}), config)
    noisy = np.asarray(Image.open(tmp_path / "val" / "noisy" / "v.png"))
    assert image.hr.shape == (24, 24, 3) and np.array_equal(np.rint(image.lr * 255), noisy)


def test_every_level_a_degradation_does_not_read_is_named_in_one_refusal():
    # A denoising config turned to paired data took two refusals in turn: noise_sigma, then val_noise_sigma.
    argv = ["--config", "default_color_dn", "--data.degradation", "paired", "data.train=[hr]", "data.train_lr=[lr]"]
    with pytest.raises(ValueError) as err:
        parse_command_line(argv)
    assert str(err.value) == (
        "data.noise_sigma and data.val_noise_sigma are only read with degradation 'noise' (this config degrades with "
        "'paired'): pass --data.degradation noise, or drop them (--data.noise_sigma null --data.val_noise_sigma null)"
    )
    # one at its default on the command line (which the config alone would drop) and one of another kind
    with pytest.raises(ValueError) as err:
        parse_command_line(["--config", "tiny_sr_x2", "--data.noise_sigma=25", "--data.val_jpeg_quality", "30"])
    assert str(err.value) == (
        "data.noise_sigma (degradation 'noise') and data.val_jpeg_quality (degradation 'jpeg') are only read with "
        "their degradation (this config degrades with 'bicubic'): drop them (--data.noise_sigma null "
        "--data.val_jpeg_quality null)"
    )
    argv += ["--data.noise_sigma", "null", "--data.val_noise_sigma", "null"]
    assert parse_command_line(argv)[0].data.noise_sigma is None


@pytest.mark.parametrize(
    ("name", "written", "hint"),
    [
        ("Trip, 2024", "[{}]", "quote a folder name holding ', ' or ': ' inside the list"),
        ("Holiday: beach", "[{}]", "quote a folder name holding ', ' or ': ' inside the list"),
        ("Trip, 2024", "{}", "a list"),
    ],
)
def test_a_folder_name_yaml_reads_otherwise_is_quoted_in_the_hint(tmp_path, name, written, hint):
    # `[/data/Trip, 2024]` read as two entries ("expected list[str], got 2024"), `[/data/Holiday: beach]` as a mapping
    # (and a hint of '[{...}]'); the hint now quotes the folder, as the shell takes it
    folder = tmp_path / name
    folder.mkdir()
    with pytest.raises(ValueError) as err:
        parse_command_line(["--config", "tiny_sr_x2", "--data.train", written.format(folder)])
    quoted = shlex.quote(f'["{folder}"]')
    assert str(err.value).startswith("data.train: expected list[str], got ")
    assert str(err.value).endswith(f" ({hint}: {quoted})")
    cfg, _ = parse_command_line(["--config", "tiny_sr_x2", "--data.train", shlex.split(quoted)[0]])
    assert cfg.data.train == [str(folder)]


def test_a_bracketed_list_that_is_no_one_folder_is_quoted_entry_by_entry():
    with pytest.raises(ValueError, match=r"""inside the list: '\["a: b", c\]'\)$"""):
        parse_command_line(["--config", "tiny_sr_x2", "--data.train_lr=[a: b, c]"])


def test_init_from_names_the_config_fields_that_differ_and_refuses_other_heads(tmp_path, tiny_config):
    # `--model.preset null` took the config file's num_heads: the attention weights loaded, by shape, into other heads
    source = SwinIRForImageRestoration(tiny_config(embed_dim=16, num_heads=[2], drop_path_rate=0.1))
    source.save_pretrained(tmp_path / "src")
    init = str(tmp_path / "src")
    model, report = build_model(ModelArgs(init_from=init, config={"drop_path_rate": 0.0}), TrainArgs())
    assert report.differences == ["drop_path_rate 0.1 → 0.0"] and report.reinitialised == []
    assert str(report).splitlines()[1] == "  this model's config differs from the source's: drop_path_rate 0.1 → 0.0"
    heads = {"num_heads": [4], "drop_path_rate": 0.0}
    with pytest.raises(ValueError) as err:
        build_model(ModelArgs(init_from=init, config=heads), TrainArgs())
    assert str(err.value) == (
        f"model.init_from: {init}'s attention weights fit this model's by shape, not its num_heads ([2] → [4], from "
        "model.config or model.preset): loaded, they would be split into other heads, a different model. Keep the "
        "source's heads (--model.config '{drop_path_rate: 0.0}'), or drop model.init_from (--init-from) to train "
        "from scratch"
    )
    # with a preset, the heads may be the preset's: the fix sets the source's
    body = {k: getattr(source.config, k) for k in ("embed_dim", "depths", "window_size", "image_size", "num_feat")}
    with pytest.raises(ValueError, match=r"Keep the source's heads \(--model.config '\{.*, num_heads: \[2\]\}'\)"):
        build_model(ModelArgs(preset="lightweight_sr", scale=2, init_from=init, config=heads | body), TrainArgs())
    # A record of a later swinir-hf, which reports more, still reads.
    recorded = {"init_from": init, "report": {**vars(report), "later": 1}}
    assert InitReport.recorded(recorded).differences == report.differences


@pytest.mark.parametrize(("upsampler", "scale"), [(None, 1), ("pixelshuffle", 2)])
def test_a_grey_model_from_a_colour_one_restores_as_it_does_rgb_averaged(tmp_path, tiny_config, upsampler, scale):
    # conv_first / conv_last were re-initialised: a grey model from denoise-color started with a random head
    torch.manual_seed(0)
    fields = {"upscale": scale, "upsampler": upsampler, "num_feat": 8, "rgb_mean": [0.4, 0.4, 0.4], "img_range": 2.0}
    colour = SwinIRForImageRestoration(tiny_config(**fields)).eval()
    with torch.no_grad():
        for weights in colour.parameters():  # the biases too, which start at 0
            weights.add_(torch.randn_like(weights) * 0.05)
    colour.save_pretrained(tmp_path / "colour")
    args = ModelArgs(init_from=str(tmp_path / "colour"), config={"num_channels": 1, "img_range": 1.0})
    grey, report = build_model(args, TrainArgs())
    ends = ["conv_first.bias", "conv_first.weight", "conv_last.bias", "conv_last.weight"]
    assert report.to_grey == ends and report.reinitialised == [] == report.dropped
    assert grey.config.rgb_mean == [0.4] and "of them made grey from the colour model's" in str(report)
    image = torch.rand(1, 1, 20, 20)
    with torch.no_grad():
        expected = colour(image.repeat(1, 3, 1, 1)).reconstruction.mean(1, keepdim=True)
        torch.testing.assert_close(grey.eval()(image).reconstruction, expected, atol=2e-6, rtol=0)


def test_a_grey_model_from_a_colour_one_with_rgb_means_differs_only_near_the_border(tmp_path, tiny_config):
    colour = SwinIRForImageRestoration(tiny_config(upscale=1, upsampler=None)).eval()  # DIV2K's RGB mean
    colour.save_pretrained(tmp_path / "colour")
    grey, _ = build_model(ModelArgs(init_from=str(tmp_path / "colour"), config={"num_channels": 1}), TrainArgs())
    assert grey.config.rgb_mean == [round(sum(colour.config.rgb_mean) / 3, 6)]
    image = torch.rand(1, 1, 24, 24)
    with torch.no_grad():
        difference = grey.eval()(image).reconstruction - colour(image.repeat(1, 3, 1, 1)).reconstruction.mean(1)
    assert difference.abs().max() < 1e-2 and difference.abs().mean() < 1e-3
    assert yaml.safe_dump(grey.config.rgb_mean)  # a plain list: saved in config.json as such


# A value for each short option's field that a run takes as it is.
_GIVEN = {
    "init_from": "runs/classical_sr_x2",
    "init_discriminator_from": "runs/gan",
    "output_dir": "runs/mine",
    "license": "mit",
    "license_name": "my-license-1.0",
    "license_link": "LICENSE",
}
# The other fields a value needs to be taken: a license name and link go with license other only, and together.
_GAN = ["--gan.enabled", "true", "--gan.allow_random_vgg", "true"]  # a gan.* field is read in a GAN run only
_WITH = {
    "init_discriminator_from": _GAN,
    "license_name": ["--train.license", "other", "--train.license_link", "LICENSE"],
    "license_link": ["--train.license", "other", "--train.license_name", "my-license-1.0"],
}


def _parsed(argv: list[str]) -> dict | str:
    """The config `argv` (after tiny_sr_x2) makes, or its refusal."""
    try:
        return parse_command_line(["--config", "tiny_sr_x2", *argv])[0].to_dict()
    except ValueError as err:
        return str(err)


def test_each_short_option_sets_its_field_as_its_dotted_option_does(monkeypatch):
    # `--init-from ""` was dropped (the config's weights, or none, went on), while `--model.init_from ""` set "" and
    # trained from scratch; `--output-dir ""` and `--license ""` reached their fields. Now each spelling of a field
    # makes the same config, or the same refusal: an empty init_from, as an empty output_dir, is refused.
    parser = build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda prog: parser)  # built once: 0.3 s each, 26 command lines
    for option, _, section, field in ALIASES:
        (spellings,) = [a.option_strings for a in parser._actions if option in a.option_strings]
        for value in ("", _GIVEN[field]):
            context = _WITH.get(field, [])
            dotted = _parsed([*context, f"--{section}.{field}", value])
            assert all(_parsed([*context, spelling, value]) == dotted for spelling in spellings), (option, value)
            if value:
                assert dotted[section][field] == value
            else:
                assert isinstance(dotted, str) and f"{section}.{field}" in dotted.split(":")[0], dotted
    assert _parsed(["--init-from", ""]) == (
        "model.init_from is empty (an unset shell variable?): name the starting weights, or null to train from scratch"
    )
    # Given with its dotted option at another value, an empty one too, it is refused as any other value is.
    assert _parsed(["--init-from", "", "--model.init_from", "x"]) == (
        "--init-from '' and --model.init_from x disagree: give one of them"
    )


def test_null_in_a_short_option_is_yaml_null_as_in_its_dotted_option(tmp_path, monkeypatch):
    # `--init-from null` named a folder "null" (a run failed to load it), while `--model.init_from null` trained from
    # scratch; `--license null` was refused as no Hub id and `--license-name null` named the terms "null".
    parser = build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda prog: parser)
    for option, _, section, field in ALIASES:
        (spellings,) = [a.option_strings for a in parser._actions if option in a.option_strings]
        context = _GAN if section == "gan" else []
        dotted = _parsed([*context, f"--{section}.{field}", "null"])
        if field == "output_dir":  # str: null is refused (test_null_is_yaml_null_in_every_option_taking_a_name)
            assert dotted == "train.output_dir takes a name, not null: give one (the default is runs/swinir)", dotted
        else:
            assert dotted[section][field] is None, (option, dotted)
        assert all(_parsed([*context, spelling, "null"]) == dotted for spelling in spellings), option
    raw = read_config_file("tiny_sr_x2")
    raw["model"]["init_from"] = "runs/classical_sr_x2"
    (tmp_path / "from_weights.yaml").write_text(yaml.safe_dump(raw))
    for null in (["--init-from", "null"], ["--init-from=null"], ["--init-from", "null", "--model.init_from", "null"]):
        cfg, _ = parse_command_line(["--config", str(tmp_path / "from_weights.yaml"), *null])
        assert cfg.model.init_from is None, null  # from scratch, not the config file's weights
    assert _parsed(["--init-from", "null", "--model.init_from", "x"]) == (
        "--init-from null and --model.init_from x disagree: give one of them"
    )


def test_null_is_yaml_null_in_every_option_taking_a_name(tmp_path, monkeypatch):
    # `--resume null` resumed from a checkpoint folder named null and `--push-to-hub null` pushed to a repo named null,
    # while `--init-from null` was null; `--train.output_dir null` / `-o null` trained into a folder named null (the
    # config file's `output_dir: null` failed with a traceback) and `--data.split null` read a split named null.
    started = []
    monkeypatch.setattr(cli, "run_training", lambda cfg, **options: started.append(options))
    for null in ("null", "Null", "NULL", "~"):  # YAML's spellings, as jsonargparse reads --init-from
        # Null after a name too: a script's `--resume latest --push-to-hub me/model`, switched off by a later null.
        for argv in (["--resume", null, "--push-to-hub", null], ["--resume", "latest", "--push-to-hub", "me/model"]):
            assert cli.main(["--config", "tiny_sr_x2", *argv, f"--resume={null}", "--push-to-hub", null]) == 0
            options = started.pop()
            assert (options["resume"], options["push_to_hub_repo"]) == (None, None), (null, argv)
    _, args = parse_command_line(["--config", "tiny_sr_x2", "--resume", "None", "--push-to-hub", "'null'"])
    assert (args.resume, args.push_to_hub) == ("None", "'null'")  # not YAML's null: names as they are
    # A field typed str has no null: each spelling of it, and the config file's null, is the same one-line refusal.
    raw = read_config_file("tiny_sr_x2")
    # train.report_to's null meant no tracker: the refusal names `none`, as the tracker check's refusal of it did.
    cases = [("train", "output_dir", "runs/swinir"), ("data", "split", "train")]
    for section, field, default in [*cases, ("train", "report_to", "tensorboard; none: no tracker")]:
        refusal = f"{section}.{field} takes a name, not null: give one (the default is {default})"
        spellings = [[f"--{section}.{field}", "null"], [f"{section}.{field}=~"], [f"--{section}", f"{{{field}: NULL}}"]]
        spellings += [["-o", "Null"], ["--output-dir=null"]] if field == "output_dir" else []
        assert all(_parsed(argv) == refusal for argv in spellings), field
        (tmp_path / "null.yaml").write_text(yaml.safe_dump(raw | {section: raw[section] | {field: None}}))
        with pytest.raises(ValueError) as err:
            parse_command_line(["--config", str(tmp_path / "null.yaml")])
        assert str(err.value) == refusal
        (tmp_path / "named.yaml").write_text(yaml.safe_dump(raw | {section: raw[section] | {field: "null"}}))
        named, _ = parse_command_line(["--config", str(tmp_path / "named.yaml")])
        assert getattr(getattr(named, section), field) == "null"  # a quoted 'null' in YAML is a name


def test_an_empty_resume_is_refused_as_an_empty_init_from_is(tmp_path, monkeypatch, capsys):
    # `--resume "$CKPT"` with CKPT unset started a new run at step 0 (in an empty folder) without a word, while an
    # empty --init-from was refused; the Python API's `run_training(cfg, resume="")` did the same.
    started = []
    monkeypatch.setattr(cli, "run_training", lambda cfg, **options: started.append(options))
    said = "--resume is empty (an unset shell variable?): give 'latest' or a checkpoint folder, or null for none"
    for empty in (["--resume", ""], ["--resume=  "]):
        assert cli.main(["--config", "tiny_sr_x2", "-o", str(tmp_path / "run"), *empty]) == 2
        assert capsys.readouterr().err == f"error: {said}\n" and started == []
    cfg, _ = parse_command_line(["--config", "tiny_sr_x2", "-o", str(tmp_path / "run")])
    with pytest.raises(ValueError) as err:
        run_training(cfg, resume="")
    assert str(err.value) == said and not (tmp_path / "run").exists()


def test_a_config_of_nulls_given_as_options_reads_back_the_same_from_its_saved_yaml(tmp_path):
    # A run's training_config.yaml (its config's to_dict) given as --config, as a resume gives it, is the same config.
    argv = ["--init-from", "~", "--license", "NULL", "--license-name", "null", "data.val=Null"]
    cfg, _ = parse_command_line(["--config", "tiny_sr_x2", *argv, "--train.compile", "~"])
    assert (cfg.model.init_from, cfg.data.val, cfg.train.compile, cfg.train.license_name) == (None,) * 4
    (tmp_path / "training_config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    assert parse_command_line(["--config", str(tmp_path / "training_config.yaml")])[0] == cfg


def test_a_new_run_from_weights_in_its_own_output_folder_is_refused(tiny_run, train_cli, images, tmp_path, capsys):
    # Fine-tuning x4 from the x2 run without a new -o (the config header's `--model.init_from runs/classical_sr_x2`)
    # was refused as "not empty: ... or --overwrite to reuse it"; with --overwrite the run deleted the x2 model it had
    # just loaded and saved its own in its place, its card naming that folder as its start.
    out = tmp_path / "x2"
    assert train_cli(tiny_run(images, out, train={"max_steps": 2, "checkpoint_every": 2})) == 0
    weights = (out / "model.safetensors").read_bytes()
    for source in (out, out / "checkpoints" / "step-00000002"):
        raw = tiny_run(images, out, model={"init_from": str(source)}, train={"max_steps": 2})
        said = f"error: model.init_from {source} is in train.output_dir {out}: the new run would replace the weights "
        said += "it starts from; give it a folder of its own (-o / --output-dir)\n"
        for extra in ([], ["--overwrite"]):
            capsys.readouterr()
            assert train_cli(raw, *extra) == 1
            assert capsys.readouterr().err == said
    assert (out / "model.safetensors").read_bytes() == weights and (out / "checkpoints" / "step-00000002").is_dir()


@pytest.mark.parametrize(("task", "grey_task"), [("color_dn", "gray_dn"), ("color_jpeg_car", "jpeg_car")])
def test_a_grey_model_from_a_colour_one_takes_the_grey_task_and_its_card_says_so(
    tmp_path, tiny_config, tiny_run, images, task, grey_task
):
    # it kept color_dn: its card was titled "SwinIR color dn" and counted "0 re-initialised" only
    colour = SwinIRForImageRestoration(tiny_config(upscale=1, upsampler=None, task=task))
    colour.save_pretrained(tmp_path / "colour")
    grey, report = build_model(ModelArgs(init_from=str(tmp_path / "colour"), config={"num_channels": 1}), TrainArgs())
    assert grey.config.task == grey_task
    back, _ = build_model(
        ModelArgs(init_from=str(tmp_path / "colour"), config={"task": task, "num_channels": 1}), TrainArgs()
    )
    assert back.config.task == task  # one the run names stands
    cfg = TrainingConfig.from_dict(tiny_run(images, tmp_path / "out", data={"degradation": "noise"}))
    card = training_card(cfg, grey, Progress(step=4), None, report, "me/grey")
    assert f"# SwinIR {grey_task.replace('_', ' ')} (4 steps)" in card
    assert (
        f"({len(report.loaded)} tensors loaded, 4 of them made grey from the colour model's, 0 re-initialised" in card
    )


def test_init_from_a_bare_weights_file_says_it_has_no_config_to_compare(tmp_path, tiny_config):
    # it named differences from a config made up of defaults: "image_size 64 → 40, drop_path_rate 0.1 → 0.0"
    SwinIRForImageRestoration(tiny_config(drop_path_rate=0.0)).save_pretrained(tmp_path / "src")
    (tmp_path / "bare").mkdir()
    weights = tmp_path / "bare" / "model.safetensors"
    shutil.copy(tmp_path / "src" / "model.safetensors", weights)
    _, report = build_model(ModelArgs(init_from=str(weights), config={"drop_path_rate": 0.0}), TrainArgs())
    assert report.no_config and report.differences == [] and report.reinitialised == []
    assert str(report).splitlines()[1:] == [
        "  the source is a weights file with no config beside it: its architecture was read from its tensors, and no "
        "other config field of it is known to compare with this model's"
    ]
    _, folder = build_model(ModelArgs(init_from=str(tmp_path / "src"), config={"drop_path_rate": 0.1}), TrainArgs())
    assert not folder.no_config and folder.differences == ["drop_path_rate 0.0 → 0.1"]

"""`swinir-hf` conventions shared by every subcommand: `--version`, help and usage errors."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from preloaded_python import PreloadedPython

from swinir_hf import __version__, cli
from swinir_hf.cli import main


def test_version_is_printed_on_stdout(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    out, err = capsys.readouterr()
    assert (out, err) == (f"swinir-hf {__version__}\n", "")


HEAVY = ("torch", "transformers", "accelerate", "datasets", "gradio", "skimage", "scipy", "numpy", "PIL")


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["not-a-command"], ["convert", "--help"]])
def test_help_and_usage_errors_load_no_heavy_library(argv):
    """`swinir-hf --help` (and a mistyped command) answers at once: neither the package nor the command line's
    parsing imports torch, transformers or the other big libraries."""
    code = (
        "import sys\nfrom swinir_hf.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=True, timeout=300)
    assert run.stdout.splitlines()[-1] == "[]", run.stderr


LOADS_NOTHING = (
    "import sys\nfrom swinir_hf.cli import main\n"
    "try:\n    status = main(sys.argv[1:])\nexcept SystemExit as stop:\n    status = stop.code\n"
)


@pytest.mark.parametrize(
    ("argv", "status", "said"),
    [
        (["restore", "--help"], 0, "--alpha {model,bicubic}"),
        # Usage errors found after parsing: exit status 2 and the subcommand's name, as argparse's own.
        (["restore", "-o", "out"], 2, "swinir-hf restore: error: nothing to restore"),
        (["restore", "missing.png", "-o", "out"], 1, "error: no such file, folder or matching files: missing.png"),
        (["restore", "a.png", "--dataset", "d", "-o", "out"], 2, "restore: error: give image files / folders / globs"),
        (["restore", "a.png", "--alpha", "foo", "-o", "out"], 2, "invalid choice: 'foo'"),
        (["restore", "--help"], 0, "--padding {model,authors}"),
        (["restore", "a.png", "--padding", "reflect", "-o", "out"], 2, "invalid choice: 'reflect'"),
        (["eval", "--help"], 0, "--grey-convention {native,rgb}"),
        (["eval", "--model", "sr-x4"], 2, "the following arguments are required: --dataset"),
        (["eval", "--model", "sr-x4", "--dataset", "d", "--dtype", "auto"], 2, "invalid choice: 'auto'"),
        (["eval", "--model", "sr-x4", "--dataset", ".", "--lr-dir", "LR"], 1, "error: no such LR folder: LR"),
        (["eval", "--model", "sr-x4", "--dataset", "imagefolder:d"], 1, "error: no such imagefolder directory: d"),
        (["eval", "--model", "sr-x4", "--dataset", "nofolder/"], 1, "error: no such dataset folder: nofolder/"),
        (["restore", "-", "-o", "out"], 1, "error: no such file, folder or matching files: -"),
        # An unset shell variable ("$IN") read the current folder; said by the subcommand, with its usage.
        (["restore", "", "-o", "out"], 2, "restore: error: argument INPUT: an empty value (an unset shell variable?)"),
        (["restore", "a.png", "-o", ""], 2, "error: argument -o/--output-dir: an empty value (an unset shell"),
        (["eval", "--model", "sr-x4", "--dataset", ""], 2, "eval: error: argument --dataset: an empty value"),
        # PNG has no quality: the option was ignored without a word
        (
            ["restore", "a.png", "-o", "out", "--quality", "50"],
            2,
            "swinir-hf restore: error: --quality is for JPEG / lossy WebP outputs: --ext png would ignore it; drop it",
        ),
        (["eval", "--model", "sr-x4", "--dataset", "d", "--jpeg", "500"], 2, "eval: error: --jpeg must be an integer"),
        # Values out of range were refused after torch and the model had loaded, with exit status 1.
        (
            ["restore", "a.png", "-o", "out", "-s", "0"],
            2,
            "restore: error: --outscale must be a positive number, got 0.0",
        ),
        (["restore", "a.png", "-o", "out", "--outscale", "nan"], 2, "error: --outscale must be a positive number, got"),
        (
            ["restore", "a.png", "-o", "out", "--ext", "jpg", "--quality", "0"],
            2,
            "error: --quality must be an int in 1..100, got 0",
        ),
        (["restore", "a.png", "-o", "out", "--suffix", "a/b"], 2, "error: --suffix must not contain a path separator"),
        # A slip of an option was looked up among accelerate launch's options first, which imports torch (seconds).
        (["restore", "a.png", "-o", "out", "--tiles", "64"], 2, "arguments: --tiles 64 (did you mean --tile?)"),
        (["eval", "--model", "m", "--dataset", "d", "--no_progress"], 2, "(did you mean --no-progress?)"),
        (["eval", "--modle", "m", "--dataset", "d"], 2, "--modle (did you mean --model?); the following arguments"),
        (["hub", "--help"], 0, "--push"),
        (["models"], 0, "Bundled models (in the package, offline):"),
    ],
)
def test_subcommand_help_usage_errors_and_missing_inputs_load_no_heavy_library(tmp_path, argv, status, said):
    """A subcommand's --help, a usage error and an input that names nothing answer at once, with their message
    and exit status, before torch / transformers load (the model they would have loaded is not needed)."""
    code = LOADS_NOTHING + f"print(status, sorted(name for name in {HEAVY!r} if name in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert said in run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == f"{status} []", run.stderr
    assert not (tmp_path / "out").exists()


def test_an_option_of_another_tool_is_said_by_the_subcommand_with_its_name_here(capsys):
    """Unknown options were said by the top-level parser, with `swinir-hf`'s usage; now by the subcommand's, and
    Real-ESRGAN's names get the option they are here. (Telling them from accelerate launch's options loads it.)"""
    for argv, said in [
        (
            ["restore", "a.png", "-o", "out", "--suffix", "", "--fp32", "--tile_pad=10"],
            "swinir-hf restore: error: unrecognized arguments: --fp32 --tile_pad=10; --fp32 is --dtype float32 here; "
            "--tile_pad is --tile-overlap here\n",
        ),  # an empty --suffix is none, as given
        (
            ["eval", "--model", "sr-x4", "--dataset", "d", "--bogus"],
            "swinir-hf eval: error: unrecognized arguments: --bogus\n",
        ),
        (  # the authors' main_test_swinir.py: said with the options it lacks, before the unknown ones
            ["eval", "--task", "classical_sr", "--scale", "4", "--model_path", "m.pth", "--folder_gt", "gt"],
            "swinir-hf eval: error: the following arguments are required: --model, --dataset; --task is --model "
            "(each model is made for its task; an authors' .pth is converted on the fly) here; --model_path is "
            "--model PATH (an authors' .pth is converted on the fly) here; --folder_gt is --dataset (a folder of "
            "ground-truth images, or one holding HR/) here\n",
        ),
        (  # a value that looks like another tool's option is a value, and argparse wants it after '='
            ["restore", "a.png", "-o", "out", "--suffix", "-n"],
            "swinir-hf restore: error: argument --suffix: expected one argument; a value that begins with '-' is "
            "given as --suffix=-n\n",
        ),
        (  # Real-ESRGAN's -g with its value attached
            ["restore", "a.png", "-o", "out", "-g0"],
            "swinir-hf restore: error: unrecognized arguments: -g0; -g is --device cuda:N here\n",
        ),
        (
            ["restore", "lq", "-o", "out", "--scale", "2"],
            "swinir-hf restore: error: unrecognized arguments: --scale 2; --scale is the model's own (--model sr-x2 "
            "for ×2); -s / --outscale resizes its output here\n",
        ),
    ]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2 and capsys.readouterr().err.endswith(said)


def test_eval_help_says_that_a_save_images_folder_of_the_same_evaluation_is_resumed(capsys):
    """`--help` said the folder must be "a new or empty folder", where the same command again resumes from the
    outputs an interrupted run saved there (README.md, docs/evaluation.md)."""
    with pytest.raises(SystemExit) as stop:
        main(["eval", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert stop.value.code == 0
    assert (
        "(a new or empty folder, or this evaluation's own: the same command again resumes from the outputs there)"
        in help_text
    )


def test_abbreviated_options_are_refused_not_taken_for_the_option_they_begin(capsys):
    """argparse took `--over` for `--overwrite` (a trained run deleted, outputs replaced), `--verb` for `--verbose`,
    `--train.max_step` for `--train.max_steps`: every command now wants whole option names."""
    for argv, said in [
        (
            ["restore", "a.png", "-o", "out", "--over"],
            "swinir-hf restore: error: unrecognized arguments: --over (did you mean --overwrite?)\n",
        ),
        (["eval", "--model", "m", "--dataset", "d", "--verb"], "arguments: --verb (did you mean --verbose?)\n"),
        (["convert", "a.pth", "out", "--over"], "swinir-hf convert: error: unrecognized arguments: --over (did you"),
        (["hub", "a.pth", "-o", "out", "--dry"], "swinir-hf hub: error: unrecognized arguments: --dry (did you"),
    ]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2 and said in capsys.readouterr().err, argv
    for argv, said in [
        (["--over"], "error: unrecognized arguments: --over (did you mean --overwrite? see --help)\n"),
        (["--train.max_step", "3"], "unrecognized arguments: --train.max_step 3 (did you mean --train.max_steps?"),
    ]:
        assert main(["train", "--config", "tiny_sr_x2", *argv, "--print-config"]) == 2
        assert said in capsys.readouterr().err, argv
    from swinir_hf.demo.server import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--por", "7001"])
    assert "unrecognized arguments: --por 7001 (did you mean --port?)" in capsys.readouterr().err


def test_a_slip_of_an_option_a_value_or_a_command_names_the_one_meant(capsys):
    """A mistyped option, choice or command was refused without a word of what was meant; the same slips of
    another tool's options keep their own hint, and a word unlike any option gets none."""
    for argv, said in [
        (
            ["restre", "in", "-o", "out"],
            "invalid choice: 'restre' (choose from 'convert', 'models', 'eval', 'restore', "
            "'hub', 'train', 'demo'); did you mean 'restore'?\n",
        ),
        (
            ["restore", "a.png", "-o", "out", "--batch_size=2", "--tile", "64", "--tiles"],
            "swinir-hf restore: error: unrecognized arguments: --batch_size=2 --tiles (did you mean --batch-size / "
            "--tile?)\n",
        ),
        (
            ["restore", "a.png", "-o", "out", "--ext", "jepg"],
            "invalid choice: 'jepg' (choose from 'auto', 'png', 'jpg', 'webp', 'tif'); did you mean 'jpg'?\n",
        ),
        (
            ["restore", "a.png", "-o", "out", "--tile_pad=10"],
            "arguments: --tile_pad=10; --tile_pad is --tile-overlap here\n",
        ),
        (
            ["eval", "--model", "m", "--dataset", "d", "--bogus"],
            "swinir-hf eval: error: unrecognized arguments: --bogus\n",
        ),
        (["convert", "a.pth", "out", "--img_range", "1"], "arguments: --img_range 1 (did you mean --img-range?)\n"),
        (
            ["hub", "a.pth", "-o", "out", "--dryrun"],
            "swinir-hf hub: error: unrecognized arguments: --dryrun (did you mean --dry-run?)\n",
        ),
    ]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2 and capsys.readouterr().err.endswith(said), argv
    # The trainer's guess was the nearest of its hundreds of options, however unlike: --tiles was --train.license.
    assert main(["train", "--config", "tiny_sr_x2", "--tiles", "3", "--print-config"]) == 2
    assert capsys.readouterr().err.endswith("error: unrecognized arguments: --tiles 3 (see --help)\n")


def test_a_slip_of_a_required_option_is_named_not_only_the_option_missing(capsys):
    """A misspelt required option (`--modle`, `--output`) was said only as the option missing ("required: --model"),
    and any other unknown option (`--version` after a command) not at all: the unknown ones are named first, with
    the option meant."""
    for argv, said in [
        (
            ["eval", "--modle", "sr-x2", "--dataset", "d"],
            "swinir-hf eval: error: unrecognized arguments: --modle (did you mean --model?); the following arguments "
            "are required: --model\n",
        ),
        (
            ["restore", "a.png", "--output-dri=out", "--tiles", "8"],
            "swinir-hf restore: error: unrecognized arguments: --output-dri=out --tiles (did you mean --output-dir / "
            "--tile?); the following arguments are required: -o/--output-dir\n",
        ),
        (
            ["restore", "--version", "a.png", "--", "--output"],
            "error: unrecognized arguments: --version; the following arguments are required: -o/--output-dir\n",
        ),
        (["hub", "--dry-run"], "hub: error: the following arguments are required: source, -o/--output-dir\n"),
    ]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2 and capsys.readouterr().err.endswith(said), argv


@pytest.mark.parametrize("command", ["restore", "eval", "train"])
def test_no_launcher_option_is_taken_for_a_slip_of_a_commands_own(command):
    """A slip of a command's own option (`--tiles`) is its usage error, found without accelerate's launcher: that
    holds while none of `accelerate launch`'s options is near one of the command's."""
    from swinir_hf.launch import _NOT_LAUNCHER_OPTIONS, _launcher_parser, option_strings
    from swinir_hf.option_guesses import nearest_option
    from swinir_hf.training.cli import build_parser as train_parser

    parser = train_parser() if command == "train" else cli._subcommand(cli.build_parser(command), command)
    own = option_strings(parser)
    launcher = option_strings(_launcher_parser()) - _NOT_LAUNCHER_OPTIONS - own
    assert len(launcher) > 100
    assert {o: nearest_option(o, own) for o in launcher if nearest_option(o, own)} == {}


def test_an_option_before_the_command_and_an_empty_run_folder_are_named(capsys, monkeypatch):
    """`swinir-hf --no-progress restore in -o out` blamed the command's own arguments ("unrecognized arguments: in
    -o out"); `train --output-dir ""` (an unset variable) trained into the config's folder, `--train.output_dir ''`
    into the current one; a Ctrl-C while `models` ran was a traceback."""
    assert main(["--no-progress", "restore", "in", "-o", "out"]) == 2
    assert capsys.readouterr().err == (
        "swinir-hf: error: --no-progress comes before the command: options follow it (swinir-hf COMMAND "
        "--no-progress ...; swinir-hf --help lists the commands)\n"
    )
    for empty in (["--output-dir", ""], ["--train.output_dir", ""]):
        assert main(["train", "--config", "tiny_sr_x2", *empty, "--print-config"]) == 2
        said = "error: train.output_dir is empty (an unset shell variable?): name the run's folder\n"
        assert capsys.readouterr().err == said
    monkeypatch.setattr(cli, "_models", lambda args: (_ for _ in ()).throw(KeyboardInterrupt))
    assert main(["models"]) == 130 and capsys.readouterr().err == "interrupted\n"


def test_restore_and_eval_refuse_the_launchers_mixed_precision(capsys):
    """`--mixed_precision bf16` (offered in --help) is accelerate's autocast for training: restore and eval ran in
    float32 and reported float32 figures, as if it had been taken."""
    # It said "this command runs at --dtype (--dtype bfloat16, float16 on CUDA)": not the spelling given, which
    # --dtype takes as it is.
    instead = {
        "bf16": "give it --dtype bf16 instead",
        "fp16": "give it --dtype fp16 instead (float16 runs on CUDA only; elsewhere --dtype bf16)",
        "fp8": "its --dtype takes bf16, fp16 (on CUDA) or fp32",
    }
    for command in (["restore", "a.png", "-o", "out"], ["eval", "--model", "m", "--dataset", "d"]):
        for precision, advice in instead.items():
            assert main([*command, "--num_processes", "1", "--mixed_precision", precision]) == 2
            assert capsys.readouterr().err.endswith(
                f"error: accelerate launch's --mixed_precision {precision} (or accelerate config's) is for training, "
                f"which this command does not read: {advice}\n"
            )


# The libraries that take seconds to import; reading a config needs numpy (its degradation levels) but none of these.
SLOW_TO_IMPORT = ("torch", "transformers", "accelerate", "datasets", "gradio")
TRAIN_COMMAND_LINES = [
    (["--help"], 0, "--train.max_steps"),
    ([], 2, "error: the following arguments are required: config"),
    (["--config", "nope"], 2, "error: argument --config: config nope not found; bundled configs:"),
    (["--config", "tiny_sr_x2", "--print-config", "--train.max_steps", "7"], 0, "max_steps: 7"),
    # -o, as `restore` and `hub` spell their output folder (it was an unrecognized argument here)
    (["--config", "tiny_sr_x2", "-o", "runs/other", "--print-config"], 0, "output_dir: runs/other"),
    # --model is the config's model section here: a model's name was "Unable to load config 'sr-x4'"
    (["--config", "tiny_sr_x2", "--model", "sr-x4"], 2, "give the starting weights as --init-from sr-x4"),
]


@pytest.mark.parametrize("module", [False, True], ids=["swinir-hf train", "python -m swinir_hf.train"])
@pytest.mark.parametrize(("argv", "status", "said"), TRAIN_COMMAND_LINES)
def test_the_trainers_command_line_is_read_without_torch(tmp_path, module, argv, status, said):
    """The trainer's --help, --print-config and refusals took 3-6 s: its modules imported the training loop,
    torch.distributed, accelerate and the model, and `swinir-hf train` looked every option up among accelerate
    launch's. They load when a run starts."""
    run_it = (
        ["import runpy", "sys.argv[0] = 'swinir_hf.train'", "runpy.run_module('swinir_hf.train', run_name='__main__')"]
        if module
        else ["from swinir_hf.cli import main", "sys.exit(main(['train', *sys.argv[1:]]))"]
    )
    code = (
        "import sys\ntry:\n"
        + "".join(f"    {line}\n" for line in run_it)
        + f"except SystemExit as stop:\n    print(stop.code, [m for m in {SLOW_TO_IMPORT!r} if m in sys.modules])"
    )
    run = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert said in run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == f"{status} []", run.stderr


def test_restore_usage_checks_change_nothing_and_completing_fills_the_options(tmp_path):
    """`usage_problem` only reads the parsed options; `complete_options` then fills what the parser left open (the
    file options' defaults, `-i` inputs joined to the positional ones, their listing in `args.files`)."""
    from swinir_hf.cli import build_parser
    from swinir_hf.inference.restore_arguments import complete_options, usage_problem

    (tmp_path / "a.png").write_bytes(b"")
    args = build_parser("restore").parse_args(["restore", str(tmp_path / "a.png"), "-i", str(tmp_path), "-o", "o"])
    given = dict(vars(args))
    assert usage_problem(args) is None and vars(args) == given
    assert complete_options(args) is None
    assert (args.inputs, args.ext, args.workers) == ([str(tmp_path / "a.png"), str(tmp_path)], "png", 2)
    assert [rel.name for _, rel in args.files.files] == ["a.png"]  # the folder holds the file given: listed once


# Asked whether transformers is installed (accelerate's is_transformers_available) before importing it: the spec
# found is never run, and the import that follows must still register.
ASKED_FIRST = "import importlib.util\nassert importlib.util.find_spec('transformers') is not None\n"
# A model-layer module imported first: its import loads transformers, whose hook cannot register mid-way (the module's
# classes do not exist yet); the registration waits for it to end.
MODEL_MODULE_FIRST = "from swinir_hf.models.configuration_swinir import SwinIRConfig\n"
# A notebook's way to load edited code: the package dropped from sys.modules and imported again (or this module
# reloaded). The earlier copy's finder was not taken for one: a second was inserted, and each asked the other for
# transformers' spec, a RecursionError.
IMPORTED_ANEW = (
    "for name in [m for m in sys.modules if m.startswith('swinir_hf')]: del sys.modules[name]\nimport swinir_hf\n"
)
RELOADED = (
    "import importlib, swinir_hf.registration\nimportlib.reload(swinir_hf.registration)\nimportlib.reload(swinir_hf)\n"
)


# What transformers imports from other packages (torch alone is 3 s of CPU on CI's cores): a fork of a Python that
# imported them is a fresh interpreter for what these tests are about, the order swinir_hf and transformers load in.
# Not accelerate, which transformers' import asks about transformers: that stays after swinir_hf's import.
BESIDE_TRANSFORMERS = (
    "import torch, torch.distributed.tensor, scipy.optimize, numpy, PIL.Image, safetensors.torch, huggingface_hub\n"
    "assert not {'swinir_hf', 'transformers', 'accelerate'} & set(sys.modules)"
)


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory):
    """Children of a Python that imported torch and the like, not swinir_hf nor transformers
    (`tests/preloaded_python.py`)."""
    python = PreloadedPython(tmp_path_factory.mktemp("preloaded"), BESIDE_TRANSFORMERS)
    yield python
    python.close()


@pytest.mark.parametrize(
    "before",
    ["", ASKED_FIRST, MODEL_MODULE_FIRST, IMPORTED_ANEW, RELOADED],
    ids=["imported", "asked-then-imported", "model-module-first", "imported-anew", "reloaded"],
)
def test_import_registers_swinir_with_transformers_once_it_loads(fresh_python, before):
    """`import swinir_hf` loads no transformers, yet `AutoModel` / `AutoImageProcessor` / `pipeline` imported
    after it know SwinIR (the registration waits for transformers' import)."""
    code = (
        "import sys, swinir_hf\n"
        "assert 'transformers' not in sys.modules\n"
        f"{before}"
        "from transformers import AutoImageProcessor, AutoModel\n"
        "from swinir_hf.checkpoints.bundled import DEFAULTS_DIR\n"
        "folder = DEFAULTS_DIR / 'sr-x4'\n"
        "model, processor = AutoModel.from_pretrained(folder), AutoImageProcessor.from_pretrained(folder)\n"
        "print(type(model).__name__, type(processor).__name__)"
    )
    run = fresh_python.run(code)
    assert run.stdout.split() == ["SwinIRForImageRestoration", "SwinIRImageProcessor"], run.stderr


def test_public_names_load_on_use():
    """Every name of `__all__` resolves (from its module, on first use) and `dir()` lists it."""
    import swinir_hf

    assert set(swinir_hf._MODULES) == set(swinir_hf.__all__)
    assert set(swinir_hf.__all__) <= set(dir(swinir_hf))
    for name in swinir_hf.__all__:
        assert getattr(swinir_hf, name) is getattr(importlib.import_module(swinir_hf._MODULES[name], "swinir_hf"), name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        swinir_hf.nope  # noqa: B018


def test_dir_lists_what_a_user_reaches_not_the_modules_helpers():
    """Tab completion on `swinir_hf.` offered `Any`, `TYPE_CHECKING`, `annotations` and `importlib` (this file's
    imports) but not `loading`, where `load_model` (the README's first call) lives, until it was imported."""
    import swinir_hf

    names = dir(swinir_hf)
    assert {"loading", "metrics", "inference", "models", "__version__"} <= set(names)
    assert not {"Any", "TYPE_CHECKING", "annotations", "importlib", "_MODULES"} & set(names)
    public = [name for name in names if not name.startswith("__")]
    assert all(name in swinir_hf.__all__ or importlib.util.find_spec(f"swinir_hf.{name}") for name in public)


def test_command_line_alpha_modes_are_the_model_layers():
    """`--alpha`'s choices, read without importing the model layer (torch), are its `AlphaMode` values."""
    from swinir_hf.inference.options import ALPHA_MODES
    from swinir_hf.models.image_processing_swinir import ALPHA_MODES as MODEL_ALPHA_MODES

    assert ALPHA_MODES == MODEL_ALPHA_MODES == ("model", "bicubic")


def test_the_model_layers_plain_values_import_without_torch():
    """The model layer's torch-free module (the task table, the alpha modes) and the engine's options that offer
    them import light: importing the model layer registers nothing, so loads neither torch nor transformers."""
    code = (
        "import sys\nimport swinir_hf.models.constants_swinir, swinir_hf.inference.options\n"
        f"print(sorted(name for name in {HEAVY!r} if name in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert run.stdout.splitlines()[-1] == "[]", run.stderr


def test_module_paths_resolve_after_a_plain_import(fresh_python):
    """`import swinir_hf` then a module path, as docs/transformers.md names them
    (`swinir_hf.inference.image_io.read_image`): the module is imported on use, as it was when `import swinir_hf`
    loaded every module (a fresh process: here the modules are loaded already)."""
    code = "import swinir_hf\nprint(swinir_hf.inference.image_io.read_image.__name__, swinir_hf.metrics.psnr.__name__)"
    run = fresh_python.run(code)
    assert run.stdout.split() == ["read_image", "psnr"], run.stderr


# The script's head: thread STALLED, once it holds MODULE's import lock, waits until UNTIL (the other thread is
# importing transformers: the order that deadlocked or failed, made certain); `race` runs the two threads so.
STALL = """
import importlib.machinery, sys, threading, time, swinir_hf
inside, said = threading.Event(), {}
class Stall:
    def find_spec(self, name, path, target=None):
        if name != "MODULE" or threading.current_thread().name != "STALLED":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module
        def stall_then_run(module):
            inside.set()
            while not (UNTIL):
                time.sleep(0.01)
            run(module)
        spec.loader.exec_module = stall_then_run
        return spec
def race(stalled, other):
    threads = [threading.Thread(target=stalled, name="STALLED"), threading.Thread(target=other)]
    threads[0].start()
    inside.wait(60)  # it holds MODULE's import lock
    threads[1].start()
    for thread in threads:
        thread.join()
"""

# Thread B has begun importing the model layer (holding its import lock) when thread A imports transformers.
THREADS = (
    STALL.replace("MODULE", "swinir_hf.models")
    .replace("STALLED", "B")
    .replace("UNTIL", '"transformers" in sys.modules')
    + """
sys.meta_path.insert(0, Stall())
def b():
    try:
        said["B"] = swinir_hf.SwinIRConfig.__name__
    except Exception as err:
        said["B"] = repr(err)
def a():
    try:
        from transformers import AutoConfig
        from swinir_hf.checkpoints.bundled import DEFAULTS_DIR
        said["A"] = type(AutoConfig.from_pretrained(DEFAULTS_DIR / "sr-x4")).__name__
    except Exception as err:
        said["A"] = repr(err)
race(b, a)
print(said["A"], said["B"])
"""
)


def test_a_public_name_and_transformers_imported_by_two_threads_at_once(fresh_python):
    """One thread's first `swinir_hf.NAME` while another imports transformers (whose import registers SwinIR by
    importing the model layer): no import deadlock (`_DeadlockError` in one, `cannot import name` in the other), and
    the transformers thread's Auto classes know SwinIR."""
    run = fresh_python.run(THREADS)
    assert run.stdout.split() == ["SwinIRConfig", "SwinIRConfig"], run.stdout + run.stderr


# Thread A has begun importing a model-layer module (holding its import lock, transformers not yet loaded) when
# thread B imports transformers. A runs the module once transformers' package has put its lazy module in its place
# (its last statement), while B's import still holds the lock: before that, CPython's `from transformers import X`
# would bind the module that lazy one replaces, found in sys.modules before waiting for its import to end, and fail
# (`cannot import name`, in any program: a race of CPython's and transformers', not of the registration).
MODEL_MODULE_AND_TRANSFORMERS = (
    STALL.replace("MODULE", "swinir_hf.models.modeling_swinir")
    .replace("STALLED", "A")
    .replace("UNTIL", 'type(sys.modules.get("transformers")).__name__ == "_LazyModule"')
    + """
sys.meta_path.insert(1, Stall())  # after the package's hook, which wraps what it finds
def a():
    from swinir_hf.models.modeling_swinir import SwinIRForImageRestoration
def b():
    try:
        import transformers
        said["B"] = "imported"
    except Exception as err:
        said["B"] = repr(err)
race(a, b)
from transformers import AutoConfig
print(said["B"], type(AutoConfig.for_model("swinir")).__name__)
"""
)


def test_a_model_module_and_transformers_imported_by_two_threads_at_once(fresh_python):
    """One thread's `from swinir_hf.models.modeling_swinir import ...` while another imports transformers: the
    transformers thread leaves the registration to the model-layer thread, whose module it would wait for (its
    `import transformers` failed: cannot import name ... from partially initialized module); once both end, the
    Auto classes know SwinIR."""
    run = fresh_python.run(MODEL_MODULE_AND_TRANSFORMERS)
    assert run.stdout.split() == ["imported", "SwinIRConfig"], run.stdout + run.stderr


def installed_copy(tmp_path: Path, install: str) -> Path:
    """A copy of the package in `tmp_path`, as a zip ("zip") or as .pyc files only ("without sources"): the entry
    of sys.path that imports it."""
    import compileall
    import shutil
    import zipfile

    import swinir_hf

    copy = tmp_path / "site"
    shutil.copytree(Path(swinir_hf.__file__).parent, copy / "swinir_hf", ignore=shutil.ignore_patterns("__pycache__"))
    if install == "without sources":
        assert compileall.compile_dir(copy, quiet=1, legacy=True)  # NAME.pyc beside where NAME.py was
        for source in copy.rglob("*.py"):
            source.unlink()
        return copy
    with zipfile.ZipFile(tmp_path / "site.zip", "w") as archive:
        for file in sorted(copy.rglob("*")):
            archive.write(file, file.relative_to(copy))
    return tmp_path / "site.zip"


@pytest.mark.parametrize("install", ["zip", "without sources"])
def test_command_line_alpha_modes_in_an_install_without_source_files(tmp_path, install):
    """The package imported from a zip on sys.path, or installed as .pyc files only (a frozen app, a stripped
    image), still offers `--alpha` (it once read the model layer's source, not a plain file there, or not there)."""
    copy = installed_copy(tmp_path, install)
    code = (
        f"import sys; sys.path.insert(0, {str(copy)!r})\nimport swinir_hf\n"
        f"assert swinir_hf.__file__.startswith({str(copy)!r}), swinir_hf.__file__\n"
        "from swinir_hf.inference.options import ALPHA_MODES\nprint(ALPHA_MODES)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.stdout.splitlines()[-1:] == ["('model', 'bicubic')"], run.stderr


def test_probing_the_model_layer_of_a_zip_install_leaves_its_importer_as_it_was(tmp_path):
    """From a zip, one importer loads every module of a folder: the registration's hook wrapped that shared loader
    at each look-up of a model-layer module (`importlib.util.find_spec`), so a thousand look-ups made the import a
    RecursionError, and the wrappers stayed once the hook was gone. It wraps a copy of each spec's loader."""
    zipped = installed_copy(tmp_path, "zip")
    code = (
        f"import importlib.util, sys; sys.path.insert(0, {str(zipped)!r})\nimport swinir_hf\n"
        "for _ in range(sys.getrecursionlimit()):\n"
        "    importlib.util.find_spec('swinir_hf.models.constants_swinir')\n"
        "import swinir_hf.models.constants_swinir\n"
        "print(swinir_hf.models.constants_swinir.__file__.startswith(sys.path[0]))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.stdout.splitlines()[-1:] == ["True"], run.stderr[-2000:]


@pytest.mark.parametrize(
    ("entry", "loading", "what"),
    [
        ("swinir_hf.train", "swinir_hf.training.cli", "run"),
        ("swinir_hf.evaluate", "swinir_hf.evaluation.cli", "command"),
        ("swinir_hf.restore", "swinir_hf.inference.collection_cli", "command"),
    ],
)
def test_ctrl_c_while_a_modules_command_line_imports_is_one_line(entry, loading, what) -> None:
    """`python -m swinir_hf.train` (`.evaluate`, `.restore`: what `--multi_gpu` starts in each process) interrupted
    while its command line's modules import (before any handler of its own) says so in one line with exit status
    130, once for a launch (its first process); it printed a traceback, in every process."""
    code = (
        "import runpy, sys, types\n"
        "class Loading(types.ModuleType):\n"
        "    def __getattr__(self, name):  # Ctrl-C arrives while the module loads\n"
        "        if name.startswith('__'):\n"
        "            raise AttributeError(name)\n"
        "        raise KeyboardInterrupt\n"
        f"sys.modules[{loading!r}] = Loading({loading!r})\n"
        f"runpy.run_module({entry!r}, run_name='__main__')\n"
    )
    said = f"interrupted: the {what} had not started, nothing was written\n"
    for rank, message in (("0", said), ("1", "")):  # torchrun's RANK: the other processes say nothing
        env = {**os.environ, "RANK": rank}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
        assert (done.returncode, done.stderr) == (130, message)
    # imported as a module (not run), the interrupt is the importer's to handle
    imported = code.replace(f"runpy.run_module({entry!r}, run_name='__main__')", f"import {entry}")
    done = subprocess.run([sys.executable, "-c", imported], capture_output=True, text=True, timeout=60)
    assert done.returncode == -2 and done.stderr.rstrip().endswith("KeyboardInterrupt")  # Python's own: -SIGINT


@pytest.mark.parametrize(
    ("argv", "signum", "said"),
    [
        (["convert", "a.pth", "out"], "SIGINT", "interrupted"),
        (["hub", "a.pth", "-o", "out"], "SIGTERM", "terminated (SIGTERM)"),
    ],
)
def test_a_stop_while_a_command_loads_is_one_line(argv, signum, said, monkeypatch, capsys):
    """A Ctrl-C (or SIGTERM) while a command's modules load (torch, transformers: most of a `convert`'s 8 s) printed
    a traceback (SIGTERM: a silent kill); now one line and exit status 130 / 143, as once it runs."""
    import importlib.abc
    import os
    import signal

    module = "swinir_hf." + cli._COMMAND_MODULES[argv[0]][-1].lstrip(".")

    class Loading(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == module:
                os.kill(os.getpid(), getattr(signal, signum))
            return None

    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setattr(sys, "meta_path", [Loading(), *sys.meta_path])
    assert main(argv) == (130 if signum == "SIGINT" else 143)
    assert capsys.readouterr().err == f"{said}: the command had not started, nothing was written\n"


def test_ctrl_c_while_a_subcommands_options_are_built_is_one_line(monkeypatch, capsys):
    """A Ctrl-C in a command's first tenth of a second, while its options' modules import (`build_parser`), or
    gradio for the demo: a KeyboardInterrupt traceback, and a death by SIGINT; one line and 130 now."""
    import builtins

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert main(["restore", "a.png", "-o", "out"]) == 130
    assert capsys.readouterr().err == "interrupted: the command had not started, nothing was written\n"
    load = builtins.__import__
    monkeypatch.setattr(
        builtins, "__import__", lambda name, *a, **k: interrupted() if name == "demo.server" else load(name, *a, **k)
    )
    assert main(["demo", "--help"]) == 130
    assert capsys.readouterr().err == "interrupted: the command had not started, nothing was written\n"


@pytest.mark.parametrize("command", [["restore", "a.png", "-o", "out"], ["eval", "--model", "m", "--dataset", "d"]])
def test_a_stop_while_the_launchers_options_are_read_is_one_line(command, monkeypatch, capsys):
    """`swinir-hf restore --multi_gpu ...` stopped while accelerate's parser (and torch with it) loads, before any
    process starts: a KeyboardInterrupt traceback (SIGTERM: killed without a word); now one line, 130 / 143."""
    from swinir_hf.interrupts import Terminated

    for stop, said in ((KeyboardInterrupt, "interrupted"), (Terminated, "terminated (SIGTERM)")):

        def loading(*args, stop=stop, **kwargs):
            raise stop

        monkeypatch.setattr(cli, "split_arguments", loading)
        assert main([*command, "--multi_gpu", "--num_processes", "2"]) == (130 if stop is KeyboardInterrupt else 143)
        assert capsys.readouterr().err == f"{said}: the command had not started, nothing was written\n"


# Where the loading takes its time: the launcher's checks (with accelerate launch's options), else the training loop
# (imported once the command line is read), with what each then says.
STOPPED_LOADING = [
    (["--multi_gpu", "--num_processes", "2"], "checks", "the run had not started, nothing was written"),
    ([], "loop", "stopped at once; no checkpoint was saved yet"),
]


@pytest.mark.parametrize(("launcher", "module", "said"), STOPPED_LOADING)
def test_a_stop_while_train_loads_is_one_line(launcher, module, said, monkeypatch, capsys, tmp_path):
    """`swinir-hf train` stopped by SIGTERM (or Ctrl-C) while its modules load (torch, transformers: seconds) ends
    with one line and exit status 143 (130), as `restore` and `eval` do; it died without a word (a traceback for
    Ctrl-C), and under the launcher's options before any process started."""
    import os
    import signal
    import time
    import types

    class Loading(types.ModuleType):
        def __getattr__(self, name):  # the trainer's modules, loading when the signal comes
            if name.startswith("__"):  # looked up by pytest's report, after the handlers are restored
                raise AttributeError(name)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
            raise AssertionError("SIGTERM did not stop the command")

    def killed(signum, frame):  # stands in for the default action, which would kill pytest too
        raise AssertionError("swinir-hf train had no SIGTERM handler while it loaded: the signal would have killed it")

    monkeypatch.setitem(sys.modules, f"swinir_hf.training.{module}", Loading(f"swinir_hf.training.{module}"))
    previous = signal.signal(signal.SIGTERM, killed)
    try:
        assert main(["train", *launcher, "--config", "tiny_sr_x2", "--output-dir", str(tmp_path / "run")]) == 143
        assert signal.getsignal(signal.SIGTERM) is killed  # restored
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert capsys.readouterr().err == f"terminated (SIGTERM): {said}\n"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command", [None, "convert", "models", "eval", "restore", "hub"])
def test_each_commands_help_fits_a_terminal_and_ends_with_examples(command, monkeypatch):
    """No `--help` gave an example; the examples are printed as written, the prose around them wrapped to the
    terminal's width."""
    monkeypatch.setenv("COLUMNS", "80")
    parser = cli.build_parser(command)
    text = (parser if command is None else cli._subcommand(parser, command)).format_help()
    assert f"\nexamples:\n  swinir-hf {command or 'restore'}" in text
    assert [line for line in text.splitlines() if len(line) > 80] == []
    if command in ("restore", "eval"):  # the launcher's paragraph, after them, wrapped as before
        assert text.endswith("as in one process, without the launcher's tracebacks.\n")


@pytest.mark.parametrize("command", ["train", "demo"])
def test_the_commands_with_parsers_of_their_own_give_examples_too(command, capsys, monkeypatch):
    """The README says `swinir-hf COMMAND --help` ends with examples: `train`'s (jsonargparse) and `demo`'s parsers,
    their own, gave none."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    text = capsys.readouterr().out
    assert done.value.code == 0 and f"\nexamples:\n  swinir-hf {command} --" in text
    assert [line for line in text.splitlines() if len(line) > 80] == []


def test_train_refuses_a_section_given_as_a_name_and_points_to_init_from(capsys, tmp_path):
    """`restore --model sr-x4` loads a model; `train --model sr-x4` was jsonargparse's `Parser key "model": Unable to
    load config 'sr-x4'`: in train, the starting weights are --init-from."""
    for argv in (["--model", "sr-x4"], ["--model=sr-x4"]):
        assert main(["train", "--config", "tiny_sr_x2", *argv, "--print-config"]) == 2
        assert capsys.readouterr().err == (
            "error: --model sr-x4: in train, --model is the config's model section; give the starting weights as "
            "--init-from sr-x4 (or the architecture as --model.preset NAME, --model.FIELD VALUE)\n"
        )
    assert main(["train", "--config", "tiny_sr_x2", "--train", "5", "--print-config"]) == 2
    assert capsys.readouterr().err == "error: --train 5: give a field as --train.FIELD VALUE (or a mapping)\n"
    # A mapping, or a YAML file of one, is the section as before.
    (tmp_path / "model.yaml").write_text("preset: classical_sr\n")
    for value in ("{preset: classical_sr}", str(tmp_path / "model.yaml")):
        assert main(["train", "--config", "tiny_sr_x2", "--model", value, "--print-config"]) == 0
        assert "preset: classical_sr" in capsys.readouterr().out


def test_train_says_how_to_write_a_sections_field_with_no_space_after_its_colon(capsys):
    """`--model '{preset:classical_sr}'` (YAML: one word, a key without a value) was jsonargparse's `Parser key
    "model": Unable to load config '{preset:classical_sr}'`."""
    for value, spaced in [
        ("{preset:classical_sr}", "'{preset: classical_sr}'"),
        ("preset:classical_sr", "'{preset: classical_sr}'"),
        ("{preset:classical_sr, scale:2}", "'{preset: classical_sr, scale: 2}'"),
    ]:
        assert main(["train", "--config", "tiny_sr_x2", "--model", value, "--print-config"]) == 2
        assert capsys.readouterr().err == (
            f"error: --model {shlex.quote(value)}: YAML reads preset:classical_sr as one word, not a field and its "
            f"value; put a space after the colon, --model {spaced}, or give it as --model.preset classical_sr\n"
        )
    # The other way it offers is read as the field (the spaced mapping: the test above).
    assert main(["train", "--config", "tiny_sr_x2", "--model.preset", "classical_sr", "--print-config"]) == 0
    assert "preset: classical_sr" in capsys.readouterr().out


def test_train_says_how_to_write_a_mapping_fields_key_with_no_space_after_its_colon(capsys):
    """`--model.config '{embed_dim:60}'` said only `expected dict[str, Any], got {embed_dim:60}`: a mapping-valued
    field gets the hint a section given whole does."""
    from swinir_hf.training.cli import parse_command_line

    hint = "as one word, not a key and its value; put a space after the colon"
    gan = ["--config", "tiny_real_sr_x4_gan"]
    # Through `swinir-hf train` once (its words and exit status); the other spellings at the trainer's parser, which
    # builds the message (each `main` builds the trainer's parser twice: a tenth of a second each).
    assert main(["train", *gan, "model.config=embed_dim:60", "--print-config"]) == 2
    assert capsys.readouterr().err == (
        f"error: model.config: expected dict[str, Any], got embed_dim:60 (YAML reads embed_dim:60 {hint}, "
        "--model.config '{embed_dim: 60}')\n"
    )
    for argv, said in [
        (
            ["--model.config", "{embed_dim:60}"],
            f"model.config: expected dict[str, Any], got {{embed_dim:60}} (YAML reads embed_dim:60 {hint}, "
            "--model.config '{embed_dim: 60}')",
        ),
        (
            ["--gan.perceptual_layers", "{conv5_4:1}"],
            f"gan.perceptual_layers: expected dict[str, float], got {{conv5_4:1}} (YAML reads conv5_4:1 {hint}, "
            "--gan.perceptual_layers '{conv5_4: 1}')",
        ),
    ]:
        with pytest.raises(ValueError) as refused:
            parse_command_line([*gan, *argv])
        assert str(refused.value) == said, argv
    # The spelling it offers is read as the mapping.
    cfg, _ = parse_command_line(["--config", "tiny_sr_x2", "--model.config", "{embed_dim: 60}"])
    assert cfg.model.config["embed_dim"] == 60


def test_convert_says_what_it_takes_of_words_left_over(capsys):
    """`convert x.pth -o a b` (a path with a space, or two checkpoints) was argparse's "unrecognized arguments: b"."""
    takes = (
        "convert takes one checkpoint and one OUT (or -o OUT): quote a path with spaces, and convert each checkpoint "
        "with its own command\n"
    )
    for argv, left in [
        (["x.pth", "-o", "a", "b"], "b"),
        (["x.pth", "a", "b", "c"], "b c"),
        (["x.pth", "a", "-o", "a", "b"], "b"),
    ]:
        with pytest.raises(SystemExit) as stop:
            main(["convert", *argv])
        assert stop.value.code == 2 and capsys.readouterr().err.endswith(
            f"swinir-hf convert: error: too many arguments: {left}; {takes}"
        ), argv
    with pytest.raises(SystemExit):  # an unknown option is still named, with its guess
        main(["convert", "x.pth", "a", "--img_range", "1"])
    assert capsys.readouterr().err.endswith("unrecognized arguments: --img_range 1 (did you mean --img-range?)\n")


def test_restore_reads_its_inputs_on_both_sides_of_its_options(capsys):
    """`restore a.png -o out b.png` (as cp and convert take them) was "unrecognized arguments: b.png"; `--` and the
    messages of an unknown option keep their meaning, with the inputs read as such."""
    parser = cli.build_parser(only="restore")
    for argv, inputs in [
        (["a.png", "-o", "out", "b.png"], ["a.png", "b.png"]),
        (["a.png", "-o", "out", "b.png", "--overwrite", "c.png"], ["a.png", "b.png", "c.png"]),
        (["a.png", "-o", "out", "--", "-b.png"], ["a.png", "-b.png"]),
        (["-o", "out", "--", "-a.png", "b.png"], ["-a.png", "b.png"]),
    ]:
        args = parser.parse_args(["restore", *argv])
        assert (args.inputs, args.output_dir) == (inputs, "out"), argv
    args = parser.parse_args(["restore", "a.png", "-i", "c.png", "-o", "out", "b.png"])
    assert (args.inputs, args.input) == (["a.png", "b.png"], ["c.png"])
    for argv, said in [
        (["a.png", "-o", "out", "b.png", "--over"], "unrecognized arguments: --over (did you mean --overwrite?)\n"),
        (["a.png", "-o", "out", "b.png", "--scale", "2"], "unrecognized arguments: --scale 2; --scale is the model's"),
    ]:
        with pytest.raises(SystemExit) as stop:
            main(["restore", *argv])
        assert stop.value.code == 2 and said in capsys.readouterr().err, argv


def test_hub_and_eval_say_what_they_take_of_words_left_over(capsys):
    """`hub a.pth -o out b.pth` and `eval ... --scale 4 Set14` were argparse's "unrecognized arguments: b.pth"; a
    repeated --dataset (hub's --eval) was the last one alone, where a repeated --model adds to the others."""
    for argv, said in [
        (
            ["hub", "a.pth", "-o", "out", "b.pth"],
            "swinir-hf hub: error: too many arguments: b.pth; hub takes one source: quote a path with spaces, and put "
            "several .pth files in one folder (each is built)\n",
        ),
        (
            ["eval", "--model", "m", "--dataset", "Set5", "--scale", "4", "Set14"],
            "swinir-hf eval: error: too many arguments: Set14; eval's models follow --model and its datasets "
            "--dataset (several after one, or it repeated)\n",
        ),
    ]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2 and capsys.readouterr().err.endswith(said), argv
    args = cli.build_parser(only="eval").parse_args(["eval", "--model", "m", "--dataset", "a", "b", "--dataset", "c"])
    assert args.dataset == ["a", "b", "c"]
    parser = cli.build_parser(only="hub")
    assert parser.parse_args(["hub", "a.pth", "-o", "o", "--eval", "a", "--eval", "b"]).eval == ["a", "b"]
    assert parser.parse_args(["hub", "a.pth", "-o", "o"]).eval == []


def test_convert_takes_its_output_folder_as_o_too(capsys):
    """`convert x.pth -o out` was `unrecognized arguments: -o` (restore, hub and train take -o)."""
    parser = cli.build_parser(only="convert")
    for argv in (
        ["a.pth", "-o", "out"],
        ["a.pth", "--output-dir", "out"],
        ["a.pth", "out"],
        ["a.pth", "out", "-o", "out"],
    ):
        args = parser.parse_args(["convert", *argv])
        cli._convert_output(parser, args)
        assert args.output_dir == "out", argv
    for argv, said in [
        (["a.pth"], "swinir-hf convert: error: the following arguments are required: OUT (or -o OUT)\n"),
        (
            ["a.pth", "one", "-o", "two"],
            "swinir-hf convert: error: two output folders, one and -o two: give one of them\n",
        ),
    ]:
        with pytest.raises(SystemExit) as stop:
            main(["convert", *argv])
        assert stop.value.code == 2 and capsys.readouterr().err.endswith(said), argv


def test_an_option_two_commands_share_reads_the_same_in_each():
    """`--device`'s help differed between restore and eval (both run on the process's accelerate device), `--column`
    was COLUMN in restore and NAME in eval, the output folder OUT in restore and OUTPUT_DIR in hub, convert, train."""
    from swinir_hf.training.cli import build_parser as train_parser

    def option(command: str, name: str) -> argparse.Action:
        parser = cli._subcommand(cli.build_parser(only=command), command)
        return next(a for a in parser._actions if name in a.option_strings)

    for name, commands in [("--device", ("restore", "eval")), ("--column", ("restore", "eval"))]:
        first, second = (option(command, name) for command in commands)
        assert first.metavar == second.metavar and first.metavar is not None, name
    assert option("restore", "--device").help == option("eval", "--device").help
    trained = next(a for a in train_parser()._actions if "-o" in a.option_strings)
    assert {option(c, "-o").metavar for c in ("restore", "hub", "convert")} | {trained.metavar} == {"OUT"}

"""docs/training.md and docs/evaluation.md say what the code does: their config tables, options and synopses are read
against the bundled configs and the parsers (each check in-process, without torch)."""

from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path

import pytest
import yaml

from swinir_hf.evaluation.eval_arguments import add_eval_arguments
from swinir_hf.training.command_values import FIELD_TYPES

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "swinir_hf" / "configs"
TRAINING = (ROOT / "docs" / "training.md").read_text(encoding="utf-8")
EVALUATION = (ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")
# The table's losses by the configs' `train.loss` (null: the preset's, L1 for every SR preset the table lists).
LOSSES = {"l1": "L1", "charbonnier": "Charbonnier", None: "L1"}


def table_rows(heading: str) -> list[list[str]]:
    """The cells of the first markdown table after `heading` in docs/training.md, header and rule left out."""
    section = TRAINING.split(heading, 1)[1]
    table = re.search(r"^\|.*?(?=\n[^|])", section, re.M | re.S)
    assert table, heading
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in table[0].splitlines()[2:]]


def documented(config: str) -> dict[str, str]:
    """A bundled config's patch, batch, loss and EMA as its `train` section gives them (the GAN's terms by name)."""
    cfg = yaml.safe_load((CONFIGS / f"{config}.yaml").read_text(encoding="utf-8"))
    train, gan = cfg.get("train", {}), cfg.get("gan", {})
    loss = "L1 + VGG + GAN" if gan.get("enabled") else LOSSES[train.get("loss")]
    ema = train.get("ema_decay", 0.999)
    return {
        "patch": str(cfg["data"]["patch_size"]),
        "batch": str(train["batch_size"]),
        "loss": loss,
        "ema": "none" if ema == 0 else f"{ema:g}",
    }


def listed(cell: str, count: int) -> list[str]:
    """A cell's values for `count` configs of one row: `32 / 32 / 16`, or one value for all."""
    values = [v.strip() for v in re.sub(r" \(.*\)$", "", cell).split(" / ")]
    return values * count if len(values) == 1 else values


@pytest.mark.parametrize("row", table_rows("## Bundled configs"), ids=lambda row: row[0].replace("`", ""))
def test_the_bundled_configs_table_gives_the_configs_patch_batch_loss_and_ema(row):
    configs = re.findall(r"`(\w+)`", row[0])
    columns = {"patch": row[3], "batch": row[4], "loss": row[5], "ema": row[6]}
    said = {key: listed(cell, len(configs)) for key, cell in columns.items()}
    for i, config in enumerate(configs):
        assert {key: values[i] for key, values in said.items()} == documented(config), config


def test_every_bundled_config_is_in_one_of_the_training_pages_tables():
    tables = table_rows("## Bundled configs") + table_rows("## GPU leases")
    named = {name for row in tables for name in re.findall(r"`(\w+)`", row[0])}
    assert named == {path.stem for path in CONFIGS.glob("*.yaml")}


def test_the_trainers_dotted_options_the_training_page_names_are_config_fields():
    options = set(re.findall(r"--((?:data|train|model|gan)\.\w+)", TRAINING)) - {"train.max_stepz"}  # its misspelling
    assert options and not options - set(FIELD_TYPES), sorted(options - set(FIELD_TYPES))


def test_the_evaluation_synopsis_names_the_eval_commands_options():
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    synopsis = re.search(r"```bash\n(.*?)```", EVALUATION, re.S)[1]
    launcher = {"--multi_gpu", "--num_processes"}  # accelerate launch's, which `swinir-hf eval` hands to it
    options = set(re.findall(r"(?<![\w-])--?[a-z][\w-]*", synopsis)) - launcher
    unknown = options - set(parser._option_string_actions)
    assert options and not unknown, sorted(unknown)


def test_the_imports_the_pages_text_gives_work():
    # the Python blocks' imports are run by test_layout; these are the ones a sentence gives (PAPER_ENGINE's place)
    lines = re.findall(r"`((?:from swinir_hf\S* import|import swinir_hf)[^`]*)`", TRAINING + EVALUATION)
    assert any("PAPER_ENGINE" in line for line in lines)
    with warnings.catch_warnings():  # `from swinir_hf.evaluation import degradations`, its old place, warns (once)
        warnings.simplefilter("ignore", FutureWarning)
        for line in lines:
            exec(line, {})


def test_no_quoted_message_or_command_is_broken_where_it_has_no_space():
    # a line break inside `...` renders as a space: `--mixed_precision/` + newline + `--mixed-precision` misquoted
    # accelerate's message as `--mixed_precision/ --mixed-precision`
    spans = re.findall(r"`[^`]+`", re.sub(r"```.*?```", "", TRAINING + EVALUATION, flags=re.S))
    assert not [span for span in spans if re.search(r"[/-]\n", span)]

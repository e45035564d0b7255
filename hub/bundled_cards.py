"""The bundled models' benchmark suites and cards (`hub/bundle_default.py`, which imports this module from beside it):
which figures each kind of model is scored on, the card's comparison table of them, and a card rewritten from the
figures its results.json holds (`--cards-only`), measuring nothing."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from swinir_hf.checkpoints.cards import hub_card
from swinir_hf.checkpoints.catalog import load_catalog
from swinir_hf.checkpoints.measured_results import paper_figures, scored_on
from swinir_hf.models.configuration_swinir import SwinIRConfig
from swinir_hf.storage.atomic_writes import write_text_file

SIGMAS = (15, 25, 50)
JPEG_QUALITIES = (10, 20, 30, 40)


@dataclass(frozen=True)
class Suite:
    """How one kind of bundled model is scored.

    `benches`: (label, test-set folder, `evaluate()` options) as in the paper's tables; `upscale`: the model's, which
    sets the channel its figures are on (`scored_on`: Y for super-resolution, else RGB); `baseline`: the trivial
    restoration's name; `protocol`: one sentence for the card;
    `paper`: label → the paper's figures for the closest released setting (empty where it reports none) and
    `paper_model` names that setting.
    """

    benches: list[tuple[str, str, dict]]
    upscale: int
    baseline: str
    protocol: str
    paper: dict[str, dict[str, float]]
    paper_model: str = ""

    @property
    def suffix(self) -> str:
        """Suffix of the reported metric keys in `evaluate()`'s means: "_y" for the Y channel, "" for RGB."""
        return scored_on(self.upscale)


def suite(c: SwinIRConfig) -> Suite:
    """The benchmarks and references for the task of a model of config `c`."""
    catalog = load_catalog()
    if c.task == "real_sr":
        return Suite(
            [(f"{s} real ×{c.upscale}", s, {"real": True}) for s in ("Set5", "Set14")],
            upscale=c.upscale,
            baseline="bicubic",
            protocol=f"PSNR / SSIM on the Y channel, border {c.upscale}, of inputs made by the BSRGAN-style "
            "degradation, seeded per image (`swinir-hf eval --real`): a reproducible proxy, real photos have no "
            "ground truth",
            paper={},
        )
    if c.upscale > 1:
        release = next(r for r in catalog.releases if r.task == "lightweight_sr" and r.scale == c.upscale)
        return Suite(
            [(s, s, {"scale": c.upscale}) for s in ("Set5", "Set14")],
            upscale=c.upscale,
            baseline="bicubic",
            protocol=catalog.protocols["lightweight_sr"],
            paper=dict(release.results),
            paper_model="SwinIR-S",
        )
    if c.task == "color_jpeg_car":
        return Suite(
            [(f"{s} q{q}", s, {"jpeg": q}) for s in ("LIVE1", "classic5") for q in JPEG_QUALITIES],
            upscale=c.upscale,
            baseline="JPEG input",
            protocol=catalog.protocols["color_jpeg_car"],
            paper={},
        )
    paper = {}
    for release in catalog.releases:
        if release.task == "color_dn":
            paper |= {f"{bench} σ{release.noise_level}": dict(v) for bench, v in release.results.items()}
    return Suite(
        [(f"{s} σ{n}", s, {"noise": n}) for s in ("CBSD68", "Kodak24", "McMaster") for n in SIGMAS],
        upscale=c.upscale,
        baseline="noisy input",
        protocol=catalog.protocols["color_dn"],
        paper=paper,
        paper_model="SwinIR-M, one model per σ",
    )


def comparison_table(s: Suite, results: dict) -> str:
    """PSNR of the baseline, this model and (where the paper reports one) the paper's model, per benchmark. The
    paper's figures are for its full-size, fully trained models: a comparison in the text, not model-index entries
    (which would claim them for these weights)."""
    channel = "Y channel" if s.suffix else "RGB"
    intro = f"PSNR (dB, {channel}) next to the trivial baseline" + (" and the paper" if s.paper else "")
    head = f"| benchmark | {s.baseline} | this model |" + (
        f" paper ({s.paper_model}, full training) |" if s.paper else ""
    )
    rule = "|---|--:|--:|" + ("--:|" if s.paper else "")
    return f"{intro}:\n\n{head}\n{rule}\n{figure_rows(s, results)}"


def figure_rows(s: Suite, results: dict) -> str:
    """`comparison_table`'s figure rows, one per benchmark (no heading: `--rescore` matches cards of any age by
    these, their headings having changed)."""
    y, rows = s.suffix, []
    for label, v in results.items():
        row = f"| {label} | {v['baseline'][f'psnr{y}']:.2f} | {v['model'][f'psnr{y}']:.2f} |"
        if s.paper:
            ref = s.paper.get(label, {}).get("psnr")
            row += f" {ref:.2f} |" if ref else " – |"
        rows.append(row)
    return "\n".join(rows)


def stored_card(target: Path, c: SwinIRConfig) -> tuple[Suite, dict, str, str]:
    """(suite, results.json, card, the card's comparison table rows of results.json's figures) of the bundled model
    of config `c` in `target`; SystemExit where the card's table does not hold those figures (a hand edit)."""
    s, old, card = suite(c), json.loads((target / "results.json").read_text()), (target / "README.md").read_text()
    table = figure_rows(s, stored_figures(s, old))
    if table not in card:
        raise SystemExit(f"error: {target / 'README.md'} has no comparison table of results.json's figures to update")
    return s, old, card, table


def stored_figures(s: Suite, stored: dict) -> dict:
    """The figures results.json (`stored`) holds of the suite's benchmarks, in the suite's order."""
    return {label: stored[label] for label, _, _ in s.benches if label in stored}


def card_with(s: Suite, c: SwinIRConfig, stored: tuple[str, str], results: dict, protocol: str, name: str) -> str:
    """The card `stored` (its text, its table rows) with `results`' figures in its comparison table, Results section
    and model-index (`hub_card`, which also rewrites its usage for the bundled `name`)."""
    card, table = stored
    measured = {k: paper_figures(v["model"], c.upscale) for k, v in results.items()}
    return hub_card(
        card.replace(table, figure_rows(s, results)),
        c,
        model_id=name,  # the usage snippets load it from the package
        measured_results=measured,
        protocol=protocol,
        remote_code=False,
    )


def rewrite_card(target: Path) -> bool:
    """Rewrite the card of the bundled model in `target` from its results.json's figures and its own protocol line,
    measuring nothing and writing nothing else; whether it changed."""
    c = SwinIRConfig.from_pretrained(target)
    s, old, card, table = stored_card(target, c)
    if (protocol := re.search(r"(?m)^Protocol: (.*)\.$", card)) is None:
        raise SystemExit(f"error: {target / 'README.md'} has no Protocol line in its Results section to keep")
    results = stored_figures(s, old)
    new = card_with(s, c, (card, table), results, protocol[1], target.name)
    if new != card:
        write_text_file(target / "README.md", new)
    return new != card

"""A benchmark's results: `Evaluation`, the scores of the baseline and each model on every image, reported as a
markdown table (`to_markdown`) or a JSON-ready dict (`to_dict`); `combine_shares` joins the shares that processes
scored into the whole set's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..console import shown_name
from ..degradations.setting import Degradation
from ..inference.options import PAPER_ENGINE, EngineOptions
from ..models.tiling_swinir import used_overlap
from .protocol import ENGINE_FIELDS

COLUMNS = {
    "psnr": "PSNR",
    "ssim": "SSIM",
    "psnr_y": "PSNR-Y",
    "ssim_y": "SSIM-Y",
    "psnrb": "PSNR-B",
    "psnrb_y": "PSNR-B-Y",
}


@dataclass
class Evaluation:
    """Scores of the baseline and the model on every image; `to_markdown()` / `to_dict()` report them."""

    dataset: str
    model: str
    degradation: Degradation
    grey_convention: str
    names: list[str] = field(default_factory=list)
    scores: dict[str, list[dict[str, float]]] = field(default_factory=dict)  # method → one dict per image
    engine: EngineOptions | None = PAPER_ENGINE  # how the model ran; None: no model (the identity)
    lr_dir: str | None = None  # the folder the given inputs came from; None: made from the ground truth
    lr_column: str | None = None  # the dataset column the given inputs came from; None: made from the ground truth
    # What reproduces the figures beyond the options: the device, the libraries' versions, each model's sha256.
    provenance: dict[str, Any] = field(default_factory=dict)
    shard: tuple[int, int] = (0, 1)  # (k, n): the images k, k + n, ... of the set (`evaluate_models`' share)
    # model → wall seconds of each image it restored in this run (outputs reused from --save-images take none)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    # The command line that made it, as typed (`swinir-hf eval ...`, paths as given); None: a call from Python.
    command: list[str] | None = None

    @property
    def methods(self) -> list[str]:
        return list(self.scores)

    @property
    def columns(self) -> list[str]:
        """Metric keys reported: PSNR / SSIM on RGB and Y, and PSNR-B (RGB and Y) for JPEG."""
        return [k for k in COLUMNS if self.degradation.kind == "jpeg" or not k.startswith("psnrb")]

    def mean(self, method: str) -> dict[str, float]:
        rows = self.scores[method]
        return {k: float(np.mean([r[k] for r in rows])) for k in self.columns}

    def caption(self) -> str:
        run, d = self.engine_departures(), self.degradation
        setting = str(d)
        # Given inputs are whatever they are: "bicubic" would claim how they were made.
        given = self.lr_dir if self.lr_dir is not None else self.lr_column and f"its {self.lr_column} column"
        if given:
            setting = f"×{d.scale}" if d.task == "sr" else setting
            setting += f" from the inputs given in {shown_name(given)}"
        n = len(self.names)
        return (
            f"{shown_name(self.dataset)}, {setting} ({n} image{'s' * (n != 1)}, border {d.border}, PSNR in dB, "
            f"on RGB (or grey) and on Y = ITU-R BT.601, grey images: {self.grey_convention}"
            + (f"; model run with {', '.join(run)}" if run else "")
            + ")"
        )

    def _overlap(self) -> int | None:
        """The overlap the tiles had (a fixed tile size takes at most half a tile of the overlap asked)."""
        e = self.engine
        if e.tile is None:
            return None  # one pass over the whole image: no tiles to overlap
        return used_overlap(e.tile, e.tile_overlap) if isinstance(e.tile, int) else e.tile_overlap

    def engine_departures(self) -> list[str]:
        """How the model ran where that differs from the paper's whole-image float32 single pass of the input
        padded as the authors pad it (which moves the figures: the self-ensemble "SwinIR+" raises them, tiles, half
        precision and the model's own padding shift them)."""
        e = self.engine
        if e is None:
            return []
        run = ["self-ensemble ×8 (SwinIR+)"] if e.ensemble else []
        if e.tile is not None:
            run.append(f"tiles of {e.tile} px (overlap {self._overlap()})" if e.tile != "auto" else "tile auto")
        if e.dtype != "float32":
            run.append(str(e.dtype))
        if e.padding == "model":
            run.append("the model's own padding")
        return run

    def to_markdown(self, verbose: bool = False) -> str:
        """A caption line and a markdown table: per-image rows with `verbose`, then the means; baseline first."""
        head = ["image", "method"] + [COLUMNS[k] for k in self.columns]
        lines = [self.caption(), "", _row(head), _row([":--", ":--"] + ["--:"] * len(self.columns))]
        if verbose:
            for i, name in enumerate(self.names):
                lines += [_row([_cell(name), _cell(m)] + _cells(self.scores[m][i], self.columns)) for m in self.methods]
        lines += [_row(["mean", _cell(m)] + _cells(self.mean(m), self.columns)) for m in self.methods]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The same figures, unrounded, for `json.dump` (schema: docs/evaluation.md, "The JSON report")."""
        d = self.degradation
        return {
            "command": self.command,
            "dataset": self.dataset,
            "model": self.model,
            "models": self.methods[1:],  # with `evaluate_models`, several
            "task": d.task,
            "degradation": d.kind,
            {"sr": "scale", "dn": "noise", "jpeg": "jpeg"}[d.task]: d.value,
            "border": d.border,
            "lr_dir": self.lr_dir,
            "lr_column": self.lr_column,
            "grey_convention": self.grey_convention,
            "y_channel": "ITU-R BT.601 (MATLAB rgb2ycbcr)",
            "engine": None
            if self.engine is None
            else {**{k: getattr(self.engine, k) for k in ENGINE_FIELDS}, "tile_overlap": self._overlap()},
            **self.provenance,
            "methods": self.methods,
            "mean": {m: self.mean(m) for m in self.methods},
            "runtime": {m: _runtime(times) for m, times in self.seconds.items()},
            # Figures under "scores", keyed by method: beside "name", a method called "name" would overwrite it.
            "images": [
                {"name": n, "scores": {m: self.scores[m][i] for m in self.methods}} for i, n in enumerate(self.names)
            ],
        }


def _runtime(seconds: list[float]) -> dict[str, Any]:
    """A model's restoration time in the report: the images timed and their mean wall seconds (null: none)."""
    return {"images": len(seconds), "seconds_per_image": float(np.mean(seconds)) if seconds else None}


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(name: str) -> str:
    """An image's or a method's name as a table cell: on its row (`shown_name`), its `|` escaped as Markdown
    escapes it (`\\|`), which would otherwise end the cell and shift the figures into the wrong columns; the
    backslashes right before one doubled, so that none escapes the escape."""
    return re.sub(r"(\\*)\|", lambda found: found[1] * 2 + "\\|", shown_name(name))


def _cells(values: dict[str, float], columns: list[str]) -> list[str]:
    return [_fmt(values[k], 4 if k.startswith("ssim") else 2) for k in columns]


def _fmt(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"  # inf (identical images) as "inf", with its sign


def combine_shares(shares: Sequence[Evaluation]) -> Evaluation:
    """The whole set's `Evaluation` from the n shares that `evaluate_models(..., shard=(k, n))` scored, k = 0 .. n-1
    in order (share k holds the images k, k + n, ...): the images in the set's order, as one process scores them.

    Raises:
        ValueError: no shares, shares out of order or of another split, or of other evaluations (set, setting,
            methods).
    """
    n = len(shares)
    if not n or [share.shard for share in shares] != [(k, n) for k in range(n)]:
        got = [share.shard for share in shares]
        raise ValueError(f"combine_shares takes the n shares (k, n) in order, k = 0 .. n-1; got shards {got}")
    same = ("dataset", "degradation", "grey_convention", "lr_dir")  # (the engine's device is each process's own)
    if any(
        share.methods != shares[0].methods or any(getattr(share, a) != getattr(shares[0], a) for a in same)
        for share in shares
    ):
        raise ValueError("combine_shares takes the shares of one evaluation: these differ in set, setting or models")
    whole = replace(shares[0], names=[], scores={method: [] for method in shares[0].methods}, shard=(0, 1))
    whole.seconds = {model: [t for share in shares for t in share.seconds[model]] for model in shares[0].seconds}
    devices = list(dict.fromkeys(share.provenance.get("device") for share in shares))  # each process's own GPU
    if len(devices) > 1:
        whole.provenance = {**whole.provenance, "device": ", ".join(map(str, devices))}
    for i in range(sum(len(share.names) for share in shares)):
        share, j = shares[i % n], i // n
        whole.names.append(share.names[j])
        for method, rows in whole.scores.items():
            rows.append(share.scores[method][j])
    return whole

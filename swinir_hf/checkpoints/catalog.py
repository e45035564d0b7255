"""The catalogue of the authors' released checkpoints (`catalog.yaml`) and their Hub repository names."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from ..models.constants_swinir import TASK_TABLE  # torch-free: `swinir-hf models` lists the releases at once

if TYPE_CHECKING:
    from ..models.configuration_swinir import SwinIRConfig


@dataclass(frozen=True)
class Release:
    """One released checkpoint: what it was trained for and on, and the paper's figures for it.

    `results` maps benchmark name → {"psnr": dB, "ssim": …, "psnrb": dB} (only the metrics the paper reports).
    """

    file: str
    repo: str
    task: str
    scale: int
    size: str
    objective: str
    training_data: tuple[str, ...]
    patch_size: int
    state_dict_key: str
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    noise_level: int | None = None
    jpeg_quality: int | None = None

    @property
    def gan(self) -> bool:
        return self.objective == "gan"

    @property
    def levels(self) -> dict[str, int | None]:
        """The level its inputs are degraded at, as `evaluate` takes it (`noise` σ, `jpeg` quality; None: not so)."""
        return {"noise": self.noise_level, "jpeg": self.jpeg_quality}

    @property
    def preset(self) -> str:
        """Architecture preset of `SwinIRConfig.from_preset` (SwinIR-L exists for real-world SR only)."""
        return "real_sr_large" if self.size == "L" else self.task

    @property
    def protocol(self) -> str:
        """How the paper measured `results` for this task."""
        return load_catalog().protocols[self.task]

    def config(self) -> SwinIRConfig:
        """The configuration the authors trained this checkpoint with."""
        from ..models.configuration_swinir import SwinIRConfig

        return SwinIRConfig.from_preset(self.preset, scale=self.scale, image_size=self.patch_size)

    def repo_id(self, organization: str | None = None) -> str:
        """`organization/repo`, the catalogue's organisation by default."""
        return f"{organization or load_catalog().organization}/{self.repo}"

    def title(self) -> str:
        """Human-readable one-line name, e.g. "SwinIR-M classical image super-resolution x4 (DIV2K+Flickr2K)"."""
        what = TASK_TABLE[self.task].title
        if self.scale > 1:
            what += f" x{self.scale}"
        if self.noise_level is not None:
            what += f", noise σ={self.noise_level}"
        if self.jpeg_quality is not None:
            what += f", JPEG quality {self.jpeg_quality}"
        if self.task == "real_sr":
            what += ", GAN" if self.gan else ", PSNR-oriented"
        return f"SwinIR-{self.size} {what} ({'+'.join(self.training_data)})"


@dataclass(frozen=True)
class Catalog:
    organization: str
    protocols: dict[str, str]
    releases: tuple[Release, ...]

    def by_repo(self) -> dict[str, Release]:
        return {r.repo: r for r in self.releases}

    def by_file(self) -> dict[str, Release]:
        return {r.file: r for r in self.releases}


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """Parse the packaged `catalog.yaml` (once)."""
    data = yaml.safe_load(resources.files(__package__).joinpath("catalog.yaml").read_text(encoding="utf-8"))
    releases = tuple(_release(entry) for entry in data["releases"])
    return Catalog(organization=data["organization"], protocols=dict(data["protocols"]), releases=releases)


def _release(entry: dict[str, Any]) -> Release:
    entry = dict(entry)
    entry["training_data"] = tuple(entry["training_data"])
    return Release(**entry)


def find_release(name: str) -> Release | None:
    """The release called `name`: a Hub repo name (`swinir-classical-sr-x4-df2k`), `org/repo`, or the authors'
    file name, with or without its suffix (`001_classicalSR_DF2K_s64w8_SwinIR-M_x4.pth`, as their download
    page lists it); None when it is none of these."""
    catalog = load_catalog()
    name = str(name).rsplit("/", 1)[-1]
    return catalog.by_repo().get(name) or catalog.by_file().get(name) or catalog.by_file().get(f"{name}.pth")

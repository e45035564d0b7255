"""Shared test fixtures. Tests that need ../shared fail (not skip) when it is missing and CI=true."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

SHARED = Path(os.environ.get("SWINIR_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ../shared folder beside the repo."""
    if not SHARED.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED} is missing: CI must have ../shared beside the repo")
        pytest.skip(f"{SHARED} is missing")
    return SHARED


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def tiny_config(**overrides):
    """A SwinIR config small enough for unit tests (~40k parameters)."""
    from swinir_hf import SwinIRConfig

    fields = dict(
        embed_dim=16,
        depths=[2],
        num_heads=[2],
        window_size=4,
        image_size=16,
        upscale=2,
        upsampler="pixelshuffledirect",
        num_feat=8,
    )
    fields.update(overrides)
    return SwinIRConfig(**fields)

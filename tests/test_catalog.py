"""The release catalogue against the key layouts of the authors' 31 files, and checkpoint import of each layout."""

from __future__ import annotations

import json

import pytest
import torch

from swinir_hf import SwinIRForImageRestoration, detect_config
from swinir_hf.checkpoints.catalog import find_release, load_catalog
from swinir_hf.checkpoints.convert import _check_buffers, load_into

# Authors' constructor argument → SwinIRConfig field.
KWARG_FIELDS = {
    "upscale": "upscale",
    "in_chans": "num_channels",
    "img_size": "image_size",
    "window_size": "window_size",
    "img_range": "img_range",
    "upsampler": "upsampler",
    "depths": "depths",
    "embed_dim": "embed_dim",
    "num_heads": "num_heads",
    "mlp_ratio": "mlp_ratio",
    "resi_connection": "resi_connection",
}


@pytest.fixture(scope="module")
def layouts(shared):
    return json.loads((shared / "fixtures" / "release_layouts.json").read_text())


def expected_fields(kwargs: dict) -> dict:
    fields = {KWARG_FIELDS[k]: v for k, v in kwargs.items()}
    fields["upsampler"] = fields["upsampler"] or None
    return fields


def test_catalogue_lists_every_release_once(layouts):
    catalog = load_catalog()
    assert len(catalog.releases) == 31
    assert sorted(r.file for r in catalog.releases) == sorted(layouts)
    assert len({r.repo for r in catalog.releases}) == 31
    for release in catalog.releases:
        layout = layouts[release.file]
        assert release.task == layout["task"]
        assert release.state_dict_key == layout["state_dict_key"]
        assert release.scale == layout["reference_kwargs"]["upscale"]
        assert f"SwinIR-{release.size}_" in release.file and f"_s{release.patch_size}w" in release.file
        assert release.gan == release.file.endswith("_GAN.pth")
        assert release.task in catalog.protocols


def test_catalogue_paper_figures():
    """Spot checks against the paper's tables; real-world models have no reference figures."""
    assert find_release("swinir-classical-sr-x4-df2k").results["Set5"] == {"psnr": 32.92, "ssim": 0.9044}
    assert find_release("swinir-classical-sr-x4-div2k").results["Set5"] == {"psnr": 32.72, "ssim": 0.9021}
    assert find_release("swinir-classical-sr-x2-div2k").results["Set5"]["psnr"] == 38.35
    assert find_release("swinir-lightweight-sr-x4").results["Set5"] == {"psnr": 32.44, "ssim": 0.8976}
    assert find_release("swinir-denoising-gray-sigma25").results["Set12"] == {"psnr": 31.01}
    assert find_release("swinir-denoising-color-sigma50").results["CBSD68"] == {"psnr": 28.56}
    assert find_release("swinir-jpeg-car-gray-q10").results["Classic5"] == {
        "psnr": 30.27,
        "ssim": 0.8249,
        "psnrb": 29.95,
    }
    for release in load_catalog().releases:
        if release.task == "real_sr":
            assert release.results == {}
        for figures in release.results.values():
            assert 20 < figures["psnr"] < 45 and 0 < figures.get("ssim", 0.5) < 1


def test_find_release_by_repo_org_repo_and_file_name():
    release = find_release("swinir-real-sr-x4-large-gan")
    assert release.file == "003_realSR_BSRGAN_DFOWMFC_s64w8_SwinIR-L_x4_GAN.pth"
    assert find_release(release.file) is release
    assert find_release(f"someone/{release.repo}") is release
    assert release.repo_id("me") == "me/swinir-real-sr-x4-large-gan"
    assert release.repo_id() == f"{load_catalog().organization}/swinir-real-sr-x4-large-gan"
    assert "SwinIR-L" in release.title() and "GAN" in release.title()
    assert find_release("swinir-unknown") is None


@pytest.mark.parametrize("index", range(31))
def test_catalogue_config_builds_the_release_layout(layouts, index):
    """Each entry's hyperparameters give exactly the file's parameters (names, shapes, count)."""
    release = load_catalog().releases[index]
    layout = layouts[release.file]
    config = release.config()
    for name, value in expected_fields(layout["reference_kwargs"]).items():
        assert getattr(config, name) == value, (release.file, name)
    with torch.device("meta"):
        model = SwinIRForImageRestoration(config)
    params = {k: list(v.shape) for k, v in model.state_dict().items()}
    buffers = (".relative_position_index", ".attn_mask")
    assert params == {k: shape for k, (shape, _) in layout["tensors"].items() if not k.endswith(buffers)}
    assert model.num_parameters() == layout["num_parameters"]


@pytest.mark.parametrize("index", range(31))
def test_detect_config_recognises_every_release(layout_state_dict, layouts, index):
    """Issue #2: the authors' state-dict layout alone gives the reference configuration and loads strictly."""
    name = sorted(layouts)[index]
    layout = layouts[name]
    kwargs = layout["reference_kwargs"]
    state = layout_state_dict(layout["tensors"], kwargs["img_size"], kwargs["window_size"])
    config = detect_config(state)
    for field_name, value in expected_fields(kwargs).items():
        assert getattr(config, field_name) == value, (name, field_name)
    assert config.task == layout["task"]
    _check_buffers(state, config)
    with torch.device("meta"):
        model = SwinIRForImageRestoration(config)
    load_into(model, state)
    assert model.num_parameters() == layout["num_parameters"]

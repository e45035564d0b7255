"""Tiled inference: tile grid, blend weights, and tiled vs whole-image output of a SwinIR model on real images."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from swinir_hf import convert_original_checkpoint
from swinir_hf.inference.restoration import SwinIRRestorer
from swinir_hf.models import tiling_swinir as tiling


@pytest.mark.parametrize(("length", "tile", "overlap"), [(100, 32, 8), (64, 32, 0), (33, 32, 31), (20, 32, 8)])
def test_tile_starts_cover_with_overlap(length, tile, overlap):
    starts = tiling.tile_starts(length, tile, overlap)
    t = min(tile, length)
    assert starts[0] == 0 and starts[-1] + t == length
    assert all(b - a <= t - overlap and b > a for a, b in zip(starts, starts[1:], strict=False))


def _placed(profiles, starts, length, scale):
    """Each tile's profile on the whole axis, zero outside its tile: (tiles, scale·length)."""
    out = torch.zeros(len(starts), length * scale)
    for k, (p, s) in enumerate(zip(profiles, starts, strict=True)):
        out[k, s * scale : s * scale + p.numel()] = p
    return out


# (100, 40, 10): regular pairwise overlaps; the others end with a tile snapped to the border that overlaps its
# neighbour by far more than `overlap` (and the tile before that), where blend ramps used to collide.
@pytest.mark.parametrize(("length", "tile", "overlap"), [(100, 40, 10), (76, 40, 8), (75, 40, 10), (41, 40, 10)])
def test_weights_are_a_smooth_partition_of_unity(length, tile, overlap):
    scale = 2
    starts = tiling.tile_starts(length, tile, overlap)
    placed = _placed(tiling.axis_weights(starts, tile, overlap, scale), starts, length, scale)
    torch.testing.assert_close(placed.sum(0), torch.ones(length * scale))
    # Continuous: no step larger than one of a raised-cosine ramp across `overlap` input pixels.
    steps = placed.diff(dim=1).abs()
    assert steps.max() <= math.pi / (2 * overlap * scale) + 1e-6
    # A tile's edges inside the image (its padding makes them least accurate) get almost no weight.
    for k, s in enumerate(starts):
        if k > 0:
            assert placed[k, s * scale] < 5e-3
        if k + 1 < len(starts):
            assert placed[k, (s + tile) * scale - 1] < 5e-3


@pytest.mark.parametrize("batch_size", [1, 3])
def test_tiled_apply_is_exact_for_a_pointwise_op(batch_size):
    x = torch.rand(2, 3, 37, 50)
    fn = lambda t: F.interpolate(t, scale_factor=3, mode="nearest") * 2 - 1  # noqa: E731
    out = tiling.tiled_apply(fn, x, scale=3, tile=16, overlap=5, batch_size=batch_size)
    torch.testing.assert_close(out, fn(x))


@pytest.mark.parametrize("shape", [(20, 50), (50, 20)], ids=["wide", "tall"])
def test_tiled_apply_is_exact_on_an_image_smaller_than_a_tile_one_way(shape):
    """Tiles are min(tile, H) × min(tile, W): a 20 × 50 image in tiles of 32 is cut into 20 × 32 tiles, not 32 × 20."""
    x = torch.rand(1, 2, *shape)
    fn = lambda t: F.interpolate(t, scale_factor=2, mode="nearest") + 1  # noqa: E731
    torch.testing.assert_close(tiling.tiled_apply(fn, x, scale=2, tile=32, overlap=8), fn(x))


@pytest.fixture(scope="module")
def sr_model(shared):
    return convert_original_checkpoint(shared / "fixtures/official_parity/classical_sr_x2.pth")


def _crop(path, size=96):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)[:size, :size] / 255.0


def _psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a - b) ** 2))


@pytest.mark.parametrize("image", ["Set5/HR/bird.png", "Set14/HR/comic.png"])
def test_tiled_matches_whole_image(sr_model, shared, image):
    img = _crop(shared / "testsets" / image)
    whole = SwinIRRestorer(sr_model, tile=None).restore_float(img)
    tiled = SwinIRRestorer(sr_model, tile=64).restore_float(img)  # default overlap
    assert tiled.shape == whole.shape == (192, 192, 3)
    assert _psnr(tiled, whole) >= 40.0


@pytest.mark.parametrize("size", [96, 90], ids=["multiple of the window", "not a multiple"])
def test_tiles_of_the_authors_padded_image_match_its_whole_image(sr_model, shared, size):
    """With the authors' padding the whole image is padded first and tiled after, as their script tiles: tiled and
    whole agree as closely as without it (measured: 52-54 dB), while the padding itself moves the output by far more
    (17-39 dB from the model's own) on this random-weight model."""
    img = _crop(shared / "testsets/Set5/HR/bird.png", size)
    whole = SwinIRRestorer(sr_model, tile=None, padding="authors").restore_float(img)
    tiled = SwinIRRestorer(sr_model, tile=64, padding="authors").restore_float(img)
    assert tiled.shape == whole.shape == (2 * size, 2 * size, 3)
    assert _psnr(tiled, whole) >= 40.0
    assert _psnr(SwinIRRestorer(sr_model, tile=None).restore_float(img), whole) < 40.0


def _seam_jump(model, img, tile=64, overlap=32):
    """Largest jump of the tiled − whole error across a tile edge ÷ the 90th percentile of its jumps anywhere.

    A seam is a discontinuity: the error changes abruptly from one pixel to the next where a tile starts or ends.
    """
    whole = SwinIRRestorer(model, tile=None).restore_float(img)
    err = SwinIRRestorer(model, tile=tile, tile_overlap=overlap).restore_float(img) - whole
    n = img.shape[0] * 2
    edges = [e for s in tiling.tile_starts(img.shape[0], tile, overlap) for e in (2 * s, 2 * (s + tile) - 1)]
    edges = [e for e in edges if 0 < e < n - 1]
    assert edges
    jump_x = np.abs(np.diff(err, axis=1)).mean(axis=(0, 2))
    jump_y = np.abs(np.diff(err, axis=0)).mean(axis=(1, 2))
    at_edges = [j[e + d] for j in (jump_x, jump_y) for e in edges for d in (-1, 0)]
    return max(at_edges) / np.percentile(np.concatenate([jump_x, jump_y]), 90)


def test_no_seams_along_tile_borders(sr_model, shared, monkeypatch):
    img = _crop(shared / "testsets/Set5/HR/bird.png")
    assert _seam_jump(sr_model, img) <= 1.0
    # The same measure flags plain averaging of overlaps (constant 1/2 weights), so it can see a seam.
    monkeypatch.setattr(tiling, "_rising", lambda n: torch.full((n,), 0.5))
    assert _seam_jump(sr_model, img) > 5.0


def test_overlap_is_capped_at_half_a_tile(tiny_config):

    from swinir_hf import SwinIRForImageRestoration

    model = SwinIRForImageRestoration(tiny_config()).eval()
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(args[0].shape))
    out = SwinIRRestorer(model, tile=32, tile_overlap=32)(np.zeros((64, 64, 3), dtype=np.uint8))
    assert out.shape == (128, 128, 3)
    assert len(calls) == 9  # starts 0, 16, 32 on each axis; uncapped, a 1-pixel stride would need 33² tiles


NO_OVERLAP_WARNING = (
    "tile_overlap=0: neighbouring tiles are not blended, so their borders can show as seams; "
    "use an overlap of a few windows (default 32)"
)


def test_tiles_without_overlap_show_seams_and_are_warned_about(sr_model, shared, caplog):
    img = _crop(shared / "testsets/Set5/HR/bird.png", 128)  # 2 × 2 tiles of 64 that only touch
    caplog.set_level("WARNING")
    assert _seam_jump(sr_model, img, overlap=0) > 5.0
    assert [r.getMessage() for r in caplog.records] == [NO_OVERLAP_WARNING]


def test_the_no_overlap_warning_comes_once_and_only_when_tiles_meet(tiny_config, caplog):
    from swinir_hf import SwinIRForImageRestoration

    model = SwinIRForImageRestoration(tiny_config()).eval()
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    caplog.set_level("WARNING")
    SwinIRRestorer(model, tile=64, tile_overlap=0)(image)  # one tile: nothing to blend
    SwinIRRestorer(model, tile=32, tile_overlap=8)(image)
    assert caplog.records == []
    restorer = SwinIRRestorer(model, tile=32, tile_overlap=0)
    restorer(image)
    restorer(image)
    assert [r.getMessage() for r in caplog.records] == [NO_OVERLAP_WARNING]


def test_the_modules_old_name_still_imports_with_a_warning():
    """`swinir_hf.inference.tiling` (its name before the tiles shipped with Hub folders) gives the same functions,
    saying where they live now."""
    import importlib
    import sys

    sys.modules.pop("swinir_hf.inference.tiling", None)
    with pytest.warns(FutureWarning, match="swinir_hf.inference.tiling is now swinir_hf.models.tiling_swinir"):
        old = importlib.import_module("swinir_hf.inference.tiling")
    assert old.tiled_apply is tiling.tiled_apply and old.fewest_tiles is tiling.fewest_tiles

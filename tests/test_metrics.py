"""Metrics against the authors' reference figures, and their conventions and errors."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
from PIL import Image

from swinir_hf.evaluation import metrics


def _cases(shared):
    return json.loads((shared / "fixtures/metrics/cases.json").read_text())


def test_reference_figures(shared):
    """Every figure of the authors' `util_calculate_psnr_ssim.py` within 0.005 dB / 0.0005 SSIM."""
    functions = {"psnr": metrics.psnr, "ssim": metrics.ssim, "psnrb": metrics.psnrb}
    checked = 0
    for case in _cases(shared):
        gt = np.asarray(Image.open(shared / "testsets" / case["ground_truth"]))
        restored = np.asarray(Image.open(shared / "fixtures/metrics" / case["restored"]))
        if "crop_ground_truth_to" in case:
            h, w = case["crop_ground_truth_to"]
            gt = gt[:h, :w]
        for key, expected in case.items():
            name = key.removesuffix("_y")
            if name not in functions:
                continue
            got = functions[name](restored, gt, case["crop_border"], test_y_channel=key.endswith("_y"))
            tol = 0.0005 if name == "ssim" else 0.005
            assert got == pytest.approx(expected, abs=tol), (case["name"], key)
            checked += 1
    assert checked == 75  # every figure in the file


def test_y_is_matlab_rgb2ycbcr():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(metrics.rgb_to_y(rgb), [[16.0, 235.0, 16 + 65.481, 16 + 24.966]])
    # Same Y in every dtype's own units.
    np.testing.assert_allclose(metrics.rgb_to_y(rgb / 255.0) * 255.0, metrics.rgb_to_y(rgb))
    np.testing.assert_allclose(metrics.rgb_to_y(rgb.astype(np.uint16) * 257) / 257.0, metrics.rgb_to_y(rgb))


def test_dtypes_agree():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 36, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    for fn in (metrics.psnr, metrics.ssim, metrics.psnrb):
        for y in (False, True):
            ref = fn(a, b, 2, test_y_channel=y)
            assert fn(a / 255.0, b / 255.0, 2, test_y_channel=y) == pytest.approx(ref, abs=1e-9)
            a16, b16 = a.astype(np.uint16) * 257, b.astype(np.uint16) * 257
            assert fn(a16, b16, 2, test_y_channel=y) == pytest.approx(ref, abs=1e-9)


def test_grey_shapes_and_y_of_grey():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    b = rng.integers(0, 256, (32, 32), dtype=np.uint8)
    ref = metrics.psnr(a, b)
    assert metrics.psnr(a[..., None], b[..., None]) == ref
    # A grey image is its own Y, (H, W, 1) as (H, W).
    assert metrics.psnr(a, b, test_y_channel=True) == ref
    assert metrics.psnr(a[..., None], b[..., None], test_y_channel=True) == ref
    assert metrics.ssim(a, b, test_y_channel=True) == metrics.ssim(a, b)


def test_identical_and_border():
    a = np.random.default_rng(2).integers(0, 256, (30, 30, 3), dtype=np.uint8)
    assert metrics.psnr(a, a) == float("inf")
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    b = a.copy()
    b[:3] = 255 - b[:3]  # damage only the border
    assert metrics.psnr(b, a, crop_border=3) == float("inf")
    assert metrics.psnr(b, a, crop_border=2) < 40


def test_defaults_score_every_rgb_channel_uncropped():
    """Without arguments the metrics score R, G and B (not Y) of the whole image: PSNR is 10·log10(255² / MSE over
    all three channels), and SSIM and PSNR-B are those of crop_border=0, test_y_channel=False."""
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    assert metrics.psnr(a, b) == pytest.approx(10 * np.log10(255.0**2 / mse), abs=1e-9)
    for fn in (metrics.ssim, metrics.psnrb):
        assert fn(a, b) == fn(a, b, crop_border=0, test_y_channel=False) != fn(a, b, test_y_channel=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # identical images are inf as such, not through a division by zero
        assert metrics.psnr(a, a) == float("inf")


def test_psnrb_blocking_factor():
    """PSNR-B = PSNR where the restored image has no stronger edges on the 8×8 grid; lower when it is blocky."""
    rng = np.random.default_rng(3)
    gt = rng.integers(60, 200, (64, 64), dtype=np.uint8)
    smooth = np.add.outer(np.arange(64), np.arange(64)).astype(np.uint8)  # equal steps everywhere
    assert metrics.blocking_effect_factor(smooth / 255.0) == 0.0
    assert metrics.psnrb(smooth, gt) == pytest.approx(metrics.psnr(smooth, gt), abs=1e-9)
    blocks = np.kron(rng.integers(0, 256, (8, 8)), np.ones((8, 8))).astype(np.uint8)
    assert metrics.blocking_effect_factor(blocks / 255.0) > 0
    assert metrics.psnrb(blocks, gt) < metrics.psnr(blocks, gt)


def test_bad_inputs():
    rgb = np.zeros((16, 16, 3), np.uint8)
    grey = np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError, match="greyscale image with an RGB one"):
        metrics.psnr(grey, rgb)
    with pytest.raises(ValueError, match="greyscale image with an RGB one"):
        metrics.ssim(rgb, grey[..., None])
    with pytest.raises(ValueError, match=r"shapes differ: \(16, 16, 3\) vs \(16, 15, 3\)"):
        metrics.psnr(rgb, rgb[:, :15])
    with pytest.raises(ValueError, match="dtypes differ"):
        metrics.psnr(rgb, rgb.astype(np.float32))
    with pytest.raises(ValueError, match="crop_border 8 does not fit"):
        metrics.psnr(rgb, rgb, crop_border=8)
    with pytest.raises(ValueError, match="at least 11×11"):
        metrics.ssim(rgb, rgb, crop_border=3)
    with pytest.raises(ValueError, match="unsupported image dtype int32"):
        metrics.psnr(rgb.astype(np.int32), rgb.astype(np.int32))


def test_a_negative_crop_border_is_refused():
    """A negative border is no border to crop: refused with the message of one too wide, not scored as inf."""
    a = np.zeros((16, 16, 3), np.uint8)
    b = np.full((16, 16, 3), 9, np.uint8)
    for fn in (metrics.psnr, metrics.ssim, metrics.psnrb):
        with pytest.raises(ValueError, match=r"^crop_border -1 does not fit an image of \(16, 16\)$"):
            fn(a, b, crop_border=-1)


def test_psnrb_equals_psnr_when_block_boundaries_are_smoother_than_block_insides():
    """Yim & Bovik clamp the blocking-effect factor at 0: a restored image whose steps inside the 8×8 blocks exceed
    those across their boundaries gets PSNR-B = PSNR, never a bonus above it."""
    i = np.arange(64)
    phase = (i + i // 8) % 2  # alternates inside each block, equal on both sides of every block boundary
    checker = (np.add.outer(phase, phase) % 2 * 40 + 100).astype(np.uint8)
    assert np.all(checker[:, 7::8][:, :-1] == checker[:, 8::8]) and np.all(checker[:, 0] != checker[:, 1])
    gt = np.full((64, 64), 120, np.uint8)
    assert metrics.blocking_effect_factor(checker / 255.0) == 0.0
    assert metrics.psnrb(checker, gt) == pytest.approx(metrics.psnr(checker, gt), abs=1e-9)


def test_psnrb_needs_a_block_boundary_inside_the_image():
    """Under 8 pixels a side (or under 16 both ways) there is no 8×8 block boundary to count: the reference's
    formula gave -inf, nan or, under 8, a finite but meaningless figure (34.3 dB at 7×7)."""
    rng = np.random.default_rng(5)
    for shape in ((7, 7), (12, 12), (15, 15), (7, 40)):
        a, b = (rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(2))
        with pytest.raises(
            ValueError, match=rf"^PSNR-B needs a boundary between 8×8 blocks .* got {re.escape(str(shape))}$"
        ):
            metrics.psnrb(a, b)
    a, b = (rng.integers(0, 256, (8, 16), dtype=np.uint8) for _ in range(2))
    assert np.isfinite(metrics.psnrb(a, b))
    flat = np.full((16, 16), 7, np.uint8)  # identical and without blocking: inf, as PSNR's, without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.psnrb(flat, flat) == float("inf")


def test_a_float_image_on_0_255_or_a_fractional_border_is_refused():
    """The reference's metrics take float images on 0-255; scored here with peak 1.0 they gave a negative PSNR and a
    plausible but wrong SSIM (0.53 for 0.70)."""
    rng = np.random.default_rng(6)
    a, b = (rng.integers(0, 256, (16, 16, 3)).astype(np.float64) for _ in range(2))
    for fn in (metrics.psnr, metrics.ssim, metrics.psnrb):
        with pytest.raises(ValueError, match=r"^image is a float image with values in \[0, 255\], but float images"):
            fn(a, b)
    overshoot = np.clip(b / 255 + rng.normal(0, 0.05, b.shape), -0.1, 1.1)  # an unclipped output's is fine
    assert metrics.psnr(overshoot, b / 255) > 20
    for border in (2.0, True):
        with pytest.raises(ValueError, match=rf"^crop_border must be an int \(pixels\), got {border}$"):
            metrics.psnr(a / 255, b / 255, crop_border=border)
    assert metrics.psnr(a / 255, b / 255, crop_border=np.int64(2)) == metrics.psnr(a / 255, b / 255, crop_border=2)

"""Real-ESRGAN's second-order degradation (`degradations.second_order`, kind `real-esrgan`): kernels, draws within
the published ranges, shapes, determinism, and a training step with it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from swinir_hf.degradations import second_order
from swinir_hf.degradations.real_world import gaussian_kernel
from swinir_hf.degradations.second_order import (
    FINAL,
    FIRST_ORDER,
    KERNEL_SHAPES,
    SECOND_ORDER,
    KernelDraw,
    draw_kernel,
    real_esrgan_degradation,
    sinc_kernel,
)
from swinir_hf.degradations.setting import Degradation


def test_kernels_sum_to_one_with_their_shapes_and_beta_1_is_the_gaussian():
    """Every shape sums to 1 at its size; the paper's generalized Gaussian exp(-(d²)^β / 2) is the Gaussian at β = 1
    (its β raises the squared distance: β = 2 in the exp(-|d|^β) convention), and flatter-topped above it."""
    for shape in (*KERNEL_SHAPES, "sinc"):
        for size in (7, 13, 21):
            k = KernelDraw(shape, size, (1.5, 0.7), 0.4, 1.7, 2.0).kernel()
            assert k.shape == (size, size) and abs(k.sum() - 1) < 1e-12
    gauss = gaussian_kernel(21, 2.0, 1.0, 0.3)
    np.testing.assert_allclose(KernelDraw("generalized_aniso", 21, (2.0, 1.0), 0.3, 1.0).kernel(), gauss, atol=1e-15)
    flat = gaussian_kernel(21, 2.0, 2.0, 0.0, beta=4.0)
    assert flat[10, 10] < gauss.max() and np.isclose(flat[10, 9], flat[10, 10], rtol=0.01)  # top: nearly flat
    plateau = gaussian_kernel(21, 2.0, 2.0, 0.0, beta=1.0, plateau=True)
    assert np.isclose(plateau[10, 10] / plateau[10, 12], 2.0)  # 1 / (1 + d²) at d = 1 (σ 2, 2 px) is half the peak


@pytest.mark.parametrize("cutoff", [math.pi / 2, math.pi / 4])
def test_sinc_kernel_cuts_above_its_cutoff(cutoff):
    """The 2-D sinc's frequency response passes (≈ 1) below the cutoff and is small above it: within ±40% of the
    cutoff the window's ripples and transition (a 21² kernel) are left out."""
    k = sinc_kernel(21, cutoff)
    spectrum = np.abs(np.fft.fft2(k, s=(256, 256)))
    w = 2 * math.pi * np.fft.fftfreq(256)
    radius = np.hypot(w[:, None], w[None, :])
    passband, stopband = spectrum[radius < 0.6 * cutoff], spectrum[radius > 1.4 * cutoff]
    assert passband.min() > 0.8 and passband.max() < 1.15 and 0.9 < passband.mean() < 1.05
    assert stopband.max() < 0.12 and stopband.mean() < 0.03


@pytest.mark.parametrize(("shape", "scale"), [((32, 32), 2), ((32, 32), 4), ((17, 23), 2), ((17, 23), 4)])
def test_output_is_uint8_at_the_lr_size(shape, scale):
    hr = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    for seed in range(3):
        lq = Degradation("real-esrgan", scale).sample(hr, np.random.default_rng(seed))
        assert lq.shape == (shape[0] // scale, shape[1] // scale, 3) and lq.dtype == np.uint8
    grey = real_esrgan_degradation(hr[..., :1], scale, np.random.default_rng(0))
    assert grey.shape == (shape[0] // scale, shape[1] // scale, 1)


def test_same_seed_same_output_another_seed_another():
    hr = np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    d = Degradation("real-esrgan", 2)
    first, again = (d.sample(hr, np.random.default_rng((7, 3))) for _ in range(2))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, d.sample(hr, np.random.default_rng((7, 4))))
    assert str(d) == "real-esrgan ×2" and d.task == "sr" and "sinc" in d.description()
    with pytest.raises(ValueError, match="needs a super-resolution model"):
        Degradation("real-esrgan", 1)


def _within(values: list[float], bounds: tuple[float, float], cover: float = 0.9) -> bool:
    """All `values` within `bounds`, and spread over at least `cover` of it."""
    low, high = bounds
    return low <= min(values) and max(values) <= high and max(values) - min(values) >= cover * (high - low)


def test_draws_stay_within_the_stated_ranges(monkeypatch):
    """Over many runs on a tiny image, each order's drawn parameters lie in its ranges and its choices come at their
    stated probabilities (4σ of a binomial)."""
    drawn: dict[str, list] = {"first": [], "second": [], "final": []}
    orders = {id(FIRST_ORDER): "first", id(SECOND_ORDER): "second"}
    real_draw_order, real_draw_final = second_order.draw_order, second_order.draw_final

    def draw_order(rng, ranges):
        drawn[orders[id(ranges)]].append(draw := real_draw_order(rng, ranges))
        return draw

    def draw_final(rng, ranges=FINAL):
        drawn["final"].append(draw := real_draw_final(rng, ranges))
        return draw

    monkeypatch.setattr(second_order, "draw_order", draw_order)
    monkeypatch.setattr(second_order, "draw_final", draw_final)
    hr = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    n = 200
    rng = np.random.default_rng(1)
    for _ in range(n):
        real_esrgan_degradation(hr, 2, rng)

    def near(count: int, p: float) -> bool:
        return abs(count - n * p) <= 4 * math.sqrt(n * p * (1 - p)) + 1

    for name, ranges in (("first", FIRST_ORDER), ("second", SECOND_ORDER)):
        draws = drawn[name]
        assert len(draws) == n and near(sum(d.kernel is not None for d in draws), ranges.blur_prob)
        factors = [d.resize_factor for d in draws]
        assert near(sum(f > 1 for f in factors), ranges.resize_probs[0])
        assert near(sum(f == 1 for f in factors), ranges.resize_probs[2])
        assert _within(factors, ranges.resize_factor)
        assert near(sum(d.gaussian for d in draws), ranges.gaussian_prob) and near(sum(d.grey for d in draws), 0.4)
        assert _within([d.noise_level for d in draws if d.gaussian], ranges.noise_sigma)
        assert _within([d.noise_level for d in draws if not d.gaussian], ranges.poisson_scale)
        assert _within([d.jpeg_quality for d in draws], ranges.jpeg_quality, cover=1.0)
    final = drawn["final"]
    assert near(sum(d.sinc is not None for d in final), FINAL.sinc_prob)
    assert near(sum(d.resize_first for d in final), FINAL.resize_first_prob)
    assert _within([d.sinc.cutoff for d in final if d.sinc], FINAL.sinc_cutoff)
    assert _within([d.jpeg_quality for d in final], FINAL.jpeg_quality, cover=1.0)


def test_kernel_draws_stay_within_the_stated_ranges():
    rng = np.random.default_rng(0)
    for ranges in (FIRST_ORDER, SECOND_ORDER):
        kernels = [draw_kernel(rng, ranges) for _ in range(2000)]
        assert sorted({k.size for k in kernels}) == list(range(7, 22, 2))
        sinc = [k for k in kernels if k.shape == "sinc"]
        assert abs(len(sinc) - 2000 * ranges.sinc_prob) < 4 * math.sqrt(2000 * 0.09)
        assert _within([k.cutoff for k in sinc if k.size < 13], ranges.sinc_cutoff, cover=0.8)
        assert _within([k.cutoff for k in sinc if k.size >= 13], ranges.large_sinc_cutoff, cover=0.8)
        shaped = [k for k in kernels if k.shape != "sinc"]
        for shape, p in zip(KERNEL_SHAPES, ranges.shape_probs, strict=True):
            count = sum(k.shape == shape for k in shaped)
            assert abs(count - len(shaped) * p) < 4 * math.sqrt(len(shaped) * p * (1 - p)) + 1, shape
        assert _within([s for k in shaped for s in k.sigma], ranges.sigma)
        assert all(
            k.sigma[0] == k.sigma[1] and k.theta == 0 for k in shaped if k.shape.endswith("_iso") or k.shape == "iso"
        )
        assert _within([k.beta for k in shaped if k.shape.startswith("generalized")], ranges.generalized_beta)
        assert _within([k.beta for k in shaped if k.shape.startswith("plateau")], ranges.plateau_beta)
        assert all(k.beta == 1.0 for k in shaped if k.shape in ("iso", "aniso"))


def test_a_real_esrgan_config_trains_a_step(images, tmp_path, tiny_run, train_cli):
    out = tmp_path / "run"
    raw = tiny_run(images, out, train={"max_steps": 1, "batch_size": 2})
    raw["data"].update(degradation="real-esrgan", val=None)
    assert train_cli(raw, "--no-progress") == 0
    losses = json.loads((out / "training_summary.json").read_text())["losses"]
    assert len(losses) == 1 and np.isfinite(losses[0]["loss"])

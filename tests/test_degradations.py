"""Degradations: MATLAB bicubic against the authors' LR files, the authors' noise, Pillow JPEG, and the BSRGAN-style
real-world degradation's steps."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from swinir_hf.degradations import real_world
from swinir_hf.degradations import setting as degradation_setting
from swinir_hf.degradations.real_world import (
    degradation_order,
    random_blur_kernel,
    random_gaussian_noise,
    random_halve,
    random_shrink,
    real_world_degradation,
    resize,
)
from swinir_hf.degradations.setting import Degradation
from swinir_hf.degradations.synthetic import (
    add_gaussian_noise,
    as_uint8,
    bicubic_downscale,
    imresize,
    jpeg_compress,
    resize_weights,
)
from swinir_hf.evaluation import metrics


def resize_matrix(n: int, scale: float) -> np.ndarray:
    """The dense (out, n) matrix of one resize pass."""
    indices, weights = resize_weights(n, scale)
    matrix = np.zeros((indices.shape[0], n))
    np.add.at(matrix, (np.arange(indices.shape[0])[:, None], indices), weights)
    return matrix


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_set5_lr_files_reproduced(shared, scale):
    """MATLAB's uint8 imresize: the authors' LR_bicubic files, every pixel identical (spec: ≥ 99 %, off ≤ 2)."""
    set5 = shared / "testsets/Set5"
    for hr_path in sorted((set5 / "HR").glob("*.png")):
        hr = np.asarray(Image.open(hr_path))
        lr = np.asarray(Image.open(set5 / f"LR_bicubic/X{scale}/{hr_path.stem}x{scale}.png"))
        ours = bicubic_downscale(hr, scale)
        assert ours.dtype == np.uint8 and ours.shape == lr.shape
        diff = np.abs(ours.astype(int) - lr)
        assert (diff == 0).mean() == 1.0, (hr_path.name, (diff == 0).mean(), diff.max())


def test_resize_shapes_and_dtypes():
    rng = np.random.default_rng(0)
    img = rng.random((17, 10, 3))
    assert imresize(img, 1 / 3).shape == (6, 4, 3)  # ceil, with 1/3 given inexactly as a float
    assert imresize(img, 2).shape == (34, 20, 3)
    assert imresize(img[..., 0], 0.5).shape == (9, 5)
    assert imresize(img.astype(np.float32), 2).dtype == np.float32
    u8 = (img * 255).round().astype(np.uint8)
    assert imresize(u8, 0.5).dtype == np.uint8
    assert imresize(u8.astype(np.uint16) * 257, 0.5).dtype == np.uint16
    # Float data is not clipped: bicubic overshoots at a hard edge.
    edge = np.zeros((8, 8))
    edge[:, 4:] = 1.0
    up = imresize(edge, 4)
    assert up.min() < 0 and up.max() > 1


def test_resize_weights_and_constants():
    for n, s in ((10, 0.25), (7, 1 / 3), (5, 3.0), (9, 2.0)):
        m = resize_matrix(n, s)
        np.testing.assert_allclose(m.sum(axis=1), 1.0)
    const = np.full((12, 9, 3), 77, np.uint8)
    assert (imresize(const, 0.5) == 77).all() and (imresize(const, 3) == 77).all()


def test_uint8_rounds_after_each_pass():
    """uint8: rows first, rounded half away from zero, then columns, rounded again (MATLAB); not rounded once."""
    img = np.random.default_rng(1).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    rows = np.clip(np.floor(np.einsum("ij,jkc->ikc", resize_matrix(64, 0.5), img) + 0.5), 0, 255)
    both = np.clip(np.floor(np.einsum("ij,kjc->kic", resize_matrix(48, 0.5), rows) + 0.5), 0, 255)
    np.testing.assert_array_equal(imresize(img, 0.5), both)
    once = np.clip(np.floor(imresize(img.astype(np.float64), 0.5) + 0.5), 0, 255)
    assert (both != once).any()


def test_downscale_crops_to_multiple():
    img = np.random.default_rng(2).integers(0, 256, (26, 31), dtype=np.uint8)
    np.testing.assert_array_equal(bicubic_downscale(img, 4), imresize(img[:24, :28], 0.25))
    with pytest.raises(ValueError, match="smaller than the scale factor"):
        bicubic_downscale(img[:3], 4)


def test_noise_is_the_authors():
    rng = np.random.default_rng(3)
    grey = rng.random((20, 15, 1)).astype(np.float32)
    np.random.seed(0)
    expected = grey + np.random.normal(0, 25 / 255.0, grey.shape)
    np.testing.assert_array_equal(add_gaussian_noise(grey, 25, seed=0), expected)
    # Colour: drawn on the BGR image the authors read with OpenCV.
    rgb = rng.random((20, 15, 3)).astype(np.float32)
    np.random.seed(0)
    bgr_noisy = rgb[..., ::-1] + np.random.normal(0, 50 / 255.0, rgb.shape)
    np.testing.assert_array_equal(add_gaussian_noise(rgb, 50, seed=0), bgr_noisy[..., ::-1])
    noisy = add_gaussian_noise(np.zeros((32, 32)), 15)
    assert noisy.min() < 0  # not clipped
    assert noisy.std() == pytest.approx(15 / 255, rel=0.1)
    with pytest.raises(ValueError, match="float image"):
        add_gaussian_noise(np.zeros((4, 4), np.uint8), 15)


def test_jpeg(shared):
    """Pillow's JPEG gives the same pixels as OpenCV's (measured; docs/evaluation.md): classic5 q10 = 27.821 dB."""
    psnrs = []
    for path in sorted((shared / "testsets/classic5/HR").glob("*.png")):
        gt = np.asarray(Image.open(path))
        out = jpeg_compress(gt, 10)
        assert out.shape == gt.shape and out.dtype == np.uint8
        psnrs.append(metrics.psnr(out, gt))
    assert np.mean(psnrs) == pytest.approx(27.821, abs=0.001)

    rgb = np.asarray(Image.open(shared / "testsets/LIVE1/HR/bikes.png"))
    q10, q40 = jpeg_compress(rgb, 10), jpeg_compress(rgb, 40)
    assert q10.shape == rgb.shape
    assert metrics.psnr(q10, rgb) < metrics.psnr(q40, rgb)
    np.testing.assert_array_equal(jpeg_compress(rgb, 10), q10)
    grey = rgb[..., :1].copy()
    assert jpeg_compress(grey, 20).shape == grey.shape
    with pytest.raises(ValueError, match="quality must be in 1..100"):
        jpeg_compress(rgb, 0)
    with pytest.raises(ValueError, match="uint8"):
        jpeg_compress(rgb / 255.0, 10)


@pytest.mark.parametrize(
    ("kind", "level", "message"),
    [
        ("noise", -5.0, "noise_sigma must be a σ in 0..255 grey levels or a [low, high] range of them, got -5.0"),
        ("noise", 300.0, "noise_sigma must be a σ in 0..255 grey levels or a [low, high] range of them, got 300.0"),
        (
            "noise",
            [50, 10],
            "noise_sigma must be a σ in 0..255 grey levels or a [low, high] range of them, got [50, 10]",
        ),
        (
            "noise",
            [5, 10, 20],
            "noise_sigma must be a σ in 0..255 grey levels or a [low, high] range of them, got [5, 10, 20]",
        ),
        (
            "jpeg",
            [10, 150],
            "jpeg_quality must be an integer quality in 1..100 or a [low, high] range of them, got [10, 150]",
        ),
        ("jpeg", 12.5, "jpeg_quality must be an integer quality in 1..100 or a [low, high] range of them, got 12.5"),
    ],
)
def test_a_setting_with_a_bad_level_is_refused_when_made(kind, level, message):
    """Not by the first random sample that draws a bad level: numpy's 'scale < 0', or a training step hours in."""
    with pytest.raises(ValueError) as err:
        Degradation(kind, noise_sigma=level) if kind == "noise" else Degradation(kind, jpeg_quality=level)
    assert str(err.value) == message
    rng = np.random.default_rng(0)
    ok = Degradation(kind, noise_sigma=[0, 50], jpeg_quality=[10, 90])  # ranges as the bundled configs
    assert ok(np.zeros((8, 8, 3), np.uint8), rng).shape == (8, 8, 3)


def test_real_world_steps_see_pixels_in_range(monkeypatch):
    """BSRGAN clips after each noise step and each resize: a later blur or resize starts from an image in [0, 1], so
    noise or bicubic overshoot beyond white and black is not spread by the later steps (float rounding aside)."""
    seen = []

    def recording(step):
        def wrapped(image, *args):
            seen.append((image.min(), image.max()))
            return step(image, *args)

        return wrapped

    monkeypatch.setattr(real_world, "blur", recording(real_world.blur))
    monkeypatch.setattr(real_world, "resize", recording(real_world.resize))
    for value in (0, 255):
        for seed in range(8):
            real_world_degradation(np.full((48, 48, 3), value, np.uint8), 2, np.random.default_rng(seed))
    low, high = np.array(seen).T
    assert len(seen) > 40 and low.min() >= -1e-6 and high.max() <= 1 + 1e-6


def test_real_world_noise_is_grey_colour_or_correlated_as_bsrgan():
    """BSRGAN's Gaussian noise: σ an integer 2..25 grey levels, the same in every channel (p 0.4), independent per
    channel (p 0.4), or correlated across channels with a random covariance (p 0.2); then clipped to [0, 1]."""
    rng = np.random.default_rng(0)
    grey, colour, correlated = [], [], 0
    for _ in range(300):
        noise = (random_gaussian_noise(np.full((128, 128, 3), 0.5, np.float32), rng) - 0.5).reshape(-1, 3)
        stds, corr = noise.std(axis=0) * 255, np.corrcoef(noise.T)[np.triu_indices(3, 1)]
        if np.array_equal(noise[:, 0], noise[:, 1]) and np.array_equal(noise[:, 0], noise[:, 2]):
            grey.append(stds[0])
        elif np.abs(corr).max() < 0.08 and np.ptp(stds) < 0.05 * stds.mean():
            colour.append(stds.mean())
        else:
            assert corr.min() > -0.08 and stds.max() < 25.5  # positive correlations, within (25 / 255)² variance
            correlated += 1
    assert (len(grey), len(colour), correlated) == (114, 125, 61)  # 0.4 / 0.4 / 0.2 of 300, this seed
    levels = np.array(grey + colour)
    np.testing.assert_allclose(levels, np.round(levels), atol=0.4)  # integer σ...
    assert np.round(levels).min() == 2 and np.round(levels).max() == 25  # ...from 2 to 25
    clipped = random_gaussian_noise(np.ones((64, 64, 3), np.float32), rng)
    assert clipped.dtype == np.float32 and clipped.max() == 1.0 and clipped.min() < 1.0


def kernel_covariance(kernel: np.ndarray) -> np.ndarray:
    """The 2 × 2 covariance (pixels²) of a (k, k) kernel summing to 1, centred on its middle."""
    half = kernel.shape[0] // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1]
    return np.array([[(kernel * a * b).sum() for b in (y, x)] for a in (y, x)])


def test_real_world_blur_kernels_are_bsrgans():
    """BSRGAN's blur at scale s: odd sizes 7..25; isotropic (p 0.5) with σ < 2 + 0.2 s, or anisotropic with
    variances < 4 + s along axes at a random angle."""
    rng = np.random.default_rng(0)
    kernels = [random_blur_kernel(rng, 4) for _ in range(400)]
    assert {k.shape[0] for k in kernels} == set(range(7, 26, 2)) and all(k.shape[0] == k.shape[1] for k in kernels)
    isotropic = [k for k in kernels if np.allclose(k, k.T, atol=1e-12) and np.allclose(k, k[::-1], atol=1e-12)]
    assert len(isotropic) == 204  # of 400: p 0.5, this seed
    sigmas = [np.sqrt(kernel_covariance(k)[0, 0]) for k in isotropic]
    assert 2.5 < max(sigmas) < 2.8  # 2 + 0.2 · 4, less where a small kernel truncates it
    variances = [np.linalg.eigvalsh(kernel_covariance(k)).max() for k in kernels if k.shape[0] == 25]
    assert 7.0 < max(variances) < 8.0  # 4 + 4
    assert all(np.isfinite(k).all() and k.sum() == pytest.approx(1.0) for k in kernels)


def test_real_world_order_is_a_shuffle_with_the_shrink_before_the_resize_to_lr():
    """BSRGAN shuffles its steps and swaps its two down-samplings where the shrink came last: every one of the 180
    orders of blur, blur, shrink, to_lr, noise, jpeg with shrink before to_lr occurs, and no other."""
    rng = np.random.default_rng(0)
    orders = [tuple(degradation_order(rng)) for _ in range(3000)]
    assert all(sorted(o) == sorted(real_world.STEPS) and o.index("shrink") < o.index("to_lr") for o in orders)
    assert len(set(orders)) == 180
    first = [o[0] for o in orders]
    assert first.count("shrink") / len(first) == pytest.approx(2 / 6, abs=0.03)  # never to_lr: it takes its place
    assert "to_lr" not in first and first.count("noise") / len(first) == pytest.approx(1 / 6, abs=0.03)


def test_real_world_degradation_runs_its_steps_in_order(monkeypatch):
    """Each step of `degradation_order` in turn (the shuffled JPEG with p 0.9), then the final JPEG."""
    calls, depth, orders = [], [0], []

    def recording(name, step):
        def wrapped(*args):
            if depth[0] == 0:
                calls.append(name)
            depth[0] += 1
            try:
                return step(*args)
            finally:
                depth[0] -= 1

        return wrapped

    def order(rng):
        orders.append(degradation_order(rng))
        return orders[-1]

    monkeypatch.setattr(real_world, "degradation_order", order)
    for name, step in (("blur", "random_blur_kernel"), ("shrink", "random_shrink"), ("to_lr", "random_resize")):
        monkeypatch.setattr(real_world, step, recording(name, getattr(real_world, step)))
    monkeypatch.setattr(real_world, "random_gaussian_noise", recording("noise", random_gaussian_noise))
    monkeypatch.setattr(real_world, "random_jpeg", recording("jpeg", real_world.random_jpeg))
    skipped = 0
    hr = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    for seed in range(60):
        calls.clear()
        assert real_world_degradation(hr, 2, np.random.default_rng(seed)).shape == (20, 20, 3)  # ×2: no halving
        assert calls[-1] == "jpeg"
        if calls[:-1] != orders[-1]:
            assert calls[:-1] == [step for step in orders[-1] if step != "jpeg"]
            skipped += 1
    assert skipped == 10  # p 0.1 of 60, this seed range


def test_real_world_shrink_resizes_or_keeps_block_centres():
    """BSRGAN's first down-sampling: a resize by 1 / U(1, 2s) (p 0.75), or a blur centred on each s × s block and
    nearest down-sampling: on a ramp its pixels are the HR block centres, not their top-left corners."""
    ramp = np.broadcast_to((np.arange(97, dtype=np.float32) / 97)[:, None, None], (97, 41, 3))
    rng, nearest = np.random.default_rng(0), 0
    for _ in range(400):
        out = random_shrink(ramp, 4, rng)
        assert 97 // 8 <= out.shape[0] <= 97 and 0 <= out.min() and out.max() <= 1
        if out.shape[:2] == (25, 11):  # ceil(97 / 4) × ceil(41 / 4): no resize by 1 / f gives both
            centres = (4 * np.arange(25) + 1.5) / 97
            np.testing.assert_allclose(out[4:-4, 5], centres[4:-4, None].repeat(3, 1), atol=1e-5)
            nearest += 1
    assert nearest == 105  # p 0.25 of 400, this seed


@pytest.mark.parametrize(("size", "scale"), [((50, 37), 4), ((31, 64), 3), ((9, 7), 2), ((4, 5), 4)])
def test_real_world_output_is_the_lr_size(size, scale):
    for seed in range(6):
        for channels in (1, 3):
            hr = np.random.default_rng(seed).integers(0, 256, (*size, channels), dtype=np.uint8)
            lr = real_world_degradation(hr, scale, np.random.default_rng(seed))
            assert lr.shape == (size[0] // scale, size[1] // scale, channels) and lr.dtype == np.uint8


def test_real_world_x4_first_halves_one_image_in_four(monkeypatch):
    """BSRGAN at ×4 first down-samples by 2 with p 0.25 (MATLAB bicubic or a random resize); the steps after it work
    at the remaining factor 2 (blur widths, shrink), and the LR image is still 1/4 of the input."""
    halved, scales = [], []

    def halve(image, rng):
        halved.append(image.shape[:2])
        return random_halve(image, rng)

    def kernel(rng, scale):
        scales.append(scale)
        return random_blur_kernel(rng, scale)

    monkeypatch.setattr(real_world, "random_halve", halve)
    monkeypatch.setattr(real_world, "random_blur_kernel", kernel)
    monkeypatch.setattr(real_world, "random_shrink", lambda image, scale, rng: scales.append(scale) or image)
    hr = np.random.default_rng(0).integers(0, 256, (18, 22, 3), dtype=np.uint8)
    runs = []
    for seed in range(120):
        halved.clear(), scales.clear()
        assert real_world_degradation(hr, 4, np.random.default_rng(seed)).shape == (4, 5, 3)
        runs.append((len(halved), set(scales)))
    assert {(n, frozenset(s)) for n, s in runs} == {(0, frozenset({4})), (1, frozenset({2}))}
    assert sum(n for n, _ in runs) == 21  # p 0.25 of 120, this seed range
    for seed in range(40):
        real_world_degradation(hr, 2, np.random.default_rng(seed))
    assert not halved


def test_random_halve_is_half_the_size_in_range():
    rng = np.random.default_rng(0)
    image = rng.random((21, 30, 3)).astype(np.float32)
    shapes = [random_halve(image, rng).shape for _ in range(40)]
    assert set(shapes) == {(10, 15, 3), (11, 15, 3)}  # a resize to H // 2 or MATLAB's ceil(H / 2)
    out = random_halve(np.ones((8, 8, 1), np.float32), rng)
    assert out.dtype == np.float32 and out.max() <= 1.0


def test_real_world_resizes_do_not_antialias_as_opencv():
    """BSRGAN resizes with OpenCV, whose bilinear and bicubic shrinks read only the taps around each output pixel's
    centre (4i + 1.5 at 1/4), with no antialiasing: aliasing is part of its data. Area averages the 4 × 4 block."""
    image = np.random.default_rng(0).random((32, 40, 3)).astype(np.float32)
    taps = {"bilinear": [0.0, 0.5, 0.5, 0.0], "bicubic": [-0.09375, 0.59375, 0.59375, -0.09375], "area": [0.25] * 4}
    for mode, weights in taps.items():
        blocks = image.reshape(8, 4, 10, 4, 3)
        expected = np.einsum("i,j,aibjc->abc", np.array(weights), np.array(weights), blocks)
        np.testing.assert_allclose(resize(image, (8, 10), mode)[1:-1, 1:-1], expected[1:-1, 1:-1], atol=1e-5)


def test_area_resize_is_opencvs_at_any_factor():
    """Found by a degradations audit: torch's "area" counted partly covered pixels whole (up to 5 grey levels from
    OpenCV's INTER_AREA at 1/2.7, 7 when enlarging). Expected values: cv2.resize(..., interpolation=INTER_AREA) of
    OpenCV 4.14 on the same rows."""
    impulse = np.zeros((1, 10, 1), np.float32)
    impulse[0, 3] = 1
    cases = {  # (input row, output width): cv2's output row
        (tuple(impulse[0, :, 0]), 7): [0, 0, 0.7, 0, 0, 0, 0],  # a pixel wholly inside one footprint of 10/7
        (tuple(range(12)), 5): [0.75, 37 / 12, 5.5, 95 / 12, 10.25],  # footprints of 2.4 pixels
        ((0, 1, 4, 9), 7): [0, 0.25, 1, 2.5, 4, 7.75, 9],  # enlarging: OpenCV's linear taps
    }
    for (row, width), expected in cases.items():
        image = np.array(row, np.float32)[None, :, None]
        np.testing.assert_allclose(resize(image, (1, width), "area")[0, :, 0], expected, atol=1e-6)
    image = np.random.default_rng(0).random((27, 36, 3)).astype(np.float32)
    shrunk = resize(image, (10, 13), "area")  # footprints of 2.7 × 2.77: a weighted mean, so a constant stays one
    assert shrunk.shape == (10, 13, 3) and image.min() <= shrunk.min() and shrunk.max() <= image.max()
    np.testing.assert_allclose(resize(np.full((27, 36, 3), 0.3, np.float32), (10, 13), "area"), 0.3, atol=1e-6)


def test_every_degradation_is_described_and_sampled_in_one_place():
    """Each kind of `DEGRADATIONS` has its training-card description; `sample` gives the training input
    (`__call__`, as float) and, with the benchmark's fixed noise seed, the authors' noise."""
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    for kind in degradation_setting.DEGRADATIONS:
        scale = 2 if kind in ("bicubic", *degradation_setting.REAL_WORLD, "paired") else 1
        d = Degradation(kind, scale, noise_sigma=[5, 15], jpeg_quality=[30, 40])
        text = d.description()
        assert text and ("[" in text) == (kind in ("noise", "jpeg"))  # a level's range is shown
        if kind == "paired":
            with pytest.raises(ValueError, match="paired data carries its own LR images"):
                d.sample(hr, rng)
            continue
        lq = d.sample(hr, np.random.default_rng(1))
        assert lq.shape == (16 // scale, 24 // scale, 3) and lq.dtype == (np.float64 if kind == "noise" else np.uint8)
        trained = d(hr, np.random.default_rng(1))
        np.testing.assert_allclose(trained, lq / (1 if kind == "noise" else 255), rtol=1e-6)
    # the ×2 pre-downsample is drawn at ×4 only: a ×2 run's card said it too
    assert ["pre-downsample" in Degradation("real", s).description() for s in (2, 4)] == [False, True]
    fixed = Degradation("noise", noise_sigma=25).sample(hr, rng, noise_seed=0)
    authors = hr / 255 + np.random.RandomState(0).normal(0, 25 / 255, hr.shape)[..., ::-1]
    np.testing.assert_allclose(fixed, authors, atol=1e-6)


def test_real_world_jpeg_qualities_span_30_to_95_inclusive(monkeypatch):
    """BSRGAN's JPEG qualities are uniform in 30..95, both ends included (docs/training.md)."""
    qualities = []
    monkeypatch.setattr(real_world, "jpeg_compress", lambda image, quality: qualities.append(quality) or image)
    image = np.zeros((4, 4, 3), np.float32)
    for seed in range(2000):
        real_world.random_jpeg(image, np.random.default_rng(seed))
    assert min(qualities) == 30 and max(qualities) == 95 and len(set(qualities)) == 66


def test_an_integer_level_range_includes_its_upper_end(monkeypatch):
    """A JPEG quality range [low, high] is drawn inclusive: [10, 40] reaches 40, and [40, 40] is always 40."""
    qualities = []
    monkeypatch.setattr(degradation_setting, "jpeg_compress", lambda image, quality: qualities.append(quality) or image)
    for seed in range(400):
        Degradation("jpeg", jpeg_quality=[10, 40]).sample(np.zeros((8, 8, 3), np.uint8), np.random.default_rng(seed))
    assert min(qualities) == 10 and max(qualities) == 40 and len(set(qualities)) == 31
    qualities.clear()
    for seed in range(20):
        Degradation("jpeg", jpeg_quality=[40, 40]).sample(np.zeros((8, 8, 3), np.uint8), np.random.default_rng(seed))
    assert qualities == [40] * 20


def test_jpeg_takes_every_quality_from_1_to_100():
    """Quality 100 is a level a setting accepts (docs/training.md): it must code, nearly losslessly, not be refused."""
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    best = jpeg_compress(rgb, 100)
    assert best.shape == rgb.shape and metrics.psnr(best, rgb) > metrics.psnr(jpeg_compress(rgb, 95), rgb)
    assert jpeg_compress(rgb, 1).shape == rgb.shape
    with pytest.raises(ValueError, match="quality must be in 1..100, got 101"):
        jpeg_compress(rgb, 101)


def test_as_uint8_clips_and_rounds_to_the_nearest_level():
    """Noise overshoots [0, 1]: it saturates to black and white (not wrapped around), and levels are rounded."""
    levels = np.array([-0.3, 0.0, 100.6 / 255, 200.4 / 255, 1.0, 1.3])
    np.testing.assert_array_equal(as_uint8(levels), np.array([0, 0, 101, 200, 255, 255], np.uint8))
    assert as_uint8(levels).dtype == np.uint8


def test_colour_jpeg_subsamples_chroma_4_2_0_as_opencv():
    """The authors code colour JPEG inputs with OpenCV, which halves the chroma both ways (4:2:0): so must ours, or a
    colour JPEG model trains and is scored on milder artefacts than the paper's (colour bleeding at edges)."""
    rgb = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for quality in (10, 40, 90):
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality, subsampling="4:2:0")
        np.testing.assert_array_equal(jpeg_compress(rgb, quality), np.asarray(Image.open(buffer)))

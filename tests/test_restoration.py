"""The restoration engine: image kinds round-trip, ensemble, precision, out-of-memory retry."""

from __future__ import annotations

import copy
import dataclasses
import logging
import operator
import re
import struct
import threading
import warnings
import zlib
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from swinir_hf import SwinIRConfig, SwinIRForImageRestoration, SwinIRImageProcessor, SwinIRRestorer, restore
from swinir_hf.inference import devices, restoration
from swinir_hf.inference.devices import auto_dtype
from swinir_hf.inference.image_io import image_size, read_image
from swinir_hf.inference.image_writing import write_image
from swinir_hf.inference.memory import is_out_of_memory
from swinir_hf.inference.restoration import EngineOptions
from swinir_hf.models import runtime_swinir
from swinir_hf.models.alpha_swinir import fill_hidden_colour
from swinir_hf.models.runtime_swinir import inference_precision, running


@pytest.fixture(scope="module")
def model(tiny_config):
    torch.manual_seed(0)
    m = SwinIRForImageRestoration(tiny_config()).eval()
    with torch.no_grad():  # spread the weights so the output depends visibly on the input
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return m


@pytest.fixture(scope="module")
def grey_model(tiny_config):
    return SwinIRForImageRestoration(tiny_config(num_channels=1, upscale=1, upsampler="")).eval()


def _rgb(h=20, w=24, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_pil_rgb_gives_scaled_rgb(model):
    out = restore(model, Image.fromarray(_rgb()))
    assert out.mode == "RGB" and out.size == (48, 40)


def test_outscale_resizes_as_the_command_line_does(model, tmp_path):
    """Real-ESRGAN's `enhance(img, outscale=...)`: `restore` and a restorer take `outscale` (it was a TypeError
    from SwinIRRestorer.__init__), giving `swinir-hf restore --outscale`'s pixels (its `_save`: the model's output
    resized, then rounded), for a path too (its ICC profile kept); a bad one is refused before the model runs."""
    from swinir_hf.inference.jobs import resize_float
    from swinir_hf.models.pixels_swinir import compose_image, split_image

    rgb = Image.fromarray(_rgb())
    out = restore(model, rgb, outscale=3.5, dtype="float32")
    assert out.mode == "RGB" and out.size == (84, 70)  # floor(3.5·24 + 0.5) × floor(3.5·20 + 0.5)
    colour, layout = split_image(rgb)
    restored = SwinIRRestorer(model, dtype="float32").restore_float(colour)
    expected = np.asarray(compose_image(resize_float(restored, (84, 70)), layout))
    assert np.array_equal(np.asarray(out), expected)
    engine = EngineOptions(dtype="float32")
    assert np.array_equal(np.asarray(restore(model, rgb, engine, outscale=3.5)), expected)
    assert restore(model, _rgba(), outscale=1.5).shape == (30, 36, 4)
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb.save(tmp_path / "a.png", icc_profile=profile)
    from_path = SwinIRRestorer(model, dtype="float32")(tmp_path / "a.png", outscale=3.5)
    assert np.array_equal(np.asarray(from_path), expected) and from_path.info["icc_profile"] == profile
    for bad in (0, -2, float("nan"), "2"):
        with pytest.raises(ValueError, match="outscale must be a positive number"):
            restore(model, rgb, outscale=bad)


def test_an_engine_argument_that_is_not_engine_options_is_a_type_error(model):
    """`restore(model, image, 2)` (Real-ESRGAN's `enhance(img, 2)`) or a dict of options: a TypeError saying to
    pass the options by name, not an AttributeError about `.restorer`."""
    for engine in (2, "float32", {"tile": 8}):
        with pytest.raises(TypeError, match=r"third argument is an EngineOptions, got .*pass the options by name"):
            restore(model, Image.fromarray(_rgb()), engine)


def test_a_restorers_repr_shows_the_options_it_runs_with(model):
    """In a notebook a restorer shows how it runs (`dtype="auto"` resolved), not `<... object at 0x...>`."""
    text = repr(SwinIRRestorer(model, tile=64, dtype="auto", alpha="bicubic", padding="authors"))
    assert text.startswith("SwinIRRestorer(<SwinIRForImageRestoration x2>, device='cpu', tile=64, tile_overlap=32")
    assert f"dtype={auto_dtype(torch.device('cpu'))!r}" in text and "alpha='bicubic', padding='authors'" in text


def test_restore_tensor_refuses_pixels_out_of_range_as_images_are_refused(model):
    """`restore_tensor`, where `restore`'s error for tensors points, took 0..255 floats and NaN silently (an image of
    ~255 or NaN values came back); it now refuses them as `restore` refuses such arrays. Noisy overshoots pass."""
    restorer = SwinIRRestorer(model, dtype="float32")
    x = torch.rand(1, 3, 12, 10)
    overshoot = r"takes floats in \[0, 1\] \(noise may overshoot it, up to \[-4, 5\]\), "
    with pytest.raises(ValueError, match=overshoot + r"these span \[.+, 2\d\d.*\]: divide"):
        restorer.restore_tensor(x * 255)
    x_nan = x.clone()
    x_nan[0, 0, 0, :2] = float("nan")
    with pytest.raises(ValueError, match="hold 2 NaN / infinite values"):
        restorer.restore_tensor(x_nan)
    for where in ((0, 0, 0, 0), (0, 2, 11, 9)):  # an infinity first or last, as the extremes see it
        x_inf = x.clone()
        x_inf[where] = -float("inf")
        with pytest.raises(ValueError, match="hold 1 NaN / infinite values"):
            restorer.restore_tensor(x_inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a tensor that needs grad, checked without torch's scalar warning
        assert restorer.restore_tensor((x * 2 - 0.5).requires_grad_()).shape == (1, 3, 24, 20)


def test_restore_tensor_names_the_channels_its_model_takes(model, grey_model):
    """A grey or RGBA batch for a colour model (or colour for a grey one) failed in the model's forward with
    `pixel_values must be (N, 3, H, W)`, an argument `restore_tensor`'s caller never passed, and nothing to do."""
    for restorer_model, shape in ((model, (1, 1, 12, 10)), (model, (2, 4, 12, 10)), (grey_model, (1, 3, 12, 10))):
        channels = restorer_model.config.num_channels
        said = (
            f"restore_tensor: this model takes {channels}-channel pixels, (N, {channels}, H, W), got shape {shape}: "
            "pass images to restore() or restore_images(), which convert grey and colour and restore an alpha channel"
        )
        with pytest.raises(ValueError) as err:
            SwinIRRestorer(restorer_model, dtype="float32").restore_tensor(torch.rand(shape))
        assert str(err.value) == said


def test_restore_tensor_checks_the_range_in_one_pass(model, monkeypatch):
    """Every image the command line restores goes through `restore_tensor`: its range check made a bool copy of
    the input and summed it (0.5-0.7 s for 6 megapixels here, 40× the min / max pass) even for pixels in range."""
    counted = []
    isfinite = torch.isfinite
    monkeypatch.setattr(torch, "isfinite", lambda t: counted.append(t.shape) or isfinite(t))
    restorer = SwinIRRestorer(model, dtype="float32")
    assert restorer.restore_tensor(torch.rand(1, 3, 12, 10)).shape == (1, 3, 24, 20)
    assert torch.Size([1, 3, 12, 10]) not in counted


def _rgba(h=20, w=24):
    return np.dstack([_rgb(h, w), np.linspace(0, 255, h * w).reshape(h, w).astype(np.uint8)])


def _passes(restorer: SwinIRRestorer, monkeypatch) -> list[int]:
    """The batch size of each forward pass `restorer` runs from now on."""
    passes, run = [], restorer._run
    monkeypatch.setattr(restorer, "_run", lambda model, x, tile: passes.append(len(x)) or run(model, x, tile))
    return passes


@pytest.mark.parametrize("padding", ["model", "authors"])
def test_restore_images_restores_each_image_as_the_call_does_in_one_pass(model, monkeypatch, padding):
    """`restore_images`: same-size images of every kind (RGB, grey into an RGB model, RGBA whose alpha the model
    upscales, 16-bit, float) through one forward pass for the colours and one for the alphas, each image as the
    call restores it (one pass per image), `outscale` too; with either padding."""
    rng = np.random.default_rng(3)
    images = [
        Image.fromarray(_rgb(seed=1)),
        Image.fromarray(_rgb(seed=2)[..., 0]),
        Image.fromarray(_rgba()),
        rng.integers(0, 65536, (20, 24, 3), dtype=np.uint16),
        rng.random((20, 24, 3), dtype=np.float32),
    ]
    restorer = SwinIRRestorer(model, tile=None, dtype="float32", padding=padding)
    alone = [restorer(image, outscale=2.5) for image in images]
    passes = _passes(restorer, monkeypatch)
    batched = restorer.restore_images(images, outscale=2.5)
    assert passes == [5, 1]
    for one, many in zip(alone, batched, strict=True):
        assert type(one) is type(many)
        if isinstance(one, Image.Image):
            assert (one.mode, one.size) == (many.mode, many.size)
            one, many = np.asarray(one), np.asarray(many)
        assert one.dtype == many.dtype and one.shape == many.shape == (50, 60, *one.shape[2:])
        # The same model and pixels in a larger batch: float rounding of other kernels' sums, ≤ 1 level
        tolerance = {np.dtype(np.uint8): 1, np.dtype(np.uint16): 257}.get(one.dtype, 1e-5)
        assert np.abs(one.astype(np.float64) - many.astype(np.float64)).max() <= tolerance
    assert restorer.restore_images([]) == []


def test_restore_images_takes_files_and_keeps_their_icc_profile_as_the_call_does(model, tmp_path):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(_rgb(seed=5)).save(tmp_path / "a.png", icc_profile=profile)
    restorer = SwinIRRestorer(model, tile=None, dtype="float32")
    images = [tmp_path / "a.png", Image.fromarray(_rgb(seed=6)), str(tmp_path / "a.png")]
    batched = restorer.restore_images(images, outscale=3)
    for image, out in zip(images, batched, strict=True):
        alone = restorer(image, outscale=3)
        assert out.info.get("icc_profile") == alone.info.get("icc_profile")
        assert np.abs(np.asarray(out).astype(int) - np.asarray(alone).astype(int)).max() <= 1
    assert batched[0].info["icc_profile"] == profile and "icc_profile" not in batched[1].info


def test_restore_images_batches_each_size_and_keeps_the_order(model, monkeypatch):
    """Images of several sizes: one pass per size, in the order the sizes first appear; outputs in the given order."""
    restorer = SwinIRRestorer(model, tile=None, dtype="float32")
    images = [Image.fromarray(_rgb(h, w, seed=i)) for i, (h, w) in enumerate([(20, 24), (20, 30), (20, 24), (8, 8)])]
    alone = [np.asarray(restorer(image)) for image in images]
    passes = _passes(restorer, monkeypatch)
    batched = restorer.restore_images(images)
    assert passes == [2, 1, 1]
    for one, many in zip(alone, batched, strict=True):
        assert one.shape == np.asarray(many).shape and np.abs(one.astype(int) - np.asarray(many).astype(int)).max() <= 1


def test_restore_images_refuses_an_image_for_a_list_and_names_what_is_not_an_image(model):
    restorer = SwinIRRestorer(model, tile=None)
    for image in (_rgb(), Image.fromarray(_rgb())):  # an array's rows are no images
        with pytest.raises(TypeError, match=r"^restore_images takes a list of images: restore one image with"):
            restorer.restore_images(image)
    with pytest.raises(TypeError, match="expected a PIL image, numpy array or path, got int"):
        restorer.restore_images([Image.fromarray(_rgb()), 3])


def test_restore_images_restores_a_batch_too_large_for_memory_one_image_at_a_time(model, monkeypatch):
    """Batching is for speed: whole images that each fit alone, but not together, are restored one by one."""
    from swinir_hf.models import memory_swinir as modeling

    cpu = torch.device("cpu")
    one = modeling.SURELY_NEEDED * 20 * 24 * modeling.activation_bytes_per_pixel(model.config, cpu)
    fixed = modeling.SURELY_NEEDED * modeling.fixed_activation_bytes(model.config, cpu)
    monkeypatch.setattr(modeling, "available_host_memory", lambda: int(fixed + 1.5 * one))  # one image, not two
    restorer = SwinIRRestorer(model, tile=None, dtype="float32")
    images = [Image.fromarray(_rgb(seed=i)) for i in range(3)]
    alone = [np.asarray(restorer(image)) for image in images]
    passes = _passes(restorer, monkeypatch)
    batched = restorer.restore_images(images)
    assert passes == [1, 1, 1]
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(alone, batched, strict=True))


def test_rgba_with_bicubic_alpha_restores_colour_and_resizes_alpha(model):
    rgba = _rgba()
    out = restore(model, Image.fromarray(rgba), alpha="bicubic")
    assert out.mode == "RGBA" and out.size == (48, 40)
    alpha = np.asarray(Image.fromarray(rgba[..., 3].astype(np.float32) / 255).resize((48, 40), 3))
    np.testing.assert_allclose(np.asarray(out)[..., 3] / 255, np.clip(alpha, 0, 1), atol=1 / 255)
    # the colour does not depend on alpha
    np.testing.assert_array_equal(np.asarray(out)[..., :3], np.asarray(restore(model, Image.fromarray(rgba[..., :3]))))


class _CountForwards:
    """Counts a model's forward passes while the block runs."""

    def __init__(self, model):
        self.model, self.calls = model, 0

    def __enter__(self):
        self.handle = self.model.register_forward_pre_hook(lambda *_: setattr(self, "calls", self.calls + 1))
        return self

    def __exit__(self, *exc):
        self.handle.remove()


@pytest.mark.parametrize("as_array", [False, True])
def test_rgba_alpha_is_upscaled_by_the_model_by_default(model, as_array):
    """As Real-ESRGAN: the alpha is the model's output for it as a grey image (edges as sharp as the colour's),
    the colour is the RGB image's restoration; one forward pass each."""
    rgba = _rgba()
    image = rgba if as_array else Image.fromarray(rgba)
    with _CountForwards(model) as count:
        out = np.asarray(restore(model, image))
    assert count.calls == 2 and out.shape == (40, 48, 4)
    alpha_alone = np.asarray(restore(model, Image.fromarray(rgba[..., 3])))
    np.testing.assert_array_equal(out[..., 3], alpha_alone)
    np.testing.assert_array_equal(out[..., :3], np.asarray(restore(model, Image.fromarray(rgba[..., :3]))))
    bicubic = np.asarray(restore(model, image, alpha="bicubic"))[..., 3]
    assert np.abs(out[..., 3].astype(int) - bicubic).max() > 8  # really another alpha


def test_a_cutouts_uniform_areas_keep_their_exact_alpha(model):
    """The model drifts inside a cut-out's uniform areas (opaque ones not quite opaque, a haze over transparent
    ones): where the input's alpha is 0 or 1 all around a pixel, the output's is exactly that; edges are the model's."""
    rgba = np.zeros((12, 14, 4), np.uint8)
    rgba[..., :3] = (200, 60, 40)
    rgba[:, :7, 3] = 255
    out = np.asarray(restore(model, Image.fromarray(rgba)))
    drawn = np.asarray(restore(model, Image.fromarray(rgba[..., 3])))  # the model's own enlargement of the alpha
    assert drawn[:, :12].min() < 255 and drawn[:, 16:].max() > 0  # the tiny random model drifts a lot
    assert (out[:, :12, 3] == 255).all() and (out[:, 16:, 3] == 0).all()  # 2 × (7 - 1) and 2 × (7 + 1) on
    np.testing.assert_array_equal(out[:, 12:16, 3], drawn[:, 12:16])


def test_alpha_is_not_run_through_the_model_when_it_is_constant_or_kept(model, grey_model):
    """An opaque RGBA image (constant alpha) and any scale-1 model keep the alpha as it is, in one forward pass."""
    opaque = _rgba()
    opaque[..., 3] = 255
    with _CountForwards(model) as count:
        out = np.asarray(restore(model, Image.fromarray(opaque)))
    assert count.calls == 1 and (out[..., 3] == 255).all()
    la = np.dstack([_rgb()[..., 0], _rgba()[..., 3]])
    with _CountForwards(grey_model) as count:
        out = np.asarray(restore(grey_model, Image.fromarray(la, "LA")))
    assert count.calls == 1 and out.shape == (20, 24, 2)
    np.testing.assert_array_equal(out[..., 1], la[..., 1])


def test_an_exporters_colour_under_transparent_pixels_does_not_bleed_into_the_edges(model):
    """Black under every fully transparent pixel is filled with the visible neighbours' colour before the model runs
    (the edges come out as from the filled image) and put back where the result is fully transparent; colours that
    differ there (data, maybe) go through the model as they are."""
    rgba = np.dstack([_rgb().astype(np.float32) / 255, np.ones((20, 24), np.float32)])
    rgba[5:15, 6:18] = 0  # a transparent hole with black under it
    filled = rgba.copy()
    filled[..., :3] = fill_hidden_colour(rgba[..., :3], rgba[..., 3])[0]
    out, from_filled = (restore(model, image, alpha="bicubic") for image in (rgba, filled))
    transparent = out[..., 3] <= 0
    assert transparent.sum() > 100 and (out[transparent, :3] == 0).all()
    np.testing.assert_array_equal(out[~transparent], from_filled[~transparent])
    assert from_filled[transparent, :3].mean() > 0.1  # the filled colours' restoration, not black
    # 8 bits, alpha through the model: black again wherever the alpha rounds to 0.
    out8 = np.asarray(restore(model, Image.fromarray((rgba * 255).round().astype(np.uint8))))
    assert (out8[..., 3] == 0).sum() > 100 and (out8[out8[..., 3] == 0, :3] == 0).all()
    # Without the fill the black would reach into the visible edge.
    varied = rgba.copy()
    varied[5:15, 6:18, 0] = np.linspace(0, 1e-3, 120).reshape(10, 12)  # not one colour: kept
    kept = restore(model, varied, alpha="bicubic")
    edge = ~transparent & (out[..., 3] < 1)
    assert np.abs(kept[edge, :3] - out[edge, :3]).max() > 0.05
    np.testing.assert_array_equal(kept[..., :3], restore(model, varied[..., :3]))  # colour as if alpha were absent


def test_alpha_option_is_checked(model):
    with pytest.raises(ValueError, match="^alpha must be 'model' or 'bicubic', got 'nearest'$"):
        SwinIRRestorer(model, alpha="nearest")


def test_16bit_grey_stays_16bit(model):
    img = Image.fromarray(np.random.default_rng(1).integers(0, 65536, (20, 24), dtype=np.uint16))
    out = restore(model, img)
    assert out.mode == "I;16" and out.size == (48, 40)
    values = np.asarray(out)
    assert values.dtype == np.uint16 and np.any(values % 257)  # not 8-bit values scaled up


def test_16bit_grey_of_either_byte_order_and_rgbx_come_back_in_their_own_mode(model, tmp_path):
    """A big-endian 16-bit grey image (`I;16B`, as Pillow opens a big-endian TIFF) came back `I;16`, and RGB padded to
    4 bytes (`RGBX`) came back `RGB`: each comes back in its own mode now, with the pixels of `I;16` / `RGB`, and is
    written as the command line writes its outputs (PNG holds neither `I;16L`, `I;16N` nor `RGBX`)."""
    levels = np.random.default_rng(1).integers(0, 65536, (20, 24), dtype=np.uint16)
    want = np.asarray(restore(model, Image.fromarray(levels)))
    for mode, order in (("I;16B", ">u2"), ("I;16L", "<u2"), ("I;16N", "=u2")):
        out = restore(model, Image.frombytes(mode, (24, 20), levels.astype(order).tobytes()))
        assert out.mode == mode and out.size == (48, 40), mode
        np.testing.assert_array_equal(np.asarray(out), want, err_msg=mode)
        write_image(tmp_path / "out.png", out)
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), want, err_msg=mode)
    Image.frombytes("I;16B", (24, 20), levels.astype(">u2").tobytes()).save(tmp_path / "big-endian.tif")
    out = restore(model, tmp_path / "big-endian.tif")
    assert out.mode == "I;16B"
    np.testing.assert_array_equal(np.asarray(out), want)
    rgb = Image.fromarray(_rgb())
    out = restore(model, rgb.convert("RGBX"))
    assert out.mode == "RGBX" and out.size == (48, 40)
    np.testing.assert_array_equal(np.asarray(out)[..., :3], np.asarray(restore(model, rgb)))
    assert np.all(np.asarray(out)[..., 3] == 255)  # the padding, as Pillow's RGB → RGBX makes it
    write_image(tmp_path / "out.png", out)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), np.asarray(out)[..., :3])


def test_an_animated_pil_image_is_named_in_the_warning_by_its_file(model, tmp_path, caplog):
    """The warning that only the first frame of an animated PIL image is restored said "the image" of an image opened
    from a file: it names the file now, as for its path; an image of several given, "image i of those given"."""
    frames = [Image.fromarray(_rgb(seed=i)) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    caplog.set_level(logging.WARNING)
    with Image.open(tmp_path / "anim.gif") as opened:
        restore(model, opened)
    with Image.open(tmp_path / "anim.gif") as opened:
        SwinIRRestorer(model).restore_images([Image.fromarray(_rgb()), opened])
    with Image.open(tmp_path / "anim.gif") as opened:
        opened.filename = ""  # an image opened from bytes has no file name
        SwinIRRestorer(model).restore_images([Image.fromarray(_rgb()), opened])
        SwinIRRestorer(model).restore_images([opened], names=["clip 7"])
    named = [tmp_path / "anim.gif"] * 2 + ["image 1 of those given", "clip 7"]
    assert caplog.messages == [f"{name} has 3 frames: only frame 1 is restored" for name in named]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_numpy_keeps_dtype_and_layout(model, dtype):
    """Same dtype and shape out, in C order whatever the dtype: float outputs were a channels-last view of
    channels-first memory, on which `torch.from_numpy(out).view(-1)` and buffer casts failed."""
    rgb = _rgb().astype(np.float64) / 255
    arr = (rgb * np.iinfo(dtype).max).round().astype(dtype) if np.issubdtype(dtype, np.integer) else rgb.astype(dtype)
    for image in (arr, arr[..., 0], arr[..., :1], np.dstack([arr, arr[..., :1]])):
        out = restore(model, image)
        assert out.dtype == dtype and out.shape == (40, 48) + image.shape[2:]
        assert out.flags.c_contiguous, (image.shape, out.strides)


def test_an_array_of_another_layout_is_refused_with_what_to_pass(model):
    """A (C, H, W) array, as PyTorch code holds images, or a batch of one: the error says what to pass instead."""
    with pytest.raises(ValueError, match=r"got shape \(3, 20, 24\): a channels-first .* image.transpose\(1, 2, 0\)"):
        restore(model, _rgb().transpose(2, 0, 1))
    with pytest.raises(ValueError, match=r"got shape \(1, 20, 24, 3\): a batch of one image\? pass image\[0\]"):
        restore(model, _rgb()[None])
    with pytest.raises(ValueError, match=r"got shape \(20, 24, 7\)$"):
        restore(model, np.zeros((20, 24, 7), np.uint8))
    # The advice runs as written: a (1, C, H, W) batch was told `image[0]`, a (C, H, W) array refused again.
    for image in (_rgb().transpose(2, 0, 1), _rgb()[None], _rgb().transpose(2, 0, 1)[None]):
        with pytest.raises(ValueError) as caught:
            restore(model, image)
        advice = re.search(r"pass (image.*)$", str(caught.value)).group(1)
        assert restore(model, eval(advice)).shape == (40, 48, 3), advice  # noqa: S307 (the message's own code)


def test_16bit_colour_png_file_round_trip(model, tmp_path):
    arr = np.random.default_rng(2).integers(0, 65536, (20, 24, 3), dtype=np.uint16)
    write_image(tmp_path / "in.png", arr)
    np.testing.assert_array_equal(read_image(tmp_path / "in.png").pixels, arr)
    out = restore(model, tmp_path / "in.png")
    assert out.dtype == np.uint16 and out.shape == (40, 48, 3)
    write_image(tmp_path / "out.tif", out)
    np.testing.assert_array_equal(read_image(tmp_path / "out.tif").pixels, out)


@pytest.mark.parametrize(
    "shape", [(20, 24), (20, 24, 1), (20, 24, 3), (20, 24, 4)], ids=["grey", "grey 1", "RGB", "RGBA"]
)
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_8bit_arrays_are_written_as_8bit_images(tmp_path, shape, suffix):
    """uint8 arrays, as `restore` returns for 8-bit inputs (it was a black PNG: read as 16-bit levels)."""
    arr = np.random.default_rng(3).integers(0, 256, shape, dtype=np.uint8)
    write_image(tmp_path / f"out{suffix}", arr)
    back = np.asarray(read_image(tmp_path / f"out{suffix}").pixels)  # 8-bit files are read as PIL images
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back.reshape(arr.shape), arr)


@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
@pytest.mark.parametrize("shape", [(20, 24), (20, 24, 1)], ids=["grey", "grey 1"])
@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg", ".webp"])
def test_deep_grey_arrays_are_written(model, tmp_path, dtype, shape, suffix):
    """uint16 / float grey arrays, as `restore` returns for such inputs (the colour-array writer failed on them:
    "not enough values to unpack"): 16-bit grey PNG / TIFF (float: float TIFF), 8-bit JPEG / WebP."""
    rng = np.random.default_rng(4)
    grey = rng.integers(0, 65536, shape[:2], dtype=np.uint16) if dtype == np.uint16 else rng.random(shape[:2], dtype)
    arr = restore(model, grey.reshape(shape), tile=None, dtype="float32")[:20, :24]
    write_image(tmp_path / f"out{suffix}", arr)
    back = np.asarray(read_image(tmp_path / f"out{suffix}").pixels)
    if suffix in (".jpg", ".webp"):
        assert back.dtype == np.uint8 and back.shape[:2] == shape[:2]
    elif dtype == np.float32 and suffix == ".tif":
        np.testing.assert_array_equal(back, arr.reshape(shape[:2]))
    else:  # 16-bit grey PNG / TIFF: a float one rounded to 16-bit levels
        levels = arr if dtype == np.uint16 else np.rint(arr * 65535)
        np.testing.assert_array_equal(back, levels.reshape(shape[:2]))


def test_16bit_colour_png_is_recognised_from_plain_tile_tuples(tmp_path):
    """Pillow < 11 (pyproject allows ≥ 10) gives an image's tiles as plain tuples, not named ones."""
    from swinir_hf.inference import deep_decoders

    write_image(tmp_path / "in.png", np.full((4, 6, 3), 300, dtype=np.uint16))
    with Image.open(tmp_path / "in.png") as image:
        image.tile = [tuple(tile) for tile in image.tile]
        assert deep_decoders.is_deep(image)


def test_deep_files_are_read_at_their_stored_levels(tmp_path):
    """Found by an output-fidelity audit: a 16-bit PNG with an sBIT chunk (12 significant bits) was read 16× too
    dark (pypng shifts to the sBIT depth); a 16-bit grey PNG's colour key (tRNS) was dropped; a 16-bit TIFF with
    premultiplied (associated) alpha was taken as straight, halving semi-transparent colour."""
    import io

    import png
    import tifffile

    levels = np.full((4, 6, 3), 50000, np.uint16)
    levels[:, :3] = 20000
    buf = io.BytesIO()
    png.Writer(6, 4, greyscale=False, bitdepth=16).write(buf, levels.reshape(4, -1))
    buf.seek(0)
    chunks = list(png.Reader(file=buf).chunks())
    chunks.insert(1, (b"sBIT", bytes([12, 12, 12])))
    with open(tmp_path / "sbit.png", "wb") as file:
        png.write_chunks(file, chunks)
    np.testing.assert_array_equal(read_image(tmp_path / "sbit.png").pixels, levels)

    grey = np.full((4, 6), 1000, np.uint16)
    grey[:, :2] = 7
    with open(tmp_path / "key.png", "wb") as file:
        png.Writer(6, 4, greyscale=True, bitdepth=16, transparent=7).write(file, grey)
    keyed = read_image(tmp_path / "key.png").pixels
    assert keyed.dtype == np.uint16 and keyed.shape == (4, 6, 2)
    np.testing.assert_array_equal(keyed[..., 0], grey)
    np.testing.assert_array_equal(keyed[..., 1], np.where(grey == 7, 0, 65535))

    straight = np.zeros((4, 6, 4), np.uint16)
    straight[..., :3], straight[..., 3] = 32768, 32768  # mid grey at half alpha: stored as a quarter, premultiplied
    premultiplied = straight.copy()
    premultiplied[..., :3] = 16384
    tifffile.imwrite(tmp_path / "assoc.tif", premultiplied, photometric="rgb", extrasamples=[1])
    np.testing.assert_allclose(read_image(tmp_path / "assoc.tif").pixels.astype(int), straight, atol=1)


def test_grey_levels_written_as_8_bits_are_rounded_and_a_grey_profile_becomes_srgb_in_webp(tmp_path):
    """16-bit grey into JPEG / WebP was truncated (half a level darker on average); WebP stores grey as RGB, where
    the grey ICC profile it kept was invalid (colour-managed viewers dropped it: 188 shown as 128)."""
    level = np.full((8, 8), round(100.78 * 257), np.uint16)
    for suffix in (".jpg", ".webp"):
        write_image(tmp_path / f"grey{suffix}", Image.fromarray(level))
        assert np.asarray(read_image(tmp_path / f"grey{suffix}").pixels.convert("L")).mean() == pytest.approx(
            101, abs=0.5
        )
    grey_icc = _grey_profile(gamma=1.0)  # linear grey: level 128 is shown as sRGB 188
    write_image(tmp_path / "profiled.webp", Image.new("L", (8, 8), 128), grey_icc)
    stored = read_image(tmp_path / "profiled.webp")
    profile = ImageCms.ImageCmsProfile(__import__("io").BytesIO(stored.icc_profile))
    assert stored.pixels.mode == "RGB" and profile.profile.xcolor_space.strip() == "RGB"
    assert abs(stored.pixels.getpixel((4, 4))[0] - 188) <= 2


def test_a_grey_profile_that_cannot_be_used_is_left_out_of_a_webp_with_a_warning(tmp_path, caplog):
    """It was copied as it was into the WebP, which holds grey as RGB: an RGB file with a grey profile."""
    broken = bytearray(_grey_profile(gamma=1.0))
    broken[-4:] = b"\xff\xff\xff\xff"  # the kTRC curve's gamma field cut: no transform can be built
    caplog.set_level("WARNING")
    write_image(tmp_path / "broken.webp", Image.new("L", (8, 8), 128), bytes(broken[:-8]))
    assert read_image(tmp_path / "broken.webp").icc_profile is None
    assert len(caplog.messages) == 1
    assert caplog.messages[0].startswith(f"{tmp_path / 'broken.webp'}: the grey image's ICC profile cannot be used (")
    assert caplog.messages[0].endswith("where a grey profile is invalid: written without a profile")


def _grey_profile(gamma: float) -> bytes:
    """A minimal ICC v2 grey display profile: D50 white point and one gamma curve (Pillow makes no grey ones)."""
    import struct

    def fixed(*values: float) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    tags = {
        b"desc": b"desc" + bytes(4) + struct.pack(">I", 5) + b"grey\0" + bytes(4 + 4 + 2 + 1 + 67),
        b"wtpt": b"XYZ " + bytes(4) + fixed(0.9642, 1.0, 0.8249),
        b"kTRC": b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)),
    }
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for signature, body in tags.items():
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body + bytes(-len(body) % 4)
    body = struct.pack(">I", len(tags)) + table + data
    header = struct.pack(">I", 128 + len(body)) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntrGRAYXYZ "
    # date, "acsp", platform to rendering intent, the D50 illuminant, creator, ID and reserved: 128 bytes in all
    header += bytes(12) + b"acsp" + bytes(28) + fixed(0.9642, 1.0, 0.8249) + bytes(4 + 44)
    return header + body


def test_a_tiling_note_is_said_once_per_process_not_once_per_restore_call(model, caplog):
    """`restore()` builds a restorer for each call, which held the once-guard: three calls, three warnings."""
    caplog.set_level("WARNING")
    for _ in range(3):
        restore(model, np.zeros((16, 16, 3), np.uint8), tile=8, tile_overlap=0)
    assert [m.split(":")[0] for m in caplog.messages] == ["tile_overlap=0"]


def test_float_pixels_past_0_1_are_warned_of_from_arrays_as_from_files(model, caplog):
    """A [-1, 1] array (a `(x - 0.5) / 0.5` normalisation) lost its lower half to black without a word, where the
    same pixels from a float TIFF were warned of: arrays, mode F images and the processor say it now, once each."""
    from transformers import pipeline

    x = np.linspace(0, 1, 8 * 8 * 3, dtype=np.float32).reshape(8, 8, 3)
    lost = "beyond [0, 1]: the output is clamped to [0, 1], and what lies beyond (HDR highlights, a [-1, 1] image's "
    caplog.set_level("WARNING")
    for image in (x * 2 - 1, Image.fromarray(np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8))):
        caplog.clear()
        assert np.asarray(restore(model, image, dtype="float32")).min() == 0  # clamped
        assert caplog.messages == [f"the image: its values span [-1, 1], {lost}lower half) is lost"]
    caplog.clear()
    SwinIRRestorer(model, dtype="float32").restore_images([x, x * 1.5, x + 1e-3])  # within half a level: no word
    assert caplog.messages == [f"image 1 of those given: its values span [0, 1.5], {lost}lower half) is lost"]
    caplog.clear()
    SwinIRImageProcessor()(x * 2 - 1)
    assert caplog.messages == [f"the image: its values span [-1, 1], {lost}lower half) is lost"]
    caplog.clear()
    restorer = pipeline("image-restoration", model=model, image_processor=SwinIRImageProcessor())
    restorer(x * 2 - 1)
    assert caplog.messages == [f"the image: its values span [-1, 1], {lost}lower half) is lost"]
    # a list: once, naming the first (each said "the image", once for each)
    caplog.clear()
    restorer([x, x * 2 - 1, x * 1.5, (x * 2 - 1).copy()])
    more = " (and 2 more of the images given)"
    assert caplog.messages == [f"image 1 of those given: its values span [-1, 1], {lost}lower half) is lost{more}"]
    caplog.clear()
    restore(model, x, dtype="float32")
    assert not caplog.messages
    with pytest.raises(ValueError, match=r"^restore_images got 1 names for 2 images: give one each$"):
        SwinIRRestorer(model).restore_images([x, x], names=["a"])


def test_a_masked_array_is_refused_unless_nothing_is_masked(model):
    """The data under a numpy mask reached the model as pixels (a masked 3 came out white, a masked 255 was blamed
    on the range of floats): refused, saying what to pass; without masked pixels, restored as its data."""
    x = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    with pytest.raises(ValueError, match=r"^a masked array: its masked pixels have no values to restore; pass image"):
        restore(model, np.ma.masked_equal(x, 3), dtype="float32")
    with pytest.raises(ValueError, match=r"^a masked array: "):
        SwinIRImageProcessor()(np.ma.masked_greater(x, 150))
    plain = restore(model, x, dtype="float32")
    np.testing.assert_array_equal(restore(model, np.ma.masked_equal(x, 255), dtype="float32"), plain)


def test_planar_and_multi_page_tiffs_read_their_first_page_whole_with_a_warning(tmp_path, caplog):
    import tifffile

    pages = np.random.default_rng(3).integers(0, 65536, (2, 6, 7, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "planar.tif", pages[0].transpose(2, 0, 1), photometric="rgb", planarconfig="separate")
    tifffile.imwrite(tmp_path / "pages.tif", pages, photometric="rgb")
    np.testing.assert_array_equal(read_image(tmp_path / "planar.tif").pixels, pages[0])
    caplog.set_level("WARNING")
    np.testing.assert_array_equal(read_image(tmp_path / "pages.tif").pixels, pages[0])
    assert f"{tmp_path / 'pages.tif'} has 2 frames: only frame 1 is restored" in caplog.text
    # The TIFFs Pillow cannot open (float colour, float64 grey, 16-bit grey + alpha), read by tifffile, alike
    kinds = {"float": pages.astype(np.float32) / 65535, "f64grey": pages[..., 0] / 65535.0, "la16": pages[..., :2]}
    for name, kind in kinds.items():
        tifffile.imwrite(
            tmp_path / f"{name}.tif",
            kind,
            photometric="rgb" if name == "float" else "minisblack",
            extrasamples=[2] if name == "la16" else None,
        )
        caplog.clear()
        np.testing.assert_array_equal(
            np.asarray(read_image(tmp_path / f"{name}.tif").pixels),
            kind[0].astype(np.float32) if name != "la16" else kind[0],
        )
        assert caplog.messages == [f"{tmp_path / name}.tif has 2 frames: only frame 1 is restored"], name


def test_float_colour_tiff_is_read_and_restored_to_a_float_tiff(model, tmp_path, caplog):
    """Pillow cannot open floating-point RGB TIFFs ("cannot identify image file"): they are read with tifffile
    (planar, rotated, ICC profile, alpha) and restored to float TIFF exactly as the array is, 16-bit as PNG."""
    import tifffile

    from swinir_hf.cli import main as cli

    rng = np.random.default_rng(4)
    rgba = rng.random((20, 24, 4), dtype=np.float32)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    tifffile.imwrite(
        tmp_path / "f.tif", rgba, photometric="rgb", extrasamples=[2], extratags=[(34675, 7, len(icc), icc, True)]
    )
    planar = rgba[..., :3].transpose(2, 0, 1)
    tifffile.imwrite(
        tmp_path / "planar.tiff", planar, photometric="rgb", planarconfig="separate", extratags=[(274, 3, 1, 6, True)]
    )
    data = read_image(tmp_path / "f.tif")
    np.testing.assert_array_equal(data.pixels, rgba)
    assert data.icc_profile == icc
    np.testing.assert_array_equal(read_image(tmp_path / "planar.tiff").pixels, np.rot90(rgba[..., :3], -1))

    for ext in ("auto", "png"):
        assert (
            cli(
                [
                    "restore",
                    str(tmp_path / "f.tif"),
                    "-o",
                    str(tmp_path / ext),
                    "--model",
                    str(model_dir(model, tmp_path)),
                    "--ext",
                    ext,
                ]
            )
            == 0
        )
    expected = restore(model, rgba)
    assert expected.dtype == np.float32 and expected.shape == (40, 48, 4)
    written = read_image(tmp_path / "auto" / "f.tif")
    np.testing.assert_allclose(written.pixels, expected, atol=1e-6)
    assert written.icc_profile == icc
    np.testing.assert_array_equal(
        read_image(tmp_path / "png" / "f.png").pixels, np.rint(expected * 65535).astype(np.uint16)
    )

    tifffile.imwrite(tmp_path / "hdr.tif", rgba[..., :3] * 255, photometric="rgb")  # 0..255 floats
    # A path's caller has the file, not an array to divide by its range (the advice for arrays).
    message = (
        r"hdr.tif: a floating-point image that cannot be restored \(float images must hold values in \[0, 1\] "
        r"\(noise may overshoot it, up to \[-4, 5\]\), "
    )
    advice = r"this one spans \[0\.\d+, 25\d\.\d+\]\): save it with values in \[0, 1\], or as an 8- or 16-bit image$"
    with pytest.raises(ValueError, match=message + advice):
        restore(model, tmp_path / "hdr.tif")
    # Highlights up to 3× white (within what a noisy image overshoots): restored, the clamping said
    tifffile.imwrite(tmp_path / "bright.tif", rgba[..., :3] * 3, photometric="rgb")
    caplog.set_level("WARNING")
    caplog.clear()
    assert restore(model, tmp_path / "bright.tif").max() == 1.0
    spans = f"{tmp_path / 'bright.tif'}: its values span [{(rgba[..., :3] * 3).min():g}, {(rgba[..., :3] * 3).max():g}]"
    assert caplog.messages == [
        spans + ", beyond [0, 1]: the output is clamped to [0, 1], and what lies beyond (HDR "
        "highlights, a [-1, 1] image's lower half) is lost"
    ]
    caplog.clear()
    restore(model, tmp_path / "auto" / "f.tif")  # [0, 1] (to 5e-8): nothing to say
    assert not caplog.records
    (tmp_path / "junk.tif").write_bytes(b"II*\x00junk")
    caplog.set_level("WARNING")
    caplog.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the readers' guesses (Pillow's "Corrupt EXIF data", tifffile's log) are
        with pytest.raises(ValueError, match="junk.tif: not a readable image"):  # not shown beside the one line
            read_image(tmp_path / "junk.tif")
    assert not caplog.records


def test_heic_photos_are_read_upright_with_their_profile(model, tmp_path):
    """HEIC (phones' default) goes through pillow-heif, registered on the first HEIF file, whatever its suffix."""
    import subprocess
    import sys

    import pillow_heif  # the [test] extra installs it; without it, the message below

    from swinir_hf.cli import main as cli

    y, x = np.mgrid[0:20, 0:24]
    rgb = Image.fromarray(np.repeat((x * 9 + y * 2)[..., None], 3, axis=-1).astype(np.uint8))  # smooth: HEIC keeps it
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise: stored 24 wide, shown 20 wide
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    pillow_heif.from_pillow(rgb).save(tmp_path / "phone.heic", quality=-1, exif=exif.tobytes(), icc_profile=icc)
    (tmp_path / "renamed.jpg").write_bytes((tmp_path / "phone.heic").read_bytes())
    for name in ("phone.heic", "renamed.jpg"):
        data = read_image(tmp_path / name)
        assert data.pixels.size == (20, 24) and data.icc_profile == icc
        upright = np.rot90(np.asarray(rgb, dtype=np.float64), -1)
        assert np.abs(np.asarray(data.pixels) - upright).max() <= 4  # rotated, not mirrored nor left as stored

    assert (
        cli(
            [
                "restore",
                str(tmp_path / "phone.heic"),
                "-o",
                str(tmp_path / "out"),
                "--model",
                str(model_dir(model, tmp_path)),
                "--ext",
                "auto",
            ]
        )
        == 0
    )
    out = Image.open(tmp_path / "out" / "phone.png")
    assert out.size == (40, 48) and out.info["icc_profile"] == icc
    np.testing.assert_array_equal(
        np.asarray(out), np.asarray(restore(model, Image.fromarray(np.rot90(np.asarray(rgb), -1))))
    )

    without = (
        "import sys; sys.modules['pillow_heif'] = None; "
        "from swinir_hf.inference.image_io import read_image; read_image(sys.argv[1])"
    )
    run = subprocess.run(
        [sys.executable, "-c", without, str(tmp_path / "phone.heic")], capture_output=True, text=True, timeout=300
    )
    needs = "reading HEIC / HEIF images needs the 'pillow_heif' package, which the [heif] extra provides"
    message = f"ValueError: {tmp_path / 'phone.heic'}: {needs}"
    assert message in run.stderr


@pytest.mark.parametrize("mode", ["RGBA", "L"])
@pytest.mark.parametrize("bits", [10, 12])
def test_10_and_12_bit_heic_photos_stay_16bit(model, tmp_path, monkeypatch, bits, mode):
    """Phones' HDR photos: pillow-heif's Pillow plugin gives colour as 8-bit RGB, grey as 16-bit with white at
    65472 (10 bits); they come in like 16-bit PNG, colour as uint16 arrays, grey as `I;16`, white at 65535."""
    import pillow_heif

    from swinir_hf.cli import main as cli

    monkeypatch.setattr(pillow_heif.options, "SAVE_HDR_TO_12_BIT", bits == 12)
    peak = (1 << bits) - 1
    shape = (20, 24, 4) if mode == "RGBA" else (20, 24)
    levels = np.random.default_rng(bits).integers(0, peak + 1, shape, dtype=np.uint16)
    levels[0, 0], levels[0, 1] = peak, 0
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    heif = pillow_heif.from_bytes(mode=f"{mode};16", size=(24, 20), data=(levels << (16 - bits)).tobytes())
    # lossless: identity colour matrix, no chroma subsampling
    heif.save(
        tmp_path / "hdr.heic", quality=-1, chroma=444, matrix_coefficients=0, exif=exif.tobytes(), icc_profile=icc
    )

    data = read_image(tmp_path / "hdr.heic")
    expected = np.rint(np.rot90(levels, -1) * (65535 / peak)).astype(np.uint16)  # white is 65535, upright
    if mode == "L":
        assert data.pixels.mode == "I;16"
        expected = Image.fromarray(expected)
    else:
        assert data.pixels.dtype == np.uint16
    assert data.icc_profile == icc
    np.testing.assert_array_equal(np.asarray(data.pixels), np.asarray(expected))

    args = [
        "restore",
        str(tmp_path / "hdr.heic"),
        "-o",
        str(tmp_path / "out"),
        "--model",
        str(model_dir(model, tmp_path)),
    ]
    assert cli([*args, "--ext", "auto", "--no-progress"]) == 0
    out = read_image(tmp_path / "out" / "hdr.png")  # a 16-bit PNG
    assert out.icc_profile == icc
    np.testing.assert_array_equal(np.asarray(out.pixels), np.asarray(restore(model, expected)))


@pytest.mark.parametrize("bits", [8, 10])
def test_heic_with_premultiplied_alpha_keeps_its_transparency(model, tmp_path, bits):
    """pillow-heif gives such a HEIF as RGBa (colour × alpha): its alpha was dropped (8 bits), or kept with the
    colours still multiplied by it (10 bits); the alpha is divided out, as Pillow does, and the result has alpha."""
    import pillow_heif

    from swinir_hf.models.pixels_swinir import image_to_float

    peak = (1 << bits) - 1
    levels = np.random.default_rng(bits).integers(0, peak + 1, (20, 24, 4), dtype=np.uint16)
    levels[..., :3] = np.minimum(levels[..., :3], levels[..., 3:])  # premultiplied: no colour above its alpha
    mode, data = ("RGBa", levels.astype(np.uint8)) if bits == 8 else ("RGBa;16", levels << (16 - bits))
    heif = pillow_heif.from_bytes(mode=mode, size=(24, 20), data=data.tobytes())
    heif.save(tmp_path / "cutout.heic", quality=-1, chroma=444, matrix_coefficients=0)  # lossless

    colour, alpha = image_to_float(read_image(tmp_path / "cutout.heic").pixels)
    a = levels[..., 3:].astype(np.float64)
    straight = np.where(a > 0, levels[..., :3] / np.maximum(a, 1), levels[..., :3] / peak)
    rounding = 0.5 / 65535 + 1e-7  # 10 bits come in as 16-bit levels
    # Pillow divides 8-bit levels with truncation
    np.testing.assert_allclose(colour, straight, atol=1 / 255 if bits == 8 else rounding)
    np.testing.assert_allclose(alpha, a[..., 0] / peak, atol=rounding)
    out = restore(model, tmp_path / "cutout.heic")
    if bits == 8:
        assert out.mode == "RGBA"
    else:
        assert out.dtype == np.uint16 and out.shape == (40, 48, 4)


@pytest.mark.parametrize("metadata", [True, False])
@pytest.mark.parametrize("bits", [8, 10])
def test_grey_heic_with_alpha_stays_grey(model, tmp_path, monkeypatch, bits, metadata):
    """libheif hands a grey + alpha HEIF over as RGBA, which was restored as colour: it is read as grey + alpha
    (LA, or a (H, W, 2) uint16 array at 10 bits) from the file's monochrome colour space, or, where pillow-heif does
    not say it, from its three equal colour channels; a colour HEIF stays colour."""
    import pillow_heif

    from swinir_hf.inference import deep_decoders

    if not metadata:
        monkeypatch.setattr(deep_decoders, "_heif_colourspace_is_grey", lambda path: None)
    peak = (1 << bits) - 1
    la = np.random.default_rng(bits).integers(0, peak + 1, (20, 24, 2), dtype=np.uint16)
    mode, data = ("LA", la.astype(np.uint8)) if bits == 8 else ("LA;16", la << (16 - bits))
    pillow_heif.from_bytes(mode=mode, size=(24, 20), data=data.tobytes()).save(tmp_path / "la.heic", quality=-1)
    rgba = np.dstack([_rgb(), la[..., 1:].astype(np.uint8)])
    rgba[..., 1] = rgba[..., 0]  # two equal channels are not grey
    pillow_heif.from_bytes(mode="RGBA", size=(24, 20), data=rgba.tobytes()).save(
        tmp_path / "rgba.heic", quality=-1, chroma=444, matrix_coefficients=0
    )

    pixels = read_image(tmp_path / "la.heic").pixels
    if bits == 8:
        assert pixels.mode == "LA"
        np.testing.assert_array_equal(np.asarray(pixels), la)
        assert restore(model, tmp_path / "la.heic").mode == "LA"
    else:
        np.testing.assert_array_equal(pixels, np.rint(la * (65535 / peak)).astype(np.uint16))
        assert restore(model, tmp_path / "la.heic").shape == (40, 48, 2)
    colour = read_image(tmp_path / "rgba.heic").pixels
    assert colour.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(colour), rgba)
    if bits == 8 and metadata:  # a header libheif will not parse again: the equal channels decide, no traceback

        def refuse(*args, **kwargs):
            raise RuntimeError("Invalid input: unspecified")

        monkeypatch.setattr(pillow_heif, "open_heif", refuse)
        assert read_image(tmp_path / "la.heic").pixels.mode == "LA"


def test_16bit_grey_with_alpha_keeps_its_depth_and_alpha(model, tmp_path):
    """A 16-bit grey + alpha PNG (Pillow calls it RGBA) came back as a pypng ProtocolError that ended the run."""
    import png

    from swinir_hf.cli import main as cli

    la = np.random.default_rng(6).integers(0, 65536, (20, 24, 2), dtype=np.uint16)
    with open(tmp_path / "la.png", "wb") as f:
        png.Writer(24, 20, greyscale=True, alpha=True, bitdepth=16).write(f, la.reshape(20, 48))
    np.testing.assert_array_equal(read_image(tmp_path / "la.png").pixels, la)
    expected = restore(model, la)
    assert expected.dtype == np.uint16 and expected.shape == (40, 48, 2) and np.any(expected % 257)

    folder = model_dir(model, tmp_path)
    for ext in ("auto", "tif", "jpg"):
        args = ["restore", str(tmp_path / "la.png"), "-o", str(tmp_path / ext), "--model", str(folder), "--ext", ext]
        assert cli(args) == 0
    for written in (tmp_path / "auto" / "la.png", tmp_path / "tif" / "la.tif"):  # read back whole, at 16 bits
        np.testing.assert_array_equal(read_image(written).pixels, expected)
    jpeg = Image.open(tmp_path / "jpg" / "la.jpg")
    assert jpeg.mode == "L" and jpeg.size == (48, 40)


def model_dir(model, tmp_path):
    model.save_pretrained(tmp_path / "model")
    return tmp_path / "model"


@pytest.mark.parametrize("codec", ["LZW", "ZSTD"])
def test_compressed_16bit_colour_tiff_is_read_at_16_bits_or_names_imagecodecs(codec):
    """A 16-bit colour TIFF with a codec tifffile has only through imagecodecs (LZW: Photoshop's default; ZSTD:
    tests/fixtures, 16×12, horizontal predictor) is read at 16 bits where it can be; elsewhere one line saying how
    (tifffile's own error named no fix, and ZSTD's ModuleNotFoundError ended the whole run)."""
    import re

    import tifffile

    path = Path(__file__).parent / "fixtures" / f"rgb16_{codec.lower()}.tif"
    y, x = np.mgrid[0:12, 0:16]
    pixels = np.stack([x * 4000 + 123, y * 5000 + 7, (x + y) * 2000 + 300], -1).astype(np.uint16)
    try:
        tifffile.imread(path)
    except (ValueError, ImportError):
        message = f"reading this 16-bit colour TIFF ({codec} compression) needs the 'imagecodecs' package: pip install"
        with pytest.raises(ValueError, match=f"^{re.escape(f'{path}: {message}')} imagecodecs$"):
            read_image(path)
    else:
        np.testing.assert_array_equal(read_image(path).pixels, pixels)


def test_32bit_integer_images_are_read_as_16bit_levels_or_refused(model):
    levels = np.random.default_rng(0).integers(0, 65536, (9, 11))
    as_i = restore(model, Image.fromarray(levels.astype(np.int32)), dtype="float32")
    assert as_i.mode == "I;16"
    np.testing.assert_array_equal(as_i, restore(model, Image.fromarray(levels.astype(np.uint16)), dtype="float32"))
    # Levels beyond 16 bits (a depth map in mm, a photon count) were clipped to white or black without a word.
    for low, high in ((0, 70000), (-5, 100)):
        image = Image.fromarray(np.array([[low, high]], dtype=np.int32))
        message = rf"^mode I images are read as 16-bit levels \(0\.\.65535\), this one spans \[{low}, {high}\]: "
        with pytest.raises(ValueError, match=message):
            restore(model, image)


def test_10bit_avif_says_it_is_read_at_8_bits(tmp_path, caplog):
    """Pillow decodes AVIF at 8 bits and no installed library reads it deeper, so a 10-bit AVIF (tests/fixtures,
    16×12, lossless 4:4:4, written by imagecodecs 2026.3.6: `avif_encode(levels, level=100, bitspersample=10,
    pixelformat="444")`) lost its depth silently: a warning names the file and the loss; 8-bit AVIF stays quiet."""
    path = Path(__file__).parent / "fixtures" / "rgb10.avif"
    y, x = np.mgrid[0:12, 0:16]
    levels = (x * 61 + y * 17) % 1024
    ten_bit = np.dstack([levels, 1023 - levels, levels * 3 % 1024])
    with caplog.at_level("WARNING"):
        pixels = np.asarray(read_image(path).pixels)
    assert np.abs(pixels - ten_bit * (255 / 1023)).max() <= 0.5 + 1e-9  # the levels, at 8 bits
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: a 10-bit AVIF, read at 8 bits (Pillow decodes AVIF at 8 bits); to keep all its levels, convert it "
        "to a 16-bit PNG first (avifdec --depth 16 FILE.avif FILE.png)"
    ]
    caplog.clear()
    Image.fromarray(pixels.astype(np.uint8)).save(tmp_path / "rgb8.avif", quality=90)
    with caplog.at_level("WARNING"):
        read_image(tmp_path / "rgb8.avif")
    assert not caplog.records


def test_grey_into_rgb_model_comes_back_grey(model):
    out = restore(model, Image.fromarray(_rgb()[..., 0]))
    assert out.mode == "L" and out.size == (48, 40)


def test_rgb_into_grey_model_runs_each_channel(grey_model):
    rgb = _rgb()
    out = np.asarray(restore(grey_model, Image.fromarray(rgb)))
    assert out.shape == (20, 24, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], restore(grey_model, rgb[..., c]))


def test_palette_without_and_with_transparency(model):
    pal = Image.fromarray(_rgb()).quantize(16)
    assert restore(model, pal).mode == "RGB"
    pal.info["transparency"] = 0
    out = restore(model, pal)
    assert out.mode == "RGBA" and out.size == (48, 40)


def test_a_colour_key_is_the_alpha_it_stands_for(model, tmp_path):
    """A PNG's tRNS on a grey or RGB image (one colour meaning "transparent") comes back as real alpha, as a
    palette's does: LA / RGBA, the keyed pixels transparent, not an opaque block of the key colour."""
    rgb = np.maximum(_rgb(), 1)  # the key, 0, only where it is put
    rgb[:, :8] = 0
    Image.fromarray(rgb).save(tmp_path / "rgb.png", transparency=(0, 0, 0))
    Image.fromarray(rgb[..., 0]).save(tmp_path / "grey.png", transparency=0)
    for name, mode in (("rgb.png", "RGBA"), ("grey.png", "LA")):
        out = restore(model, tmp_path / name, alpha="bicubic", dtype="float32")
        assert out.mode == mode and out.size == (48, 40), name
        alpha = np.asarray(out)[..., -1]
        assert alpha[:, :14].max() == 0 and alpha[:, 18:].min() == 255, name
        keyed = Image.open(tmp_path / name).convert(mode)
        assert np.array_equal(np.asarray(out), np.asarray(restore(model, keyed, alpha="bicubic", dtype="float32")))


def test_float64_and_float16_grey_tiffs_are_read_as_float32(model, tmp_path):
    """tifffile writes float64 by default; Pillow opens float32 grey TIFFs only."""
    import tifffile

    from swinir_hf.inference.image_io import read_image

    grey = np.random.default_rng(3).random((10, 12))
    expected = restore(model, Image.fromarray(grey.astype(np.float32)), dtype="float32")
    for dtype in (np.float64, np.float16):
        tifffile.imwrite(tmp_path / "g.tif", grey.astype(dtype))
        read = read_image(tmp_path / "g.tif").pixels
        assert read.mode == "F" and np.allclose(np.asarray(read), grey, atol=1e-3), dtype
        out = restore(model, tmp_path / "g.tif", dtype="float32")
        assert out.mode == "F" and out.size == expected.size
        assert np.abs(np.asarray(out) - np.asarray(expected)).max() < (1e-6 if dtype == np.float64 else 0.01)


def test_a_lab_image_loses_its_lab_profile(model, tmp_path):
    """LAB pixels become RGB: a profile describing Lab would make viewers misread the result."""
    lab_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    Image.fromarray(_rgb()).convert("LAB").save(tmp_path / "lab.tif", icc_profile=lab_profile)
    assert Image.open(tmp_path / "lab.tif").info.get("icc_profile") == lab_profile
    out = restore(model, tmp_path / "lab.tif")
    assert out.mode == "RGB" and "icc_profile" not in out.info


def test_exif_rotation_is_applied(model, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to view
    Image.fromarray(_rgb(20, 24)).save(tmp_path / "r.jpg", exif=exif)
    out = restore(model, tmp_path / "r.jpg")
    assert out.size == (40, 48)  # upright: 20 wide, 24 high, ×2
    assert "exif" not in out.info  # nothing but the orientation, which the pixels now follow
    exif[0x010F] = "Camera Co"
    Image.fromarray(_rgb(20, 24)).save(tmp_path / "r.jpg", exif=exif)
    out = restore(model, tmp_path / "r.jpg")
    (kept := Image.Exif()).load(out.info["exif"])  # a block ready for out.save(..., exif=...)
    assert dict(kept) == {0x010F: "Camera Co"}
    opened = restore(model, Image.open(tmp_path / "r.jpg"))  # a PIL image's EXIF alike (it was dropped)
    assert opened.size == (40, 48) and opened.info["exif"] == out.info["exif"]


def test_reads_on_several_threads_leave_the_processs_warnings_and_logging_as_they_were(tmp_path, caplog, recwarn):
    """`warnings.catch_warnings` and a logger's level are process-wide: reads at once on `swinir-hf restore`'s reader
    threads (or the demo's) restored each other's, leaving a dead recorder that took every later warning of the
    process, raw Pillow warnings, damaged EXIF reported under no file or twice, and tifffile silent for good."""
    import tifffile

    damaged = b"Exif\0\0MM\0*\0\0\0\x08\xff\xff" + bytes(6)  # an IFD of 65535 entries, cut short
    Image.fromarray(_rgb(16, 16)).save(tmp_path / "d.jpg", exif=damaged)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(_rgb(16, 12)).save(tmp_path / "turned.jpg", exif=exif)
    tifffile.imwrite(tmp_path / "f.tif", np.zeros((8, 6, 3), np.float32), photometric="rgb")  # Pillow can't open it
    filters, rounds = list(warnings.filters), 100

    def reads():
        for _ in range(rounds):
            assert read_image(tmp_path / "d.jpg").pixels.size == image_size(tmp_path / "d.jpg") == (16, 16)
            assert read_image(tmp_path / "turned.jpg").pixels.size == (16, 12)
            assert image_size(tmp_path / "f.tif") == (6, 8)

    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(reads) for _ in range(4)]:
            done.result()
    assert warnings.filters == filters
    warnings.warn("a later warning", UserWarning, stacklevel=1)
    assert [str(w.message) for w in recwarn] == ["a later warning"]
    damage = [r.getMessage() for r in caplog.records if "Corrupt EXIF" in r.getMessage()]
    assert len(damage) == 4 * rounds and all(m.startswith(f"{tmp_path / 'd.jpg'}: ") for m in damage)
    logging.getLogger("tifffile").warning("a later tifffile record")
    assert caplog.records[-1].getMessage() == "a later tifffile record"


def test_icc_profile_is_kept_and_cmyk_converted(model, tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    img = Image.fromarray(_rgb())
    img.info["icc_profile"] = icc
    assert restore(model, img).info["icc_profile"] == icc
    img.save(tmp_path / "p.png", icc_profile=icc)
    write_image(tmp_path / "o.png", restore(model, tmp_path / "p.png"), read_image(tmp_path / "p.png").icc_profile)
    assert Image.open(tmp_path / "o.png").info["icc_profile"] == icc
    cmyk = restore(model, Image.fromarray(_rgb()).convert("CMYK"))
    assert cmyk.mode == "RGB" and cmyk.size == (48, 40)


def test_identity_model_ensemble_equals_single_pass(tiny_config):
    m = SwinIRForImageRestoration(tiny_config(upscale=1, upsampler="")).eval()
    with torch.no_grad():  # output = input + conv_last(...) = input: equivariant under flips and rotations
        m.conv_last.weight.zero_()
        m.conv_last.bias.zero_()
    img = _rgb().astype(np.float32) / 255
    np.testing.assert_allclose(restore(m, img, ensemble=True), restore(m, img), atol=1e-6)


def test_ensemble_is_the_mean_over_the_eight_dihedral_transforms(model):
    """SwinIR+: the model's output of each of the 8 symmetries of the square (the identity, three rotations, four
    reflections), each undone, averaged; written out here one by one (4 rotations counted twice passed the tests
    that only asked for a difference from the plain pass)."""
    rot = torch.rot90
    symmetries = [  # (transform, its inverse) on the last two dimensions
        (lambda t: t, lambda t: t),
        (lambda t: rot(t, 1, (-2, -1)), lambda t: rot(t, -1, (-2, -1))),
        (lambda t: rot(t, 2, (-2, -1)), lambda t: rot(t, 2, (-2, -1))),
        (lambda t: rot(t, 3, (-2, -1)), lambda t: rot(t, 1, (-2, -1))),
        (lambda t: t.flip(-1), lambda t: t.flip(-1)),
        (lambda t: t.flip(-2), lambda t: t.flip(-2)),
        (lambda t: t.transpose(-2, -1), lambda t: t.transpose(-2, -1)),
        (lambda t: t.flip(-1).flip(-2).transpose(-2, -1), lambda t: t.transpose(-2, -1).flip(-2).flip(-1)),
    ]
    x = torch.rand(1, 3, 12, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        outputs = [undo(model(do(x)).reconstruction) for do, undo in symmetries]
    expected = torch.stack(outputs).mean(0)
    got = SwinIRRestorer(model, ensemble=True, dtype="float32", tile=None).restore_tensor(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    assert min((a - b).abs().max() for i, a in enumerate(outputs) for b in outputs[:i]) > 1e-4  # all 8 differ


def test_ensemble_differs_for_a_real_model(model):
    img = _rgb().astype(np.float32) / 255
    single, ens = restore(model, img), restore(model, img, ensemble=True)
    assert np.abs(single - ens).mean() > 1e-3


def _padded_as_the_authors_script(x: torch.Tensor, window: int) -> torch.Tensor:
    """The padding of the authors' `main_test_swinir.py`, as they wrote it."""
    _, _, h_old, w_old = x.size()
    h_pad = (h_old // window + 1) * window - h_old
    w_pad = (w_old // window + 1) * window - w_old
    x = torch.cat([x, torch.flip(x, [2])], 2)[:, :, : h_old + h_pad, :]
    return torch.cat([x, torch.flip(x, [3])], 3)[:, :, :, : w_old + w_pad]


@pytest.mark.parametrize("size", [(16, 24), (18, 23), (3, 5)], ids=["multiples", "not multiples", "under a window"])
def test_authors_padding_gives_the_authors_scripts_pixels(model, size):
    """`padding="authors"` (`swinir-hf restore --padding authors`): the model's output of the input padded as the
    authors' test script pads it (a whole window more on sides that are multiples of it; a side under half a window
    only mirrored once, as theirs), cropped back: the same float32 pixels."""
    from swinir_hf.inference.padding import authors_padding

    (h, w), window = size, model.config.window_size
    image = _rgb(h, w).astype(np.float32) / 255
    x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    padded = _padded_as_the_authors_script(x, window)
    assert torch.equal(authors_padding(x, window), padded)
    with torch.no_grad():
        theirs = model(padded).reconstruction[0, :, : 2 * h, : 2 * w].permute(1, 2, 0).numpy()
    got = restore(model, image, tile=None, dtype="float32", padding="authors")
    np.testing.assert_array_equal(got, theirs.clip(0, 1))  # restore clamps a float image's output to [0, 1]
    exact = SwinIRRestorer(model, tile=None, dtype="float32", padding="authors").restore_float(image)
    np.testing.assert_array_equal(exact, theirs)


@pytest.mark.parametrize("size", [(16, 24), (18, 23)], ids=["multiples", "not multiples"])
def test_authors_padding_changes_the_pixels_near_the_right_and_bottom_edges(model, size):
    """The authors' padding against the model's own: the output's last rows and columns change (by ~2 for this
    random model, whose outputs span ~5), its top-left quarter, far from the padding, hardly (< 1e-3)."""
    h, w = size
    image = _rgb(h, w).astype(np.float32) / 255
    authors = SwinIRRestorer(model, tile=None, dtype="float32", padding="authors").restore_float(image)
    own = SwinIRRestorer(model, tile=None, dtype="float32").restore_float(image)
    change = np.abs(authors - own).max(axis=2)
    assert change[:h, :w].max() < 1e-3
    assert change[-2:].mean() > 0.5 and change[:, -2:].mean() > 0.5


def test_authors_padding_runs_the_ensemble_over_the_padded_image(model, grey_model):
    """SwinIR+ with the authors' padding: the 8 transforms of the padded input, then cropped; RGB into a grey
    model pads each channel alike."""
    from swinir_hf.inference.ensemble import dihedral_mean

    x = torch.rand(1, 3, 10, 13, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = dihedral_mean(lambda t: model(t).reconstruction, _padded_as_the_authors_script(x, 4))
    got = SwinIRRestorer(model, ensemble=True, tile=None, dtype="float32", padding="authors").restore_tensor(x)
    torch.testing.assert_close(got, expected[..., :20, :26], rtol=0, atol=1e-6)
    image = _rgb(10, 13)
    grey = SwinIRRestorer(grey_model, tile=None, dtype="float32", padding="authors")
    channels = [np.asarray(grey(Image.fromarray(np.ascontiguousarray(image[..., c])))) for c in range(3)]
    assert np.array_equal(np.asarray(grey(Image.fromarray(image))), np.dstack(channels))


def test_tiles_with_authors_padding_are_cut_from_the_padded_image(model, monkeypatch):
    """As the authors' script tiles: the whole image is padded (40 × 44 to 44 × 48), then tiled; the memory is
    planned at that size (the output canvas, the whole-image pass, "auto" tiles); out of memory halves the tiles of
    the padded image."""
    image = _rgb(40, 44).astype(np.float32) / 255
    planned = []
    check = restoration.check_output_memory
    monkeypatch.setattr(restoration, "check_output_memory", lambda *args: planned.append(args[4]) or check(*args))
    widths = _memory_limited(model, monkeypatch, 1000)
    whole = SwinIRRestorer(model, tile=None, dtype="float32", padding="authors").restore_float(image)
    assert widths == [48] and planned == [(44, 48)]
    fixed = 1.5 * model.fixed_activation_bytes("cpu")
    budget = int(fixed + 1.5 * model.activation_bytes_per_pixel("cpu") * 40 * 46)  # the image, not the padded one
    widths.clear()
    SwinIRRestorer(model, tile="auto", memory_budget=budget).restore_float(image)
    assert widths == [44]
    widths.clear()
    SwinIRRestorer(model, tile="auto", memory_budget=budget, padding="authors").restore_float(image)
    assert len(widths) > 1 and max(widths) < 48
    expected = SwinIRRestorer(model, tile=16, tile_overlap=4, dtype="float32", padding="authors").restore_float(image)
    _memory_limited(model, monkeypatch, 16)
    tiled = SwinIRRestorer(model, tile=32, tile_overlap=4, dtype="float32", padding="authors").restore_float(image)
    np.testing.assert_allclose(tiled, expected, atol=1e-6)
    assert tiled.shape == whole.shape == (80, 88, 3)


def _memory_limited(model, monkeypatch, widest: int, error: BaseException | None = None) -> list[int]:
    """Make `model`'s passes over inputs wider than `widest` pixels run out of memory (`error`, a MemoryError by
    default); → the widths of the passes asked for, as they come."""
    forward, widths = model.forward, []

    def limited(pixel_values, *args, **kwargs):
        widths.append(pixel_values.shape[-1])
        if pixel_values.shape[-1] > widest:
            raise error or MemoryError()
        return forward(pixel_values, *args, **kwargs)

    monkeypatch.setattr(model, "forward", limited)
    return widths


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 123 bytes"),  # Linux, macOS
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:81] data. DefaultCPUAllocator: not enough memory: you tried to "
            "allocate 1069551616 bytes."
        ),  # Windows
        MemoryError(),
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    ],
)
def test_out_of_memory_in_a_tile_retries_with_smaller_tiles(model, monkeypatch, error):
    img = _rgb(40, 44).astype(np.float32) / 255
    expected = SwinIRRestorer(model, tile=16, tile_overlap=4).restore_float(img)
    sizes = _memory_limited(model, monkeypatch, 16, error)
    out = SwinIRRestorer(model, tile=32, tile_overlap=4).restore_float(img)
    assert 32 in sizes and max(sizes[sizes.index(16) :]) == 16
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_out_of_memory_in_a_whole_image_pass_of_auto_tiles_says_so(model, monkeypatch, caplog):
    """`tile="auto"` that planned one pass: the warning said "out of memory with None-pixel tiles; retrying with 24";
    an image of one window was passed again at its own size, to fail again."""
    img = _rgb(40, 44).astype(np.float32) / 255
    _memory_limited(model, monkeypatch, 24)
    with caplog.at_level(logging.WARNING, logger="swinir_hf.inference.restoration"):
        SwinIRRestorer(model, tile="auto").restore_float(img)
    assert [r.getMessage() for r in caplog.records] == [
        "out of memory with the whole image; retrying with 20-pixel tiles"
    ]
    passes = _memory_limited(model, monkeypatch, 0)
    with pytest.raises(MemoryError):
        SwinIRRestorer(model, tile="auto").restore_float(img[:4, :4])  # one window
    assert passes == [4]


def test_a_restorer_named_when_built_starts_its_warnings_with_its_name(model, monkeypatch, caplog):
    """`name` is a constructor keyword (eval's row label of one model among several): the benchmark set it on the
    built restorer instead."""
    img = _rgb(40, 44).astype(np.float32) / 255
    _memory_limited(model, monkeypatch, 24)
    assert SwinIRRestorer(model).name is None
    with caplog.at_level(logging.WARNING, logger="swinir_hf.inference.restoration"):
        SwinIRRestorer(model, tile="auto", name="b").restore_float(img)
    assert caplog.messages == ["b: out of memory with the whole image; retrying with 20-pixel tiles"]


def test_a_tile_larger_than_the_image_is_retried_smaller_too(model, monkeypatch):
    """`--tile 512` for a collection, and a small image of it out of memory: halving 512 (256, still larger than the
    image) was taken for "no smaller tile can help", and raised at once."""
    img = _rgb(40, 44).astype(np.float32) / 255
    expected = SwinIRRestorer(model, tile=20, tile_overlap=4).restore_float(img)
    widths = _memory_limited(model, monkeypatch, 24)
    np.testing.assert_allclose(SwinIRRestorer(model, tile=256, tile_overlap=4).restore_float(img), expected, atol=1e-6)
    assert widths[0] == 44 and max(widths[1:]) == 20


def test_tiles_no_larger_than_the_overlap_asked_are_still_retried_smaller(model, monkeypatch):
    """Out of memory in 32-pixel tiles with the default overlap of 32 was raised, as if tiles could not shrink: the
    overlap a tile gets is half of it at most, so 16-pixel ones (overlap 8) work."""
    img = _rgb(40, 44).astype(np.float32) / 255
    expected = SwinIRRestorer(model, tile=16).restore_float(img)
    _memory_limited(model, monkeypatch, 16)
    np.testing.assert_allclose(SwinIRRestorer(model, tile=32).restore_float(img), expected, atol=1e-6)
    monkeypatch.setattr(model, "forward", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):  # down to one window (8 pixels), then raised
        SwinIRRestorer(model, tile=32).restore_float(img)


def test_restore_images_takes_any_iterable(model):
    """A generator (or `map(Image.open, paths)`) was used up by the type check: [] came back, silently."""
    images = [Image.fromarray(_rgb(12, 10)), Image.fromarray(_rgb(9, 8))]
    restorer = SwinIRRestorer(model, tile=None)
    expected = restorer.restore_images(images)
    for given in (iter(images), (image for image in images), map(lambda image: image, images)):
        assert [np.asarray(out).tolist() for out in restorer.restore_images(given)] == [
            np.asarray(out).tolist() for out in expected
        ]


def test_other_errors_and_whole_image_mode_are_not_retried(model, monkeypatch):
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    monkeypatch.setattr(model, "forward", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):
        restore(model, _rgb(), tile=None)


def test_auto_tile_follows_the_memory_budget(model):
    x = torch.rand(1, 3, 64, 64)
    assert SwinIRRestorer(model, tile="auto", memory_budget=1 << 30)._initial_tile(x) is None
    budget = int(1.5 * model.fixed_activation_bytes("cpu")) + 2_000_000  # 2 MB for the tiles' pixels
    small = SwinIRRestorer(model, tile="auto", tile_overlap=4, memory_budget=budget)._initial_tile(x)
    assert small is not None and model.config.window_size < small < 64 and small % model.config.window_size == 0
    # A huge overlap does not grow the tiles past the budget (it was the whole image): it is cut to half a tile.
    huge = SwinIRRestorer(model, tile="auto", tile_overlap=1000, memory_budget=budget)._initial_tile(x)
    assert huge is not None and huge < 64
    reference = SwinIRRestorer(model, tile=huge, tile_overlap=huge // 2, dtype="float32").restore_tensor(x)
    tiled = SwinIRRestorer(model, tile="auto", tile_overlap=1000, memory_budget=budget, dtype="float32")
    assert torch.equal(tiled.restore_tensor(x), reference)


def test_auto_tiles_are_planned_with_the_weights_where_they_run(model, monkeypatch):
    """The free memory "auto" tiles are planned with is measured once the model's weights are where they run (on a
    GPU, before the first restoration moved them there, it counted their memory as free). Here: a float16 model run
    in float32 is converted first."""
    half = copy.deepcopy(model).half()
    seen = []
    monkeypatch.setattr(restoration, "memory_budget", lambda device, set_aside=0: seen.append(half.dtype) or 1 << 30)
    SwinIRRestorer(half, tile="auto", dtype="float32").restore_tensor(torch.rand(1, 3, 16, 16))
    assert seen == [torch.float32]


def test_chunked_cpu_inference_plans_bigger_tiles_than_a_gpu(model):
    from swinir_hf.models.memory_swinir import activation_bytes_per_pixel

    config = SwinIRConfig.from_preset("classical_sr", scale=4)
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert activation_bytes_per_pixel(config, cpu) * 3 < activation_bytes_per_pixel(config, gpu)
    config.inference_chunk_size = 0
    assert activation_bytes_per_pixel(config, cpu) == activation_bytes_per_pixel(config, gpu)


def _wide_window_model(window_size: int) -> SwinIRForImageRestoration:
    sizes = {"window_size": window_size, "image_size": 2 * window_size}
    config = SwinIRConfig(embed_dim=60, depths=[2], num_heads=[6], upscale=2, upsampler="pixelshuffledirect", **sizes)
    return SwinIRForImageRestoration(config).eval()


def test_wide_windows_plan_tiles_with_their_attention_memory_set_aside():
    """One chunk's attention over 32-pixel windows takes hundreds of MB whatever the tile (scores and softmax: ws⁴
    floats per head and window); the planner divided the whole budget into pixels, and an auditor measured its tiles
    at 3.4 × a 256 MiB budget."""
    from swinir_hf.inference.memory import TILE_MEMORY_SAFETY

    model, cpu, x = _wide_window_model(32), torch.device("cpu"), torch.zeros(1, 3, 512, 512)
    fixed, per_pixel = model.fixed_activation_bytes(cpu), model.activation_bytes_per_pixel(cpu)
    assert fixed > 8 * 6 * 1024**2 * 4 * 2  # 8 windows' scores and softmax (8192 tokens), 6 heads, float32
    assert per_pixel >= 4 * 32**2  # the cached shift mask: ws² floats a pixel
    budget = 1 << 30
    tile = SwinIRRestorer(model, memory_budget=budget)._initial_tile(x)
    assert tile is not None and TILE_MEMORY_SAFETY * (fixed + per_pixel * tile**2) <= budget
    assert SwinIRRestorer(model, memory_budget=fixed)._initial_tile(x) == 32  # nothing left: one window


def test_the_automatic_budget_sets_a_wide_windows_attention_aside_before_halving_the_free_memory(monkeypatch):
    """With 1 GiB free, half of it (the CPU's share for tiles) less the 1.5 × 433 MiB a window-32 pass needs at once
    left nothing: one-window tiles, each paying that attention again, where 96-pixel tiles fit."""
    from swinir_hf.inference import memory
    from swinir_hf.inference.memory import TILE_MEMORY_SAFETY

    model, cpu, x = _wide_window_model(32), torch.device("cpu"), torch.zeros(1, 3, 512, 512)
    monkeypatch.setattr(memory, "available_host_memory", lambda: 1 << 30)
    fixed, per_pixel = model.fixed_activation_bytes(cpu), model.activation_bytes_per_pixel(cpu)
    tile = SwinIRRestorer(model)._initial_tile(x)
    assert tile is not None and tile > 32
    assert TILE_MEMORY_SAFETY * (fixed + 2 * per_pixel * tile**2) <= 1 << 30  # the tiles' share is still half
    monkeypatch.setattr(memory, "available_host_memory", lambda: 64 << 30)  # plenty: the 2 GiB cap binds, as before
    tile = SwinIRRestorer(model)._initial_tile(x)
    assert TILE_MEMORY_SAFETY * (fixed + per_pixel * tile**2) <= 2 << 30
    # Window 64: its attention alone is over the cap, which then leaves the tiles half of it, not one window each.
    wide = _wide_window_model(64)
    assert TILE_MEMORY_SAFETY * wide.fixed_activation_bytes(cpu) > 2 << 30
    tile = SwinIRRestorer(wide)._initial_tile(torch.zeros(1, 3, 1024, 1024))
    assert tile > 64 and TILE_MEMORY_SAFETY * wide.activation_bytes_per_pixel(cpu) * tile**2 <= 1 << 30


def test_a_window_whose_attention_cannot_fit_is_refused_before_any_work(monkeypatch):
    """A 64-pixel window's attention needs ≈ 2 GB at once: with less memory, a tiled run ran out of it in the model
    (a raw allocator error, after halving its tiles down to one window), whatever the tile."""
    from swinir_hf.inference.memory import ImageTooLargeError
    from swinir_hf.models import memory_swinir

    model = _wide_window_model(64)
    monkeypatch.setattr(memory_swinir, "available_host_memory", lambda: 1 << 30)
    monkeypatch.setattr(model, "forward", lambda *a, **k: pytest.fail("ran the model"))
    said = (
        r"^this model's attention over 64×64-pixel windows needs ≈ [\d.]+ GiB of memory on cpu at once, whatever "
        r"the image or tile size, but only 1(\.0+)? GiB are available: use a machine with more memory$"
    )
    for tile in (64, None):
        with pytest.raises(ImageTooLargeError, match=said):
            restore(model, np.zeros((128, 128, 3), np.uint8), tile=tile, dtype="float32")


def test_cmyk_with_an_unusable_profile_is_converted_without_it(model, tmp_path, caplog):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # an RGB profile on CMYK pixels
    cmyk = Image.fromarray(_rgb()).convert("CMYK")
    plain = np.asarray(restore(model, cmyk, dtype="float32"))
    caplog.set_level("WARNING")
    for name, icc in (("rgb-profile.jpg", srgb), ("junk-profile.jpg", b"junk" * 40)):
        cmyk.save(tmp_path / name, icc_profile=icc, quality=100)
        out = restore(model, tmp_path / name, dtype="float32")
        assert out.mode == "RGB" and "icc_profile" not in out.info
        assert np.abs(np.asarray(out, np.float64) - plain).mean() < 3  # Pillow's own conversion, as without one
        assert f"{tmp_path / name}: its ICC profile is not a usable CMYK profile" in caplog.text
        caplog.clear()
        with Image.open(tmp_path / name) as opened:  # opened from the file: named too (it said "the image")
            restore(model, opened, dtype="float32")
        assert caplog.messages[0].startswith(f"{tmp_path / name}: its ICC profile is not a usable CMYK profile")


def test_bfloat16_is_close_to_float32(model):
    img = _rgb().astype(np.float32) / 255
    diff = restore(model, img, dtype="bfloat16") - restore(model, img, dtype="float32")
    assert 0 < np.abs(diff).max() < 0.1


def test_precisions_are_named_once_for_the_engine_and_its_command_lines(model, capsys):
    from swinir_hf.cli import main
    from swinir_hf.inference.devices import DTYPES

    assert DTYPES == ("auto", "float32", "bfloat16", "float16")
    with pytest.raises(ValueError, match=r"^dtype must be 'auto', 'float32', 'bfloat16' or 'float16', got 'float64'$"):
        SwinIRRestorer(model, dtype="float64")
    for command, offered in (("restore", "auto, float32, bfloat16, float16"), ("eval", "float32, bfloat16, float16")):
        with pytest.raises(SystemExit):
            main([command, "--dtype", "float64"])
        assert f"invalid choice: float64 (choose from {offered})" in capsys.readouterr().err.replace("'", "")


@pytest.mark.parametrize("native_bf16", [True, False])
def test_auto_dtype_is_bfloat16_only_on_cpus_with_native_bfloat16(model, monkeypatch, native_bf16):
    monkeypatch.setattr(devices, "_native_cpu_bfloat16", lambda: native_bf16)
    expected = "bfloat16" if native_bf16 else "float32"
    assert auto_dtype(torch.device("cpu")) == expected
    assert SwinIRRestorer(model).dtype == expected
    assert auto_dtype(torch.device("cuda")) == "float16"
    img = _rgb().astype(np.float32) / 255
    np.testing.assert_array_equal(restore(model, img), restore(model, img, dtype=expected))


PER_OPERATION_TF32 = hasattr(torch.backends.cuda.matmul, "fp32_precision")  # torch ≥ 2.9


def tf32_state() -> dict[str, object]:
    """Every TF32 setting a user can read, through torch's new API and its legacy one (a getter that raises, as
    torch's do for settings made through the other API, reads as its error's type)."""
    getters = {
        "allow_tf32 (cuDNN)": lambda: torch.backends.cudnn.allow_tf32,
        "allow_tf32 (matmul)": lambda: torch.backends.cuda.matmul.allow_tf32,
        "float32_matmul_precision": torch.get_float32_matmul_precision,
    }
    if PER_OPERATION_TF32:
        getters |= {
            "fp32_precision": lambda: torch.backends.fp32_precision,
            "cudnn.conv": lambda: torch.backends.cudnn.conv.fp32_precision,
            "cuda.matmul": lambda: torch.backends.cuda.matmul.fp32_precision,
        }
    state = {}
    for name, get in getters.items():
        try:
            state[name] = get()
        except RuntimeError as err:
            state[name] = type(err)
    return state


def tf32_in_use() -> tuple[bool, bool]:
    """(convolutions, matrix products) run in TF32."""
    if PER_OPERATION_TF32:
        return torch.backends.cudnn.conv.fp32_precision == "tf32", torch.backends.cuda.matmul.fp32_precision == "tf32"
    return torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32


USER_TF32 = {
    "torch's defaults": lambda: None,
    "allow_tf32 = True": lambda: setattr(torch.backends.cuda.matmul, "allow_tf32", True),
    'set_float32_matmul_precision("high")': lambda: torch.set_float32_matmul_precision("high"),
    'set_float32_matmul_precision("medium")': lambda: torch.set_float32_matmul_precision("medium"),
    "cudnn.allow_tf32 = False": lambda: setattr(torch.backends.cudnn, "allow_tf32", False),
    'cuda.matmul.fp32_precision = "tf32"': lambda: setattr(torch.backends.cuda.matmul, "fp32_precision", "tf32"),
    'fp32_precision = "tf32"': lambda: setattr(torch.backends, "fp32_precision", "tf32"),
}


# torch's per-operation TF32 settings, each level before those below it.
PRECISION_SETTINGS = [
    f"{backend}fp32_precision"
    for backend in ("", "cuda.matmul.", "cudnn.", "cudnn.conv.", "cudnn.rnn.", "mkldnn.", "mkldnn.matmul.")
    + ("mkldnn.conv.", "mkldnn.rnn.")
]


@pytest.fixture
def user_tf32(request):
    """Sets TF32 as a user may (request.param names how); puts every setting back as it was afterwards (a legacy flag
    also sets cuDNN's RNN setting: left differing from its convolutions', torch.export failed in later tests)."""
    if "fp32_precision" in request.param and not PER_OPERATION_TF32:
        pytest.skip("this torch has no per-operation fp32_precision")
    flags = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    matmul_precision = torch.get_float32_matmul_precision()
    settings = {name: operator.attrgetter(name)(torch.backends) for name in PRECISION_SETTINGS if PER_OPERATION_TF32}
    USER_TF32[request.param]()
    yield request.param
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags
    torch.set_float32_matmul_precision(matmul_precision)
    for name, value in settings.items():  # over what the legacy setters set
        owner, _, attribute = name.rpartition(".")
        setattr(operator.attrgetter(owner)(torch.backends) if owner else torch.backends, attribute, value)


@pytest.mark.parametrize("user_tf32", list(USER_TF32), indirect=True)
def test_float32_on_cuda_turns_tf32_off_and_leaves_the_users_settings_as_they_were(user_tf32):
    """torch 2.13: a float32 pass saved and restored TF32 through the legacy flags, which pinned the new settings
    (a later `torch.backends.fp32_precision = "tf32"` was ignored), made `get_float32_matmul_precision()` raise after
    set_float32_matmul_precision, and failed outright once `cuda.matmul.fp32_precision` had been set."""
    before = tf32_state()
    with inference_precision("float32", torch.device("cuda")):
        assert tf32_in_use() == (False, False)
        # What cuBLAS asks at every float32 product (torch ≥ 2.9 raises there when the legacy and per-operation
        # settings disagree: with set_float32_matmul_precision("high"), every product of the pass would have).
        assert torch.backends.cuda.matmul.allow_tf32 is False
    assert tf32_state() == before
    if PER_OPERATION_TF32 and user_tf32 == "torch's defaults":  # still follows the global setting
        torch.backends.fp32_precision = "tf32"
        assert tf32_in_use() == (True, True)


LEGACY_TF32 = ("allow_tf32 (cuDNN)", "allow_tf32 (matmul)", "float32_matmul_precision")


@pytest.mark.parametrize(
    "user_tf32",
    ["torch's defaults", 'set_float32_matmul_precision("medium")', "cudnn.allow_tf32 = False"],
    indirect=True,
)
def test_the_flags_path_of_torch_before_2_9_gives_back_the_users_matmul_precision(user_tf32, monkeypatch):
    """torch < 2.9 has only the legacy settings, and there `cuda.matmul.allow_tf32` is a view of the matrix products'
    precision (True for any but "highest"; set True, it writes "high"): a float32 pass that saved and restored it
    gave a user's "medium" back as "high" (torch 2.6-2.8). That path, taken here on whatever torch runs."""
    monkeypatch.setattr(runtime_swinir, "_PER_OPERATION_TF32", False)
    before = {name: value for name, value in tf32_state().items() if name in LEGACY_TF32}
    with inference_precision("float32", torch.device("cuda")):
        assert torch.backends.cudnn.allow_tf32 is torch.backends.cuda.matmul.allow_tf32 is False
        assert torch.get_float32_matmul_precision() == "highest"
    assert {name: value for name, value in tf32_state().items() if name in LEGACY_TF32} == before


@pytest.mark.parametrize("user_tf32", ["torch's defaults"], indirect=True)
def test_overlapping_float32_passes_keep_tf32_off_until_the_last_ends_then_restore_it(user_tf32):
    """The flags are process-wide: a pass ending while another runs turned TF32 back on under it, and the later one's
    exit then left the settings it had found (TF32 off) for good."""
    before = tf32_state()
    second_in, first_out = threading.Event(), threading.Event()

    def second():
        with inference_precision("float32", torch.device("cuda")):
            second_in.set()
            assert first_out.wait(10), "the first pass did not end within 10 s"
            return tf32_in_use()

    with ThreadPoolExecutor(1) as pool:
        with inference_precision("float32", torch.device("cuda")):
            during = pool.submit(second)
            assert second_in.wait(10)
        first_out.set()
        assert during.result() == (False, False)  # still off under the second pass
    assert tf32_state() == before and tf32_in_use() == (True, False)  # torch's defaults: cuDNN's convolutions on


def test_threads_sharing_a_model_get_their_own_precisions_and_leave_its_mode(model):
    """A float32 restoration cast a shared bfloat16 model in place while another thread ran it (garbage pixels, dtype
    errors), and the first restoration to end put the model back in training mode under the others."""
    shared = copy.deepcopy(model).to(torch.bfloat16).train()
    x = torch.rand(1, 3, 12, 16)
    as_bf16 = SwinIRRestorer(copy.deepcopy(shared), dtype="bfloat16").restore_tensor(x)
    as_fp32 = SwinIRRestorer(copy.deepcopy(shared), dtype="float32").restore_tensor(x)
    assert not torch.equal(as_bf16, as_fp32)
    first, inside, others_done, seen = threading.get_ident(), threading.Event(), threading.Event(), []

    def pause_the_first_run(module, args):
        if threading.get_ident() == first:
            if not inside.is_set():
                inside.set()
                assert others_done.wait(30)
            seen.append(shared.training)

    def restore_once_the_first_is_inside(dtype: str) -> torch.Tensor:
        assert inside.wait(30), "the first run did not reach its forward pass within 30 s"
        return SwinIRRestorer(shared, dtype=dtype).restore_tensor(x)

    hook = shared.conv_first.register_forward_pre_hook(pause_the_first_run)
    with ThreadPoolExecutor(3) as pool:
        others = [pool.submit(restore_once_the_first_is_inside, dtype) for dtype in ("float32", "bfloat16")]
        # (on this thread, paused in its first forward pass until the others are done, or one failed: its error is
        # raised below, not a 30 s wait)
        pool.submit(lambda: (wait(others, 30, FIRST_EXCEPTION), others_done.set()))
        out = SwinIRRestorer(shared, dtype="bfloat16").restore_tensor(x)
    hook.remove()
    assert torch.equal(out, as_bf16) and torch.equal(others[0].result(), as_fp32)
    assert torch.equal(others[1].result(), as_bf16)
    assert seen and not any(seen)  # in eval mode all through, though the others had ended
    assert shared.training and {p.dtype for p in shared.parameters()} == {torch.bfloat16}
    assert torch.equal(SwinIRRestorer(shared, dtype="float32").restore_tensor(x), as_fp32)
    assert {p.dtype for p in shared.parameters()} == {torch.bfloat16}  # cast in place for the run alone, then back


def test_an_abandoned_run_collected_under_the_runs_lock_does_not_wait_on_it():
    """The runs' lock is held while a model is cast or copied, which allocates, and may set off the garbage
    collection in that thread; an abandoned `running` collected then takes the lock too to end: with a plain lock,
    the thread waited on itself for ever (a threads test hung 30 s in a full run). In a subprocess: a hang is a
    timeout there, not a stuck test process."""
    import subprocess
    import sys

    code = """if True:
        import gc, torch
        from swinir_hf.models import runtime_swinir
        model = torch.nn.Linear(2, 2)
        run = runtime_swinir.running(model, torch.device("cpu"), None)
        run.__enter__()  # never exited: its generator waits at its yield until collected
        with runtime_swinir._RUNS_LOCK:
            del run
            gc.collect()  # the generator's exit takes the lock
        print("ended")
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "ended\n"), done.stderr[-2000:]


def test_a_restorer_made_while_another_run_cast_the_model_runs_after_the_cast_back(model, tmp_path):
    """Whether float16 weights run as float32 off CUDA was decided when the restorer was made: one made while
    another thread's run held the model cast to float32 ran it after the cast back as float16 under bfloat16
    autocast (torch's "mixed dtype (CPU)"). Decided at each run now."""
    copy.deepcopy(model).half().save_pretrained(tmp_path)
    half = SwinIRForImageRestoration.from_pretrained(tmp_path, dtype=torch.float16).eval()
    with running(half, torch.device("cpu"), torch.float32):  # another run, holding it in float32
        late = SwinIRRestorer(half, dtype="bfloat16")
    assert half.layers[0].conv.weight.dtype == torch.float16  # cast back
    expected = SwinIRRestorer(SwinIRForImageRestoration.from_pretrained(tmp_path).eval(), dtype="bfloat16")
    x = torch.rand(1, 3, 9, 11)
    assert torch.equal(late.restore_tensor(x), expected.restore_tensor(x))


def test_float16_needs_cuda_and_keeps_edges_in_float32(model):
    with pytest.raises(ValueError, match="CUDA"):
        restore(model, _rgb(), dtype="float16", device="cpu")
    seen = {}
    hooks = [
        model.conv_first.register_forward_hook(lambda mod, inp, out: seen.update(head=out.dtype)),
        model.layers[0]
        .residual_group.blocks[0]
        .mlp.fc1.register_forward_hook(lambda mod, inp, out: seen.update(body=out.dtype)),
    ]
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.float16):
            out = model(torch.rand(1, 3, 8, 8)).reconstruction
    finally:
        for hook in hooks:
            hook.remove()
    assert seen == {"head": torch.float32, "body": torch.float16} and out.dtype == torch.float32


def test_a_model_loaded_in_float16_keeps_its_edges_in_float32_and_runs(model, tmp_path):
    model.save_pretrained(tmp_path)
    half = SwinIRForImageRestoration.from_pretrained(tmp_path, dtype=torch.float16).eval()
    kept = {name.split(".")[0] for name, p in half.named_parameters() if p.dtype == torch.float32}
    assert kept == set(half._keep_in_fp32_modules) & {name for name, _ in half.named_children()}
    assert half.layers[0].conv.weight.dtype == torch.float16
    x = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        out, ref = half(x).reconstruction, model(x).reconstruction
    assert out.dtype == torch.float32 and out.shape == ref.shape
    assert 0 < (out - ref).abs().max() < 2e-2  # really ran the body in float16, and close to float32
    # The engine runs float32 on float32 weights: the half weights are cast up (lossless) instead of failing, and
    # back after, each tensor to its own dtype (`.half()` would have made the float32 edges float16 too), in place.
    dtypes = {name: p.dtype for name, p in half.named_parameters()}
    params = list(half.parameters())
    restored = restore(half, _rgb(9, 11), dtype="float32")
    assert restored.shape == (18, 22, 3)
    assert {name: p.dtype for name, p in half.named_parameters()} == dtypes
    assert all(a is b for a, b in zip(half.parameters(), params, strict=True))  # an optimizer's still


@pytest.mark.parametrize("dtype", ["bfloat16", "auto"])
def test_a_model_loaded_in_float16_runs_in_bfloat16_on_cpu(model, tmp_path, monkeypatch, dtype):
    # "auto" is bfloat16 on CPUs with native bfloat16: such a model failed there with torch's "mixed dtype (CPU)".
    monkeypatch.setattr(devices, "_native_cpu_bfloat16", lambda: True)
    copy.deepcopy(model).half().save_pretrained(tmp_path)  # weights rounded to float16, as a float16 file holds
    half = SwinIRForImageRestoration.from_pretrained(tmp_path, dtype=torch.float16).eval()
    full = SwinIRForImageRestoration.from_pretrained(tmp_path, dtype=torch.float32).eval()
    img = _rgb(9, 11)
    # float16 runs on CUDA only: elsewhere its weights are cast to float32 (lossless) for the run.
    np.testing.assert_array_equal(restore(half, img, dtype=dtype), restore(full, img, dtype="bfloat16"))
    assert half.layers[0].conv.weight.dtype == torch.float16
    bf16 = copy.deepcopy(model).to(torch.bfloat16)  # dtype="float32" casts it for the run only too
    restore(bf16, img, dtype="float32")
    assert {p.dtype for p in bf16.parameters()} == {torch.bfloat16}


def test_bad_arguments_are_rejected(model, tmp_path):
    with pytest.raises(ValueError, match="tile"):
        restore(model, _rgb(), tile=-8)
    with pytest.raises(ValueError, match="dtype"):
        restore(model, _rgb(), dtype="int8")
    with pytest.raises(ValueError, match=r"^padding must be 'model' or 'authors', got 'reflect'$"):
        restore(model, _rgb(), EngineOptions(padding="reflect"))
    with pytest.raises(TypeError):
        restore(model, [1, 2, 3])
    with pytest.raises(ValueError, match="not a readable image"):
        read_image((tmp_path / "x.png").write_bytes(b"no image") and tmp_path / "x.png")


def test_option_values_of_the_wrong_kind_get_one_clear_line(model):
    # Integers computed with numpy are tiles like any other; the tile is the same as with a plain int.
    assert SwinIRRestorer(model, tile=np.int64(8), tile_overlap=np.int64(2))._initial_tile(torch.zeros(1, 3, 9, 9)) == 8
    bad = {
        "tile": (True, r"^tile must be None \(or 0\), 'auto' or a positive int, got True$"),
        "tile_overlap": (2.5, r"^tile_overlap must be an int ≥ 0, got 2\.5$"),
        "tiles_per_pass": (1.5, r"^tiles_per_pass must be an int ≥ 1, got 1\.5$"),
        "memory_budget": (0, r"^memory_budget must be None or a positive number of bytes, got 0$"),
        "ensemble": ("no", r"^ensemble must be True or False, got 'no'$"),
        "padding": ("reflect", r"^padding must be 'model' or 'authors', got 'reflect'$"),
    }
    for name, (value, message) in bad.items():
        with pytest.raises(ValueError, match=message):
            SwinIRRestorer(model, **{name: value})
    with pytest.raises(ValueError, match=r"^tile_overlap must be an int ≥ 0, got None$"):
        SwinIRRestorer(model, tile_overlap=None)


def test_tile_0_and_torch_dtypes_are_taken_as_real_esrgan_and_diffusers_users_pass_them(model):
    """`tile=0` is the whole image in Real-ESRGAN's API and on this command line (`--tile 0`), and diffusers takes
    `torch_dtype=torch.bfloat16`: both were refused here."""
    restorer = SwinIRRestorer(model, tile=0, dtype=torch.bfloat16)
    assert (restorer.tile, restorer.dtype) == (None, "bfloat16")
    image = _rgb()
    assert np.array_equal(
        restore(model, image, tile=0, dtype=torch.float32), restore(model, image, tile=None, dtype="float32")
    )
    # and as the one options object that evaluations, reports and the CLI pass along (its caption said "tiles of 0
    # px", and a torch dtype was refused as "only supported on CUDA")
    assert EngineOptions(tile=0, dtype=torch.bfloat16) == EngineOptions(tile=None, dtype="bfloat16")


def test_something_else_than_a_model_is_named_with_how_to_load_one():
    with pytest.raises(TypeError, match=r"^restore needs a loaded SwinIR model, got the name 'sr-x4': load it with "):
        restore("sr-x4", _rgb())
    for other, kind in ((torch.nn.Conv2d(3, 3, 3), "Conv2d"), (None, "NoneType")):
        with pytest.raises(TypeError, match=rf"^restore needs a loaded SwinIR model, got a {kind}: load one with "):
            SwinIRRestorer(other)
    with torch.device("meta"):  # built without weights: torch's "Cannot copy out of meta tensor" came from deep inside
        empty = SwinIRForImageRestoration(SwinIRConfig(embed_dim=8, depths=[1], num_heads=[1], window_size=4))
    with pytest.raises(ValueError, match=r"^the model's weights are not loaded \(it is on the meta device\): load it"):
        restore(empty, _rgb())


def test_tensors_and_lists_are_pointed_to_what_takes_them(model):
    with pytest.raises(TypeError, match=r"^restore takes one image: call it per image \(a SwinIRRestorer keeps "):
        restore(model, [_rgb(), _rgb()])
    with pytest.raises(
        TypeError, match=r"; its restore_images takes a list of images, each size's in one batch\), or restore "
    ):
        SwinIRRestorer(model)([_rgb(), _rgb()])
    with pytest.raises(TypeError, match=r"^restore takes images, not tensors: .*restore_tensor\(x\) restores "):
        restore(model, torch.rand(1, 3, 8, 8))
    # The advice runs as written on a tensor that needs grad (`x.permute(1, 2, 0).numpy()` raised on those), on
    # PyTorch's batch of one and on bfloat16 (numpy has no such dtype): `.numpy()` or the permute raised on those.
    for x in (torch.rand(3, 8, 10, requires_grad=True), torch.rand(1, 3, 8, 10), torch.rand(3, 8, 10).bfloat16()):
        with pytest.raises(TypeError) as caught:
            restore(model, x)
        advice = re.search(r"image as (x.*?\.numpy\(\))", str(caught.value)).group(1)
        assert restore(model, eval(advice)).shape == (16, 20, 3), advice  # noqa: S307 (the message's own expression)
    x, i = torch.rand(2, 3, 8, 10), 1  # a batch of two: `x.permute(1, 2, 0)` raised on it
    with pytest.raises(TypeError, match=r"image as x\[i\]\.detach\(\)\.cpu\(\)\.permute\(1, 2, 0\)\.numpy\(\), or "):
        restore(model, x)
    assert restore(model, x[i].detach().cpu().permute(1, 2, 0).numpy()).shape == (16, 20, 3)


def test_a_restoration_stopped_by_keyboard_interrupt_leaves_nothing_behind(tiny_config, monkeypatch):
    """A notebook's Stop button (KeyboardInterrupt) midway through the tiles: the model is back in its training mode
    and dtype, no progress count is left open, and the cell run again gives what an uninterrupted run gives."""
    from swinir_hf import progress_lines

    model = SwinIRForImageRestoration(tiny_config()).to(torch.bfloat16).train()
    passes = []

    def stop_at_the_second(module, inputs):
        passes.append(1)
        if len(passes) == 2:
            raise KeyboardInterrupt

    hook = model.register_forward_pre_hook(stop_at_the_second)
    monkeypatch.setattr(progress_lines, "bars_redrawn", lambda: False)  # a count in lines, on this thread's stack
    with pytest.raises(KeyboardInterrupt):
        restore(model, _rgb(), tile=8, dtype="float32", progress=True)
    hook.remove()
    assert model.training and model.dtype == torch.bfloat16 and progress_lines._innermost() is None
    again = restore(model, _rgb(), tile=8, dtype="float32", progress=True)
    assert np.array_equal(again, restore(model, _rgb(), tile=8, dtype="float32"))


def test_a_url_is_said_to_be_one_not_a_missing_file(model):
    """The pipeline fetches URLs, restore does not: a URL was `https:/example.com/a.png: not a readable image (No such
    file or directory)`, its `//` made `/` as a path. Said before any fetch (no network)."""
    url = "https://example.com/a.png"
    with pytest.raises(ValueError, match=rf"^{re.escape(url)}: a URL, not a file: open its downloaded bytes with PIL"):
        restore(model, url)


def test_an_image_files_bytes_in_memory_are_pointed_to_pil(model):
    """A notebook's download or upload (`response.content`, `io.BytesIO`) is a file's bytes, not pixels: the
    message says how to open them, and its expression runs as written."""
    import io

    import PIL.Image  # noqa: F401 (the name the message's expression uses)

    buffer = io.BytesIO()
    Image.fromarray(_rgb(8, 10)).save(buffer, "PNG")
    data = buffer.getvalue()
    for given, name in ((data, "data"), (bytearray(data), "data"), (io.BytesIO(data), "file")):
        with pytest.raises(
            TypeError, match=rf"^expected a PIL image, numpy array or path, got {type(given).__name__}: "
        ) as caught:
            restore(model, given)
        opened = re.search(r"with (PIL\.Image\.open\(.*?\)\)?),", str(caught.value)).group(1)
        file = io.BytesIO(data)  # noqa: F841 (the name the message's expression uses)
        assert name in opened and restore(model, eval(opened)).size == (20, 16), opened  # noqa: S307


def test_restore_says_when_an_option_is_given_twice(model):
    with pytest.raises(TypeError, match=r"^tile is given twice: in engine and as an argument; set it in one place$"):
        restore(model, _rgb(), EngineOptions(tile=None), tile=8)
    # tiles_per_pass's earlier name too: it ran with the engine's tiles_per_pass (its default) replaced, or said
    # "give tiles_per_pass alone" where the engine set it, an argument the call never gave.
    for engine in (EngineOptions(), EngineOptions(tiles_per_pass=2)):
        with pytest.raises(TypeError, match=r"^batch_size is given twice: in engine and as an argument; set it in"):
            restore(model, _rgb(), engine, batch_size=4)


def test_restore_says_what_real_esrgans_arguments_are_here(model):
    """`restore(model, img, half=True, tile_pad=10)`, as `RealESRGANer(...)` takes them, was a TypeError naming
    `SwinIRRestorer.__init__`, an internal class, and no replacement."""
    said = (
        r"^restore\(\) got unexpected keyword arguments 'half', 'tile_pad', 'bogus'; half is dtype='float16' \(or "
        r"'bfloat16'; half=False is dtype='float32'\) here; tile_pad is tile_overlap here$"
    )
    for engine in (None, EngineOptions()):
        with pytest.raises(TypeError, match=said):
            restore(model, _rgb(), engine, half=True, tile_pad=10, bogus=1)
    assert restore(model, _rgb(), progress=False, tile_overlap=4).shape == restore(model, _rgb()).shape  # its own
    with pytest.raises(TypeError, match=r"^restore's third argument is an EngineOptions, got 2: pass the options"):
        restore(model, _rgb(), 2, tile=16)  # `enhance(img, 2)` with an option: not "tile is given twice"


def test_restore_tensor_takes_only_float_batches(model):
    restorer = SwinIRRestorer(model)
    for x, found in (
        (torch.rand(3, 8, 8), "shape (3, 8, 8) float32"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.uint8), "shape (1, 3, 8, 8) uint8"),
    ):
        with pytest.raises(
            ValueError, match=rf"^restore_tensor takes \(N, C, H, W\) floats in \[0, 1\], got {re.escape(found)}$"
        ):
            restorer.restore_tensor(x)
    # an empty batch was a ZeroDivisionError, then blamed on its valid shape; a meta tensor, torch's .item() error
    with pytest.raises(
        ValueError, match=r"^restore_tensor: the batch is empty, shape \(0, 3, 8, 8\): there is nothing"
    ):
        restorer.restore_tensor(torch.rand(0, 3, 8, 8))
    with pytest.raises(ValueError, match=r"^restore_tensor: a tensor on the meta device holds no pixels: pass one wi"):
        restorer.restore_tensor(torch.empty(1, 3, 8, 8, device="meta"))
    # what it takes is what images take: noise's overshoot, not another range
    assert restorer.restore_tensor(torch.rand(1, 3, 8, 8) * 2 - 0.5).shape == (1, 3, 16, 16)
    with pytest.raises(
        ValueError,
        match=r"^restore_tensor takes floats in \[0, 1\] \(noise may overshoot it, up to \[-4, 5\]\), these span \[",
    ):
        restorer.restore_tensor(torch.rand(1, 3, 8, 8) * 255)


def test_restore_float_takes_only_float_images(model):
    restorer = SwinIRRestorer(model)
    # An (H, W) array was taken for H × 1 pixels of W channels ("cannot map a 8-channel image"), and a uint8 one was
    # restored as if its 0..255 levels were [0, 1] floats.
    for image, found in ((np.zeros((8, 8), np.float32), "shape (8, 8) float32"), (_rgb(8, 8), "shape (8, 8, 3) uint8")):
        with pytest.raises(
            ValueError, match=rf"^restore_float takes \(H, W, C\) floats in \[0, 1\], got {re.escape(found)}$"
        ):
            restorer.restore_float(image)


def test_allocator_tuning_reaches_glibc():
    import ctypes.util

    from swinir_hf import tune_allocator

    if not ctypes.util.find_library("c"):
        pytest.skip("no C library to tune")
    assert tune_allocator() is True


def _tiff_kinds() -> dict[str, Image.Image | np.ndarray]:
    """Every kind of image the engine hands `write_image`, with random pixels."""
    rng = np.random.default_rng(9)
    deep = rng.integers(0, 65536, (9, 11, 4), dtype=np.uint16)
    rgba = rng.integers(0, 256, (9, 11, 4), dtype=np.uint8)
    return {
        "RGB": Image.fromarray(rgba[..., :3]),
        "RGBA": Image.fromarray(rgba, "RGBA"),
        "L": Image.fromarray(rgba[..., 0]),
        "LA": Image.fromarray(rgba[..., :2].copy(), "LA"),
        "I;16": Image.fromarray(deep[..., 0]),
        "F": Image.fromarray(rng.random((9, 11), dtype=np.float32)),
        "uint16 RGB": deep[..., :3].copy(),
        "uint16 RGBA": deep,
        "uint16 grey+alpha": deep[..., :2].copy(),
        "float RGBA": rng.random((9, 11, 4), dtype=np.float32),
    }


@pytest.mark.parametrize("kind", list(_tiff_kinds()))
def test_tiff_output_is_deflate_compressed_and_bit_exact(kind, tmp_path):
    import tifffile

    image = _tiff_kinds()[kind]
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    write_image(tmp_path / "out.tif", image, icc)
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
    data = read_image(tmp_path / "out.tif")
    back = data.pixels
    if isinstance(image, Image.Image):
        assert back.mode == image.mode
        image, back = np.asarray(image), np.asarray(back)
    assert back.dtype == image.dtype
    np.testing.assert_array_equal(back, image)
    assert data.icc_profile == icc


def test_auto_tiles_are_as_few_as_the_budget_allows_and_as_small_as_that_count_permits(model, monkeypatch):
    """A budget of 240-pixel tiles (window 4, overlap 32): a 256² image needs 2 tiles a side, and 2 tiles sharing
    32 pixels cover 256 from 144 up (2·144 - 32 = 256); a 460² one needs 3 (2·240 - 32 = 448 < 460), each at least
    (460 + 2·32) / 3 ≈ 174.7, i.e. 176 in whole windows."""
    from swinir_hf.models.tiling_swinir import tile_grid

    monkeypatch.setattr(model, "activation_bytes_per_pixel", lambda device: 2.0)  # ×1.5 safety: 3 bytes a pixel
    monkeypatch.setattr(model, "fixed_activation_bytes", lambda device: 0.0)
    restorer = SwinIRRestorer(model, tile="auto", tile_overlap=32, memory_budget=3 * 240 * 240)
    assert restorer._initial_tile(torch.zeros(1, 3, 240, 240)) is None
    for side, tile, count in ((256, 144, 2), (460, 176, 3)):
        assert restorer._initial_tile(torch.zeros(1, 3, side, side)) == tile
        ys, xs, overlap = tile_grid(side, side, tile, 32)
        assert len(ys) == len(xs) == count and overlap == 32


def test_an_int_tile_is_rounded_down_to_whole_windows(model, monkeypatch):
    """tile=50 with 4-pixel windows runs 48 × 48 tiles."""
    forward, sizes = model.forward, set()

    def spy(pixel_values, *args, **kwargs):
        sizes.add(tuple(pixel_values.shape[-2:]))
        return forward(pixel_values, *args, **kwargs)

    monkeypatch.setattr(model, "forward", spy)
    out = restore(model, _rgb(64, 60), tile=50, tile_overlap=8, dtype="float32")
    assert out.shape == (128, 120, 3) and sizes == {(48, 48)}


def test_restoring_with_a_model_in_training_mode_leaves_it_in_training_mode(tiny_config):
    """The engine runs the model in eval mode and gives it back in the mode it was in."""
    m = SwinIRForImageRestoration(tiny_config()).train()
    restore(m, _rgb(8, 8), dtype="float32")
    assert m.training and all(module.training for module in m.modules())
    m.eval()
    restore(m, _rgb(8, 8), dtype="float32")
    assert not m.training


def test_16bit_colour_files_are_turned_upright_as_their_8bit_copies(tmp_path):
    """A 16-bit PNG (read with pypng, turned with numpy) with an EXIF orientation 2..8 comes out as its 8-bit copy
    with that orientation does, which is Pillow's `ImageOps.exif_transpose`."""
    from PIL import ImageOps

    base = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    base[0, 1] = 255  # a marker off every axis of symmetry
    for orientation in range(2, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(base).save(tmp_path / f"{orientation}-8.png", exif=exif)
        write_image(tmp_path / f"{orientation}-16.png", base.astype(np.uint16) * 257, exif=exif.tobytes())
        with Image.open(tmp_path / f"{orientation}-8.png") as image:
            expected = np.asarray(ImageOps.exif_transpose(image))
        deep = read_image(tmp_path / f"{orientation}-16.png").pixels
        assert deep.dtype == np.uint16 and deep.shape == expected.shape, orientation
        np.testing.assert_array_equal(deep, expected.astype(np.uint16) * 257, err_msg=f"orientation {orientation}")
        np.testing.assert_array_equal(np.asarray(read_image(tmp_path / f"{orientation}-8.png").pixels), expected)


@pytest.mark.parametrize("mode", ["L", "RGBA", "I;16"])
def test_uncompressed_tiffs_turned_a_quarter_are_read_upright(mode, tmp_path):
    """Pillow memory-maps an uncompressed grey / RGBA / 16-bit grey TIFF with the size its Orientation (5-8) turns
    it to, not the stored one: the pixels came out scrambled and sideways, from a file, the pipeline and training's
    reader alike. Each reads as the same TIFF compressed (LZW, which Pillow decodes and turns)."""
    from swinir_hf.models.image_files_swinir import open_image
    from swinir_hf.models.pil_images_swinir import normalize_pil
    from swinir_hf.training.images import decode_image

    stored = np.arange(5 * 7, dtype=np.uint8).reshape(5, 7) * 7
    stored[0, 1] = 255  # a marker off every axis of symmetry
    for orientation in range(5, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        image = {"L": Image.fromarray(stored), "I;16": Image.fromarray(stored.astype(np.uint16) * 257)}.get(
            mode, Image.fromarray(np.dstack([stored] * 3 + [np.full_like(stored, 200)]))
        )
        image.save(tmp_path / "raw.tif", exif=exif)
        image.save(tmp_path / "lzw.tif", exif=exif, compression="tiff_lzw")
        expected = np.asarray(read_image(tmp_path / "lzw.tif").pixels)
        assert expected.shape[:2] == (7, 5), orientation  # turned a quarter
        np.testing.assert_array_equal(np.asarray(read_image(tmp_path / "raw.tif").pixels), expected)
        from_pipeline = normalize_pil(open_image(str(tmp_path / "raw.tif")))
        np.testing.assert_array_equal(np.asarray(from_pipeline), expected, err_msg=f"orientation {orientation}")
        channels = 1 if mode != "RGBA" else 3
        np.testing.assert_array_equal(
            decode_image(str(tmp_path / "raw.tif"), channels), decode_image(str(tmp_path / "lzw.tif"), channels)
        )


def test_header_sizes_are_the_upright_size_read_image_gives_in_every_format_and_orientation(tmp_path):
    """EXIF orientations 5-8 turn the image a quarter: a photo stored 40 wide and 20 high is 20 × 40 as shown, and
    its header's size (a rerun's size check and sort by size, the memory check) is the one `read_image` decodes.
    Pillow 12 gives such a TIFF at its upright size already: swapped once more, every rerun of a turned TIFF was
    refused as "made at another size". The TIFFs Pillow reads through tifffile (16-bit colour, float, 16-bit grey +
    alpha) alike."""
    import tifffile

    from swinir_hf.inference.image_io import header_size

    stored = _rgb(20, 40)
    deep = stored.astype(np.uint16) * 257
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        for ext in ("jpg", "png", "webp", "tif"):
            Image.fromarray(stored).save(tmp_path / f"{orientation}.{ext}", exif=exif)
        Image.fromarray(deep[..., 0]).save(tmp_path / f"{orientation}-grey16.tif", exif=exif)
        tag = [(274, "H", 1, orientation, True)]
        tifffile.imwrite(tmp_path / f"{orientation}-deep.tif", deep, photometric="rgb", extratags=tag)
        tifffile.imwrite(tmp_path / f"{orientation}-float.tif", deep / 65535, photometric="rgb", extratags=tag)
        grey_alpha = (tmp_path / f"{orientation}-la16.tif", deep[..., :2])
        tifffile.imwrite(*grey_alpha, photometric="minisblack", extrasamples=[2], extratags=tag)
        expected = (20, 40) if orientation >= 5 else (40, 20)
        for path in sorted(tmp_path.glob(f"{orientation}[.-]*")):
            pixels = read_image(path).pixels
            decoded = pixels.size if isinstance(pixels, Image.Image) else pixels.shape[1::-1]
            assert (header_size(path), image_size(path), tuple(decoded)) == (expected,) * 3, path.name


def test_a_pngs_size_is_read_without_decoding_it_even_with_its_exif_after_the_pixels(tmp_path, monkeypatch):
    """Pillow's `getexif()` decoded a whole PNG to look for an eXIf chunk after its pixels: the size check before any
    restoration (and `--batch-size`'s sort by size) cost a 0.5 MB PNG of 13000² pixels 660 MB and decoded every
    PNG once more. Its chunks are skipped over; an eXIf after the pixels (orientation 6: a quarter turn) still
    counts, as the full read applies it."""
    from PIL import PngImagePlugin

    from swinir_hf.inference.image_io import image_size

    Image.fromarray(_rgb(20, 40)).save(tmp_path / "plain.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    late = exif.tobytes()[6:]  # the TIFF block: an eXIf chunk holds no "Exif" header
    data = (tmp_path / "plain.png").read_bytes()
    chunk = struct.pack(">I", len(late)) + b"eXIf" + late + struct.pack(">I", zlib.crc32(b"eXIf" + late))
    iend = data.rindex(b"IEND") - 4
    (tmp_path / "late.png").write_bytes(data[:iend] + chunk + data[iend:])  # after the IDAT chunks
    assert read_image(tmp_path / "late.png").pixels.size == (20, 40)  # as shown: turned
    xmp = PngImagePlugin.PngInfo()  # an orientation in XMP only, as Pillow also reads it
    xmp.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta><rdf:Description tiff:Orientation="6"/></x:xmpmeta>')
    Image.fromarray(_rgb(20, 40)).save(tmp_path / "xmp.png", pnginfo=xmp)
    assert read_image(tmp_path / "xmp.png").pixels.size == (20, 40)
    monkeypatch.setattr(PngImagePlugin.PngImageFile, "load", lambda self: pytest.fail("the PNG was decoded"))
    sizes = [image_size(tmp_path / name) for name in ("plain.png", "late.png", "xmp.png")]
    assert sizes == [(40, 20), (20, 40), (20, 40)]


def test_a_webps_size_is_read_from_its_chunks_as_pillow_gives_it(tmp_path, monkeypatch):
    """A rerun reads the size of every output it finds: Pillow reads a whole WebP to open it (1.5 ms a 1 MB file).
    Its chunks give the same upright size: lossy (VP8), lossless (VP8L), extended (VP8X: alpha, EXIF or XMP
    orientation, an animation's canvas)."""
    from PIL import WebPImagePlugin

    from swinir_hf.inference.image_io import header_size, image_size

    turned = Image.Exif()
    turned[0x0112] = 6
    xmp = b'<x:xmpmeta><rdf:Description tiff:Orientation="8"/></x:xmpmeta>'
    frames = [Image.fromarray(_rgb(5, 7)), Image.fromarray(_rgb(5, 7)[::-1])]
    saves = {
        "lossy": {},
        "lossless": {"lossless": True},
        "alpha": {"lossless": True, "image": Image.fromarray(np.dstack([_rgb(5, 7), _rgb(5, 7)[..., :1]]))},
        "exif": {"exif": turned.tobytes()},
        "xmp": {"xmp": xmp},
        "animated": {"save_all": True, "append_images": frames[1:]},
    }
    expected = {}
    for name, options in saves.items():
        image = options.pop("image", frames[0])
        image.save(tmp_path / f"{name}.webp", **options)
        expected[name] = image_size(tmp_path / f"{name}.webp")
    assert expected["lossy"] == (7, 5) and expected["exif"] == expected["xmp"] == (5, 7)
    (tmp_path / "damaged.webp").write_bytes(b"RIFF....WEBPVP8 ")
    assert header_size(tmp_path / "damaged.webp") is None  # nor can Pillow read it
    monkeypatch.setattr(WebPImagePlugin.WebPImageFile, "_open", lambda self: pytest.fail("Pillow opened the WebP"))
    assert {name: header_size(tmp_path / f"{name}.webp") for name in saves} == expected


def test_a_lossless_webp_with_an_odd_length_chunk_before_its_image_is_lossless(tmp_path):
    """RIFF chunks are padded to an even length: an odd-length ICC profile before the VP8L chunk is stepped over
    whole, and the file is still found lossless (and a lossy one lossy)."""
    from swinir_hf.inference.image_io import is_lossless_webp

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    icc += b"\0" * (1 - len(icc) % 2)  # odd length
    assert len(icc) % 2 == 1
    for lossless in (True, False):
        path = tmp_path / f"{lossless}.webp"
        Image.fromarray(_rgb()).save(path, lossless=lossless, icc_profile=icc)
        data = path.read_bytes()
        assert data[12:16] == b"VP8X" and b"ICCP" in data and Image.open(path).info["icc_profile"] == icc
        assert is_lossless_webp(path) == lossless


def test_a_damaged_exif_block_is_one_logged_warning_that_names_the_file(tmp_path, caplog, capsys):
    """Pillow notices damaged EXIF while opening: one log line names the file, per read and per restored file (the
    header read that plans a run says nothing), and no Python warning points at Pillow's source line."""
    from swinir_hf.cli import main

    src = tmp_path / "in"
    src.mkdir()
    Image.new("L", (8, 8), 100).save(src / "damaged.jpg", exif=b"Exif\0\0MM\0*\0\0\0\x08\xff\xff" + bytes(6))
    line = f"{src / 'damaged.jpg'}: Corrupt EXIF data.  Expecting to read 12 bytes but only got 6."
    caplog.set_level("WARNING")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert image_size(src / "damaged.jpg") == (8, 8)
        assert not caplog.records
        read_image(src / "damaged.jpg")
    assert [r.getMessage() for r in caplog.records] == [line]
    caplog.clear()
    assert main(["restore", str(src), "-o", str(tmp_path / "out"), "--model", "sr-x2", "--no-progress"]) == 0
    assert [r.getMessage() for r in caplog.records] == [line]


def test_a_16bit_min_is_white_tiff_is_read_as_its_8bit_copy_not_a_negative(model, tmp_path):
    """In a MinIsWhite TIFF (photometric 0, as some scanners and X-ray exports write) 0 is white: Pillow inverts the
    8-bit ones but gives 16-bit ones as stored, which restored a negative."""
    import tifffile

    grey = _rgb()[..., 0]
    tifffile.imwrite(tmp_path / "scan8.tif", 255 - grey, photometric="miniswhite")
    tifffile.imwrite(tmp_path / "scan16.tif", (255 - grey).astype(np.uint16) * 257, photometric="miniswhite")
    np.testing.assert_array_equal(np.asarray(read_image(tmp_path / "scan8.tif").pixels), grey)
    deep = read_image(tmp_path / "scan16.tif").pixels
    assert deep.mode == "I;16"
    np.testing.assert_array_equal(np.asarray(deep), grey.astype(np.uint16) * 257)
    expected = np.asarray(restore(model, Image.fromarray(grey.astype(np.uint16) * 257), dtype="float32"))
    for source in (tmp_path / "scan16.tif", Image.open(tmp_path / "scan16.tif")):
        np.testing.assert_array_equal(np.asarray(restore(model, source, dtype="float32")), expected)


def test_a_float_min_is_white_tiff_is_made_min_is_black_as_a_16bit_one(model, tmp_path):
    """A float MinIsWhite TIFF (0 is white) was read as stored, a negative, where a 16-bit one is made MinIsBlack:
    float32 grey (Pillow's mode F), float64 / float16 grey and float grey + alpha (tifffile) alike."""
    import tifffile

    grey = _rgb()[..., 0].astype(np.float32) / 255
    for dtype in (np.float64, np.float16, np.float32):
        tifffile.imwrite(tmp_path / "scan.tif", (1 - grey).astype(dtype), photometric="miniswhite")
        np.testing.assert_allclose(np.asarray(read_image(tmp_path / "scan.tif").pixels), grey, atol=1e-3)
    # the float32 one, which Pillow opens: restored from its path and from the opened image as its MinIsBlack copy
    expected = np.asarray(restore(model, Image.fromarray(grey), dtype="float32"))
    for source in (tmp_path / "scan.tif", Image.open(tmp_path / "scan.tif")):
        np.testing.assert_allclose(np.asarray(restore(model, source, dtype="float32")), expected, atol=1e-4)
    with_alpha = np.stack([1 - grey, np.ones_like(grey)], -1)
    tifffile.imwrite(tmp_path / "scan_alpha.tif", with_alpha, photometric="miniswhite", extrasamples=[2])
    np.testing.assert_allclose(read_image(tmp_path / "scan_alpha.tif").pixels[..., 0], grey, atol=1e-6)


def _write_sgi16(path: Path, levels: np.ndarray, rle: bool) -> None:
    """(H, W, C) uint16 levels as a 16-bit SGI file, verbatim or RLE (each row: its first sample repeated twice,
    then the rest as they are, so the first two must be equal), as no installed library writes one."""
    h, w, c = levels.shape
    rows = [levels[::-1, :, ch][y] for ch in range(c) for y in range(h)]  # plane by plane, bottom row first
    header = np.array([474, (int(rle) << 8) | 2, 3 if c > 1 else 2, w, h, c], ">u2").tobytes().ljust(512, b"\0")
    if rle:
        encoded = [np.array([2, r[0], 0x80 | (w - 2), *r[2:], 0], ">u2").tobytes() for r in rows]
        starts = 512 + 8 * len(rows) + np.cumsum([0] + [len(e) for e in encoded[:-1]])
        body = np.array([*starts, *map(len, encoded)], ">u4").tobytes() + b"".join(encoded)
    else:
        body = b"".join(r.astype(">u2").tobytes() for r in rows)
    path.write_bytes(header + body)


def test_a_16bit_sgi_image_keeps_its_16_bits(model, tmp_path):
    """Pillow reads a 16-bit SGI image at 8 bits (colour as RGB, grey as L): a verbatim one was restored at 8 bits
    without a word, an RLE colour one refused as an unsupported 16-bit colour SGI; all are read whole now."""
    levels = np.random.default_rng(0).integers(0, 65536, (7, 40, 3)).astype(np.uint16)
    levels[:, 1] = levels[:, 0]
    for channels, rle in ((3, False), (3, True), (1, False), (1, True)):
        path = tmp_path / f"scan{channels}{'rle' if rle else ''}.sgi"
        _write_sgi16(path, levels[..., :channels], rle)
        expected = levels[..., 0] if channels == 1 else levels
        np.testing.assert_array_equal(np.asarray(Image.open(path)), expected >> 8)  # a valid file: Pillow's 8 bits
        np.testing.assert_array_equal(np.asarray(read_image(path).pixels), expected)
    out = restore(model, tmp_path / "scan3rle.sgi", dtype="float32")
    assert out.dtype == np.uint16 and out.shape == (14, 80, 3)
    for name, kind in (("scan3.sgi", "colour"), ("scan1rle.sgi", "grey")):  # opened by Pillow: at 8 bits, refused
        with pytest.raises(ValueError, match=f"16-bit {kind} image, which Pillow reads at 8 bits"):
            restore(model, Image.open(tmp_path / name))
    # A truncated one is said to be truncated: a cut that left half a sample (or a run without its sample) was
    # numpy's "buffer size must be a multiple of element size" ("could not broadcast input array from shape (0,)").
    rle_rows = np.frombuffer((tmp_path / "scan3rle.sgi").read_bytes()[512 : 512 + 8 * 21], ">u4")
    for name, cut in (("scan3.sgi", -1), ("scan3rle.sgi", 515), ("scan3rle.sgi", int(rle_rows[20]) + 2)):
        data = (tmp_path / name).read_bytes()
        (tmp_path / "cut.sgi").write_bytes(data[:cut])
        with pytest.raises(ValueError, match=r"cut.sgi: not a readable image \(image file is truncated \("):
            read_image(tmp_path / "cut.sgi")


def test_a_16bit_cmyk_tiff_read_at_8_bits_says_so(model, tmp_path, caplog):
    """Pillow reads a 16-bit CMYK TIFF (print workflows) at 8 bits and converts it with its 8-bit colour management:
    the restored copy is 8-bit RGB, which a warning naming the file says, as for a 10-bit AVIF."""
    import tifffile

    cmyk = np.asarray(Image.fromarray(_rgb()).convert("CMYK"))
    tifffile.imwrite(tmp_path / "print16.tif", cmyk.astype(np.uint16) * 257, photometric="separated")
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "print8.tif")
    with caplog.at_level(logging.WARNING):
        assert restore(model, tmp_path / "print8.tif").mode == "RGB"
        assert not caplog.records
        out = restore(model, tmp_path / "print16.tif")
    assert out.mode == "RGB" and out.size == (48, 40)
    assert f"{tmp_path / 'print16.tif'}: a 16-bit CMYK TIFF, read at 8 bits" in caplog.text


def test_a_file_that_cannot_be_decoded_is_closed(tmp_path, unclosed_files):
    """A truncated file's opened image stayed open, held by the error's traceback, until garbage collection: a
    ResourceWarning, and a file descriptor for each bad file of a folder. A multi-page TIFF or GIF cut short in its
    first frame fails as well; cut past it, it is read from the first frame, and closed too."""
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "a.jpg", quality=90)
    write_image(tmp_path / "a16.png", noise.astype(np.uint16) * 257)  # decoded by pypng
    pages = [Image.fromarray(noise[:32, : 16 * i]) for i in (3, 2, 1)]
    for suffix in ("tif", "gif"):
        pages[0].save(tmp_path / f"pages.{suffix}", save_all=True, append_images=pages[1:])
    cuts = {"a.jpg": 3 / 4, "a16.png": 3 / 4, "pages.tif": 1 / 4, "pages.gif": 1 / 4}  # within the first frame
    cuts |= {"later.tif": 1 / 2, "later.gif": 1 / 2}  # the first frame whole
    for name, kept in cuts.items():
        data = (tmp_path / name.replace("later", "pages")).read_bytes()
        (tmp_path / f"cut-{name}").write_bytes(data[: int(len(data) * kept)])
    with unclosed_files() as unclosed:
        for name in cuts:
            if name.startswith("later"):
                assert read_image(tmp_path / f"cut-{name}").pixels.size == (48, 32), name
                continue
            with pytest.raises(ValueError, match="not a readable image"):
                read_image(tmp_path / f"cut-{name}")
    assert unclosed == []


def test_a_16bit_colour_ppm_keeps_its_depth(model, tmp_path):
    """dcraw -6 and netpbm write colour PPMs of maxval 65535 (or 4095), which Pillow scales to 8 bits: read whole,
    white at 65535, like a 16-bit PNG; opened with Pillow, refused as one is; cut short, a readable error."""
    levels = np.random.default_rng(0).integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    (tmp_path / "raw.ppm").write_bytes(b"P6\n7 5\n65535\n" + levels.astype(">u2").tobytes())
    twelve = levels >> 4
    text = " ".join(map(str, twelve.ravel()))
    (tmp_path / "plain.ppm").write_text(f"P3\n# dcraw\n7 5\n4095\n{text}\n")
    np.testing.assert_array_equal(read_image(tmp_path / "raw.ppm").pixels, levels)
    expected = (twelve.astype(np.uint32) * 65535 + 2047) // 4095
    np.testing.assert_array_equal(read_image(tmp_path / "plain.ppm").pixels, expected)
    out = restore(model, tmp_path / "raw.ppm", dtype="float32")
    assert out.dtype == np.uint16 and out.shape == (10, 14, 3)
    np.testing.assert_array_equal(out, restore(model, levels, dtype="float32"))
    with pytest.raises(ValueError, match="a 16-bit colour image, which Pillow reads at 8 bits"):
        restore(model, Image.open(tmp_path / "raw.ppm"))
    (tmp_path / "cut.ppm").write_bytes((tmp_path / "raw.ppm").read_bytes()[:-51])
    with pytest.raises(ValueError, match=r"cut.ppm: not a readable image \(image file is truncated \(79 of 105"):
        read_image(tmp_path / "cut.ppm")


def test_an_8bit_ppm_reads_as_its_png_twin(model, tmp_path):
    """A binary PPM of maxval 255 (the common kind, which Pillow gives its raw decoder: no maxval in its tile) is an
    8-bit image, by path and opened with Pillow; reading its maxval from that tile failed on every one."""
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rgb.ppm")
    np.testing.assert_array_equal(np.asarray(read_image(tmp_path / "rgb.ppm").pixels), pixels)
    out = restore(model, Image.open(tmp_path / "rgb.ppm"), dtype="float32")
    np.testing.assert_array_equal(np.asarray(out), np.asarray(restore(model, Image.fromarray(pixels), dtype="float32")))


def test_a_plain_deep_ppm_skips_comments_among_its_levels(tmp_path):
    """A plain (P3) PPM may hold "#" comments among its levels, which Pillow skips in an 8-bit one: a 12-bit one
    reads as its copy without them (the comment's words were taken for levels: a ValueError)."""
    levels = np.random.default_rng(0).integers(0, 4096, (3, 2, 3), dtype=np.uint16).ravel().tolist()
    head, tail = " ".join(map(str, levels[:7])), " ".join(map(str, levels[7:]))
    (tmp_path / "bare.ppm").write_text(f"P3\n2 3\n4095\n{head}\n{tail}\n")
    (tmp_path / "commented.ppm").write_text(f"P3\n2 3\n4095\n{head}# row 2 of 3\n# by hand\n{tail}\n")
    bare = read_image(tmp_path / "bare.ppm").pixels
    assert bare.dtype == np.uint16
    np.testing.assert_array_equal(read_image(tmp_path / "commented.ppm").pixels, bare)


@pytest.mark.parametrize("planar", [False, True])
def test_a_16bit_min_is_white_grey_alpha_tiff_is_not_a_negative(tmp_path, planar):
    """A 16-bit grey + alpha TIFF, which tifffile reads (Pillow cannot open it), stored MinIsWhite (0 is white)
    reads as its MinIsBlack copy, as a 16-bit grey one does: grey inverted, alpha as stored."""
    import tifffile

    grey = np.random.default_rng(0).integers(0, 65536, (6, 5), dtype=np.uint16)
    alpha = np.random.default_rng(1).integers(0, 65536, (6, 5), dtype=np.uint16)
    layout = dict(planarconfig="separate") if planar else {}
    for name, photometric, level in (("black", "minisblack", grey), ("white", "miniswhite", 65535 - grey)):
        stored = np.stack([level, alpha], 0 if planar else -1)
        tifffile.imwrite(tmp_path / f"{name}.tif", stored, photometric=photometric, extrasamples=[2], **layout)
    expected = np.stack([grey, alpha], -1)
    for name in ("black", "white"):
        np.testing.assert_array_equal(read_image(tmp_path / f"{name}.tif").pixels, expected, err_msg=name)


def test_short_precision_names_are_the_dtypes_they_name(model):
    """`train.mixed_precision: bf16` (accelerate's fp16 / bf16) and Real-ESRGAN's `--fp32` are how users know the
    precisions: `restore(..., dtype="bf16")` was refused ("dtype must be 'auto', 'float32', ...")."""
    image = _rgb()
    assert np.array_equal(restore(model, image, dtype="bf16"), restore(model, image, dtype="bfloat16"))
    assert SwinIRRestorer(model, dtype="fp32").dtype == "float32"
    assert EngineOptions(dtype="bf16") == EngineOptions(dtype="bfloat16")
    with pytest.raises(ValueError, match=r"^dtype must be 'auto', 'float32', 'bfloat16' or 'float16', got 'bf32'$"):
        SwinIRRestorer(model, dtype="bf32")


def test_the_engines_batch_of_tiles_is_tiles_per_pass_and_batch_size_still_works(model, monkeypatch):
    """`batch_size` counts images at every other door (`--batch-size`, `restore_dataset`, the pipeline) but counted
    tiles here: `SwinIRRestorer(model, batch_size=8).restore_images(...)` read as 8 images a pass. The old name still
    works, with a FutureWarning."""
    import swinir_hf.inference.restoration as engine

    passes = []
    tiled = engine.tiling.tiled_apply
    monkeypatch.setattr(engine.tiling, "tiled_apply", lambda *a: passes.append(a[5]) or tiled(*a))
    image = _rgb()
    ours = restore(model, image, tile=8, tile_overlap=2, tiles_per_pass=3)
    assert passes == [3] and SwinIRRestorer(model, tiles_per_pass=3).tiles_per_pass == 3
    assert "tiles_per_pass=3" in repr(SwinIRRestorer(model, tiles_per_pass=3))
    assert EngineOptions(tiles_per_pass=3).restorer(model).tiles_per_pass == 3
    said = r"^batch_size \(tiles per forward pass\) is now tiles_per_pass: a batch size counts images elsewhere"
    with pytest.warns(FutureWarning, match=said):
        assert np.array_equal(restore(model, image, tile=8, tile_overlap=2, batch_size=3), ours)
    with pytest.warns(FutureWarning, match=said):
        assert EngineOptions(batch_size=3) == EngineOptions(tiles_per_pass=3)
    with pytest.warns(FutureWarning, match=said):
        assert SwinIRRestorer(model, batch_size=2).tiles_per_pass == 2
    with pytest.raises(TypeError, match="^give tiles_per_pass alone: batch_size is its earlier name$"):
        SwinIRRestorer(model, tiles_per_pass=2, batch_size=2)
    with warnings.catch_warnings():  # replaced (benchmarks, the demo's ZeroGPU): none, nor a refusal
        warnings.simplefilter("error")
        assert dataclasses.replace(EngineOptions(tiles_per_pass=3), tile=64) == EngineOptions(64, tiles_per_pass=3)


def test_batch_sizes_warning_names_the_line_that_gave_it(model):
    """`SwinIRRestorer(model, batch_size=2)`'s FutureWarning named the caller's caller (at a script's top level,
    "sys:1"): its stacklevel counted the frames of `restore()` and of `EngineOptions`' __init__, which it has not."""
    for make in (
        lambda: SwinIRRestorer(model, batch_size=2),
        lambda: restore(model, _rgb(), batch_size=2),
        lambda: EngineOptions(batch_size=2),
    ):
        with pytest.warns(FutureWarning, match="^batch_size .* is now tiles_per_pass") as said:
            make()
        assert [(w.filename, w.lineno) for w in said] == [(__file__, make.__code__.co_firstlineno)]

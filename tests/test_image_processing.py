"""Image processor conversions, Auto classes and the image-restoration pipeline."""

from __future__ import annotations

import copy
import json
import logging
import re
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    AutoModelForImageToImage,
    pipeline,
)

from swinir_hf import (
    ImageRestorationPipeline,
    SwinIRConfig,
    SwinIRForImageRestoration,
    SwinIRImageProcessor,
    restore,
)
from swinir_hf.loading import DEFAULTS_DIR, load_default
from swinir_hf.models.alpha_swinir import fill_hidden_colour
from swinir_hf.models.pil_images_swinir import pillow_warnings
from swinir_hf.models.pixels_swinir import from_reconstruction, split_image, to_pixel_values


@pytest.fixture(scope="module")
def model_dir(tiny_config, tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    SwinIRForImageRestoration(tiny_config(upscale=3)).save_pretrained(path)
    SwinIRImageProcessor(num_channels=3).save_pretrained(path)
    return path


def _rgb(h=9, w=7, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.fromarray(_rgb()), _rgb() / 255.0),
        (Image.fromarray(_rgb()).convert("RGBA"), _rgb() / 255.0),
        (_rgb().astype(np.uint16) * 257, _rgb() / 255.0),
        (torch.from_numpy(_rgb() / 255.0).permute(2, 0, 1).float(), _rgb() / 255.0),
        (Image.fromarray(_rgb()[..., 0]), np.repeat(_rgb()[..., :1], 3, axis=2) / 255.0),
        (Image.fromarray(_rgb()[..., 0].astype(np.uint16) * 257), np.repeat(_rgb()[..., :1], 3, axis=2) / 255.0),
    ],
)
def test_inputs_become_rgb_pixel_values(image, expected):
    pixel_values = SwinIRImageProcessor(num_channels=3)(image, return_tensors="pt")["pixel_values"]
    assert pixel_values.shape == (1, 3, 9, 7) and pixel_values.dtype == torch.float32
    np.testing.assert_allclose(pixel_values[0].permute(1, 2, 0).numpy(), expected, atol=1e-6)


def test_rgb_into_a_grey_model_uses_bt601_luma():
    rgb = _rgb()
    pixel_values = SwinIRImageProcessor(num_channels=1)(Image.fromarray(rgb))["pixel_values"]
    luma = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255.0
    np.testing.assert_allclose(pixel_values[0, 0].numpy(), luma, atol=1e-5)


def test_palette_image_is_expanded():
    image = Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pixel_values = SwinIRImageProcessor()(image)["pixel_values"]
    expected = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    np.testing.assert_allclose(pixel_values[0].permute(1, 2, 0).numpy(), expected, atol=1e-6)


def test_bad_inputs():
    processor = SwinIRImageProcessor()
    with pytest.raises(ValueError, match="share one size"):
        processor([_rgb(9, 7), _rgb(8, 7)])
    with pytest.raises(ValueError, match="unsupported array dtype int64"):
        processor(np.zeros((4, 4, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"got shape \(6, 4, 5\)"):  # neither end holds 1-4 channels
        processor(np.zeros((6, 4, 5), dtype=np.uint8))
    with pytest.raises(ValueError, match="a tensor on the meta device holds no pixels"):
        processor(torch.empty(3, 4, 4, device="meta"))
    # Said to be of a wrong shape ("must be (H, W) or (H, W, C) with C in 1..4, got shape (0, 5, 3)") before.
    for empty in (np.zeros((0, 5, 3), np.uint8), np.zeros((4, 0), np.uint8), Image.new("RGB", (0, 0))):
        with pytest.raises(ValueError, match=r"^the image is empty \((5×0|0×4|0×0) pixels\): there is nothing to"):
            processor(empty)


def test_channels_first_or_last_as_transformers_image_processors_read_them(caplog):
    """Arrays and tensors are read channels-first or -last from their shape, as `input_data_format` says when
    given (also as transformers' `ChannelDimension`); a shape where either end could hold the channels is read in
    the container's convention (tensors channels-first, arrays channels-last) with a warning naming the option."""
    from transformers.image_utils import ChannelDimension

    processor = SwinIRImageProcessor()
    hwc = np.random.default_rng(0).random((9, 7, 3), dtype=np.float32)
    chw = np.ascontiguousarray(hwc.transpose(2, 0, 1))
    expected = processor(hwc)["pixel_values"]
    assert expected.shape == (1, 3, 9, 7)
    for image in (chw, np.stack([chw, chw]), torch.from_numpy(hwc)):
        assert torch.equal(processor(image)["pixel_values"][:1], expected)
    assert torch.equal(processor(chw, input_data_format=ChannelDimension.FIRST)["pixel_values"], expected)
    assert not caplog.records
    narrow = np.random.default_rng(1).random((3, 16, 4), dtype=np.float32)  # (C, H, W) with W = 4, or RGBA (H, W, C)
    as_tensor = processor(torch.from_numpy(narrow))["pixel_values"]
    assert torch.equal(as_tensor[0], torch.from_numpy(narrow))
    assert "pass input_data_format to say which" in caplog.text
    caplog.clear()
    as_array = processor(narrow)["pixel_values"]  # RGBA rows: alpha dropped
    assert torch.equal(as_array[0], torch.from_numpy(narrow[..., :3]).permute(2, 0, 1))
    assert "read as channels_last" in caplog.text
    caplog.clear()
    given = SwinIRImageProcessor()(torch.from_numpy(narrow), input_data_format="channels_last")["pixel_values"]
    assert torch.equal(given, as_array) and [r.message.split(" (")[0] for r in caplog.records] == [
        "SwinIRImageProcessor drops alpha channels"  # RGBA, as said: the only warning
    ]


def test_the_processor_says_what_pixel_values_cannot_carry(caplog):
    """The processor route (processor → model → post-processing) dropped an alpha channel, or a grey model's
    colour, without a word, where the pipeline keeps both; each is now a warning pointing there."""
    rgb = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    rgba, grey = Image.fromarray(np.dstack([rgb, rgb[..., 0]])), Image.fromarray(rgb[..., 0])
    alpha = "SwinIRImageProcessor drops alpha channels (the model restores colour only): the image-restoration "
    luma = "SwinIRImageProcessor reduces colour images to grey (BT.601 luma) for this 1-channel model: the "
    for images, channels, said in [
        ([Image.fromarray(rgb), grey], 3, []),
        ([grey], 1, []),
        ([rgba], 3, [alpha]),
        ([grey, Image.fromarray(rgb)], 1, [luma]),
        ([rgba], 1, [alpha, luma]),
    ]:
        caplog.clear()
        assert SwinIRImageProcessor(num_channels=channels)(images)["pixel_values"].shape[1] == channels
        assert [r.message[: len(m)] for r, m in zip(caplog.records, said, strict=True)] == said, images
    # Once per processor: a dataset's transform calls it for every batch (a line per batch, for the whole run).
    processor = SwinIRImageProcessor()
    caplog.clear()
    for batch in ([rgba], [rgba, rgba], [np.asarray(rgb) / 255 * 1.5], [np.asarray(rgb) / 255 * 2]):
        processor(batch)
    assert [r.message[:30] for r in caplog.records] == [alpha[:30], "the image: its values span [0,"]
    caplog.clear()
    SwinIRImageProcessor()([rgba])
    assert [r.message[: len(alpha)] for r in caplog.records] == [alpha]


def test_a_model_of_other_channel_counts_takes_no_image(tiny_config, tmp_path):
    """A 4-channel model (a config takes any count: its tensors train) had an RGBA image's alpha dropped and then
    "cannot map a 3-channel image", and a grey image copied into its 4 channels; the processor took 2 channels."""
    from swinir_hf import SwinIRForImageRestoration, restore

    said = (
        r"^a 4-channel model takes no image: images map to 1 \(grey\) or 3 \(RGB\) channels, an alpha channel aside; "
    )
    model = SwinIRForImageRestoration(tiny_config(num_channels=4)).eval()
    assert model(torch.rand(1, 4, 8, 8)).reconstruction.shape == (1, 4, 16, 16)
    for image in (Image.new("RGBA", (10, 8)), Image.new("L", (10, 8))):
        with pytest.raises(ValueError, match=said + r"pass its \(N, 4, H, W\) tensors to the model itself$"):
            restore(model, image)
    for channels in (2, 4):  # made (and saved with such a model's folder), but it takes no image
        with pytest.raises(ValueError, match=f"^a {channels}-channel model takes no image"):
            SwinIRImageProcessor(num_channels=channels)(Image.new("RGB", (4, 4)))
    from swinir_hf.checkpoints.folders import save_model_folder

    save_model_folder(tmp_path / "four", model)  # the package's save, with its processor
    assert AutoImageProcessor.from_pretrained(tmp_path / "four").num_channels == 4
    assert SwinIRForImageRestoration.from_pretrained(tmp_path / "four").config.num_channels == 4


def test_per_call_options_of_transformers_image_processors():
    """`device`, `data_format="channels_first"` and the options that change nothing here (`do_convert_rgb`,
    `disable_grouping`) are taken per call; what cannot be honoured says why."""
    processor = SwinIRImageProcessor()
    plain = processor(_rgb())["pixel_values"]
    same = processor(_rgb(), device="cpu", data_format="channels_first", do_convert_rgb=True, disable_grouping=True)
    assert torch.equal(same["pixel_values"], plain)
    with pytest.raises(ValueError, match=r"^pixel_values are \(N, C, H, W\), as the model takes them"):
        processor(_rgb(), data_format="channels_last")
    with pytest.raises(ValueError, match="^input_data_format must be one of 'channels_first', 'channels_last' or None"):
        processor(_rgb(), input_data_format="hwc")
    with pytest.raises(ValueError, match="pass return_tensors='pt' with it"):
        processor(_rgb(), device="cpu", return_tensors="np")
    with pytest.raises(TypeError, match=r"takes input_data_format per call, not as a setting: pass it to processor"):
        SwinIRImageProcessor(input_data_format="channels_first")


def test_big_endian_and_bfloat16_pixels_are_read_by_value():
    """A big-endian uint16 / float array (FITS, raw dumps) and a bfloat16 tensor give the pixel values of their
    native-order / float32 twins."""
    processor = SwinIRImageProcessor()
    rng = np.random.default_rng(0)
    deep = rng.integers(0, 65536, (2, 6, 5, 3), dtype=np.uint16)
    floats = rng.random((6, 5, 3), dtype=np.float32)
    half = torch.rand(2, 3, 6, 5).bfloat16()
    for odd, native in ((deep.astype(">u2"), deep), (floats.astype(">f4"), floats), (half, half.float())):
        got, expected = processor(odd)["pixel_values"], processor(native)["pixel_values"]
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_batches_options_of_other_processors_and_tuple_outputs(model_dir):
    """A batched tensor / array is N images; an option this processor does not apply (resizing, normalising) is
    an error, not ignored; the `return_dict=False` tuple post-processes as the output dataclass does."""
    processor = SwinIRImageProcessor()
    frames = np.stack([_rgb(seed=i) for i in range(3)])  # (N, H, W, C)
    one_by_one = processor(list(frames))["pixel_values"]
    assert torch.equal(processor(frames)["pixel_values"], one_by_one)
    assert torch.equal(processor(torch.from_numpy(frames / 255.0).permute(0, 3, 1, 2))["pixel_values"], one_by_one)
    for option in ({"do_resize": True}, {"size": {"height": 64, "width": 64}}, {"do_normalize": True}):
        with pytest.raises(TypeError, match=f"takes no {next(iter(option))}: it neither resizes"):
            processor(frames, **option)
    assert processor(frames, do_resize=False, size=None)["pixel_values"].shape == (3, 3, 9, 7)
    model = SwinIRForImageRestoration.from_pretrained(model_dir).eval()
    with torch.no_grad():
        as_dataclass = processor.post_process_image_restoration(model(one_by_one))
        as_tuple = processor.post_process_image_restoration(model(one_by_one, return_dict=False))
    assert [np.asarray(a).tolist() for a in as_dataclass] == [np.asarray(b).tolist() for b in as_tuple]


def test_do_rescale_false_takes_pixel_values_as_they_are(tmp_path):
    """transformers' `do_rescale=False` (at construction, after a save / load, or per call) means the pixels are
    already in [0, 1]: floats pass unchanged, and integer pixels, which it would hand over as 0..255, are refused."""
    floats = np.random.default_rng(0).random((5, 4, 3)).astype(np.float32)
    SwinIRImageProcessor(do_rescale=False).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert saved["do_rescale"] is False and "rescale_factor" not in saved and "do_normalize" not in saved
    loaded = AutoImageProcessor.from_pretrained(tmp_path)
    assert loaded.do_rescale is False
    for processor, options in ((loaded, {}), (SwinIRImageProcessor(), {"do_rescale": False})):
        pixel_values = processor(floats, **options)["pixel_values"]
        np.testing.assert_array_equal(pixel_values[0].permute(1, 2, 0).numpy(), floats)
        with pytest.raises(ValueError) as err:
            processor(_rgb(), **options)
        assert str(err.value) == (
            "do_rescale=False takes pixel values as they are, floats in [0, 1]; got uint8 pixels: leave do_rescale "
            "on (the default) to scale them by their range, or divide them yourself"
        )
        with pytest.raises(ValueError, match="got PIL mode RGB pixels"):
            processor(Image.fromarray(_rgb()), **options)
    rescaling = SwinIRImageProcessor()
    assert rescaling.do_rescale is True
    np.testing.assert_allclose(rescaling(_rgb())["pixel_values"][0].permute(1, 2, 0).numpy(), _rgb() / 255.0, atol=1e-7)


def test_options_it_cannot_honour_are_refused_when_set(tmp_path):
    """`do_normalize=False` and the 1/255 `rescale_factor` of earlier saves are what the processor does, so they
    are accepted and not saved; normalising, resizing or another factor is refused at construction, as per call."""
    processor = SwinIRImageProcessor(do_normalize=False, rescale_factor=1 / 255)
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    assert saved == {"do_rescale": True, "image_processor_type": "SwinIRImageProcessor", "num_channels": 3}
    with pytest.raises(TypeError, match="takes no do_normalize: it neither resizes, crops nor normalises"):
        SwinIRImageProcessor(do_normalize=True)
    with pytest.raises(TypeError, match="takes no do_resize"):
        SwinIRImageProcessor(do_resize=True)
    message = (
        "SwinIRImageProcessor takes no rescale_factor other than 1/255: it scales integer pixels by their range "
        "(uint8 by 1/255, 16-bit by 1/65535) and takes floats as [0, 1]; divide other data yourself and pass "
        "do_rescale=False"
    )
    for make in (lambda: SwinIRImageProcessor(rescale_factor=1 / 65535), lambda: processor(_rgb(), rescale_factor=0.5)):
        with pytest.raises(TypeError) as err:
            make()
        assert str(err.value) == message
    assert torch.equal(processor(_rgb(), rescale_factor=1 / 255)["pixel_values"], processor(_rgb())["pixel_values"])


def test_post_processing_rounds_clamps_and_keeps_bit_depth():
    recon = torch.tensor([[[[-0.2, 0.5], [0.50196, 1.7]]]])
    processor = SwinIRImageProcessor(num_channels=1)
    (image,) = processor.post_process_image_restoration(recon)
    assert image.mode == "L" and np.asarray(image).tolist() == [[0, 128], [128, 255]]
    (deep,) = processor.post_process_image_restoration(recon, output_type="np", bit_depth=16)
    assert deep.dtype == np.uint16 and deep.tolist() == [[0, 32768], [32896, 65535]]


def test_post_processing_gives_tensors_of_the_np_levels_in_0_1():
    """`post_process_image_restoration(out, output_type="pt")`, which transformers' processors and diffusers'
    pipelines take, was refused ('pil' or 'np' only): it gives (C, H, W) float32 tensors in [0, 1], as
    `pixel_values` are, of exactly the levels "np" gives at the same `bit_depth`."""
    torch.manual_seed(0)
    processor = SwinIRImageProcessor()
    for recon in (torch.rand(2, 3, 5, 7) * 1.4 - 0.2, torch.rand(1, 1, 4, 6).half()):  # colour past [0, 1]; grey
        for bits in (8, 16):
            tensors = processor.post_process_image_restoration(recon, output_type="pt", bit_depth=bits)
            arrays = processor.post_process_image_restoration(recon, output_type="np", bit_depth=bits)
            assert len(tensors) == len(recon)
            for tensor, levels in zip(tensors, arrays, strict=True):
                assert tensor.dtype == torch.float32 and tensor.shape == recon.shape[1:] and tensor.device.type == "cpu"
                channels_first = torch.from_numpy(levels.astype(np.float32)).reshape(*levels.shape[:2], -1)
                assert torch.equal(tensor, channels_first.permute(2, 0, 1) / (2**bits - 1))
                assert np.array_equal(tensor.mul(2**bits - 1).round().permute(1, 2, 0).squeeze(-1).numpy(), levels)
                assert 0.0 <= tensor.min() and tensor.max() <= 1.0
    (one,) = processor.post_process_image_restoration(torch.tensor([[[[-0.2, 0.5], [0.50196, 1.7]]]]), "pt")
    assert torch.equal(one, torch.tensor([[[0.0, 128.0], [128.0, 255.0]]]) / 255)
    with pytest.raises(ValueError) as err:
        processor.post_process_image_restoration(recon, output_type="latent")
    assert str(err.value) == "output_type must be 'pil', 'np' or 'pt', got 'latent'"


def test_auto_classes_resolve_swinir(model_dir):
    assert isinstance(AutoConfig.from_pretrained(model_dir), SwinIRConfig)
    assert isinstance(AutoModel.from_pretrained(model_dir), SwinIRForImageRestoration)
    assert isinstance(AutoModelForImageToImage.from_pretrained(model_dir), SwinIRForImageRestoration)
    assert isinstance(AutoImageProcessor.from_pretrained(model_dir), SwinIRImageProcessor)


def test_image_processor_is_the_pil_backend_of_transformers_5(model_dir):
    processor = AutoImageProcessor.from_pretrained(model_dir)
    assert isinstance(processor, SwinIRImageProcessor) and processor.backend == "pil"


def test_num_channels_is_a_declared_processor_option(tmp_path, caplog):
    """`num_channels` overrides at `from_pretrained` without transformers' "applied for backward compatibility"
    warning, and per call."""
    from transformers.utils import logging as hf_logging

    SwinIRImageProcessor(num_channels=3).save_pretrained(tmp_path)
    hf_logging.enable_propagation()
    try:
        processor = AutoImageProcessor.from_pretrained(tmp_path, num_channels=1)
    finally:
        hf_logging.disable_propagation()
    assert processor.num_channels == 1 and "backward compatibility" not in caplog.text
    image = Image.fromarray(_rgb())
    assert processor(image)["pixel_values"].shape == (1, 1, 9, 7)
    assert processor(image, num_channels=3)["pixel_values"].shape == (1, 3, 9, 7)


def test_a_saved_processor_with_a_nonsense_channel_count_is_refused(tmp_path):
    """A preprocessor_config.json holding `"num_channels": "x"` (or 0) loaded, to say later that "a x-channel model
    takes no image"."""
    SwinIRImageProcessor(num_channels=3).save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "preprocessor_config.json").read_text())
    for value in ("x", 0, True, 2.5):
        (tmp_path / "preprocessor_config.json").write_text(json.dumps(saved | {"num_channels": value}))
        with pytest.raises(ValueError, match=rf"^num_channels must be a positive integer, got {value!r}$"):
            AutoImageProcessor.from_pretrained(tmp_path)
    assert SwinIRImageProcessor(num_channels=np.int64(1)).num_channels == 1
    assert SwinIRImageProcessor(num_channels=3.0).num_channels == 3  # as before the check


def _kinds() -> dict[str, Image.Image]:
    rgb = _rgb(13, 10, seed=3)
    alpha = np.random.default_rng(4).integers(0, 256, (13, 10), dtype=np.uint8)
    return {
        "RGB": Image.fromarray(rgb),
        "L": Image.fromarray(rgb[..., 1]),
        "I;16": Image.fromarray(rgb[..., 2].astype(np.uint16) * 251),
        "RGBA": Image.fromarray(np.dstack([rgb, alpha])),
    }


def test_float_to_image_rounds_by_blocks_as_one_clip_and_round():
    """Rows are converted by blocks: the result is a plain clip, scale and round of every value, whatever the layout
    (a transposed view as the model output's), and an image of no rows gives an empty one, not an IndexError."""
    from swinir_hf.models.pixels_swinir import float_to_image

    arr = np.random.default_rng(0).normal(0.5, 0.6, (3, 700, 800)).astype(np.float32).transpose(1, 2, 0)
    for bits, peak, dtype in ((8, 255.0, np.uint8), (16, 65535.0, np.uint16)):
        expected = np.rint(np.clip(arr, 0.0, 1.0) * np.float32(peak)).astype(dtype)
        out = float_to_image(arr, bit_depth=bits, output_type="np")
        assert out.flags.c_contiguous and np.array_equal(out, expected)
        assert float_to_image(np.zeros((0, 5, 3), np.float32), bits, "np").shape == (0, 5, 3)


@pytest.mark.parametrize("kind", ["RGB", "L", "I;16", "RGBA"])
def test_pipeline_on_the_bundled_float16_model_gives_restores_pixels(kind):
    """`pipeline("image-restoration")` on a bundled folder (float16 weights) runs on the CPU and gives exactly
    `restore()`'s pixels, keeping mode, bit depth and alpha."""
    restorer = pipeline("image-restoration", model=str(DEFAULTS_DIR / "sr-x4"))
    assert isinstance(restorer, ImageRestorationPipeline)
    image = _kinds()[kind]
    out = restorer(image)
    expected = restore(load_default("sr-x4"), image, dtype="float32")
    assert out.mode == expected.mode == kind and out.size == (40, 52)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))
    if kind == "I;16":  # 16 bits really kept, not squeezed into 8 (a near-white image)
        assert np.asarray(out).max() > 255 and np.asarray(out).mean() < 50000


def test_pipeline_without_a_model_uses_the_bundled_x4_model():
    """`pipeline("image-restoration")` alone, as `swinir-hf restore` without --model: sr-x4, offline, float32."""
    restorer = pipeline("image-restoration")
    assert isinstance(restorer, ImageRestorationPipeline) and restorer.model.config.upscale == 4
    assert {p.dtype for p in restorer.model.parameters()} == {torch.float32}
    image = Image.fromarray(_rgb(9, 7))
    expected = restore(load_default("sr-x4"), image, dtype="float32")
    np.testing.assert_array_equal(np.asarray(restorer(image)), np.asarray(expected))


def test_pipeline_takes_a_batch_of_different_sizes(model_dir):
    restorer = pipeline("image-restoration", model=str(model_dir))
    images = [Image.fromarray(_rgb(9, 7)), Image.fromarray(_rgb(5, 12, seed=1)), _rgb(6, 6, seed=2)]
    outs = restorer(images, batch_size=1)
    assert [o.size for o in outs[:2]] == [(21, 27), (36, 15)] and outs[2].shape == (18, 18, 3)
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    for out, image in zip(outs, images, strict=True):
        np.testing.assert_array_equal(np.asarray(out), np.asarray(restore(model, image, dtype="float32")))


def test_pipeline_takes_a_tuple_or_a_datasets_column_as_it_takes_a_list(model_dir):
    """transformers batches only lists: a tuple, or a `datasets` column (`ds["image"]`, a lazy Sequence in
    datasets ≥ 4), would reach the image reader whole ("expected a PIL image or numpy array, got tuple"). An
    iterator (`iter(images)`, `map(...)`) streams through as a generator does."""
    import datasets

    restorer = pipeline("image-restoration", model=str(model_dir))
    images = [Image.fromarray(_rgb(9, 7)), Image.fromarray(_rgb(5, 12, seed=1)), Image.fromarray(_rgb(6, 6, seed=2))]
    expected = [np.asarray(out) for out in restorer(images)]
    column = datasets.Dataset.from_dict({"image": images}).cast_column("image", datasets.Image())["image"]
    for batch_size in (1, 2):
        for given in (tuple(images), column, iter(images), map(np.asarray, images)):
            outs = list(restorer(given, batch_size=batch_size))
            assert len(outs) == 3
            for out, want in zip(outs, expected, strict=True):
                np.testing.assert_array_equal(np.asarray(out), want)


def test_pipeline_without_images_says_so(model_dir):
    """An empty list is the image processor's one-line error, not an IndexError from inside transformers; no
    images, or images given twice, a TypeError that says so."""
    restorer = pipeline("image-restoration", model=str(model_dir))
    for empty in ([], ()):
        with pytest.raises(ValueError, match="^no images given$"):
            restorer(empty, batch_size=2)
    with pytest.raises(TypeError, match="^no images given: call the pipeline with an image"):
        restorer()
    image = Image.fromarray(_rgb())
    with pytest.raises(TypeError, match="^pass the images once"):
        restorer(image, images=image)
    # The keyword transformers' own image pipelines take.
    assert np.array_equal(np.asarray(restorer(images=image)), np.asarray(restorer(image)))
    with pytest.raises(ValueError, match="^no images given$"):
        SwinIRImageProcessor()([])


def test_pipeline_reads_paths_as_stored(model_dir, tmp_path):
    """A file path is restored as the file holds it: alpha and 16 bits kept, as for the opened image (transformers'
    `load_image` would make 8-bit RGB of it)."""
    restorer = pipeline("image-restoration", model=str(model_dir))
    kinds = _kinds()
    paths = []
    for kind in ("RGBA", "I;16"):
        paths.append(tmp_path / f"{kind.replace(';', '')}.png")
        kinds[kind].save(paths[-1])
    outs = restorer([str(p) for p in paths])
    for out, kind in zip(outs, ("RGBA", "I;16"), strict=True):
        assert out.mode == kind and out.size == (30, 39)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(restorer(kinds[kind])))
    # A pathlib.Path as a string (swinir_hf.restore takes one; the pipeline said it wanted a PIL image or an array).
    np.testing.assert_array_equal(np.asarray(restorer(paths[0])), np.asarray(outs[0]))
    # A misspelt path is said to be one (transformers' load_image took it for base64: "Incorrect padding").
    with pytest.raises(FileNotFoundError, match=f"^no such image file: {tmp_path / 'RGBA.pgn'}$"):
        restorer(str(tmp_path / "RGBA.pgn"))


def test_pipeline_fetches_urls_and_names_the_one_that_fails(model_dir, tmp_path, free_port):
    """An http(s) URL is fetched (redirects followed) and read as stored, as a path is; one that fails is an OSError
    naming it (the HTTP client's own errors, not OSErrors, named no URL: in a batch, which one?)."""
    import http.server
    import threading

    kinds = _kinds()
    kinds["I;16"].save(tmp_path / "grey16.png")
    body, page = (tmp_path / "grey16.png").read_bytes(), b"<html>a login page</html>"

    class Server(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/slow.png":
                time.sleep(2)
            if self.path == "/moved.png":
                self.send_response(302)
                self.send_header("Location", "/grey16.png")
            else:
                self.send_response(200 if self.path in ("/grey16.png", "/slow.png", "/page.png") else 404)
                self.send_header("Content-Length", str(len(page if self.path == "/page.png" else body)))
            self.end_headers()
            self.wfile.write(page if self.path == "/page.png" else body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Server)
    # The slow answer's write meets the socket the client closed at its timeout, 2 s later, in a later test: its
    # BrokenPipeError report (socketserver prints it) would land in that test's output.
    server.handle_error = lambda request, client_address: None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    refused = f"http://127.0.0.1:{free_port()}/x.png"  # a port nothing listens on
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        restorer = pipeline("image-restoration", model=str(model_dir))
        expected = np.asarray(restorer(kinds["I;16"]))
        for out in restorer([f"{url}/grey16.png", f"{url}/moved.png"]):
            assert out.mode == "I;16"
            np.testing.assert_array_equal(np.asarray(out), expected)
        with pytest.raises(OSError, match=f"^cannot fetch {url}/gone.png: the server answered 404 Not Found$"):
            restorer([f"{url}/grey16.png", f"{url}/gone.png"])
        with pytest.raises(OSError, match=f"^cannot fetch {url}/slow.png: no answer within timeout=0.2 s$"):
            restorer(f"{url}/slow.png", timeout=0.2)
        with pytest.raises(OSError, match=f"^cannot fetch {re.escape(refused)}: .*refused"):
            restorer(refused)
        with pytest.raises(OSError, match=f"^{url}/page.png: not an image Pillow can read \\(it answered b'<html>"):
            restorer(f"{url}/page.png")  # (it named "<_io.BytesIO object at 0x...>")
    finally:
        server.shutdown()
        server.server_close()


def test_pipeline_closes_the_files_it_opens(model_dir, tmp_path, unclosed_files):
    """Pillow keeps a GIF's file open until the image is closed: every call on a GIF path left a handle to the
    garbage collector (a ResourceWarning each time in a server's log)."""
    restorer = pipeline("image-restoration", model=str(model_dir))
    path = tmp_path / "photo.gif"
    _kinds()["RGB"].save(path)
    with unclosed_files() as unclosed:
        out = restorer(str(path))
    assert out.size == (30, 39) and unclosed == []


def test_pipeline_closes_a_file_it_refuses(model_dir, tmp_path, unclosed_files):
    """A 16-bit colour PNG is refused as soon as it is opened, before the pipeline's `with` holds it: its file was
    left to the garbage collector (a ResourceWarning)."""
    from swinir_hf.inference.image_writing import write_image

    restorer = pipeline("image-restoration", model=str(model_dir))
    path = tmp_path / "c16.png"
    write_image(path, np.full((9, 7, 3), 40000, dtype=np.uint16))
    with unclosed_files() as unclosed, pytest.raises(ValueError, match="a 16-bit colour image"):
        restorer(str(path))
    assert unclosed == []


def test_pipeline_reads_heic_photos_with_pillow_heif(model_dir, tmp_path, monkeypatch):
    """A phone's HEIC file is restored as Pillow gives it through pillow-heif (the [heif] extra, or `pip install
    pillow-heif` beside a Hub folder), registered on first need; without pillow-heif, one line says what to install."""
    import pillow_heif  # the [test] extra installs it

    # Pillow's other plugins first: registered during the test, they would go into the copies below and be gone
    # with them, while Pillow, initialised, would never look for them again (TIFF unreadable in later tests).
    Image.init()
    monkeypatch.setattr(Image, "ID", [plugin for plugin in Image.ID if plugin != "HEIF"])  # as in a fresh process
    monkeypatch.setattr(Image, "OPEN", {k: v for k, v in Image.OPEN.items() if k != "HEIF"})

    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (13, 10, 3), dtype=np.uint8))
    heic = tmp_path / "phone.heic"
    pillow_heif.from_pillow(rgb).save(heic, quality=-1)
    restorer = pipeline("image-restoration", model=str(model_dir))
    decoded = pillow_heif.open_heif(heic).to_pillow()
    np.testing.assert_array_equal(np.asarray(restorer(str(heic))), np.asarray(restorer(decoded)))
    code = (
        "import sys; sys.modules['pillow_heif'] = None; "
        "from swinir_hf.models.image_files_swinir import open_image; open_image(sys.argv[1])"
    )
    run = subprocess.run([sys.executable, "-c", code, str(heic)], capture_output=True, text=True, timeout=300)
    assert run.stderr.strip().splitlines()[-1] == (
        f"ValueError: {heic}: a HEIC / HEIF image, which needs pillow-heif: pip install pillow-heif"
    )


@pytest.mark.parametrize("suffix", ["png", "tif"])
def test_pipeline_refuses_a_16bit_colour_file_that_pillow_would_read_at_8_bits(model_dir, tmp_path, suffix):
    """Pillow opens 16-bit colour PNG / TIFF as 8-bit RGB: the pipeline and `restore` say so instead of restoring 8
    bits of it; its uint16 pixels give `restore()`'s 16-bit result."""
    from swinir_hf.inference.image_io import read_image
    from swinir_hf.inference.image_writing import write_image

    path = tmp_path / f"c16.{suffix}"
    write_image(path, (np.random.default_rng(0).random((9, 7, 3)) * 65535).astype(np.uint16))
    restorer = pipeline("image-restoration", model=str(model_dir))
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    # The path, or the file opened with Pillow (which `restore` took at 8 bits without a word).
    for call in (
        lambda: restorer(str(path)),
        lambda: restorer(Image.open(path)),
        lambda: restore(model, Image.open(path)),
    ):
        with pytest.raises(ValueError, match=rf"^{path}: a 16-bit colour image, which Pillow reads at 8 bits: pass"):
            call()
    pixels = read_image(path).pixels
    expected = restore(SwinIRForImageRestoration.from_pretrained(model_dir), path, tile=None, dtype="float32")
    assert expected.dtype == np.uint16
    np.testing.assert_array_equal(restorer(pixels), expected)


def test_the_processor_reads_pil_images_as_restore_and_the_pipeline_do(model_dir, tmp_path):
    """The README's by-hand path (processor → model → post-processing) turned an EXIF-rotated photo opened with
    Pillow sideways (a W × H result where the pipeline and `restore` give it upright, H × W), and restored a 16-bit
    colour PNG opened with Pillow at 8 bits where they refuse it."""
    from swinir_hf.inference.image_writing import write_image

    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    Image.fromarray(_rgb(9, 7)).save(tmp_path / "rotated.png", exif=exif.tobytes())
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    processor = SwinIRImageProcessor()
    with torch.no_grad():
        out = model(**processor(Image.open(tmp_path / "rotated.png"), return_tensors="pt"))
    by_hand = processor.post_process_image_restoration(out)[0]
    expected = pipeline("image-restoration", model=str(model_dir))(Image.open(tmp_path / "rotated.png"))
    assert by_hand.size == expected.size == (27, 21)
    np.testing.assert_array_equal(np.asarray(by_hand), np.asarray(expected))
    write_image(tmp_path / "c16.png", (np.random.default_rng(0).random((9, 7, 3)) * 65535).astype(np.uint16))
    with pytest.raises(ValueError, match="a 16-bit colour image, which Pillow reads at 8 bits: pass"):
        processor(Image.open(tmp_path / "c16.png"))


def test_a_16bit_grey_colour_key_is_alpha_through_every_surface(model_dir, tmp_path):
    """A 16-bit grey PNG's colour key (tRNS) is the alpha it stands for whichever way the file comes: `restore` of
    its path (and the CLI, the demo: `read_image`) made it grey + alpha, while `restore` of it opened with Pillow and
    the pipeline (path or opened) restored the keyed pixels as grey, transparency lost, other pixels than restore's."""
    import png

    grey = (np.random.default_rng(5).random((9, 7)) * 60000 + 2000).astype(np.uint16)
    grey[2:6, 1:5] = 1000  # the key: transparent
    with open(tmp_path / "key.png", "wb") as file:
        png.Writer(7, 9, greyscale=True, bitdepth=16, transparent=1000).write(file, grey)
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    expected = restore(model, tmp_path / "key.png", tile=None, dtype="float32")
    assert expected.dtype == np.uint16 and expected.shape == (27, 21, 2)
    assert expected[9:15, 6:12, 1].max() == 0  # inside the keyed block: transparent
    restorer = pipeline("image-restoration", model=str(model_dir))
    for out in (
        restore(model, Image.open(tmp_path / "key.png"), tile=None, dtype="float32"),
        restorer(str(tmp_path / "key.png")),
        restorer(Image.open(tmp_path / "key.png")),
    ):
        np.testing.assert_array_equal(out, expected)


def test_pipeline_names_an_empty_or_cut_short_file_on_one_line(model_dir, tmp_path):
    """An empty file was Pillow's "cannot identify image file '...'", one cut short its "image file is truncated"
    (a WebP's "could not create decoder object") naming no file: now "PATH: not a readable image (why)", as
    `restore()` says it; the processor reads paths as the pipeline does."""
    from PIL import UnidentifiedImageError

    restorer = pipeline("image-restoration", model=str(model_dir))
    (tmp_path / "empty.png").touch()
    (tmp_path / "text.png").write_text("not an image")
    for name, want in (("empty.png", "empty file"), ("text.png", "cannot identify image file")):
        with pytest.raises(UnidentifiedImageError) as caught:
            restorer(str(tmp_path / name))
        assert str(caught.value) == f"{tmp_path / name}: not a readable image ({want})"
    for suffix, want in (("png", "image file is truncated"), ("jpeg", "image file is truncated ("), ("webp", "could")):
        path = tmp_path / f"cut.{suffix}"
        Image.fromarray(_rgb(40, 40)).save(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
        for read in (restorer, SwinIRImageProcessor()):
            with pytest.raises(OSError) as caught:
                read(str(path))
            assert str(caught.value).startswith(f"{path}: not a readable image ({want}"), (read, suffix)


def test_pipeline_names_the_animated_file_of_which_one_frame_is_restored(model_dir, tmp_path, caplog):
    """The warning said "the image has 2 frames" of a path, or of a PIL image opened from a file: its name now."""
    restorer = pipeline("image-restoration", model=str(model_dir))
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    with caplog.at_level(logging.WARNING, logger="swinir_hf"):
        restorer(str(tmp_path / "anim.gif"))
        with Image.open(tmp_path / "anim.gif") as opened:
            restorer(opened)
        restorer(frames[0])
    said = f"{tmp_path / 'anim.gif'} has 2 frames: only frame 1 is restored"
    assert caplog.messages == [said, said]


def test_pipeline_names_a_float_colour_tiff_pillow_cannot_read(model_dir, tmp_path):
    """Pillow does not open 32-bit float RGB TIFFs, which `restore` reads: the pipeline said only "cannot identify
    image file"; now what to do. Their float pixels, passed as an array, give `restore()`'s result."""
    import tifffile
    from PIL import UnidentifiedImageError

    path = tmp_path / "f32.tif"
    pixels = np.random.default_rng(0).random((9, 7, 3), dtype=np.float32)
    tifffile.imwrite(path, pixels, photometric="rgb")
    restorer = pipeline("image-restoration", model=str(model_dir))
    with pytest.raises(UnidentifiedImageError, match=rf"^{path}: a TIFF Pillow cannot read \(float colour, say\)"):
        restorer(str(path))
    expected = restore(SwinIRForImageRestoration.from_pretrained(model_dir), path, tile=None, dtype="float32")
    np.testing.assert_array_equal(restorer(pixels), expected)


def test_pipeline_refuses_engine_options_it_would_ignore(model_dir):
    """`ensemble=` / `dtype=` / `padding=` are the engine's: the pipeline runs in the model's precision, and used to
    drop them without a word."""
    restorer = pipeline("image-restoration", model=str(model_dir))
    message = (
        r"^the image-restoration pipeline takes no ensemble: it runs whole images or tiles \(tile=, tile_overlap=\)"
    )
    with pytest.raises(TypeError, match=message):
        restorer(_rgb(), tile=4, ensemble=True)
    with pytest.raises(TypeError, match=r"takes no padding: .* the authors' padding .*restore\(.*padding=\.\.\.\)$"):
        restorer(_rgb(), padding="authors")
    with pytest.raises(TypeError, match=r"^the image-restoration pipeline takes no ensemble: "):
        pipeline("image-restoration", model=str(model_dir), ensemble=True)
    assert restorer(_rgb(), timeout=5).shape == (27, 21, 3)
    # Any other argument is not pointed at the engine: it was told about tiles and precision.
    with pytest.raises(TypeError) as err:
        restorer(_rgb(), output_type="np")
    assert str(err.value) == (
        "the image-restoration pipeline takes no output_type: a call takes images, alpha ('model' or 'bicubic'), "
        "tile, tile_overlap, timeout and batch_size"
    )


def test_pipeline_tiles_give_restores_tiled_pixels(model_dir):
    """`tile=` (in the call or in `pipeline(...)`) and `tile_overlap=` cut and blend tiles as `restore(tile=...)`
    does, alphas and batches of images included: its pixels exactly; the pipeline used to refuse tiles."""
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    images = [_kinds()["RGBA"], Image.fromarray(_rgb(13, 11, seed=3)), Image.fromarray(_rgb(13, 11, seed=4))]
    whole = np.asarray(restore(model, images[0], tile=None, dtype="float32"))
    restorer = pipeline("image-restoration", model=str(model_dir))
    for options in ({"tile": 4}, {"tile": 6, "tile_overlap": 1}):
        expected = [np.asarray(restore(model, image, dtype="float32", **options)) for image in images]
        assert not np.array_equal(expected[0], whole)  # tiles of a random model show: the tiles did run
        for got, want in zip(restorer(images, batch_size=2, **options), expected, strict=True):
            np.testing.assert_array_equal(np.asarray(got), want, err_msg=str(options))
    at_build = pipeline("image-restoration", model=str(model_dir), tile=6, tile_overlap=1)
    np.testing.assert_array_equal(np.asarray(at_build(images[0])), expected[0])
    for whole_again in (at_build(images[0], tile=None), restorer(images[0], tile=0), restorer(images[0], tile=64)):
        np.testing.assert_array_equal(np.asarray(whole_again), whole)  # None / 0: whole; a tile covering it: one


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tile": "auto"}, r"got 'auto': tiles sized to the free memory are the swinir-hf package's"),
        ({"tile": -8}, r"^tile must be None \(or 0\) or a positive int \(input pixels a tile side, as 512\), got -8$"),
        ({"tile": 2.5}, r"^tile must be None \(or 0\) or a positive int .*, got 2\.5$"),
        ({"tile": True}, r"^tile must be None \(or 0\) or a positive int .*, got True$"),
        ({"tile": 8, "tile_overlap": -1}, r"^tile_overlap must be an int ≥ 0, got -1$"),
    ],
)
def test_pipeline_refuses_bad_tiles_saying_what_it_takes(model_dir, options, message):
    with pytest.raises(ValueError, match=message):
        pipeline("image-restoration", model=str(model_dir))(_rgb(), **options)
    with pytest.raises(ValueError, match=message):
        pipeline("image-restoration", model=str(model_dir), **options)


def test_pipeline_alpha_option_gives_restores_alpha(model_dir):
    """The alpha is upscaled by the model unless `alpha="bicubic"` (in the call or in `pipeline(...)`), as in
    `restore()`; another value is refused."""
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    image = _kinds()["RGBA"]
    for alpha, restorer in [
        ("model", pipeline("image-restoration", model=str(model_dir))),
        ("bicubic", pipeline("image-restoration", model=str(model_dir), alpha="bicubic")),
    ]:
        expected = np.asarray(restore(model, image, tile=None, dtype="float32", alpha=alpha))
        np.testing.assert_array_equal(np.asarray(restorer(image)), expected)
        other = "bicubic" if alpha == "model" else "model"
        expected = np.asarray(restore(model, image, tile=None, dtype="float32", alpha=other))
        np.testing.assert_array_equal(np.asarray(restorer(image, alpha=other)), expected)
    with pytest.raises(ValueError, match="^alpha must be 'model' or 'bicubic', got 'lanczos'$"):
        restorer(image, alpha="lanczos")


@pytest.mark.parametrize("num_channels", [3, 1])
def test_pipeline_batches_images_of_any_size_and_mode(tiny_config, tmp_path, num_channels):
    """`batch_size > 1` gives each image's own result, whatever the sizes and modes (transformers would concatenate
    the pixel_values: an error for different sizes, mixed-up outputs for colour into a greyscale model)."""
    SwinIRForImageRestoration(tiny_config(num_channels=num_channels)).save_pretrained(tmp_path)
    SwinIRImageProcessor(num_channels=num_channels).save_pretrained(tmp_path)
    restorer = pipeline("image-restoration", model=str(tmp_path))
    kinds = _kinds()
    images = [kinds["RGB"], Image.fromarray(_rgb(5, 8)[..., 0]), kinds["RGBA"], _rgb(6, 4, seed=5)]
    batched = restorer(images, batch_size=3)
    for out, image in zip(batched, images, strict=True):
        single = restorer(image)
        assert getattr(out, "mode", None) == getattr(single, "mode", None)
        np.testing.assert_array_equal(np.asarray(out), np.asarray(single))


def test_pipeline_batches_run_images_of_one_size_in_one_pass(tiny_config, tmp_path, monkeypatch):
    """`batch_size > 1` ran each image through a pass of its own, so it was no faster than one image at a time. Now
    the images of one size share one pass, and the alphas the model upscales one more; each image gets what it
    gets alone, and a batch whose pass cannot fit goes one image at a time."""
    import swinir_hf.models.pipeline_swinir as pipeline_swinir
    from swinir_hf.models.memory_swinir import ImageTooLargeError

    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path)
    restorer = pipeline("image-restoration", model=str(tmp_path))
    alpha = np.linspace(0, 255, 48).reshape(6, 8, 1).astype(np.uint8)
    images = [Image.fromarray(_rgb(6, 8, seed=i)) for i in range(3)]
    images[1:1] = [Image.fromarray(_rgb(5, 4, seed=3)), Image.fromarray(np.dstack([_rgb(6, 8, seed=4), alpha]))]
    alone = [np.asarray(restorer(image)) for image in images]
    passes, forward = [], restorer.model.forward
    monkeypatch.setattr(restorer.model, "forward", lambda x, **kw: passes.append(len(x)) or forward(x, **kw))
    batched = restorer(images, batch_size=8)
    assert passes == [4, 1, 1]  # the four 8×6 colours, the 4×5 one, the RGBA's alpha
    for one, out in zip(alone, batched, strict=True):
        np.testing.assert_array_equal(np.asarray(out), one)

    check = pipeline_swinir.check_forward_memory

    def one_image_fits(config, shape, *args):
        if shape[0] > 1:
            raise ImageTooLargeError(f"{shape[0]} images do not fit")
        check(config, shape, *args)

    monkeypatch.setattr(pipeline_swinir, "check_forward_memory", one_image_fits)
    passes.clear()
    batched = restorer(images, batch_size=8)
    assert passes == [1, 1, 1, 1, 1, 1]
    for one, out in zip(alone, batched, strict=True):
        np.testing.assert_array_equal(np.asarray(out), one)


def test_pipeline_on_a_remote_code_folder_asks_nothing(tiny_config, tmp_path, monkeypatch):
    """The package's pipeline on a Hub export (auto_map, custom_pipelines) without trust_remote_code: no
    "Do you wish to run the custom code?" prompt (transformers' video-processor lookup asked one)."""
    from swinir_hf.checkpoints.folders import save_model_folder
    from swinir_hf.checkpoints.remote_code import AUTO_MAP, CUSTOM_PIPELINES

    model = SwinIRForImageRestoration(tiny_config())
    model.config.auto_map, model.config.custom_pipelines = dict(AUTO_MAP), CUSTOM_PIPELINES
    save_model_folder(tmp_path, model, processor_auto_map={"AutoImageProcessor": AUTO_MAP["AutoImageProcessor"]})
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt="": asked.append(prompt) or "n")
    restorer = pipeline("image-restoration", model=str(tmp_path), pipeline_class=ImageRestorationPipeline)
    assert asked == [] and isinstance(restorer.model, SwinIRForImageRestoration)
    assert restorer(Image.fromarray(_rgb(5, 6))).size == (12, 10)


def test_a_saved_pipeline_reloads_as_it_was_loaded(model_dir, tmp_path):
    """A pipeline of a package folder saves a package folder (no custom_pipelines, only the model code that a plain
    `save_pretrained` writes), which reloads without trust_remote_code and restores the same pixels."""
    restorer = pipeline("image-restoration", model=str(model_dir))
    restorer.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "code_files_swinir.py",
        "config.json",
        "configuration_swinir.py",
        "constants_swinir.py",
        "hub_files_swinir.py",
        "hub_push_swinir.py",
        "loading_swinir.py",
        "memory_swinir.py",
        "model.safetensors",
        "modeling_swinir.py",
        "moved_swinir.py",
        "preprocessor_config.json",
        "presets_swinir.py",
        "runtime_swinir.py",
        "weight_files_swinir.py",
        "windows_swinir.py",
    ]
    assert "custom_pipelines" not in json.loads((tmp_path / "config.json").read_text())
    assert getattr(restorer.model.config, "custom_pipelines", None) is None
    image = Image.fromarray(_rgb(5, 6))
    reloaded = pipeline("image-restoration", model=str(tmp_path))
    np.testing.assert_array_equal(np.asarray(reloaded(image)), np.asarray(restorer(image)))


def test_pipeline_keeps_greyscale_models_the_right_way_round(tiny_config, tmp_path):
    model = SwinIRForImageRestoration(tiny_config(num_channels=1, upscale=2)).eval()
    model.save_pretrained(tmp_path)
    SwinIRImageProcessor(num_channels=1).save_pretrained(tmp_path)
    image = Image.fromarray(_rgb(11, 5)[..., 0])
    out = pipeline("image-restoration", model=str(tmp_path))(image)
    assert out.mode == "L" and out.size == (10, 22)
    with torch.no_grad():
        ref = model(SwinIRImageProcessor(num_channels=1)(image)["pixel_values"]).reconstruction
    expected = SwinIRImageProcessor().post_process_image_restoration(ref, output_type="np")[0]
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_pipeline_runs_in_the_precision_the_model_was_loaded_in(model_dir):
    image = Image.fromarray(_rgb(16, 12))
    exact = np.asarray(pipeline("image-restoration", model=str(model_dir))(image)).astype(int)
    half = pipeline("image-restoration", model=str(model_dir), dtype=torch.bfloat16)
    assert half.model.dtype == torch.bfloat16
    diff = np.abs(np.asarray(half(image)).astype(int) - exact)
    assert 0 < diff.max() <= 8  # bfloat16 really ran, and close to float32


def test_pipeline_on_a_model_without_an_image_processor(tiny_config, tmp_path):
    """A folder of `model.save_pretrained` alone, or a model object, gives a working pipeline (transformers could
    not find a preprocessor_config.json and refused), whose saved folder then has the processor of its config;
    AutoImageProcessor needs that file, which one line adds."""
    model = SwinIRForImageRestoration(tiny_config(num_channels=1)).eval()
    model.save_pretrained(tmp_path / "model")
    image = Image.fromarray(_rgb(5, 6)[..., 0])
    expected = np.asarray(restore(model, image, dtype="float32"))
    for source in (str(tmp_path / "model"), model):
        restorer = pipeline("image-restoration", model=source)
        np.testing.assert_array_equal(np.asarray(restorer(image)), expected)
    restorer.save_pretrained(tmp_path / "saved")
    assert AutoImageProcessor.from_pretrained(tmp_path / "saved").num_channels == 1
    # AutoImageProcessor reads preprocessor_config.json alone, as for every transformers model (the model's save
    # writes model files only): transformers' OSError names the file, and the line docs/transformers.md gives adds it.
    with pytest.raises(OSError, match="directory containing a preprocessor_config.json file"):
        AutoImageProcessor.from_pretrained(tmp_path / "model")
    SwinIRImageProcessor(num_channels=model.config.num_channels).save_pretrained(tmp_path / "model")
    assert AutoImageProcessor.from_pretrained(tmp_path / "model").to_dict() == restorer.image_processor.to_dict()


def test_one_colour_under_transparent_pixels_is_filled_from_the_nearest_visible_ones():
    """An exporter's black under fully transparent pixels becomes the visible neighbours' colour (so the model
    cannot blend it into the edges); colours that differ there (maybe data), or no such pixels: kept; none visible:
    kept, and remembered to be put back (the model's near-values of it came back)."""
    rng = np.random.default_rng(0)
    colour = rng.random((21, 30, 3), dtype=np.float32)
    alpha = np.ones((21, 30), np.float32)
    alpha[4:17, 6:23] = 0  # a hole, odd sizes and offsets
    alpha[0, 29] = 0.5  # partly transparent: visible
    colour[alpha == 0] = 0
    filled, hidden = fill_hidden_colour(colour, alpha)
    np.testing.assert_array_equal(hidden, [0, 0, 0])
    np.testing.assert_array_equal(filled[alpha > 0], colour[alpha > 0])
    # Each hidden pixel: the mean of the visible ones in the smallest aligned 2^k block holding any.
    for y, x in zip(*np.nonzero(alpha == 0), strict=True):
        k = next(k for k in (2, 4, 8, 16, 32) if (alpha[y // k * k :][:k, x // k * k :][:, :k] > 0).any())
        block, visible = colour[y // k * k :][:k, x // k * k :][:, :k], alpha[y // k * k :][:k, x // k * k :][:, :k] > 0
        np.testing.assert_allclose(filled[y, x], block[visible].mean(0), rtol=1e-5, err_msg=f"{y, x}")
    assert 0 <= filled.min() and filled.max() <= 1
    varied = colour.copy()
    varied[10, 10] = 0.5
    for alpha_kept in (alpha * 0 + 1, None):
        assert fill_hidden_colour(colour, alpha_kept)[1] is None
    unchanged, placeholder = fill_hidden_colour(np.full_like(colour, 0.25), alpha * 0)
    np.testing.assert_array_equal(placeholder, [0.25] * 3)
    assert (unchanged == 0.25).all()
    kept, none = fill_hidden_colour(varied, alpha)
    assert none is None and kept is varied
    # split_image fills, for PIL images and arrays alike, and its layout remembers the colour.
    rgba = np.dstack([(colour * 255).round(), alpha * 255]).astype(np.uint8)
    for image in (rgba, Image.fromarray(rgba)):
        filled8, layout = split_image(image)
        np.testing.assert_array_equal(layout.hidden_colour, [0, 0, 0])
        assert filled8[alpha == 0].min() > 0


def test_a_wholly_transparent_image_keeps_its_hidden_colour_exactly(tiny_config):
    """Nothing visible: the colour under the transparency (an exporter's placeholder) came back as the model's
    near-values of it (up to 7 levels off); it is put back, as where anything is visible."""
    from swinir_hf import SwinIRForImageRestoration, restore

    model = SwinIRForImageRestoration(tiny_config()).eval()
    rgba = np.zeros((12, 10, 4), np.uint8)
    rgba[..., :3] = (10, 200, 30)
    for image in (rgba, Image.fromarray(rgba)):
        out = np.asarray(restore(model, image, dtype="float32"))
        assert out.shape == (24, 20, 4)
        np.testing.assert_array_equal(np.unique(out.reshape(-1, 4), axis=0), [[10, 200, 30, 0]])


def test_a_big_endian_array_is_restored_as_its_native_twin(tiny_config):
    """A big-endian uint16 array (FITS, raw dumps) comes back as the restoration of its values, in native order."""
    from swinir_hf import SwinIRForImageRestoration, restore

    model = SwinIRForImageRestoration(tiny_config()).eval()
    deep = np.random.default_rng(1).integers(0, 65536, (12, 10, 3), dtype=np.uint16)
    got, expected = restore(model, deep.astype(">u2"), tile=None), restore(model, deep, tile=None)
    assert got.dtype == np.uint16 and got.dtype.isnative
    np.testing.assert_array_equal(got, expected)


def test_pillow_warnings_keeps_this_threads_pillow_warnings_and_shows_the_rest(tmp_path, recwarn):
    """Only this thread's Pillow warnings are kept (each time); the others are shown as they happen, raised where
    the filters say so, in their own thread; and the process's warnings state is as it was after."""
    damaged = b"Exif\0\0MM\0*\0\0\0\x08\xff\xff" + bytes(6)
    Image.new("RGB", (8, 8)).save(tmp_path / "d.jpg", exif=damaged)
    filters, show = list(warnings.filters), warnings.showwarning
    with pillow_warnings() as caught:
        for _ in range(2):
            Image.open(tmp_path / "d.jpg").close()
        warnings.warn("not Pillow's", UserWarning, stacklevel=1)
        with ThreadPoolExecutor(1) as pool:  # another thread's, meanwhile
            pool.submit(lambda: Image.open(tmp_path / "d.jpg").close()).result()
            with warnings.catch_warnings():
                warnings.filterwarnings("error", "theirs")
                with pytest.raises(UserWarning, match="theirs"):
                    pool.submit(lambda: warnings.warn("theirs", UserWarning, stacklevel=1)).result()
        assert [str(w.message) for w in recwarn][:2] == ["not Pillow's", caught[0].message.args[0]]
    assert [str(w.message) for w in caught] == ["Corrupt EXIF data.  Expecting to read 12 bytes but only got 6. "] * 2
    assert len(recwarn) == 2 and recwarn[0].filename == __file__
    assert warnings.filters == filters and warnings.showwarning is show


def test_pillow_warnings_undo_only_their_own_changes_beside_another_threads_catch_warnings(monkeypatch):
    """The warnings state is process-wide: a block that put its snapshot back undid what another thread's
    `warnings.catch_warnings` did meanwhile. With gradio's (`simplefilter("ignore")`) entered first and left during an
    EXIF read, "ignore" stayed for good and every warning of the process was silenced. (One thread here: the
    entries and exits interleave as two threads' would.)"""
    import PIL.Image

    shown = []

    def show(message, *args, **kwargs):
        shown.append(str(message))

    monkeypatch.setattr(warnings, "showwarning", show)
    before = list(warnings.filters)

    def pillow_warns(text, file=PIL.Image.__file__, module="PIL.Image"):  # as `warnings.warn` in Pillow's code
        warnings.warn_explicit(text, UserWarning, file, 1, module=module, registry={})

    library, block = warnings.catch_warnings(), pillow_warnings()
    library.__enter__()  # another thread's, entered first ...
    warnings.simplefilter("ignore")
    caught = block.__enter__()
    pillow_warns("Corrupt EXIF data")
    library.__exit__(None, None, None)  # ... and left while the block runs
    block.__exit__(None, None, None)
    assert [str(w.message) for w in caught] == ["Corrupt EXIF data"]
    assert warnings.filters == before and warnings.showwarning is show
    pillow_warns("the program's own warning", __file__, __name__)
    pillow_warns("a Pillow warning outside a block")
    assert shown == ["the program's own warning", "a Pillow warning outside a block"]
    # Entered the other way round, the other's exit puts this block's changes back: they collect nothing there.
    block, library = pillow_warnings(), warnings.catch_warnings()
    block.__enter__()
    library.__enter__()
    block.__exit__(None, None, None)
    library.__exit__(None, None, None)
    pillow_warns("another Pillow warning outside a block")
    assert shown[-1] == "another Pillow warning outside a block"
    with pillow_warnings() as caught:  # and the next block leaves the state as it found it before the first
        pillow_warns("Corrupt EXIF data")
    assert len(caught) == 1 and warnings.filters == before and len(shown) == 3


def test_a_reconstruction_with_nan_is_said_not_cast_silently(caplog):
    """NaN pixels became 0 with numpy's bare "invalid value encountered in cast"; now a warning says how many."""
    recon = torch.full((1, 3, 2, 2), 0.5)
    recon[0, :, 0, 0] = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's RuntimeWarning fails the test
        out = SwinIRImageProcessor().post_process_image_restoration(recon, output_type="np")[0]
    assert out[0, 0].tolist() == [0, 0, 0] and out[1, 1].tolist() == [128, 128, 128]
    assert "the reconstruction holds 3 NaN values, given as black pixels" in caplog.text


def test_preprocess_holds_about_the_batch_not_three_copies_of_it():
    """A list of images became a list of float images, then a stacked copy, then a contiguous copy of that: 3× the
    batch's bytes at the peak. Now each image goes into its slot of the batch as it is read."""
    import tracemalloc

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (128, 96, 3), dtype=np.uint8) for _ in range(8)]
    processor = SwinIRImageProcessor()
    processor(images[:1])  # lazy imports, outside the measurement
    for batch in (images, [Image.fromarray(a) for a in images]):
        tracemalloc.start()
        try:
            pixel_values = processor(batch, return_tensors="pt")["pixel_values"]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert pixel_values.dtype == torch.float32 and pixel_values.is_contiguous()
        # The batch itself and one image's floats (1.13 here; 3.0 before): the margin is for other allocations.
        assert peak / pixel_values.nbytes < 2.0, peak / pixel_values.nbytes
        expected = np.stack(images).transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255)
        np.testing.assert_array_equal(pixel_values.numpy(), expected)


def test_a_batch_is_read_and_restored_image_by_image_as_each_alone(caplog):
    """Filling the batch image by image and post-processing image by image give, bit for bit, what each image gives
    alone; the NaN warning counts the whole batch's, and float16 / bfloat16 outputs are read as float32 ones."""
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 65536, (7, 5), dtype=np.uint16), rng.random((7, 5, 4)) * 1.2 - 0.1]
    for channels in (1, 3):
        processor = SwinIRImageProcessor(num_channels=channels)
        together = processor(images)["pixel_values"]
        alone = torch.cat([processor(image)["pixel_values"] for image in images])
        assert together.dtype == torch.float32 and torch.equal(together, alone)
    recon = torch.from_numpy(rng.random((3, 3, 6, 4)).astype(np.float32) * 1.4 - 0.2)
    recon[1, 0, 2, 3] = recon[2, :, 0, 0] = float("nan")
    processor = SwinIRImageProcessor()
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        caplog.clear()
        batch = processor.post_process_image_restoration(recon.to(dtype), output_type="np", bit_depth=16)
        assert "the reconstruction holds 4 NaN values" in caplog.text
        one = [processor.post_process_image_restoration(r[None].to(dtype).float(), "np", 16)[0] for r in recon]
        assert all(a.dtype == np.uint16 and np.array_equal(a, b) for a, b in zip(batch, one, strict=True))


def test_pipeline_runs_a_model_left_in_training_mode_in_eval_mode(tiny_config):
    """A model still training (after a Trainer, drop_path_rate 0.1) gave random pixels through the pipeline, which
    did not switch it to eval mode as `restore()` does; its mode is given back after the call."""
    torch.manual_seed(0)
    model = SwinIRForImageRestoration(tiny_config(drop_path_rate=0.5))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.3)
    model.train()
    image = _rgb(8, 8, seed=3)
    expected = np.asarray(restore(model, image, tile=None, dtype="float32"))
    restorer = pipeline("image-restoration", model=model)
    for _ in range(2):
        np.testing.assert_array_equal(np.asarray(restorer(image)), expected)
    assert model.training


def _pause(module, pauses):
    """A forward pre-hook on `module` calling `pauses[name of the thread]()`, where there is one: a pause returns its
    `Event.wait(timeout)`, and one that timed out fails the thread's call (it ran on unpaused before, and the test
    passed without the overlap it was about)."""

    def hook(module, args):
        name = threading.current_thread().name
        waited = pauses.get(name, lambda: True)()
        assert waited, f"thread {name}: the other thread did not reach its point in time"
        # (returns None: what a pre-hook returns replaces the args)

    return module.register_forward_pre_hook(hook)


def _in_thread(name, fn, *then):
    """Run `fn` on a thread called `name`, then set the events `then` (also when `fn` fails: no wait is left on).
    `_joined` waits for it and raises what `fn` raised."""

    def run():
        try:
            fn()
        except BaseException as err:  # noqa: BLE001 (raised by _joined, on the test's thread)
            thread.error = err
        finally:
            for event in then:
                event.set()

    thread = threading.Thread(target=run, name=name)
    thread.error = None
    thread.start()
    return thread


def _joined(thread: threading.Thread) -> None:
    """Waits for an `_in_thread` thread, at most 30 s, and raises its error: a thread's failure was only a warning,
    and a timed-out pause let the test pass without the overlap it was about."""
    thread.join(timeout=30)
    assert not thread.is_alive(), f"thread {thread.name} did not end within 30 s"
    if thread.error is not None:
        raise thread.error


def test_threads_sharing_a_training_model_run_it_in_eval_mode_and_give_its_mode_back(tiny_config):
    """The pipeline switched a training model to eval mode and back with no regard for other threads: a second call
    begun meanwhile ran its last blocks with random drop paths once the first call's `train()` came; and the engine,
    started during a pipeline call, took its eval mode for the model's own and left it in eval mode for good. They
    share one count of the model's runs now (`running`): the first in switches, the last out switches back."""
    from swinir_hf.models.modeling_swinir import SwinTransformerBlock

    torch.manual_seed(0)
    model = SwinIRForImageRestoration(tiny_config(drop_path_rate=0.5, depths=[4])).eval()
    second_block = [m for m in model.modules() if isinstance(m, SwinTransformerBlock)][1]
    image = _rgb(16, 16, seed=1)
    restorer = pipeline("image-restoration", model=model)
    expected = np.asarray(restorer(image))
    model.train()
    events = first_in, second_in, first_done, second_done = [threading.Event() for _ in range(4)]
    hooks = [
        _pause(model, {"first": lambda: first_in.set() or second_in.wait(10)}),
        _pause(second_block, {"second": lambda: second_in.set() or first_done.wait(10)}),
    ]
    outputs = {}
    first = _in_thread("first", lambda: outputs.update(first=restorer(image)), first_done, second_in)
    assert first_in.wait(10)  # the first call is in its forward pass: a second begins, and is midway when it ends
    _joined(_in_thread("second", lambda: outputs.update(second=restorer(image)), second_done, first_done))
    _joined(first)
    for hook in hooks:
        hook.remove()
    assert [np.array_equal(outputs.get(name), expected) for name in ("first", "second")] == [True, True]
    assert model.training
    # The engine begun during a pipeline call, and ending after it.
    for event in events:
        event.clear()
    pauses = {
        "pipeline": lambda: first_in.set() or second_in.wait(10),
        "engine": lambda: second_in.set() or first_done.wait(10),
    }
    hook = _pause(model, pauses)
    pipeline_call = _in_thread("pipeline", lambda: outputs.update(first=restorer(image)), first_done, second_in)
    assert first_in.wait(10)
    engine_call = lambda: outputs.update(second=restore(model, image, tile=None, dtype="float32"))  # noqa: E731
    engine = _in_thread("engine", engine_call, first_done)
    _joined(pipeline_call)
    _joined(engine)
    hook.remove()
    assert [np.array_equal(outputs.get(name), expected) for name in ("first", "second")] == [True, True]
    assert model.training


def test_a_pipeline_made_while_the_engine_runs_a_float16_model_runs_it_as_float32(tiny_config):
    """Off CUDA, a float16 model runs as float32 (cast for the run, then back). A pipeline made while the engine's
    run held the model in float32 took that for the model's dtype, and ran it after the cast back in float16 (other
    pixels). It casts at each call now, as the engine does."""
    model = SwinIRForImageRestoration(tiny_config()).half().eval()
    image = _rgb(16, 16, seed=2)
    expected = np.asarray(pipeline("image-restoration", model=copy.deepcopy(model))(image))
    engine_in, made = threading.Event(), threading.Event()
    hook = _pause(model, {"engine": lambda: engine_in.set() or made.wait(10)})
    engine = _in_thread("engine", lambda: restore(model, image, tile=None, dtype="float32"), engine_in)
    assert engine_in.wait(10)
    restorer = pipeline("image-restoration", model=model)  # while the engine's run holds the model in float32
    made.set()
    _joined(engine)
    hook.remove()
    assert model.conv_after_body.weight.dtype == torch.float16  # cast back by the engine
    np.testing.assert_array_equal(np.asarray(restorer(image)), expected)
    assert model.conv_after_body.weight.dtype == torch.float16  # and by the pipeline


def test_a_pipeline_call_during_another_runs_cast_runs_in_the_models_own_precision(tiny_config):
    """A bfloat16 model that the engine's float32 run holds cast in place: a pipeline call meanwhile ran it in float32
    (other pixels than alone); it runs a bfloat16 copy now."""
    from swinir_hf.models.runtime_swinir import running

    model = SwinIRForImageRestoration(tiny_config()).to(torch.bfloat16).eval()
    image = _rgb(16, 16, seed=4)
    restorer = pipeline("image-restoration", model=model)
    alone = np.asarray(restorer(image))
    with running(model, torch.device("cpu"), torch.float32):  # what restore(model, ..., dtype="float32") holds
        np.testing.assert_array_equal(np.asarray(restorer(image)), alone)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_pipeline_runs_a_model_offloaded_by_accelerate_where_it_was_placed(tiny_config, tmp_path):
    """A model loaded with a `device_map` that offloads a module to disk cannot be moved: the pipeline's run moved
    it ("You can't move a model that has some modules offloaded"), where it used to run it as placed."""
    torch.manual_seed(0)
    SwinIRForImageRestoration(tiny_config()).save_pretrained(tmp_path / "model")
    names = [name for name, _ in SwinIRForImageRestoration(tiny_config()).named_children()]
    device_map = {**dict.fromkeys(names, "cpu"), "patch_embed": "disk"}
    offloaded = SwinIRForImageRestoration.from_pretrained(
        tmp_path / "model", device_map=device_map, offload_folder=tmp_path / "offload"
    )
    assert "meta" in {p.device.type for p in offloaded.parameters()}
    image = _rgb(16, 16, seed=5)
    expected = np.asarray(pipeline("image-restoration", model=str(tmp_path / "model"))(image))
    np.testing.assert_array_equal(np.asarray(pipeline("image-restoration", model=offloaded)(image)), expected)


def test_a_float_pil_image_gives_no_torch_warning(tiny_config, tmp_path):
    """A mode F image's pixels into a greyscale model are a read-only array, which torch warned of ("The given NumPy
    array is not writable")."""
    SwinIRForImageRestoration(tiny_config(num_channels=1)).save_pretrained(tmp_path)
    image = Image.fromarray(np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8), "F")
    restorer = pipeline("image-restoration", model=str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = restorer(image)
    assert out.mode == "F" and out.size == (16, 12)


def test_colour_through_a_grey_model_comes_back_upright():
    """A grey model restores a colour image channel by channel, as a batch of C grey images: put back together, a
    wide image stays wide (H, W, C), not transposed, and every channel lands where it came from."""
    colour = np.random.default_rng(0).random((5, 8, 3), dtype=np.float32)
    batch = to_pixel_values(colour, 1)
    assert tuple(batch.shape) == (3, 1, 5, 8)
    np.testing.assert_array_equal(from_reconstruction(batch, 3), colour)


def test_do_rescale_none_at_construction_is_the_default():
    """Generic callers pass `do_rescale=None` for "unset": it rescales as the default does, it is not taken as
    False (which would refuse every 8-bit image)."""
    processor = SwinIRImageProcessor(do_rescale=None)
    assert processor.do_rescale is True
    pixel_values = processor(_rgb())["pixel_values"][0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(pixel_values, _rgb() / 255.0, atol=1e-7)

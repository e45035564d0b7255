"""Inputs that transformers 5's own image processors and pipelines take, given to SwinIR's: paths, nested lists,
and a folder where an image file was meant."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import pipeline

from swinir_hf import SwinIRForImageRestoration, SwinIRImageProcessor


def _rgb(height: int, width: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_the_processor_reads_paths_as_the_pipeline_does(tmp_path):
    processor = SwinIRImageProcessor()
    colour = _rgb(7, 9)
    colour.save(tmp_path / "colour.png")
    grey16 = np.random.default_rng(1).integers(0, 65536, (7, 9), dtype=np.uint16)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    # A str and a pathlib.Path, in one batch, as transformers 5's image processors take them (this one said
    # "expected a PIL image, numpy array or torch tensor, got str").
    pixels = processor([str(tmp_path / "colour.png"), tmp_path / "grey16.png"]).pixel_values
    torch.testing.assert_close(pixels[0], processor(colour).pixel_values[0], rtol=0, atol=0)
    # All 16 bits of the grey file, as the pipeline reads it (transformers' `load_image` gives 8-bit RGB).
    expected = torch.from_numpy(grey16 / 65535).float().expand(3, -1, -1)
    torch.testing.assert_close(pixels[1], expected, rtol=0, atol=1e-6)
    with pytest.raises(FileNotFoundError, match=f"^no such image file: {tmp_path / 'colour.pgn'}$"):
        processor(str(tmp_path / "colour.pgn"))
    with pytest.raises(ValueError, match="^do_rescale=False takes pixel values as they are.*got PIL mode RGB pixels"):
        processor(tmp_path / "colour.png", do_rescale=False)


def test_the_processor_flattens_a_list_of_lists_of_images_as_transformers_does():
    processor = SwinIRImageProcessor()
    a, b, c = _rgb(5, 6, 0), _rgb(5, 6, 1), _rgb(5, 6, 2)
    expected = processor([a, b, c]).pixel_values
    nested = processor([[a, b], [c]]).pixel_values  # said "expected a PIL image, ..., got list"
    torch.testing.assert_close(nested, expected, rtol=0, atol=0)
    # A list of batches (4-D arrays), as transformers takes it too: said "must be (H, W) or (H, W, C) ...".
    arrays = [np.asarray(im) for im in (a, b, c)]
    batches = processor([np.stack(arrays[:2]), arrays[2]]).pixel_values
    torch.testing.assert_close(batches, expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="^no images given$"):
        processor([[]])


def test_the_processor_names_paths_and_urls_among_what_it_takes():
    """An input that is no image, path or URL: the processor said "expected a PIL image, numpy array or torch tensor,
    got list" (`image_to_float`'s words), as if it took no path, which it does."""
    processor = SwinIRImageProcessor()
    expected = "expected a PIL image, numpy array, torch tensor, file path or http(s) URL, got "
    for given, name in [([[[_rgb(5, 6)]]], "list"), (b"\x89PNG", "bytes"), ([_rgb(5, 6), None], "NoneType")]:
        with pytest.raises(TypeError, match=f"^{re.escape(expected + name)}$"):
            processor(given)


def test_a_folder_given_as_an_image_is_said_to_be_one(tiny_config, tmp_path: Path):
    folder = tmp_path / "photos"
    folder.mkdir()
    _rgb(5, 6).save(folder / "a.png")
    restorer = pipeline(
        "image-restoration", model=SwinIRForImageRestoration(tiny_config()), image_processor=SwinIRImageProcessor()
    )
    # transformers' `load_image` took it for base64: "Incorrect image source ... Failed with Incorrect padding".
    message = f"^{folder} is a folder, not an image file: pass the image files in it, one by one$"
    with pytest.raises(IsADirectoryError, match=message):
        restorer(str(folder))
    with pytest.raises(IsADirectoryError, match=message):
        SwinIRImageProcessor()(folder)
    # A file name without a suffix in an existing folder was taken for base64 alike.
    with pytest.raises(FileNotFoundError, match=f"^no such image file: {folder / 'a'}$"):
        restorer(str(folder / "a"))


def test_a_bfloat16_model_takes_float32_pixel_values_and_gives_float32(tiny_config):
    """As docs/transformers.md says (transformers' own vision models raise "Input type (float) and bias type
    (c10::BFloat16) should be the same")."""
    torch.manual_seed(0)
    model = SwinIRForImageRestoration(tiny_config()).eval()
    pixels = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        expected = model(pixels).reconstruction
        got = model.to(torch.bfloat16)(pixels).reconstruction
    assert got.dtype == torch.float32 and got.shape == (1, 3, 18, 22)
    torch.testing.assert_close(got, expected, rtol=0, atol=0.05)


def _limit_leaving(free: int) -> int:
    """The soft RLIMIT_NOFILE under which `free` more files can be opened: a file takes the lowest free number, so
    the numbers in use below the limit count against it (those above it stay open)."""
    used = {int(fd) for fd in os.listdir("/proc/self/fd")}
    limit = 0
    while limit - len({fd for fd in used if fd < limit}) < free:
        limit += 1
    return limit


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts open files in /proc/self/fd")
def test_a_batch_of_paths_is_read_one_file_at_a_time(tiny_config, tmp_path: Path):
    """`processor(sorted(glob("frames/*.png")))` opened every file before reading any, and a few thousand paths ran
    out of file handles (`ulimit -n`, often 1024): "OSError: [Errno 24] Too many open files". Here 100 paths with
    room for 16 more open files: each file is closed once read. The pipeline reads one at a time too."""
    import resource  # (POSIX only)

    frames = [_rgb(4, 4, seed) for seed in range(100)]
    paths = [tmp_path / f"frame_{i:03}.png" for i in range(len(frames))]
    for frame, path in zip(frames, paths, strict=True):
        frame.save(path)
    processor = SwinIRImageProcessor()
    expected = processor(frames).pixel_values
    restorer = pipeline("image-restoration", model=SwinIRForImageRestoration(tiny_config()), image_processor=processor)
    expected_restored = [np.asarray(im) for im in restorer(frames[:24], batch_size=4)]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (_limit_leaving(16), hard))
    try:
        pixels = processor([str(p) for p in paths]).pixel_values
        restored = restorer(paths[:24], batch_size=4)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    torch.testing.assert_close(pixels, expected, rtol=0, atol=0)
    assert [np.array_equal(np.asarray(im), e) for im, e in zip(restored, expected_restored, strict=True)] == [True] * 24


@pytest.mark.parametrize("absolute", [False, True])
def test_the_dummy_inputs_run_the_model(tiny_config, absolute):
    """`model(**model.dummy_inputs)`, as generic transformers code calls it, restores a small image; transformers'
    default dummy inputs were `input_ids`, which forward refused."""
    model = SwinIRForImageRestoration(tiny_config(use_absolute_embeddings=absolute)).eval()
    inputs = model.dummy_inputs
    side = 16 if absolute else 4
    assert list(inputs) == ["pixel_values"] and inputs["pixel_values"].shape == (1, 3, side, side)
    with torch.no_grad():
        assert model(**inputs).reconstruction.shape == (1, 3, 2 * side, 2 * side)


def test_the_pipeline_says_what_it_takes_and_how_to_pass_a_tensor(tiny_config):
    """A tensor was refused with "expected a PIL image or numpy array, got Tensor", as if the pipeline took no path or
    URL; now the message lists what it takes, and its advice for the tensor runs, giving the model's own output."""
    model = SwinIRForImageRestoration(tiny_config()).eval()
    restorer = pipeline("image-restoration", model=model)
    takes = (
        "the image-restoration pipeline takes a PIL image, a numpy array ((H, W) or (H, W, C)), a path or an http(s) "
        "URL (or a list of them), not "
    )
    x = torch.rand(1, 3, 9, 11)
    for given, advice in (
        (x[0], "x.detach().cpu().permute(1, 2, 0).numpy()"),
        (x, "x[0].detach().cpu().permute(1, 2, 0).numpy()"),
        (x.bfloat16(), "x[0].detach().cpu().float().permute(1, 2, 0).numpy()"),
    ):
        message = f"{takes}a tensor: pass one (C, H, W) image as {advice}, or run the model on (N, C, H, W) floats in "
        with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
            restorer(given)
    restored = restorer(x[0].detach().cpu().permute(1, 2, 0).numpy())
    with torch.no_grad():
        expected = model(pixel_values=x).reconstruction[0].clamp(0, 1).permute(1, 2, 0).numpy()
    np.testing.assert_allclose(restored, expected, rtol=0, atol=1e-6)
    with pytest.raises(TypeError, match=f"^{re.escape(takes)}bytes: pass PIL.Image.open\\(io.BytesIO\\(data\\)\\)$"):
        restorer(b"\x89PNG")
    with pytest.raises(TypeError, match=f"^{re.escape(takes)}int$"):
        restorer(5)


def test_the_pipeline_given_a_dataset_names_its_image_column(tiny_config):
    """A `datasets` Dataset given whole was refused as "not Dataset", with no word of the column or `KeyDataset`
    that the pipeline takes; now its image column is named, and the advice runs."""
    import datasets
    from transformers.pipelines.pt_utils import KeyDataset

    photos = [Image.new("RGB", (5, 4), (i, 9, 30)) for i in range(2)]
    ds = datasets.Dataset.from_dict({"name": ["a", "b"], "photo": photos}).cast_column("photo", datasets.Image())
    restorer = pipeline("image-restoration", model=SwinIRForImageRestoration(tiny_config()).eval())
    with pytest.raises(TypeError) as refused:
        restorer(ds)
    assert str(refused.value).endswith(
        "(or a list of them), not a datasets Dataset: pass its image column, dataset['photo'] (a list), or "
        "KeyDataset(dataset, 'photo') (transformers.pipelines.pt_utils; an iterator)"
    )
    assert [im.size for im in restorer(ds["photo"])] == [(10, 8)] * 2
    assert [im.size for im in restorer(KeyDataset(ds, "photo"))] == [(10, 8)] * 2


def test_the_pipeline_given_a_datasets_row_names_its_image_column(tiny_config):
    """A streamed `datasets` IterableDataset given whole is iterated row by row, and its first row, a dict, was
    refused as "not dict"; now a row (streamed or not) names its image column, and the advice runs."""
    import datasets

    photos = [Image.new("RGB", (5, 4), (i, 9, 30)) for i in range(2)]
    ds = datasets.Dataset.from_dict({"name": ["a", "b"], "photo": photos}).cast_column("photo", datasets.Image())
    stream = ds.to_iterable_dataset()
    restorer = pipeline("image-restoration", model=SwinIRForImageRestoration(tiny_config()).eval())
    said = (
        "(or a list of them), not a dict (a datasets row): pass its image, row['photo']; of a whole dataset its "
        "image column, dataset['photo'] (a list) or KeyDataset(dataset, 'photo') (transformers.pipelines.pt_utils); "
        "of a streamed one, (row['photo'] for row in dataset)"
    )
    for given in (stream, ds[0]):
        with pytest.raises(TypeError) as refused:
            list(restorer(given))  # the stream's first row
        assert str(refused.value).endswith(said)
    assert restorer(ds[0]["photo"]).size == (10, 8)
    assert [im.size for im in restorer(row["photo"] for row in stream)] == [(10, 8)] * 2
    with pytest.raises(TypeError, match=r", not dict$"):  # no image in it: nothing to name
        restorer({"name": "a"})

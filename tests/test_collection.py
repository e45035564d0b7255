"""Collections: `--outscale`, `--ext auto`, skip / overwrite, the pipelined loop, `accelerate` processes, datasets."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from swinir_hf import SwinIRForImageRestoration, SwinIRRestorer, load_model, restore
from swinir_hf.checkpoints.bundled import DEFAULTS_DIR
from swinir_hf.checkpoints.fingerprint import weights_fingerprint
from swinir_hf.cli import main
from swinir_hf.inference.collection_cli import main as restore_main
from swinir_hf.inference.image_io import is_lossless_webp, read_image
from swinir_hf.inference.image_writing import write_image
from swinir_hf.inference.jobs import OutputOptions, check_encodable, output_size
from swinir_hf.inference.provenance import Provenance, model_label, read_provenance


@pytest.fixture(scope="module")
def model_dir(tiny_config, tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    SwinIRForImageRestoration(tiny_config()).save_pretrained(path)
    return path


def _rng_image(shape, seed=0, dtype=np.uint8):
    top = 65536 if dtype == np.uint16 else 256
    return np.random.default_rng(seed).integers(0, top, shape, dtype=dtype)


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _restore(*args, model_dir) -> int:
    return main(["restore", *map(str, args), "--model", str(model_dir), "--no-progress"])


@pytest.fixture
def mixed(tmp_path) -> Path:
    """Six inputs of different sizes and kinds (odd sizes, RGBA, grey, 16-bit colour), one in a sub-folder."""
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(_rng_image((5, 7, 3), 1)).save(folder / "odd.png")
    Image.fromarray(_rng_image((9, 13, 4), 2), "RGBA").save(folder / "alpha.png")
    Image.fromarray(_rng_image((11, 6), 3)).save(folder / "grey.png")
    Image.fromarray(_rng_image((8, 8, 3), 4)).save(folder / "photo.jpg", quality=90)
    tifffile.imwrite(folder / "deep.tif", _rng_image((6, 9, 3), 5, np.uint16), photometric="rgb")
    Image.fromarray(_rng_image((8, 8, 3), 6)).save(folder / "sub" / "same.png")
    return folder


def test_output_size_rounds_halves_up():
    assert output_size(7, 5, 3.5) == (25, 18)  # 24.5 → 25, 17.5 → 18 (Python's round would give 24)
    assert output_size(13, 9, 0.1) == (1, 1)
    assert output_size(640, 480, 2.0) == (1280, 960)


def test_outscale_gives_exact_sizes_on_odd_inputs(mixed, model_dir, tmp_path):
    out = tmp_path / "out"
    assert _restore(mixed, "-o", out, "--outscale", "3.5", "--recursive", model_dir=model_dir) == 0
    expected = {"odd.png": (25, 18), "alpha.png": (46, 32), "grey.png": (21, 39), "photo.png": (28, 28)}
    expected |= {"deep.png": (32, 21), "sub/same.png": (28, 28)}
    for name, size in expected.items():
        assert Image.open(out / name).size == size, name
    assert Image.open(out / "alpha.png").mode == "RGBA" and Image.open(out / "grey.png").mode == "L"
    assert read_image(out / "deep.png").pixels.dtype == np.uint16  # 16-bit colour stays 16-bit after the resize
    # outscale equal to the model's scale is no resize at all: the same pixels as without it (the records differ).
    plain, same = tmp_path / "plain", tmp_path / "same"
    assert _restore(mixed / "odd.png", "-o", plain, model_dir=model_dir) == 0
    assert _restore(mixed / "odd.png", "-o", same, "--outscale", "2", model_dir=model_dir) == 0
    assert np.array_equal(np.asarray(Image.open(plain / "odd.png")), np.asarray(Image.open(same / "odd.png")))


def test_outscale_must_be_positive(mixed, model_dir, tmp_path, capsys):
    assert _restore(mixed, "-o", tmp_path / "o", "--outscale", "0", model_dir=model_dir) == 2  # a usage error
    assert "restore: error: --outscale must be a positive number, got 0.0" in capsys.readouterr().err


def test_restore_dataset_refuses_the_outscales_the_command_line_refuses(model_dir, tmp_path):
    """`restore_dataset(outscale=...)` (the Python side of `--dataset`) took 0 or a negative scale and made every
    image 1 × 1 pixels, and failed only inside the map for NaN / infinity, where `--outscale` refuses them all."""
    import datasets

    from swinir_hf.inference.dataset_restoration import restore_dataset

    Image.fromarray(_rng_image((9, 13, 3), 5)).save(tmp_path / "a.png")
    data = datasets.Dataset.from_dict({"image": [str(tmp_path / "a.png")]}).cast_column("image", datasets.Image())
    restorer = SwinIRRestorer(SwinIRForImageRestoration.from_pretrained(model_dir), tile=None)
    for outscale, said in ((0, "0"), (-2.0, "-2.0"), (float("nan"), "nan"), (float("inf"), "inf"), ("2", "'2'")):
        with pytest.raises(ValueError, match=rf"^outscale must be a positive number, got {said}$"):
            restore_dataset(data, restorer, outscale=outscale)
        with pytest.raises(ValueError, match=rf"^outscale must be a positive number, got {said}$"):
            OutputOptions(outscale=outscale)  # what `swinir-hf restore --outscale` checks
    assert restore_dataset(data, restorer, outscale=1.5)[0]["image"].size == (20, 14)


def test_a_str_given_for_a_number_is_shown_quoted(model_dir, tmp_path):
    """`restore(model, path, outscale="2")` said `got 2`, hiding that a str was given; `OutputOptions(quality="50")`
    failed with Python's `'<=' not supported between instances of 'int' and 'str'`, and `quality=50.5` was taken, to
    fail at each JPEG's write (Pillow's "Invalid quality setting"). Each numeric option names itself and the value
    as given."""
    Image.fromarray(_rng_image((9, 13, 3), 5)).save(tmp_path / "a.png")
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    with pytest.raises(ValueError, match=r"^outscale must be a positive number, got '2'$"):
        restore(model, str(tmp_path / "a.png"), outscale="2")
    for option, value, must in (
        ("tile", "256", "None (or 0), 'auto' or a positive int"),
        ("tile_overlap", "16", "an int ≥ 0"),
        ("tiles_per_pass", "2", "an int ≥ 1"),
    ):
        with pytest.raises(ValueError, match=rf"^{option} must be {re.escape(must)}, got '{value}'$"):
            restore(model, str(tmp_path / "a.png"), **{option: value})
    for quality, said in (("50", "'50'"), (50.5, "50.5"), (True, "True"), (0, "0"), (101, "101")):
        with pytest.raises(ValueError, match=rf"^quality must be an int in 1\.\.100, got {said}$"):
            OutputOptions(ext="jpg", quality=quality)
    assert OutputOptions(ext="jpg", quality=np.int64(50)).encoder_quality == 50


def test_restore_dataset_keeps_a_16bit_grey_colour_key_whole(model_dir, tmp_path):
    """A 16-bit grey PNG's colour key (tRNS) is restored as a (H, W, 2) uint16 grey + alpha array, which Pillow has no
    mode for: `datasets` stored it as 8-bit LA of the levels wrapped mod 256 (53938 → 178), with only its own
    "Downcasting" warning. It is stored as the 16-bit PNG `swinir-hf restore` writes for such a file."""
    import warnings

    import datasets
    import png

    from swinir_hf.inference.dataset_restoration import restore_dataset

    grey = (np.random.default_rng(5).random((9, 7)) * 60000 + 2000).astype(np.uint16)
    grey[2:6, 1:5] = 1000  # the key: transparent
    with open(tmp_path / "key.png", "wb") as file:
        png.Writer(7, 9, greyscale=True, bitdepth=16, transparent=1000).write(file, grey)
    data = datasets.Dataset.from_dict({"image": [str(tmp_path / "key.png")]}).cast_column("image", datasets.Image())
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    expected = restore(model, tmp_path / "key.png", tile=None, dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # datasets' "Downcasting array dtype ... to uint8"
        restored = restore_dataset(data, SwinIRRestorer(model, tile=None, dtype="float32"))
    stored = restored.cast_column("image", datasets.Image(decode=False))[0]["image"]["bytes"]
    (tmp_path / "stored.png").write_bytes(stored)
    np.testing.assert_array_equal(read_image(tmp_path / "stored.png").pixels, expected)
    decoded = np.asarray(restored[0]["image"])  # as Pillow reads a 16-bit grey + alpha PNG: RGBA, its top 8 bits
    np.testing.assert_array_equal(decoded[..., [0, 3]], expected >> 8)


def test_a_datasets_16bit_colour_and_float_images_are_restored_as_their_files_are(model_dir, tmp_path, caplog):
    """`datasets` decodes with Pillow: a 16-bit colour PNG came out at 8 bits without a word, and a float RGB TIFF
    stopped the run ("cannot identify image file"), where `swinir-hf restore` of the files keeps 16 bits and reads
    the float. Stored or by path, they are now read as the files are."""
    import datasets

    from swinir_hf.inference.dataset_restoration import restore_dataset

    deep = (np.random.default_rng(6).random((7, 9, 3)) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "deep.tif", deep, photometric="rgb")
    tifffile.imwrite(tmp_path / "float.tif", deep.astype(np.float32) / 65535, photometric="rgb")
    files = [str(tmp_path / "deep.tif"), str(tmp_path / "float.tif")]
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    restorer = SwinIRRestorer(model, tile=None, dtype="float32")
    expected = [restorer(read_image(f).pixels) for f in files]
    by_path = datasets.Dataset.from_dict({"image": files}).cast_column("image", datasets.Image())
    stored = by_path.cast_column("image", datasets.Image(decode=False)).map(
        lambda row: {"image": {"bytes": Path(row["image"]["path"]).read_bytes(), "path": None}}
    )
    for data in (by_path, stored.cast_column("image", datasets.Image())):
        restored = restore_dataset(data, restorer).cast_column("image", datasets.Image(decode=False))
        for i, want in enumerate(expected):
            (tmp_path / "out.png").write_bytes(restored[i]["image"]["bytes"])
            got = read_image(tmp_path / "out.png").pixels
            assert got.dtype == np.uint16  # a 16-bit PNG of each
            np.testing.assert_array_equal(got, want if want.dtype == np.uint16 else np.round(want * 65535))
    # stored bytes read through a temporary file: what the reader warns of names the row's file, not that one
    bright = deep.astype(np.float32) / 65535 * 1.5  # beyond [0, 1]: warned that the output is clamped
    tifffile.imwrite(tmp_path / "bright.tif", bright, photometric="rgb")
    row = {"image": [{"bytes": (tmp_path / "bright.tif").read_bytes(), "path": "scans/bright.tif"}]}
    with caplog.at_level(logging.WARNING, logger="swinir_hf"):
        restore_dataset(datasets.Dataset.from_dict(row).cast_column("image", datasets.Image()), restorer)
    assert [m.split(":")[0] for m in caplog.messages] == ["row 0 of the dataset (scans/bright.tif)"]
    # an animated file's warning comes from the frame counter's own logger: it names the row's file too
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    row = {"image": [{"bytes": (tmp_path / "anim.gif").read_bytes(), "path": "clips/anim.gif"}]}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="swinir_hf"):
        restore_dataset(datasets.Dataset.from_dict(row).cast_column("image", datasets.Image()), restorer)
    assert caplog.messages == ["clips/anim.gif has 2 frames: only frame 1 is restored"]


def test_ext_auto_keeps_each_format(tmp_path, model_dir):
    src = tmp_path / "in"
    src.mkdir()
    rgb = _rng_image((8, 10, 3))
    Image.fromarray(_rng_image((8, 10, 4)), "RGBA").save(src / "a.png")
    Image.fromarray(rgb).save(src / "b.jpg")
    Image.fromarray(rgb).save(src / "c.tif")
    Image.fromarray(rgb).save(src / "d.webp", lossless=True)
    Image.fromarray(rgb).save(src / "e.webp", quality=80)
    tifffile.imwrite(src / "f.tif", _rng_image((8, 10, 3), 1, np.uint16), photometric="rgb")
    Image.fromarray(rgb).save(src / "g.bmp")
    # JPEG's other suffixes were written as PNG (h.png, i.png): they are JPEGs, kept as .jpg is.
    Image.fromarray(rgb).save(src / "h.jfif")
    Image.fromarray(rgb).save(src / "i.JPE")
    out = tmp_path / "out"
    assert _restore(src, "-o", out, "--ext", "auto", model_dir=model_dir) == 0
    formats = {p.name: Image.open(p).format for p in out.iterdir()}
    assert formats == {
        "a.png": "PNG",
        "b.jpg": "JPEG",
        "c.tif": "TIFF",
        "d.webp": "WEBP",
        "e.webp": "WEBP",
        "f.tif": "TIFF",
        "g.png": "PNG",  # BMP is not kept: it becomes lossless PNG
        "h.jfif": "JPEG",
        "i.JPE": "JPEG",
    }
    with pytest.raises(ValueError, match="larger than JPEG allows"):
        check_encodable(out / "h.jfif", (65501, 8))
    assert Image.open(out / "a.png").mode == "RGBA"
    assert is_lossless_webp(out / "d.webp") and not is_lossless_webp(out / "e.webp")
    deep = tifffile.imread(out / "f.tif")
    assert deep.dtype == np.uint16 and deep.shape == (16, 20, 3)
    # The lossless outputs hold exactly what the engine returns.
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    expected = restore(model, src / "d.webp", tile=None)
    assert np.array_equal(np.asarray(Image.open(out / "d.webp").convert("RGB")), np.asarray(expected))
    assert np.array_equal(deep, restore(model, src / "f.tif", tile=None))


def test_a_scans_resolution_is_scaled_to_keep_its_print_size(tmp_path, model_dir):
    """A 300 dpi scan restored ×2 came out with no resolution at all (72 dpi to most programs): now 600 dpi, the
    same print size, in PNG (16-bit too), JPEG and TIFF; a file without one gets none; WebP has none."""
    src = tmp_path / "in"
    src.mkdir()
    rgb = _rng_image((8, 10, 3))
    for name in ("a.png", "b.jpg", "c.tif", "e.webp"):
        Image.fromarray(rgb).save(src / name, dpi=(300, 150))
    tifffile.imwrite(src / "d.tif", _rng_image((8, 10, 3), 1, np.uint16), photometric="rgb", resolution=(300, 150))
    import png

    with open(src / "f.png", "wb") as file:  # 16-bit colour: read by pypng, written by its writer
        per_metre = {"x_pixels_per_unit": 11811, "y_pixels_per_unit": 5906, "unit_is_meter": True}  # 300, 150 dpi
        png.Writer(10, 8, greyscale=False, bitdepth=16, **per_metre).write(
            file, _rng_image((8, 10, 3), 2, np.uint16).reshape(8, 30)
        )
    Image.fromarray(rgb).save(src / "g.png")
    # Pillow's made-up resolutions are not taken for the file's: 1 dpi for a TIFF without one, 72 for a JPEG whose
    # EXIF has none (it wrote a 2 dpi PNG)
    Image.fromarray(rgb).save(src / "h.tif")
    exif = Image.Exif()
    exif[0x010F] = "Camera Co"
    Image.fromarray(rgb).save(src / "i.jpg", exif=exif.tobytes())
    tifffile.imwrite(src / "j.tif", rgb.astype(np.float32) / 255, photometric="rgb", resolution=(300, 150))
    tifffile.imwrite(src / "k.tif", rgb.astype(np.float32) / 255, photometric="rgb")
    out = tmp_path / "out"
    assert _restore(src, "-o", out, "--ext", "auto", model_dir=model_dir) == 0
    dpi = {p.name: read_image(p).dpi for p in sorted(out.iterdir())}  # (Pillow cannot open a float colour TIFF)
    assert {name: value and tuple(round(v) for v in value) for name, value in dpi.items()} == {
        **dict.fromkeys(["a.png", "b.jpg", "c.tif", "d.tif", "f.png", "j.tif"], (600, 300)),
        **dict.fromkeys(["e.webp", "g.png", "h.tif", "i.jpg", "k.tif"], None),
    }
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    assert tuple(round(v) for v in restore(model, src / "b.jpg", tile=None).info["dpi"]) == (600, 300)
    opened = restore(model, Image.open(src / "b.jpg"), tile=None, outscale=3)
    assert tuple(round(v) for v in opened.info["dpi"]) == (900, 450)


def test_a_turned_scans_resolution_is_turned_with_it_in_every_format(tmp_path):
    """A scan whose EXIF orientation turns it a quarter states its resolution of the stored image: the upright copy's
    x and y are swapped. Pillow turns a TIFF as it loads it and drops the orientation, so a TIFF's (8-bit, and
    16-bit through tifffile) kept the stored order, where a JPEG's and a PNG's were swapped."""
    exif = Image.Exif()
    exif[0x0112] = 6
    rgb = _rng_image((8, 10, 3))
    for name in ("a.jpg", "b.png", "c.tif"):
        Image.fromarray(rgb).save(tmp_path / name, dpi=(300, 150), exif=exif.tobytes())
    tifffile.imwrite(
        tmp_path / "d.tif",
        _rng_image((8, 10, 3), 1, np.uint16),
        photometric="rgb",
        resolution=(300, 150),
        extratags=[(274, "H", 1, 6, True)],
    )
    for name in ("a.jpg", "b.png", "c.tif", "d.tif"):
        image = read_image(tmp_path / name)
        assert np.asarray(image.pixels).shape[:2] == (10, 8), name  # upright
        assert tuple(round(v) for v in image.dpi) == (150, 300), name


def test_a_turned_tiff_given_as_a_pil_image_keeps_its_resolution_turned(model_dir, tmp_path):
    """`restore(model, Image.open(scan.tif))` of a 300 × 150 dpi TIFF turned a quarter by its orientation gave the
    output the stored image's resolution (600 × 300 at ×2 where 300 × 600 is upright): Pillow turns a TIFF as it loads
    it and drops the tag. It is read before the image loads now, and of one loaded already, told by its size (its
    stored size swapped); a square one loaded already keeps no trace of its turn (`file_dpi`)."""
    from swinir_hf.inference.photo_metadata import file_dpi

    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    exif = Image.Exif()
    exif[0x0112] = 8
    for name, (h, w) in {"wide.tif": (6, 10), "square.tif": (8, 8)}.items():
        Image.fromarray(_rng_image((h, w, 3))).save(tmp_path / name, dpi=(300, 150), exif=exif)
    loaded = Image.open(tmp_path / "wide.tif")
    loaded.load()
    for image in (Image.open(tmp_path / "wide.tif"), Image.open(tmp_path / "square.tif"), loaded):
        out = restore(model, image, tile=None)
        assert tuple(round(v) for v in out.info["dpi"]) == (300, 600), image.size
    assert file_dpi(loaded) == (150, 300)
    square = Image.open(tmp_path / "square.tif")
    square.load()
    assert file_dpi(square) == (300, 150)  # nothing left to tell its turn by: as stored
    # Read without loading it: a 16-bit colour TIFF opened with Pillow (at 8 bits) is still refused.
    deep = tmp_path / "deep.tif"
    tifffile.imwrite(deep, _rng_image((6, 10, 3), 1, np.uint16), photometric="rgb", resolution=(300, 150))
    with pytest.raises(ValueError, match="a 16-bit colour image, which Pillow reads at 8 bits"):
        restore(model, Image.open(deep), tile=None)


def test_jpeg_quality_option(tmp_path, model_dir):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rng_image((24, 24, 3))).save(src / "x.png")
    assert _restore(src, "-o", tmp_path / "q95", "--ext", "jpg", model_dir=model_dir) == 0
    assert _restore(src, "-o", tmp_path / "q30", "--ext", "jpg", "--quality", "30", model_dir=model_dir) == 0
    assert (tmp_path / "q30/x.jpg").stat().st_size < (tmp_path / "q95/x.jpg").stat().st_size
    # --ext is taken in any case, and as jpeg / tiff; a lossless WebP stays lossless as WebP unless a quality is
    # asked (it was ignored without a word)
    assert _restore(src, "-o", tmp_path / "upper", "--ext", "JPEG", model_dir=model_dir) == 0
    assert (tmp_path / "upper/x.jpg").read_bytes() == (tmp_path / "q95/x.jpg").read_bytes()
    Image.open(src / "x.png").save(tmp_path / "w.webp", lossless=True)
    assert _restore(tmp_path / "w.webp", "-o", tmp_path / "kept", "--ext", "webp", model_dir=model_dir) == 0
    assert is_lossless_webp(tmp_path / "kept/w.webp")
    lossy = ("-o", tmp_path / "lossy", "--ext", "webp", "--quality", "30")
    assert _restore(tmp_path / "w.webp", *lossy, model_dir=model_dir) == 0
    assert not is_lossless_webp(tmp_path / "lossy/w.webp")


def test_two_inputs_for_one_output_are_refused_with_a_message(tmp_path, model_dir, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rng_image((6, 6, 3))).save(src / "a.png")
    Image.fromarray(_rng_image((6, 6, 3), 1)).save(src / "a.tif")
    Image.fromarray(_rng_image((6, 6, 3), 2)).save(src / "b.png")
    out = tmp_path / "out"
    assert _restore(src, "-o", out, model_dir=model_dir) == 1
    err = capsys.readouterr().err
    assert f"error: {src / 'a.png'}: output {out.resolve() / 'a.png'} would also be written from {src / 'a.tif'}" in err
    assert err.count("use --ext auto (each output keeps its input's format)") == 2
    assert err.count("would also be written from") == 2
    assert sorted(p.name for p in out.iterdir()) == ["b.png"]  # neither a is written; the rest goes on
    assert _restore(src, "-o", tmp_path / "auto", "--ext", "auto", model_dir=model_dir) == 0
    assert sorted(p.name for p in (tmp_path / "auto").iterdir()) == ["a.png", "a.tif", "b.png"]
    # The same name in two folders: no option of the output format or name parts them.
    (tmp_path / "other").mkdir()
    Image.fromarray(_rng_image((6, 6, 3), 3)).save(tmp_path / "other" / "b.png")
    assert _restore(src / "b.png", tmp_path / "other" / "b.png", "-o", tmp_path / "two", model_dir=model_dir) == 1
    err = capsys.readouterr().err
    assert err.count("restore them into separate -o folders") == 2
    # Named one by one (as a shell expands an unquoted glob): a quoted glob or their folder keeps them apart.
    apart = "pass their common folder with --recursive or a quoted glob, which keep sub-folders apart"
    assert err.count(apart) == 2
    pattern = str(tmp_path / "*" / "b.png")
    assert _restore(pattern, "-o", tmp_path / "globbed", model_dir=model_dir) == 0
    globbed = {str(p.relative_to(tmp_path / "globbed")) for p in (tmp_path / "globbed").rglob("*.png")}
    assert {"in/b.png", "other/b.png"} <= globbed  # beside the outputs of the runs above, which match it too


def test_folds_case_probes_the_file_system_where_the_path_would_be(tmp_path):
    from swinir_hf.storage.paths import folds_case

    (tmp_path / "Out").mkdir()
    assert not folds_case(tmp_path / "Out" / "new" / "deeper")  # this file system tells names apart by case
    (tmp_path / "oUT").symlink_to(tmp_path / "Out")  # what a case-folding one shows: the swapped name, one file
    assert folds_case(tmp_path / "Out" / "new" / "deeper")  # an empty folder: probed by its own name
    (tmp_path / "Out" / "Photo.png").write_bytes(b"")  # an entry inside: probed by it (the folder's own file system)
    assert not folds_case(tmp_path / "Out" / "new")
    (tmp_path / "Out" / "pHOTO.PNG").symlink_to(tmp_path / "Out" / "Photo.png")
    assert folds_case(tmp_path / "Out" / "new")
    (tmp_path / "Out" / "gone").symlink_to(tmp_path / "nowhere")  # a link is no probe: it may point nowhere
    (tmp_path / "Out" / "Photo.png").unlink()
    (tmp_path / "Out" / "pHOTO.PNG").unlink()
    assert folds_case(tmp_path / "Out" / "new")  # by the folder's own name, as when it was empty
    (tmp_path / "123").mkdir()  # no letters in it, nor any entries: probed by its parent's name, without a twin
    assert not folds_case(tmp_path / "123")
    (tmp_path / "123" / "ß").write_bytes(b"")  # not ASCII: "ß".swapcase() is "SS", no name of the same file
    (tmp_path / "123" / "SS").symlink_to(tmp_path / "123" / "ß")
    assert not folds_case(tmp_path / "123")


def test_outputs_that_differ_only_in_case_are_refused_where_the_file_system_folds_case(
    tmp_path, model_dir, capsys, monkeypatch
):
    """Photo.jpg and photo.png restored to PNG are two files here, but one on macOS' and Windows' file systems: the
    second would have replaced the first, each run reporting both written."""
    from swinir_hf.inference import jobs

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rng_image((6, 6, 3))).save(src / "Photo.jpg")
    Image.fromarray(_rng_image((6, 6, 3), 1)).save(src / "photo.png")
    assert _restore(src, "-o", tmp_path / "here", model_dir=model_dir) == 0  # case-sensitive: both written
    assert sorted(p.name for p in (tmp_path / "here").iterdir()) == ["Photo.png", "photo.png"]
    monkeypatch.setattr(jobs, "folds_case", lambda path: True)
    out = tmp_path / "folded"
    assert _restore(src, "-o", out, model_dir=model_dir) == 1
    err = capsys.readouterr().err
    expected = f"output {out.resolve() / 'photo.png'} would also be written from {src / 'Photo.jpg'}: use --ext auto"
    assert expected in err and err.count("would also be written from") == 2
    assert not out.exists() or not any(out.iterdir())
    assert _restore(src, "-o", tmp_path / "auto", "--ext", "auto", model_dir=model_dir) == 0  # Photo.jpg, photo.png


def test_where_case_is_folded_paths_that_differ_only_in_case_are_one_in_every_check(tmp_path, monkeypatch):
    """`restore photos -o photos` of IMG.PNG writes IMG.png, the input itself on such a disk: it was taken for an
    earlier output and left alone (exit 0); `-o Photos/restored` did not see photos/restored's earlier outputs."""
    from swinir_hf.inference import jobs
    from swinir_hf.inference.files import collect_inputs

    photos = tmp_path / "photos"
    (photos / "restored").mkdir(parents=True)
    for name in ("IMG.PNG", "b.png", "restored/b.jpg"):
        Image.fromarray(_rng_image((6, 6, 3))).save(photos / name)
    files = collect_inputs([str(photos)], recursive=True).files
    monkeypatch.setattr(jobs, "folds_case", lambda path: True)
    plan = jobs.plan_jobs(files, photos, OutputOptions())
    assert plan.earlier_outputs == [] and [job.src.name for job in plan.jobs] == ["b.jpg"]
    assert [(src.name, message.split(": ")[0]) for src, message in plan.errors] == [
        ("IMG.PNG", f"output {photos.resolve() / 'IMG.png'} would overwrite an input"),
        ("b.png", f"output {photos.resolve() / 'b.png'} would overwrite an input"),
    ]
    plan = jobs.plan_jobs(files, tmp_path / "Photos" / "restored", OutputOptions())
    assert plan.earlier_outputs == [photos / "restored" / "b.jpg"]
    assert [job.src.name for job in plan.jobs] == ["IMG.PNG", "b.png"]


def test_inputs_that_ext_auto_maps_to_one_output_are_not_told_to_use_it(tmp_path, model_dir, capsys):
    # --ext auto writes a GIF as PNG, so a.gif and a.png collide under it too: suggesting it would not help.
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rng_image((6, 6, 3))).save(src / "a.png")
    Image.fromarray(_rng_image((6, 6, 3), 1)).save(src / "a.gif")
    for ext in ("png", "auto"):
        assert _restore(src, "-o", tmp_path / ext, "--ext", ext, model_dir=model_dir) == 1
        err = capsys.readouterr().err
        assert "--ext auto" not in err
        assert err.count("restore them into separate -o folders") == 2


def test_a_folder_without_files_is_an_error_not_restored_0(tmp_path, model_dir, capsys):
    photos = tmp_path / "photos"
    (photos / "2024").mkdir(parents=True)
    Image.fromarray(_rng_image((6, 6, 3))).save(photos / "2024" / "a.png")
    (photos / ".DS_Store").write_bytes(b"")
    assert _restore(photos, "-o", tmp_path / "out", model_dir=model_dir) == 1
    assert capsys.readouterr().err == (
        f"error: no image files in folder {photos} (pass --recursive for its sub-folders)\n"
    )
    (tmp_path / "empty").mkdir()
    assert _restore(tmp_path / "empty", "-o", tmp_path / "out", model_dir=model_dir) == 1
    assert capsys.readouterr().err == f"error: no image files in folder {tmp_path / 'empty'}\n"
    for name in ("README", "notes.txt", "a.xmp", "b.xmp"):
        (tmp_path / "empty" / name).write_text("not an image")
    assert _restore(tmp_path / "empty", "-o", tmp_path / "out", model_dir=model_dir) == 1
    assert capsys.readouterr().err == (
        f"error: no image files in folder {tmp_path / 'empty'} (only README, a.xmp, b.xmp and 1 more)\n"
    )
    assert _restore(photos, "-o", tmp_path / "out", "--recursive", model_dir=model_dir) == 0
    assert (tmp_path / "out" / "2024" / "a.png").is_file()


def test_a_folder_with_images_says_which_sub_folders_it_skipped_without_recursive(tmp_path, model_dir, capsys):
    """Beside images, a folder's sub-folders were skipped unsaid (the hint to pass --recursive came only where the
    folder held no image); now a note says how many, but not of hidden ones or the run's own -o folder inside it."""
    photos = tmp_path / "photos"
    for sub in ("2023", "2024", ".thumbnails"):
        (photos / sub).mkdir(parents=True)
        Image.fromarray(_rng_image((6, 6, 3))).save(photos / sub / "a.png")
    Image.fromarray(_rng_image((6, 6, 3))).save(photos / "top.png")
    assert _restore(photos, "-o", photos / "restored", model_dir=model_dir) == 0
    said = "note: skipped 2 sub-folders of the input folders (2023 and 2024); pass --recursive to restore the images"
    assert capsys.readouterr().err.count(said) == 1
    assert sorted(p.name for p in (photos / "restored").iterdir()) == ["top.png"]
    (photos / "2023" / "a.png").rename(photos / "2023.png")
    (photos / "2023").rmdir()
    assert _restore(photos, "-o", photos / "restored", "--overwrite", model_dir=model_dir) == 0
    assert "note: skipped 1 sub-folder of the input folders (2024); pass --recursive" in capsys.readouterr().err
    assert _restore(photos, "-o", tmp_path / "all", "--recursive", model_dir=model_dir) == 0
    assert "note: skipped" not in capsys.readouterr().err


def test_jpeg_output_of_transparent_images_warns_once_that_alpha_is_dropped(tmp_path, model_dir, caplog):
    src = tmp_path / "in"
    src.mkdir()
    pixels = _rng_image((6, 6, 4))
    pixels[..., 3] = 255
    Image.fromarray(pixels, "RGBA").save(src / "opaque.png")
    pixels[:3, :, 3] = 0
    Image.fromarray(pixels, "RGBA").save(src / "cutout.png")
    caplog.set_level("WARNING")
    assert _restore(src, "-o", tmp_path / "out", "--ext", "jpg", model_dir=model_dir) == 0
    dropped = [r.getMessage() for r in caplog.records if "alpha" in r.getMessage()]
    out = tmp_path / "out" / "cutout.jpg"
    assert dropped == [f"{out}: JPEG has no transparency, so the alpha channel is dropped (png / webp keep it)"]
    # a folder of cut-outs: said once for the run, not once for each file
    for name in ("cutout2.png", "cutout3.png"):
        Image.fromarray(pixels, "RGBA").save(src / name)
    caplog.clear()
    assert _restore(src, "-o", tmp_path / "all", "--ext", "jpg", model_dir=model_dir) == 0
    dropped = [r.getMessage() for r in caplog.records if "alpha" in r.getMessage()]
    a, b, c = (tmp_path / "all" / f"{name}.jpg" for name in ("cutout", "cutout2", "cutout3"))
    said = "JPEG has no transparency, so their alpha channel is dropped (png / webp keep it)"
    assert dropped == [f"3 outputs ({a}, {b} and {c}): {said}"]


def test_a_symlink_beside_its_target_is_restored_under_both_names(tmp_path, model_dir):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rng_image((6, 6, 3))).save(src / "z.png")
    (src / "a.png").symlink_to("z.png")
    out = tmp_path / "out"
    assert _restore(src, "./" + os.path.relpath(src / "z.png"), "-o", out, model_dir=model_dir) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "z.png"]  # z.png given twice is one input
    # An input that is a symlink to where its output goes is still never overwritten.
    (tmp_path / "link").mkdir()
    (tmp_path / "link" / "z.png").symlink_to(out / "z.png")
    before = (out / "z.png").read_bytes()
    assert _restore(tmp_path / "link", "-o", out, "--overwrite", model_dir=model_dir) == 1
    assert (out / "z.png").read_bytes() == before


def test_a_file_also_named_alone_keeps_its_place_under_its_folder(tmp_path, model_dir):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(_rng_image((6, 6, 3))).save(src / "a.png")
    Image.fromarray(_rng_image((6, 6, 3), 1)).save(src / "sub" / "a.png")
    for order in ((src / "sub" / "a.png", src), (src, src / "sub" / "a.png")):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
        assert _restore(*order, "--recursive", "-o", out, model_dir=model_dir) == 0
        assert sorted(str(p.relative_to(out)) for p in out.rglob("*.png")) == ["a.png", "sub/a.png"]


def test_a_file_where_an_output_sub_folder_goes_is_refused_before_restoring(mixed, tmp_path, model_dir, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sub").write_text("the user's notes")
    assert _restore(mixed, "--recursive", "-o", out, model_dir=model_dir) == 1
    err = capsys.readouterr().err
    target = out.resolve() / "sub" / "same.png"
    assert f"error: {mixed / 'sub' / 'same.png'}: cannot write {target}: {out.resolve() / 'sub'} is a file" in err
    assert "restored 5, failed 1" in err
    assert (out / "sub").read_text() == "the user's notes"


def test_an_input_whose_name_is_near_the_255_byte_limit_is_restored(tmp_path, model_dir):
    src = tmp_path / "in"
    src.mkdir()
    name = "é" * 120 + ".png"  # 244 bytes: the output's own name fits, a temporary name with a prefix would not
    Image.fromarray(_rng_image((6, 6, 3))).save(src / name)
    assert _restore(src, "-o", tmp_path / "out", model_dir=model_dir) == 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == [name]


def test_an_output_folder_that_cannot_be_created_names_the_target_and_why(tmp_path, model_dir, monkeypatch, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rng_image((6, 6, 3))).save(src / "a.png")
    out = tmp_path / "out"

    def refuse(self, *args, **kwargs):  # as a folder without write permission does for a user other than root
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert _restore(src, "-o", out, model_dir=model_dir) == 1
    err = capsys.readouterr().err
    assert (
        f"error: {src / 'a.png'}: cannot write {out.resolve() / 'a.png'}: cannot create folder {out.resolve()} " in err
    )
    assert "(Permission denied)" in err


def test_an_empty_input_file_is_reported_as_empty(tmp_path, model_dir, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.png").write_bytes(b"")  # an interrupted copy
    assert _restore(tmp_path / "in", "-o", tmp_path / "out", model_dir=model_dir) == 1
    assert f"error: {tmp_path / 'in' / 'a.png'}: not a readable image (empty file)\n" in capsys.readouterr().err


def test_the_inputs_are_listed_once(mixed, model_dir, tmp_path, monkeypatch):
    """The command line lists the inputs before the model loads (a typo said at once) and restores that listing: a
    folder of 100k files is not walked twice (seconds each time)."""
    from swinir_hf.inference import files

    named = []
    real_name = files._real_name
    monkeypatch.setattr(files, "_real_name", lambda path: named.append(path) or real_name(path))
    assert _restore(mixed, "-o", tmp_path / "out", model_dir=model_dir) == 0
    assert sorted(path.name for path in named) == ["alpha.png", "deep.tif", "grey.png", "odd.png", "photo.jpg"]


def test_existing_outputs_are_skipped_unless_overwrite(mixed, model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert _restore(mixed / "odd.png", "-o", out, model_dir=model_dir) == 0
    restored = (out / "odd.png").read_bytes()
    capsys.readouterr()
    assert _restore(mixed / "odd.png", "-o", out, model_dir=model_dir) == 0
    assert "restored 0, failed 0, skipped 1 existing (pass --overwrite to replace them)" in capsys.readouterr().err
    (out / "odd.png").write_bytes(b"the user's own file")
    assert _restore(mixed / "odd.png", "-o", out, model_dir=model_dir) == 0
    assert (out / "odd.png").read_bytes() == b"the user's own file"
    unrecorded = "1 without a record of the model that made it: an earlier version's or another program's"
    assert f"restored 0, failed 0, skipped 1 existing ({unrecorded}; --overwrite redoes it)" in capsys.readouterr().err
    assert _restore(mixed / "odd.png", "-o", out, "--overwrite", model_dir=model_dir) == 0
    assert (out / "odd.png").read_bytes() == restored


def test_a_rerun_with_another_model_or_outscale_refuses_the_outputs_it_would_make_otherwise(
    mixed, model_dir, tmp_path, capsys
):
    """Outputs that exist were skipped as done whatever model had made them: a rerun with another model into the
    same -o kept the first model's images and said nothing but "skipped 2 existing"."""
    other = tmp_path / "other-model"
    shutil.copytree(model_dir, other)
    out = tmp_path / "out"
    inputs = (mixed / "odd.png", mixed / "photo.jpg")
    assert _restore(*inputs, "-o", out, model_dir=model_dir) == 0
    first = _hashes(out)
    capsys.readouterr()
    assert _restore(*inputs, "-o", out, model_dir=other) == 1
    err = capsys.readouterr().err
    made = f"error: 2 outputs in {out.resolve()} (odd.png, photo.png) were restored with model {model_dir.resolve()}"
    assert f"{made} (this run: {other.resolve()}): --overwrite replaces them, or choose another -o" in err
    assert "restored 0, failed 2, skipped 0 existing" in err and _hashes(out) == first
    # The same model however named (a relative path) is this run's: its outputs are done.
    relative = os.path.relpath(model_dir)
    assert main(["restore", *map(str, inputs), "-o", str(out), "--model", relative, "--no-progress"]) == 0
    assert "restored 0, failed 0, skipped 2 existing" in capsys.readouterr().err
    assert _restore(mixed / "odd.png", "-o", out, "--outscale", "3", model_dir=model_dir) == 1
    said = "1 output in {} (odd.png) was restored with no --outscale (this run: --outscale 3): --overwrite replaces it"
    assert said.format(out.resolve()) in capsys.readouterr().err
    assert _restore(*inputs, "-o", out, "--overwrite", model_dir=other) == 0
    weights = weights_fingerprint(load_model(other))
    assert read_provenance(out / "odd.png") == Provenance(str(other.resolve()), None, 2, weights)  # the ×2 model's
    # --outscale 2 of a ×2 model makes the same pixels as none: its outputs are done.
    assert _restore(*inputs, "-o", out, "--outscale", "2", model_dir=other) == 0
    assert "restored 0, failed 0, skipped 2 existing" in capsys.readouterr().err
    # A file without a record (the user's own, an older version's) is skipped as before.
    (out / "odd.png").write_bytes(b"the user's own file")
    assert _restore(mixed / "odd.png", "-o", out, model_dir=model_dir) == 0
    assert (out / "odd.png").read_bytes() == b"the user's own file"


@pytest.mark.parametrize(
    "name, image",
    [
        ("a.png", _rng_image((5, 7, 3))),
        ("a.jpg", _rng_image((5, 7, 3))),
        ("a.webp", _rng_image((5, 7, 4))),
        ("a.tif", _rng_image((5, 7))),
        ("deep.png", _rng_image((5, 7, 3), dtype=np.uint16)),  # pypng
        ("deep.tif", _rng_image((5, 7, 3), dtype=np.uint16)),  # tifffile
        ("float.tif", np.random.default_rng(0).random((5, 7, 3), dtype=np.float32)),
    ],
)
def test_every_output_format_records_how_it_was_made_beside_the_inputs_exif(tmp_path, name, image):
    record = Provenance('/models/my "swin" <ir> é', 2.5, 4)  # escaped into ASCII for every slot
    exif = Image.Exif()
    exif[0x0131] = "camera firmware 1.0"  # the input's Software tag: kept as it was
    write_image(tmp_path / name, image, exif=exif.tobytes(), made_by=record.text(), lossless=True)
    assert read_provenance(tmp_path / name) == record
    assert np.array_equal(np.asarray(read_image(tmp_path / name).pixels), image) or name.endswith(".jpg")
    if name in ("a.png", "a.jpg", "a.webp", "deep.png"):
        with Image.open(tmp_path / name) as written:
            assert written.getexif()[0x0131] == "camera firmware 1.0"
    write_image(tmp_path / f"plain-{name}", image)
    assert read_provenance(tmp_path / f"plain-{name}") is None
    assert Provenance.parse("swinir-hf {not json") is None and Provenance.parse('swinir-hf {"model": 1}') is None
    assert Provenance.parse("swinir-hf [1]") is None
    said = Provenance("m", 2.0000001).difference(Provenance("m", 2))
    assert said == "--outscale 2.0000001 (this run: --outscale 2)"  # never "--outscale 2 (this run: --outscale 2)"


@pytest.mark.parametrize(
    "name, opens",
    [("a.png", 1), ("a.jpg", 1), ("a.webp", 1), ("a.tif", 1), ("turned.tif", 1), ("float.tif", 3)],
)
def test_a_rerun_reads_an_existing_outputs_record_and_size_in_one_open(tmp_path, monkeypatch, name, opens):
    """Its record and its size were two reads of its header (two opens, a WebP's chunks walked twice, a TIFF opened by
    tifffile and by Pillow): one now. A float colour TIFF, which Pillow cannot open (nor take for a HEIF), is
    tifffile's: three opens where there were six."""
    import builtins

    from swinir_hf.inference.existing_outputs import Found
    from swinir_hf.inference.jobs import Job

    record = Provenance("sr-x2", 2.5, 2, "0123456789abcdef")
    if name == "turned.tif":  # stored 5 × 7, upright 7 × 5
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.fromarray(_rng_image((7, 5, 3))).save(tmp_path / name, exif=exif, software=record.text())
    else:
        image = np.random.default_rng(0).random((5, 7, 3), dtype=np.float32) if name == "float.tif" else None
        write_image(tmp_path / name, _rng_image((5, 7, 3)) if image is None else image, made_by=record.text())
    Image.fromarray(_rng_image((3, 4, 3))).save(tmp_path / "in.png")
    opened, real_open = [], builtins.open

    def counted(file, *args, **kwargs):
        opened.append(Path(file).name if isinstance(file, (str, os.PathLike)) else None)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counted)
    found = Found.read(Job(tmp_path / "in.png", tmp_path / name))
    assert (found.record, found.size, found.input_size) == (record, (7, 5), (4, 3))
    assert opened.count(name) == opens


def test_an_existing_output_whose_header_cannot_be_read_is_found_without_record_or_size(tmp_path, monkeypatch):
    """A TIFF cut short before its tags (tifffile: IndexError) and a PNG over twice Pillow's pixel limit
    (DecompressionBombError) stopped a rerun's plan with a traceback: their headers are unreadable, as a damaged
    PNG's are."""
    from swinir_hf.inference.existing_outputs import Found
    from swinir_hf.inference.jobs import Job

    record = Provenance("sr-x2", None, 2).text()
    write_image(tmp_path / "whole.tif", _rng_image((5, 7, 3)), made_by=record)
    (tmp_path / "cut.tif").write_bytes((tmp_path / "whole.tif").read_bytes()[:50])
    write_image(tmp_path / "large.png", _rng_image((10, 12, 3)), made_by=record)
    Image.fromarray(_rng_image((3, 4, 3))).save(tmp_path / "in.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)  # refuses over 100 pixels: large.png has 120
    for name in ("cut.tif", "large.png"):
        found = Found.read(Job(tmp_path / "in.png", tmp_path / name))
        assert (found.record, found.size, found.input_size) == (None, None, (4, 3)), name


def test_outputs_record_a_model_the_same_however_it_is_named(model_dir, monkeypatch):
    monkeypatch.chdir(model_dir.parent)
    assert model_label(model_dir.name) == model_label(model_dir) == str(model_dir.resolve())
    assert model_label("sr-x4") == model_label(DEFAULTS_DIR / "sr-x4") == "sr-x4"
    assert model_label("swinir-classical-sr-x4-df2k") == model_label("001_classicalSR_DF2K_s64w8_SwinIR-M_x4")
    assert model_label("org/swinir", revision="v2") == "org/swinir@v2"
    # An absolute path is no bundled model's name (DEFAULTS_DIR / "/abs" is "/abs").
    assert model_label(model_dir.resolve(), weights_key="params") == f"{model_dir.resolve()}#params"


def test_a_rerun_into_an_earlier_versions_folder_checks_each_outputs_size(model_dir, tiny_config, tmp_path, capsys):
    """Outputs without a record (an earlier version's, another program's) were skipped as done whatever the run: a
    ×1 model, or `--outscale 3`, rerun into a ×2 folder said "skipped 3 existing", exit 0. One of another size than
    this run makes is refused now, and the summary counts those it skips without a record."""
    src, out, x1 = tmp_path / "in", tmp_path / "out", tmp_path / "x1"
    src.mkdir()
    out.mkdir()
    for i, (name, (w, h)) in enumerate({"a.png": (6, 5), "b.png": (7, 4), "c.png": (5, 5)}.items()):
        Image.fromarray(_rng_image((h, w, 3), seed=i)).save(src / name)
    Image.fromarray(_rng_image((10, 12, 3))).save(out / "a.png")  # ×2, written without a record
    Image.fromarray(_rng_image((4, 7, 3))).save(out / "b.png")  # another program's ×1
    fix, size = "--overwrite replaces {}, or choose another -o", "made at another size than this run makes"
    assert _restore(src, "-o", out, model_dir=model_dir) == 1
    err = capsys.readouterr().err
    said = f"1 output in {out.resolve()} (b.png) was {size} (b.png: 7×4, this run: 14×8)"
    assert f"error: {said}: {fix.format('it')}" in err
    unrecorded = "1 without a record of the model that made it: an earlier version's or another program's"
    assert f"restored 1, failed 1, skipped 1 existing ({unrecorded}; --overwrite redoes it)" in err
    SwinIRForImageRestoration(tiny_config(upscale=1, upsampler=None)).save_pretrained(x1)
    assert _restore(src, "-o", out, model_dir=x1) == 1  # b.png is the ×1 model's size: skipped
    said = f"1 output in {out.resolve()} (a.png) was {size} (a.png: 12×10, this run: 6×5)"
    assert f"error: {said}: {fix.format('it')}" in capsys.readouterr().err
    assert _restore(src, "-o", out, "--outscale", "3", model_dir=model_dir) == 1
    err = capsys.readouterr().err
    said = "2 outputs in {} (a.png, b.png) were {size} (a.png: 12×10, this run: 18×15)"
    assert f"error: {said.format(out.resolve(), size=size)}: {fix.format('them')}" in err
    assert "restored 0, failed 3, skipped 0 existing" in err  # c.png: its record says no --outscale
    assert _restore(src, "-o", out, "--overwrite", model_dir=model_dir) == 0
    assert _restore(src, "-o", out, model_dir=model_dir) == 0
    assert "restored 0, failed 0, skipped 3 existing (pass --overwrite to replace them)" in capsys.readouterr().err


def test_a_rerun_of_turned_tiffs_skips_their_outputs(model_dir, tmp_path, capsys):
    """A TIFF whose EXIF orientation turns it a quarter: Pillow 12 gives its size upright already, which the size
    check swapped once more, so every rerun refused its output as "made at another size" (26×42, this run: 42×26),
    and --overwrite only remade it to be refused again. Its outputs are skipped as done now, 16-bit ones too."""
    import tifffile

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(_rng_image((13, 21, 3))).save(src / "rot6.tif", exif=exif)
    deep = _rng_image((13, 21, 3), 1, np.uint16)
    tifffile.imwrite(src / "deep8.tif", deep, photometric="rgb", extratags=[(274, "H", 1, 8, True)])
    assert _restore(src, "-o", out, model_dir=model_dir) == 0
    assert {name: Image.open(out / name).size for name in ("rot6.png", "deep8.png")} == {
        "rot6.png": (26, 42),
        "deep8.png": (26, 42),
    }
    capsys.readouterr()
    assert _restore(src, "-o", out, model_dir=model_dir) == 0
    err = capsys.readouterr().err
    assert "error" not in err and "restored 0, failed 0, skipped 2 existing" in err


def test_a_model_retrained_in_place_is_told_from_the_weights_that_made_the_outputs(model_dir, tmp_path, capsys):
    """A local model folder is recorded by its path, a bundled one by its name: new weights under it were skipped as
    done. The record holds the weights' fingerprint now, taken as loaded: the same whatever --dtype runs them."""
    folder, src, out = tmp_path / "model", tmp_path / "in", tmp_path / "out"
    shutil.copytree(model_dir, folder)
    src.mkdir()
    for i, name in enumerate(("a.png", "b.png", "c.png")):
        Image.fromarray(_rng_image((6, 6, 3), seed=i)).save(src / name)
    assert _restore(src / "a.png", src / "b.png", "-o", out, "--dtype", "bfloat16", model_dir=folder) == 0
    model = SwinIRForImageRestoration.from_pretrained(folder)
    recorded = Provenance(str(folder.resolve()), None, 2, weights_fingerprint(model))
    assert read_provenance(out / "a.png") == recorded and len(recorded.text()) < 200
    # The record of the version before, without the weights: compared by the model's name.
    before = Provenance(recorded.model, None, 2)
    write_image(out / "c.png", _rng_image((12, 12, 3)), made_by=before.text().replace(', "weights": null', ""))
    assert read_provenance(out / "c.png") == before
    capsys.readouterr()
    assert _restore(src, "-o", out, "--dtype", "float32", model_dir=folder) == 0
    assert "restored 0, failed 0, skipped 3 existing (pass --overwrite to replace them)" in capsys.readouterr().err
    first = _hashes(out)
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    model.save_pretrained(folder)  # retrained in place
    assert _restore(src, "-o", out, model_dir=folder) == 1  # nothing to restore: the model loaded to be checked
    err = capsys.readouterr().err
    said = f"2 outputs in {out.resolve()} (a.png, b.png) were restored with other weights of {folder.resolve()}"
    assert f"error: {said}: --overwrite replaces them, or choose another -o" in err
    assert "restored 0, failed 2, skipped 1 existing" in err and _hashes(out) == first
    assert _restore(src, "-o", out, "--overwrite", model_dir=folder) == 0
    assert read_provenance(out / "a.png") == Provenance(recorded.model, None, 2, weights_fingerprint(model))
    assert _restore(src, "-o", out, model_dir=folder) == 0
    assert "restored 0, failed 0, skipped 3 existing" in capsys.readouterr().err


def test_restore_and_eval_take_the_weights_key_their_errors_ask_for(model_dir, tmp_path, capsys):
    """A checkpoint of one's own training with its weights under another key: the error said "pass --weights-key
    generator", which only `convert` took."""
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    checkpoint, src, hr = tmp_path / "run.pth", tmp_path / "a.png", tmp_path / "hr"
    torch.save({"generator": model.state_dict(), "step": 5}, checkpoint)
    Image.fromarray(_rng_image((8, 8, 3))).save(src)
    hr.mkdir()
    Image.fromarray(_rng_image((16, 16, 3))).save(hr / "b.png")
    restore_args = ["restore", str(src), "--model", str(checkpoint), "--no-progress"]
    assert main([*restore_args, "-o", str(tmp_path / "out")]) == 1
    assert "if 'generator' holds them, pass --weights-key generator" in capsys.readouterr().err
    assert main([*restore_args, "-o", str(tmp_path / "out"), "--weights-key", "generator"]) == 0
    assert _restore(src, "-o", tmp_path / "plain", model_dir=model_dir) == 0
    assert np.array_equal(
        np.asarray(Image.open(tmp_path / "out" / "a.png")), np.asarray(Image.open(tmp_path / "plain" / "a.png"))
    )
    weights = weights_fingerprint(load_model(checkpoint, weights_key="generator"))
    assert read_provenance(tmp_path / "out" / "a.png") == Provenance(
        f"{checkpoint.resolve()}#generator", None, 2, weights
    )
    eval_args = ["eval", "--model", str(checkpoint), "--dataset", str(hr), "--no-progress"]
    assert main([*eval_args, "--weights-key", "generator"]) == 0
    assert "| mean | run.pth |" in capsys.readouterr().out
    # For a model that is no checkpoint file, the option is refused before anything loads.
    file = "an authors' checkpoint file (.pth / .safetensors)"
    assert _restore(src, "-o", tmp_path / "o", "--weights-key", "generator", model_dir=model_dir) == 2
    assert f"--weights-key generator is for {file}, and --model {model_dir} is not one" in capsys.readouterr().err
    assert main(["eval", "--model", "sr-x2", "--dataset", str(hr), "--weights-key", "generator"]) != 0
    assert f"--weights-key generator is for {file}, and none of --model is one" in capsys.readouterr().err


def test_a_folder_where_an_output_goes_is_an_error_not_an_existing_output(mixed, model_dir, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "odd.png").mkdir(parents=True)
    for extra in ([], ["--overwrite"]):
        assert _restore(mixed / "odd.png", "-o", out, *extra, model_dir=model_dir) == 1
        err = capsys.readouterr().err
        assert f"error: {mixed / 'odd.png'}: output {out.resolve() / 'odd.png'} is a folder: move it" in err
        assert "restored 0, failed 1, skipped 0 existing" in err


def test_a_fifo_where_an_output_goes_is_an_error_not_an_existing_output(mixed, model_dir, tmp_path, capsys):
    """A FIFO (or socket, or device) at an output's name was counted as an earlier output and skipped, exit 0."""
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "odd.png")
    assert _restore(mixed / "odd.png", "-o", out, model_dir=model_dir) == 1
    err = capsys.readouterr().err
    problem = "is not a regular file (a FIFO, a socket or a device): move it, or --overwrite replaces it"
    assert f"output {out.resolve() / 'odd.png'} {problem}" in err
    assert "restored 0, failed 1, skipped 0 existing" in err
    assert _restore(mixed / "odd.png", "-o", out, "--overwrite", model_dir=model_dir) == 0  # asked: replaced
    assert (out / "odd.png").is_file()


def test_rerun_into_the_input_folder_leaves_its_own_outputs_alone(mixed, model_dir, capsys):
    args = (mixed / "odd.png", mixed / "grey.png", "-o", mixed, "--suffix", "_x2")
    assert _restore(*args, model_dir=model_dir) == 0
    before = _hashes(mixed)
    capsys.readouterr()
    assert _restore(mixed, "-o", mixed, "--suffix", "_x2", model_dir=model_dir) == 0
    err = capsys.readouterr().err
    assert "not re-processing 2 earlier outputs (grey_x2.png, odd_x2.png)" in err
    assert "skipped 2 existing" in err and not list(mixed.glob("*_x2_x2*"))
    # An earlier run with another --ext is recognised too.
    assert _restore(mixed, "-o", mixed, "--suffix", "_x2", "--ext", "jpg", model_dir=model_dir) == 0
    assert not list(mixed.glob("*_x2_x2*"))
    assert {k: v for k, v in _hashes(mixed).items() if k in before} == before


def test_pipelined_batched_loop_matches_the_engine(mixed, model_dir, tmp_path):
    """Read-ahead / write-behind threads and same-size batches give what one `restore` call per file gives."""
    out = tmp_path / "out"
    assert _restore(mixed, "-o", out, "--recursive", "--batch-size", "4", "--workers", "3", model_dir=model_dir) == 0
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    for name in ("odd.png", "alpha.png", "grey.png", "sub/same.png"):
        expected = np.asarray(restore(model, mixed / name, tile=None), dtype=np.int16)
        got = np.asarray(Image.open(out / name), dtype=np.int16)
        # One forward over a batch may round differently from one per image, by at most one grey level.
        assert np.abs(got - expected).max() <= 1, name
    same_size = tmp_path / "same"
    same_size.mkdir()
    for i in range(5):
        Image.fromarray(_rng_image((8, 8, 3), 10 + i)).save(same_size / f"{i}.png")
    one, batched = tmp_path / "one", tmp_path / "batched"
    assert _restore(same_size, "-o", one, "--batch-size", "1", "--workers", "1", model_dir=model_dir) == 0
    assert _restore(same_size, "-o", batched, "--batch-size", "4", model_dir=model_dir) == 0
    a = {p.name: np.asarray(Image.open(p), dtype=np.int16) for p in one.iterdir()}
    b = {p.name: np.asarray(Image.open(p), dtype=np.int16) for p in batched.iterdir()}
    assert a.keys() == b.keys() and all(np.abs(a[k] - b[k]).max() <= 1 for k in a)


def test_alpha_option_of_the_command_line(mixed, model_dir, tmp_path):
    """`--alpha bicubic` resizes the alpha channel; by default the model upscales it, also before `--outscale`'s
    resize (then bicubic from the model's output), and in a batch."""
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    src = mixed / "alpha.png"
    for option in ("model", "bicubic"):
        out = tmp_path / option
        assert _restore(src, "-o", out, "--alpha", option, model_dir=model_dir) == 0
        expected = np.asarray(restore(model, src, tile=None, alpha=option))
        np.testing.assert_array_equal(np.asarray(Image.open(out / "alpha.png")), expected)
    model_alpha = np.asarray(Image.open(tmp_path / "model" / "alpha.png"))[..., 3].astype(int)
    assert np.abs(model_alpha - np.asarray(Image.open(tmp_path / "bicubic" / "alpha.png"))[..., 3]).max() > 8
    resized = tmp_path / "resized"
    assert _restore(src, "-o", resized, "--outscale", "3", model_dir=model_dir) == 0
    expected = Image.fromarray(model_alpha.astype(np.float32) / 255).resize((39, 27), Image.Resampling.BICUBIC)
    got = np.asarray(Image.open(resized / "alpha.png"))[..., 3] / 255
    np.testing.assert_allclose(got, np.clip(np.asarray(expected), 0, 1), atol=1.5 / 255)  # 8-bit roundings


def test_padding_option_of_the_command_line(mixed, model_dir, tmp_path):
    """`--padding authors` gives `restore(..., padding="authors")`'s pixels (the authors' test script's) for every
    kind of input, in batches too; the default is the model's own padding, which differs at the edges."""
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    for padding in ("authors", "model"):
        out = tmp_path / padding
        assert (
            _restore(mixed, "-o", out, "-t", "0", "--padding", padding, "--batch-size", "2", model_dir=model_dir) == 0
        )
        for src in (mixed / "odd.png", mixed / "alpha.png", mixed / "grey.png", mixed / "deep.tif"):
            expected = np.asarray(restore(model, src, tile=None, padding=padding))
            np.testing.assert_array_equal(np.asarray(read_image(out / f"{src.stem}.png").pixels), expected)
    assert _restore(mixed, "-o", tmp_path / "default", "-t", "0", model_dir=model_dir) == 0
    assert _hashes(tmp_path / "default") == _hashes(tmp_path / "model") != _hashes(tmp_path / "authors")


def test_a_batch_of_images_with_alpha_upscales_their_alphas_in_one_pass(tmp_path, model_dir, monkeypatch):
    """`--batch-size 4` on four same-size RGBA images (one opaque): two forward passes, the colours' and the three
    varying alphas', each image as restored alone."""
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        rgba = _rng_image((9, 13, 4), 20 + i)
        rgba[..., 3] = 255 if i == 2 else rgba[..., 3]
        Image.fromarray(rgba, "RGBA").save(src / f"{i}.png")
    forward, calls = SwinIRForImageRestoration.forward, []

    def counted(self, pixel_values, *args, **kwargs):
        calls.append(pixel_values.shape[0])
        return forward(self, pixel_values, *args, **kwargs)

    monkeypatch.setattr(SwinIRForImageRestoration, "forward", counted)
    assert _restore(src, "-o", tmp_path / "out", "--batch-size", "4", "--tile", "0", model_dir=model_dir) == 0
    assert calls == [4, 3]
    monkeypatch.setattr(SwinIRForImageRestoration, "forward", forward)
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    for i in range(4):
        expected = np.asarray(restore(model, src / f"{i}.png", tile=None), dtype=np.int16)
        got = np.asarray(Image.open(tmp_path / "out" / f"{i}.png"), dtype=np.int16)
        assert np.abs(got - expected).max() <= 1, i  # a batch may round differently, by one level at most


def test_a_datasets_image_with_alpha_gets_the_engines_alpha(model_dir):
    """A restorer's call (each row of `--dataset`) upscales the alpha as the engine does, before an outscale resize."""
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    image = Image.fromarray(_rng_image((9, 13, 4), 2), "RGBA")
    restorer = SwinIRRestorer(model, tile=None)
    big = np.asarray(restorer(image))[..., 3].astype(np.float32) / 255
    expected = np.asarray(Image.fromarray(big).resize((39, 27), Image.Resampling.BICUBIC)).clip(0, 1)
    got = np.asarray(restorer(image, outscale=3))[..., 3] / 255
    np.testing.assert_allclose(got, expected, atol=1.5 / 255)  # 8-bit roundings


def test_bad_input_counts_once_and_the_rest_go_on(mixed, model_dir, tmp_path, capsys):
    (mixed / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(50))
    out = tmp_path / "out"
    assert _restore(mixed, "-o", out, "--workers", "2", model_dir=model_dir) == 1
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "broken.png" in err
    assert "restored 5, failed 1" in err


def _launch(*args, processes: int, precision: str = "no") -> subprocess.CompletedProcess:
    launcher = str(Path(sys.executable).parent / "accelerate")
    cmd = [launcher, "launch", "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1"]
    cmd += ["--main_process_port", "0"]  # any free port: another test may be launching beside this one
    cmd += ["--mixed_precision", precision, "--dynamo_backend", "no", "-m", "swinir_hf.restore", *map(str, args)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)


def _swinir_hf_launch(*args, processes: int) -> subprocess.CompletedProcess:
    """`swinir-hf restore --multi_gpu --num_processes N ARGS`: the command's own launch of `_launch`'s processes."""
    command = [str(Path(sys.executable).parent / "swinir-hf"), "restore", "--multi_gpu", "--num_processes"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*command, str(processes), *map(str, args)], capture_output=True, text=True, timeout=240, env=env
    )


# A launched process as `python -m swinir_hf.restore` starts (its entry's imports), then waiting; it writes its PID.
_LAUNCHED = (
    "import os, sys, time\n"
    "from swinir_hf.interrupts import entry_imports\n"
    "with entry_imports('__main__'):\n"
    "    pass\n"
    "open(sys.argv[1], 'w').write(str(os.getpid()))\n"
    "time.sleep(120)\n"
)


def _gone(pid: int) -> bool:
    """Whether process `pid` has ended (a zombie that its new parent has not reaped yet has too)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_launched_process_stops_when_its_launcher_is_killed(tmp_path, wait_until):
    """`kill -9` of `swinir-hf restore --multi_gpu ...` stops its processes: torchrun starts each in a session of
    its own, which no signal to the launcher reached, and they went on restoring, orphaned. A stand-in launcher
    starts one as the real one does (its PID in the environment, a new session) and is killed."""
    ready = tmp_path / "pid"
    launcher_code = (
        "import os, subprocess, sys, time\n"
        "os.environ['SWINIR_LAUNCHER_PID'] = str(os.getpid())\n"
        "subprocess.Popen([sys.executable, '-c', sys.argv[1], sys.argv[2]], start_new_session=True)\n"
        "time.sleep(120)\n"
    )
    launcher = subprocess.Popen([sys.executable, "-c", launcher_code, _LAUNCHED, str(ready)])
    pid = None
    try:
        wait_until(lambda: ready.exists() and ready.read_text(), 60, "the launched process started")
        pid = int(ready.read_text())
        launcher.kill()
        launcher.wait(timeout=30)
        wait_until(lambda: _gone(pid), 20, "the launched process stopped with its launcher")
    finally:
        launcher.kill()
        launcher.wait(timeout=30)
        if pid is not None and not _gone(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_process_whose_launcher_died_before_it_started_stops(tmp_path):
    """A process started by a launcher that died before the process could ask to be told (`SWINIR_LAUNCHER_PID`
    no longer its parent) stops at once, by SIGTERM, rather than running on alone."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, timeout=60)
    env = {**os.environ, "SWINIR_LAUNCHER_PID": dead.stdout.decode().strip()}
    run = subprocess.run([sys.executable, "-c", _LAUNCHED, str(tmp_path / "pid")], env=env, timeout=60)
    assert run.returncode == -signal.SIGTERM
    assert not (tmp_path / "pid").exists()


@pytest.mark.slow
def test_two_processes_match_one_and_a_rerun_does_no_work(mixed, model_dir, tmp_path):
    """Two processes restore what one does; a rerun restores only what is missing. One launch (the slow part) checks
    both: `swinir-hf restore`'s own launch into a folder that holds two of one process's outputs (as a run preempted
    after them), with a file that cannot be decoded: the two outputs are kept, the other four restored over both
    processes as one process restores them, the bad file reported and skipped, exit status 1 (as in one process) with
    one summary and no launcher traceback."""
    one, two = tmp_path / "one", tmp_path / "two"
    options = ["--recursive", "--ext", "auto", "--model", model_dir, "--no-progress"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each launched process runs (OMP_NUM_THREADS=1)
    try:
        assert main(["restore", str(mixed), "-o", str(one), *map(str, options)]) == 0
    finally:
        torch.set_num_threads(threads)
    assert len(_hashes(one)) == 6
    kept = {"odd.png", "sub/same.png"}
    for name in kept:
        (two / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(one / name, two / name)
    mtimes = {p: p.stat().st_mtime_ns for p in two.rglob("*") if p.is_file()}
    # Four jobs left and the bad file: every r-th of them for process r, so both restore some (`restore_collection`).
    (mixed / "broken.png").write_text("not an image")
    again = _swinir_hf_launch(mixed, "-o", two, *options, processes=2)
    assert again.returncode == 1, again.stderr[-3000:]
    assert again.stderr.count("restored 4, failed 1, skipped 2 existing") == 1, again.stderr[-3000:]
    assert "images/s, 2 processes)" in again.stderr  # one summary, from the main process, of both processes' work
    assert again.stderr.count("error:") == 1 and "broken.png" in again.stderr, again.stderr[-3000:]
    assert "Traceback" not in again.stderr and "ChildFailedError" not in again.stderr, again.stderr[-3000:]
    assert "values were not passed to `accelerate launch`" not in again.stderr  # no launcher note of its defaults
    assert _hashes(two) == _hashes(one)  # the weights' fingerprint in the records too: every process's the same
    assert not [p for p in two.rglob(".swinir-*")]  # no temporary files left behind
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())  # the kept outputs are skipped, not redone
    # A rerun with nothing left makes these launches' collectives with `load` for `build`: in-process, each rank, in
    # test_a_rerun_with_nothing_left_loads_the_model_on_every_process_main_first. `accelerate launch -m
    # swinir_hf.restore` itself (`_launch`): test_two_processes_restore_a_dataset_as_one_does and the user error's.


@pytest.mark.parametrize("main_process", [True, False])
def test_a_rerun_with_nothing_left_loads_the_model_on_every_process_main_first(
    main_process, mixed, model_dir, tmp_path, monkeypatch, capsys
):
    """Every output there: no engine is built, the model is loaded for its weights' fingerprint alone on every
    process of a launch, through `main_first` (the main process first, and the collectives every process makes);
    exit status 0 on all, the summary from the main process alone."""
    from types import SimpleNamespace

    from swinir_hf.inference import collection, collection_cli

    out, options = tmp_path / "out", ["--recursive", "--ext", "auto"]
    assert _restore(mixed, "-o", out, *options, model_dir=model_dir) == 0
    finished = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    capsys.readouterr()
    state = SimpleNamespace(
        is_main_process=main_process, is_local_main_process=main_process, process_index=0 if main_process else 1,
        num_processes=1, device="cpu",
    )  # fmt: skip
    for module in (collection, collection_cli):
        monkeypatch.setattr(module, "process_state", lambda device=None: state)
    monkeypatch.setenv("RANK", "0" if main_process else "1")
    main_first, ranks = collection.main_first, []

    def recorded(work, state):
        ranks.append(state.process_index)
        return main_first(work, state)

    monkeypatch.setattr(collection, "main_first", recorded)
    monkeypatch.setattr(collection.ModelEngine, "build", lambda *args, **kwargs: pytest.fail("an engine was built"))
    assert _restore(mixed, "-o", out, *options, model_dir=model_dir) == 0
    assert ranks == [state.process_index]  # the model loaded once, through main_first, on this process too
    err = capsys.readouterr().err
    assert "restored 0, failed 0, skipped 6 existing (pass" in err if main_process else err == ""
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == finished


@pytest.mark.slow
def test_two_processes_restore_a_dataset_as_one_does(model_dir, tmp_path, monkeypatch):
    """`restore --dataset` under `accelerate launch` was refused (every process would have restored the whole dataset
    into one folder). Now each process restores every other part of 16 rows, and the main process saves them as one
    dataset: the one a single process makes (one thread each); -o's checks are said once, by the main process."""
    import datasets

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    folder = tmp_path / "imagefolder"
    folder.mkdir()
    for i in range(20):  # two parts: rows 0-15 for the main process, 16-19 for the other
        Image.fromarray(_rng_image((6 + i % 3, 7, 3), i)).save(folder / f"{i:02d}.png")
    one, two = tmp_path / "one", tmp_path / "two"
    options = ["--dataset", f"imagefolder:{folder}", "--model", str(model_dir), "--no-progress"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each launched process runs (OMP_NUM_THREADS=1)
    try:
        assert main(["restore", *options, "-o", str(one)]) == 0
    finally:
        torch.set_num_threads(threads)
    done = _launch(*options, "-o", two, processes=2)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("restored 20 images of ") == 1  # one line, from the main process
    alone, shared = datasets.load_from_disk(str(one)), datasets.load_from_disk(str(two))
    assert len(shared) == 20 and not (two / ".restored-parts").exists()
    for a, b in zip(alone, shared, strict=True):
        assert np.array_equal(np.asarray(a["image"]), np.asarray(b["image"]))
    # A stream: each process reads it all and restores every other part; the same dataset again.
    streamed = _launch(*options, "--streaming", "-o", tmp_path / "streamed", processes=2)
    assert streamed.returncode == 0 and streamed.stderr.count("restored 20 images of ") == 1, streamed.stderr[-3000:]
    for a, b in zip(alone, datasets.load_from_disk(str(tmp_path / "streamed")), strict=True):
        assert np.array_equal(np.asarray(a["image"]), np.asarray(b["image"]))
    # Another restoration into `two` is said once too, as each process meets it: in-process, each rank, in
    # test_a_dataset_restored_already_is_said_by_the_main_process_only (a launch of it showed nothing more).
    # An image that cannot be read in the other process's part: one error line, and the main process's part is kept.
    (folder / "17.png").write_bytes((folder / "17.png").read_bytes()[:60])
    options[1] = f"imagefolder:{folder}/"  # another spec: the dataset's cache, made before the cut, is not reused
    failed = _launch(*options, "-o", tmp_path / "three", processes=2)
    # (then the launcher's own report of the failed processes, as for files)
    assert failed.returncode == 1 and "[rank1]" not in failed.stderr and "swinir_hf/" not in failed.stderr
    broken = f"error: row 17 of the dataset ({folder / '17.png'}) cannot be decoded: not a readable image (image file "
    broken += "is truncated)"
    assert failed.stderr.count("error: ") == 1 and broken in failed.stderr, failed.stderr[-3000:]
    assert len(list((tmp_path / "three" / ".restored-parts").glob("part-000000000-*.arrow"))) == 1


@pytest.mark.slow
def test_two_processes_a_user_error_is_one_line_from_the_main_process(mixed, tmp_path):
    """The main process loads first; its error must reach the other process, not leave it dying at the barrier,
    and be printed once, not once per process. The launcher's --mixed_precision bf16 reaches the processes as the
    variable that restore reads (with --dtype: a note, once; without, the refusal of
    test_restore_and_eval_launched_by_accelerate_refuse_its_mixed_precision, in-process)."""
    missing = tmp_path / "no_model"
    args = [mixed, "-o", tmp_path / "out", "--model", missing, "--no-progress", "--dtype", "bf16"]
    done = _launch(*args, processes=2, precision="bf16")
    assert done.returncode == 1
    assert done.stderr.count(f"error: {missing} does not exist") == 1
    note = "note: accelerate launch's --mixed_precision bf16 (or accelerate config's) is for training, which this "
    note += "command does not read: it runs at the --dtype given, bfloat16\n"
    assert done.stderr.count(note) == 1, done.stderr[-3000:]
    assert "[rank1]" not in done.stderr and "Connection closed" not in done.stderr
    assert not (tmp_path / "out").exists()
    # An input that does not exist is found before the model loads, by every process alike: in-process, each rank, in
    # test_user_errors_are_printed_by_the_main_process_only.


@pytest.mark.parametrize("main_process", [True, False])
def test_a_dataset_restored_already_is_said_by_the_main_process_only(
    main_process, model_dir, tmp_path, monkeypatch, capsys
):
    """A rerun into an -o that holds the dataset restored, as each process of a launch runs it: exit status 0 on all
    of them, the main process says there is nothing to do, the others say nothing."""
    from types import SimpleNamespace

    import datasets

    from swinir_hf.inference import collection_cli

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    folder = tmp_path / "imagefolder"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(_rng_image((6, 7, 3), i)).save(folder / f"{i}.png")
    out = tmp_path / "out"
    args = ["--dataset", f"imagefolder:{folder}", "-o", out]
    assert _restore(*args, model_dir=model_dir) == 0
    finished = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    state = SimpleNamespace(
        is_main_process=main_process, is_local_main_process=main_process, process_index=0 if main_process else 1,
        num_processes=1, device="cpu",
    )  # fmt: skip
    monkeypatch.setattr(collection_cli, "process_state", lambda device=None: state)
    monkeypatch.setenv("RANK", "0" if main_process else "1")  # whose user errors are said (`is_main_process`)
    assert _restore(*args, model_dir=model_dir) == 0
    said = f"{out} holds imagefolder:{folder} restored already, by this model with these options (2 images): nothing"
    err = capsys.readouterr().err
    assert (err.startswith(said) and err.count("\n") == 1) if main_process else err == ""
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == finished
    # Another restoration into it (--outscale 2): exit status 1 on every process, one error line from the main one.
    assert _restore(*args, "--outscale", "2", model_dir=model_dir) == 1
    err = capsys.readouterr().err
    said = f"error: {out} holds imagefolder:{folder} restored by {model_dir} (another dataset, model or options than"
    assert (err.startswith(said) and err.count("\n") == 1) if main_process else err == ""
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == finished


@pytest.mark.parametrize("local_main", [True, False])
def test_transformers_loading_bar_is_shown_where_the_restore_bar_is(
    local_main, model_dir, tmp_path, monkeypatch, capsys
):
    """Every process of a launch loads the model: each one printed transformers' "Loading weights" bar (8 processes,
    8 bars interleaved on stderr), where the restore bar is the local main process's alone."""
    from types import SimpleNamespace

    from swinir_hf.inference import collection
    from swinir_hf.inference.jobs import OutputOptions

    state = SimpleNamespace(
        is_main_process=local_main, is_local_main_process=local_main, process_index=0, num_processes=1, device="cpu"
    )
    monkeypatch.setattr(collection, "process_state", lambda device=None: state)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: bars (elsewhere lines, no library's bar)
    (tmp_path / "in").mkdir()
    Image.fromarray(_rng_image((8, 8, 3))).save(tmp_path / "in" / "a.png")
    engine = collection.ModelEngine(model=str(model_dir), tile=None)
    summary = collection.restore_files([tmp_path / "in"], tmp_path / "out", engine, OutputOptions(), progress=True)
    assert summary.restored == 1
    err = capsys.readouterr().err
    assert ("Loading weights" in err) is local_main and ("restore:" in err) is local_main


def test_a_count_below_1_is_named_alone(mixed, model_dir, tmp_path, capsys):
    """`--workers 0` was told "--batch-size and --workers must be at least 1", naming an option it had right."""
    for option, value in (("--workers", "0"), ("--workers", "-2"), ("--batch-size", "0")):
        assert _restore(mixed, "-o", tmp_path / "out", option, value, model_dir=model_dir) == 2
        assert capsys.readouterr().err == f"swinir-hf restore: error: {option} must be at least 1, got {value}\n"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("rank", ["0", "1"])
def test_user_errors_are_printed_by_the_main_process_only(rank, mixed, model_dir, tmp_path, monkeypatch, capsys):
    # Every process of a launch parses the same command line and checks the same inputs: only rank 0 says so.
    monkeypatch.setenv("RANK", rank)
    shown = rank == "0"
    assert _restore(mixed, "-o", tmp_path / "out", "--batch-size", "0", model_dir=model_dir) == 2
    expected = "swinir-hf restore: error: --batch-size must be at least 1, got 0\n"
    assert capsys.readouterr().err == (expected if shown else "")
    assert _restore(mixed, "-o", tmp_path / "out", "--device", "gpu0", model_dir=model_dir) == 1
    assert capsys.readouterr().err.startswith("error: unknown device 'gpu0'") is shown
    for command in (main, restore_main):  # argparse's usage and error, exit status 2
        args = ["restore"] * (command is main) + [str(mixed), "-o", str(tmp_path / "out"), "--tile", "big"]
        with pytest.raises(SystemExit) as exit_:
            command(args)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        bad_tile = (
            "argument -t/--tile: tile must be a number of pixels (0 or none: the whole image) or 'auto', got 'big'"
        )
        assert (bad_tile in err) is shown
        assert err.count("usage:") == shown
    # Out-of-range numbers too, named by their option (the engine's message offered None, which no option takes).
    for option, value, message in (
        ("-t/--tile", "-1", "tile must be a number of pixels (0 or none: the whole image) or 'auto', got '-1'"),
        ("--tile-overlap", "-3", "tile overlap must be a number of pixels (0 or more), got '-3'"),
    ):
        with pytest.raises(SystemExit):
            restore_main([str(mixed), "-o", str(tmp_path / "out"), option.split("/")[-1], value])
        assert (f"error: argument {option}: {message}" in capsys.readouterr().err) is shown
    # An input that does not exist: found before the model loads (every process alike), said once.
    assert _restore(tmp_path / "nothing", "-o", tmp_path / "out", model_dir=model_dir) == 1
    expected = f"error: no such file, folder or matching files: {tmp_path / 'nothing'}\n"
    assert capsys.readouterr().err == (expected if shown else "")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("rank", ["0", "1"])
def test_an_interrupt_is_reported_by_the_main_process_only(rank, mixed, tmp_path, monkeypatch, capsys):
    # The launcher passes Ctrl-C on to every process: each stops with 130, only rank 0 says so. Stopped before rank 0
    # wrote an output, it cannot say that there are finished outputs (it did: "finished outputs are kept"), nor that
    # there are none: the other process's are not known to it.
    from swinir_hf.inference import collection_cli

    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(collection_cli, "_run", lambda args: _raise(KeyboardInterrupt()))
    assert restore_main([str(mixed), "-o", str(tmp_path / "out"), "--no-progress"]) == 130
    expected = (
        "interrupted: any outputs the other processes finished are kept; run the same command again to do the rest\n"
    )
    assert capsys.readouterr().err == (expected if rank == "0" else "")


def _raise(err: BaseException):
    raise err


def test_dataset_round_trip(tmp_path, model_dir, monkeypatch, capsys):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    folder = tmp_path / "imagefolder"
    folder.mkdir()
    for i, shape in enumerate([(6, 9, 3), (10, 7, 3), (8, 8)]):
        Image.fromarray(_rng_image(shape, i)).save(folder / f"{i}.png")
    out = tmp_path / "restored_ds"
    args = ["--dataset", f"imagefolder:{folder}", "-o", out, "--outscale", "3"]
    assert _restore(*args, model_dir=model_dir) == 0
    restored = datasets.load_from_disk(str(out))
    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    assert len(restored) == 3 and isinstance(restored.features["image"], datasets.Image)
    source = datasets.load_dataset("imagefolder", data_dir=str(folder), split="train")
    restorer = SwinIRRestorer(model, tile=None)
    for original, row in zip(source, restored, strict=True):
        image = original["image"]
        assert row["image"].size == (3 * image.width, 3 * image.height) and row["image"].mode == image.mode
        # Exactly the engine's output for that image (PNG in the dataset: lossless).
        assert np.array_equal(np.asarray(row["image"]), np.asarray(restorer(image, outscale=3)))
    assert json.loads((out / "restoration.json").read_text())["dataset"] == f"imagefolder:{folder}"
    capsys.readouterr()
    finished = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    assert _restore(*args, model_dir=model_dir) == 0  # the same command again: nothing to do, nothing written
    assert capsys.readouterr().err == (
        f"{out} holds imagefolder:{folder} restored already, by this model with these options (3 images): nothing to "
        "do (--overwrite restores it again)\n"
    )
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == finished
    # nor with another batch size, or the model named by another path: the same dataset would be made
    again = ["--dataset", f"imagefolder:{folder}", "-o", out, "--outscale", "3", "--batch-size", "2"]
    assert main(["restore", *map(str, again), "--model", f"{model_dir}/", "--no-progress"]) == 0
    assert "restored already" in capsys.readouterr().err
    assert _restore(*args, "--outscale", "2", model_dir=model_dir) == 1  # another restoration needs --overwrite
    assert capsys.readouterr().err == (
        f"error: {out} holds imagefolder:{folder} restored by {model_dir} (another dataset, model or options than "
        "these): pass --overwrite to replace the dataset in it, or choose another -o\n"
    )
    assert _restore(*args, "--streaming", model_dir=model_dir) == 1
    assert "(a stream cannot be matched with it before it is read again): pass --overwrite" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert _restore(*args[:-4], "-o", other, model_dir=model_dir) == 1  # not a restored dataset's folder
    assert (
        capsys.readouterr().err
        == f"error: {other} exists and is not empty; pass --overwrite to replace the dataset in it\n"
    )

    # --overwrite stopped by SIGTERM while it saves: the earlier dataset stays whole (saved aside, moved in at the end)
    parts = out / ".restored-parts"

    def dataset_files():  # and nothing else of OUT's, parts aside
        return {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and parts not in p.parents}

    before = dataset_files()
    save = datasets.Dataset.save_to_disk

    def save_then_stop(self, path, **kwargs):
        save(self, path, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(datasets.Dataset, "save_to_disk", save_then_stop)
    assert _restore(*args, "--outscale", "2", "--overwrite", model_dir=model_dir) == 143
    expected = (
        f"terminated (SIGTERM): {out} is as it was; the images restored so far are kept in {parts}: the same command "
        "goes on from there\n"
    )
    assert capsys.readouterr().err.endswith(expected)
    assert dataset_files() == before and len(list(parts.glob("part-*.arrow"))) == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # nothing left aside
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [parts.name]

    # --overwrite on a full disk: one line naming the folder (fsspec's OSError traceback before), the dataset whole
    def no_space(self, path, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(datasets.Dataset, "save_to_disk", no_space)
    assert _restore(*args, "--outscale", "2", "--overwrite", model_dir=model_dir) == 1
    assert capsys.readouterr().err.endswith(f"error: cannot write {out}: No space left on device\n")
    assert dataset_files() == before
    monkeypatch.setattr(datasets.Dataset, "save_to_disk", save)
    (out / "notes.txt").write_text("mine")  # --overwrite replaces the dataset's files, nothing else
    assert _restore(*args, "--outscale", "2", "--overwrite", model_dir=model_dir) == 0
    assert "going on from an interrupted run: 3 of 3 images were restored" in capsys.readouterr().err
    assert datasets.load_from_disk(str(out))[0]["image"].size == (18, 12)
    assert not parts.exists()  # gone once the dataset is saved
    assert (out / "notes.txt").read_text() == "mine"


def test_a_stopped_dataset_run_goes_on_from_the_parts_it_finished(
    tmp_path, model_dir, monkeypatch, capsys, stop_restoring
):
    """`restore --dataset` stopped part-way kept nothing: the same command restored the whole dataset again. Now the
    parts it finished are kept in OUT/.restored-parts, the same command restores only the rest, and the dataset is
    the one a run without a stop makes; a run with other options restores anew."""
    import datasets

    import swinir_hf.inference.dataset_restoration as dataset_restoration

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    monkeypatch.setattr(dataset_restoration, "ROWS_PER_PART", 2)
    folder = tmp_path / "imagefolder"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(_rng_image((6 + i, 7, 3), i)).save(folder / f"{i}.png")
    calls, stop_at = stop_restoring
    stop_at.append(3)  # Ctrl-C while the 3rd image is restored: the 1st part (2 images) is finished
    out, parts = tmp_path / "out", tmp_path / "out" / ".restored-parts"
    args = ["--dataset", f"imagefolder:{folder}", "-o", out]
    assert _restore(*args, model_dir=model_dir) == 130
    expected = f"interrupted: {out} is as it was; the images restored so far are kept in {parts}: the same command"
    assert capsys.readouterr().err.startswith(expected)
    assert [p.name.split("-")[1] for p in sorted(parts.iterdir())] == ["000000000"]  # no temporary file left

    calls.clear()
    stop_at.clear()
    assert _restore(*args, model_dir=model_dir) == 0
    err = capsys.readouterr().err
    assert "going on from an interrupted run: 2 of 5 images were restored\n" in err
    assert (
        f"restored 3 images of imagefolder:{folder} → {out} in " in err and " s (5 with the interrupted run's)\n" in err
    )
    assert len(calls) == 3 and not parts.exists()
    resumed = datasets.load_from_disk(str(out))
    calls.clear()
    assert _restore(*args[:2], "-o", tmp_path / "straight", model_dir=model_dir) == 0 and len(calls) == 5
    straight = datasets.load_from_disk(str(tmp_path / "straight"))
    for a, b in zip(resumed, straight, strict=True):
        assert np.array_equal(np.asarray(a["image"]), np.asarray(b["image"])) and a["image"].mode == b["image"].mode

    # Stopped again, then run with another --outscale: the parts are of other pixels, so it restores all 5 anew.
    calls.clear()
    stop_at[:] = [5]
    assert _restore(*args, "--overwrite", model_dir=model_dir) == 130
    calls.clear()
    stop_at.clear()
    capsys.readouterr()
    assert _restore(*args, "--overwrite", "--outscale", "2", model_dir=model_dir) == 0
    err = capsys.readouterr().err
    assert f"{parts} held the parts of a run with another dataset, model or options: restoring anew" in err
    assert len(calls) == 5 and datasets.load_from_disk(str(out))[4]["image"].size == (14, 20)


def test_a_datasets_images_of_one_size_are_restored_in_batches(tmp_path, model_dir, monkeypatch, capsys):
    """`restore --dataset --batch-size N` was refused (an option of files). Now N rows at a time are restored, those
    of one size through one forward pass, in parts a multiple of N long (a stop never cuts a batch), and the dataset
    is the one restored image by image; a bad --batch-size is refused before the dataset loads."""
    import datasets

    import swinir_hf.inference.dataset_restoration as dataset_restoration

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    monkeypatch.setattr(dataset_restoration, "ROWS_PER_PART", 4)
    folder = tmp_path / "imagefolder"
    folder.mkdir()
    for i, shape in enumerate([(6, 7, 3), (9, 7, 3), (6, 7), (9, 7, 3), (6, 7, 3), (6, 7, 3), (6, 7, 3)]):
        Image.fromarray(_rng_image(shape, i)).save(folder / f"{i}.png")
    batches, parts = [], []
    run, plan_parts = SwinIRRestorer._run, dataset_restoration._plan_parts
    monkeypatch.setattr(
        SwinIRRestorer, "_run", lambda self, model, x, tile: batches.append(len(x)) or run(self, model, x, tile)
    )
    monkeypatch.setattr(dataset_restoration, "_plan_parts", lambda *a: parts.append(plan_parts(*a)) or parts[-1])
    args = ["--dataset", f"imagefolder:{folder}", "-o"]
    assert _restore(*args, tmp_path / "batched", "--batch-size", "3", model_dir=model_dir) == 0
    # Parts of 6 rows (4 rounded up to a multiple of 3); in each batch of 3 rows, one pass per size, grey and RGB alike.
    assert [(start, stop) for start, stop, _ in parts[-1]] == [(0, 6), (6, 7)] and batches == [2, 1, 1, 2, 1]
    batches.clear()
    assert _restore(*args, tmp_path / "alone", model_dir=model_dir) == 0 and batches == [1] * 7
    batched, alone = (datasets.load_from_disk(str(tmp_path / name)) for name in ("batched", "alone"))
    for a, b in zip(batched, alone, strict=True):
        assert np.array_equal(np.asarray(a["image"]), np.asarray(b["image"])) and a["image"].mode == b["image"].mode
    capsys.readouterr()
    assert _restore(*args, tmp_path / "none", "--batch-size", "0", model_dir=model_dir) == 2
    assert capsys.readouterr().err == "swinir-hf restore: error: --batch-size must be at least 1, got 0\n"
    with pytest.raises(ValueError, match="batch_size must be an int ≥ 1, got 2.0"):
        dataset_restoration.restore_dataset(
            alone, SwinIRRestorer(SwinIRForImageRestoration.from_pretrained(model_dir)), batch_size=2.0
        )


def test_a_dataset_image_that_cannot_be_decoded_is_named_by_its_row_and_file(tmp_path, model_dir, monkeypatch, capsys):
    """A truncated image in a dataset said `error: image file is truncated` (which of 10,000?); now it names its row
    (and file). A row without an image is kept, empty (test_a_datasets_rows_without_an_image_are_kept_and_counted)."""
    import datasets

    from swinir_hf.inference.dataset_restoration import restore_dataset

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    folder = tmp_path / "imagefolder"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(_rng_image((6, 7, 3), i)).save(folder / f"{i}.png")
    (folder / "2.png").write_bytes((folder / "2.png").read_bytes()[:60])
    assert _restore("--dataset", f"imagefolder:{folder}", "-o", tmp_path / "out", model_dir=model_dir) == 1
    expected = f"error: row 2 of the dataset ({folder / '2.png'}) cannot be decoded: not a readable image (image "
    expected += "file is truncated)\n"
    assert capsys.readouterr().err == expected
    nothing = [None, {"bytes": None, "path": None}]
    empty = datasets.Dataset.from_dict({"image": nothing}).cast_column("image", datasets.Image())
    restorer = SwinIRRestorer(SwinIRForImageRestoration.from_pretrained(model_dir))
    assert restore_dataset(empty, restorer)["image"] == [None, None]
    # An http(s) path, which datasets fetches through fsspec's HTTP support: without it, an ImportError traceback.
    url = "https://example.com/x.png"
    web = datasets.Dataset.from_dict({"image": [{"bytes": None, "path": url}]}).cast_column("image", datasets.Image())

    def no_http(self, value, token_per_repo_id=None):  # (nothing is fetched: no test reaches the network)
        raise ImportError('HTTPFileSystem requires "requests" and "aiohttp" to be installed')

    monkeypatch.setattr(datasets.Image, "decode_example", no_http)
    with pytest.raises(ValueError, match=f"^row 0 of the dataset \\({url}\\) cannot be decoded: HTTPFileSystem"):
        restore_dataset(web, restorer)


@pytest.mark.parametrize("streaming", [False, True])
def test_a_datasets_restored_images_keep_their_files_names(tmp_path, model_dir, monkeypatch, streaming):
    """A restored image was stored without a name (path None): which source image was it? Now it is named as its
    source file, with the suffix of the format stored (a.jpg → a.png), even restored from the images' own folder,
    whose b.png is not taken for the restored bytes of that name."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    folder = tmp_path / "imagefolder"
    folder.mkdir()
    Image.fromarray(_rng_image((6, 7, 3), 0)).save(folder / "a.jpg")
    Image.fromarray(_rng_image((5, 4, 3), 1)).save(folder / "b.png")
    monkeypatch.chdir(folder)
    out = tmp_path / "out"
    streamed = ["--streaming"] if streaming else []
    assert _restore("--dataset", f"imagefolder:{folder}", "-o", out, *streamed, model_dir=model_dir) == 0
    restored = datasets.load_from_disk(str(out))
    stored = restored.cast_column("image", datasets.Image(decode=False))["image"]
    assert sorted(value["path"] for value in stored) == ["a.png", "b.png"] and all(value["bytes"] for value in stored)
    sizes = {value["path"]: image.size for value, image in zip(stored, restored["image"], strict=True)}
    assert sizes == {"a.png": (14, 12), "b.png": (8, 10)}


def test_a_datasets_rows_without_an_image_are_kept_and_counted(tmp_path, model_dir, monkeypatch, capsys):
    """A row without an image stopped `restore --dataset` (`row 1 of the dataset has no image`). Now it is kept,
    with no restored image, and the rows without one are counted once at the end; an undecodable image still stops
    the run (test_a_dataset_image_that_cannot_be_decoded_is_named_by_its_row_and_file)."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    Image.fromarray(_rng_image((6, 7, 3), 0)).save(tmp_path / "a.png")
    a = {"bytes": None, "path": str(tmp_path / "a.png")}
    images = [a, None, a, None]
    source = datasets.Dataset.from_dict({"image": images, "n": [0, 1, 2, 3]}).cast_column("image", datasets.Image())
    source.save_to_disk(str(tmp_path / "ds"))
    out = tmp_path / "out"
    assert _restore("--dataset", tmp_path / "ds", "-o", out, model_dir=model_dir) == 0
    err = capsys.readouterr().err
    expected = "warning: 2 of 4 rows had no image in column 'image' (rows 1, 3): kept, with no restored image (None)"
    assert err.count("warning:") == 1 and f"{expected}\n" in err
    assert f"restored 2 images of {tmp_path / 'ds'} →" in err  # the rows without one are not counted as restored
    restored = datasets.load_from_disk(str(out))
    assert [row["image"] is None for row in restored] == [False, True, False, True] and restored["n"] == [0, 1, 2, 3]


def test_a_hub_datasets_row_cannot_have_a_file_of_this_machine_copied_into_the_result(
    tmp_path, model_dir, monkeypatch, capsys
):
    """A Hub dataset's row {"bytes": None, "path": "/home/u/Pictures/x.jpg"} had that private photo restored into the
    result (to be pushed, shared): a security audit. Its rows are read from the Hub's caches only; one's own local
    dataset still names files anywhere."""
    import datasets

    from swinir_hf.inference import collection_cli

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    secret = tmp_path / "private" / "secret.png"
    secret.parent.mkdir()
    Image.fromarray(_rng_image((6, 7, 3), 0)).save(secret)
    rows = {"image": [{"bytes": None, "path": str(secret)}]}
    hostile = datasets.Dataset.from_dict(rows).cast_column("image", datasets.Image())
    monkeypatch.setattr(collection_cli, "_load_dataset", lambda args: hostile)  # as if downloaded from the Hub
    assert _restore("--dataset", "someone/photos", "-o", tmp_path / "out", model_dir=model_dir) == 1
    said = f"row 0 of the dataset names a file of this machine ({secret}) instead of holding its image"
    assert said in capsys.readouterr().err and not (tmp_path / "out" / "dataset_info.json").exists()
    # A chained path reads its last part: a local archive is this machine's file too (a reviewer's find).
    from swinir_hf.inference.dataset_values import local_path_outside

    cache = (tmp_path / "cache",)
    for path in ("tar://secret.png::/home/me/s.tar", "zip://a.png::file:///home/me/s.zip", "../x.png"):
        assert local_path_outside(path, cache) == path
    for path in ("zip://a.png::hf://datasets/o/n/d.zip", "https://host/a.png", str(tmp_path / "cache" / "a.png")):
        assert local_path_outside(path, cache) is None
    hostile.save_to_disk(str(tmp_path / "mine"))  # one's own dataset, named as a local folder
    monkeypatch.undo()
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    assert _restore("--dataset", tmp_path / "mine", "-o", tmp_path / "out2", model_dir=model_dir) == 0


def test_a_dataset_column_of_a_mode_is_restored_in_that_mode(model_dir, tmp_path):
    """`datasets.Image(mode="L")` gives grey images of RGB files; `restore_dataset` decodes them as `datasets` does."""
    import datasets

    from swinir_hf.inference.dataset_restoration import restore_dataset

    Image.fromarray(_rng_image((6, 7, 3))).save(tmp_path / "a.png")
    data = datasets.Dataset.from_dict({"image": [str(tmp_path / "a.png")]}).cast_column("image", datasets.Image("L"))
    restorer = SwinIRRestorer(SwinIRForImageRestoration.from_pretrained(model_dir), tile=None)
    restored = restore_dataset(data, restorer)[0]["image"]
    assert restored.mode == "L" and np.array_equal(np.asarray(restored), np.asarray(restorer(data[0]["image"])))


def test_dataset_push_that_cannot_happen_is_refused_before_restoring(tmp_path, model_dir, monkeypatch, capsys):
    from huggingface_hub import constants

    import swinir_hf.image_datasets as image_datasets

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(image_datasets, "load_image_dataset", lambda *a: pytest.fail("loaded before the push check"))
    out = tmp_path / "ds"
    assert _restore("--dataset", "imagefolder:x", "-o", out, "--push-to-hub", "me/x", model_dir=model_dir) == 1
    err = capsys.readouterr().err
    assert "error: --push-to-hub me/x: HF_HUB_OFFLINE is set, so nothing can be pushed" in err
    assert f"`datasets.load_from_disk('{out}').push_to_hub('me/x')`" in err and "Traceback" not in err
    assert not out.exists()


def test_dataset_push_hint_pasted_reads_the_output_folder(tmp_path, model_dir, monkeypatch, capsys):
    """The hint's `datasets.load_from_disk(...)` call, pasted, reads -o back: its name was put between quotes as
    shown (`shown_name`), so a quote or a backslash (every Windows path has some) made a call that does not parse
    (`'C:\\Users...'`: a \\U escape) or names another folder."""
    import ast
    import re

    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    out = tmp_path / "Bob's\\new\nds"
    assert _restore("--dataset", "imagefolder:x", "-o", out, "--push-to-hub", "me/x", model_dir=model_dir) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1  # one line
    pasted = re.search(r"`datasets\.load_from_disk\((.+)\)\.push_to_hub\('me/x'\)`", err)
    assert pasted is not None and ast.literal_eval(pasted[1]) == str(out)


def test_dataset_push_of_a_bare_name_goes_to_the_token_users_repo(tmp_path, model_dir, monkeypatch, capsys):
    """`--push-to-hub photos-x4` creates the token user's me/photos-x4: the URL said is that repo's (it was
    https://huggingface.co/datasets/photos-x4, no repo)."""
    import datasets
    from huggingface_hub import HfApi, constants

    import swinir_hf.checkpoints.loading as loading

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(loading, "hub_reachable", lambda *a, **k: True)
    monkeypatch.setattr(HfApi, "whoami", lambda self, *a, **k: {"name": "me", "orgs": [{"name": "team"}]})
    pushed = []
    monkeypatch.setattr(datasets.Dataset, "push_to_hub", lambda self, repo_id, *a, **k: pushed.append(repo_id))
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(_rng_image((6, 9, 3))).save(folder / "0.png")
    args = ["--dataset", f"imagefolder:{folder}", "-o", tmp_path / "out"]
    for given, repo_id in (("photos-x4", "me/photos-x4"), ("team/photos-x4", "team/photos-x4")):
        assert _restore(*args, "--overwrite", "--push-to-hub", given, model_dir=model_dir) == 0
        assert pushed.pop() == repo_id
        assert capsys.readouterr().err.endswith(f"pushed to https://huggingface.co/datasets/{repo_id}\n")


def test_dataset_push_that_fails_says_how_to_push_the_saved_dataset(tmp_path, model_dir, monkeypatch, capsys):
    """The Hub gone between the check and the push (its HTTP client's ConnectError, no OSError) was a traceback."""
    import datasets
    from huggingface_hub import HfApi, constants

    import swinir_hf.checkpoints.loading as loading

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(loading, "hub_reachable", lambda *a, **k: True)
    monkeypatch.setattr(HfApi, "whoami", lambda self, *a, **k: {"name": "me", "orgs": []})
    client_error = loading.network_errors()[-1]  # httpx's (or httpx2's) HTTPError

    def gone(self, repo_id, *args, **kwargs):
        raise type("ConnectError", (client_error,), {})("[Errno -2] Name or service not known")

    monkeypatch.setattr(datasets.Dataset, "push_to_hub", gone)
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(_rng_image((6, 9, 3))).save(folder / "0.png")
    out = tmp_path / "out"
    assert _restore("--dataset", f"imagefolder:{folder}", "-o", out, "--push-to-hub", "x", model_dir=model_dir) == 1
    err = capsys.readouterr().err
    assert f"error: pushing {out} to me/x failed (ConnectError: [Errno -2] Name or service not known)" in err
    assert f"`datasets.load_from_disk('{out}').push_to_hub('me/x')`" in err and "Traceback" not in err
    assert len(datasets.load_from_disk(str(out))) == 1


def test_dataset_push_to_a_repo_id_the_hub_rejects_is_refused_before_restoring(
    tmp_path, model_dir, monkeypatch, capsys
):
    """A name the Hub rejects failed at the push, after the whole dataset was restored; `team/sub/x` (a folder-like
    name) would have gone to `team/x`."""
    from huggingface_hub import HfApi, constants

    import swinir_hf.checkpoints.loading as loading
    import swinir_hf.image_datasets as image_datasets

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(loading, "hub_reachable", lambda *a, **k: True)
    monkeypatch.setattr(HfApi, "whoami", lambda self, *a, **k: {"name": "me", "orgs": [{"name": "team"}]})
    monkeypatch.setattr(image_datasets, "load_image_dataset", lambda *a: pytest.fail("loaded before the push check"))
    out = tmp_path / "ds"
    for repo_id in ("me/my photos", "team/sub/x", "me/a--b"):
        assert _restore("--dataset", "imagefolder:x", "-o", out, "--push-to-hub", repo_id, model_dir=model_dir) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: --push-to-hub {repo_id!r} is not a Hub repo id (") and "OWNER/NAME" in err
    assert not out.exists()


def test_file_options_with_a_dataset_are_refused_not_ignored(tmp_path, model_dir, capsys, monkeypatch):
    """--ext / --quality / --suffix / ... change nothing in a restored dataset (its images were silently PNG)."""
    import swinir_hf.image_datasets as image_datasets

    monkeypatch.setattr(image_datasets, "load_image_dataset", lambda *a: pytest.fail("loaded before the check"))
    args = ["--dataset", "imagefolder:x", "-o", tmp_path / "out"]
    assert _restore(*args, "--ext", "jpg", "--quality", "80", model_dir=model_dir) == 2
    assert capsys.readouterr().err == (
        "swinir-hf restore: error: --dataset stores the restored images in the dataset: --ext, --quality (for files) "
        "would be ignored; drop them\n"
    )
    # Given at their defaults too: a script that says --ext png means PNG files.
    for option in (["--suffix", "_x4"], ["--recursive"], ["--workers", "3"], ["--ext", "png"]):
        assert _restore(*args, *option, model_dir=model_dir) == 2
        assert f": {option[0]} (for files) would be ignored; drop it\n" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_float_file_out_of_range_says_how_to_save_it(tmp_path, model_dir, capsys):
    """A float TIFF of 0..255 levels: the error said to divide by its range or pass uint8 pixels (advice for arrays)."""
    src = tmp_path / "hdr.tif"
    tifffile.imwrite(src, np.full((8, 8, 3), 200.0, np.float32), photometric="rgb")
    assert _restore(src, "-o", tmp_path / "out", model_dir=model_dir) == 1
    assert (
        f"error: {src}: a floating-point image that cannot be restored (float images must hold values in [0, 1] "
        "(noise may overshoot it, up to [-4, 5]), this one spans [200, 200]): save it with values in [0, 1], or as an "
        "8- or 16-bit image\n"
    ) in capsys.readouterr().err


def test_dataset_options_without_a_dataset_are_refused_not_ignored(tmp_path, model_dir, capsys):
    """--push-to-hub / --split / --column with image files: the files were restored and nothing pushed, exit 0."""
    src = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(src)
    out = tmp_path / "out"
    assert _restore(src, "-o", out, "--push-to-hub", "me/x", "--split", "test", model_dir=model_dir) == 2
    assert capsys.readouterr().err == (
        "swinir-hf restore: error: --split, --push-to-hub (for --dataset) would be ignored: image files are restored "
        "into -o only; drop them, or give --dataset (imagefolder:DIR for a folder)\n"
    )
    assert _restore(src, "-o", out, "--column", "image", "--output-column", "x4", model_dir=model_dir) == 2
    assert "error: --column, --output-column (for --dataset) would be ignored: " in capsys.readouterr().err
    assert _restore(src, "-o", out, "--streaming", model_dir=model_dir) == 2
    assert "error: --streaming (for --dataset) would be ignored: " in capsys.readouterr().err
    assert not out.exists()


def test_a_datasets_restorations_go_into_a_new_column_beside_the_originals(tmp_path, model_dir, monkeypatch):
    """`--output-column NAME` (the Python API's `output_column`, which the command line lacked): the restored images
    in a new column, the originals kept, as for a dataset of (LR, SR) pairs; a column the dataset has is refused."""
    import datasets

    from swinir_hf.inference.dataset_restoration import restore_dataset

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    folder = tmp_path / "imagefolder"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(_rng_image((6 + i, 7, 3), i)).save(folder / f"{i}.png")
    out = tmp_path / "out"
    assert _restore("--dataset", f"imagefolder:{folder}", "-o", out, "--output-column", "x4", model_dir=model_dir) == 0
    restored = datasets.load_from_disk(str(out))
    assert restored.column_names == ["image", "x4"] and isinstance(restored.features["x4"], datasets.Image)
    restorer = SwinIRRestorer(SwinIRForImageRestoration.from_pretrained(model_dir), tile=None)
    for i, row in enumerate(restored):
        assert np.array_equal(np.asarray(row["image"]), np.asarray(Image.open(folder / f"{i}.png")))
        assert np.array_equal(np.asarray(row["x4"]), np.asarray(restorer(row["image"])))
    with pytest.raises(ValueError) as err:
        restore_dataset(restored, restorer, column="image", output_column="x4")
    assert str(err.value) == (
        "the dataset has a column 'x4' already: name a new column for the restored images (or none, to replace 'image')"
    )


def test_a_dataset_is_never_restored_into_its_own_folder(tmp_path, model_dir, capsys):
    """-o the dataset's folder with --overwrite replaced the input by its restoration (the first refusal suggested
    --overwrite); -o inside an image folder was read as part of it by the rerun. A Dataset's --split was ignored, and
    recorded as used."""
    import datasets

    photos, saved = tmp_path / "photos", tmp_path / "saved"
    photos.mkdir()
    Image.fromarray(_rng_image((6, 6, 3))).save(photos / "a.png")
    datasets.Dataset.from_dict({"image": [str(photos / "a.png")]}).cast_column("image", datasets.Image()).save_to_disk(
        saved
    )
    before, _ = sorted((p.name, p.stat().st_mtime_ns) for p in saved.iterdir()), capsys.readouterr()
    for spec, out, where in (
        (str(saved), saved, ""),
        (f"imagefolder:{photos}", photos / "x4", "inside "),
        (f"imagefolder:{photos}/", photos, ""),
    ):
        assert _restore("--dataset", spec, "-o", out, "--overwrite", model_dir=model_dir) == 2
        folder = Path(spec.removeprefix("imagefolder:"))
        assert capsys.readouterr().err == (
            f"swinir-hf restore: error: -o {out} is {where}the dataset's folder {folder}: the restored dataset would "
            "be written into its input, which is never overwritten (not even with --overwrite); choose an -o outside "
            "it\n"
        )
    assert sorted((p.name, p.stat().st_mtime_ns) for p in saved.iterdir()) == before
    assert sorted(p.name for p in photos.iterdir()) == ["a.png"]
    assert _restore("--dataset", saved, "--split", "test", "-o", tmp_path / "out", model_dir=model_dir) == 2
    assert capsys.readouterr().err == (
        f"swinir-hf restore: error: --split test: {saved} is one save_to_disk Dataset, without splits: drop --split\n"
    )


def test_an_empty_dataset_is_one_line(tmp_path, model_dir, capsys):
    """A dataset of no rows: saved in one shard, "the restored parts ... are missing: run the restoration again" on
    every rerun; saved the default way (no data file), an IndexError traceback from inside datasets."""
    import datasets

    empty = datasets.Dataset.from_dict({"image": []}).cast_column("image", datasets.Image())
    empty.save_to_disk(tmp_path / "one", num_shards=1)
    empty.save_to_disk(tmp_path / "none")
    capsys.readouterr()
    for name, said in (("one", f"{tmp_path / 'one'} has no rows: nothing to restore"), ("none", None)):
        said = said or f"{tmp_path / 'none'} has no rows (a save_to_disk folder without a data file)"
        assert _restore("--dataset", tmp_path / name, "-o", tmp_path / f"out-{name}", model_dir=model_dir) == 1
        assert capsys.readouterr().err == f"error: {said}\n"
        assert not (tmp_path / f"out-{name}").exists()


def test_a_rerun_with_nothing_left_still_checks_the_model_name(tmp_path, model_dir, monkeypatch, capsys):
    """Every output there: no model is loaded, and a mistyped --model passed with exit status 0. A Hub id offline
    is said as loading it says it, with what to do (it once lacked that on a rerun only)."""
    from huggingface_hub import constants

    from swinir_hf.checkpoints.loading import ModelNotAvailableError, load_model

    src = tmp_path / "a.png"
    Image.fromarray(_rng_image((6, 6, 3))).save(src)
    assert _restore(src, "-o", tmp_path / "out", model_dir=model_dir) == 0
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotAvailableError) as loading:
        load_model("nope/nope")
    offline = (
        "model 'nope/nope' is not in the local Hugging Face cache and HF_HUB_OFFLINE is set. Either download it on a "
        "machine with internet access (`hf download nope/nope`) and copy the cache (~/.cache/huggingface/hub, or the "
        "folder HF_HOME / HF_HUB_CACHE points to) here; or unset HF_HUB_OFFLINE if this machine can reach the Hub; "
        "or pass a local save_pretrained folder or the authors' .pth file instead of a repo id. (nor is there a "
        "local folder nope/nope)"
    )
    assert str(loading.value) == offline
    capsys.readouterr()
    for model, said in (
        ("nope/nope", offline),
        (
            "sr-x5",
            "no model 'sr-x5' here: did you mean sr-x4? (`swinir-hf models` lists the names; a Hub model is named "
            "org/name)",
        ),
        (str(tmp_path / "missing.pth"), f"{tmp_path / 'missing.pth'} does not exist"),
    ):
        assert _restore(src, "-o", tmp_path / "out", model_dir=model) == 1
        assert f"error: {said}" in capsys.readouterr().err
    # Outputs another model made are refused, not skipped; a file without a record is skipped as done.
    assert _restore(src, "-o", tmp_path / "out", model_dir="sr-x4") == 1
    assert "was restored with model" in capsys.readouterr().err
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "a.png").write_bytes(b"the user's own file")
    assert _restore(src, "-o", tmp_path / "own", model_dir="sr-x4") == 0  # bundled: nothing to load, nothing to say
    assert "skipped 1 existing" in capsys.readouterr().err


def test_dataset_folder_that_is_not_a_saved_dataset_points_to_imagefolder(tmp_path, model_dir, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(_rng_image((6, 6, 3))).save(folder / "a.png")
    assert _restore("--dataset", folder, "-o", tmp_path / "out", model_dir=model_dir) == 1
    err = capsys.readouterr().err
    hint = f"(for a folder of images: imagefolder:{folder})"
    assert f"error: {folder} is not a datasets save_to_disk folder {hint}" in err
    assert "Traceback" not in err


def test_dataset_specs_are_read_the_same_way_everywhere(tmp_path, monkeypatch):
    """restore --dataset, eval and training share one reader: paths that cannot be Hub ids never reach the Hub,
    and a Hub id gets the caller's default split."""
    import datasets

    from swinir_hf.image_datasets import is_hub_dataset_id, load_image_dataset

    asked = []
    monkeypatch.setattr("swinir_hf.checkpoints.loading.hub_reachable", lambda *a: True)
    monkeypatch.setattr(datasets, "load_dataset", lambda spec, split, **kw: asked.append((spec, split)) or [spec])
    for path in ("photo.png", "./photos", "data/set/hr", "~/set", "my_photos/", "my photos", ".photos"):
        assert not is_hub_dataset_id(path)
        with pytest.raises(FileNotFoundError, match=f"no such dataset folder: {path}"):
            load_image_dataset(path)
    assert asked == []
    (tmp_path / "photo.png").write_bytes(b"")  # there, but a file: not "no such dataset folder"
    with pytest.raises(FileNotFoundError, match=r"photo.png is a file, not a dataset folder \(imagefolder:DIR for a"):
        load_image_dataset(str(tmp_path / "photo.png"))
    # A local file that can be a Hub id too (`pq/train.parquet`) is the file: it was looked up on the Hub.
    (tmp_path / "pq").mkdir()
    (tmp_path / "pq" / "train.parquet").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert is_hub_dataset_id("pq/train.parquet")
    with pytest.raises(FileNotFoundError, match=r"^pq/train.parquet is a file, not a dataset folder .* parquet"):
        load_image_dataset("pq/train.parquet")
    assert load_image_dataset("org/set5", default_split="test") == ["org/set5"]
    assert load_image_dataset("set5", "validation") == ["set5"]
    assert asked == [("org/set5", "test"), ("set5", "validation")]


@pytest.mark.parametrize("why", ["the Hub cannot be reached", "HF_HUB_OFFLINE is set"])
def test_a_hub_dataset_offline_is_looked_up_in_the_cache_only_and_says_what_to_do(why, monkeypatch):
    """With the Hub out of reach, `datasets` runs in offline mode (the cache, at once: it retried for half a minute
    before), and a dataset it lacks gets what to do, not datasets' own 'Couldn't reach'."""
    import datasets
    from huggingface_hub import constants

    from swinir_hf.image_datasets import load_image_dataset

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", why.startswith("HF_"))
    monkeypatch.setattr("swinir_hf.checkpoints.loading.hub_reachable", lambda *a: False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    modes = []

    def load_dataset(spec, split, **kwargs):
        modes.append(datasets.config.HF_HUB_OFFLINE)
        if spec == "org/cached" and not kwargs.get("streaming"):
            if split != "train":  # datasets' words for a cached dataset without the split
                raise ValueError(f"Unknown split \"{split}\". Should be one of ['train'].")
            return [spec]
        raise ConnectionError(f"Couldn't reach '{spec}' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    assert load_image_dataset("org/cached") == ["org/cached"]
    with pytest.raises(FileNotFoundError) as err:
        load_image_dataset("nothere")
    assert modes == [True, True] and datasets.config.HF_HUB_OFFLINE is False
    # In the cache, but not its split (eval's default "test"): said as such, not as not being in the cache.
    with pytest.raises(ValueError, match=r"^dataset 'org/cached' has no split 'test' \(Unknown split \"test\""):
        load_image_dataset("org/cached", default_split="test")
    modes.clear()
    assert str(err.value) == (
        f"dataset 'nothere': no local folder of that name, and not in the local Hugging Face cache while {why}. Pass "
        "a local folder (imagefolder:DIR, or a save_to_disk folder); or load it once on a machine with internet "
        "access (`datasets.load_dataset('nothere')`), copy its cache (~/.cache/huggingface, or the folder HF_HOME "
        "points to) here "
        # HF_HUB_OFFLINE already set: unsetting it is the way to download here, not setting it
        + (
            "(or unset HF_HUB_OFFLINE if this machine can reach the Hub)"
            if why.startswith("HF_")
            else "and run with HF_HUB_OFFLINE=1"
        )
    )
    # A stream is read from the Hub, never from the cache: dropping --streaming is what reads the cache.
    with pytest.raises(FileNotFoundError) as err:
        load_image_dataset("org/cached", streaming=True)
    assert str(err.value) == (
        f"dataset 'org/cached' cannot be streamed while {why}: a stream is read from the Hub. Load it without "
        "streaming (no --streaming) to read it from the local Hugging Face cache"
        + (", or unset HF_HUB_OFFLINE if this machine can reach the Hub" if why.startswith("HF_") else "")
    )


def test_an_output_name_over_255_bytes_is_refused_before_the_model_runs(tmp_path, model_dir, monkeypatch, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rng_image((6, 6, 3))).save(src / "short.png")
    Image.fromarray(_rng_image((6, 6, 3), 1)).save(src / ("a" * 200 + ".png"))
    calls = []
    forward = SwinIRForImageRestoration.forward
    monkeypatch.setattr(SwinIRForImageRestoration, "forward", lambda *a, **k: calls.append(1) or forward(*a, **k))
    out = tmp_path / "out"
    suffix = "_restored" + "é" * 25  # 59 bytes: 200 + 59 + 4 = 263 bytes for the long name
    assert _restore(src, "-o", out, "--suffix", suffix, model_dir=model_dir) == 1
    err = capsys.readouterr().err
    long_name = "a" * 200 + suffix + ".png"
    assert err.startswith(
        f"error: {src / ('a' * 200 + '.png')}: output name {long_name} is 263 bytes, more than the 255 a file name "
        "may have: use a shorter --suffix (or rename the input)\n"
    )
    assert "restored 1, failed 1" in err and len(calls) == 1  # only the short one went through the model
    assert [p.name for p in out.iterdir()] == [f"short{suffix}.png"]
    # A suffix that no name could carry is a bad option: refused before anything else.
    assert _restore(src, "-o", out, "--suffix", "x" * 252, model_dir=model_dir) == 2
    assert capsys.readouterr().err.endswith(
        "restore: error: --suffix is 252 bytes: with an extension no output name fits in the 255 bytes a file name "
        "may have\n"
    )


def test_a_rerun_with_nothing_left_to_do_builds_no_engine(mixed, model_dir, tmp_path, monkeypatch, capsys):
    """Only the model's weights are read, for their fingerprint (`provenance`): no engine is built on a device."""
    from swinir_hf.inference.collection import ModelEngine

    out = tmp_path / "out"
    assert _restore(mixed / "odd.png", "-o", out, model_dir=model_dir) == 0
    capsys.readouterr()

    def unavailable(self, *args, **kwargs):  # a Hub model offline, or seconds of loading for nothing
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(ModelEngine, "build", unavailable)
    assert _restore(mixed / "odd.png", "-o", out, model_dir=model_dir) == 0
    assert "restored 0, failed 0, skipped 1 existing" in capsys.readouterr().err


def test_tile_0_runs_the_whole_image_in_one_pass_as_in_real_esrgan(mixed, model_dir, tmp_path, monkeypatch):
    from swinir_hf.cli import build_parser

    for command in (["restore", "x", "-o", "y"], ["eval", "--model", "m", "--dataset", "d"]):
        assert build_parser().parse_args([*command, "--tile", "0"]).tile is None
    calls = []
    forward = SwinIRForImageRestoration.forward
    monkeypatch.setattr(SwinIRForImageRestoration, "forward", lambda *a, **k: calls.append(1) or forward(*a, **k))
    assert _restore(mixed / "odd.png", "-o", tmp_path / "out", "--tile", "0", model_dir=model_dir) == 0
    assert len(calls) == 1


def test_an_output_too_wide_for_webp_fails_before_the_model_runs(tmp_path, model_dir, monkeypatch, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_rng_image((1, 8192, 3))).save(src / "wide.png")  # ×2: 16384 wide, WebP stops at 16383
    Image.fromarray(_rng_image((6, 6, 3))).save(src / "small.png")
    calls = []
    forward = SwinIRForImageRestoration.forward
    monkeypatch.setattr(SwinIRForImageRestoration, "forward", lambda *a, **k: calls.append(1) or forward(*a, **k))
    out = tmp_path / "out"
    assert _restore(src, "-o", out, "--ext", "webp", model_dir=model_dir) == 1
    err = capsys.readouterr().err
    assert (
        f"error: {src / 'wide.png'}: the 16384×2 output is larger than WebP allows (16383 pixels a side): "
        "use --ext png or tif, or a smaller --outscale\n" in err
    )
    assert len(calls) == 1 and [p.name for p in out.iterdir()] == ["small.webp"]


@pytest.mark.parametrize(("option", "values"), [("alpha", ("model", "bicubic")), ("padding", ("model", "authors"))])
def test_a_dataset_restored_with_other_engine_options_is_not_taken_from_the_cache(model_dir, tmp_path, option, values):
    """`restore_dataset`'s map fingerprint covers every option that changes the pixels (here `alpha`, `padding`): a
    second call with another option computes anew instead of reusing `datasets`' cached result of the first."""
    import datasets

    from swinir_hf.inference.dataset_restoration import restore_dataset

    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    Image.fromarray(_rng_image((9, 13, 4), 3), "RGBA").save(tmp_path / "a.png")
    data = datasets.Dataset.from_dict({"image": [str(tmp_path / "a.png")]}).cast_column("image", datasets.Image())
    data = data.map(lambda x: x, cache_file_name=str(tmp_path / "cache" / "start.arrow"))  # a cached dataset
    got = {}
    for value in values:
        restorer = SwinIRRestorer(model, tile=None, **{option: value})
        out = restore_dataset(data, restorer, model_name="m")
        got[value] = np.asarray(out[0]["image"])
        np.testing.assert_array_equal(got[value], np.asarray(restorer(Image.open(tmp_path / "a.png"))))
    assert not np.array_equal(got[values[0]][..., 3], got[values[1]][..., 3])  # the alpha too, through the model


def test_the_default_padding_keeps_the_dataset_fingerprint_of_a_run_from_before_the_option(model_dir):
    """A `restore --dataset` stopped by a version without `padding` resumes its parts: with the default padding, the
    pixels' fingerprint hashes the engine options of that version, as it did (adding the field changed it)."""
    from datasets.fingerprint import Hasher

    from swinir_hf.checkpoints.fingerprint import model_fingerprint
    from swinir_hf.inference.dataset_restoration import VALUES_FORM, pixels_fingerprint

    model = SwinIRForImageRestoration.from_pretrained(model_dir)
    restorer = SwinIRRestorer(model, tile=None)
    earlier = {name: getattr(restorer, name) for name in ("tile", "tile_overlap", "ensemble", "dtype", "alpha")}
    expected = Hasher.hash((model_fingerprint(model), earlier, ("m", 2), VALUES_FORM))
    assert pixels_fingerprint(restorer, ("m", 2)) == expected
    assert pixels_fingerprint(SwinIRRestorer(model, tile=None, padding="authors"), ("m", 2)) != expected


def test_a_dataset_restored_by_another_model_of_one_name_is_not_taken_from_the_cache(model_dir, tmp_path):
    """Two models of one scale under one `model_name` (the default "", or a folder retrained in place): the second
    call restored nothing and returned the first model's images from `datasets`' cache."""
    import datasets

    from swinir_hf.inference.dataset_restoration import restore_dataset

    Image.fromarray(_rng_image((9, 13, 3), 5)).save(tmp_path / "a.png")
    data = datasets.Dataset.from_dict({"image": [str(tmp_path / "a.png")]}).cast_column("image", datasets.Image())
    data = data.map(lambda x: x, cache_file_name=str(tmp_path / "cache" / "start.arrow"))  # a cached dataset
    got = []
    for seed in (0, 1):
        model = SwinIRForImageRestoration.from_pretrained(model_dir)
        with torch.no_grad():
            model.conv_first.bias.add_(0.1 * seed)  # the same architecture, other weights
        restorer = SwinIRRestorer(model, tile=None, dtype="float32")
        got.append(np.asarray(restore_dataset(data, restorer)[0]["image"]))
        np.testing.assert_array_equal(got[-1], np.asarray(restorer(Image.open(tmp_path / "a.png"))))
    assert not np.array_equal(got[0], got[1])


def test_a_dataset_is_restored_holding_one_batch_of_restored_images_at_a_time(model_dir, tmp_path, monkeypatch):
    """`Dataset.map` writes its rows 1000 at a time: `restore_dataset` held every restored image until then (60 MB
    more per 1000² input ×4, all of a dataset of large images), so its memory grew with the dataset. Now a batch's
    images are written before the next batch is restored."""
    import gc
    import weakref

    import datasets

    import swinir_hf.inference.dataset_restoration as dataset_restoration

    for i in range(8):
        Image.fromarray(_rng_image((9, 13, 3), i)).save(tmp_path / f"{i}.png")
    files = [str(tmp_path / f"{i}.png") for i in range(8)]
    data = datasets.Dataset.from_dict({"image": files}).cast_column("image", datasets.Image())
    outputs, alive = [], []
    call = SwinIRRestorer.restore_images

    def restore_batch(*args, **kwargs):
        gc.collect()
        alive.append(sum(ref() is not None for ref in outputs))  # restored images still held
        out = call(*args, **kwargs)
        outputs.extend(weakref.ref(image) for image in out)
        return out

    monkeypatch.setattr(SwinIRRestorer, "restore_images", restore_batch)
    restorer = SwinIRRestorer(SwinIRForImageRestoration.from_pretrained(model_dir), tile=None, dtype="float32")
    # What exists now is left out of the collections (a full one over a whole test session's objects took seconds):
    # it can only keep an image alive longer, never free one that is held.
    gc.freeze()
    try:
        for batch_size in (1, 3):
            outputs.clear()
            alive.clear()
            out = dataset_restoration.restore_dataset(data, restorer, batch_size=batch_size)
            assert len(out) == 8 and len(alive) == -(-8 // batch_size) and max(alive) <= batch_size, alive
    finally:
        gc.unfreeze()


def test_images_refused_while_the_run_held_memory_are_judged_again_once_it_is_free(model_dir, tmp_path, monkeypatch):
    """A folder of images that each fit alone: an image's memory was judged while this run's earlier outputs were
    made or waited for the writers (or, read ahead, while one was restored) and refused for good (4 × 2000² ×4 under a
    4.5 GB limit: 1 restored, 3 refused); now it is judged again once the writers are done."""
    import threading
    import time

    import swinir_hf.inference.job_runner as job_runner
    import swinir_hf.inference.memory as memory
    import swinir_hf.inference.restoration as restoration

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(_rng_image((16, 16, 3), i)).save(src / f"{i}.png")
    held, lock = [0], threading.Lock()  # outputs being made or waiting to be written
    run, save = restoration.SwinIRRestorer._run, job_runner._save

    def slow_run(self, *args):
        with lock:
            held[0] += 1
        time.sleep(0.2)
        return run(self, *args)

    def slow_save(*args):
        time.sleep(0.2)
        save(*args)
        with lock:
            held[0] -= 1

    monkeypatch.setattr(restoration.SwinIRRestorer, "_run", slow_run)
    monkeypatch.setattr(job_runner, "_save", slow_save)
    monkeypatch.setattr(memory, "available_host_memory", lambda: 1 << 40 if held[0] == 0 else 1)
    assert _restore(src, "-o", tmp_path / "out", "--tile", "0", model_dir=model_dir) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "1.png", "2.png"]


def test_a_batch_of_whole_images_too_large_for_memory_is_restored_one_at_a_time(model_dir, tmp_path, monkeypatch):
    """--batch-size is for speed: with --tile 0, a batch whose one pass cannot fit was refused, every image of it
    (2 × 3000² ×4 with 21 GiB free: 'one pass over 2 whole 3000×3000 images needs ≈ 29.0 GiB'), although each
    alone fits; now its images are restored one at a time, in order."""
    import swinir_hf.models.memory_swinir as modeling

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(_rng_image((16, 16, 3), i)).save(src / f"{i}.png")
    config = SwinIRForImageRestoration.from_pretrained(model_dir).config
    cpu = torch.device("cpu")
    one = modeling.SURELY_NEEDED * 16 * 16 * modeling.activation_bytes_per_pixel(config, cpu)
    fixed = modeling.SURELY_NEEDED * modeling.fixed_activation_bytes(config, cpu)
    monkeypatch.setattr(modeling, "available_host_memory", lambda: int(fixed + 1.5 * one))  # one image, not two
    out = tmp_path / "out"
    assert _restore(src, "-o", out, "--tile", "0", "--batch-size", "2", model_dir=model_dir) == 0
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png", "2.png"]
    assert _restore(src, "-o", tmp_path / "alone", "--tile", "0", model_dir=model_dir) == 0
    assert _hashes(out) == _hashes(tmp_path / "alone")


def test_the_summary_counts_in_words_and_gives_no_rate_of_nothing_done():
    """It said "left 1 earlier outputs alone" and "(0.00 images/s, 1 process)" for a run with nothing to do."""
    from swinir_hf.inference.collection import Summary

    idle = Summary(restored=0, failed=0, existing=3, earlier_outputs=1, seconds=0.02, processes=1, out_dir=Path("o"))
    assert str(idle) == (
        "restored 0, failed 0, skipped 3 existing (pass --overwrite to replace them), left 1 earlier output alone "
        "→ o in 0.0 s (1 process)"
    )
    busy = Summary(restored=4, failed=1, existing=0, earlier_outputs=2, seconds=2.0, processes=2, out_dir=Path("o"))
    assert str(busy).endswith(", left 2 earlier outputs alone → o in 2.0 s (2.00 images/s, 2 processes)")

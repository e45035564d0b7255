"""Fine-tuning on one's own images: given LR images paired by name and checked upright, files that cannot be opened
said before the run, transparent images read as restore reads them, and a val/ folder trained on said so."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from swinir_hf.training.data import Degradation, TrainingPatches
from swinir_hf.training.images import decode_image, load_images, unopenable_pairs, validation_folder_note
from swinir_hf.training.pairing import pair_lr_images


def noise(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def save_turned(image: Image.Image, path: Path, orientation: int) -> None:
    """Save `image` as stored pixels with an EXIF orientation (6: shown turned a quarter clockwise)."""
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, exif=exif)


def folders(root: Path, *names: str) -> list[Path]:
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
    return [root / name for name in names]


def pair(hr_dir: Path, lr_dir: Path, scale: int = 2) -> list:
    return pair_lr_images(load_images(str(hr_dir)), str(lr_dir), scale, "train", None)


# --- pairs turned by EXIF --------------------------------------------------------------------------------------


def test_a_pair_stored_turned_differently_is_refused_before_the_run(tmp_path):
    """Found by an audit: the sizes were compared as stored, but trained on upright. A 64×32 HR photo turned by its
    EXIF with its 32×16 LR image (no EXIF) passed, then failed in the data loader without a file name; a square
    pair trained silently on an HR image turned against its LR image."""
    rng = np.random.default_rng(0)
    for name, (h, w) in (("rect", (32, 64)), ("square", (32, 32))):
        hr_dir, lr_dir = folders(tmp_path / name, "hr", "lr")
        save_turned(noise(rng, h, w), hr_dir / "a.jpg", 6)
        noise(rng, h // 2, w // 2).save(lr_dir / "a.png")
        with pytest.raises(ValueError) as err:
            pair(hr_dir, lr_dir)
        said = str(err.value)
        assert said.startswith(f"data.train_lr: {lr_dir / 'a.png'} (EXIF orientation 1) and its HR image ")
        assert f"{hr_dir / 'a.jpg'} (6) are stored turned differently" in said
        assert "drop the HR file's orientation tag" in said and "\n" not in said


def test_a_pair_turned_alike_is_trained_on_upright_and_aligned(tmp_path):
    rng = np.random.default_rng(1)
    hr_dir, lr_dir = folders(tmp_path, "hr", "lr")
    lr = np.asarray(noise(rng, 12, 20))
    save_turned(Image.fromarray(lr), lr_dir / "p.png", 6)
    save_turned(Image.fromarray(np.kron(lr, np.ones((2, 2, 1), np.uint8))), hr_dir / "p.png", 6)
    hr_items = load_images(str(hr_dir))
    ds = TrainingPatches(hr_items, 8, Degradation("paired", 2), 3, seed=0, lr_items=pair(hr_dir, lr_dir))
    assert decode_image(hr_items[0], 3).shape == (40, 24, 3)  # upright
    for key in range(6):
        sample = ds[key]
        assert torch.equal(sample["labels"][:, ::2, ::2], sample["pixel_values"])


def test_an_error_making_a_sample_names_its_files(tmp_path):
    """A pair that changed after the checks (or was never checked) failed with `LR image (64, 128) × 2 is larger
    than its HR image (256, 128)`, naming neither file."""
    rng = np.random.default_rng(2)
    hr_dir, lr_dir = folders(tmp_path, "hr", "lr")
    noise(rng, 16, 16).save(hr_dir / "a.png")
    noise(rng, 16, 12).save(lr_dir / "a.png")
    hr_items, lr_items = load_images(str(hr_dir)), load_images(str(lr_dir))
    ds = TrainingPatches(hr_items, 8, Degradation("paired", 2), 3, seed=0, lr_items=lr_items)
    with pytest.raises(ValueError) as err:
        ds[0]
    assert str(err.value) == (
        f"{hr_dir / 'a.png'} (LR image {lr_dir / 'a.png'}): the LR image (12×16) × 2 is larger than its HR image "
        "(16×16)"
    )


# --- pairing by name -------------------------------------------------------------------------------------------


def test_hr_and_lr_names_that_end_in_hr_and_lr_are_paired(tmp_path):
    """Camera pairs come as img_001_HR.png / img_001_LR.png (or RealSR's _LR2): they were `no LR image` with no word
    of the rule."""
    rng = np.random.default_rng(3)
    hr_dir, lr_dir = folders(tmp_path, "HR", "LR")
    names = {"img_001_HR": "img_001_LR", "img_002_HR": "img_002_LR2", "c-hr": "c-lr", "d": "dx2", "e_HR": "e_HR"}
    for hr, lr in names.items():
        noise(rng, 8, 8).save(hr_dir / f"{hr}.png")
        noise(rng, 4, 4).save(lr_dir / f"{lr}.jpg")
    paired = pair(hr_dir, lr_dir)
    assert {Path(h).stem: Path(lr).stem for h, lr in zip(load_images(str(hr_dir)), paired, strict=True)} == names
    # two LR images that fit one HR image: refused, not guessed
    noise(rng, 4, 4).save(lr_dir / "img_001_LRx2.png")
    with pytest.raises(ValueError, match="'img_001_HR' names 1 HR and 2 LR images"):
        pair(hr_dir, lr_dir)
    (lr_dir / "img_001_LRx2.png").unlink()
    noise(rng, 8, 8).save(hr_dir / "f_HR.png")
    noise(rng, 4, 4).save(lr_dir / "f_low.png")
    with pytest.raises(FileNotFoundError) as err:
        pair(hr_dir, lr_dir)
    assert str(err.value) == (
        f"data.train_lr: no LR image in {lr_dir} for 1 of 6 HR images, e.g. {hr_dir / 'f_HR.png'}: an HR image NAME.* "
        "is paired with the LR image NAME.* or NAMEx2.*, or NAME_HR.* with NAME_LR.*, NAME_LR2.* or NAME_LRx2.* (also "
        f"_hr / _lr, -HR / -LR; any image type). Rename the LR images (or the HR ones) so, e.g. {lr_dir / 'f_low.png'} "
        "→ f_LR.png"
    )


def test_names_ending_in_x_and_the_scale_pair_as_they_are(tmp_path):
    """At ×1, `box1` is its own LR name: the `x{scale}` end was stripped from every LR name (`box1` → `bo`), so a ×1
    pair named box1.png was `no LR image`."""
    rng = np.random.default_rng(4)
    hr_dir, lr_dir = folders(tmp_path, "HR", "LR")
    for name in ("box1", "relax2"):
        noise(rng, 8, 8).save(hr_dir / f"{name}.png")
        noise(rng, 8, 8).save(lr_dir / f"{name}.png")
    paired = pair(hr_dir, lr_dir, scale=1)
    assert [Path(lr).stem for lr in paired] == [Path(hr).stem for hr in load_images(str(hr_dir))]


def test_lr_images_in_the_hr_folder_are_refused(tmp_path):
    """data.train_lr naming data.train's folder paired each image with itself; one inside it listed the LR images
    as HR images too."""
    rng = np.random.default_rng(4)
    (hr_dir,) = folders(tmp_path, "pairs")
    noise(rng, 8, 8).save(hr_dir / "a_HR.png")
    noise(rng, 4, 4).save(hr_dir / "a_LR.png")
    for lr_dir in (hr_dir, tmp_path / "." / "pairs"):
        with pytest.raises(ValueError, match=r"^data.train_lr .* holds images of data.train \(e.g. .*a_HR.png\)"):
            pair(hr_dir, lr_dir)
    (lr_dir,) = folders(hr_dir, "LR")
    (hr_dir / "a_LR.png").rename(lr_dir / "a_LR.png")
    with pytest.raises(ValueError, match=r"holds images of data.train \(e.g. .*LR/a_LR.png\).*folder of their own"):
        pair(hr_dir, lr_dir)


def test_lr_images_of_the_hr_size_say_what_to_do(tmp_path):
    rng = np.random.default_rng(5)
    hr_dir, lr_dir = folders(tmp_path, "hr", "lr")
    noise(rng, 8, 10).save(hr_dir / "a.png")
    noise(rng, 8, 10).save(lr_dir / "a.png")
    with pytest.raises(ValueError) as err:
        pair(hr_dir, lr_dir)
    assert str(err.value) == (
        f"data.train_lr: {lr_dir / 'a.png'} is the size of its HR image {hr_dir / 'a.png'} (10×8), but a ×2 model's "
        "LR image is 5×4: downscale the LR images by 2 (inputs upsampled to the HR size, as some camera pairs come), "
        "or train a ×1 model on them (a denoising or JPEG preset, model.scale 1)"
    )


# --- files that cannot be opened -------------------------------------------------------------------------------


def test_files_that_cannot_be_opened_are_said_before_the_run(tmp_path, caplog):
    """Found only when drawn, mid-run, and counted in the start line; a file cut short opens, and is said (by its
    path) when drawn, once; those said before the run are not said again."""
    rng = np.random.default_rng(6)
    for name in ("a", "b", "c"):
        noise(rng, 16, 16).save(tmp_path / f"{name}.png")
    data = (tmp_path / "c.png").read_bytes()
    (tmp_path / "c.png").write_bytes(data[: len(data) // 3])
    (tmp_path / "fake.png").write_text("not a png")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "empty.png").write_bytes(b"")
    items = load_images(str(tmp_path))
    bad, report = unopenable_pairs(items, None, "data.train")
    assert sorted(Path(items[i]).name for i in bad) == ["empty.png", "fake.png"]
    files = f"{tmp_path / 'fake.png'} and {tmp_path / 'sub' / 'empty.png'}"
    assert report.startswith(f"data.train: 2 of its 5 images cannot be opened ({files}; ")
    assert report.endswith("): training on the other 3")
    ds = TrainingPatches(items, 8, Degradation("bicubic", 2), 3, seed=0, unreadable=bad)
    assert ds.readable == 3
    with caplog.at_level(logging.WARNING, logger="swinir_hf.train"):
        for key in range(3 * len(ds)):
            ds[key]
    assert [m.split(":")[0] for m in caplog.messages] == [f"skipping unreadable image {tmp_path / 'c.png'}"]


def test_an_unreadable_lr_image_is_said_as_the_lr_one(tmp_path, caplog):
    """In paired data the HR image was named when its LR image was the broken one."""
    rng = np.random.default_rng(7)
    hr_dir, lr_dir = folders(tmp_path, "hr", "lr")
    for name in ("a", "b"):
        noise(rng, 16, 16).save(hr_dir / f"{name}.png")
        noise(rng, 8, 8).save(lr_dir / f"{name}.png")
    hr_items = load_images(str(hr_dir))
    lr_items = pair(hr_dir, lr_dir)
    (lr_dir / "b.png").write_text("not a png")
    bad, report = unopenable_pairs(hr_items, lr_items, "data.train")
    assert bad == {1} and report.startswith(f"data.train: 1 of its 2 pairs cannot be opened (LR {lr_dir / 'b.png'}; ")
    (lr_dir / "b.png").write_bytes((lr_dir / "a.png").read_bytes()[:60])  # opens, cut short
    ds = TrainingPatches(hr_items, 4, Degradation("paired", 2), 3, seed=0, lr_items=lr_items)
    with caplog.at_level(logging.WARNING, logger="swinir_hf.train"):
        for key in range(4):
            ds[key]
    assert [m.split(":")[0] for m in caplog.messages] == [
        f"skipping unreadable LR image {lr_dir / 'b.png'} (and its HR image {hr_dir / 'b.png'})"
    ]


# --- what an image is trained as --------------------------------------------------------------------------------


def test_an_image_with_transparency_is_trained_on_as_restore_reads_it(tmp_path):
    """The colour under its transparent pixels (an exporter's black placeholder) was trained on as content, where
    restore fills it from the visible pixels (`fill_hidden_colour`) before the model sees it."""
    from swinir_hf.models.image_processing_swinir import split_image

    rgba = np.dstack([np.asarray(noise(np.random.default_rng(8), 16, 16)), np.full((16, 16), 255, np.uint8)])
    rgba[:8] = 0  # top half: transparent black
    Image.fromarray(rgba).save(tmp_path / "logo.png")
    trained = decode_image(str(tmp_path / "logo.png"), 3)
    with Image.open(tmp_path / "logo.png") as image:
        restored, _ = split_image(image)
    np.testing.assert_array_equal(trained, np.rint(restored * 255).astype(np.uint8))
    assert trained[:8].max() > 0  # not the placeholder


def test_a_val_folder_trained_on_is_said(tmp_path):
    """A folder with a val/ folder and no train/ one is all training data: said in one line; one divided into
    train/ and val/ is not all trained on."""
    rng = np.random.default_rng(9)
    (tmp_path / "photos" / "val").mkdir(parents=True)
    noise(rng, 8, 8).save(tmp_path / "photos" / "a.png")
    noise(rng, 8, 8).save(tmp_path / "photos" / "val" / "v.png")
    source = str(tmp_path / "photos")
    assert validation_folder_note(source, "train") == (
        f"data.train {source}: its val/ folder is trained on too, with no train/ folder beside it (to validate on it "
        f"instead: move the training images into {tmp_path / 'photos' / 'train'}, and pass --data.val {source})"
    )
    (tmp_path / "photos" / "train").mkdir()
    (tmp_path / "photos" / "a.png").rename(tmp_path / "photos" / "train" / "a.png")
    assert validation_folder_note(source, "train") is None
    assert validation_folder_note(str(tmp_path / "photos" / "train"), "train") is None


def test_the_run_says_both_before_its_first_step(tmp_path, tiny_config, caplog):
    """`build_dataset` (every process builds it) says them on the main process, and the run counts the images it
    can open."""
    from swinir_hf.training.config import TrainingConfig
    from swinir_hf.training.data import build_dataset

    rng = np.random.default_rng(10)
    (tmp_path / "photos" / "val").mkdir(parents=True)
    for name in ("a.png", "b.png", "val/v.png"):
        noise(rng, 16, 16).save(tmp_path / "photos" / name)
    (tmp_path / "photos" / "notes.png").write_text("not a png")
    cfg = TrainingConfig.from_dict({"data": {"train": [str(tmp_path / "photos")], "val": None, "patch_size": 8}})
    with caplog.at_level(logging.INFO, logger="swinir_hf.train"):
        ds = build_dataset(cfg, tiny_config())
    assert len(ds) == 4 and ds.readable == 3
    assert [m.split(":")[0] for m in caplog.messages] == [f"data.train {tmp_path / 'photos'}", "data.train"]
    assert caplog.messages[1].startswith("data.train: 1 of its 4 images cannot be opened")

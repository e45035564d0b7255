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
from swinir_hf.training.headers import header_notes, read_headers, unopenable_pairs
from swinir_hf.training.images import decode_image, load_images, validation_folder_note
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
        f"{hr_dir / 'a.png'} (LR image {lr_dir / 'a.png'}): the LR image (12×16) is not its HR image's size (16×16) "
        "/ 2 (changed since the run started?)"
    )


def test_an_error_of_ours_making_a_sample_keeps_its_traceback(tmp_path, monkeypatch):
    """Any error making a sample was taken for the data's, a ValueError (numpy's too) said in one line: a bug's
    traceback was hidden. Only the data checks' `SampleError` is one line now; others keep their type as the cause."""
    from swinir_hf.training import data

    rng = np.random.default_rng(12)
    hr_dir, lr_dir = folders(tmp_path, "hr", "lr")
    noise(rng, 16, 16).save(hr_dir / "a.png")
    noise(rng, 8, 8).save(lr_dir / "a.png")

    def broken(hr, lr, scale):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(data, "common_area", broken)
    ds = TrainingPatches(
        load_images(str(hr_dir)), 4, Degradation("paired", 2), 3, seed=0, lr_items=pair(hr_dir, lr_dir)
    )
    with pytest.raises(RuntimeError) as err:
        ds[0]
    assert not isinstance(err.value, ValueError) and isinstance(err.value.__cause__, ValueError)
    assert str(err.value) == (
        f"{hr_dir / 'a.png'} (LR image {lr_dir / 'a.png'}): ValueError: operands could not be broadcast together"
    )


@pytest.fixture
def paired_run(tmp_path, tiny_run):
    """A 4-step run of a tiny ×2 model on two 32×32 pairs of one's own → (raw config, HR folder, LR folder)."""
    rng = np.random.default_rng(11)
    hr_dir, lr_dir = folders(tmp_path, "hr", "lr")
    for name in ("a", "b"):
        lr = np.asarray(noise(rng, 16, 16))
        Image.fromarray(lr).save(lr_dir / f"{name}.png")
        Image.fromarray(np.kron(lr, np.ones((2, 2, 1), np.uint8))).save(hr_dir / f"{name}.png")
    data = {"degradation": "paired", "train_lr": [str(lr_dir)], "val": None}
    return tiny_run(hr_dir, tmp_path / "out", data=data), hr_dir, lr_dir


def test_a_sample_a_data_worker_cannot_make_stops_the_run_in_one_line(paired_run, train_cli, monkeypatch, capsys):
    """An LR image changed since the checks before the run (here to ×4): with DataLoader workers the run ended in
    torch's `Caught ValueError in DataLoader worker process 0` and the worker's whole traceback, saying neither where
    the run stood nor what to do."""
    from swinir_hf.training import loop

    raw, hr_dir, lr_dir = paired_run
    raw["data"]["num_workers"] = 1
    build_loader = loop.build_loader

    def changed_then_built(run, dataset, start):
        noise(np.random.default_rng(0), 8, 8).save(lr_dir / "b.png")
        return build_loader(run, dataset, start)

    monkeypatch.setattr(loop, "build_loader", changed_then_built)
    assert train_cli(raw, "--no-progress") == 1
    said = capsys.readouterr().err
    assert "Traceback" not in said and said.splitlines()[-1] == (
        f"error: training stopped after step 0: {hr_dir / 'b.png'} (LR image {lr_dir / 'b.png'}): the LR image (8×8) "
        "is not its HR image's size (32×32) / 2 (changed since the run started?). Fix the files, then run the same "
        "command again (no checkpoint was saved yet)"
    )


def test_a_run_stopped_by_its_data_resumes_from_its_last_checkpoint(paired_run, train_cli, monkeypatch, capsys):
    """Without workers the error named the files, but not the step, what was kept, nor what to do."""
    from swinir_hf.training import loop

    raw, hr_dir, lr_dir = paired_run
    raw["train"]["checkpoint_every"] = 2
    good, save = (lr_dir / "b.png").read_bytes(), loop.save_checkpoint

    def saved_then_damaged(run, step):
        save(run, step)
        (lr_dir / "b.png").write_bytes(good[:60])  # opens, cut short; the only other image then changes too
        noise(np.random.default_rng(0), 8, 8).save(lr_dir / "a.png")

    monkeypatch.setattr(loop, "save_checkpoint", saved_then_damaged)
    good_a = (lr_dir / "a.png").read_bytes()
    assert train_cli(raw, "--no-progress") == 1
    said = capsys.readouterr().err.splitlines()
    assert said[-1] == (
        f"error: training stopped after step 2: {hr_dir / 'a.png'} (LR image {lr_dir / 'a.png'}): the LR image (8×8) "
        "is not its HR image's size (32×32) / 2 (changed since the run started?). Fix the files, then continue from "
        "step-00000002 with --resume latest (with the images the run started with, by name)"
    )
    assert said[-2].startswith(f"warning: skipping unreadable LR image {lr_dir / 'b.png'}")
    monkeypatch.setattr(loop, "save_checkpoint", save)
    (lr_dir / "a.png").write_bytes(good_a)
    (lr_dir / "b.png").write_bytes(good)
    assert train_cli(raw, "--no-progress", "--resume", "latest") == 0


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


def test_one_lr_image_two_hr_names_match_is_refused(tmp_path):
    """An HR folder holding `a_HR` and `a_LR` with an LR folder's `a_LR`: both HR names match the one LR image, and
    without the check two HR images trained on one LR image, one of them misaligned."""
    rng = np.random.default_rng(5)
    hr_dir, lr_dir = folders(tmp_path, "HR", "LR")
    noise(rng, 8, 8).save(hr_dir / "a_HR.png")
    noise(rng, 8, 8).save(hr_dir / "a_LR.png")
    noise(rng, 4, 4).save(lr_dir / "a_LR.png")
    with pytest.raises(ValueError, match=r"a_LR.png matches the HR images .*a_HR.png.*a_LR.png.*a name of its own"):
        pair(hr_dir, lr_dir)


def test_an_lr_folder_reached_through_a_link_into_the_hr_folder_is_refused(tmp_path):
    """The folders are compared as the files they are (a link, `..`), not as the names given."""
    rng = np.random.default_rng(6)
    (hr_dir,) = folders(tmp_path, "pairs")
    noise(rng, 8, 8).save(hr_dir / "a_HR.png")
    noise(rng, 4, 4).save(hr_dir / "a_LR.png")
    (tmp_path / "link").symlink_to(hr_dir, target_is_directory=True)
    for lr_dir in (tmp_path / "link", hr_dir / ".." / "link"):
        with pytest.raises(ValueError, match=r"^data.train_lr .* holds images of data.train"):
            pair(hr_dir, lr_dir)


def test_lr_images_of_the_hr_size_say_what_to_do(tmp_path):
    rng = np.random.default_rng(5)
    hr_dir, lr_dir = folders(tmp_path, "hr", "lr")
    noise(rng, 8, 10).save(hr_dir / "a.png")
    noise(rng, 8, 10).save(lr_dir / "a.png")
    with pytest.raises(ValueError) as err:
        pair(hr_dir, lr_dir)
    assert str(err.value) == (
        f"data.train_lr: 1 of its 1 LR images are the size of their HR image ({lr_dir / 'a.png'} 10×8 for "
        f"{hr_dir / 'a.png'} 10×8), but a ×2 model's LR image is its HR image's size / 2: downscale the LR images by 2 "
        "(inputs upsampled to the HR size, as some camera pairs come), or train a ×1 model on them (a denoising or "
        "JPEG preset, model.scale 1)"
    )


# --- HR images not exactly scale × LR --------------------------------------------------------------------------


def test_an_hr_image_a_pixel_off_scale_times_its_lr_image_trains_on_what_both_cover(tmp_path, tiny_config, caplog):
    """HR 127×127 with LR 64×64 at ×2 (an LR size rounded up, as MATLAB's imresize gives it) was refused as an LR
    image of another scale; HR 129×129 with it trained, cropped without a word. Both train now on what both cover, as
    the authors' and Real-ESRGAN's mod-crop of paired data, said once before the run with a count."""
    from swinir_hf.training.config import TrainingConfig
    from swinir_hf.training.data import build_dataset, validation_images

    rng = np.random.default_rng(13)
    hr_dir, lr_dir = folders(tmp_path, "hr", "lr")
    for name, side in (("a", 127), ("b", 129), ("c", 128)):
        lr = np.asarray(noise(rng, 64, 64))
        hr = np.pad(np.kron(lr, np.ones((2, 2, 1), np.uint8)), ((0, 1), (0, 1), (0, 0)), mode="edge")
        Image.fromarray(hr[:side, :side]).save(hr_dir / f"{name}.png")
        Image.fromarray(lr).save(lr_dir / f"{name}.png")
    data = {"train": [str(hr_dir)], "train_lr": [str(lr_dir)], "degradation": "paired", "val": None, "patch_size": 8}
    with caplog.at_level(logging.INFO, logger="swinir_hf.train"):
        ds = build_dataset(TrainingConfig.from_dict({"data": data}), tiny_config())
    assert caplog.messages == [
        "data.train_lr: 2 of its 3 pairs have an HR image that is not exactly 2 × its LR image (e.g. "
        f"{hr_dir / 'a.png'} 127×127 with {lr_dir / 'a.png'} 64×64, trained on as 126×126 with 63×63): each is "
        "trained on what both cover, the HR image's extra right / bottom pixels cropped"
    ]
    for key in range(12):
        sample = ds[key]
        assert torch.equal(sample["labels"][:, ::2, ::2], sample["pixel_values"])
    images = validation_images(ds.hr_items, Degradation("bicubic", 2), 3, 0, ds.lr_items)
    assert [(image.hr.shape[0], image.lr.shape[0]) for image in images] == [(126, 63), (128, 64), (128, 64)]


def test_pairs_further_off_are_refused_listing_the_first_with_their_sizes(tmp_path):
    """Only the first such pair was named (and pairs an HR image's pixel short of it were taken for another
    scale)."""
    rng = np.random.default_rng(14)
    hr_dir, lr_dir = folders(tmp_path, "hr", "lr")
    for name in ("a", "b", "c", "d", "e"):
        noise(rng, 32, 32).save(hr_dir / f"{name}.png")
        side = 8 if name < "e" else 16
        noise(rng, side, side).save(lr_dir / f"{name}.png")
    with pytest.raises(ValueError) as err:
        pair(hr_dir, lr_dir)
    assert str(err.value) == (
        f"data.train_lr: 4 of its 5 LR images are not their HR image's size / 2 ({lr_dir / 'a.png'} 8×8 for "
        f"{hr_dir / 'a.png'} 32×32, {lr_dir / 'b.png'} 8×8 for {hr_dir / 'b.png'} 32×32, {lr_dir / 'c.png'} 8×8 for "
        f"{hr_dir / 'c.png'} 32×32 and 1 more): LR images of another scale? each LR image is its HR image's size / 2, "
        "upright (an HR image up to 1 pixel more or less is cropped to fit)"
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
    bad, report = unopenable_pairs(items, read_headers(items), None, None, "data.train")
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
    bad, report = unopenable_pairs(hr_items, read_headers(hr_items), lr_items, read_headers(lr_items), "data.train")
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
    from swinir_hf.models.pixels_swinir import split_image

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


def test_images_smaller_than_a_patch_are_said_before_the_run(tmp_path, tiny_config, caplog):
    """Each is mirror-padded up to the patch (a folder of thumbnails trained on mirror images of them, without a
    word): one line names them and the smallest, from their headers; a file that cannot be opened is not among them."""
    from swinir_hf.training.config import TrainingConfig
    from swinir_hf.training.data import build_dataset

    rng = np.random.default_rng(11)
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, (h, w) in {"a.png": (40, 40), "s1.png": (12, 20), "s2.png": (30, 12), "wide.png": (16, 64)}.items():
        noise(rng, h, w).save(photos / name)
    (photos / "fake.png").write_text("not a png")
    cfg = TrainingConfig.from_dict({"data": {"train": [str(photos)], "val": None, "patch_size": 8}})  # ×2: 16²
    with caplog.at_level(logging.INFO, logger="swinir_hf.train"):
        ds = build_dataset(cfg, tiny_config())
    assert ds.readable == 4
    assert caplog.messages[0].startswith("data.train: 1 of its 5 images cannot be opened")
    assert caplog.messages[1:] == [
        f"data.train: 2 of its 5 images are smaller than the 16×16 patch it trains on ({photos / 's1.png'} and "
        f"{photos / 's2.png'}; the smallest 20×12): each is mirror-padded up to it, not upscaled; give larger images "
        "or a smaller data.patch_size"
    ]
    assert ds[0]["labels"].shape == (3, 16, 16)


def test_each_training_header_is_read_once_for_both_notes(tmp_path, monkeypatch):
    """Both notes came from their own pass over the headers: each HR file was opened twice before the run."""
    import swinir_hf.training.headers as headers

    rng = np.random.default_rng(12)
    for name, (h, w) in {"a.png": (40, 40), "s.png": (12, 20)}.items():
        noise(rng, h, w).save(tmp_path / name)
    (tmp_path / "fake.png").write_text("not a png")
    items = load_images(str(tmp_path))
    read, read_header = [], headers.read_header
    monkeypatch.setattr(headers, "read_header", lambda item: read.append(item) or read_header(item))
    bad, reports = header_notes(items, read_headers(items), None, None, 16, "data.train")
    assert sorted(Path(item).name for item in read) == ["a.png", "fake.png", "s.png"]
    assert [Path(items[i]).name for i in bad] == ["fake.png"]
    assert reports[0].startswith("data.train: 1 of its 3 images cannot be opened")
    assert reports[1].startswith(
        f"data.train: 1 of its 3 images are smaller than the 16×16 patch it trains on ({tmp_path / 's.png'};"
    )


def test_each_header_of_paired_data_is_read_once_per_run(tmp_path, tiny_config, monkeypatch, caplog):
    """The pairs' sizes and orientations were checked from their headers, then both notes read every HR and LR
    header again: each file was opened twice before the run."""
    import swinir_hf.training.headers as headers
    import swinir_hf.training.pairing as pairing
    from swinir_hf.training.config import TrainingConfig
    from swinir_hf.training.data import build_dataset

    rng = np.random.default_rng(13)
    hr_dir, lr_dir = folders(tmp_path, "hr", "lr")
    for name, side in {"a": 40, "s": 12}.items():
        noise(rng, side, side).save(hr_dir / f"{name}.png")
        noise(rng, side // 2, side // 2).save(lr_dir / f"{name}.png")
    (hr_dir / "x.png").write_text("not a png")
    (lr_dir / "x.png").write_text("not a png")
    read = []
    for module in (headers, pairing):  # wherever a header is read from
        if hasattr(module, "read_header"):
            original = module.read_header
            monkeypatch.setattr(
                module, "read_header", lambda item, read_header=original: read.append(item) or read_header(item)
            )
    data = {"train": [str(hr_dir)], "train_lr": [str(lr_dir)], "degradation": "paired", "val": None, "patch_size": 8}
    with caplog.at_level(logging.WARNING, logger="swinir_hf.train"):
        ds = build_dataset(TrainingConfig.from_dict({"data": data}), tiny_config())
    assert sorted(str(Path(item).relative_to(tmp_path)) for item in read) == [
        "hr/a.png",
        "hr/s.png",
        "hr/x.png",
        "lr/a.png",
        "lr/s.png",
        "lr/x.png",
    ]
    assert ds.readable == 2
    assert caplog.messages == [
        f"data.train: 1 of its 3 pairs cannot be opened (HR {hr_dir / 'x.png'} and LR {lr_dir / 'x.png'}; "
        + caplog.messages[0].split("; ", 1)[1],
        f"data.train: 1 of its 3 images are smaller than the 16×16 patch it trains on ({hr_dir / 's.png'}; the "
        "smallest 12×12): each is mirror-padded up to it, not upscaled; give larger images or a smaller "
        "data.patch_size",
    ]

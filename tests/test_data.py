"""Training data: reproducible patches, sharding, odd images, sources, and the real-world degradation."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from preloaded_python import PreloadedPython

from swinir_hf.degradations.real_world import blur, gaussian_kernel, real_world_degradation
from swinir_hf.degradations.synthetic import bicubic_downscale, bicubic_patch
from swinir_hf.training.data import Degradation, TrainingPatches, augment, validation_images
from swinir_hf.training.images import decode_image, items_fingerprint, load_images
from swinir_hf.training.pairing import pair_lr_images
from swinir_hf.training.sampler import StepBatchSampler


def smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A uint8 RGB image with structure at several scales (upsampled noise)."""
    small = rng.random((max(2, h // 8), max(2, w // 8), 3))
    big = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC))
    return big


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(40, 52), (64, 48), (36, 36), (50, 70)]):
        Image.fromarray(smooth_image(rng, h, w)).save(tmp_path / f"img{i}.png")
    return tmp_path


def patches(folder, **kw) -> TrainingPatches:
    args = dict(patch_size=8, degradation=Degradation("bicubic", 2), channels=3, seed=7)
    args.update(kw)
    return TrainingPatches(load_images(str(folder)), **args)


def test_samples_are_a_pure_function_of_seed_and_key(folder):
    ds = patches(folder)
    a, b = ds[5], patches(folder)[5]
    assert a["pixel_values"].shape == (3, 8, 8) and a["labels"].shape == (3, 16, 16)
    assert torch.equal(a["pixel_values"], b["pixel_values"]) and torch.equal(a["labels"], b["labels"])
    assert not torch.equal(ds[6]["labels"], a["labels"])
    assert not torch.equal(patches(folder, seed=8)[5]["labels"], a["labels"])


def test_each_epoch_visits_every_image_once(folder):
    ds = patches(folder)
    for epoch in range(3):
        assert sorted(ds.image_index(epoch * 4 + i) for i in range(4)) == [0, 1, 2, 3]
    assert [ds.image_index(i) for i in range(4)] != [ds.image_index(4 + i) for i in range(4)]


def test_the_image_order_is_the_seeds(folder):
    """Another seed, another order of the images over the epochs (not only other crops of them); the same seed,
    the same order."""
    orders = {seed: tuple(patches(folder, seed=seed).image_index(i) for i in range(12)) for seed in (1, 2, 3, 4)}
    assert orders[1] == tuple(patches(folder, seed=1).image_index(i) for i in range(12))
    assert len(set(orders.values())) == 4


def test_sampler_shards_each_global_batch_across_processes_and_accumulation():
    full = list(StepBatchSampler(8, 2, 1, 0, start_step=3, max_steps=5))
    assert full == [[24, 25, 26, 27], [28, 29, 30, 31], [32, 33, 34, 35], [36, 37, 38, 39]]
    ranks = [list(StepBatchSampler(8, 2, 2, r, 3, 5)) for r in (0, 1)]
    assert ranks[0][0] == [24, 25] and ranks[1][0] == [26, 27]
    for step in range(2):
        keys = sorted(k for r in ranks for micro in r[2 * step : 2 * step + 2] for k in micro)
        assert keys == list(range(24 + 8 * step, 32 + 8 * step))
    with pytest.raises(ValueError, match="divisible"):
        StepBatchSampler(6, 2, 2, 0, 0, 1)


def test_dataloader_workers_do_not_change_the_data(folder):
    ds = patches(folder)

    def first(workers):
        loader = torch.utils.data.DataLoader(ds, batch_sampler=StepBatchSampler(4, 1, 1, 0, 2, 4), num_workers=workers)
        return [b["labels"] for b in loader]

    for a, b in zip(first(0), first(2), strict=True):
        assert torch.equal(a, b)


def test_small_images_are_mirror_padded(tmp_path):
    img = smooth_image(np.random.default_rng(1), 10, 12)
    Image.fromarray(img).save(tmp_path / "small.png")
    ds = patches(tmp_path, patch_size=8, flip=False, rot90=False)
    labels = np.rint(ds[0]["labels"].numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
    assert labels.shape == (16, 16, 3)
    np.testing.assert_array_equal(labels[:10, :12], img)  # the whole image, top-left
    np.testing.assert_array_equal(labels[10:, :12], img[::-1][:6])  # then its mirror


def test_corrupt_images_are_skipped_with_a_warning(folder, caplog):
    (folder / "img1.png").write_bytes(b"not a png at all")
    ds = patches(folder)
    bad = next(k for k in range(4) if ds.image_index(k) == 1)
    with caplog.at_level(logging.WARNING, logger="swinir_hf.train"):
        sample = ds[bad]
        for key in range(3 * len(ds)):  # every key gets a sample; the image is said unreadable once
            assert ds[key]["labels"].shape == (3, 16, 16)
    assert [m.split(":")[0] for m in caplog.messages] == [f"skipping unreadable image {folder / 'img1.png'}"]
    assert sample["labels"].shape == (3, 16, 16)


def test_an_unreadable_image_is_replaced_by_one_of_its_own_epoch(tmp_path):
    """The next key's image was tried instead, which at an epoch's end is the next epoch's first: with [bad, ok],
    that could be the bad one again, and `no training image could be decoded` stopped the run."""
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "ok.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    ds = patches(tmp_path)
    for key in range(20):
        assert ds[key]["labels"].shape[0] == 3


def _ten_images(images: Path) -> Path:
    """A folder `images` of ten 12×12 training images, `img0.png` ... `img9.png`."""
    images.mkdir()
    rng = np.random.default_rng(3)
    for i in range(10):
        Image.fromarray(smooth_image(rng, 12, 12)).save(images / f"img{i}.png")
    return images


def test_a_folder_gone_mid_run_names_three_images_then_counts(tmp_path, caplog):
    """Each unreadable image was a warning (800 lines for DIV2K, from each process) before the stop line: now the
    first 3 of a process are named, one line says further ones are counted, and the stop line gives the count."""
    from swinir_hf.training.data import SampleError
    from swinir_hf.training.sampler import _collate, _Samples, next_batch

    images = _ten_images(tmp_path / "images")
    ds = patches(images)
    loader = torch.utils.data.DataLoader(
        _Samples(ds), batch_sampler=StepBatchSampler(4, 1, 1, 0, 0, 5), collate_fn=_collate, num_workers=0
    )
    batches = iter(loader)
    with caplog.at_level(logging.WARNING, logger="swinir_hf.train"):
        assert next_batch(batches, tmp_path / "run", 0)["labels"].shape == (4, 3, 16, 16)
        for path in images.iterdir():  # the folder unmounted, say
            path.unlink()
        with pytest.raises(SampleError) as stop:
            next_batch(batches, tmp_path / "run", 1)
    said = [m.split(":")[0] for m in caplog.messages]
    assert len(said) == 4 and all(m.startswith(f"skipping unreadable image {images}") for m in said[:3])
    assert caplog.messages[3] == (
        "skipping more unreadable training images: those after the first 3 in this process are counted, not listed"
    )
    assert str(stop.value).startswith(
        "training stopped after step 1: none of the 10 training images can be decoded any more (10 found so in this "
        f"process, 7 of them not listed; e.g. image {images / 'img'}"
    )


def test_each_dataloader_worker_lists_and_counts_its_own_unreadable_images_and_says_so(tmp_path, caplog):
    """Each DataLoader worker decodes with its own copy of the data: it names the first 3 unreadable images it finds
    and counts the rest on its own (4 workers: up to 16 lines, an image named by several); the stop's count is over
    the workers (`FoundUnreadable`). The lines said "in this process" for each worker alike; now they say which."""
    from swinir_hf.training.data import SampleError
    from swinir_hf.training.sampler import _collate, _Samples, end_workers, next_batch

    images = _ten_images(tmp_path / "images")
    ds = patches(images)
    for path in images.iterdir():  # gone before the workers' first batches
        path.unlink()
    loader = torch.utils.data.DataLoader(
        _Samples(ds), batch_sampler=StepBatchSampler(4, 1, 1, 0, 0, 5), collate_fn=_collate, num_workers=2
    )
    log = logging.FileHandler(tmp_path / "log")  # the forked workers write into it too
    logger = logging.getLogger("swinir_hf.train")
    logger.addHandler(log)
    batches = iter(loader)
    try:
        with caplog.at_level(logging.WARNING, logger="swinir_hf.train"), pytest.raises(SampleError) as stop:
            next_batch(batches, tmp_path / "run", 0)  # step 0's batch: worker 0's
    finally:
        end_workers(batches)
        logger.removeHandler(log)
        log.close()
    lines = (tmp_path / "log").read_text().splitlines()
    first = [line for line in lines if line.endswith(" (DataLoader worker 0 of 2)")]
    assert len(first) == 3 and all(line.startswith(f"skipping unreadable image {images}") for line in first)
    more = "those after the first 3 in DataLoader worker 0 of 2 are counted, not listed"
    assert f"skipping more unreadable training images: {more}" in lines
    assert all("DataLoader worker " in line for line in lines)
    # All 10 found (worker 0 meets each); named: worker 0's first 3, and those of worker 1's 3 it had named by then.
    counted = r"\(10 found so by this process's 2 DataLoader workers, [4-7] of them not listed; e\.g\. image "
    assert re.match(
        f"training stopped after step 0: none of the 10 training images can be decoded any more {counted}",
        str(stop.value),
    )


def test_paired_patches_stay_aligned_under_augmentation(tmp_path):
    rng = np.random.default_rng(2)
    (tmp_path / "hr").mkdir()
    (tmp_path / "lr").mkdir()
    for i in range(2):
        lr = smooth_image(rng, 20, 24)
        Image.fromarray(lr).save(tmp_path / "lr" / f"p{i}x2.png")
        Image.fromarray(np.kron(lr, np.ones((2, 2, 1), np.uint8))).save(tmp_path / "hr" / f"p{i}.png")
    hr = load_images(str(tmp_path / "hr"))
    lr = pair_lr_images(hr, str(tmp_path / "lr"), 2, "train", None)
    ds = TrainingPatches(hr, 8, Degradation("paired", 2), 3, seed=0, lr_items=lr)
    for key in range(6):
        s = ds[key]
        assert torch.equal(s["labels"][:, ::2, ::2], s["pixel_values"])
    # an HR image that is not a multiple of the scale, smaller than the patch (mirror-padded): still aligned
    odd = tmp_path / "odd"
    (odd / "hr").mkdir(parents=True)
    (odd / "lr").mkdir()
    small = smooth_image(rng, 5, 6)
    Image.fromarray(small).save(odd / "lr" / "s.png")
    Image.fromarray(np.pad(np.kron(small, np.ones((2, 2, 1), np.uint8)), ((0, 1), (0, 1), (0, 0)))).save(
        odd / "hr" / "s.png"
    )
    odd_hr = load_images(str(odd / "hr"))
    ds = TrainingPatches(
        odd_hr,
        8,
        Degradation("paired", 2),
        3,
        seed=0,
        lr_items=pair_lr_images(odd_hr, str(odd / "lr"), 2, "train", None),
    )
    for key in range(6):
        s = ds[key]
        assert torch.equal(s["labels"][:, ::2, ::2], s["pixel_values"])
    with pytest.raises(FileNotFoundError, match="no LR image"):
        pair_lr_images(hr, str(tmp_path / "lr"), 3, "train", None)  # names end in x2, not x3
    # LR images of another scale (here ×4 for a ×2 model, named without the suffix) would pair misaligned crops
    (tmp_path / "lr4").mkdir()
    for i in range(2):
        Image.open(tmp_path / "lr" / f"p{i}x2.png").resize((12, 10)).save(tmp_path / "lr4" / f"p{i}.png")
    with pytest.raises(
        ValueError,
        match=r"2 of its 2 LR images are not their HR image's size / 2 \(.*lr4/p0.png 12×10 for .*hr/p0.png 48×40",
    ):
        pair_lr_images(hr, str(tmp_path / "lr4"), 2, "train", None)
    # recursive folders with one name twice (a/p0.png, b/p0.png): stems alone would pair both with one LR image
    for side, name in (("hr", "p0.png"), ("lr", "p0x2.png")):
        (tmp_path / "dup" / side / "b").mkdir(parents=True)
        Image.open(tmp_path / side / name).save(tmp_path / "dup" / side / "b" / name)
        (tmp_path / "dup" / side / "a").mkdir()
        Image.open(tmp_path / "dup" / side / "b" / name).transpose(Image.FLIP_LEFT_RIGHT).save(
            tmp_path / "dup" / side / "a" / name
        )
    with pytest.raises(ValueError, match="'p0' names 2 HR and 2 LR images"):
        pair_lr_images(load_images(str(tmp_path / "dup" / "hr")), str(tmp_path / "dup" / "lr"), 2, "train", None)


def test_noise_and_jpeg_degradations(folder):
    rng = np.random.default_rng(0)
    hr = smooth_image(rng, 32, 32)
    noisy = Degradation("noise", noise_sigma=[10, 10])(hr, rng)
    assert abs((noisy - hr / 255.0).std() * 255 - 10) < 1.0
    grey = Degradation("jpeg", jpeg_quality=10)(hr[..., :1], rng)
    assert grey.shape == (32, 32, 1) and np.abs(grey - hr[..., :1] / 255.0).max() > 0
    with pytest.raises(ValueError, match="scale 1"):
        Degradation("noise", scale=2)
    with pytest.raises(ValueError, match="scale >= 2"):
        Degradation("bicubic", scale=1)


def test_a_training_degradation_of_a_range_is_named_by_it():
    """`str` of a ranged level (a training setting) was a TypeError from formatting the [low, high] list."""
    named = [Degradation("noise", noise_sigma=[0, 50]), Degradation("jpeg", jpeg_quality=[10, 90])]
    assert [str(d) for d in named] == ["noise σ=0-50", "JPEG q=10-90"]
    assert [str(Degradation("noise", noise_sigma=7.5)), str(Degradation("bicubic", 4))] == ["noise σ=7.5", "bicubic ×4"]


def test_levels_may_be_numpy_numbers():
    """A σ or quality from numpy (a sweep over np.arange) was a TypeError: "'numpy.int64' object is not iterable"."""
    from swinir_hf.evaluation import resolve_degradation

    assert str(Degradation("jpeg", jpeg_quality=np.int64(40))) == "JPEG q=40"
    assert str(Degradation("noise", noise_sigma=np.array([0.0, 50.0]))) == "noise σ=0-50"
    assert resolve_degradation(None, noise=np.float32(15)) == Degradation("noise", noise_sigma=15.0)
    with pytest.raises(ValueError, match="jpeg_quality must be an integer quality in 1..100"):
        Degradation("jpeg", jpeg_quality=np.int64(0))


def test_validation_set_is_cropped_to_the_scale_and_deterministic(folder, caplog):
    items = load_images(str(folder))
    a = validation_images(items, Degradation("bicubic", 3), 3, seed=0)
    assert [im.hr.shape[:2] for im in a] == [(39, 51), (63, 48), (36, 36), (48, 69)]
    assert a[0].lr.shape == (13, 17, 3)
    b = validation_images(items, Degradation("noise", noise_sigma=[0, 50]), 1, seed=0)
    c = validation_images(items, Degradation("noise", noise_sigma=[0, 50]), 1, seed=0)
    assert b[0].lr.shape[-1] == 1 and all(np.array_equal(x.lr, y.lr) for x, y in zip(b, c, strict=True))

    # an image with nothing inside the scored border (scale pixels) is skipped, as an unreadable one
    Image.new("RGB", (1, 1)).save(folder / "dot.png")
    with caplog.at_level(logging.WARNING, logger="swinir_hf.train"):
        d = validation_images(load_images(str(folder)), Degradation("bicubic", 3), 3, seed=0)
    assert caplog.messages == ["skipping validation image dot.png: 1×1 is too small at ×3"]
    assert [im.name for im in d] == [im.name for im in a]


def test_a_validation_shard_is_its_images_as_in_the_whole_set(folder):
    """Process k of n takes images k, k + n, ...: each degraded as in the whole set (its rng is seeded by its index
    there), so the shares together are the set."""
    items = load_images(str(folder))
    kind = Degradation("noise", noise_sigma=[0, 50])
    whole = validation_images(items, kind, 3, seed=0)
    shares = [validation_images(items, kind, 3, seed=0, shard=(k, 3)) for k in range(3)]
    assert [len(share) for share in shares] == [2, 1, 1] and len(whole) == 4
    for k, share in enumerate(shares):
        for j, im in enumerate(share):
            assert im.name == whole[k + 3 * j].name and np.array_equal(im.lr, whole[k + 3 * j].lr)


def test_the_mean_psnr_of_no_images_is_an_error():
    from swinir_hf.training.validation import mean_psnr

    assert mean_psnr([30.0, 31.0, 35.0]) == pytest.approx(32.0)
    with pytest.raises(ValueError, match="the validation set has no readable images"):
        mean_psnr([])


def test_a_benchmark_folder_gives_its_hr_images_as_eval_reads_it(tmp_path, folder):
    """A benchmark's folder (`Set5/` with `HR/` beside `LR_bicubic/X2/`) given as validation or training images:
    its LR images were read as ground truth too (25 images for Set5's 5), and macOS' `._a.png` files as images."""
    bench = tmp_path / "Set5"
    for sub in ("HR", "LR_bicubic/X2", "HR/.thumbnails"):
        (bench / sub).mkdir(parents=True)
    for i, image in enumerate(sorted(folder.glob("*.png"))):
        shutil.copy(image, bench / "HR" / f"im{i}.png")
        shutil.copy(image, bench / "LR_bicubic" / "X2" / f"im{i}x2.png")
    (bench / "HR" / "._im0.png").write_bytes(b"\x00\x05\x16\x07")  # macOS' resource fork beside a copied file
    shutil.copy(bench / "HR" / "im0.png", bench / "HR" / ".thumbnails" / "im0.png")
    assert load_images(str(bench)) == [str(bench / "HR" / f"im{i}.png") for i in range(4)]
    shutil.rmtree(bench / "LR_bicubic")  # without LR images beside it, HR/ is one folder of the others
    (bench / "scans").mkdir()
    shutil.copy(bench / "HR" / "im1.png", bench / "scans" / "s.png")
    assert load_images(str(bench)) == [str(bench / "HR" / f"im{i}.png") for i in range(4)] + [
        str(bench / "scans/s.png")
    ]


def test_datasets_save_to_disk_source(tmp_path, folder):
    import datasets

    ds = datasets.Dataset.from_dict({"image": [str(p) for p in sorted(folder.glob("*.png"))]})
    ds.cast_column("image", datasets.Image()).save_to_disk(str(tmp_path / "ds"))
    items = load_images(str(tmp_path / "ds"))
    assert len(items) == 4
    splits = datasets.load_from_disk(str(tmp_path / "ds")).train_test_split(test_size=1, shuffle=False)
    splits.save_to_disk(str(tmp_path / "splits"))  # a DatasetDict: dataset_dict.json and a folder per split
    assert load_images(str(tmp_path / "splits"), split="test") == items[3:]
    sample = TrainingPatches(items, 8, Degradation("bicubic", 2), 3, seed=7)[5]
    assert torch.equal(sample["labels"], patches(folder)[5]["labels"])
    with pytest.raises(FileNotFoundError, match="no such dataset folder"):
        load_images(str(tmp_path / "missing.png"))


def test_a_datasets_source_holds_its_rows_not_their_bytes_and_leaves_out_rows_without_an_image(tmp_path, caplog):
    """Its items held every image's bytes (a DIV2K-sized Hub dataset: gigabytes in each process); they read them
    from the dataset's memory-mapped table when used now. A row without an image failed the run's first checks with
    a traceback (`Path(None)`); it is left out, with a warning."""
    import pickle

    import datasets

    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)) for _ in range(6)]
    rows = {"image": [images[0], None, *images[1:]]}
    ds = datasets.Dataset.from_dict(rows, features=datasets.Features({"image": datasets.Image()}))
    ds.save_to_disk(str(tmp_path / "ds"))
    with caplog.at_level("WARNING"):
        items = load_images(str(tmp_path / "ds"))
    assert f"{tmp_path / 'ds'}: rows without an image left out (1 of 7, first row 1)" in caplog.text
    stored = [
        row["image"]["bytes"]
        for row in datasets.load_from_disk(str(tmp_path / "ds")).cast_column("image", datasets.Image(decode=False))
        if row["image"]
    ]
    assert [item["bytes"] for item in items] == stored and len(stored) == 6
    # A resumed run is checked against the fingerprint of the items' names and sizes, as the rows' values gave it.
    assert items_fingerprint(items) == items_fingerprint([{"bytes": data, "path": None} for data in stored])
    assert len(pickle.dumps(items)) < sum(map(len, stored)) / 4  # as sent to DataLoader workers: no image's bytes
    assert [decode_image(item, 3).shape for item in pickle.loads(pickle.dumps(items))] == [(64, 48, 3)] * 6
    patches = TrainingPatches(items, 8, Degradation("bicubic", 2), 3, seed=0)
    assert patches[0]["labels"].shape == (3, 16, 16)


def test_dataset_sources_without_datasets_name_the_extra(tmp_path, monkeypatch):
    import sys

    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "state.json").write_text("{}")
    (tmp_path / "ds" / "dataset_info.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` raises ModuleNotFoundError
    hint = r"needs the 'datasets' package, which the \[train\] extra provides: pip install -e '\.\[train\]'"
    with pytest.raises(ImportError, match=f"reading the save_to_disk folder .*ds {hint}"):
        load_images(str(tmp_path / "ds"))
    with pytest.raises(ImportError, match=f"loading the dataset 'org/name' {hint}"):
        load_images("org/name")


def test_real_world_degradation_is_seeded_and_sized():
    hr = smooth_image(np.random.default_rng(3), 64, 48)
    a = real_world_degradation(hr, 4, np.random.default_rng(5))
    assert a.shape == (16, 12, 3) and a.dtype == np.uint8
    assert np.array_equal(a, real_world_degradation(hr, 4, np.random.default_rng(5)))
    assert not np.array_equal(a, real_world_degradation(hr, 4, np.random.default_rng(6)))
    assert real_world_degradation(hr[..., :1], 2, np.random.default_rng(0)).shape == (32, 24, 1)
    # An image whose sides are not multiples of the scale is cropped to them first, as BSRGAN does and as its
    # ground truth is: the whole of it resized to the LR size was stretched against that (eval --real).
    odd = np.pad(hr, ((0, 3), (0, 2), (0, 0)), mode="reflect")
    assert np.array_equal(real_world_degradation(odd, 4, np.random.default_rng(5)), a)


def test_real_world_inputs_end_in_a_jpeg_on_the_lr_grid():
    """BSRGAN's last step: the LR image is a JPEG, with steps in its pixels at its own 8×8 block edges. Without it
    (the round-two JPEG is resized afterwards) edges between columns 8k-1 and 8k are as smooth as any others."""
    texture = np.random.default_rng(0).integers(0, 256, (37, 37, 3), dtype=np.uint8)  # no structure on an 8-grid
    hr = np.asarray(Image.fromarray(texture).resize((128, 128), Image.BICUBIC))

    def block_edge_ratio(lr: np.ndarray) -> float:
        steps = np.abs(np.diff(lr.astype(np.float64).mean(axis=-1), axis=1))
        at_edge = np.arange(steps.shape[1]) % 8 == 7
        return steps[:, at_edge].mean() / steps[:, ~at_edge].mean()

    ratios = [block_edge_ratio(real_world_degradation(hr, 2, np.random.default_rng(seed))) for seed in range(12)]
    assert np.mean(ratios) > 1.15  # ~1.06 without the final JPEG


def test_gaussian_kernel_is_normalised_and_anisotropic():
    k = gaussian_kernel(15, 3.0, 1.0, 0.0)
    assert k.sum() == pytest.approx(1.0)
    assert k[7, 0] > k[0, 7]  # wider along x (columns) than along y
    np.testing.assert_allclose(gaussian_kernel(15, 3.0, 1.0, np.pi / 2), k.T, atol=1e-12)
    with pytest.raises(ValueError, match="odd"):
        gaussian_kernel(4, 1.0, 1.0, 0.0)


def direct_convolution(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Reference for `blur`: a tap-by-tap convolution in float64 of the documented padding (reflect, then edge)."""
    k, half = kernel.shape[0], kernel.shape[0] // 2
    h, w = image.shape[:2]
    pad = min(half, h - 1, w - 1)
    padded = np.pad(image.astype(np.float64), ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    padded = np.pad(padded, ((half - pad,) * 2, (half - pad,) * 2, (0, 0)), mode="edge")
    out = np.zeros((h, w, image.shape[2]))
    for a in range(k):
        for b in range(k):
            out += kernel[a, b] * padded[2 * half - a : 2 * half - a + h, 2 * half - b : 2 * half - b + w]
    return out


def test_blur_is_a_convolution_with_reflected_borders():
    rng = np.random.default_rng(0)
    kernel = rng.random((9, 9))  # not symmetric: convolution, not correlation
    kernel /= kernel.sum()
    for h, w in ((40, 33), (6, 5), (1, 3)):  # larger than the kernel, smaller (edge values), a single row
        image = rng.random((h, w, 3)).astype(np.float32)
        out = blur(image, kernel)
        assert out.dtype == np.float32 and out.shape == image.shape
        np.testing.assert_allclose(out, direct_convolution(image, kernel), atol=2e-6)
    smooth = gaussian_kernel(21, 3.0, 0.5, 1.0)
    image = rng.random((64, 48, 1))
    np.testing.assert_allclose(blur(image, smooth), direct_convolution(image, smooth), atol=1e-12)


def test_plain_folders_need_no_datasets(folder, monkeypatch):
    """Machines without `datasets` (the GPU lease machine) train on plain image folders."""
    import sys

    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` now raises ImportError
    assert [p.rsplit("/", 1)[-1] for p in load_images(str(folder))] == sorted(p.name for p in folder.glob("*.png"))
    with pytest.raises(ImportError):
        load_images("org/some-hub-dataset")


def test_training_reads_imagefolder_specs_as_restore_and_eval_do(tmp_path, folder, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    items = load_images(f"imagefolder:{folder}")
    assert sorted(Path(item["path"]).name for item in items) == sorted(p.name for p in folder.glob("*.png"))
    with pytest.raises(FileNotFoundError, match="no such imagefolder directory"):
        load_images(f"imagefolder:{tmp_path / 'missing'}")


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_patches_are_crops_of_the_whole_downscaled_image(scale):
    """The LR patch is what MATLAB's imresize of the whole image gives there, edges included: the outer LR pixels of
    a patch downscaled on its own (mirrored at the patch's edge) were off by up to several grey levels."""
    image = smooth_image(np.random.default_rng(scale), 13 * scale + 1, 11 * scale + 2)  # not multiples of the scale
    size = 5
    for top in range(image.shape[0] - size * scale + 1):
        for left in range(image.shape[1] - size * scale + 1):
            lr, hr = bicubic_patch(image, top, left, size, scale)
            whole = bicubic_downscale(image[top % scale :, left % scale :], scale)
            t, lt = top // scale, left // scale
            np.testing.assert_array_equal(lr, whole[t : t + size, lt : lt + size])
            np.testing.assert_array_equal(hr, image[top : top + size * scale, left : left + size * scale])


def test_bicubic_training_inputs_match_the_downscaled_image(tmp_path):
    image = smooth_image(np.random.default_rng(4), 31, 45)
    Image.fromarray(image).save(tmp_path / "a.png")
    ds = TrainingPatches(load_images(str(tmp_path)), 6, Degradation("bicubic", 3), 3, seed=1, flip=False, rot90=False)
    for key in range(12):
        s = ds[key]
        target = np.rint(s["labels"].numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
        ((top, left),) = [
            (t, lt)
            for t in range(31 - 18 + 1)
            for lt in range(45 - 18 + 1)
            if np.array_equal(image[t : t + 18, lt : lt + 18], target)
        ]
        whole = bicubic_downscale(image[top % 3 :, left % 3 :], 3)
        expected = whole[top // 3 : top // 3 + 6, left // 3 : left // 3 + 6]
        np.testing.assert_array_equal(np.rint(s["pixel_values"].numpy().transpose(1, 2, 0) * 255), expected)
    # flips and rotations turn the pair together
    turned = TrainingPatches(load_images(str(tmp_path)), 6, Degradation("bicubic", 3), 3, seed=1)[0]
    lr = np.rint(turned["pixel_values"].numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
    hr = np.rint(turned["labels"].numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
    assert any(
        np.array_equal(lr, augment(bicubic_patch(image, t, lt, 6, 3)[0], f, r))
        and np.array_equal(hr, augment(image[t : t + 18, lt : lt + 18], f, r))
        for t in range(14)
        for lt in range(28)
        for f in range(2)
        for r in range(4)
    )


def test_jpeg_patches_have_their_blocks_at_any_offset_as_the_authors_data(folder):
    """A JPEG sample is cut from a (p + 8)² compressed crop, at its corner or, half of the time, at a random offset
    of up to 8 pixels (the authors' data); compressing the patch itself put every 8×8 block grid at its corner."""
    p, offsets = 16, []

    class Marked(Degradation):
        """The JPEG setting, whose 'compression' writes each pixel's position into the input instead."""

        def __call__(self, hr, rng):
            assert hr.shape[:2] == (p + 8, p + 8)
            rows, cols = np.indices(hr.shape[:2], dtype=np.float32)
            return np.stack([rows, cols, np.zeros_like(rows)], axis=-1)

    items = load_images(str(folder))
    ds = TrainingPatches(items, p, Marked("jpeg", jpeg_quality=10), 3, seed=3)
    plain = TrainingPatches(items, p, Degradation("jpeg", jpeg_quality=10), 3, seed=3)
    for key in range(40):
        sample = ds[key]["pixel_values"].numpy()
        dy, dx = int(sample[0, 0, 0]), int(sample[1, 0, 0])
        offsets.append((dy, dx))
        assert sample.shape == (3, p, p) and int(sample[0, -1, -1]) == dy + p - 1  # a p² window of the crop
        real = plain[key]
        assert real["labels"].shape == real["pixel_values"].shape == (3, p, p)
    corner = offsets.count((0, 0))
    assert 10 <= corner <= 30 and len(set(offsets)) > 10
    assert max(max(o) for o in offsets) <= 8


def test_training_reads_images_upright_as_restore_and_eval_do(tmp_path):
    """A phone photo's EXIF orientation is applied in training as by `read_image` (restore, eval), from a file and
    from a datasets row's bytes; a folder's HEIC phone photos are listed with its other images."""
    from swinir_hf.inference.image_io import read_image

    rng = np.random.default_rng(0)
    photo = tmp_path / "photos" / "phone.png"
    photo.parent.mkdir()
    image = Image.fromarray(rng.integers(0, 256, (20, 36, 3), dtype=np.uint8))
    exif = image.getexif()
    exif[0x0112] = 6  # stored 36 wide, 20 high; shown turned a quarter: 20 × 36
    image.save(photo, exif=exif)
    upright = np.asarray(read_image(photo).pixels)
    assert upright.shape == (36, 20, 3)
    np.testing.assert_array_equal(decode_image(str(photo), 3), upright)
    np.testing.assert_array_equal(decode_image({"bytes": photo.read_bytes(), "path": None}, 3), upright)
    (photo.parent / "phone2.heic").write_bytes(b"\0\0\0\x18ftypheic")
    assert [Path(p).name for p in load_images(str(photo.parent), "train", None)] == ["phone.png", "phone2.heic"]


def test_grey_jpeg_targets_are_studio_range_y_half_of_the_time(tmp_path):
    """Found by a degradations audit: a 1-channel JPEG model trained on full-range luma only, while the benchmark
    scores colour test images on studio-range Y (16..235) as the authors; their data takes Y for half the patches."""
    black_and_white = np.random.default_rng(0).integers(0, 2, (64, 64, 1)) * np.full(3, 255)
    Image.fromarray(black_and_white.astype(np.uint8)).save(tmp_path / "a.png")  # every patch spans 0..255
    ds = TrainingPatches(load_images(str(tmp_path)), 16, Degradation("jpeg", jpeg_quality=40), 1, seed=0)
    studio = []
    for key in range(40):
        target = ds[key]["labels"].numpy() * 255
        assert target.shape == (1, 16, 16)
        studio.append(bool(target.min() >= 16 - 1e-3 and target.max() <= 235 + 1e-3))
    assert 10 <= sum(studio) <= 30 and not all(studio)  # about half, and full-range luma the rest


def test_grey_targets_of_colour_images_are_rounded_bt601_luma(tmp_path):
    """A colour image read for a 1-channel model is its BT.601 luma 0.299 R + 0.587 G + 0.114 B, rounded to the
    nearest grey level (not truncated)."""
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3))
    thousandths = rgb @ np.array([299, 587, 114])
    rgb[thousandths % 1000 == 500] = 0  # no exact halves: either rounding of those would do
    Image.fromarray(rgb.astype(np.uint8)).save(tmp_path / "c.png")
    expected = (rgb @ np.array([299, 587, 114]) + 500) // 1000
    assert (expected != rgb @ np.array([299, 587, 114]) // 1000).sum() > 50  # rounding and truncation differ here
    grey = decode_image(str(tmp_path / "c.png"), 1)
    assert grey.shape == (16, 16, 1) and grey.dtype == np.uint8
    np.testing.assert_array_equal(grey[..., 0], expected)


def test_a_validation_image_with_nothing_inside_the_scored_border_is_skipped(tmp_path, caplog):
    """At ×2 the scored border is 2 pixels a side: a 4×4 image has nothing inside it, nor a 5×5 one once cropped to
    whole LR pixels (4×4), and both are skipped with a warning; a 6×6 one keeps its middle 2×2 and is validated."""
    rng = np.random.default_rng(0)
    for side in (4, 5, 6):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(tmp_path / f"{side}.png")
    with caplog.at_level(logging.WARNING, logger="swinir_hf.train"):
        kept = validation_images(load_images(str(tmp_path)), Degradation("bicubic", 2), 3, seed=0)
    assert caplog.messages == [
        f"skipping validation image {side}.png: {side}×{side} is too small at ×2" for side in (4, 5)
    ]
    assert [(im.name, im.hr.shape, im.lr.shape) for im in kept] == [("6.png", (6, 6, 3), (3, 3, 3))]


def test_validation_jpeg_quality_is_the_middle_of_the_training_range(tmp_path, tiny_config):
    """Without val_jpeg_quality, validation inputs are JPEGs at the middle of the training range: 25.5 for
    [10, 41], rounded to 26."""
    from swinir_hf.degradations.synthetic import jpeg_compress
    from swinir_hf.training.config import TrainingConfig
    from swinir_hf.training.data import build_validation

    hr = smooth_image(np.random.default_rng(0), 32, 32)
    (tmp_path / "val").mkdir()
    Image.fromarray(hr).save(tmp_path / "val" / "a.png")
    raw = {"train": ["x"], "val": str(tmp_path / "val"), "degradation": "jpeg", "jpeg_quality": [10, 41]}
    cfg = TrainingConfig.from_dict({"data": raw})
    (image,) = build_validation(cfg, tiny_config(upscale=1, upsampler=""))
    np.testing.assert_array_equal(np.rint(image.lr * 255), jpeg_compress(hr, 26))
    assert not np.array_equal(jpeg_compress(hr, 25), jpeg_compress(hr, 26))


# (the handlers a worker's process has, what its warning must then start with)
WORKER_LOGGING = [
    ("", "warning: "),  # spawned (macOS, Windows): none
    ("package_log(logging.WARNING).__enter__()", "warning: "),  # forked from the command line
    ("logging.basicConfig(format='%(levelname)s %(message)s')", "WARNING "),  # forked from a caller's program
]


def test_a_data_worker_prefixes_its_warnings_once(tmp_path):
    """A spawned worker starts without the trainer's handler, a forked one with its process's: Python's last resort
    printed the warning bare in the one, and the others must not print it twice (their own and a prefixed one). Each
    case in a fork of one fresh interpreter once its imports are done (`PreloadedPython`): the logging of a fresh
    interpreter (none configured), a subprocess's ~7 s of imports paid once, not per case."""
    # its imports took 30 s of wall time under a load of 12 on 2 cores (~7 s unloaded); the forks, a fraction of one
    imports = "import logging\nfrom swinir_hf.console import package_log\nfrom swinir_hf.training import sampler\n"
    python = PreloadedPython(tmp_path, imports)
    try:
        for handlers, said in WORKER_LOGGING:
            done = python.run(
                f"{imports}{handlers}\nsampler.start_worker(0)\n"
                "logging.getLogger('swinir_hf.train').warning('skipping unreadable image a.png: bad')\n"
            )
            assert (done.returncode, done.stderr) == (0, f"{said}skipping unreadable image a.png: bad\n"), handlers
    finally:
        python.close()


def test_images_found_unreadable_mid_run_are_counted_over_the_dataloader_workers(tmp_path, tiny_run, train_cli, capsys):
    """Each DataLoader worker decodes with its own copy of the data and counted the images it found unreadable on its
    own: a finished run said no count at all (the workers' warnings named each worker's first 3), and a stopped
    one's line gave the failing worker's. The run now ends with one line counting every image found so, by either
    worker: here 6, which both workers meet (their samples alternate batches)."""
    images = _ten_images(tmp_path / "images")
    for i in range(4, 10):  # the header intact (the checks before the run open it), the pixels cut: fails mid-run
        path = images / f"img{i}.png"
        path.write_bytes(path.read_bytes()[:-40])
    raw = tiny_run(images, tmp_path / "out", data={"num_workers": 2, "val": None}, train={"max_steps": 6})
    log = logging.FileHandler(tmp_path / "log")  # the forked workers write into it too
    logger = logging.getLogger("swinir_hf.train")
    logger.addHandler(log)
    try:
        assert train_cli(raw, "--no-progress") == 0
    finally:
        logger.removeHandler(log)
        log.close()
    lines = (tmp_path / "log").read_text().splitlines()
    assert all(any(line.endswith(f"(DataLoader worker {k} of 2)") for line in lines) for k in (0, 1))
    assert (
        "6 of the 10 training images could not be decoded during the run and were skipped (their samples taken from "
        "the next images, and the first ones named above): fix or remove them"
    ) in lines
    assert "warning: 6 of the 10 training images could not be decoded" in capsys.readouterr().err


def test_the_run_summary_counts_the_images_found_unreadable_by_every_process():
    """Each process of a launch draws its own samples: the run's line counts every image any of them found unreadable
    mid-run, once (the processes' flags gathered), not the main process's alone."""
    from swinir_hf.training.unreadable import FoundUnreadable, unreadable_summary

    here, there = FoundUnreadable(5), torch.tensor([1, 1, 0, 0, 1], dtype=torch.uint8)
    for index in (0, 3):
        here.add(index)

    class TwoProcesses:  # accelerate's `gather`: the processes' tensors one after another
        num_processes, device = 2, torch.device("cpu")

        def gather(self, flags: torch.Tensor) -> torch.Tensor:
            return torch.cat([flags, there])

    assert unreadable_summary(here, TwoProcesses()).startswith("4 of the 5 training images could not be decoded")
    assert unreadable_summary(FoundUnreadable(5), TwoProcesses()).startswith("3 of the 5 training images")


def test_run_training_from_python_refuses_a_missing_data_folder_before_any_set_up(tiny_run, tmp_path, monkeypatch):
    """The command line refused it as the config was checked; `run_training(cfg)` from Python found it only as the
    data loaded, after accelerate and the model were set up (minutes). Now it raises the command line's message."""
    from swinir_hf.training import loop
    from swinir_hf.training.config import TrainingConfig

    monkeypatch.setattr(loop, "build_accelerator", lambda *args: pytest.fail("set up before the data was checked"))
    monkeypatch.chdir(tmp_path)
    cfg = TrainingConfig.from_dict(tiny_run(Path("../gone"), tmp_path / "run", data={"val": None}))
    with pytest.raises(FileNotFoundError) as raised:
        loop.run_training(cfg, progress=False)
    assert str(raised.value) == (
        f"data.train: no such dataset folder: ../gone (relative paths are read from the current folder, {tmp_path}; "
        "your own: --data.train '[DIR, ...]')"
    )
    assert not (tmp_path / "run").exists()

"""Streamed datasets (`IterableDataset`) restored as they are read: lazily from Python, and in resumable parts by
`swinir-hf restore --dataset ... --streaming`."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from swinir_hf import SwinIRForImageRestoration, SwinIRRestorer
from swinir_hf.cli import main


@pytest.fixture(scope="module")
def model_dir(tiny_config, tmp_path_factory):
    path = tmp_path_factory.mktemp("model")
    SwinIRForImageRestoration(tiny_config()).save_pretrained(path)
    return path


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """Five images of two sizes, grey and colour, with a caption each (imagefolder's metadata.csv)."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    folder = tmp_path / "imagefolder"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, shape in enumerate([(6, 7, 3), (9, 7, 3), (6, 7), (6, 7, 3), (9, 7, 3)]):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"{i}.png")
    (folder / "metadata.csv").write_text("file_name,caption\n" + "".join(f"{i}.png,photo {i}\n" for i in range(5)))
    return folder


def _same_images(a, b, column="image") -> bool:
    return all(
        np.array_equal(np.asarray(x[column]), np.asarray(y[column])) and x[column].mode == y[column].mode
        for x, y in zip(a, b, strict=True)
    )


def _restore(*args, model_dir) -> int:
    return main(["restore", *map(str, args), "--model", str(model_dir), "--no-progress"])


def test_a_stream_is_restored_lazily_as_the_dataset_is(folder, model_dir, monkeypatch):
    """`restore_dataset` took a `Dataset` only: a stream (`load_dataset(..., streaming=True)`) failed. Now a stream
    comes back as a stream whose rows are restored as they are read, `batch_size` rows at a time (one pass per size),
    each the image the `Dataset` path makes, the other columns kept; a new column keeps the originals beside."""
    import datasets

    from swinir_hf.inference.dataset_restoration import restore_dataset

    restorer = SwinIRRestorer(SwinIRForImageRestoration.from_pretrained(model_dir))
    passes, run = [], SwinIRRestorer._run
    monkeypatch.setattr(SwinIRRestorer, "_run", lambda self, m, x, tile: passes.append(len(x)) or run(self, m, x, tile))
    whole = datasets.load_dataset("imagefolder", data_dir=str(folder), split="train")
    stream = datasets.load_dataset("imagefolder", data_dir=str(folder), split="train", streaming=True)
    restored = restore_dataset(stream, restorer, batch_size=2)
    assert isinstance(restored, datasets.IterableDataset) and passes == []  # nothing restored before it is read
    rows = list(restored)
    assert passes == [1, 1, 2, 1]  # batches (6², 9²), (grey 6², 6²: one pass, as RGB), (9²)
    expected = restore_dataset(whole, restorer)
    passes.clear()
    assert _same_images(rows, expected) and [row["caption"] for row in rows] == [f"photo {i}" for i in range(5)]
    assert rows[0]["image"].size == (14, 12)  # ×2

    beside = list(restore_dataset(stream, restorer, output_column="x2", batch_size=4))
    assert passes == [3, 1, 1]  # (6², 9², grey 6², 6²): the three 6² in one pass, then 9²; then (9²)
    assert _same_images(beside, whole)  # the originals, decoded as they were
    assert all(
        np.array_equal(np.asarray(a["x2"]), np.asarray(b["image"])) for a, b in zip(beside, expected, strict=True)
    )
    with pytest.raises(ValueError, match="the dataset has a column 'caption' already"):
        restore_dataset(stream, restorer, output_column="caption")
    with pytest.raises(ValueError, match=r"'caption' is not an image column of the dataset \(image"):
        restore_dataset(stream, restorer, column="caption")
    captions = stream.remove_columns("image")  # "None is not an image column of the dataset (image columns: [])"
    with pytest.raises(ValueError, match=r"^the dataset has no image column \(its columns: \['caption'\]\)$"):
        restore_dataset(captions, restorer)
    paths = whole.cast_column("image", datasets.Image(decode=False)).map(lambda row: {"path": row["image"]["path"]})
    paths = paths.remove_columns("image")  # file paths as strings: cast, they are images
    said = (
        r"^the dataset has no image column \(its columns: \['caption', 'path'\]\) \('path' holds strings: file paths\? "
    )
    with pytest.raises(ValueError, match=said + r"dataset.cast_column\('path', datasets.Image\(\)\)\)$"):
        restore_dataset(paths, restorer)
    with pytest.raises(
        TypeError, match=r"^restore one split of the dataset: dataset\['train'\] \(its splits: \['train'\]\)$"
    ):
        restore_dataset(datasets.DatasetDict({"train": whole}), restorer)


def test_a_streamed_dataset_run_keeps_its_parts_and_goes_on_from_them(
    folder, tmp_path, model_dir, monkeypatch, capsys, stop_restoring
):
    """`restore --dataset --streaming` restores the rows as they are read, in parts written as they finish: a stopped
    run goes on from them (a stream has no fingerprint: a part is known by its rows), the dataset is the one the
    non-streaming run makes, a changed image's part is restored anew, and a run with other options starts over."""
    import datasets

    import swinir_hf.inference.dataset_restoration as dataset_restoration

    monkeypatch.setattr(dataset_restoration, "ROWS_PER_PART", 2)
    seen, stop_at = stop_restoring
    stop_at.append(3)
    out, parts = tmp_path / "out", tmp_path / "out" / ".restored-parts"
    args = ["--dataset", f"imagefolder:{folder}", "--streaming", "-o", out]
    assert _restore(*args, model_dir=model_dir) == 130
    assert capsys.readouterr().err.startswith(f"interrupted: {out} is as it was; the images restored so far are kept")
    assert [p.name.split("-")[1] for p in sorted(parts.iterdir())] == ["000000000"]  # no half-written part

    seen.clear()
    stop_at.clear()
    assert _restore(*args, model_dir=model_dir) == 0
    err = capsys.readouterr().err
    assert "going on from an interrupted run: 2 images were restored\n" in err
    assert f"restored 3 images of imagefolder:{folder} → {out} in " in err and "(5 with the interrupted run's)" in err
    assert len(seen) == 3 and not parts.exists()
    seen.clear()
    assert _restore(*args[:2], "-o", tmp_path / "whole", model_dir=model_dir) == 0 and len(seen) == 5
    streamed, whole = (datasets.load_from_disk(str(path)) for path in (out, tmp_path / "whole"))
    assert _same_images(streamed, whole) and streamed["caption"] == whole["caption"]

    # Stopped at the last part, an image of the first part changed: that part is restored again, the second kept.
    seen.clear()
    stop_at[:] = [5]
    assert _restore(*args, "--overwrite", model_dir=model_dir) == 130
    Image.new("RGB", (7, 6), "red").save(folder / "1.png")
    seen.clear()
    stop_at.clear()
    capsys.readouterr()
    assert _restore(*args, "--overwrite", model_dir=model_dir) == 0
    assert "going on from an interrupted run: 4 images were restored\n" in capsys.readouterr().err
    assert len(seen) == 3 and datasets.load_from_disk(str(out))[1]["image"].size == (14, 12)

    # Stopped again, then another --outscale: the parts hold other pixels, so all five are restored anew.
    stop_at[:] = [len(seen) + 3]
    assert _restore(*args, "--overwrite", model_dir=model_dir) == 130
    seen.clear()
    stop_at.clear()
    capsys.readouterr()
    assert _restore(*args, "--overwrite", "--outscale", "3", model_dir=model_dir) == 0
    assert f"{parts} held the parts of a run with another model or options: restoring anew" in capsys.readouterr().err
    assert len(seen) == 5 and datasets.load_from_disk(str(out))[0]["image"].size == (21, 18)


def test_an_empty_stream_is_restored_into_an_empty_dataset(tmp_path, model_dir):
    import datasets

    from swinir_hf.inference.dataset_restoration import restore_dataset

    features = datasets.Features({"image": datasets.Image(), "label": datasets.Value("int64")})
    empty = datasets.IterableDataset.from_generator(lambda: iter(()), features=features)
    restorer = SwinIRRestorer(SwinIRForImageRestoration.from_pretrained(model_dir))
    restored = restore_dataset(empty, restorer, parts_dir=tmp_path / "parts")
    assert isinstance(restored, datasets.Dataset) and len(restored) == 0 and restored.features == features


@pytest.mark.parametrize("streaming", [False, True])
def test_a_parts_folder_holding_the_users_files_is_refused_not_emptied(tmp_path, model_dir, streaming):
    """`parts_dir` given as a folder of one's own (a project's) was emptied: every file that was not one of the run's
    parts was removed, a subfolder stopping it halfway. Only what runs leave there is removed now: other runs' parts
    and stopped writes' files; anything else is refused before any of it is touched."""
    import datasets

    from swinir_hf.inference.dataset_restoration import restore_dataset

    rows = {"image": [Image.new("RGB", (6, 5), colour) for colour in ("red", "blue")]}
    dataset = datasets.Dataset.from_dict(rows, features=datasets.Features({"image": datasets.Image()}))
    if streaming:
        dataset = dataset.to_iterable_dataset()
    restorer = SwinIRRestorer(SwinIRForImageRestoration.from_pretrained(model_dir))
    project = tmp_path / "project"
    (project / "notes").mkdir(parents=True)
    for name in ("thesis.tex", "results.csv"):
        (project / name).write_text("precious")
    left_by_runs = ["part-000000000-0123456789abcdef.arrow", "part-000000000-x-y.arrow.tmp", "tmpk2j4_x9a"]
    for name in left_by_runs:
        (project / name).write_bytes(b"")
    with pytest.raises(ValueError, match=r"^the parts folder .*project holds notes \(and 2 more\), which no rest"):
        restore_dataset(dataset, restorer, parts_dir=project)
    assert sorted(p.name for p in project.iterdir()) == sorted(["notes", "results.csv", "thesis.tex", *left_by_runs])
    (project / "notes").rmdir()
    for name in ("results.csv", "thesis.tex"):
        (project / name).unlink()
    restored = restore_dataset(dataset, restorer, parts_dir=project)
    assert [image.size for image in restored["image"]] == [(12, 10)] * 2
    assert not {p.name for p in project.iterdir()} & set(left_by_runs)  # what runs left is removed

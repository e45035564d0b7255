"""`datasets` sources as the commands read them (`image_datasets`): saved `DatasetDict` folders and their splits."""

import pytest
from PIL import Image

from swinir_hf.image_datasets import NoSuchSplitError, load_image_dataset


def test_a_saved_dataset_dict_with_an_empty_split_loads_its_other_splits(tmp_path):
    """One split of no rows (saved without a data file) failed every split with an IndexError traceback from
    inside datasets, in `restore --dataset`, `eval --dataset` and `data.train` alike; now only that split's folder
    is read: the others load, and the empty one is one line."""
    import datasets

    images = [Image.new("RGB", (4 + i, 4), (i, 2 * i, 3)) for i in range(2)]
    rows = datasets.Dataset.from_dict({"image": images}).cast_column("image", datasets.Image())
    datasets.DatasetDict(validation=rows, test=rows.select([])).save_to_disk(tmp_path / "saved")
    loaded = load_image_dataset(str(tmp_path / "saved"), "validation")
    assert [im.size for im in loaded["image"]] == [(4, 4), (5, 4)]
    with pytest.raises(ValueError) as empty:
        load_image_dataset(str(tmp_path / "saved"), "test")
    assert (
        str(empty.value)
        == f"{tmp_path / 'saved'} has no rows in its split 'test' (a save_to_disk folder without a data file)"
    )
    with pytest.raises(NoSuchSplitError) as missing:
        load_image_dataset(str(tmp_path / "saved"), "train")
    assert str(missing.value) == (
        f"the save_to_disk folder {tmp_path / 'saved'} has no split 'train' (splits: ['validation', 'test'])"
    )

"""Given LR images paired with their HR images (`data.degradation: paired`): matched by file name, and checked before
the first step to be files of their own, each its HR image's size // scale, stored turned alike (`pair_lr_images`)."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from ..console import some_names
from .images import DECODE_ERRORS, config_images, item_name, read_header, shown_path

# The ends of an HR and its LR image's names that the names may differ by (`img_001_HR` ↔ `img_001_LR`), besides the
# plain rule (`a` ↔ `a` or `ax2`); the LR end may carry the scale (`_LR2`, `_LRx2`: RealSR's and the authors' names).
NAME_ENDS = (("_HR", "_LR"), ("_hr", "_lr"), ("-HR", "-LR"), ("-hr", "-lr"))

RULE = (
    "an HR image NAME.* is paired with the LR image NAME.* or NAMEx{s}.*, or NAME_HR.* with NAME_LR.*, NAME_LR{s}.* "
    "or NAME_LRx{s}.* (also _hr / _lr, -HR / -LR; any image type)"
)


def pair_lr_images(
    hr_items: list, lr_source: str, scale: int, split: str, cache_dir: str | None, field: str = "data.train_lr"
) -> list:
    """The LR item for each HR item from `lr_source` (its images by `load_images`), matched by name (`RULE`).
    `field`: the config field `lr_source` comes from, which the errors name.

    Raises `ValueError` when the LR source holds files of the HR one (the same folder: each image would be paired with
    itself), when a pairing is ambiguous (a name found twice, as `a/001.png` and `b/001.png` in a recursive folder,
    or two LR images for one HR image), or a pair is not of the scale or not turned alike (`_check_pair`), and
    `FileNotFoundError` when HR images have no LR image.
    """
    lr_items = config_images(field, lr_source, split, cache_dir)
    _check_apart(hr_items, lr_items, lr_source, field)
    paired = _match(hr_items, lr_items, scale, lr_source, field)
    for hr, lr in zip(hr_items, paired, strict=True):
        _check_pair(hr, lr, scale, field)
    return paired


def _keys(item: str | Mapping, side: str, scale: int) -> set[tuple[int, str]]:
    """The names an HR (`side` "HR") or LR item is matched by: (-1, its stem; an LR one's also without `x{scale}`,
    so that `box1` at ×1 pairs with `box1`, not only with `bo`) and (i, its stem without the `NAME_ENDS[i]` end it
    has)."""
    stem = Path(item_name(item)).stem
    keys = {(-1, stem)}
    if side == "LR":
        stem = re.sub(rf"x{scale}$", "", stem)
        keys.add((-1, stem))
    for i, ends in enumerate(NAME_ENDS):
        end = ends[0] if side == "HR" else ends[1]
        for written in (end,) if side == "HR" else (end, f"{end}{scale}"):
            if stem.endswith(written) and len(stem) > len(written):
                keys.add((i, stem[: -len(written)]))
    return keys


def _match(hr_items: list, lr_items: list, scale: int, lr_source: str, field: str) -> list:
    """The one LR item of each HR item by their `_keys`; refused where one has several, or has none."""
    by_key: dict[tuple[int, str], list[int]] = {}
    for j, item in enumerate(lr_items):
        for key in _keys(item, "LR", scale):
            by_key.setdefault(key, []).append(j)
    hr_stems: dict[str, list[int]] = {}
    for i, item in enumerate(hr_items):
        hr_stems.setdefault(Path(item_name(item)).stem, []).append(i)
    chosen, missing = [], []
    for item in hr_items:
        found = sorted({j for key in _keys(item, "HR", scale) for j in by_key.get(key, ())})
        stem = Path(item_name(item)).stem
        if len(found) > 1 or (found and len(hr_stems[stem]) > 1):
            names = some_names(
                [shown_path(hr_items[i]) for i in hr_stems[stem]] + [shown_path(lr_items[j]) for j in found], 4
            )
            raise ValueError(
                f"{field} {lr_source}: HR and LR images are paired by file name, and '{stem}' names "
                f"{len(hr_stems[stem])} HR and {len(found)} LR images ({names}; in several folders?): give each pair a "
                "name of its own"
            )
        (chosen if found else missing).append(found[0] if found else item)
    if missing:
        raise FileNotFoundError(_missing_message(missing, len(hr_items), lr_items, lr_source, scale, field))
    if len(set(chosen)) < len(chosen):  # two HR names that one LR name matches (`a_LR` ↔ `a_LR` and `a_HR`)
        j = Counter(chosen).most_common(1)[0][0]
        names = some_names([shown_path(hr) for hr, k in zip(hr_items, chosen, strict=True) if k == j])
        raise ValueError(
            f"{field} {lr_source}: HR and LR images are paired by file name, and {shown_path(lr_items[j])} matches "
            f"the HR images {names}: give each pair a name of its own"
        )
    return [lr_items[j] for j in chosen]


def _missing_message(missing: list, total: int, lr_items: list, lr_source: str, scale: int, field: str) -> str:
    """No LR image for `missing` (of `total` HR items): the rule, and a renaming that would pair the first."""
    stem = Path(item_name(missing[0])).stem
    closest = max(lr_items, key=lambda it: len(os.path.commonprefix([stem, Path(item_name(it)).stem])))
    hr_end = next((ends for ends in NAME_ENDS if stem.endswith(ends[0]) and len(stem) > len(ends[0])), None)
    wanted = stem[: -len(hr_end[0])] + hr_end[1] if hr_end else f"{stem}x{scale}"
    return (
        f"{field}: no LR image in {lr_source} for {len(missing)} of {total} HR images, e.g. "
        f"{some_names([shown_path(it) for it in missing])}: {RULE.format(s=scale)}. Rename the LR images (or the HR "
        f"ones) so, e.g. {shown_path(closest)} → {wanted}{Path(item_name(closest)).suffix}"
    )


def _check_apart(hr_items: list, lr_items: list, lr_source: str, field: str) -> None:
    """Raise `ValueError` when a file is listed both as an HR and as an LR image (`data.train_lr` naming
    `data.train`'s folder, or one inside it): each image would be trained on as an HR image, and paired with itself
    or with an LR image as HR. Each folder's path is resolved once, not each file's."""
    resolved: dict[str, str] = {}

    def where(item: str | Mapping) -> str | None:
        if not isinstance(item, str):
            return None  # a dataset's row
        folder, name = os.path.split(item)
        if folder not in resolved:
            resolved[folder] = os.path.realpath(folder)
        return os.path.join(resolved[folder], name)

    lr_files = {where(it) for it in lr_items} - {None}
    shared = next((it for it in hr_items if where(it) in lr_files), None)
    if shared is not None:
        hr_field = field.removesuffix("_lr")
        raise ValueError(
            f"{field} {lr_source} holds images of {hr_field} (e.g. {shown_path(shared)}): they would be trained on as "
            f"HR images, each paired with itself. Keep the LR images in a folder of their own beside the HR one, not "
            f"in it (pairs/HR and pairs/LR: {hr_field} pairs/HR, {field} pairs/LR)"
        )


def _check_pair(hr: str | Mapping, lr: str | Mapping, scale: int, field: str) -> None:
    """Raise `ValueError` unless `lr` is stored turned as `hr` (one EXIF orientation: else, read upright as both are
    trained on, one is turned against the other) and is `hr`'s upright size // scale: LR images of another scale
    would train on misaligned pairs. Only the headers are read; an unopenable file is `images.unopenable`'s."""
    try:
        (w, h, turn), (lw, lh, lr_turn) = read_header(hr), read_header(lr)
    except DECODE_ERRORS:
        return
    pair = f"{field}: {shown_path(lr)}"
    if turn != lr_turn:
        turned, other = ("LR", "HR") if turn == 1 else ("HR", "LR")
        raise ValueError(
            f"{pair} (EXIF orientation {lr_turn}) and its HR image {shown_path(hr)} ({turn}) are stored turned "
            f"differently (1: as stored), so read upright, as they are trained on, one is turned against the other: "
            f"give them one orientation (if the {other} image was made from the {turned} file's stored pixels, drop "
            f"the {turned} file's orientation tag; if from the upright image a viewer shows, save the {turned} image "
            "upright: Pillow's ImageOps.exif_transpose)"
        )
    if (lw, lh) == (w // scale, h // scale):
        return
    if (lw, lh) == (w, h):
        raise ValueError(
            f"{pair} is the size of its HR image {shown_path(hr)} ({w}×{h}), but a ×{scale} model's LR image is "
            f"{w // scale}×{h // scale}: downscale the LR images by {scale} (inputs upsampled to the HR size, as some "
            "camera pairs come), or train a ×1 model on them (a denoising or JPEG preset, model.scale 1)"
        )
    raise ValueError(
        f"{pair} is {lw}×{lh}, but its HR image {shown_path(hr)} ({w}×{h}) at ×{scale} needs {w // scale}×{h // scale} "
        f"(LR images of another scale? each LR image is its HR image's size // {scale}, upright)"
    )

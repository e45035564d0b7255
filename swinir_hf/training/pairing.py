"""The training images of `data.train` with their headers (`training_sources`), and LR images paired with them
(`data.degradation: paired`): matched by file name, and checked before the first step to be files of their own, each
its HR image's size / scale (`fits`), stored turned alike (`pair_lr_images`); a pair is trained on the part both
cover in whole LR pixels (`common_area`)."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..console import shown_name, some_names
from .headers import Headers, read_headers
from .images import config_images, item_name, shown_path, validation_folder_note

if TYPE_CHECKING:
    from .sections import DataArgs

# The ends of an HR and its LR image's names that the names may differ by (`img_001_HR` ↔ `img_001_LR`), besides the
# plain rule (`a` ↔ `a` or `ax2`); the LR end may carry the scale (`_LR2`, `_LRx2`: RealSR's and the authors' names).
NAME_ENDS = (("_HR", "_LR"), ("_hr", "_lr"), ("-HR", "-LR"), ("-hr", "-lr"))

RULE = (
    "an HR image NAME.* is paired with the LR image NAME.* or NAMEx{s}.*, or NAME_HR.* with NAME_LR.*, NAME_LR{s}.* "
    "or NAME_LRx{s}.* (also _hr / _lr, -HR / -LR; any image type)"
)


def training_sources(
    d: DataArgs, scale: int, notes: list[str | None], cropped: list[str]
) -> tuple[list, Headers, list | None, Headers]:
    """(HR items, their `Headers`, LR items or None, theirs) of `data.train` (and `data.train_lr` for paired data), each
    header read once for the run; a note on a `val/` folder trained on added to `notes` for each source (None for
    none), one on pairs cropped to fit to `cropped` (`paired_with_headers`)."""
    hr_items, hr_headers, lr_headers = [], Headers(), Headers()
    lr_items = [] if d.degradation == "paired" else None
    for i, source in enumerate(d.train):
        items = config_images("data.train", source, d.split, d.cache_dir)
        headers = read_headers(items, rows=lr_items is not None)  # pairs' sizes are checked on a dataset's rows too
        hr_items, hr_headers = hr_items + items, hr_headers + headers
        if lr_items is not None:
            paired = paired_with_headers(items, headers, d.train_lr[i], scale, d.split, d.cache_dir, notes=cropped)
            lr_items, lr_headers = lr_items + paired[0], lr_headers + paired[1]
        notes.append(validation_folder_note(source, d.split))
    return hr_items, hr_headers, lr_items, lr_headers


def pair_lr_images(
    hr_items: list,
    lr_source: str,
    scale: int,
    split: str,
    cache_dir: str | None,
    field: str = "data.train_lr",
    notes: list[str] | None = None,
) -> list:
    """The LR item for each HR item from `lr_source` (its images by `load_images`), matched by name (`RULE`):
    `paired_with_headers`, reading the HR headers."""
    hr_headers = read_headers(hr_items, rows=True)
    return paired_with_headers(hr_items, hr_headers, lr_source, scale, split, cache_dir, field, notes)[0]


def paired_with_headers(
    hr_items: list,
    hr_headers: Headers,
    lr_source: str,
    scale: int,
    split: str,
    cache_dir: str | None,
    field: str = "data.train_lr",
    notes: list[str] | None = None,
) -> tuple[list, Headers]:
    """(the LR item for each HR item from `lr_source` (its images by `load_images`), matched by name (`RULE`), and
    their `Headers`), given the HR items' headers (`read_headers` with `rows`): each header is read once for the run.
    `field`: the config field `lr_source` comes from, which the errors name; `notes`: where given, a note on the
    pairs that are cropped to fit (an HR image not exactly scale × its LR image: `fits`) is added to it, for the
    caller to say once.

    Raises `ValueError` when the LR source holds files of the HR one (the same folder: each image would be paired with
    itself), when a pairing is ambiguous (a name found twice, as `a/001.png` and `b/001.png` in a recursive folder,
    or two LR images for one HR image), or pairs are not of the scale (`_check_sizes`) or not turned alike
    (`_pair_sizes`), and `FileNotFoundError` when HR images have no LR image.
    """
    lr_items = config_images(field, lr_source, split, cache_dir)
    _check_apart(hr_items, lr_items, lr_source, field)
    paired = _match(hr_items, lr_items, scale, lr_source, field)
    lr_headers = read_headers(paired, rows=True)
    sizes = [_pair_sizes(hr_items, paired, i, (hr_headers, lr_headers), field) for i in range(len(paired))]
    note = _check_sizes(list(zip(hr_items, paired, sizes, strict=True)), scale, field)
    if note is not None and notes is not None:
        notes.append(note)
    return paired, lr_headers


def fits(hr_size: Sequence[int], lr_size: Sequence[int], scale: int) -> bool:
    """Whether an HR image of `hr_size` pairs with an LR image of `lr_size` (both (w, h), or both (h, w)) at
    ×`scale`: each side of the HR image is `scale` × the LR image's, or off from it by less than `scale` pixels (an
    HR image that is not a multiple of the scale, its LR image's size rounded down or up), which `common_area` crops.
    Further off, the LR image is of another scale (or another image), and its patches would be misaligned."""
    return all(abs(big - small * scale) < scale for big, small in zip(hr_size, lr_size, strict=True))


def common_area(hr: Any, lr: Any, scale: int) -> tuple[Any, Any]:
    """(HR, LR) (H, W, C) arrays of a pair that `fits`, cropped to what both cover in whole LR pixels: the HR
    image's right / bottom pixels beyond `scale` × the LR image, and an LR row / column that the HR image ends inside.
    The authors' and Real-ESRGAN's paired data crop the HR image so (a mod-crop)."""
    h, w = covered(hr.shape[:2], lr.shape[:2], scale)
    return hr[: h * scale, : w * scale], lr[:h, :w]


def covered(hr_size: Sequence[int], lr_size: Sequence[int], scale: int) -> tuple[int, ...]:
    """The LR size (in `lr_size`'s order, (w, h) or (h, w)) of what a pair that `fits` covers in whole LR pixels."""
    return tuple(min(small, big // scale) for big, small in zip(hr_size, lr_size, strict=True))


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
                f"{field} {shown_name(lr_source)}: HR and LR images are paired by file name, and '{shown_name(stem)}' "
                f"names {len(hr_stems[stem])} HR and {len(found)} LR images ({names}; in several folders?): give each "
                "pair a name of its own"
            )
        (chosen if found else missing).append(found[0] if found else item)
    if missing:
        raise FileNotFoundError(_missing_message(missing, len(hr_items), lr_items, lr_source, scale, field))
    if len(set(chosen)) < len(chosen):  # two HR names that one LR name matches (`a_LR` ↔ `a_LR` and `a_HR`)
        j = Counter(chosen).most_common(1)[0][0]
        names = some_names([shown_path(hr) for hr, k in zip(hr_items, chosen, strict=True) if k == j])
        raise ValueError(
            f"{field} {shown_name(lr_source)}: HR and LR images are paired by file name, and {shown_path(lr_items[j])} "
            f"matches the HR images {names}: give each pair a name of its own"
        )
    return [lr_items[j] for j in chosen]


def _missing_message(missing: list, total: int, lr_items: list, lr_source: str, scale: int, field: str) -> str:
    """No LR image for `missing` (of `total` HR items): the rule, and a renaming that would pair the first."""
    stem = Path(item_name(missing[0])).stem
    closest = max(lr_items, key=lambda it: len(os.path.commonprefix([stem, Path(item_name(it)).stem])))
    hr_end = next((ends for ends in NAME_ENDS if stem.endswith(ends[0]) and len(stem) > len(ends[0])), None)
    wanted = stem[: -len(hr_end[0])] + hr_end[1] if hr_end else f"{stem}x{scale}"
    return (
        f"{field}: no LR image in {shown_name(lr_source)} for {len(missing)} of {total} HR images, e.g. "
        f"{some_names([shown_path(it) for it in missing])}: {RULE.format(s=scale)}. Rename the LR images (or the HR "
        f"ones) so, e.g. {shown_path(closest)} → {shown_name(wanted + Path(item_name(closest)).suffix)}"
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
            f"{field} {shown_name(lr_source)} holds images of {hr_field} (e.g. {shown_path(shared)}): they would be "
            "trained on as HR images, each paired with itself. Keep the LR images in a folder of their own beside the "
            f"HR one, not in it (pairs/HR and pairs/LR: {hr_field} pairs/HR, {field} pairs/LR)"
        )


def _pair_sizes(
    hr_items: list, lr_items: list, i: int, headers: tuple[Headers, Headers], field: str
) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """((w, h) of pair `i`'s HR item, (w, h) of its LR item), upright, from their `headers` (HR, LR); None where one
    cannot be opened (`headers.unopenable_pairs`'s to say). Raises `ValueError` unless the LR image is stored turned as
    the HR one (one EXIF orientation: else, read upright as both are trained on, one is turned against the other)."""
    hr, lr = hr_items[i], lr_items[i]
    if i not in headers[0].sizes or i not in headers[1].sizes:
        return None
    (w, h, turn), (lw, lh, lr_turn) = headers[0].sizes[i], headers[1].sizes[i]
    if turn != lr_turn:
        turned, other = ("LR", "HR") if turn == 1 else ("HR", "LR")
        raise ValueError(
            f"{field}: {shown_path(lr)} (EXIF orientation {lr_turn}) and its HR image {shown_path(hr)} ({turn}) are "
            "stored turned differently (1: as stored), so read upright, as they are trained on, one is turned against "
            f"the other: give them one orientation (if the {other} image was made from the {turned} file's stored "
            f"pixels, drop the {turned} file's orientation tag; if from the upright image a viewer shows, save the "
            f"{turned} image upright: Pillow's ImageOps.exif_transpose)"
        )
    return (w, h), (lw, lh)


def _check_sizes(pairs: list[tuple[Any, Any, Any]], scale: int, field: str) -> str | None:
    """Raise `ValueError` naming the first few of the (HR, LR, `_pair_sizes`) `pairs` that do not `fit` (LR images
    of another scale, or of their HR image's size: upsampled inputs); → a note on those cropped to fit, or None."""
    off, cropped = [], []
    for hr, lr, sizes in pairs:
        if sizes is not None and sizes[0] != (sizes[1][0] * scale, sizes[1][1] * scale):
            (cropped if fits(*sizes, scale) else off).append((hr, lr, sizes))
    said = [f"{shown_path(lr)} {lw}×{lh} for {shown_path(hr)} {w}×{h}" for hr, lr, ((w, h), (lw, lh)) in off]
    if off and all(hr_size == lr_size for _, _, (hr_size, lr_size) in off):
        raise ValueError(
            f"{field}: {len(off)} of its {len(pairs)} LR images are the size of their HR image ({some_names(said)}), "
            f"but a ×{scale} model's LR image is its HR image's size / {scale}: downscale the LR images by {scale} "
            "(inputs upsampled to the HR size, as some camera pairs come), or train a ×1 model on them (a denoising or "
            "JPEG preset, model.scale 1)"
        )
    if off:
        pixels = f"{scale - 1} pixel{'s' if scale > 2 else ''}"
        spare = f" (an HR image up to {pixels} more or less is cropped to fit)" if scale > 1 else ""
        raise ValueError(
            f"{field}: {len(off)} of its {len(pairs)} LR images are not their HR image's size / {scale} "
            f"({some_names(said)}): LR images of another scale? each LR image is its HR image's size / {scale}, "
            f"upright{spare}"
        )
    if not cropped:
        return None
    hr, lr, ((w, h), (lw, lh)) = cropped[0]
    cw, ch = covered((w, h), (lw, lh), scale)
    return (
        f"{field}: {len(cropped)} of its {len(pairs)} pairs have an HR image that is not exactly {scale} × its LR "
        f"image (e.g. {shown_path(hr)} {w}×{h} with {shown_path(lr)} {lw}×{lh}, trained on as {cw * scale}×"
        f"{ch * scale} with {cw}×{ch}): each is trained on what both cover, the HR image's extra right / bottom "
        "pixels cropped"
    )

"""What the training images' headers say before the first step (~0.1 ms a file, no pixel decoded): the files that
cannot even be opened as an image, and the images smaller than a patch, each said in one line (`header_notes`)."""

from __future__ import annotations

from collections.abc import Collection

from ..console import some_names
from .images import DECODE_ERRORS, DatasetImage, read_header, shown_path


def unopenable(items: list) -> dict[int, str]:
    """{index: why} of the `items` (from `load_images`) whose file cannot even be opened as an image (not an image,
    an empty file), by its header (`read_header`). A dataset's rows are not read (their bytes would be read whole);
    a file cut short opens, and is found when drawn (`decode_image`)."""
    found = {}
    for i, item in enumerate(items):
        if isinstance(item, DatasetImage):
            continue
        try:
            read_header(item)
        except DECODE_ERRORS as err:
            found[i] = str(err)
    return found


def unopenable_pairs(hr_items: list, lr_items: list | None, option: str) -> tuple[set[int], str | None]:
    """(indices, a one-line report) of the images (pairs, with `lr_items`) of `option` that a file of cannot be
    opened (`unopenable`); the report None for none. Reading the headers costs ~0.1 ms a file (0.1 s for 800)."""
    hr_bad, lr_bad = unopenable(hr_items), unopenable(lr_items) if lr_items is not None else {}
    if not (bad := set(hr_bad) | set(lr_bad)):
        return bad, None
    hr_side, lr_side = ("HR ", "LR ") if lr_items is not None else ("", "")
    files = [hr_side + shown_path(hr_items[i]) for i in hr_bad] + [lr_side + shown_path(lr_items[i]) for i in lr_bad]
    why = next(iter({**lr_bad, **hr_bad}.values()))
    kind = "pairs" if lr_items is not None else "images"
    return bad, (
        f"{option}: {len(bad)} of its {len(hr_items)} {kind} cannot be opened ({some_names(files)}; {why}): training "
        f"on the other {len(hr_items) - len(bad)}"
    )


def small_images_note(items: list, skip: Collection[int], side: int, option: str) -> str | None:
    """A one-line note naming the `items` (from `load_images`, but those of `skip`) smaller than the `side`² target
    patch, each mirror-padded up to it (a folder of thumbnails trains on mirror images of them), or None. From the
    headers (`read_header`); a dataset's rows are not read."""
    small, smallest = [], None
    for i, item in enumerate(items):
        if i in skip or isinstance(item, DatasetImage):
            continue
        try:
            width, height, _ = read_header(item)
        except DECODE_ERRORS:  # unopenable's to report
            continue
        if min(width, height) < side:
            small.append(shown_path(item))
            smallest = min(smallest or (width, height), (width, height), key=lambda size: size[0] * size[1])
    if not small:
        return None
    return (
        f"{option}: {len(small)} of its {len(items)} images are smaller than the {side}×{side} patch it trains on "
        f"({some_names(small)}; the smallest {smallest[0]}×{smallest[1]}): each is mirror-padded up to it, not "
        "upscaled; give larger images or a smaller data.patch_size"
    )


def header_notes(hr_items: list, lr_items: list | None, side: int, option: str) -> tuple[set[int], list[str | None]]:
    """(indices, one-line reports) of what the images' headers say before the run: the images (pairs) that cannot be
    opened (`unopenable_pairs`), and those smaller than the `side`² target patch (`small_images_note`)."""
    bad, report = unopenable_pairs(hr_items, lr_items, option)
    return bad, [report, small_images_note(hr_items, bad, side, option)]

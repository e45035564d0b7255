"""What the training images' headers say before the first step (~0.1 ms a file, no pixel decoded): the files that
cannot even be opened as an image, and the images smaller than a patch, each said in one line (`header_notes`)."""

from __future__ import annotations

from collections.abc import Collection

from ..console import some_names
from .images import DECODE_ERRORS, DatasetImage, read_header, shown_path


def read_headers(items: list) -> dict[int, tuple[int, int] | str]:
    """{index: (width, height) upright, or why it cannot be opened} of the `items` (from `load_images`), each header
    read once (`read_header`), for both notes. A dataset's rows are not read (their bytes would be read whole); a
    file cut short opens, and is found when drawn (`decode_image`)."""
    found: dict[int, tuple[int, int] | str] = {}
    for i, item in enumerate(items):
        if isinstance(item, DatasetImage):
            continue
        try:
            width, height, _ = read_header(item)
        except DECODE_ERRORS as err:
            found[i] = str(err)
        else:
            found[i] = (width, height)
    return found


def _unopenable(headers: dict[int, tuple[int, int] | str]) -> dict[int, str]:
    """{index: why} of the images of `headers` (`read_headers`) that cannot be opened."""
    return {i: why for i, why in headers.items() if isinstance(why, str)}


def unopenable_pairs(
    hr_items: list, hr_headers: dict[int, tuple[int, int] | str], lr_items: list | None, option: str
) -> tuple[set[int], str | None]:
    """(indices, a one-line report) of the images (pairs, with `lr_items`) of `option` that a file of cannot be
    opened, by `hr_headers` (`read_headers` of `hr_items`) and the LR headers; the report None for none. Reading the
    headers costs ~0.1 ms a file (0.1 s for 800)."""
    hr_bad = _unopenable(hr_headers)
    lr_bad = _unopenable(read_headers(lr_items)) if lr_items is not None else {}
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


def small_images_note(
    items: list, headers: dict[int, tuple[int, int] | str], skip: Collection[int], side: int, option: str
) -> str | None:
    """A one-line note naming the `items` (from `load_images`, but those of `skip`) smaller than the `side`² target
    patch, each mirror-padded up to it (a folder of thumbnails trains on mirror images of them), or None. From their
    `headers` (`read_headers`: a dataset's rows are not read)."""
    small, smallest = [], None
    for i, size in headers.items():
        if i in skip or isinstance(size, str):  # unopenable's to report
            continue
        width, height = size
        if min(width, height) < side:
            small.append(shown_path(items[i]))
            smallest = min(smallest or (width, height), (width, height), key=lambda size: size[0] * size[1])
    if not small:
        return None
    return (
        f"{option}: {len(small)} of its {len(items)} images are smaller than the {side}×{side} patch it trains on "
        f"({some_names(small)}; the smallest {smallest[0]}×{smallest[1]}): each is mirror-padded up to it, not "
        "upscaled; give larger images or a smaller data.patch_size"
    )


def header_notes(hr_items: list, lr_items: list | None, side: int, option: str) -> tuple[set[int], list[str | None]]:
    """(indices, one-line reports) of what the images' headers say before the run, each HR header read once: the
    images (pairs) that cannot be opened (`unopenable_pairs`), and those smaller than the `side`² target patch
    (`small_images_note`)."""
    hr_headers = read_headers(hr_items)
    bad, report = unopenable_pairs(hr_items, hr_headers, lr_items, option)
    return bad, [report, small_images_note(hr_items, hr_headers, bad, side, option)]

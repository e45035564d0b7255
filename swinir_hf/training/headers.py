"""What the training images' headers say before the first step (~0.1 ms a file, no pixel decoded): the files that
cannot even be opened as an image, and the images smaller than a patch, each said in one line (`header_notes`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from ..console import some_names
from .images import DECODE_ERRORS, DatasetImage, read_header, shown_path


@dataclass(frozen=True)
class Headers:
    """What the headers of a list of items (from `load_images`) say, by index (`read_headers`): `sizes` (width,
    height, EXIF orientation 1-8: upright, as `decode_image` gives them) of those that open, `unopenable` why each
    other cannot be opened. An item not read (a dataset's row, for the notes) is in neither."""

    sizes: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    unopenable: dict[int, str] = field(default_factory=dict)
    count: int = 0  # of the items: where another list's indices start in `+`

    def __add__(self, other: Headers) -> Headers:
        """The headers of this list's items followed by `other`'s (their lists joined)."""
        n = self.count
        return Headers(
            self.sizes | {n + i: size for i, size in other.sizes.items()},
            self.unopenable | {n + i: why for i, why in other.unopenable.items()},
            n + other.count,
        )

    def of_files(self, items: list) -> Headers:
        """These headers without a dataset's rows among `items` (their bytes are read whole to read a header: the
        notes leave them to be found when drawn)."""
        rows = {i for i, item in enumerate(items) if isinstance(item, DatasetImage)}
        return Headers(
            {i: s for i, s in self.sizes.items() if i not in rows},
            {i: w for i, w in self.unopenable.items() if i not in rows},
            self.count,
        )


def read_headers(items: list, rows: bool = False) -> Headers:
    """The `Headers` of the `items` (from `load_images`), each header read once (`read_header`) for the run: for
    pairing and both notes. A dataset's rows are read only with `rows` (their bytes would be read whole); a file cut
    short opens, and is found when drawn (`decode_image`)."""
    sizes, unopenable = {}, {}
    for i, item in enumerate(items):
        if not rows and isinstance(item, DatasetImage):
            continue
        try:
            sizes[i] = read_header(item)
        except DECODE_ERRORS as err:
            unopenable[i] = str(err)
    return Headers(sizes, unopenable, len(items))


def unopenable_pairs(
    hr_items: list, hr_headers: Headers, lr_items: list | None, lr_headers: Headers | None, option: str
) -> tuple[set[int], str | None]:
    """(indices, a one-line report) of the images (pairs, with `lr_items`) of `option` that a file of cannot be
    opened, by `hr_headers` (`read_headers` of `hr_items`) and `lr_headers` (of `lr_items`); the report None for none.
    Reading the headers costs ~0.1 ms a file (0.1 s for 800)."""
    hr_bad = hr_headers.unopenable
    lr_bad = lr_headers.unopenable if lr_items is not None and lr_headers is not None else {}
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


def small_images_note(items: list, headers: Headers, skip: Collection[int], side: int, option: str) -> str | None:
    """A one-line note naming the `items` (from `load_images`, but those of `skip`) smaller than the `side`² target
    patch, each mirror-padded up to it (a folder of thumbnails trains on mirror images of them), or None. From their
    `headers` (`read_headers`: a dataset's rows are not read)."""
    small, smallest = [], None
    for i, (width, height, _) in headers.sizes.items():
        if i in skip:
            continue
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


def header_notes(
    hr_items: list, hr_headers: Headers, lr_items: list | None, lr_headers: Headers | None, side: int, option: str
) -> tuple[set[int], list[str | None]]:
    """(indices, one-line reports) of what the images' headers (`read_headers`, read once for the run) say before the
    run: the images (pairs) that cannot be opened (`unopenable_pairs`), and those smaller than the `side`² target
    patch (`small_images_note`). A dataset's rows are left to be found when drawn, their headers read or not."""
    hr_headers = hr_headers.of_files(hr_items)
    lr_headers = lr_headers.of_files(lr_items) if lr_items is not None and lr_headers is not None else None
    bad, report = unopenable_pairs(hr_items, hr_headers, lr_items, lr_headers, option)
    return bad, [report, small_images_note(hr_items, hr_headers, bad, side, option)]

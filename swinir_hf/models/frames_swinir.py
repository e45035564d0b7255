"""The frames of an animated or multi-page image (GIF, APNG, WebP, TIFF), counted without decoding them
(`frame_count`): the restoration takes one frame, and says so when there are more (`warn_if_animated`)."""

from __future__ import annotations

import logging
import os
import struct
from typing import Any

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

# Frames counted at most: a GIF's frames and a TIFF's pages are found by walking through the file, and a 23 MB GIF
# holds a million.
FRAMES_COUNTED = 1000


def frame_count(image: Image.Image, cap: int = FRAMES_COUNTED) -> int:
    """The frames of an opened image, up to `cap` (`cap` + 1: more than that), its current frame kept. A GIF's and
    a TIFF's are counted from their structure (`_gif_frames`, `_tiff_pages`: nothing decoded, at most `cap` + 1
    frames walked, where Pillow's public seek decodes each frame and its `n_frames` walks them all); any other's as
    Pillow counts them (an APNG's and a WebP's header says it). A closed GIF's or TIFF's: those Pillow has already
    counted, else 1 (its file is gone).

    Never raises for what lies past the first frame, which is Pillow's to read: the count only feeds a warning that
    later frames are not restored. A GIF or TIFF cut short or damaged past its first frame has the frames found up to
    there, the one cut short included (Pillow's `n_frames` counts them so).
    """
    if image.format in ("GIF", "TIFF"):
        # Pillow's GIF and TIFF readers keep the file for the other frames as `_fp` (`fp` is None once one is
        # loaded, and the file closed where there are none).
        if _still_open(fp := getattr(image, "_fp", None) or getattr(image, "fp", None)):
            here = fp.tell()
            try:
                return max(1, (_gif_frames if image.format == "GIF" else _tiff_pages)(fp, cap))
            finally:
                fp.seek(here)  # where Pillow's reading of the frames expects it
        # Its file closed (or never kept): nothing left to walk, and Pillow's own count would read it too.
        known = getattr(image, "_n_frames", None)
        return min(known, cap + 1) if isinstance(known, int) and known > 1 else 1
    if not getattr(image, "is_animated", False):
        return 1
    return min(getattr(image, "n_frames", 1), cap + 1)


def _still_open(fp: Any) -> bool:
    """Whether `fp` is a file still open: Pillow puts a stand-in that raises ValueError on any use in a closed
    image's place."""
    try:
        return fp is not None and not getattr(fp, "closed", False)
    except ValueError:
        return False


class _Chunks:
    """A file's bytes by offset, read in chunks: a GIF's blocks are walked one length byte at a time."""

    SIZE = 1 << 16

    def __init__(self, fp: Any) -> None:
        self.fp, self.base, self.data = fp, 0, b""

    def read(self, at: int, n: int) -> bytes:
        """The bytes [at, at + n) of the file, fewer past its end."""
        if not (self.base <= at and at + n <= self.base + len(self.data)):
            self.fp.seek(at)
            self.base, self.data = at, self.fp.read(max(n, self.SIZE))
        return self.data[at - self.base : at - self.base + n]

    def after_sub_blocks(self, at: int) -> int | None:
        """The offset after the data sub-blocks at `at` (each a length byte and that many bytes, up to a 0 length);
        None where the file ends first."""
        while True:
            if not self.read(at, 1):
                return None
            data, i = self.data, at - self.base
            while i < len(data):
                if not data[i]:
                    return self.base + i + 1
                i += data[i] + 1
            at = self.base + i


def _gif_frames(fp: Any, cap: int) -> int:
    """A GIF's frames, up to `cap` + 1: its image descriptors, found as Pillow's `n_frames` finds them (extensions'
    and images' data skipped by their length bytes, other bytes one by one), up to the trailer or the file's end
    (within an extension too), or a frame cut short, the last counted where its descriptor is whole."""
    chunks = _Chunks(fp)
    screen = chunks.read(0, 13)
    if len(screen) < 13:
        return 0
    at, count = 13 + _gif_palette_bytes(screen[10]), 0
    while count <= cap and at is not None:
        block = chunks.read(at, 1)
        if block in (b"", b";"):
            break
        if block == b"!":  # an extension: its label, then its data
            at = chunks.after_sub_blocks(at + 2)
            continue
        at += 1
        if block != b",":
            continue
        descriptor = chunks.read(at, 9)  # then its palette, the LZW code size and the image data
        after = at + 9 + _gif_palette_bytes(descriptor[8]) if len(descriptor) == 9 else None
        at = chunks.after_sub_blocks(after + 1) if after is not None and chunks.read(after, 1) else None
        count += after is not None  # a frame cut short in its data is one, as Pillow's n_frames has it
    return count


def _gif_palette_bytes(flags: int) -> int:
    """The bytes of the colour table that a GIF's screen or image descriptor with these flags is followed by."""
    return 3 << ((flags & 7) + 1) if flags & 128 else 0


def _tiff_pages(fp: Any, cap: int) -> int:
    """A TIFF's pages (classic or BigTIFF, either byte order), up to `cap` + 1: its chain of IFDs, followed as
    Pillow's `n_frames` follows it (`_next_ifd`; one the chain has passed ends it) without reading the values of
    their entries; a page cut short (its IFD, or values it points to, past the file's end) is the last counted."""
    end = fp.seek(0, os.SEEK_END)
    fp.seek(0)
    header = fp.read(16)
    order = {b"II": "<", b"MM": ">"}.get(header[:2])
    if order is None or len(header) < 8:
        return 0
    big = struct.unpack_from(order + "H", header, 2)[0] == 43
    if big and len(header) < 16:
        return 0
    offset: int | None = struct.unpack_from(order + ("Q" if big else "L"), header, 8 if big else 4)[0]
    seen: set[int] = set()
    while offset and offset not in seen and len(seen) <= cap:
        seen.add(offset)
        offset = _next_ifd(fp, offset, end, order, big)  # None: the chain is cut here, this page still one
    return len(seen)


# Bytes per value of each TIFF field type Pillow reads, by type number (0: one it skips). An entry's values lie
# elsewhere in the file where they take more than its own 4 bytes (8 in a BigTIFF).
_TIFF_VALUE_BYTES = np.array([0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 0], np.uint64)


def _next_ifd(fp: Any, at: int, end: int, order: str, big: bool) -> int | None:
    """The offset of the IFD after the one at `at` in a TIFF of `end` bytes (0: none); None where this IFD, or
    values its entries point to, lie past the file's end (Pillow's reading of the IFD fails there, and its chain
    ends). The entries are checked as one array: a hostile IFD has 65,535 of them."""
    width = 8 if big else 4  # of an offset, and of an entry's own values
    head = 8 if big else 2  # the entry count
    fp.seek(min(at, end))
    if at >= end or len(raw := fp.read(head)) < head:
        return None
    size = int.from_bytes(raw, "little" if order == "<" else "big") * (20 if big else 12)
    if at + head + size + width > end or len(table := fp.read(size + width)) < size + width:
        return None
    word = f"{order}u{width}"
    fields = [("tag", f"{order}u2"), ("type", f"{order}u2"), ("count", word), ("place", word)]
    entries = np.frombuffer(table, np.dtype(fields), count=size // (20 if big else 12))
    per_value = _TIFF_VALUE_BYTES[np.minimum(entries["type"], len(_TIFF_VALUE_BYTES) - 1)]
    counts, places, unit = entries["count"].astype(np.uint64), entries["place"].astype(np.uint64), per_value.clip(1)
    elsewhere = (per_value > 0) & (counts > width // unit)  # count × bytes > width, without overflowing
    room = np.uint64(end) - np.minimum(places, np.uint64(end))
    if (elsewhere & ((places > end) | (counts > room // unit))).any():
        return None
    return int.from_bytes(table[size:], "little" if order == "<" else "big")


def frames_said(count: int, cap: int = FRAMES_COUNTED) -> str:
    """A `frame_count` as a message says it: "12 frames", "over 1,000 frames"."""
    return f"{count:,} frames" if count <= cap else f"over {cap:,} frames"


def warn_if_animated(image: Image.Image, name: str = "the image") -> None:
    """Log a warning that only the current frame of an animated image (GIF, APNG, WebP, multi-page TIFF) is used."""
    if (frames := frame_count(image)) > 1:
        logger.warning(f"{name} has {frames_said(frames)}: only frame {image.tell() + 1} is restored")

"""What each output file records of how it was made (the model, a fingerprint of its weights, `--outscale`, the
model's scale), and the reading of that record back, so that a rerun into the same folder skips only the outputs it
would make alike.

The record is one ASCII line, `swinir-hf {"model": ..., "outscale": ..., "scale": ..., "weights": ...}`, in a slot
each format keeps for the software that wrote the file: a PNG `Software` text chunk, a JPEG comment, a TIFF
`Software` tag, a WebP's XMP `xmp:CreatorTool`. None of them holds the input's EXIF, which outputs keep as it was.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .webp_header import read_webp_header

if TYPE_CHECKING:
    from PIL import Image

PREFIX = "swinir-hf "
# A record is a path's length and a few bytes more; a longer text is another program's (or a hostile file's).
_LONGEST = 16_384
_HEX = re.compile("[0-9a-f]+")
_CREATOR_TOOL = re.compile(rb'xmp:CreatorTool="([^"]*)"')
_XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="{}"/>'
    "</rdf:RDF></x:xmpmeta>"
)


@dataclass(frozen=True)
class Provenance:
    """How an output was made: `model` as `model_label` names it, the `--outscale` asked (None: none), the model's
    own `scale` and its `weights_fingerprint` (known once it is loaded: None in a run's record before that, and in
    the records of the version before weights were recorded)."""

    model: str
    outscale: float | None = None
    scale: int | None = None
    weights: str | None = None

    def text(self) -> str:
        """The record as outputs hold it: ASCII (other characters escaped), which every format's slot takes."""
        record = {"model": self.model, "outscale": self.outscale, "scale": self.scale, "weights": self.weights}
        return PREFIX + json.dumps(record, ensure_ascii=True)

    @classmethod
    def parse(cls, text: str | bytes | None) -> Provenance | None:
        """The record in `text`, or None when it holds none (another program's text, a damaged one)."""
        if isinstance(text, bytes):
            text = text.decode("ascii", errors="replace")
        if not isinstance(text, str) or not text.startswith(PREFIX) or len(text) > _LONGEST:
            return None
        try:
            record = json.loads(text.removeprefix(PREFIX))
            model, outscale, scale = record["model"], record["outscale"], record.get("scale")
            weights = record.get("weights")  # none in the records of the version before
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):  # RecursionError: nested JSON
            return None
        if isinstance(model, str) and _is_number(outscale) and _is_number(scale) and _is_fingerprint(weights):
            return cls(model, outscale, scale, weights)
        return None

    def difference(self, run: Provenance) -> str:
        """What this record has that `run` (this run's, its scale and weights None until its model is loaded) does
        not, as a user reads it after "restored with"; "" when `run` makes this output alike: the same model, with
        the same weights where both records know them, and the same size factor (`--outscale 2` of a ×2 model is no
        resize: the same pixels as none)."""
        said = []
        if self.model != run.model:
            said.append(f"model {self.model} (this run: {run.model})")
        elif None not in (self.weights, run.weights) and self.weights != run.weights:
            said.append(f"other weights of {self.model}")
        if self._factor(self.outscale) != self._factor(run.outscale):
            said.append(f"{_outscale(self.outscale)} (this run: {_outscale(run.outscale)})")
        return " and ".join(said)

    def _factor(self, outscale: float | None) -> float | None:
        """The output's size factor with `outscale` by this record's model, whose scale a run of it shares."""
        return self.scale if outscale is None else outscale


def _is_number(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _is_fingerprint(value: object) -> bool:
    return value is None or (isinstance(value, str) and len(value) <= 64 and _HEX.fullmatch(value) is not None)


def _outscale(outscale: float | None) -> str:
    if outscale is None:
        return "no --outscale"
    short = f"{outscale:g}"
    return f"--outscale {short if float(short) == outscale else repr(outscale)}"  # 2, 2.5; never 2 for 2.0000001


def model_label(spec: str | os.PathLike, revision: str | None = None, weights_key: str | None = None) -> str:
    """A model as outputs record it, the same whether named by a relative or an absolute path: a bundled model's name
    (`sr-x4`, also given as its folder), a local file's or folder's absolute path (with `#weights_key` when one was
    asked: `params` and `params_ema` differ), or a Hub repo id (a catalogue name, or the authors' name for their
    file, as the id it stands for), with `@revision` when one was asked."""
    from ..checkpoints.bundled import DEFAULT_MODELS, DEFAULTS_DIR
    from ..checkpoints.loading import resolve_spec

    resolved = resolve_spec(spec)
    if isinstance(resolved, Path):
        path = resolved.resolve()
        # A bundled model by its name, also when named by its folder (a local folder `sr-x4` is that folder).
        bundled = path.parent == DEFAULTS_DIR and path.name in DEFAULT_MODELS
        return path.name if bundled else str(path) + (f"#{weights_key}" if weights_key else "")
    return f"{resolved}@{revision}" if revision else resolved


def xmp_packet(text: str) -> bytes:
    """An XMP packet whose `xmp:CreatorTool` is `text` (WebP's only slot for it besides EXIF)."""
    return _XMP.format(html.escape(text, quote=True)).encode("ascii")


def read_provenance(path: str | os.PathLike) -> Provenance | None:
    """The record in the image file at `path` (read from its header; a WebP's from its chunks), or None: none there,
    or not readable."""
    return read_record_and_size(path, sized=False)[0]


def read_record_and_size(
    path: str | os.PathLike, sized: bool = True
) -> tuple[Provenance | None, tuple[int, int] | None]:
    """`read_provenance` of the image file at `path` and, when `sized`, its upright (W, H) as
    `image_io.header_size` reads it (None: not readable, or not asked), from one read of its header: a WebP's chunks
    walked once, another file opened once by Pillow, or by tifffile where Pillow does not open it (float colour)."""
    from PIL import UnidentifiedImageError

    from .image_io import header_size, open_image

    path = Path(path)
    if path.suffix.lower() == ".webp":  # Pillow reads a whole WebP to open it
        try:
            header = read_webp_header(path)
        except (OSError, ValueError):
            header = None
        record = Provenance.parse(_creator_tool(header.xmp if header is not None else None))
        return record, header_size(path, header) if sized else None
    tiff = path.suffix.lower() in (".tif", ".tiff")
    try:
        with open_image(path, report=False) as image:
            text = _tiff_software(image) if tiff else image.info.get("Software") or image.info.get("comment")
            return Provenance.parse(text), _upright_size(image) if sized else None
    except Exception as err:  # a damaged header fails with almost any type
        return _read_by_tifffile(path, tiff, sized and isinstance(err, UnidentifiedImageError))


def _tiff_software(image: Image.Image) -> str | bytes | None:
    """The Software tag of a TIFF Pillow opened, read as tifffile (the reader of TIFF records before) reads an ASCII
    tag: NULs after it and spaces around it dropped, UTF-8 else cp1252, else bytes; None for a file Pillow took for
    another format."""
    value = image.tag_v2.get(305) if image.format == "TIFF" else None
    if not isinstance(value, str):
        return value
    stored = value.encode("latin-1").rstrip(b"\0")  # Pillow decodes it as Latin-1: the bytes as stored
    for encoding in ("utf-8", "cp1252"):
        try:
            return stored.decode(encoding).strip()
        except UnicodeDecodeError:
            pass
    return stored


def _upright_size(image: Image.Image) -> tuple[int, int] | None:
    """`upright_size` of an opened image, None where its header fails (`image_io.header_size`)."""
    from .photo_metadata import upright_size

    try:
        return upright_size(image)
    except Exception:  # a damaged header fails with almost any type
        return None


def _read_by_tifffile(path: Path, record: bool, sized: bool) -> tuple[Provenance | None, tuple[int, int] | None]:
    """`read_record_and_size` of a file Pillow does not open, by tifffile: its record when `record` (a TIFF's name),
    its size when `sized` (Pillow cannot identify it: a float colour TIFF, as `image_io.image_size` reads it)."""
    if not (record or sized):
        return None, None
    import tifffile

    from .deep_decoders import quiet_tifffile, upright_page_size

    try:  # its warnings on a damaged file are logged as the record's reader logged them, not for a size alone
        with contextlib.nullcontext() if record else quiet_tifffile(), tifffile.TiffFile(path) as tif:
            tag = tif.pages.first.tags.get("Software") if record else None
            try:
                with quiet_tifffile():
                    size = upright_page_size(tif.pages[0]) if sized else None
            except Exception:  # its first page is no image: no size, as `image_io.image_size` has none
                size = None
    except Exception:  # not a TIFF either
        return None, None
    return Provenance.parse(tag.value if tag is not None else None), size


def _creator_tool(xmp: bytes | None) -> str | None:
    """The `xmp:CreatorTool` of an XMP packet as `xmp_packet` writes it, unescaped; None without one."""
    found = _CREATOR_TOOL.search(xmp or b"")
    return html.unescape(found[1].decode("ascii")) if found else None

"""What each output file records of how it was made (the model, a fingerprint of its weights, `--outscale`, the
model's scale), and the reading of that record back, so that a rerun into the same folder skips only the outputs it
would make alike.

The record is one ASCII line, `swinir-hf {"model": ..., "outscale": ..., "scale": ..., "weights": ...}`, in a slot
each format keeps for the software that wrote the file: a PNG `Software` text chunk, a JPEG comment, a TIFF
`Software` tag, a WebP's XMP `xmp:CreatorTool`. None of them holds the input's EXIF, which outputs keep as it was.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .webp_header import read_webp_header

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
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):  # tifffile: Pillow opens no float colour TIFF
            import tifffile

            with tifffile.TiffFile(path) as tiff:
                tag = tiff.pages.first.tags.get("Software")
                return Provenance.parse(tag.value if tag is not None else None)
        if path.suffix.lower() == ".webp":  # Pillow reads a whole WebP to open it
            header = read_webp_header(path)
            return Provenance.parse(_creator_tool(header.xmp if header is not None else None))
        from PIL import Image

        from ..models.image_processing_swinir import pillow_warnings

        with pillow_warnings(), Image.open(path) as image:
            return Provenance.parse(image.info.get("Software") or image.info.get("comment"))
    except (OSError, ValueError, SyntaxError):  # not an image this reads: no record, as for another program's file
        return None


def _creator_tool(xmp: bytes | None) -> str | None:
    """The `xmp:CreatorTool` of an XMP packet as `xmp_packet` writes it, unescaped; None without one."""
    found = _CREATOR_TOOL.search(xmp or b"")
    return html.unescape(found[1].decode("ascii")) if found else None

"""What each output file records of how it was made (the model, `--outscale`), and the reading of that record back,
so that a rerun into the same folder skips only the outputs it would make alike.

The record is one ASCII line, `swinir-hf {"model": ..., "outscale": ...}`, in a slot each format keeps for the
software that wrote the file: a PNG `Software` text chunk, a JPEG comment, a TIFF `Software` tag, a WebP's XMP
`xmp:CreatorTool`. None of them holds the input's EXIF, which outputs keep as it was.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

PREFIX = "swinir-hf "
_CREATOR_TOOL = re.compile(rb'xmp:CreatorTool="([^"]*)"')
_XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="{}"/>'
    "</rdf:RDF></x:xmpmeta>"
)


@dataclass(frozen=True)
class Provenance:
    """How an output was made: `model` as `model_label` names it, and the `--outscale` (None: the model's scale)."""

    model: str
    outscale: float | None = None

    def text(self) -> str:
        """The record as outputs hold it: ASCII (other characters escaped), which every format's slot takes."""
        return PREFIX + json.dumps({"model": self.model, "outscale": self.outscale}, ensure_ascii=True)

    @classmethod
    def parse(cls, text: str | bytes | None) -> Provenance | None:
        """The record in `text`, or None when it holds none (another program's text, a damaged one)."""
        if isinstance(text, bytes):
            text = text.decode("ascii", errors="replace")
        if not isinstance(text, str) or not text.startswith(PREFIX):
            return None
        try:
            fields = json.loads(text.removeprefix(PREFIX))
            model, outscale = fields["model"], fields["outscale"]
        except (ValueError, TypeError, KeyError):
            return None
        is_scale = outscale is None or (isinstance(outscale, (int, float)) and not isinstance(outscale, bool))
        return cls(model, outscale) if isinstance(model, str) and is_scale else None

    def difference(self, run: Provenance) -> str:
        """What this record has that `run` (the run at hand) does not, as a user reads it."""
        said = []
        if self.model != run.model:
            said.append(f"model {self.model} (this run: {run.model})")
        if self.outscale != run.outscale:
            said.append(f"{_outscale(self.outscale)} (this run: {_outscale(run.outscale)})")
        return " and ".join(said)


def _outscale(outscale: float | None) -> str:
    return "no --outscale" if outscale is None else f"--outscale {outscale:g}"


def model_label(spec: str | os.PathLike, revision: str | None = None, weights_key: str | None = None) -> str:
    """A model as outputs record it, the same however it was named: a bundled model's name (`sr-x4`), a local file's
    or folder's absolute path (with `#weights_key` when one was asked: `params` and `params_ema` differ), or a Hub
    repo id (a catalogue name, or the authors' name for their file, as the id it stands for), with `@revision` when
    one was asked."""
    from ..checkpoints.bundled import DEFAULT_MODELS, DEFAULTS_DIR
    from ..checkpoints.loading import resolve_spec

    resolved = resolve_spec(spec)
    if str(spec) in DEFAULT_MODELS and resolved == DEFAULTS_DIR / str(spec):  # not a local folder of that name
        return str(spec)
    if isinstance(resolved, Path):
        return str(resolved.resolve()) + (f"#{weights_key}" if weights_key else "")
    return f"{resolved}@{revision}" if revision else resolved


def xmp_packet(text: str) -> bytes:
    """An XMP packet whose `xmp:CreatorTool` is `text` (WebP's only slot for it besides EXIF)."""
    return _XMP.format(html.escape(text, quote=True)).encode("ascii")


def read_provenance(path: str | os.PathLike) -> Provenance | None:
    """The record in the image file at `path` (read from its header), or None: none there, or not readable."""
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):  # tifffile: Pillow opens no float colour TIFF
            import tifffile

            with tifffile.TiffFile(path) as tiff:
                tag = tiff.pages.first.tags.get("Software")
                return Provenance.parse(tag.value if tag is not None else None)
        from PIL import Image

        from ..models.image_processing_swinir import pillow_warnings

        with pillow_warnings(), Image.open(path) as image:
            info = image.info
            xmp = _CREATOR_TOOL.search(info.get("xmp") or b"")
            found = info.get("Software") or info.get("comment") or (xmp and html.unescape(xmp[1].decode("ascii")))
            return Provenance.parse(found)
    except (OSError, ValueError, SyntaxError):  # not an image this reads: no record, as for another program's file
        return None

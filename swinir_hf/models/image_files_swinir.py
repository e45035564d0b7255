"""Image files as the `image-restoration` pipeline reads them: a path or http(s) URL → the PIL image as stored (mode,
bit depth and alpha kept, HEIC / HEIF through pillow-heif), with messages that say what to do where Pillow cannot read
it. Shipped as remote code beside the pipeline."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .hub_push_swinir import is_http_client_error
from .pil_images_swinir import check_colour_depth, is_heif


def open_image(source: str, timeout: float | None = None) -> Image.Image:
    """A file path or http(s) URL → the PIL image as stored: mode, bit depth and alpha kept (transformers'
    `load_image` converts to 8-bit RGB). Other strings (base64) go to `load_image`, which names what it accepts."""
    if source.startswith(("http://", "https://")):
        return _check_depth(_open(io.BytesIO(_fetch(source, timeout)), source), source)
    if os.path.isfile(source):
        return _check_depth(_open(source, source), source)
    if os.path.isdir(source):  # else taken for base64 by `load_image`: "Incorrect image source ... Incorrect padding"
        raise IsADirectoryError(f"{source} is a folder, not an image file: pass the image files in it, one by one")
    if not source.startswith("data:") and ("." in source or _in_a_folder(source)):  # meant as a file name
        raise FileNotFoundError(f"no such image file: {source}")
    from transformers.image_utils import load_image

    return load_image(source, timeout=timeout)


def _in_a_folder(source: str) -> bool:
    """Whether `source` names a file in an existing folder (`photos/img_001`, with no suffix): base64 has no dots,
    but it may hold slashes, so only a path whose folder is there is taken for one."""
    folder = os.path.dirname(source)
    return bool(folder) and os.path.isdir(folder)


@contextlib.contextmanager
def opened_file(image: Any, timeout: float | None = None) -> Iterator[Any]:
    """`image` itself, or for a path (str or `os.PathLike`) or http(s) URL the image opened as the image-restoration
    pipeline opens it (`open_image`: mode, bit depth and EXIF kept, a 16-bit colour file Pillow would read at 8 bits
    refused), closed on leaving; transformers 5's image processors take paths and URLs too. A batch reads its paths
    one at a time through it: with all of them open at once, a few thousand ran out of file handles.

    Raises:
        OSError: decoding the file's pixels failed (a file cut short): "SOURCE: not a readable image (why)", where
            Pillow names no file ("image file is truncated").
    """
    if not isinstance(image, (str, os.PathLike)):
        yield image
        return
    source = os.fspath(image)
    with open_image(source, timeout) as opened:
        try:
            yield opened
        except (OSError, SyntaxError) as err:  # Pillow's decoders: OSError, and SyntaxError for a broken PNG
            said = _unreadable(source, err)
            if said is err:
                raise
            raise said from err


# What the image-restoration pipeline takes as one image (a list, generator or dataset column of them too).
PIPELINE_INPUTS = "a PIL image, a numpy array ((H, W) or (H, W, C)), a path or an http(s) URL"


def check_pipeline_input(image: Any) -> None:
    """TypeError for an image the pipeline does not take (`PIPELINE_INPUTS`, once a path or URL is opened),
    saying what it takes and, for a tensor or a file's bytes, how to pass it."""
    if isinstance(image, (Image.Image, np.ndarray)):
        return
    takes = f"the image-restoration pipeline takes {PIPELINE_INPUTS} (or a list of them)"
    if isinstance(image, torch.Tensor):
        raise TypeError(
            f"{takes}, not a tensor: pass one (C, H, W) image as {tensor_as_array(image)}, or run the model on "
            "(N, C, H, W) floats in [0, 1] itself: model(pixel_values=x).reconstruction"
        )
    if isinstance(image, (bytes, bytearray, memoryview)):  # a file's bytes (a download, an upload), not pixels
        raise TypeError(f"{takes}, not {type(image).__name__}: pass PIL.Image.open(io.BytesIO(data))")
    if hasattr(image, "read"):  # a file object (BytesIO, open(..., "rb"))
        raise TypeError(f"{takes}, not a file object: pass PIL.Image.open(file)")
    if type(image).__module__.startswith("datasets.") and hasattr(image, "features"):  # not imported: remote code
        column = next((n for n, f in (image.features or {}).items() if type(f).__name__ == "Image"), "image")
        raise TypeError(
            f"{takes}, not a datasets {type(image).__name__}: pass its image column, dataset[{column!r}] (a list), or "
            f"KeyDataset(dataset, {column!r}) (transformers.pipelines.pt_utils; an iterator)"
        )
    if isinstance(image, Mapping) and (key := _image_key(image)) is not None:  # a dataset's row (a streamed one's)
        raise TypeError(
            f"{takes}, not a {type(image).__name__} (a datasets row): pass its image, row[{key!r}]; of a whole "
            f"dataset its image column, dataset[{key!r}] (a list) or KeyDataset(dataset, {key!r}) "
            f"(transformers.pipelines.pt_utils); of a streamed one, (row[{key!r}] for row in dataset)"
        )
    raise TypeError(f"{takes}, not {type(image).__name__}")


def _image_key(row: Mapping) -> Any:
    """The key of `row`'s first image-like value (a PIL image, an array, an undecoded datasets image), else None."""
    for key, value in row.items():
        undecoded = isinstance(value, Mapping) and {"bytes", "path"} <= set(value)
        if undecoded or isinstance(value, (Image.Image, np.ndarray, torch.Tensor)):
            return key
    return None


def tensor_as_array(x: torch.Tensor) -> str:
    """The code that makes one (C, H, W) image of the tensor `x` (a batch's first or i-th) the (H, W, C) numpy array
    `swinir_hf.restore` and the pipeline take: advice that runs on this tensor (numpy has no bfloat16)."""
    name = ("x[0]" if len(x) == 1 else "x[i]") if x.ndim == 4 else "x"
    cast = ".float()" if x.dtype == torch.bfloat16 else ""
    return f"{name}.detach().cpu(){cast}.permute(1, 2, 0).numpy()"


def image_name(image: Any, index: int | None = None) -> str:
    """What a message calls `image`: a path or URL as given, a PIL image opened from a file that file, else "the
    image" (the `index`-th of several: "image INDEX of those given")."""
    if isinstance(image, (str, os.PathLike)):
        return os.fspath(image)
    # `Image.open(path)` keeps it; a URL's body has ""
    return getattr(image, "filename", None) or ("the image" if index is None else f"image {index} of those given")


def _fetch(url: str, timeout: float | None) -> bytes:
    """The body `url` answers with (redirects followed), through huggingface_hub's HTTP client as transformers'
    `load_image` fetches (not its Hub session, which HF_HUB_OFFLINE closes to every URL); the client's errors, which
    name no URL, as an `OSError` that names `url` (a batch of URLs says which one failed)."""
    from huggingface_hub.utils import httpx

    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=True)
    except Exception as err:
        if not is_http_client_error(err):
            raise
        if "Timeout" in type(err).__name__:  # httpx's ConnectTimeout, ReadTimeout, ...
            raise OSError(f"cannot fetch {url}: no answer within timeout={timeout} s") from err
        raise OSError(f"cannot fetch {url}: {err or type(err).__name__}") from err
    if response.is_error:
        raise OSError(f"cannot fetch {url}: the server answered {response.status_code} {response.reason_phrase}")
    return response.content


# Little- and big-endian TIFF, then BigTIFF.
_TIFF_HEADS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _open(file: str | io.BytesIO, source: str) -> Image.Image:
    """`Image.open`, and HEIC / HEIF (phone photos) through pillow-heif where it is installed, registered with Pillow
    on first need.

    Raises:
        ValueError: a HEIF file without pillow-heif (the message says how to install it).
        UnidentifiedImageError: not an image Pillow reads, "SOURCE: not a readable image (empty file)" say (for a
            TIFF, the message says what to do instead).
    """
    try:
        return Image.open(file)
    except UnidentifiedImageError as err:
        _refuse_unidentified(file, source, err)
    except OSError as err:  # a WebP cut short: "could not create decoder object"; a file without permission
        raise _unreadable(source, err) from err
    try:
        import pillow_heif
    except ImportError:
        raise ValueError(f"{source}: a HEIC / HEIF image, which needs pillow-heif: pip install pillow-heif") from None
    pillow_heif.register_heif_opener()
    if isinstance(file, io.BytesIO):
        file.seek(0)
    return Image.open(file)


def _unreadable(source: str, err: BaseException) -> OSError:
    """Pillow's error opening or decoding `source` as an OSError that names it once: "SOURCE: not a readable image
    (why)"; one that already starts with its name, as it is."""
    if isinstance(err, OSError) and str(err).startswith(f"{source}: "):
        return err
    why = getattr(err, "strerror", None) or str(err).replace(f" '{source}'", "") or type(err).__name__
    return OSError(f"{source}: not a readable image ({why})")


def _refuse_unidentified(file: str | io.BytesIO, source: str, err: UnidentifiedImageError) -> None:
    """Raise what Pillow not identifying `file` means, unless it is a HEIF file (pillow-heif may read it)."""
    if isinstance(file, io.BytesIO):
        head = file.getvalue()[:12]
    else:
        with open(file, "rb") as f:
            head = f.read(12)
    if head[:4] in _TIFF_HEADS:  # float colour TIFFs (32-bit RGB), which Pillow does not read
        raise UnidentifiedImageError(
            f"{source}: a TIFF Pillow cannot read (float colour, say): pass its pixels as an (H, W, C) float32 "
            "array in [0, 1] (tifffile.imread), or restore the file with swinir_hf.restore(model, path)"
        ) from err
    if not is_heif(head):
        if isinstance(file, io.BytesIO):  # a URL's body: Pillow names "<_io.BytesIO object at 0x...>"
            said = f"{source}: not an image Pillow can read (it answered {head!r}...)"
            raise UnidentifiedImageError(said) from err
        # As `restore()` says it; an empty file (an interrupted copy or download) is worth naming as one.
        why = "cannot identify image file" if head else "empty file"
        raise UnidentifiedImageError(f"{source}: not a readable image ({why})") from err


def _check_depth(image: Image.Image, source: str) -> Image.Image:
    """`image` itself, unless `check_colour_depth` refuses it (a colour PNG / TIFF deeper than Pillow reads it): then
    its file is closed and the ValueError raised."""
    try:
        check_colour_depth(image, source)
    except ValueError:
        image.close()  # never returned, so no caller's `with` would close it
        raise
    return image

"""Training and validation data: patches of the training images degraded on the fly, reproducibly, and the
validation set, degraded once. (Listing, decoding and checking the images: `images`; LR images given with them:
`pairing`; the order processes and steps take the patches in: `sampler`.)

Every training sample is a pure function of `(seed, key)`, where `key` is the sample's global position in the
training stream (`step · batch_size + i`). The image it comes from, its crop, flips, rotation and degradation are
all drawn from `numpy.random.default_rng((seed, key))`, so the data a run sees depends on neither the number of
DataLoader workers nor the number of processes, and a resumed run sees exactly what an uninterrupted one would.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..console import shown_name
from ..degradations.levels import LEVELS, validation_level
from ..degradations.setting import Degradation
from ..degradations.synthetic import bicubic_patch
from ..evaluation.benchmark import to_model_channels
from ..evaluation.metrics import JPEG_BLOCK  # also the reach of a JPEG patch's random offset
from ..models.pixels_swinir import match_channels
from ..processes import is_main_process
from .checks import check_patch_size
from .headers import header_notes
from .images import (
    DECODE_ERRORS,
    check_colour,
    check_not_trained_on,
    check_readable,
    config_images,
    dataloader_worker,
    decode_image,
    item_name,
    items_fingerprint,
    shown_path,
)
from .pairing import common_area, fits, pair_lr_images, training_sources
from .patch_geometry import augment, pad_to
from .sharpening import sharpened
from .unreadable import LISTED, FoundUnreadable, more_counted_line

if TYPE_CHECKING:
    from .config import TrainingConfig

logger = logging.getLogger("swinir_hf.train")  # the trainer's log


# --- patches ---------------------------------------------------------------------------------------------------


class TrainingPatches(torch.utils.data.Dataset):
    """Random (input, target) patch pairs; `dataset[key]` is a pure function of `(seed, key)`.

    Keys are unbounded sample positions: key k comes from image `perm_e[k mod N]`, where `perm_e` is the
    permutation of epoch e = k // N drawn from `(seed, e)`. Images smaller than the target patch are mirror-padded
    up to it (not upscaled: rescaling would change the degradation the model learns). An image (or its LR image)
    that cannot be decoded is skipped and the next image of the permutation is used instead, said by name for the
    first `unreadable.LISTED` in a worker, then counted (`FoundUnreadable`: over the workers); one of `unreadable`
    (`headers.unopenable`) is not said.

    Args:
        hr_items: high-quality images (see `load_images`).
        patch_size: input patch side in pixels; targets are `patch_size · scale`.
        degradation: how inputs are made (`paired` uses `lr_items`).
        channels: model channels.
        seed: the run's data seed.
        lr_items: LR images matching `hr_items` for `paired` data.
        flip, rot90: random horizontal flips / 90° rotations.
        unreadable: indices of images (or pairs) already reported as unreadable.
        sharpen_target: unsharp-mask the targets (`sharpening.sharpened`), not the images the inputs are made from.
        keep_plain_target: with `sharpen_target`, the unsharpened target too (`plain_labels`: a GAN's real images).
    """

    def __init__(
        self,
        hr_items: list,
        patch_size: int,
        degradation: Degradation,
        channels: int,
        seed: int,
        lr_items: list | None = None,
        flip: bool = True,
        rot90: bool = True,
        unreadable: Collection[int] = (),
        sharpen_target: bool = False,
        keep_plain_target: bool = False,
    ) -> None:
        if degradation.kind == "paired" and (lr_items is None or len(lr_items) != len(hr_items)):
            raise ValueError("paired data needs one LR image per HR image")
        self.hr_items, self.lr_items = hr_items, lr_items
        self.patch_size, self.degradation, self.channels, self.seed = patch_size, degradation, channels, seed
        self.flip, self.rot90, self.sharpen_target = flip, rot90, sharpen_target
        self.keep_plain_target = sharpen_target and keep_plain_target  # without sharpening, the target is the image
        self._perm: tuple[int, np.ndarray] | None = None
        # Grey JPEG targets are made per patch from colour (`_grey_target`), so images are decoded in colour.
        self._decoded_channels = 3 if channels == 1 and degradation.kind == "jpeg" else channels
        self._unreadable: set[int] = set(unreadable)  # the images found unreadable (and said so) in this process
        self._unreadable_why = ""  # the last image found so, and why
        self.found_unreadable = FoundUnreadable(len(hr_items))  # of those, the ones found mid-run, by any worker
        # Images sampled: those reported unreadable before the run are still tried, so the data is what it was.
        self.readable = len(hr_items) - len(self._unreadable)

    def __len__(self) -> int:
        return len(self.hr_items)

    def fingerprint(self) -> dict[str, Any]:
        """The images sampled, by name and size (`items_fingerprint`), which each checkpoint keeps."""
        return items_fingerprint(self.hr_items + (self.lr_items or []))

    def image_index(self, key: int) -> int:
        epoch, pos = divmod(key, len(self.hr_items))
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, np.random.default_rng((self.seed, epoch, 0x5EED)).permutation(len(self.hr_items)))
        return int(self._perm[1][pos])

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        """→ {"pixel_values": (C, p, p), "labels": (C, p·s, p·s)} float32 (and `keep_plain_target`'s "plain_labels").
        An error making the sample names its file(s)."""
        rng = np.random.default_rng((self.seed, key))
        n = len(self.hr_items)
        epoch, pos = divmod(key, n)
        for attempt in range(n):  # the epoch's next images in its order, each once (not the next epoch's)
            index = self.image_index(epoch * n + (pos + attempt) % n)
            # The rule: an error is the data's, said in one line (`SampleError`), only where the data is checked here
            # (a pair's sizes; an image that does not decode is skipped: DECODE_ERRORS). Any other error, whatever its
            # type (a ValueError of numpy's too), is taken for a bug, ours or a library's: a RuntimeError naming the
            # files, caused by it, so that its traceback is shown.
            try:
                if (pair := self._decoded(index)) is not None:
                    return self._sample(*pair, rng)
            except SampleError as err:  # a file changed since the checks before the run, say
                raise SampleError(f"{self._where(index)}: {err}") from None
            except MemoryError:
                raise
            except Exception as err:
                raise RuntimeError(f"{self._where(index)}: {type(err).__name__}: {err}") from err
        # Every file gone or damaged since the checks before the run (a folder unmounted, say).
        counted = self.found_unreadable.counted()
        raise SampleError(
            f"none of the {n} training images can be decoded any more ({counted}e.g. {self._unreadable_why})"
        )

    def _decoded(self, index: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        """(HR, LR or None) arrays of image `index`, or None where one cannot be decoded: said (`_skip`) naming the
        file, and in paired data which one."""
        try:
            hr = decode_image(self.hr_items[index], self._decoded_channels)
        except DECODE_ERRORS as err:
            self._skip(index, f"{'HR ' if self.lr_items is not None else ''}image {self._where(index)}", err)
            return None
        if self.lr_items is None:
            return hr, None
        try:
            return hr, decode_image(self.lr_items[index], self.channels)
        except DECODE_ERRORS as err:
            lr, hr_path = shown_path(self.lr_items[index]), shown_path(self.hr_items[index])
            self._skip(index, f"LR image {lr} (and its HR image {hr_path})", err)
            return None

    def _skip(self, index: int, what: str, err: Exception) -> None:
        """Warn that `what` (image `index`'s file) is unreadable, unless said already here, naming only the first
        `LISTED` (a folder gone mid-run made 800 lines for DIV2K); each DataLoader worker its own, named."""
        self._unreadable_why = f"{what}: {err}"
        if index not in self._unreadable:
            self._unreadable.add(index)
            if self.found_unreadable.add(index):
                where = dataloader_worker()
                logger.warning(f"skipping unreadable {what}: {err}" + (f" ({where})" if where else ""))
            elif self.found_unreadable.here == LISTED + 1:
                logger.warning(more_counted_line())

    def _where(self, index: int) -> str:
        """Image `index`'s file (its LR file's too, in paired data), as listed, for a message."""
        hr = shown_path(self.hr_items[index])
        return hr if self.lr_items is None else f"{hr} (LR image {shown_path(self.lr_items[index])})"

    def _sample(self, hr: np.ndarray, lr: np.ndarray | None, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        scale, p = self.degradation.scale, self.patch_size
        flip = int(rng.integers(2)) if self.flip else 0
        rot = int(rng.integers(4)) if self.rot90 else 0
        if lr is None and self.degradation.kind == "jpeg":
            hr = self._grey_target(hr, rng) if hr.shape[-1] != self.channels else hr
            inp, target = self._jpeg_patch(hr, flip, rot, rng)
            target = target.astype(np.float32) / 255.0
        elif lr is None:
            hr = pad_to(hr, p * scale)
            top, left = int(rng.integers(hr.shape[0] - p * scale + 1)), int(rng.integers(hr.shape[1] - p * scale + 1))
            if self.degradation.kind == "bicubic":  # downscaled in the image's context, then augmented, as LR files
                inp, target = bicubic_patch(hr, top, left, p, scale)
                inp = augment(inp, flip, rot).astype(np.float32) / 255.0
                target = augment(target, flip, rot)
            else:  # degraded after the augmentation, as the authors do: JPEG blocks lie on the input's own grid
                target = augment(hr[top : top + p * scale, left : left + p * scale], flip, rot)
                inp = self.degradation(np.ascontiguousarray(target), rng)
            target = target.astype(np.float32) / 255.0
        else:
            if not fits(hr.shape[:2], lr.shape[:2], scale):
                (lh, lw), (h, w) = lr.shape[:2], hr.shape[:2]
                raise SampleError(
                    f"the LR image ({lw}×{lh}) is not its HR image's size ({w}×{h}) / {scale} (changed since the run "
                    "started?)"
                )
            # Cropped before padding: HR rows / columns beyond LR × scale would shift the HR mirror against the LR one.
            hr, lr = common_area(hr, lr, scale)
            lr = pad_to(lr, p)
            hr = pad_to(hr, p * scale)
            top, left = int(rng.integers(lr.shape[0] - p + 1)), int(rng.integers(lr.shape[1] - p + 1))
            inp = augment(lr[top : top + p, left : left + p], flip, rot).astype(np.float32) / 255.0
            hs, ws = top * scale, left * scale
            target = augment(hr[hs : hs + p * scale, ws : ws + p * scale], flip, rot).astype(np.float32) / 255.0
        plain = target
        if self.sharpen_target:  # after the input is made: it is degraded from the unsharpened target
            target = sharpened(target)
        item = {
            "pixel_values": torch.from_numpy(np.ascontiguousarray(inp.transpose(2, 0, 1))),
            "labels": torch.from_numpy(np.ascontiguousarray(target.transpose(2, 0, 1))),
        }
        if self.keep_plain_target:  # a GAN's real images: unsharpened, as Real-ESRGAN's (gan_gt_usm: False)
            item["plain_labels"] = torch.from_numpy(np.ascontiguousarray(plain.transpose(2, 0, 1)))
        return item

    @staticmethod
    def _grey_target(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """An (H, W, 3) uint8 image as the grey a 1-channel JPEG model is trained on, as the authors' data: half of
        the time studio-range Y (16..235, MATLAB's rgb2ycbcr, which the benchmark's colour test images are scored
        on: `to_model_channels`), else full-range BT.601 luma (OpenCV's RGB2GRAY)."""
        if rng.random() < 0.5:
            return to_model_channels(rgb, 1, "jpeg")
        return np.rint(match_channels(rgb / 255.0, 1) * 255.0).astype(np.uint8)

    def _jpeg_patch(
        self, hr: np.ndarray, flip: int, rot: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """(input float32, target uint8) p² patches of JPEG data, as the authors make them: a (p + 8)² crop,
        augmented and compressed, then the patch at its corner or, half of the time, at a random offset of up to 8
        pixels. Compressing the patch itself would put the 8×8 blocks always at its corner: tiles and crops of a JPEG
        photo have them anywhere."""
        p, big = self.patch_size, self.patch_size + JPEG_BLOCK
        hr = pad_to(hr, big)
        top, left = int(rng.integers(hr.shape[0] - big + 1)), int(rng.integers(hr.shape[1] - big + 1))
        region = np.ascontiguousarray(augment(hr[top : top + big, left : left + big], flip, rot))
        degraded = self.degradation(region, rng)
        shifted = rng.random() < 0.5
        dy, dx = (int(rng.integers(JPEG_BLOCK + 1)), int(rng.integers(JPEG_BLOCK + 1))) if shifted else (0, 0)
        return degraded[dy : dy + p, dx : dx + p], region[dy : dy + p, dx : dx + p]


class SampleError(ValueError):
    """A training sample that its files cannot make (`TrainingPatches.__getitem__` names them): the data's fault,
    for the run to stop on in one line (`sampler.next_batch`)."""


# --- validation ------------------------------------------------------------------------------------------------


@dataclass
class ValidationImage:
    """A validation pair: float32 model input (h, w, C) in [0, 1] (noise: unclipped), uint8 ground truth
    (h·scale, w·scale, C), and a name."""

    name: str
    lr: np.ndarray
    hr: np.ndarray


def validation_images(
    hr_items: list,
    degradation: Degradation,
    channels: int,
    seed: int,
    lr_items: list | None = None,
    shard: tuple[int, int] = (0, 1),
) -> list[ValidationImage]:
    """Decode and degrade the validation set once, deterministically (image i uses `rng((seed, i))`); `shard`
    (k, n): only the images i with i mod n = k, each as in the whole set. Unreadable and too small images are
    skipped with a warning: the list may be empty.

    Ground truths are cropped to a multiple of the scale from the top-left (the benchmark convention), so
    bicubic inputs equal the standard `LR_bicubic` files.
    """
    images = []
    scale = degradation.scale
    for i, item in enumerate(hr_items):
        if i % shard[1] != shard[0]:
            continue
        try:
            hr = decode_image(item, channels)
        except DECODE_ERRORS as err:
            logger.warning(f"skipping unreadable validation image {shown_name(item_name(item))}: {err}")
            continue
        try:
            lr = decode_image(lr_items[i], channels) if lr_items is not None else None
        except DECODE_ERRORS as err:
            logger.warning(
                f"skipping validation image {shown_name(item_name(item))}: its LR image {shown_path(lr_items[i])}: "
                f"{err}"
            )
            continue
        h, w = hr.shape[:2]
        # Cropped to whole LR pixels, nothing would be left inside the scored border (scale pixels).
        if min(h - h % scale, w - w % scale) <= 2 * scale:
            logger.warning(f"skipping validation image {shown_name(item_name(item))}: {h}×{w} is too small at ×{scale}")
            continue
        if lr is None:
            hr = hr[: h - h % scale, : w - w % scale]
            lr = degradation(hr, np.random.default_rng((seed, i)))
        else:
            hr, lr = common_area(hr, lr, scale)
            lr = lr.astype(np.float32) / 255.0
        images.append(ValidationImage(item_name(item), lr, hr))
    return images


# --- what a training run reads ----------------------------------------------------------------------------------


def training_degradation(cfg: TrainingConfig, scale: int, val: bool = False) -> Degradation:
    """The training degradation (`val`: its validation setting, the middle of any random range), with the level its
    kind reads (`data.noise_sigma` / `data.jpeg_quality`; the others are null)."""
    d = cfg.data
    if d.degradation not in LEVELS:
        return Degradation(d.degradation, scale)
    level = LEVELS[d.degradation]
    value = getattr(d, level.field)
    if val:
        value = validation_level(d.degradation, value, getattr(d, f"val_{level.field}"))
    return Degradation(d.degradation, scale, **{level.field: value})


def build_dataset(cfg: TrainingConfig, config: Any) -> TrainingPatches:
    """The training patches of `data.train` (checked to be readable; files that cannot be opened, images smaller
    than a patch and a `val/` folder trained on, said by the main process before the run)."""
    d, channels, scale = cfg.data, config.num_channels, config.upscale
    check_patch_size(d.patch_size, config.window_size)
    if d.val is not None:  # before the images are read
        validation_degradation(cfg, scale)
    notes, cropped = [], []
    hr_items, hr_headers, lr_items, lr_headers = training_sources(d, scale, notes, cropped)
    if d.val is not None:
        val_items = config_images("data.val", d.val, d.val_split, d.cache_dir)[: d.val_max_images]
        check_not_trained_on(hr_items, val_items)
    check_readable(hr_items, channels, "data.train")
    check_colour(hr_items, channels, "data.train")
    unreadable, reports = header_notes(hr_items, hr_headers, lr_items, lr_headers, d.patch_size * scale, "data.train")
    for line in [*notes, *reports] if is_main_process() else ():
        if line is not None:
            logger.warning(line)
    _said(cropped)
    degradation = training_degradation(cfg, scale)
    args = (hr_items, d.patch_size, degradation, channels, cfg.train.seed, lr_items, d.flip, d.rot90, unreadable)
    return TrainingPatches(*args, sharpen_target=d.sharpen_target, keep_plain_target=cfg.gan.enabled)


def build_validation(cfg: TrainingConfig, config: Any, shard: tuple[int, int] = (0, 1)) -> list[ValidationImage]:
    """The validation images of `data.val`, degraded as the training data (its validation setting); `shard` (k, n):
    the share of process k of n (`validation_images`)."""
    d, channels, scale = cfg.data, config.num_channels, config.upscale
    val_hr = config_images("data.val", d.val, d.val_split, d.cache_dir)[: d.val_max_images]
    check_readable(val_hr, channels, "data.val")  # else each image is a warning, then a vague error
    cropped: list[str] = []
    val_lr = (
        pair_lr_images(val_hr, d.val_lr, scale, d.val_split, d.cache_dir, "data.val_lr", cropped) if d.val_lr else None
    )
    _said(cropped)
    return validation_images(val_hr, validation_degradation(cfg, scale), channels, cfg.train.seed, val_lr, shard)


def _said(notes: list[str]) -> None:
    """Log `notes` (pairs cropped to fit: `pair_lr_images`) once, from the main process: what a run does as asked."""
    for line in notes if is_main_process() else ():
        logger.info(line)


def validation_degradation(cfg: TrainingConfig, scale: int) -> Degradation:
    """How validation inputs are made from `data.val` (where `data.val_lr` gives none): the training degradation at its
    validation level, and for 'paired' training bicubic downscaling, which a ×1 model has none of: refused, naming
    what to give instead (it failed in `Degradation`'s words, about a bicubic degradation never asked for)."""
    d = cfg.data
    if d.degradation != "paired" or d.val_lr:
        return training_degradation(cfg, scale, val=True)
    if scale == 1:
        raise ValueError(
            "data.val: a ×1 model trained on paired images is validated on pairs too: give data.val_lr (the inputs "
            "of data.val's images, paired by file name), or pass --data.val null"
        )
    return Degradation("bicubic", scale)

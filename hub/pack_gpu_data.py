"""Pack what a GPU lease needs beside the working tree (docs/training.md, "GPU leases"):

    python hub/pack_gpu_data.py            # → gpu_data/ (training images + Set5 HR), gpu_lr/ and gpu_wheels/

gpu_data/ holds ../shared/trainsets' DIV2K_train_HR_crops128 (re-encoded as lossless WebP: the same pixels, a
third smaller than PNG), then as many BSDS500_train and BSDS500_test JPEGs (copied as they are; the Berkeley
"BSD400", without the B100 / BSD68 test images) as fit under --max-mb, plus testsets/Set5/HR as the validation set.
No test set is trained on. The cap leaves room in the lease's 64 MiB for the working tree (~8 MB, and up to
~9.4 MB of committed lease state, hub/lease_state/) and the wheels (2.4 MB); a returned checkpoint (~6.5 MB) goes
along where it still fits (`gpu_lease.py plan`; docs/training.md, "GPU leases").

gpu_lr/ holds the bicubic ×4 LR images of the training images, for gpu_sr_x4's paired data. It is
not carried (there is no room): `gpu_lease.py run` makes it on the lease machine (`--lr-only`), in seconds.

gpu_wheels/ holds what the lease machine lacks (it has torch, transformers 5.17, accelerate, PyYAML, ...): a
transformers wheel with `transformers/models/*` dropped except the modules its core imports (13.5 MB → 2.2 MB; this
package needs ≥ 5.18), and the pure-Python jsonargparse and docstring-parser wheels (the trainer's config parser) at
the versions installed here. The wheels are checked here by installing them alone into a folder, importing swinir_hf
and saving / loading a model with them.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
# Model folders that transformers' own modules import (the Auto classes and pipelines); found by trial imports.
KEEP_MODELS = ("auto", "encoder_decoder")
# The training sets gpu_sr_x4 reads as `paired` data, and the scale (at x2 reading an LR image cost as much as
# resizing the patch: benchmarks/training_data.py).
LR_SETS = ("DIV2K_train_HR_crops128", "BSDS500_train", "BSDS500_test")
# The BSDS500 sets, in the order they fill what the DIV2K crops leave of --max-mb.
BSDS_SETS = ("BSDS500_train", "BSDS500_test")
LR_SCALES = (4,)
# The trainer's config parser and the parser of its help texts: pure Python, not on the lease machine.
PURE_WHEELS = ("jsonargparse", "docstring-parser")
WHEEL_CHECK = """
import tempfile
import transformers
from swinir_hf import SwinIRConfig, SwinIRForImageRestoration, SwinIRImageProcessor
from swinir_hf import train  # noqa: F401
from transformers import AutoImageProcessor, AutoModelForImageToImage
folder = tempfile.mkdtemp()
SwinIRForImageRestoration(SwinIRConfig.from_preset("lightweight_sr", 2)).save_pretrained(folder)
SwinIRImageProcessor().save_pretrained(folder)
AutoModelForImageToImage.from_pretrained(folder), AutoImageProcessor.from_pretrained(folder)
print(transformers.__version__)
"""


def folder_size(folder: Path) -> int:
    """Bytes of all files under `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def to_webp(source: Path, target: Path) -> None:
    """Re-encode an image as lossless WebP (checked pixel-exact)."""
    with Image.open(source) as image:
        rgb = image.convert("RGB")
    rgb.save(target, "WEBP", lossless=True, quality=80, method=4)
    with Image.open(target) as back:
        if back.convert("RGB").tobytes() != rgb.tobytes():
            raise RuntimeError(f"lossless WebP changed the pixels of {source}")


def pack_images(shared: Path, out: Path, max_bytes: int, limit: int | None) -> None:
    """Write out/{DIV2K_train_HR_crops128, BSDS500_train, BSDS500_test, Set5_HR}; BSDS images only while under
    `max_bytes`."""
    if out.exists():
        shutil.rmtree(out)
    sets = {name: out / name for name in ("DIV2K_train_HR_crops128", *BSDS_SETS, "Set5_HR")}
    for folder in sets.values():
        folder.mkdir(parents=True)
    for src in sorted((shared / "testsets/Set5/HR").glob("*.png"))[:limit]:
        shutil.copy2(src, sets["Set5_HR"] / src.name)
    for src in sorted((shared / "trainsets/DIV2K_train_HR_crops128").glob("*.png"))[:limit]:
        to_webp(src, sets["DIV2K_train_HR_crops128"] / f"{src.stem}.webp")
    used = folder_size(out)
    bsds = [src for name in BSDS_SETS for src in sorted((shared / "trainsets" / name).glob("*.jpg"))[:limit]]
    for src in bsds:
        if used + src.stat().st_size > max_bytes:
            break
        shutil.copy2(src, sets[src.parent.name] / src.name)
        used += src.stat().st_size
    for name, folder in sets.items():
        print(f"{out.name}/{name}: {len(list(folder.iterdir()))} images, {folder_size(folder) / 1e6:.1f} MB")
        if not any(folder.iterdir()):  # the gpu_* configs read every set: a trainer would refuse the empty one
            raise SystemExit(f"error: --max-mb {max_bytes / 1e6:g} leaves no room for {name} (the configs train on it)")
    print(f"{out}: {folder_size(out) / 1e6:.1f} MB in all (cap {max_bytes / 1e6:.1f} MB)")


def _readable(path: Path) -> bool:
    """Whether `path` is an image that decodes whole (not one cut short by an interrupted write)."""
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except (OSError, SyntaxError, ValueError):  # PIL's errors for a missing, truncated or broken file
        return False


def _write_lr(job: tuple[Path, Path, int]) -> bool:
    """One bicubic LR image (MATLAB `imresize`, as the `bicubic` degradation), as lossless WebP, unless a whole one
    is there; True if it was made. Written atomically: an interrupted run leaves no LR image cut short for a trainer
    to read (and a killed one's temporary file goes at the next write into that folder)."""
    from swinir_hf.degradations.synthetic import bicubic_downscale
    from swinir_hf.storage.atomic_writes import written_atomically
    from swinir_hf.training.images import decode_image

    source, target, scale = job
    if _readable(target):
        return False
    with written_atomically(target) as tmp:
        Image.fromarray(bicubic_downscale(decode_image(str(source), 3), scale)).save(tmp, "WEBP", lossless=True)
    return True


def make_lr_sets(data: Path, out: Path, scales: tuple[int, ...] = LR_SCALES) -> None:
    """out/{SET}_x{scale}/: the bicubic LR image of every training image in data/{SET} (same stems), for the
    bicubic configs' `paired` data: a training sample then costs a crop instead of a resize. Whole-image LR, as
    the paper's DIV2K LR files; an image already there is kept if it decodes whole, else made again. Cheap enough
    (seconds) to make on the lease machine rather than carry."""
    jobs = []
    for name in LR_SETS:
        for scale in scales:
            folder = out / f"{name}_x{scale}"
            folder.mkdir(parents=True, exist_ok=True)
            sources = sorted(p for p in (data / name).iterdir() if p.is_file())
            jobs += [(src, folder / f"{src.stem}.webp", scale) for src in sources]
    with multiprocessing.Pool(max(1, min(os.cpu_count() or 1, 16))) as pool:
        made = sum(pool.map(_write_lr, jobs, chunksize=16))
    print(f"{out}: {made} LR images made, {len(jobs) - made} kept ({folder_size(out) / 1e6:.1f} MB in all)")


def slim_wheel(source: Path, target: Path) -> None:
    """Copy a transformers wheel without the model folders outside KEEP_MODELS (RECORD rewritten to match)."""

    def keep(name: str) -> bool:
        parts = name.split("/")
        return not (len(parts) > 3 and parts[:2] == ["transformers", "models"] and parts[2] not in KEEP_MODELS)

    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if not keep(info.filename):
                continue
            data = zin.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = [line for line in data.decode().splitlines() if keep(line.split(",")[0])]
                data = ("\n".join(lines) + "\n").encode()
            zout.writestr(info, data)


def check_wheels(folder: Path) -> str:
    """Install the wheels in `folder` alone into a temporary folder and import / save / load with them; returns the
    transformers version."""
    with tempfile.TemporaryDirectory() as site:
        pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
        subprocess.run([*pip, "--target", site, *map(str, sorted(folder.glob("*.whl")))], check=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([site, str(REPO)])}
        done = subprocess.run([sys.executable, "-c", WHEEL_CHECK], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the carried wheels do not work:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def pack_wheels(version: str, out: Path) -> None:
    """Download transformers==version, slimmed, and the installed jsonargparse and docstring-parser (no
    dependencies: the lease machine has them) into `out`, and check them."""
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([*pip, "-d", tmp, f"transformers=={version}"], check=True)
        (full,) = Path(tmp).glob("transformers-*.whl")
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        slim_wheel(full, out / full.name)
        size = full.stat().st_size
    print(f"{out / full.name}: {(out / full.name).stat().st_size / 1e6:.1f} MB (full wheel {size / 1e6:.1f} MB)")
    pure = [f"{name}=={importlib.metadata.version(name)}" for name in PURE_WHEELS]
    subprocess.run([*pip, "-d", str(out), *pure], check=True)
    print(f"{out}: {', '.join(p.name for p in sorted(out.glob('*.whl')))}; works: {check_wheels(out)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared", help="folder holding trainsets/")
    parser.add_argument("--out", type=Path, default=REPO / "gpu_data", help="the packed image folder (git-ignored)")
    parser.add_argument("--max-mb", type=float, default=46.0, help="cap on the packed images, in MB (1e6 bytes)")
    parser.add_argument("--limit", type=int, help="at most N images per set (tests)")
    parser.add_argument("--wheels", type=Path, default=REPO / "gpu_wheels", help="the wheel folder (git-ignored)")
    parser.add_argument("--transformers", default="5.24.0", help="transformers version of the wheel")
    parser.add_argument("--no-wheel", action="store_true", help="pack the images only (no gpu_wheels/)")
    parser.add_argument("--lr", type=Path, help="LR folder (default: gpu_lr beside --out; not carried)")
    parser.add_argument("--lr-only", action="store_true", help="only make the LR images of an existing --out")
    args = parser.parse_args(argv)
    lr = args.lr or args.out.parent / "gpu_lr"
    if args.lr_only:
        make_lr_sets(args.out, lr)
        return 0
    pack_images(args.shared, args.out, int(args.max_mb * 1e6), args.limit)
    if lr.exists():
        shutil.rmtree(lr)  # made from the images just packed
    make_lr_sets(args.out, lr)
    if not args.no_wheel:
        pack_wheels(args.transformers, args.wheels)
    return 0


if __name__ == "__main__":
    sys.exit(main())

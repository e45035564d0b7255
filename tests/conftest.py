"""Shared test fixtures. Tests that need ../shared fail (not skip) when it is missing and CI=true."""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import random
import shutil
import signal
import socket
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

# One intra-op thread for the tests and the processes they start, unless OMP_NUM_THREADS says otherwise: their
# models are tiny, and torch's second OpenMP thread, spinning between ops, fought every other thread and process
# of a run for the CI's 2 cores (the in-process training tests took 4-10 times longer on a shared machine; a
# GPU lease's dry run starts five trainers at once), and the suite runs on one xdist worker per core. Tests of
# thread counts set their own. Set here, before xdist starts its workers, so that they inherit it.
if "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

# The browser tests' server and Chromium, one of each per run (per xdist worker) for all their modules.
pytest_plugins = ["browser_helpers"]

SHARED = Path(os.environ.get("SWINIR_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))

# One CPU attention kernel for every test and the processes they start, so that pixels compared across processes
# are computed alike (each process would otherwise time the two kernels itself; see cpu_attention_kernel). The
# timing and both kernels have tests of their own.
os.environ.setdefault("SWINIR_CPU_ATTENTION", "matmul")

# What `accelerate launch --mixed_precision` (or `accelerate config`) hands its processes: set in the shell that
# runs the tests, `restore` and `eval` would refuse it in every test; the tests of that set it themselves.
os.environ.pop("ACCELERATE_MIXED_PRECISION", None)

# Ctrl-C as in a terminal, for this process and those it starts: a run started in the background by a script
# (`pytest &`) inherits SIGINT ignored, and the tests of what a Ctrl-C does would see nothing happen.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# Variables that put one of Hugging Face's caches elsewhere than under HF_HOME: unset, so that HF_HOME holds them all.
HF_CACHE_VARIABLES = (
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_ASSETS_CACHE",
    "HF_XET_CACHE",
    "HF_DATASETS_CACHE",
    "HF_MODULES_CACHE",
    "TRANSFORMERS_CACHE",
    "HF_TOKEN_PATH",
    "HF_STORED_TOKENS_PATH",
)


def pytest_configure(config: pytest.Config) -> None:
    """Hugging Face's caches (HF_HOME), torch's compile caches and the temporary folder (TMPDIR) of this process's
    own, for its tests and the processes they start, removed at its end: each xdist worker gets its own, as its
    configure runs in it.

    Not the user's ~/.cache/huggingface and /tmp/torchinductor_<user>, which every worker shared: transformers copies
    a folder's remote code into its module cache under the folder's name (not atomically: two workers loading
    folders of one name could import the other's half-written copy), the tests left it and the datasets cache
    growing, and `accelerate launch` read the user's own default_config.yaml. Set here, before test modules import
    huggingface_hub, transformers, datasets or accelerate, which read these once."""
    # beside the controller's, not inside it (a worker inherits its TMPDIR): nested, Chromium's socket path in it
    # passed the 107 bytes a Unix socket's name may take, and the browser tests could not start it
    root = os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
    home = Path(tempfile.mkdtemp(prefix=f"swinir-tests-{os.getpid()}-", dir=root))
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))
    for name in HF_CACHE_VARIABLES:
        os.environ.pop(name, None)
    os.environ["HF_HOME"] = str(home / "huggingface")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(home / "torchinductor")
    os.environ["TRITON_CACHE_DIR"] = str(home / "triton")
    _own_temp_folder(home / "tmp")


def _own_temp_folder(temp: Path) -> None:
    """`temp` as the temporary folder of this process and those it starts (TMPDIR, `tempfile`'s), in the folder
    pytest_configure removes: `accelerate launch` / torchrun leave a `torchelastic_*` folder in it for every launch
    (their temporary files are removed by nobody), hundreds in /tmp after a few runs of the suite. `tmp_path` stays
    where pytest keeps it (the last 3 runs' under /tmp/pytest-of-USER), for a failed test's files to be read."""
    temp.mkdir()
    os.environ["TMPDIR"] = str(temp)
    tempfile.tempdir = None  # read TMPDIR anew (`gettempdir` caches the folder it chose)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (pyproject's addopts): one worker per core this process may use, at most 2, which is what the
    suite's timed multi-process tests are checked under (xdist's own count is physical cores, 1 on a 2-thread
    machine). PYTEST_XDIST_AUTO_NUM_WORKERS still decides where it is set; `-n 0` runs in this process."""
    if "PYTEST_XDIST_AUTO_NUM_WORKERS" in os.environ:
        return None  # xdist's own hook reads it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(2, cores)


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ../shared folder beside the repo."""
    if not SHARED.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED} is missing: CI must have ../shared beside the repo")
        pytest.skip(f"{SHARED} is missing")
    return SHARED


@pytest.fixture(scope="session")
def constraint_pins():
    """Reads the repo's constraints.txt: `constraint_pins(python_version)` → {canonical name: pinned version} for the
    pins whose environment marker holds on that Python ("3.10"; None: the running one). Skips outside a checkout."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    path = Path(__file__).resolve().parents[1] / "constraints.txt"
    if not path.is_file():
        pytest.skip(f"{path} is missing: not a checkout")

    def pins(python_version: str | None = None) -> dict[str, str]:
        env = {"python_version": python_version, "python_full_version": f"{python_version}.0"} if python_version else {}
        found = {}
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                req = Requirement(line)
                if req.marker is None or req.marker.evaluate(env):
                    found[canonicalize_name(req.name)] = str(req.specifier).removeprefix("==")
        return found

    return pins


@pytest.fixture(scope="session")
def wait_until():
    """`wait_until(condition, seconds, what)`: polls `condition()` until it is true, and fails naming `what` once
    `seconds` have passed. A polling loop without a deadline hung the suite, with no message, until CI's job limit
    whenever the thread or process it waited on had died or stalled."""

    def wait(condition: Callable[[], object], seconds: float, what: str, poll: float = 0.01) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not after {seconds:g} s")
            time.sleep(poll)

    return wait


# Ports a server of a test may listen on: a block below the kernel's ephemeral range per xdist worker.
PORTS_PER_WORKER = 400
RESERVED_PORTS = {29500}  # accelerate's default rendezvous port, which a launch without --main_process_port takes


def port_block(worker: str | None = None) -> range:
    """The ports `free_port` hands out in the xdist worker `worker` ("gw1"; default: this one, gw0 without xdist)."""
    worker = worker or os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    low = int(ephemeral.read_text().split()[0]) if ephemeral.is_file() else 32768
    top = low - PORTS_PER_WORKER * int(worker.removeprefix("gw"))
    return range(max(top - PORTS_PER_WORKER, 1024), max(top, 1024))


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """`free_port()`: a port nothing listens on, for a server the test starts afterwards (or a URL that must be
    refused). From `port_block()`, this worker's alone, each call the next port: one that `bind(0)` picked and
    released was the kernel's to hand out again, and another worker's test binding port 0 meanwhile (accelerate's
    and torch's rendezvous, gloo, a fake Hub) could take it before the server listened on it (EADDRINUSE)."""
    block = port_block()
    if not block:  # no room below the ephemeral ports: the kernel's pick, as before

        def any_port() -> int:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                return probe.getsockname()[1]

        return any_port
    # A random start: a second session on this machine (another checkout's) likely starts elsewhere in the block.
    start = random.SystemRandom().randrange(len(block))
    ports = itertools.cycle([*block[start:], *block[:start]])

    def next_free() -> int:
        for port in itertools.islice(ports, len(block)):
            if port in RESERVED_PORTS:
                continue
            with socket.socket() as probe:  # no SO_REUSEADDR: a port in TIME_WAIT is passed over too
                try:
                    probe.bind(("", port))
                except OSError:
                    continue
            return port
        raise AssertionError(f"no free port in {block}")

    return next_free


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def tqdm_environment(monkeypatch):
    """`tqdm_environment(disable=True)`: tqdm as a process started with `TQDM_DISABLE=1` has it. tqdm reads its
    `TQDM_*` variables once, as it is imported, into its constructor's defaults: set here the same way."""
    from functools import partialmethod

    from tqdm.std import tqdm

    def set_defaults(**defaults) -> None:
        init = vars(tqdm)["__init__"]
        monkeypatch.setattr(tqdm, "__init__", partialmethod(init.func, **{**init.keywords, **defaults}))

    return set_defaults


@pytest.fixture
def clock(monkeypatch):
    """The progress lines' clock (`progress_lines._now`), 10 s further on at each reading: → its readings."""
    from swinir_hf import progress_lines

    readings: list[float] = []

    def now() -> float:
        readings.append(10.0 * len(readings))
        return readings[-1]

    monkeypatch.setattr(progress_lines, "_now", now)
    return readings


@pytest.fixture(autouse=True)
def _warnings_said_anew(monkeypatch) -> None:
    """Each test starts as a new process does, with no warning said yet (`console.warn_once`)."""
    from swinir_hf import console

    monkeypatch.setattr(console, "_said_once", set())


@pytest.fixture
def unclosed_files(tmp_path):
    """`with unclosed_files() as unclosed:` → the ResourceWarnings ("unclosed file ...") of files under `tmp_path`
    that the block left to the garbage collector, collected at its end. Earlier tests' garbage is collected before
    the block starts, and warnings of other files are not counted: what an earlier test leaked failed these
    checks whenever no other test had happened to collect it in between."""

    @contextlib.contextmanager
    def recording():
        gc.collect()
        unclosed: list[str] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield unclosed
            gc.collect()
        messages = (str(w.message) for w in caught if issubclass(w.category, ResourceWarning))
        unclosed += [message for message in messages if str(tmp_path) in message]

    return recording


@pytest.fixture(scope="session")
def tiny_config():
    """Makes SwinIR configs small enough for unit tests (~40k parameters): `tiny_config(**overrides)`."""
    return make_tiny_config


def make_tiny_config(**overrides):
    from swinir_hf import SwinIRConfig

    fields = dict(
        embed_dim=16,
        depths=[2],
        num_heads=[2],
        window_size=4,
        image_size=16,
        upscale=2,
        upsampler="pixelshuffledirect",
        num_feat=8,
    )
    fields.update(overrides)
    return SwinIRConfig(**fields)


# --- training runs ---------------------------------------------------------------------------------------------

TINY_MODEL = {"embed_dim": 16, "depths": [2], "num_heads": [2], "window_size": 4, "image_size": 16, "num_feat": 8}


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> Path:
    """Eight smooth 48×48 RGB training images."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(8):
        small = (rng.random((6, 6, 3)) * 255).astype(np.uint8)
        Image.fromarray(small).resize((48, 48), Image.BICUBIC).save(folder / f"{i}.png")
    return folder


@pytest.fixture
def stop_restoring(monkeypatch):
    """`SwinIRRestorer.restore_images` that records the images it is given and raises KeyboardInterrupt (a Ctrl-C)
    when their count reaches one of the stop counts: → (images seen, stop counts), lists the test edits."""
    from swinir_hf import SwinIRRestorer

    seen, stop_at, call = [], [], SwinIRRestorer.restore_images

    def restore_images(self, images, *args, **kwargs):
        seen.extend(images)
        if len(seen) in stop_at:
            raise KeyboardInterrupt
        return call(self, images, *args, **kwargs)

    monkeypatch.setattr(SwinIRRestorer, "restore_images", restore_images)
    return seen, stop_at


@pytest.fixture(scope="session")
def tiny_run():
    """Makes the raw config of a 4-step run of a tiny ×2 model: `tiny_run(images, out, train={...}, ...)`."""
    return make_tiny_run


def validation_copy(images: Path) -> Path:
    """The first two files of `images`, mirrored, beside it: training refuses to validate on its training folder or
    on copies of its images. Never beside a folder of ../shared, which every worker and checkout reads: the fixtures
    gained a folder, which one worker could find while another was still filling it."""
    val = images.with_name(f"{images.name}-val")
    if not images.is_dir():  # a test of a missing folder: nothing to copy
        return images
    if images.resolve().is_relative_to(SHARED.resolve()):
        raise AssertionError(f"{images} is in {SHARED}: give the run a validation folder of its own (data.val)")
    if not val.is_dir():
        val.mkdir()
        for path in sorted(p for p in images.iterdir() if p.is_file())[:2]:
            with Image.open(path) as image:
                image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(val / path.name)
    return val


def make_tiny_run(images: Path, out: Path, **sections) -> dict:
    data = sections.get("data", {})  # a val of the test's, None (no validation) included: no copy made
    val = data["val"] if "val" in data else str(validation_copy(images))
    raw = {
        "model": {"preset": "lightweight_sr", "scale": 2, "config": dict(TINY_MODEL)},
        "data": {"train": [str(images)], "val": val, "val_max_images": 2, "patch_size": 8, "num_workers": 0},
        "train": {
            "output_dir": str(out),
            "max_steps": 4,
            "batch_size": 4,
            "learning_rate": 2e-3,
            "ema_decay": 0.0,
            "checkpoint_every": 0,
            "validate_every": 0,
            "log_every": 1,
            "report_to": "none",
        },
    }
    for name, values in sections.items():
        raw[name].update(values)
    return raw


@pytest.fixture(scope="session")
def train_cli():
    """Runs `python -m swinir_hf.train` in-process on a raw config (written beside its output folder) with extra
    arguments; returns the exit status: `train_cli(raw, "--resume", "latest")`."""
    from swinir_hf.training.cli import main

    def run(raw: dict, *args: str) -> int:
        path = Path(raw["train"]["output_dir"] + ".yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(raw))
        return main(["--config", str(path), *args])

    return run


# --- release layouts -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def layout_state_dict():
    """Makes a state dict of a release's layout: `layout_state_dict(tensors, image_size, window_size)`, meta
    tensors of the release's shapes; the derived buffers get their true values (they are checked)."""
    from swinir_hf.models.windows_swinir import relative_position_index, shift_window_mask

    def make(tensors: dict, image_size: int, window_size: int) -> dict[str, torch.Tensor]:
        mask = shift_window_mask(image_size, image_size, window_size, window_size // 2)
        state = {}
        for key, (shape, dtype) in tensors.items():
            if key.endswith(".relative_position_index"):
                state[key] = relative_position_index(window_size)
            elif key.endswith(".attn_mask"):
                state[key] = mask
            else:
                state[key] = torch.empty(shape, dtype=getattr(torch, dtype), device="meta")
            assert list(state[key].shape) == shape, key
        return state

    return make


@pytest.fixture
def zip_bomb(monkeypatch):
    """Makes a decompression bomb of a torch file: `zip_bomb(state, path)` torch.saves `state` plus 1 MiB of zeros,
    with its zip entries deflated (which torch.load unpacks whole), and returns (declared bytes, file size). The
    refusal's 64 MiB floor is lifted for the test, so a small file shows what a large one does."""
    import zipfile

    from swinir_hf.models import weight_files_swinir

    monkeypatch.setattr(weight_files_swinir, "_INFLATED_FLOOR", 0)

    def make(state: dict, path: Path) -> tuple[int, int]:
        plain = path.with_name(path.name + ".plain")
        torch.save({**state, "padding": torch.zeros(2**20, dtype=torch.uint8)}, plain)
        with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info))
        plain.unlink()
        with zipfile.ZipFile(path) as archive:
            return sum(info.file_size for info in archive.infolist()), path.stat().st_size

    return make

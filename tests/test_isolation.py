"""What tests running side by side (two xdist workers, or another checkout's run) must not share: caches and ports
(tests/conftest.py gives each worker its own)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_tiny_run, port_block
from PIL import Image


def test_hugging_face_and_torch_caches_are_this_processs_own(tmp_path):
    """Every cache the tests (and the processes they start) write: under a folder of this worker's, not the user's
    ~/.cache/huggingface or /tmp/torchinductor_<user>, which the workers shared."""
    import accelerate.commands.config.config_args as accelerate_config
    import datasets
    import huggingface_hub.constants
    import transformers.utils

    home = Path(os.environ["HF_HOME"])
    assert home.parent.name.startswith(f"swinir-tests-{os.getpid()}-") and home.parent.is_dir()
    assert home != Path("~/.cache/huggingface").expanduser()
    cached = {
        "hub": huggingface_hub.constants.HF_HUB_CACHE,
        "token": huggingface_hub.constants.HF_TOKEN_PATH,
        "modules": transformers.utils.HF_MODULES_CACHE,
        "datasets": datasets.config.HF_DATASETS_CACHE,
        "accelerate config": accelerate_config.default_config_file,
    }
    outside = {what: path for what, path in cached.items() if not Path(path).is_relative_to(home)}
    assert outside == {}
    for name in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR"):
        assert Path(os.environ[name]).parent == home.parent, name
    code = "from huggingface_hub.constants import HF_HUB_CACHE; print(HF_HUB_CACHE)"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert Path(child.stdout.strip()).is_relative_to(home)  # a started process: the same


def test_temporary_files_go_to_this_processs_own_folder_which_pytest_removes(tmp_path):
    """The temporary folder of the tests and the processes they start (`accelerate launch` / torchrun's
    `torchelastic_*`, one a launch, left behind) is this worker's, removed with its caches: /tmp gained hundreds."""
    import tempfile

    home = Path(os.environ["HF_HOME"]).parent
    assert Path(os.environ["TMPDIR"]) == home / "tmp" and Path(tempfile.gettempdir()) == home / "tmp"
    assert Path(tempfile.mkdtemp(prefix="torchelastic_")).parent == home / "tmp"
    code = "import tempfile; print(tempfile.gettempdir())"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert Path(child.stdout.strip()) == home / "tmp"  # a started process: the same
    assert not tmp_path.is_relative_to(home)  # pytest's own, kept after the run for a failed test's files
    # in the temporary folder the run started with, not in the xdist controller's own (a Unix socket's path there
    # is short enough: Chromium's SingletonSocket)
    assert home.parent == Path(os.environ["PYTEST_DEBUG_TEMPROOT"]) and "swinir-tests-" not in str(home.parent)


def test_free_ports_are_this_workers_own_and_none_the_kernel_hands_out(free_port):
    """A port a test's server binds later: never one `bind(0)` (another worker's rendezvous) or an outgoing
    connection can be given meanwhile, nor one another worker's `free_port` gives."""
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    block = port_block()
    assert block == port_block(os.environ.get("PYTEST_XDIST_WORKER", "gw0")) and len(block) == 400
    assert block.stop <= low and not set(port_block("gw0")) & set(port_block("gw1"))
    ports = [free_port() for _ in range(3)]
    assert len(set(ports)) == 3 and all(port in block and not low <= port <= high for port in ports)
    with socket.socket() as server:
        server.bind(("127.0.0.1", ports[0]))  # free as promised


def test_a_run_given_its_validation_folder_copies_nothing_beside_its_images(tmp_path, shared):
    """`tiny_run` copied validation images beside the training folder even when the test gave its own: beside
    ../shared's trainsets (every worker's and checkout's), where two workers met; such a copy is now refused."""
    photos = shared / "trainsets" / "DIV2K_train_HR_crops128"
    raw = make_tiny_run(photos, tmp_path / "run", data={"val": str(tmp_path / "val")})
    assert raw["data"]["val"] == str(tmp_path / "val") and raw["data"]["train"] == [str(photos)]
    mine = tmp_path / "photos"
    mine.mkdir()
    Image.new("RGB", (8, 8)).save(mine / "a.png")
    assert make_tiny_run(mine, tmp_path / "run", data={"val": str(tmp_path / "val")})["data"]["val"] == str(
        tmp_path / "val"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]  # no photos-val
    with pytest.raises(AssertionError, match=r"is in .*: give the run a validation folder of its own \(data\.val\)$"):
        make_tiny_run(photos, tmp_path / "run")


def test_a_run_without_validation_copies_nothing_beside_its_images(tmp_path, shared):
    """`data.val: None` (no validation) is a folder the test gives too: `tiny_run` still made a copy beside the
    training images, and refused one of ../shared's for it (`is in ...: give the run a validation folder`)."""
    photos = shared / "trainsets" / "DIV2K_train_HR_crops128"
    assert make_tiny_run(photos, tmp_path / "run", data={"val": None})["data"]["val"] is None
    mine = tmp_path / "photos"
    mine.mkdir()
    Image.new("RGB", (8, 8)).save(mine / "a.png")
    assert make_tiny_run(mine, tmp_path / "run", data={"val": None})["data"]["val"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]  # no photos-val

"""The Gradio demo (app.py): its callbacks called directly, and `python app.py` driven through gradio_client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import gradio as gr
import huggingface_hub.constants
import numpy as np
import pytest
from conftest import tiny_config
from PIL import Image

import app
from swinir_hf import SwinIRForImageRestoration
from swinir_hf.image_io import read_image, write_image
from swinir_hf.modeling_swinir import SwinTransformerBlock

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "hub" / "space" / "examples" / "church_x2_downscaled.png"


def save_model(folder: Path, **overrides) -> Path:
    SwinIRForImageRestoration(tiny_config(**overrides)).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny random ×2 model folder (40k parameters)."""
    return save_model(tmp_path_factory.mktemp("models") / "tiny-x2")


@pytest.fixture(scope="module")
def demo(model_dir, tmp_path_factory) -> app.RestorationDemo:
    return app.RestorationDemo(extra_models=[str(model_dir)], defaults_dir=tmp_path_factory.mktemp("no-defaults"))


@pytest.fixture(autouse=True)
def _hub_offline(monkeypatch) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def session(name: str = "test") -> types.SimpleNamespace:
    """Stands in for the gr.Request gradio passes (only its session_hash is read)."""
    return types.SimpleNamespace(session_hash=name)


def run(demo: app.RestorationDemo, path, label: str | None = None, task: str = app.SR, **options):
    """Call the restore callback as the Restore button does."""
    settings = dict(level=None, custom_path="", tile="auto", overlap=32, ensemble=False, precision="auto")
    settings.update(options)
    label = label or demo.labels(task)[0]
    return demo.restore(str(path), task, label, *settings.values(), request=session())


def test_restore_returns_comparison_png_and_sizes(demo, tmp_path):
    (before, after), png, info = run(demo, EXAMPLE)
    with Image.open(EXAMPLE) as source, Image.open(png) as result:
        w, h = source.size
        assert result.size == (2 * w, 2 * h) and result.format == "PNG" and result.mode == "RGB"
        # The download is the full-resolution result itself, the preview its 8-bit view.
        assert np.array_equal(np.asarray(result), np.asarray(after))
    assert before.size == after.size == (2 * w, 2 * h)
    assert f"{w}×{h} RGB 8-bit" in info and f"{2 * w}×{2 * h} RGB 8-bit" in info
    assert Path(png).name == "church_x2_downscaled_swinir.png"


def test_alpha_and_16_bit_are_kept(demo, tmp_path):
    rng = np.random.default_rng(0)
    rgba = tmp_path / "logo.png"
    Image.fromarray(rng.integers(0, 256, (12, 10, 4), dtype=np.uint8), "RGBA").save(rgba)
    grey16 = tmp_path / "scan.png"
    Image.fromarray(rng.integers(0, 65536, (12, 10), dtype=np.uint16)).save(grey16)
    for path, mode in ((rgba, "RGBA"), (grey16, "I;16")):
        (_, after), png, info = run(demo, path)
        with Image.open(png) as result:
            assert (result.size, result.mode) == ((20, 24), mode)
            if mode == "I;16":
                assert np.asarray(result).max() > 255  # really 16-bit data, not 8-bit values in a 16-bit file
        assert after.mode == {"RGBA": "RGBA", "I;16": "L"}[mode]  # the browser preview is 8-bit
        assert f"20×24 {'grey 16-bit' if mode == 'I;16' else 'RGBA 8-bit'}" in info
    colour16 = tmp_path / "photo16.png"
    write_image(colour16, rng.integers(0, 65536, (12, 10, 3), dtype=np.uint16))
    (_, after), png, info = run(demo, colour16)
    result = read_image(png).pixels  # Pillow cannot hold 16-bit colour: a uint16 array
    assert result.dtype == np.uint16 and result.shape == (24, 20, 3) and after.mode == "RGB"
    assert "**Input** 10×12 RGB 16-bit → **output** 20×24 RGB 16-bit" in info


def test_bad_inputs_give_messages_not_tracebacks(demo, tmp_path, model_dir):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(EXAMPLE.read_bytes()[:300])
    for path in (text, truncated):
        with pytest.raises(gr.Error, match="is not an image this demo can read"):
            run(demo, path)
    small = app.RestorationDemo(max_pixels=1000, extra_models=[str(model_dir)], defaults_dir=tmp_path)
    with pytest.raises(gr.Error, match=r"120×100 = 0\.01 megapixels; this demo accepts up to 0\.00"):
        run(small, EXAMPLE)
    with pytest.raises(gr.Error, match="Upload an image first"):
        demo.restore(None, app.SR, demo.labels(app.SR)[0], None, "", "auto", 32, False, "auto", session())
    with pytest.raises(gr.Error, match="Tile size must be"):
        run(demo, EXAMPLE, tile="big")
    with pytest.raises(gr.Error, match="does not exist"):
        run(demo, EXAMPLE, label=app.CUSTOM, custom_path=str(tmp_path / "missing.pth"))
    with pytest.raises(gr.Error, match="float16 is only supported on CUDA"):
        if app.torch.cuda.is_available():
            pytest.skip("float16 runs on CUDA")
        run(demo, EXAMPLE, precision="float16")


def test_hub_models_are_listed_and_fail_fast_offline(demo):
    hub = [e for e in demo.entries if e.on_hub]
    assert len({spec for e in hub for spec in e.specs.values()}) == 31  # every released checkpoint is reachable
    label = demo.labels(app.SR)[1]
    start = time.perf_counter()
    with pytest.raises(gr.Error, match="not in the local Hugging Face cache"):
        run(demo, EXAMPLE, label=label)
    assert time.perf_counter() - start < 10


def test_noise_level_and_quality_pick_the_checkpoint(demo):
    colour_dn = next(e for e in demo.entries if e.task == app.DENOISE and "color" in e.label)
    level, custom = demo.on_model(app.DENOISE, colour_dn.label)
    assert level["visible"] and level["choices"] == [15, 25, 50] and level["value"] == 25
    assert level["label"].startswith("Noise level") and not custom["visible"]
    assert demo.resolve(app.DENOISE, colour_dn.label, 50, None)[0] == "swinir-hf/swinir-denoising-color-sigma50"
    jpeg = next(e for e in demo.entries if e.task == app.JPEG and "color" in e.label)
    assert demo.level_props(app.JPEG, jpeg.label)["choices"] == [10, 20, 30, 40]
    assert demo.resolve(app.JPEG, jpeg.label, 20, None)[0] == "swinir-hf/swinir-jpeg-car-color-q20"
    assert not demo.level_props(app.SR, demo.labels(app.SR)[0])["visible"]
    assert demo.on_model(app.SR, app.CUSTOM)[1]["visible"]
    assert demo.on_task(app.JPEG)["choices"] == demo.labels(app.JPEG) and demo.labels(app.JPEG)[-1] == app.CUSTOM


def test_bundled_defaults_are_discovered_by_task(tmp_path):
    save_model(tmp_path / "sr-x4", upscale=4)
    save_model(tmp_path / "denoise-color", upscale=1, upsampler=None, task="color_dn")
    (tmp_path / "not-a-model").mkdir()
    demo = app.RestorationDemo(defaults_dir=tmp_path)
    bundled = [(e.task, e.label) for e in demo.entries if not e.on_hub]
    assert bundled == [(app.DENOISE, "denoise-color · bundled ×1"), (app.SR, "sr-x4 · bundled ×4")]
    assert demo.first_task() == app.SR and demo.labels(app.SR)[0] == "sr-x4 · bundled ×4"
    assert app.RestorationDemo(defaults_dir=tmp_path / "none").first_task() == app.SR  # no offline model
    (_, after), _, _ = run(demo, EXAMPLE)
    assert after.size == (480, 400)


def test_authors_pth_through_the_path_box(demo, shared):
    pth = shared / "fixtures" / "official_parity" / "lightweight_sr_x2.pth"
    (_, after), _, info = run(demo, EXAMPLE, label=app.CUSTOM, custom_path=f"  {pth}  ")
    assert after.size == (240, 200) and "lightweight_sr_x2.pth" in info


def test_cancel_stops_the_model_within_one_block(demo, model_dir, tmp_path):
    model = demo.models.get(str(model_dir))
    blocks = [m for m in model.modules() if isinstance(m, SwinTransformerBlock)]
    calls: list[float] = []

    def slow_block(module, args, output):
        calls.append(time.perf_counter())
        time.sleep(0.05)

    handles = [b.register_forward_hook(slow_block) for b in blocks]
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(big)
    outcome: list[BaseException] = []

    def job():
        try:
            run(demo, big, tile="16", overlap=0)  # 16 tiles × 2 blocks: ≥ 1.6 s uncancelled
        except gr.Error as err:
            outcome.append(err)

    worker = threading.Thread(target=job)
    try:
        worker.start()
        while len(calls) < 3:
            time.sleep(0.01)
        demo.cancel(session())
        cancelled_at = time.perf_counter()
        worker.join(timeout=10)
    finally:
        for h in handles:
            h.remove()
    assert not worker.is_alive()
    assert [e.message for e in outcome] == ["Cancelled."]
    assert sum(t > cancelled_at for t in calls) <= 1 and len(calls) < 16 * len(blocks)
    assert demo._cancels == {}
    (_, after), _, _ = run(demo, EXAMPLE)  # the next job is not affected
    assert after.size == (240, 200)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_app_py_serves_restore_to_gradio_client(model_dir, tmp_path):
    from gradio_client import Client, handle_file

    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = (tmp_path / "app.log").open("w")
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--model", str(model_dir), "--max-pixels", "20000"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 180  # a loaded 2-core machine can take a minute to import gradio + torch
        while True:
            assert server.poll() is None, (tmp_path / "app.log").read_text()
            try:
                client = Client(url, verbose=False, download_files=str(tmp_path))
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        task, model = app.SR, f"{model_dir.name} · local ×2"
        options = (None, "", "auto", 32, False, "auto")
        slider, png, info = client.predict(handle_file(str(EXAMPLE)), task, model, *options, api_name="/restore")
        with Image.open(png) as result:
            assert result.size == (240, 200)
        assert "**output** 240×200 RGB 8-bit" in info
        assert [Image.open(p["path"] if isinstance(p, dict) else p).size for p in slider] == [(240, 200)] * 2
        big = tmp_path / "big.png"
        Image.new("RGB", (200, 101)).save(big)
        with pytest.raises(Exception, match="accepts up to 0.02"):
            client.predict(handle_file(str(big)), task, model, *options, api_name="/restore")
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def test_build_space_assembles_a_runnable_space(tmp_path):
    from huggingface_hub import metadata_load

    sys.path.insert(0, str(ROOT / "hub"))
    try:
        from build_space import build_space
    finally:
        sys.path.remove(str(ROOT / "hub"))
    out = tmp_path / "space"
    assert build_space(out) == ["README.md", "app.py", "examples", "requirements.txt", "swinir_hf"]
    meta = metadata_load(out / "README.md")
    assert (meta["sdk"], meta["sdk_version"], meta["app_file"]) == ("gradio", gr.__version__, "app.py")
    pins = [line for line in (out / "requirements.txt").read_text().splitlines() if line and line[0] != "#"]
    assert pins and all("==" in line for line in pins)
    assert not list(out.rglob("__pycache__"))
    with pytest.raises(FileExistsError, match="--overwrite"):
        build_space(out)
    (out / "app.py").write_text("stale")
    build_space(out, overwrite=True)
    assert (out / "app.py").read_text() == (ROOT / "app.py").read_text()
    # The Space imports its own copy of the package and finds its examples.
    probe = "import sys, app; print(sys.modules['swinir_hf'].__file__); print(app.EXAMPLES_DIR)"
    lines = subprocess.run([sys.executable, "-c", probe], cwd=out, capture_output=True, text=True, check=True).stdout
    assert lines.split() == [str(out / "swinir_hf" / "__init__.py"), str(out / "examples")]

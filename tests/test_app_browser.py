"""The demo end to end in headless Chromium: load the page, upload, Restore, wait for the result, screenshot.

Needs Debian's `chromium` (`apt-get install -y chromium chromium-driver`); playwright drives it and never
downloads a browser. Skipped without it, except under CI=true where it fails. Set SWINIR_DEMO_SCREENSHOT=PATH to
write the screenshot there (the README's docs/images/demo.png) instead of a temporary folder.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path

import huggingface_hub.constants
import pytest
from PIL import Image

import app

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("SWINIR_CHROMIUM", "/usr/bin/chromium")
# Headless, and nothing that reaches outside this machine.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    if not (Path(CHROMIUM).is_file() and shutil.which(CHROMIUM)):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory, shared):
    """The app on a free localhost port, with the authors' tiny lightweight ×2 parity checkpoint as its model."""
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    pth = shared / "fixtures" / "official_parity" / "lightweight_sr_x2.pth"
    model_dir = tmp_path_factory.mktemp("models") / "lightweight-x2-demo"
    app.load_model(pth).save_pretrained(model_dir)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = app.parse_args(["--port", str(port), "--model", str(model_dir)])
    demo = app.launch(args, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_upload_restore_and_screenshot(chromium, server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url = server
    example = ROOT / "hub" / "space" / "examples" / "church_x2_downscaled.png"
    shot = Path(os.environ.get("SWINIR_DEMO_SCREENSHOT", tmp_path / "demo.png"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            expect(page.get_by_text("SwinIR image restoration").first).to_be_visible(timeout=30_000)
            # A bundled ×2 default, once the package ships one, comes first; else the model given here.
            expect(page.get_by_label("Model")).to_have_value(re.compile(r".* ×2$"))
            page.locator("input[type=file]").first.set_input_files(str(example))
            expect(page.locator("#info")).to_contain_text("Input 120×100 RGB 8-bit", timeout=15_000)
            page.locator("#restore-button").click()
            expect(page.locator("#info")).to_contain_text("output 240×200 RGB 8-bit", timeout=60_000)
            download = page.locator("#download a").first
            expect(download).to_have_attribute("download", "church_x2_downscaled_swinir.png")
            # The comparison shows both images, each at full size.
            slider_images = page.locator("#comparison img")
            expect(slider_images).to_have_count(2)
            sizes = slider_images.evaluate_all("els => els.map(e => [e.naturalWidth, e.naturalHeight])")
            assert sizes == [[240, 200], [240, 200]]
            shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    with Image.open(shot) as image:
        assert image.width == 1280 and image.height >= 600

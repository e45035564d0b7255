"""The browser tests' fixtures (one app server and one Chromium for all of them, in each xdist worker) and the page
helpers they share; `tests/conftest.py` loads the fixtures as a plugin.

Needs Debian's `chromium` (`apt-get install -y chromium`); playwright drives it and never downloads a browser.
Skipped without it, except under CI=true where it fails.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

BROWSER_MARKS = [
    pytest.mark.slow,
    # gradio 6.31's queue statistics use a pandas option pandas 3 deprecates (in the server's threads; named by its
    # message, as pandas 2, which Python 3.10 gets, has no Pandas4Warning class).
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated:DeprecationWarning"),
    # ... and pandas 3.1 deprecates the `copy` keyword they pass (a Pandas4Warning that failed the statistics task).
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "swinir_hf" / "demo" / "examples"
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
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium() -> str:
    if not (Path(CHROMIUM).is_file() and shutil.which(CHROMIUM)):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def server(free_port):
    """The app, offline, on a free localhost port with the bundled models only: one for every browser test of the
    run (of the xdist worker)."""
    # Imported here, not with this module: conftest loads it as a plugin before its pytest_configure gives the
    # process its own HF_HOME, and huggingface_hub reads its cache paths once, on import.
    import huggingface_hub.constants

    import app

    offline = huggingface_hub.constants.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    port = free_port()
    demo = app.launch(app.parse_args(["--port", str(port)]), prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()
    huggingface_hub.constants.HF_HUB_OFFLINE = offline


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def open_page(browser, url: str, viewport: dict):
    from playwright.sync_api import expect

    page = browser.new_page(viewport=viewport)
    page.goto(url)
    expect(page.locator("#restore-button")).to_be_visible(timeout=60_000)
    return page


def upload(page, path: Path, described: str) -> None:
    """Upload `path`; return once the clear's answer and then its own (its line is exactly `described`) are shown: a
    task clicked before it (waited for as "Input", as the last line read) was set back to the old task's scale."""
    from playwright.sync_api import expect

    info = page.locator("#input-info")
    clear = page.locator("#upload").get_by_role("button", name=re.compile("clear", re.IGNORECASE))
    if clear.count():  # a file is there already: remove it to get the drop zone back
        clear.first.click()
        expect(info).to_be_empty(timeout=20_000)
    page.locator("#upload input[type=file]").set_input_files(str(path))
    expect(info).to_have_text(described, timeout=20_000)


def restore_and_wait(page, output: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#restore-button")).to_be_enabled()
    page.locator("#restore-button").click()
    expect(page.locator("#info")).to_contain_text(f"output {output}", timeout=90_000)
    expect(page.locator("#cancel-button")).to_be_disabled()


def choose_clean_image_x2(page) -> None:
    """Clean image ×2 for the 120×100 church upload, each click's answer on the page before the next click, as a user
    sees it: the task's answer brings the ×2 choice and sets ×4; clicked without waiting, the ×2 click was once undone
    and CI's job ran sr-x4."""
    from playwright.sync_api import expect

    plan = page.locator("#plan")
    page.locator("#task").get_by_text("Clean image: enlarge").click()
    expect(plan).to_contain_text("Model: sr-x4 · bundled · 120×100 → 480×400")
    page.locator("#scale").get_by_text("×2").click()
    expect(plan).to_contain_text("Model: sr-x2 · bundled · 120×100 → 240×200")


def slider_sizes(page) -> list[list[int]]:
    images = page.locator("#comparison img")
    images.nth(1).wait_for()
    return images.evaluate_all("els => els.map(e => [e.naturalWidth, e.naturalHeight])")


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where the screenshots go: $SWINIR_DEMO_SCREENSHOTS, else a folder of this run's (a fixed /tmp one was every
    run's: another checkout's run on the machine overwrote the phone screenshot this one then measured)."""
    chosen = os.environ.get("SWINIR_DEMO_SCREENSHOTS")
    return Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "swinir-demo-screenshots"


def shoot(shots: Path, page, name: str, full_page: bool = False) -> Path:
    shots.mkdir(parents=True, exist_ok=True)
    path = shots / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path

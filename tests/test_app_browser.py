"""The demo end to end in headless Chromium, offline, as a user drives it: each task, Cancel, a non-image upload,
and the phone layout. Screenshots of each result go to $SWINIR_DEMO_SCREENSHOTS, else swinir-demo-screenshots in
pytest's temporary folder of the run (kept after it as test artifacts, as pytest keeps its last three).

Needs Debian's `chromium` (`apt-get install -y chromium`); playwright drives it and never downloads a browser.
Skipped without it, except under CI=true where it fails.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
from PIL import Image

import app

pytestmark = [
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


@pytest.fixture(scope="module")
def chromium() -> str:
    if not (Path(CHROMIUM).is_file() and shutil.which(CHROMIUM)):
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="module")
def server(free_port):
    """The app, offline, on a free localhost port with the bundled models only."""
    offline = huggingface_hub.constants.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    port = free_port()
    demo = app.launch(app.parse_args(["--port", str(port)]), prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()
    huggingface_hub.constants.HF_HUB_OFFLINE = offline


@pytest.fixture(scope="module")
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


# Every visible control (and every cell of the examples table) whose box leaves the page's width: what a phone
# user could not see without scrolling sideways, including inside a box that scrolls (the examples table did).
OUTSIDE_WIDTH_JS = """() => {
  const controls = 'button, input, select, textarea, label, [role=radio], [role=radiogroup], [role=listbox], '
    + '[role=option], th, td, .block';
  return [...document.querySelectorAll(controls)].flatMap(el => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') return [];
    if (r.left >= -0.5 && r.right <= window.innerWidth + 0.5) return [];
    const name = (el.id ? '#' + el.id : el.tagName.toLowerCase()) + ' ' + (el.innerText || '').trim().slice(0, 30);
    return [`${name} (${Math.round(r.left)} to ${Math.round(r.right)} px)`];
  });
}"""


def assert_within_width(page) -> None:
    outside = page.evaluate(OUTSIDE_WIDTH_JS)
    assert outside == [], f"beyond the {page.viewport_size['width']} px width: {outside}"


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


def test_each_task_offline(browser, server, shots):
    from playwright.sync_api import expect

    page = open_page(browser, server, DESKTOP)
    task = page.locator("#task")
    # Offline, every task has a bundled model: nothing is marked as needing a download.
    expect(task).to_contain_text("Photo: enlarge")
    expect(task).not_to_contain_text("needs a download")
    # Photo ×4: the real-world model, from the main controls only.
    upload(page, EXAMPLES / "church_x2_downscaled.png", "Input 120×100 RGB 8-bit")
    task.get_by_text("Photo: enlarge").click()
    expect(page.locator("#plan")).to_contain_text("real-sr-x4 · bundled · 120×100 → 480×400")
    restore_and_wait(page, "480×400 RGB 8-bit")
    assert slider_sizes(page) == [[480, 400], [480, 400]]
    shoot(shots, page, "task-photo", full_page=True)

    # JPEG: the blind colour model, at the input's size; the comparison is not called bicubic.
    upload(page, EXAMPLES / "flowers_jpeg15.jpg", "Input 200×160 RGB 8-bit")
    task.get_by_text("JPEG: remove blocks").click()
    expect(page.locator("#plan")).to_contain_text("jpeg-color · bundled · 200×160 → 200×160")
    restore_and_wait(page, "200×160 RGB 8-bit")
    expect(page.locator("#info")).not_to_contain_text("bicubic")
    assert slider_sizes(page) == [[200, 160], [200, 160]]
    shoot(shots, page, "task-jpeg", full_page=True)

    # Clean image ×2, from the main controls only; Restore is on screen without scrolling.
    upload(page, EXAMPLES / "church_x2_downscaled.png", "Input 120×100 RGB 8-bit")
    choose_clean_image_x2(page)
    box = page.locator("#restore-button").bounding_box()
    assert box["y"] + box["height"] <= DESKTOP["height"]
    restore_and_wait(page, "240×200 RGB 8-bit")
    expect(page.locator("#download a").first).to_have_attribute("download", "church_x2_downscaled_x2.png")
    assert slider_sizes(page) == [[240, 200], [240, 200]]
    expect(page.locator("#info")).to_contain_text("before: the input enlarged with bicubic interpolation")
    shoot(shots, page, "task-clean-image-x2", full_page=True)

    # Noisy: the task has no scale (×1), and the comparison is not called bicubic.
    size = Image.open(EXAMPLES / "starfish_noise25.png").size
    upload(page, EXAMPLES / "starfish_noise25.png", f"Input {size[0]}×{size[1]} RGB 8-bit")
    task.get_by_text("Noisy: remove noise").click()
    expect(page.locator("#scale")).to_contain_text("×1")
    expect(page.locator("#plan")).to_contain_text(f"denoise-color · bundled · {size[0]}×{size[1]} → ")
    restore_and_wait(page, f"{size[0]}×{size[1]} RGB 8-bit")
    expect(page.locator("#info")).not_to_contain_text("bicubic")
    assert slider_sizes(page) == [list(size)] * 2
    shoot(shots, page, "task-noisy", full_page=True)
    page.close()


def test_cancel_and_a_non_image_upload(browser, server, shots, tmp_path):
    from playwright.sync_api import expect

    page = open_page(browser, server, DESKTOP)
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    upload(page, notes, "⚠ notes.png is not an image this demo can read (PNG, JPEG, TIFF, WebP, HEIC, BMP…).")
    expect(page.locator("#restore-button")).to_be_disabled()
    shoot(shots, page, "non-image-upload")

    # A job long enough to cancel: ×4 with the ×8 self-ensemble on 320².
    photo = tmp_path / "photo.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (320, 320, 3), dtype=np.uint8)).save(photo)
    upload(page, photo, "Input 320×320 RGB 8-bit")
    page.locator("#advanced").get_by_text("Advanced").click()
    page.get_by_label("Self-ensemble ×8").check()
    expect(page.locator("#cancel-button")).to_be_disabled()
    page.locator("#restore-button").click()
    expect(page.locator("#cancel-button")).to_be_enabled()
    expect(page.locator("#restore-button")).to_be_disabled()
    # One progress indicator, on the result panel, that moves and gives an estimate.
    expect(page.locator("#comparison")).to_contain_text("left", timeout=60_000)
    assert page.get_by_text("Restoring, about").count() == 1
    page.locator("#cancel-button").click()
    expect(page.locator("#info")).to_contain_text("Cancelled.")
    expect(page.locator("#cancel-button")).to_be_disabled()
    expect(page.locator("#restore-button")).to_be_enabled()
    shoot(shots, page, "cancelled")
    page.close()


def test_settings_changed_during_a_job_leave_restore_off_until_it_ends(browser, server, tmp_path):
    from playwright.sync_api import expect

    page = open_page(browser, server, DESKTOP)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (320, 320, 3), dtype=np.uint8)).save(photo)
    upload(page, photo, "Input 320×320 RGB 8-bit")
    page.locator("#advanced").get_by_text("Advanced").click()
    page.get_by_label("Self-ensemble ×8").check()  # a job long enough to change the settings during it
    restore, cancel, plan = page.locator("#restore-button"), page.locator("#cancel-button"), page.locator("#plan")
    restore.click()
    expect(cancel).to_be_enabled()
    # A settings change during the job updates the plan line but leaves Restore off: it made Restore clickable,
    # and a second click started a second job in this session.
    page.locator("#task").get_by_text("Clean image: enlarge").click()
    expect(plan).to_contain_text("sr-x4 · bundled · 320×320 → 1280×1280")
    expect(restore).to_be_disabled()
    page.locator("#scale").get_by_text("×2").click()
    expect(plan).to_contain_text("sr-x2 · bundled · 320×320 → 640×640")
    expect(restore).to_be_disabled()
    expect(cancel).to_be_enabled()  # the job still runs
    cancel.click()
    expect(page.locator("#info")).to_contain_text("Cancelled.")
    expect(cancel).to_be_disabled()
    expect(restore).to_be_enabled()  # the settings now can run

    # The upload cleared during the next job: when it ends, Restore follows the settings (no image: off).
    restore.click()
    expect(cancel).to_be_enabled()
    page.locator("#upload").get_by_role("button", name=re.compile("clear", re.IGNORECASE)).first.click()
    expect(page.locator("#input-info")).to_be_empty()
    expect(plan).to_have_text("Model: sr-x2 · bundled")
    expect(cancel).to_be_enabled()  # the job still runs
    cancel.click()
    expect(cancel).to_be_disabled()  # the job's end sets both buttons at once
    expect(restore).to_be_disabled()
    page.close()


def test_a_failed_job_ends_like_any_other(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server, DESKTOP)
    upload(page, EXAMPLES / "church_x2_downscaled.png", "Input 120×100 RGB 8-bit")
    page.locator("#advanced").get_by_text("Advanced").click()
    tile = page.get_by_label("Tile size", exact=False).first
    # Each step on the page before the next, as a user sees it (clicked at once under load, Restore ran the job
    # with "Automatic" in the box): the box mounted, the text typed, then committed by Enter, which leaves the box.
    expect(tile).to_have_value("Automatic")
    tile.fill("big")
    tile.press("Enter")
    expect(tile).not_to_be_focused()
    expect(tile).to_have_value("big")  # no callback answers the tile size
    page.locator("#restore-button").click()
    expect(page.get_by_text("Tile size must be").first).to_be_visible(timeout=30_000)
    # The buttons were left as the job had set them: Restore off, Cancel on, until the page was reloaded.
    expect(page.locator("#cancel-button")).to_be_disabled()
    expect(page.locator("#restore-button")).to_be_enabled()
    page.close()


def test_phone_layout_scrolls_to_the_result(browser, server, shots):
    from playwright.sync_api import expect

    page = open_page(browser, server, PHONE)
    # Every control fits the phone's width: the examples table's Scale column sat off-screen.
    expect(page.locator("#examples")).to_contain_text("Scale")
    assert_within_width(page)
    upload(page, EXAMPLES / "church_x2_downscaled.png", "Input 120×100 RGB 8-bit")
    choose_clean_image_x2(page)  # the page opens on Photo (×4 offline)
    assert_within_width(page)
    # One column: the result sits below Restore, so it is scrolled into view when it arrives.
    restore_box = page.locator("#restore-button").bounding_box()
    assert page.locator("#comparison").bounding_box()["y"] > restore_box["y"]
    restore_and_wait(page, "240×200 RGB 8-bit")
    page.wait_for_function(
        "() => { const r = document.getElementById('comparison').getBoundingClientRect();"
        " return r.top >= -1 && r.top < window.innerHeight / 2; }",
        timeout=10_000,
    )
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing wider than the phone
    shot = shoot(shots, page, "phone-result")
    with Image.open(shot) as image:
        assert image.size == (PHONE["width"], PHONE["height"])
    assert_within_width(page)
    # The Advanced panel open, and the Level selector beside Scale (an authors' denoiser: σ 15 / 25 / 50).
    page.locator("#task").get_by_text("Noisy: remove noise").click()
    page.locator("#advanced").get_by_text("Advanced").click()
    page.locator("#model input").click()
    page.get_by_role("option", name=re.compile("SwinIR-M colour · authors")).click()
    expect(page.locator("#level")).to_contain_text("50")
    expect(page.get_by_label("Tile overlap (pixels)", exact=False).first).to_be_visible()
    assert_within_width(page)
    shoot(shots, page, "phone-advanced", full_page=True)
    page.close()


# gradio 6.31's placeholder of an empty output (`<div aria-label="Empty value">`: a label on a div without a role,
# axe's aria-prohibited-attr) is gradio's markup, not the page's; screen readers skip it as an unlabelled box.
GRADIO_EMPTY_PLACEHOLDER = [".empty.unpadded_box"]


def accessibility_problems(page) -> list[str]:
    """axe-core's WCAG 2 A / AA violations on the page as it is now (less gradio's empty placeholders), a line
    each: rule, impact, and the first elements with the check's message (the contrast ratio it measured)."""
    from axe_playwright_python.sync_playwright import Axe

    context = {"exclude": [GRADIO_EMPTY_PLACEHOLDER]}
    options = {"runOnly": ["wcag2a", "wcag2aa"], "resultTypes": ["violations"]}
    violations = Axe().run(page, context=context, options=options).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): "
        + "; ".join(f"{n['target']} {(n['any'] or n['all'] or [{}])[0].get('message', '')}" for n in v["nodes"][:3])
        for v in violations
    ]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_page_passes_axe_accessibility_checks(browser, server, theme):
    """WCAG 2 A / AA (axe-core): text contrast (the default theme's subdued grey and primary button fail it), names
    of controls and images, labels; with Advanced open and after a result, as on a phone."""
    from playwright.sync_api import expect

    page = open_page(browser, f"{server}?__theme={theme}", DESKTOP)
    page.locator("#advanced").get_by_text("Advanced").click()
    expect(page.get_by_label("Tile overlap (pixels)", exact=False).first).to_be_visible()
    assert accessibility_problems(page) == []
    upload(page, EXAMPLES / "church_x2_downscaled.png", "Input 120×100 RGB 8-bit")
    choose_clean_image_x2(page)
    restore_and_wait(page, "240×200 RGB 8-bit")
    page.locator("#restore-button").hover()  # its hover colour is checked too
    assert accessibility_problems(page) == []
    page.set_viewport_size(PHONE)
    assert accessibility_problems(page) == []
    page.close()


def test_examples_set_task_and_scale(browser, server):
    from playwright.sync_api import expect

    page = open_page(browser, server, DESKTOP)
    plan = page.locator("#plan")
    # The page opens on Photo ×4: the ×2-downscaled example ran ×4 unless it set the scale too.
    for name, expected in (
        ("church_x2_downscaled.png", "sr-x2 · bundled · 120×100 → 240×200"),
        ("starfish_noise25.png", "denoise-color · bundled · 128×112 → 128×112"),
        ("flowers_jpeg15.jpg", "jpeg-color · bundled · 200×160 → 200×160"),
        ("church_x2_downscaled.png", "sr-x2 · bundled · 120×100 → 240×200"),
    ):
        page.get_by_text(name).first.click()
        expect(plan).to_contain_text(expected, timeout=20_000)
    restore_and_wait(page, "240×200 RGB 8-bit")
    page.close()

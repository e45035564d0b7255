"""The demo end to end in headless Chromium, offline, as a user drives it: each task, Cancel, a non-image upload,
a failed job and the examples (the phone layout and the accessibility checks: `test_app_browser_layout.py`).
Screenshots of each result go to $SWINIR_DEMO_SCREENSHOTS, else swinir-demo-screenshots in pytest's temporary folder
of the run (kept after it as test artifacts, as pytest keeps its last three). The fixtures: `browser_helpers.py`.
"""

from __future__ import annotations

import re

import numpy as np
from browser_helpers import (
    BROWSER_MARKS,
    DESKTOP,
    EXAMPLES,
    choose_clean_image_x2,
    open_page,
    restore_and_wait,
    shoot,
    slider_sizes,
    upload,
)
from PIL import Image

pytestmark = BROWSER_MARKS


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

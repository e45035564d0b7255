"""The demo's page in headless Chromium, offline: the 390 px phone layout (every visible control within the
width, the result scrolled into view, the Advanced panel and the level selector) and axe-core's accessibility checks
(`axe-playwright-python`, which bundles axe-core). The fixtures: `browser_helpers.py`.
"""

from __future__ import annotations

import re

import pytest
from browser_helpers import (
    BROWSER_MARKS,
    DESKTOP,
    EXAMPLES,
    PHONE,
    choose_clean_image_x2,
    open_page,
    restore_and_wait,
    shoot,
    upload,
)
from PIL import Image

pytestmark = BROWSER_MARKS

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

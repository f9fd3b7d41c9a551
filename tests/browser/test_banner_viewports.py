"""The banner on phones and at 200 % zoom: every button on screen, the three choices equal, no page scroll.

200 % zoom on a 1280 x 800 screen is emulated as what the page then gets: a 640 x 400 CSS-pixel viewport with
deviceScaleFactor 2 (WCAG 1.4.4 and 1.4.10). Screenshots of the 320 x 568 layers go to
$CONSENT_SCREENSHOTS when it is set (never into the repository), for a person to look at.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from .test_banner import BANNER, CUSTOMIZE, FIRST_LAYER_BUTTONS, texts

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then skips, or fails under CI=true
    expect = None

pytestmark = pytest.mark.browser

PHONE_SE = {"width": 320, "height": 568}
VIEWPORTS = {
    "320x568": (PHONE_SE, 1),
    "360x640": ({"width": 360, "height": 640}, 3),
    "390x844": ({"width": 390, "height": 844}, 3),
    "1280x800 at 200%": ({"width": 640, "height": 400}, 2),
    "568x320 landscape": ({"width": 568, "height": 320}, 2),
}
SECOND_LAYER_ACTIONS = ("save", "accept-all", "reject-all", "close")
PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="/_consent/banner.js" defer></script></head>
<body style="margin:0"><main><h1>Page</h1><p>Content</p></main></body></html>"""

BOX_JS = """el => { const r = el.getBoundingClientRect(); return {x: r.x, y: r.y, right: r.right, bottom: r.bottom,
  width: r.width, height: r.height} }"""
STYLE_JS = """el => { const s = getComputedStyle(el); return [s.backgroundColor, s.color, s.fontWeight, s.fontSize,
  s.borderTopColor, s.borderTopWidth, el.getBoundingClientRect().width, el.getBoundingClientRect().height] }"""
PAGE_SCROLL_JS = """() => { const e = document.scrollingElement; return {x: e.scrollWidth - innerWidth,
  y: e.scrollHeight - innerHeight, scrolled: [scrollX, scrollY]} }"""


@pytest.fixture
def new_page(browser: Any, base_url: str) -> Iterator[Any]:
    """Pages of a given viewport and pixel ratio, each in a fresh context (own cookies)."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int], scale: int) -> Any:
        context = browser.new_context(base_url=base_url, locale="ru-RU", viewport=viewport,
                                      device_scale_factor=scale)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def open_page(new_page: Any, viewport: dict[str, int], scale: int, lang: str = "ru", body: str | None = None) -> Any:
    page = new_page(viewport, scale)
    page.route("**/_test/phone.html", lambda route: route.fulfill(
        body=PAGE.format(lang=lang), content_type="text/html; charset=utf-8"))
    if body is not None:
        def longer(route: Any) -> None:
            doc = route.fetch().json()
            doc["texts"]["body"] = body
            route.fulfill(body=json.dumps(doc), content_type="application/json")
        page.route("**/_consent/config.json*", longer)
    page.goto("/_test/phone.html")
    expect(page.locator(f"{BANNER} .cg-l1")).to_be_visible()
    return page


def assert_on_screen(page: Any, locator: Any, viewport: dict[str, int]) -> None:
    assert locator.count() > 0
    for i in range(locator.count()):
        box = locator.nth(i).evaluate(BOX_JS)
        assert box["x"] >= 0 and box["y"] >= 0, box
        assert box["right"] <= viewport["width"] + 0.5 and box["bottom"] <= viewport["height"] + 0.5, box
        assert box["width"] > 0 and box["height"] >= 16, box


def assert_alike(buttons: list[Any]) -> None:
    """Same colours, weight and font; same width and height (to layout's 1/64 px rounding)."""
    styles = [b.evaluate(STYLE_JS) for b in buttons]
    assert all(s[:6] == styles[0][:6] for s in styles), styles
    for s in styles:
        assert abs(s[6] - styles[0][6]) < 0.1 and abs(s[7] - styles[0][7]) < 0.1, styles


def assert_no_page_scroll(page: Any) -> None:
    scroll = page.evaluate(PAGE_SCROLL_JS)
    assert scroll["x"] <= 0 and scroll["y"] <= 0 and scroll["scrolled"] == [0, 0], scroll


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_first_layer_fits_with_equal_buttons(new_page: Any, size: str, lang: str) -> None:
    viewport, scale = VIEWPORTS[size]
    page = open_page(new_page, viewport, scale, lang)
    want = texts(lang)["texts"]
    banner = page.locator(BANNER)
    # Title, policy link and the three choices are all inside the viewport, with no page scroll.
    assert_on_screen(page, banner.get_by_role("heading", name=want["title"]), viewport)
    assert_on_screen(page, banner.get_by_role("link", name=want["policy_link"]), viewport)
    for selector in FIRST_LAYER_BUTTONS:
        assert_on_screen(page, page.locator(selector), viewport)
    assert_no_page_scroll(page)
    # Same size, weight and colours for Accept, Reject and Customize.
    assert_alike([page.locator(sel) for sel in FIRST_LAYER_BUTTONS])
    # The shipped text fits: nothing to scroll inside the banner either.
    text = banner.locator(".cg-l1 .cg-s")
    assert text.evaluate("el => el.scrollHeight <= el.clientHeight + 1"), size


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_long_text_scrolls_inside_the_banner_and_the_buttons_stay(new_page: Any, size: str) -> None:
    viewport, scale = VIEWPORTS[size]
    body = " ".join([texts("ru")["texts"]["details"]] * 4)
    page = open_page(new_page, viewport, scale, body=body)
    text = page.locator(f"{BANNER} .cg-l1 .cg-s")
    expect(text).to_contain_text(body[:40])
    assert text.evaluate("el => el.scrollHeight > el.clientHeight && getComputedStyle(el).overflowY == 'auto'")
    for selector in FIRST_LAYER_BUTTONS:
        assert_on_screen(page, page.locator(selector), viewport)
    assert_on_screen(page, page.locator(f"{BANNER} .cg-l1 a"), viewport)
    assert_no_page_scroll(page)
    # The text can still be read to the end, inside the banner.
    text.evaluate("el => { el.scrollTop = el.scrollHeight }")
    assert text.evaluate("el => el.scrollTop > 0")


@pytest.mark.parametrize("size", list(VIEWPORTS))
def test_second_layer_scrolls_its_categories_with_the_buttons_visible(new_page: Any, size: str) -> None:
    viewport, scale = VIEWPORTS[size]
    page = open_page(new_page, viewport, scale)
    page.click(CUSTOMIZE)
    page.mouse.move(0, 0)  # no button hovered while their colours are compared
    dialog = page.get_by_role("dialog", name=texts("ru")["texts"]["settings_title"])
    expect(dialog).to_be_visible()
    expect(dialog.locator(".cg-v").first).to_be_attached()  # vendors.json arrived: the long version
    dialog.locator("details").evaluate_all("ds => ds.forEach(d => { d.open = true })")
    assert_on_screen(page, dialog.get_by_role("heading"), viewport)
    for action in SECOND_LAYER_ACTIONS:
        assert_on_screen(page, dialog.locator(f'[data-consent-action="{action}"]'), viewport)
    assert_no_page_scroll(page)
    scroller = dialog.locator(".cg-s")
    assert scroller.evaluate("el => el.scrollHeight > el.clientHeight"), "the categories scroll inside the dialog"
    # The last switch is reachable by scrolling inside the dialog, the buttons still on screen.
    last = dialog.get_by_role("switch").last
    last.scroll_into_view_if_needed()
    assert_on_screen(page, last, viewport)
    for action in SECOND_LAYER_ACTIONS:
        assert_on_screen(page, dialog.locator(f'[data-consent-action="{action}"]'), viewport)
    assert_alike([dialog.locator(f'[data-consent-action="{a}"]') for a in SECOND_LAYER_ACTIONS])


def test_screenshots_of_both_layers_on_a_small_phone(new_page: Any) -> None:
    page = open_page(new_page, PHONE_SE, 2)
    folder = os.environ.get("CONSENT_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, "banner-320x568-first.png"))
    page.click(CUSTOMIZE)
    expect(page.locator(f"{BANNER} .cg-v").first).to_be_attached()
    if folder:
        page.screenshot(path=os.path.join(folder, "banner-320x568-second.png"))
    assert_no_page_scroll(page)

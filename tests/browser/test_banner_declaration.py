"""The banner's second layer links to the cookie declaration: text and address from vendors.json (nothing added
to the first layer's config.json), in the visitor's language, inside the modal's focus trap, axe-clean."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from .test_banner import BANNER, CUSTOMIZE, open_demo, texts
from .test_banner_a11y import axe_violations

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then skips, or fails under CI=true
    expect = None

pytestmark = pytest.mark.browser
LINK = f"{BANNER} #cg-d2 a"
# Where the 360x640 screenshot of the opened second layer goes (a temporary folder unless asked for).
SHOTS = os.environ.get("CONSENT_SCREENSHOTS")


def active(page: Any) -> str:
    return str(page.evaluate("document.activeElement.outerHTML.slice(0, 80)"))


@pytest.mark.parametrize(("locale", "lang"), [("ru-RU", "ru"), ("kk-KZ", "kk"), ("en-US", "en")])
def test_second_layer_links_to_the_declaration_in_the_visitor_language(new_page: Any, base_url: str, locale: str,
                                                                        lang: str) -> None:
    page = new_page(locale=locale)
    page.route("**/_test/page.html", lambda route: route.fulfill(
        content_type="text/html; charset=utf-8",
        body='<!doctype html><html><head><meta charset="utf-8"><title>Page</title>'
             '<script src="/_consent/banner.js" defer></script></head><body><main><h1>Page</h1></main></body></html>'))
    page.goto("/_test/page.html")  # no lang on the page: the browser's Accept-Language decides
    config = page.request.get("/_consent/config.json", headers={"Accept-Language": locale}).text()
    assert "declaration" not in config  # the first layer's bytes carry nothing of it
    page.click(CUSTOMIZE)
    link = page.locator(LINK)
    title = texts(lang)["declaration"]["title"]
    expect(link).to_have_text(title)
    # Absolute, resolved against banner.js: right also when the banner is embedded from the gateway's own host.
    assert link.get_attribute("href") == f"{base_url}/_consent/declaration?lang={lang}"
    with page.context.expect_page() as opened:
        link.click()
    declaration = opened.value
    declaration.wait_for_load_state()
    expect(declaration.locator("h1")).to_have_text(title)
    expect(declaration.locator("html")).to_have_attribute("lang", lang)


def test_the_link_is_in_the_focus_trap_and_axe_finds_nothing(new_page: Any, tmp_path: Path) -> None:
    page = new_page(locale="ru-RU", viewport={"width": 360, "height": 640})
    open_demo(page)
    page.click(CUSTOMIZE)
    link = page.locator(LINK)
    expect(link).to_be_visible()
    # Forward from the dialog: the link is the first stop (it ends the description), and Tab never leaves.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement === document.querySelector('#cg-d2 a')"), active(page)
    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("!!document.activeElement.closest('.cg-l2')"))
        if page.evaluate("document.activeElement === document.querySelector('#cg-d2 a')"):
            break
    else:
        pytest.fail("Tab never came back round to the declaration link")
    assert all(seen)  # every stop on the way round stayed in the dialog
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement === document.querySelector('#cg-d2 a')")
    expect(link).to_be_in_viewport()
    shots = Path(SHOTS) if SHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "second-layer-360x640-ru.png"))
    page.locator(f"{BANNER} details").evaluate_all("ds => ds.forEach(d => { d.open = true })")
    assert axe_violations(page) == []

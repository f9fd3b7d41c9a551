"""The banner for screen readers and keyboards, read from the accessibility tree, and checked by axe-core."""

from __future__ import annotations

from typing import Any

import pytest

from .test_banner import ACCEPT, BANNER, CUSTOMIZE, OPTIONAL, REJECT, open_demo, record_puts, texts, toggle

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then skips, or fails under CI=true
    expect = None

pytestmark = pytest.mark.browser

WCAG_21_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
              "resultTypes": ["violations"]}


def axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, context=BANNER, options=WCAG_21_AA)
    assert len(results.response["passes"]) >= 10  # axe ran its rules on the banner
    return [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in results.response["violations"]]


def active(page: Any) -> str:
    return page.evaluate("(document.activeElement.getAttribute('data-consent-action') || "
                         "document.activeElement.getAttribute('data-consent-category') || "
                         "document.activeElement.tagName)")


@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
def test_axe_finds_no_wcag_21_aa_violation_in_either_layer(new_page: Any, locale: str) -> None:
    page = new_page(locale=locale)
    page.route("**/_test/axe.html", lambda route: route.fulfill(
        content_type="text/html; charset=utf-8",
        body=f'<!doctype html><html lang="{locale[:2]}"><head><meta charset="utf-8"><title>Axe</title>'
             '<script src="/_consent/banner.js" defer></script></head><body><main><h1>Page</h1></main></body></html>'))
    page.goto("/_test/axe.html")
    expect(page.locator(f"{BANNER} .cg-l1")).to_be_visible()
    assert axe_violations(page) == []
    page.click(CUSTOMIZE)
    expect(page.locator(f"{BANNER} .cg-v").first).to_be_attached()
    page.locator(f"{BANNER} details").evaluate_all("ds => ds.forEach(d => { d.open = true })")
    toggle(page, "analytics").check()
    assert axe_violations(page) == []


def test_the_accessibility_tree_names_both_layers_and_announces_the_switches(page: Any) -> None:
    open_demo(page)
    ru = texts("ru")
    region = page.get_by_role("region", name=ru["texts"]["title"])
    tree = region.aria_snapshot()
    for key in ("accept_all", "reject_all", "customize"):
        assert f'button "{ru["texts"][key]}"' in tree
    assert f'link "{ru["texts"]["policy_link"]}"' in tree
    page.click(CUSTOMIZE)
    dialog = page.get_by_role("dialog", name=ru["texts"]["settings_title"])
    expect(dialog).to_be_visible()
    expect(dialog).to_have_attribute("aria-modal", "true")
    expect(region).to_be_hidden()
    necessary = dialog.get_by_role("switch", name=ru["categories"]["necessary"]["title"])
    expect(necessary).to_be_checked()
    expect(necessary).to_be_disabled()
    for category in OPTIONAL:
        switch = dialog.get_by_role("switch", name=ru["categories"][category]["title"])
        expect(switch).not_to_be_checked()
        switch.check()
        expect(switch).to_be_checked()
        assert f'switch "{ru["categories"][category]["title"]}" [checked]' in dialog.aria_snapshot()


def test_reject_is_three_tabs_away(page: Any) -> None:
    open_demo(page)
    for _ in range(3):
        page.keyboard.press("Tab")
    assert page.locator(REJECT).evaluate("el => el === document.activeElement")


def test_the_dialog_keeps_focus_and_esc_returns_it_to_customize(page: Any) -> None:
    open_demo(page)
    record_puts(page)
    page.locator(CUSTOMIZE).focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=texts("ru")["texts"]["settings_title"])
    expect(dialog).to_be_visible()
    inside = "el => el.contains(document.activeElement)"
    seen = set()
    for _ in range(25):  # forwards, past the last control and round again
        page.keyboard.press("Tab")
        assert dialog.evaluate(inside), active(page)
        seen.add(active(page))
    assert {"save", "accept-all", "reject-all", "close", "analytics"} <= seen
    for _ in range(25):
        page.keyboard.press("Shift+Tab")
        assert dialog.evaluate(inside), active(page)
    # A click that moves focus onto the page brings it back into the dialog.
    page.locator("footer a").first.evaluate("el => el.focus()")
    assert dialog.evaluate(inside)
    toggle(page, "marketing").check()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator(ACCEPT)).to_be_visible()
    assert page.locator(CUSTOMIZE).evaluate("el => el === document.activeElement")
    assert page.put_requests == []
    assert page.evaluate("consentGateway.getConsent().categories.marketing") is False


TRANSITIONS_JS = """root => [...root.querySelectorAll('*')].flatMap(el => [getComputedStyle(el),
  getComputedStyle(el, '::before')]).map(s => [s.transitionDuration, s.animationName])
  .filter(([t, a]) => t.split(', ').some(x => x != '0s') || a != 'none')"""


def test_reduced_motion_means_no_transitions(new_page: Any) -> None:
    moving = new_page()
    open_demo(moving)
    moving.click(CUSTOMIZE)
    assert moving.locator(BANNER).evaluate(TRANSITIONS_JS) != []  # the switches slide by default
    still = new_page(reduced_motion="reduce")
    open_demo(still)
    still.click(CUSTOMIZE)
    assert still.locator(BANNER).evaluate(TRANSITIONS_JS) == []


CONTROLS_JS = """root => [...root.querySelectorAll('button, input, a')].filter(el => el.getClientRects().length)
  .map(el => { const s = getComputedStyle(el), b = getComputedStyle(el, '::before');
    return {what: el.outerHTML.slice(0, 60), border: s.borderTopStyle != 'none' && parseFloat(s.borderTopWidth) >= 1,
            text: el.tagName == 'INPUT' || el.textContent.trim() != '', knob: el.tagName != 'INPUT' || b.backgroundColor,
            fill: s.backgroundColor, color: s.color} })"""


def test_forced_colors_keep_every_control_visible(new_page: Any) -> None:
    page = new_page(forced_colors="active", reduced_motion="reduce")  # no transition: the final colours
    open_demo(page)
    banner = page.locator(BANNER)
    assert banner.evaluate("el => getComputedStyle(el).borderTopStyle") != "none"
    first = banner.evaluate(CONTROLS_JS)
    assert [c for c in first if not (c["border"] or c["what"].startswith("<a"))] == []
    page.click(CUSTOMIZE)
    toggle(page, "analytics").check()
    controls = banner.evaluate(CONTROLS_JS)
    buttons = [c for c in controls if c["what"].startswith("<button")]
    switches = [c for c in controls if c["what"].startswith("<input")]
    assert len(buttons) == 4 and len(switches) == 4
    assert all(c["border"] for c in buttons + switches), controls
    # A switch shows its state with system colours: on and off differ, and the knob differs from the track.
    on, off = toggle(page, "analytics").evaluate(CONTROLS_JS.replace("root.querySelectorAll('button, input, a')",
                                                                      "[el]").replace("root =>", "el =>")), None
    off = toggle(page, "marketing").evaluate(CONTROLS_JS.replace("root.querySelectorAll('button, input, a')",
                                                                  "[el]").replace("root =>", "el =>"))
    assert on[0]["fill"] != off[0]["fill"]
    assert on[0]["knob"] != on[0]["fill"] and off[0]["knob"] != off[0]["fill"]

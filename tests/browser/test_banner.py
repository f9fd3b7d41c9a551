"""The banner as a visitor meets it: the real demo app in headless Chromium, with every request recorded."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture then skips, or fails under CI=true
    expect = None

pytestmark = pytest.mark.browser

# The demo page's hand-marked trackers: local stand-ins served by the gateway in demo mode.
TRACKERS = {
    "analytics": ("/_demo/analytics.js",),
    "marketing": ("/_demo/marketing.js", "/_demo/pixel.gif", "/_demo/video.html"),
}
ALL_TRACKERS = TRACKERS["analytics"] + TRACKERS["marketing"]

LOCALES = Path(__file__).resolve().parents[2] / "config" / "locales"
BANNER = "#consent-banner"
ACCEPT = '#consent-banner [data-consent-action="accept-all"]:visible'
REJECT = '#consent-banner [data-consent-action="reject-all"]:visible'
CUSTOMIZE = '#consent-banner [data-consent-action="customize"]:visible'
SAVE = '#consent-banner [data-consent-action="save"]:visible'
FIRST_LAYER_BUTTONS = (ACCEPT, REJECT, CUSTOMIZE)
OPTIONAL = ("preferences", "analytics", "marketing")
NO_CONSENT_MODE = {"ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied",
                   "analytics_storage": "denied", "functionality_storage": "denied",
                   "personalization_storage": "denied", "security_storage": "denied"}
STATE_PATH = "/_consent/state"


def texts(lang: str) -> dict[str, Any]:
    return tomllib.loads((LOCALES / f"{lang}.toml").read_text(encoding="utf-8"))


def toggle(page: Any, category: str) -> Any:
    return page.locator(f'{BANNER} input[data-consent-category="{category}"]')


def settle(page: Any) -> None:
    """Let every request the page would make on its own happen before we look at the record."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(250)


def trackers_requested(page: Any) -> list[str]:
    return [path for path in page.requested if path in ALL_TRACKERS]


def open_demo(page: Any) -> None:
    page.goto("/")
    expect(page.locator(BANNER)).to_be_visible()


def expect_loaded(page: Any, *names: str) -> None:
    html = page.locator("html")
    for name in names:
        if name != "video":
            expect(html).to_have_attribute(f"data-demo-{name}", "loaded")
    if "video" in names:
        expect(page.frame_locator("iframe.video").locator('[data-demo="video"]')).to_be_visible()
        expect(page.locator("[data-consent-placeholder]")).to_have_count(0)


def expect_nothing_loaded(page: Any) -> None:
    settle(page)
    assert trackers_requested(page) == []
    html = page.locator("html")
    for name in ("analytics", "marketing", "pixel"):
        expect(html).not_to_have_attribute(f"data-demo-{name}", "loaded")
    expect(page.locator("[data-consent-placeholder]")).to_be_visible()


def choice_puts(page: Any) -> list[Any]:
    return page.put_requests  # type: ignore[no-any-return]


def record_puts(page: Any) -> None:
    page.put_requests = []
    page.on("request", lambda r: r.method == "PUT" and r.url.endswith(STATE_PATH) and page.put_requests.append(r))


def test_demo_page_shows_the_first_layer_as_a_labelled_region(page: Any) -> None:
    shown: list[Any] = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/_consent/events")
            and shown.append(r.post_data_json))
    open_demo(page)
    ru = texts("ru")["texts"]
    # The first layer is a region named by its title and described by its short text (accessibility tree).
    region = page.get_by_role("region", name=ru["title"])
    expect(region).to_be_visible()
    expect(page.locator(f"#{region.get_attribute('aria-describedby')}")).to_have_text(ru["body"])
    policy_url = page.request.get("/_consent/config.json?lang=ru").json()["policy_url"]
    assert policy_url.startswith("https://")
    expect(region.get_by_role("link", name=ru["policy_link"])).to_have_attribute("href", policy_url)
    for selector, key in zip(FIRST_LAYER_BUTTONS, ("accept_all", "reject_all", "customize")):
        expect(page.locator(selector)).to_have_text(ru[key])
        expect(region.get_by_role("button", name=ru[key])).to_be_visible()
    assert page.locator(BANNER).evaluate("el => getComputedStyle(el).position") == "fixed"
    # The full wording (the law, the controller) is one click away, in the second layer.
    page.click(CUSTOMIZE)
    dialog = page.get_by_role("dialog", name=ru["settings_title"])
    expect(dialog).to_have_attribute("aria-modal", "true")
    # ...ending with the link to the cookie declaration.
    declaration = texts("ru")["declaration"]["title"]
    expect(page.locator(f"#{dialog.get_attribute('aria-describedby')}")).to_have_text(f"{ru['details']} {declaration}")
    expect(dialog).to_contain_text("№ 94-V")
    # One anonymous impression per display of the first layer, not per switch between the layers.
    page.keyboard.press("Escape")
    expect(page.locator(ACCEPT)).to_be_visible()
    settle(page)
    assert shown == [{"event": "shown", "lang": "ru"}]


def test_nothing_is_requested_before_a_choice(page: Any) -> None:
    open_demo(page)
    expect_nothing_loaded(page)
    assert page.evaluate("consentGateway.getConsent().decided") is False


def test_the_first_layer_buttons_have_equal_weight(page: Any) -> None:
    open_demo(page)
    props = ["fontSize", "fontWeight", "padding", "backgroundColor", "color", "borderTopWidth", "borderTopColor",
             "borderRadius"]
    styles = [page.locator(sel).evaluate("(el, ps) => { const s = getComputedStyle(el); "
                                         "return ps.map(p => s[p]).concat([el.offsetWidth, el.offsetHeight]) }",
                                         props) for sel in FIRST_LAYER_BUTTONS]
    assert styles[0] == styles[1] == styles[2]
    tags = [page.locator(sel).evaluate("el => el.tagName + '.' + el.className") for sel in FIRST_LAYER_BUTTONS]
    assert tags[0] == tags[1] == tags[2] == "BUTTON.cg-btn"


def test_reject_all_loads_nothing_now_or_after_reload(page: Any) -> None:
    open_demo(page)
    page.click(REJECT)
    expect(page.locator(BANNER)).to_be_hidden()
    expect_nothing_loaded(page)
    page.reload()
    settle(page)
    expect(page.locator(BANNER)).to_be_hidden()
    expect_nothing_loaded(page)
    assert page.evaluate("consentGateway.getConsent()")["categories"] == {
        "necessary": True, "preferences": False, "analytics": False, "marketing": False}


def test_accept_all_activates_everything_without_reload_and_keeps_it(page: Any) -> None:
    open_demo(page)
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url))
    page.evaluate("window.__sameDocument = true")
    settle(page)
    page.click(ACCEPT)
    expect(page.locator(BANNER)).to_be_hidden()
    expect_loaded(page, "analytics", "marketing", "pixel", "video")
    assert page.evaluate("window.__sameDocument") is True
    assert navigations == []
    assert sorted(set(trackers_requested(page))) == sorted(ALL_TRACKERS)
    # Each hand-marked script ran exactly once.
    assert page.locator('script[data-consent-activated][src$="/_demo/analytics.js"]').count() == 1

    page.requested.clear()
    page.reload()
    expect_loaded(page, "analytics", "marketing", "pixel", "video")
    expect(page.locator(BANNER)).to_have_count(0)  # decided visitors never get the banner rendered


def test_customize_with_analytics_only_activates_only_analytics(page: Any) -> None:
    open_demo(page)
    page.click(CUSTOMIZE)
    for category in OPTIONAL:  # no pre-ticked boxes
        expect(toggle(page, category)).not_to_be_checked()
        expect(toggle(page, category)).to_be_enabled()
    expect(toggle(page, "necessary")).to_be_checked()
    expect(toggle(page, "necessary")).to_be_disabled()
    # Each category names its vendors (from vendors.json), with a link to each vendor's policy.
    # Each category's description and vendors come from vendors.json, fetched when the settings open.
    second = page.request.get("/_consent/vendors.json?lang=ru").json()
    vendors = second["categories"]
    for category in page.request.get("/_consent/config.json?lang=ru").json()["categories"]:
        box = page.locator(f"{BANNER} .cg-cat", has=page.locator(f'input[data-consent-category="{category["id"]}"]'))
        expect(box).to_contain_text(second["descriptions"][category["id"]])
        expect(box).to_contain_text(texts("ru")["categories"][category["id"]]["description"])
        for vendor in vendors[category["id"]]:
            expect(box.locator("a", has_text=vendor["name"]).first).to_have_attribute("href", vendor["policy_url"])
    page.get_by_label(texts("ru")["categories"]["analytics"]["title"]).check()
    page.click(SAVE)
    expect(page.locator(BANNER)).to_be_hidden()
    expect_loaded(page, "analytics")
    settle(page)
    assert trackers_requested(page) == list(TRACKERS["analytics"])
    expect(page.locator("html")).not_to_have_attribute("data-demo-marketing", "loaded")
    expect(page.locator("[data-consent-placeholder]")).to_be_visible()

    page.requested.clear()
    page.reload()
    expect_loaded(page, "analytics")
    settle(page)
    assert trackers_requested(page) == list(TRACKERS["analytics"])


def shipped_vendor(vendor_id: str) -> dict[str, Any]:
    return tomllib.loads((LOCALES.parent / "vendors.toml").read_text(encoding="utf-8"))["vendors"][vendor_id]


def test_customize_lists_vendor_purposes_in_the_page_language(page: Any) -> None:
    asked: list[str] = []
    page.on("request", lambda r: "/_consent/vendors.json" in r.url and asked.append(r.url))
    open_demo(page)
    settle(page)
    assert asked == []  # the first layer never needs the vendor list
    page.click(CUSTOMIZE)
    analytics = page.locator(f"{BANNER} .cg-cat", has=page.locator('input[data-consent-category="analytics"]'))
    ga = shipped_vendor("google-analytics")
    analytics.locator("summary").click()
    expect(analytics.locator("li", has_text=ga["name"])).to_contain_text(ga["purpose_ru"])
    expect(analytics).not_to_contain_text(ga["purpose"])
    page.keyboard.press("Escape")
    page.click(CUSTOMIZE)
    settle(page)
    assert len(asked) == 1 and asked[0].endswith("vendors.json?lang=ru")  # fetched once, lazily
    expect(analytics.locator(".cg-v")).to_have_count(1)


def test_settings_work_without_the_vendor_list(page: Any) -> None:
    page.route("**/_consent/vendors.json*", lambda route: route.abort())
    open_demo(page)
    page.click(CUSTOMIZE)
    settle(page)
    expect(page.locator(f"{BANNER} .cg-v")).to_have_count(0)
    for category in OPTIONAL:  # a failed list grants nothing
        expect(toggle(page, category)).not_to_be_checked()
    expect_nothing_loaded(page)
    toggle(page, "analytics").check()
    page.click(SAVE)
    expect(page.locator(BANNER)).to_be_hidden()
    expect_loaded(page, "analytics")
    assert page.evaluate("consentGateway.getConsent().categories.marketing") is False


def test_show_reopens_the_saved_choice_and_withdrawal_sticks(page: Any) -> None:
    open_demo(page)
    page.click(ACCEPT)
    expect_loaded(page, "analytics", "marketing", "pixel", "video")
    page.evaluate("consentGateway.show()")
    expect(page.locator(BANNER)).to_be_visible()
    for category in OPTIONAL:  # the saved choice, not defaults
        expect(toggle(page, category)).to_be_checked()
    page.click(REJECT)
    expect(page.locator(BANNER)).to_be_hidden()
    assert page.evaluate("consentGateway.getConsent().categories.analytics") is False

    page.requested.clear()
    page.reload()
    expect(page.locator(BANNER)).to_have_count(0)
    expect_nothing_loaded(page)
    # The site's own "cookie settings" link reopens the preferences too.
    page.locator("footer [data-consent-open]").click()
    expect(page.locator(BANNER)).to_be_visible()
    for category in OPTIONAL:
        expect(toggle(page, category)).not_to_be_checked()
    # Esc closes the reopened settings without a new choice, and focus returns to the link.
    record_puts(page)
    toggle(page, "marketing").check()
    page.keyboard.press("Escape")
    expect(page.locator(BANNER)).to_be_hidden()
    assert page.evaluate("document.activeElement.matches('footer [data-consent-open]')")
    assert choice_puts(page) == []
    assert page.evaluate("consentGateway.getConsent().categories.marketing") is False


def _tab_to(page: Any, selector: str, limit: int = 15) -> None:
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            outline = target.evaluate("el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
            assert outline.split()[0] != "none" and outline.split()[1] != "0px", outline
            return
    pytest.fail(f"{selector} not reachable with Tab")


def test_keyboard_only_accept(page: Any) -> None:
    open_demo(page)
    assert page.evaluate("document.getElementById('consent-banner').contains(document.activeElement)")
    _tab_to(page, ACCEPT)
    page.keyboard.press("Enter")
    expect(page.locator(BANNER)).to_be_hidden()
    expect_loaded(page, "analytics", "marketing", "pixel", "video")


def test_keyboard_only_reject_returns_focus(new_page: Any) -> None:
    page = new_page()
    page.route("**/_test/focus.html", lambda route: route.fulfill(
        content_type="text/html; charset=utf-8",
        body='<!doctype html><html lang="en"><body><button id="site">Site button</button>'
             '<script>document.getElementById("site").focus()</script>'
             '<script src="/_consent/banner.js" defer></script></body></html>'))
    page.goto("/_test/focus.html")
    expect(page.locator(BANNER)).to_be_visible()
    assert page.evaluate("document.getElementById('consent-banner').contains(document.activeElement)")
    _tab_to(page, REJECT)
    page.keyboard.press("Enter")
    expect(page.locator(BANNER)).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "site"
    assert page.evaluate("consentGateway.getConsent()")["decided"] is True
    assert page.evaluate("consentGateway.getConsent().categories.marketing") is False


def test_escape_never_grants(page: Any) -> None:
    open_demo(page)
    record_puts(page)
    page.keyboard.press("Escape")  # first layer: nothing happens
    expect(page.locator(f"{BANNER} .cg-l1")).to_be_visible()
    page.click(CUSTOMIZE)
    for category in OPTIONAL:
        toggle(page, category).check()
    page.keyboard.press("Escape")  # back to the first layer, nothing saved
    expect(page.locator(ACCEPT)).to_be_visible()
    expect(page.locator(f"{BANNER} .cg-l2")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(page.locator(BANNER)).to_be_visible()
    expect_nothing_loaded(page)
    assert choice_puts(page) == []
    assert page.evaluate("consentGateway.getConsent().decided") is False
    page.click(CUSTOMIZE)
    for category in OPTIONAL:  # the unsaved ticks are gone
        expect(toggle(page, category)).not_to_be_checked()


def test_placeholder_load_grants_only_its_category(page: Any) -> None:
    open_demo(page)
    page.locator("[data-consent-placeholder] [data-consent-load]").click()
    expect_loaded(page, "marketing", "pixel", "video")
    settle(page)
    assert "/_demo/analytics.js" not in page.requested
    assert page.evaluate("consentGateway.getConsent().categories") == {
        "necessary": True, "preferences": False, "analytics": False, "marketing": True}


def test_consent_mode_and_change_events(page: Any) -> None:
    page.add_init_script("window.__changes = []; document.addEventListener('consent:change', "
                         "e => window.__changes.push(e.detail.categories))")
    open_demo(page)
    consent = page.evaluate("dataLayer.filter(e => e[0] === 'consent').map(e => [e[1], e[2]])")
    # One default before any choice (injected by the gateway or set by the banner), every storage denied;
    # security_storage may be granted by the gateway: it is strictly necessary.
    assert [kind for kind, _ in consent] == ["default"]
    assert {k: v for k, v in consent[0][1].items() if k in NO_CONSENT_MODE and k != "security_storage"} == {
        k: v for k, v in NO_CONSENT_MODE.items() if k != "security_storage"}
    page.evaluate("window.__apiChanges = []; consentGateway.on('change', s => __apiChanges.push(s.categories))")
    page.evaluate("consentGateway.set({analytics: true})")
    expect_loaded(page, "analytics")
    update = page.evaluate("dataLayer.filter(e => e[0] === 'consent').map(e => [e[1], e[2]])")[-1]
    assert update == ["update", {**NO_CONSENT_MODE, "analytics_storage": "granted", "security_storage": "granted"}]
    pushed = page.evaluate("dataLayer.filter(e => e.event === 'consent_update').map(e => e.consent)")
    assert pushed == [update[1]]
    expected = {"necessary": True, "preferences": False, "analytics": True, "marketing": False}
    assert page.evaluate("window.__changes") == [expected]
    assert page.evaluate("window.__apiChanges") == [expected]


LANG_CASES = [
    # (html lang, script data-lang, browser locale, expected language)
    ("ru", None, "en-US", "ru"),
    ("kk", None, "ru-RU", "kk"),
    ("kz", None, "ru-RU", "kk"),
    ("en-GB", None, "ru-RU", "en"),
    ("ru", "en", "ru-RU", "en"),
    (None, None, "kk-KZ", "kk"),
    (None, None, "en-US", "en"),
]


@pytest.mark.parametrize(("html_lang", "data_lang", "locale", "expected"), LANG_CASES)
def test_texts_follow_the_page_language(new_page: Any, html_lang: str | None, data_lang: str | None,
                                        locale: str, expected: str) -> None:
    page = new_page(locale=locale)
    lang_attr = f' lang="{html_lang}"' if html_lang else ""
    data_attr = f' data-lang="{data_lang}"' if data_lang else ""
    html = (f'<!doctype html><html{lang_attr}><head><meta charset="utf-8">'
            f'<script src="/_consent/banner.js"{data_attr} defer></script></head>'
            "<body><p>Test page</p></body></html>")
    page.route("**/_test/lang.html", lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"))
    page.goto("/_test/lang.html")
    want = texts(expected)
    banner = page.locator(BANNER)
    expect(banner.locator("h2:visible")).to_have_text(want["texts"]["title"])
    expect(page.locator(ACCEPT)).to_have_text(want["texts"]["accept_all"])
    expect(page.locator(REJECT)).to_have_text(want["texts"]["reject_all"])
    page.click(CUSTOMIZE)
    expect(banner.get_by_label(want["categories"]["marketing"]["title"])).not_to_be_checked()
    expect(banner).to_contain_text(want["texts"]["always_on"])


def test_floating_reopen_button_only_without_a_site_link(new_page: Any) -> None:
    page = new_page()
    page.route("**/_test/plain.html", lambda route: route.fulfill(
        content_type="text/html; charset=utf-8",
        body='<!doctype html><html lang="en"><body><p>No settings link here</p>'
             '<script src="/_consent/banner.js" defer></script></body></html>'))
    page.goto("/_test/plain.html")
    page.click(ACCEPT)
    reopen = page.get_by_role("button", name=texts("en")["texts"]["reopen"])
    expect(reopen).to_be_visible()
    reopen.click()
    expect(page.locator(BANNER)).to_be_visible()
    expect(toggle(page, "marketing")).to_be_checked()

    demo = new_page()
    open_demo(demo)
    demo.click(ACCEPT)
    expect(demo.locator(BANNER)).to_be_hidden()
    expect(demo.locator("#consent-reopen")).to_have_count(0)  # the demo page has its own link


def test_fails_closed_when_the_gateway_is_unreachable(page: Any) -> None:
    open_demo(page)
    page.click(ACCEPT)
    expect_loaded(page, "analytics", "marketing", "pixel", "video")
    page.route(f"**{STATE_PATH}", lambda route: route.abort())
    page.requested.clear()
    page.reload()
    expect(page.locator(BANNER)).to_be_visible()
    expect_nothing_loaded(page)


def test_banner_causes_no_layout_shift(new_page: Any) -> None:
    def main_box(page: Any) -> Any:
        return page.locator("main").evaluate(
            "el => { const r = el.getBoundingClientRect(); return [r.x, r.y, r.width, r.height, "
            "document.documentElement.scrollHeight] }")

    without = new_page()
    without.route("**/_consent/banner.js", lambda route: route.abort())
    without.goto("/")
    settle(without)
    page = new_page()
    open_demo(page)
    assert main_box(page) == main_box(without)


ORDER_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<script src="/_consent/banner.js" defer></script></head><body>
<script type="text/plain" data-consent-category="analytics" data-consent-src="/_test/first.js"></script>
<script type="text/plain" data-consent-category="analytics">window.__order.push("inline after first.js")</script>
<script type="text/plain" data-consent-category="analytics" data-consent-src="/_test/missing.js"></script>
<script type="text/plain" data-consent-category="analytics" data-consent-type="module">
  window.__order.push(this === undefined ? "module" : "classic")</script>
<script type="text/plain" data-consent-category="marketing">window.__order.push("marketing")</script>
<img id="img" alt="" data-consent-category="analytics" data-consent-src="/_test/a.gif"
     data-consent-srcset="/_test/a.gif 1x, /_test/b.gif 2x">
<div id="styled" data-consent-category="analytics" style="display:none" data-consent-style="color: rgb(1, 2, 3)">x</div>
<video id="video" data-consent-category="analytics" data-consent-poster="/_test/poster.gif"></video>
<link id="css" rel="stylesheet" data-consent-category="analytics" data-consent-href="/_test/a.css">
<style>#bg { background-image: url("data:,")/*consent-blocked:analytics:/_test/bg.gif?a=1%2A2*/ }
#mk { background-image: url("data:,")/*consent-blocked:marketing:/_test/mk.gif*/ }</style>
<div id="bg">bg</div><div id="mk">mk</div>
<script>window.__order = []</script>
</body></html>"""


def test_activation_keeps_document_order_and_restores_attributes(new_page: Any) -> None:
    page = new_page()
    page.route("**/_test/order.html", lambda r: r.fulfill(body=ORDER_PAGE, content_type="text/html; charset=utf-8"))
    page.route("**/_test/first.js", lambda r: r.fulfill(body='window.__order.push("first.js")',
                                                        content_type="text/javascript"))
    page.route("**/_test/missing.js", lambda r: r.fulfill(status=404, body=""))
    page.goto("/_test/order.html")
    page.evaluate("consentGateway.set({analytics: true})")
    page.wait_for_function("window.__order.length >= 3")
    settle(page)
    # An external script finishes before the next one starts; a failing one does not stop the rest.
    assert page.evaluate("window.__order") == ["first.js", "inline after first.js", "module"]
    assert page.get_attribute("#img", "src") == "/_test/a.gif"
    assert page.get_attribute("#img", "srcset") == "/_test/a.gif 1x, /_test/b.gif 2x"
    assert page.get_attribute("#styled", "style") == "color: rgb(1, 2, 3)"
    expect(page.locator("#styled")).to_be_visible()
    # The server rewriter's forms: poster, stylesheet links, url(...) in <style> blocks (only granted ones).
    assert page.get_attribute("#video", "poster") == "/_test/poster.gif"
    assert page.get_attribute("#css", "href") == "/_test/a.css"
    assert page.locator("#bg").evaluate("el => getComputedStyle(el).backgroundImage").endswith('/_test/bg.gif?a=1%2A2")')
    assert page.locator("#mk").evaluate("el => getComputedStyle(el).backgroundImage") == 'url("data:,")'
    for path in ("/_test/a.gif", "/_test/a.css", "/_test/bg.gif"):
        assert path in page.requested
    assert "/_test/mk.gif" not in page.requested


CONTRAST_JS = """root => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4 }); return 0.2126 * r + 0.7152 * g + 0.0722 * b };
  const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c } return [255, 255, 255] };
  const out = [];
  for (const el of root.querySelectorAll('h2, p, a, label, li, span, summary, button')) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(bg(el))].sort((x, y) => y - x);
    out.push([el.tagName + ' ' + el.textContent.trim().slice(0, 20), (a + 0.05) / (b + 0.05)]);
  }
  return out }"""


def test_banner_text_meets_wcag_aa_contrast(page: Any) -> None:
    open_demo(page)
    for layer in ("first", "second"):
        ratios = page.locator(BANNER).evaluate(CONTRAST_JS)
        assert len(ratios) >= 5
        low = [(what, round(ratio, 2)) for what, ratio in ratios if ratio < 4.5]
        assert low == [], f"{layer} layer"
        if layer == "first":
            page.click(CUSTOMIZE)
            page.locator(f"{BANNER} details").evaluate_all("ds => ds.forEach(d => { d.open = true })")

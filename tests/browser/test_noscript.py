"""A visitor without JavaScript: the page through the gateway carries a consent form that works without it."""

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

FORM = "form[data-consent-noscript]"
# Headless Chromium names itself HeadlessChrome, which the gateway counts as a bot (bots get no banner or form).
UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
      "Mobile Safari/537.36")
LOCALES = Path(__file__).resolve().parents[2] / "config" / "locales"


def texts(lang: str) -> dict[str, str]:
    return tomllib.loads((LOCALES / f"{lang}.toml").read_text(encoding="utf-8"))["texts"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("button", "action", "granted"), [("reject_all", "reject_all", False),
                                                           ("accept_all", "accept_all", True)])
def test_without_javascript_the_form_records_the_choice_and_comes_back(
        new_page: Any, button: str, action: str, granted: bool) -> None:
    page = new_page(java_script_enabled=False, viewport={"width": 320, "height": 568}, user_agent=UA)
    page.goto("/?from=ad")
    form = page.locator(FORM)
    expect(form).to_be_visible()
    submit = page.get_by_role("button", name=texts("ru")[button], exact=True)
    box = submit.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 320  # fits a phone
    with page.expect_navigation():
        submit.click()
    assert page.url.endswith("/?from=ad")  # back on the page it was sent from
    expect(page.locator(FORM)).to_have_count(0)  # decided: the page arrives without the form
    state = page.context.request.get("/_consent/state").json()
    assert state["decided"] and state["action"] == action and state["categories"]["marketing"] is granted
    assert [r["action"] for r in page.context.request.get("/_consent/receipt").json()["records"]] == [action]


def test_the_form_is_in_the_pages_language(new_page: Any) -> None:
    page = new_page(locale="en-US", java_script_enabled=False, user_agent=UA)
    page.goto("/")
    expect(page.get_by_role("button", name=texts("en")["reject_all"], exact=True)).to_be_visible()


def test_with_javascript_the_form_never_shows(new_page: Any) -> None:
    page = new_page(user_agent=UA)
    page.goto("/")
    expect(page.locator("#consent-banner")).to_be_visible()
    assert page.locator(FORM).count() == 0  # inside <noscript>, a scripting browser reads it as text

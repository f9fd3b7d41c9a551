"""`consent-gateway scan --offline` of the test site, directly and through the gateway: the exact inventory
per state, the planted bypass as a leak (exit 1), no leak from the clean site behind the gateway (exit 0)."""

from __future__ import annotations

import json
import re
import tomllib
import urllib.request
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from gateway.settings import Settings
from gateway.vendors import Catalogue

pytestmark = pytest.mark.browser

TRACKERS = [("connect.facebook.net", "script", "meta-pixel", "marketing"),
            ("mc.yandex.ru", "script", "yandex-metrika", "analytics"),
            ("pixel.unknown-tracker.test", "image", None, "marketing"),
            ("www.googletagmanager.com", "script", "google-tag-manager", "analytics")]
SITE_LANG = ("site_lang", "first", None, "necessary")
CONSENT = ("wgp_consent", "first", "consent-gateway", "necessary")
GA = ("_ga", "first", "google-analytics", "analytics")
FBP = ("_fbp", "first", "meta-pixel", "marketing")
THEME = [("site_theme", "local", None, "necessary")]
FAST = ["--offline", "--settle", "300", "--depth", "1"]


def _scan(tmp: Path, url: str, *extra: str) -> tuple[int, dict[str, Any], Path]:
    code = main(["scan", url, *FAST, "--json", str(tmp / "r.json"), "--html", str(tmp / "r.html"),
                 "--suggest", str(tmp / "s.toml"), *extra])
    return code, json.loads((tmp / "r.json").read_text()), tmp


def inventory(state: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "requests": [(r["host"], r["type"], r["vendor"], r["category"]) for r in state["requests"]],
        "cookies": [(c["name"], c["party"], c["vendor"], c["category"]) for c in state["cookies"]],
        "storage": [(k["key"], k["area"], k["vendor"], k["category"]) for k in state["storage"]],
    }


@pytest.fixture(scope="module")
def direct(chromium: str, site: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    return _scan(tmp_path_factory.mktemp("direct"), f"{site}/planted/")


@pytest.fixture(scope="module")
def behind(chromium: str, gateway: str, gateway_data: Path,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    # Stored into the gateway's own data folder, as an operator would: its declaration then shows this scan.
    return _scan(tmp_path_factory.mktemp("behind"), f"{gateway}/clean/", "--store", "--data-dir", str(gateway_data))


@pytest.fixture(scope="module")
def planted_behind(chromium: str, gateway: str,
                   tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    return _scan(tmp_path_factory.mktemp("planted"), f"{gateway}/planted/", "--pages", "1")


def test_direct_scan_finds_every_tracker_before_consent_and_exits_1(direct: Any, site: str) -> None:
    code, report, _ = direct
    assert code == 1
    assert report["banner"] is False and report["states_scanned"] == ["before"]
    assert any("no consent banner" in n for n in report["notes"])
    assert any("vendor scripts did not run" in n for n in report["notes"])
    assert [(p["url"], p["depth"]) for p in report["pages"]] == [(f"{site}/planted/", 0), (f"{site}/planted/about", 1)]
    for page in report["pages"]:
        assert list(page["states"]) == ["before"]
        assert inventory(page["states"]["before"]) == {
            "requests": TRACKERS, "cookies": [FBP, GA, SITE_LANG], "storage": THEME}
    gtm = report["pages"][0]["states"]["before"]["requests"][3]
    assert gtm["url"] == "https://www.googletagmanager.com/gtm.js"  # the query is dropped
    assert gtm["loads"] == ["load", "reload"]
    assert re.fullmatch(rf"script {re.escape(site)}/planted/:\d+", gtm["initiator"])


def test_the_planted_bypass_is_a_leak_naming_the_script_that_set_it(direct: Any, site: str) -> None:
    _, report, _ = direct
    fbp = [x for x in report["leaks"] if x["what"] == "_fbp"]
    assert [(x["page"], x["state"], x["kind"], x["vendor"], x["category"]) for x in fbp] == [
        (f"{site}/planted/", "before", "cookie", "meta-pixel", "marketing"),
        (f"{site}/planted/about", "before", "cookie", "meta-pixel", "marketing")]
    assert re.fullmatch(rf"{re.escape(site)}/planted/:14:\d+", fbp[0]["cause"])  # line 14: the planted script
    cookie = next(c for c in report["pages"][0]["states"]["before"]["cookies"] if c["name"] == "_fbp")
    assert (cookie["expires_days"], cookie["path"], cookie["http_only"]) == (90.0, "/", False)
    kinds = {(x["kind"], x["what"]) for x in report["leaks"] if x["page"] == f"{site}/planted/"}
    assert kinds == {("request", "https://connect.facebook.net/en_US/fbevents.js"),
                     ("request", "https://mc.yandex.ru/metrika/tag.js"),
                     ("request", "https://pixel.unknown-tracker.test/p.gif"),
                     ("request", "https://www.googletagmanager.com/gtm.js"),
                     ("cookie", "_fbp"), ("cookie", "_ga")}
    assert all(x["fix"] for x in report["leaks"])


def test_behind_the_gateway_nothing_loads_before_consent_or_after_reject(behind: Any, gateway: str) -> None:
    code, report, _ = behind
    assert report["leaks"] == []
    assert code == 0
    assert report["banner"] is True and report["states_scanned"] == ["before", "reject", "accept"]
    assert [p["url"] for p in report["pages"]] == [f"{gateway}/clean/", f"{gateway}/clean/about"]
    for page in report["pages"]:
        states = {name: inventory(s) for name, s in page["states"].items()}
        assert states == {
            "before": {"requests": [], "cookies": [SITE_LANG], "storage": THEME},
            "reject": {"requests": [], "cookies": [SITE_LANG, CONSENT], "storage": THEME},
            "accept": {"requests": TRACKERS, "cookies": [GA, SITE_LANG, CONSENT], "storage": THEME},
        }
    assert report["summary"]["requests_by_state"] == {
        "before": {"third_party": 0, "not_necessary": 0}, "reject": {"third_party": 0, "not_necessary": 0},
        "accept": {"third_party": 8, "not_necessary": 8}}


def test_the_planted_bypass_leaks_even_behind_the_gateway(planted_behind: Any, gateway: str) -> None:
    code, report, _ = planted_behind
    assert code == 1
    # No request leaks: the gateway held every tracker back. Only the disguised first-party cookie gets out;
    # the banner expires it on reject, and the page's script sets it again on the next load.
    assert [(x["state"], x["kind"], x["what"]) for x in report["leaks"]] == [
        ("before", "cookie", "_fbp"), ("reject", "cookie", "_fbp")]
    reject = report["pages"][0]["states"]["reject"]
    assert next(c["loads"] for c in reject["cookies"] if c["name"] == "_fbp") == ["reload"]


def test_unknown_hosts_are_suggested_for_review_as_valid_catalogue_entries(direct: Any) -> None:
    _, report, tmp = direct
    assert report["unknown"] == {"hosts": ["pixel.unknown-tracker.test"], "cookies": ["site_lang"]}
    text = (tmp / "s.toml").read_text()
    assert "REVIEW" in text
    suggested = tomllib.loads(text)
    assert suggested["vendors"]["review-unknown-tracker"]["category"] == "marketing"  # "pixel" in the host
    settings = Settings()
    catalogue = Catalogue.load(settings.config_file("vendors.toml"), suggested)
    vendor = catalogue.vendor_for_url("https://pixel.unknown-tracker.test/p.gif")
    assert vendor is not None and vendor.id == "review-unknown-tracker"


def test_vendors_are_summarised_with_hosts_cookies_and_page_counts(direct: Any) -> None:
    _, report, _ = direct
    assert [(v["vendor"], v["category"], v["hosts"], v["cookies"], v["pages"]) for v in report["vendors"]] == [
        ("google-analytics", "analytics", [], ["_ga"], 2),
        ("google-tag-manager", "analytics", ["www.googletagmanager.com"], [], 2),
        ("yandex-metrika", "analytics", ["mc.yandex.ru"], [], 2),
        ("meta-pixel", "marketing", ["connect.facebook.net"], ["_fbp"], 2)]
    assert report["summary"]["leaks"] == len(report["leaks"])


def test_html_report_is_self_contained_with_the_summary_first(direct: Any, behind: Any) -> None:
    for _, _report, tmp in (direct, behind):
        html = (tmp / "r.html").read_text()
        assert not re.search(r"<(script|link|img|iframe)\b", html)  # nothing fetched, nothing run
        assert "<svg" in html and "<style>" in html
        assert html.index("<h2>Leaks</h2>") < html.index("<h2>Vendors by category</h2>") < html.index("<h2>Pages</h2>")
        # The site's default language (ru) first, then the same report in kk and en behind the switch.
        assert '<html lang="ru">' in html and 'class="report first" id="report-ru"' in html
        assert html.index("<h2>Утечки</h2>") < html.index("<h2>Поставщики по категориям</h2>")
    assert "No leaks" in (behind[2] / "r.html").read_text()
    assert "Утечек нет" in (behind[2] / "r.html").read_text()
    assert "_fbp" in (direct[2] / "r.html").read_text()


def test_html_report_switches_language_by_its_links_without_script(direct: Any, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    url = (direct[2] / "r.html").as_uri()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox"])
        page = browser.new_page(java_script_enabled=False)
        page.goto(url)
        assert page.locator("h2:visible").first.inner_text() == "Утечки"
        page.click("#report-ru a[hreflang=kk]")
        assert page.locator("h2:visible").first.inner_text() == "Ағып кетулер"
        assert page.locator("#report-ru").is_hidden()
        page.click("#report-kk a[hreflang=en]")
        assert page.locator("h2:visible").first.inner_text() == "Leaks"
        page.goto(url + "#report-kk")
        assert page.locator("h2:visible").first.inner_text() == "Ағып кетулер"
        browser.close()


def test_scan_store_puts_its_date_and_cookies_into_the_gateway_declaration(behind: Any, gateway: str,
                                                                          gateway_data: Path) -> None:
    _, report, _ = behind
    stored = json.loads((gateway_data / "scan.json").read_text())
    assert stored["scanned_at"] == report["scanned_at"]
    assert {v["vendor"]: [c["name"] for c in v["cookies"]] for v in stored["vendors"]} == {
        "consent-gateway": ["wgp_consent"], "google-analytics": ["_ga"], "google-tag-manager": [],
        "yandex-metrika": [], "meta-pixel": []}
    with urllib.request.urlopen(f"{gateway}/_consent/declaration?lang=ru", timeout=10) as resp:
        html = unescape(resp.read().decode())
    day = report["scanned_at"][:10]
    assert f"Последнее сканирование сайта: {day}." in html
    # The lifetime the scan measured, not the catalogue's 730 days: the page asks two years, Chromium keeps 400 days.
    assert re.search(r"<code>_ga</code>: 400 дн\.", html)
    assert re.search(r"Этот сайт \(шлюз согласий\)</th><td>Хранит ваш выбор cookie\.</td><td>—</td><td>—</td>"
                     r"<td><ul><li><code>wgp_consent</code>: 1\d\d дн\.", html)

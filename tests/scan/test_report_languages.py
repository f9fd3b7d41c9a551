"""The scan's HTML report in ru, kk and en (one file, the chosen language first, a switch of links), and
`scan --store`'s summary: without a browser (tests/scan/test_scan.py scans the test site for real)."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from gateway.locales import UI_LANGUAGES, ui_texts
from gateway.resources import CONFIG_DIR
from gateway.scan.inventory import FIX_COOKIE, NECESSARY
from gateway.scan.report import render_html
from gateway.scan.scanner import NOTE_OFFLINE
from gateway.scan.stored import scan_summary, store_scan
from gateway.scanfile import OWN_VENDOR, read_scan

TEXTS = ui_texts("scan_report", lambda lang: CONFIG_DIR / "locales" / f"{lang}.toml")
SITE = "https://wgp.kz/"


def cookie(name: str, vendor: str | None, category: str, days: float | None, loads: list[str]) -> dict[str, Any]:
    return {"name": name, "domain": "wgp.kz", "path": "/", "expires_days": days, "party": "first", "secure": True,
            "http_only": False, "same_site": "Lax", "vendor": vendor, "category": category, "loads": loads}


def report() -> dict[str, Any]:
    ga = cookie("_ga", "google-analytics", "analytics", 729.9, ["load", "reload"])
    consent = cookie("wgp_consent", OWN_VENDOR, NECESSARY, 180.0, ["load"])
    request = {"host": "mc.yandex.ru", "url": "https://mc.yandex.ru/metrika/tag.js", "type": "script",
               "vendor": "yandex-metrika", "category": "analytics", "loads": ["load"]}
    empty: dict[str, Any] = {"requests": [], "cookies": [], "storage": []}
    pages = [{"url": SITE, "depth": 0, "states": {
        "before": {"requests": [], "cookies": [{**ga, "expires_days": 1.0}], "storage": []},
        "reject": {**empty, "cookies": [consent]},
        "accept": {"requests": [request], "cookies": [ga, consent],
                   "storage": [{"key": "_ym_uid", "area": "local", "vendor": "yandex-metrika",
                                "category": "analytics", "loads": ["load"]}]}}}]
    return {
        "site": SITE, "scanned_at": "2026-12-01T10:00:00Z", "generator": "consent-gateway 0.0", "banner": True,
        "offline": True, "states_scanned": ["before", "reject", "accept"], "stopped_by": "done",
        "duration_seconds": 3.2, "notes": [NOTE_OFFLINE],
        "summary": {"pages": 1, "leaks": 1, "vendors_by_category": {"analytics": ["Google Analytics"]},
                    "requests_by_state": {"before": {"third_party": 0, "not_necessary": 0},
                                          "reject": {"third_party": 0, "not_necessary": 0},
                                          "accept": {"third_party": 1, "not_necessary": 1}}},
        "pages": pages,
        "vendors": [{"vendor": "google-analytics", "name": "Google Analytics", "category": "analytics", "hosts": [],
                     "cookies": ["_ga"], "storage": [], "pages": 1},
                    {"vendor": "yandex-metrika", "name": "Yandex.Metrika", "category": "analytics",
                     "hosts": ["mc.yandex.ru"], "cookies": [], "storage": ["_ym_uid"], "pages": 1},
                    {"vendor": OWN_VENDOR, "name": "Consent gateway (the visitor's choice)", "category": NECESSARY,
                     "hosts": [], "cookies": ["wgp_consent"], "storage": [], "pages": 1}],
        "unknown": {"hosts": ["pixel.unknown.test"], "cookies": []},
        "leaks": [{"page": SITE, "state": "before", "kind": "cookie", "what": "_ga", "vendor": "google-analytics",
                   "category": "analytics", "fix": FIX_COOKIE.format(category="analytics")}],
    }


def sections(html: str) -> dict[str, str]:
    """Each language's part of the page, by its id."""
    return dict(re.findall(r'<div class="report(?: first)?" id="report-(\w+)" lang="\w+">(.*?)\n</div>', html, re.S))


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


@pytest.mark.parametrize("lang", UI_LANGUAGES)
def test_each_language_has_its_strings_and_the_chosen_one_is_shown_first(lang: str) -> None:
    html = render_html(report(), lang)
    assert f'<html lang="{lang}">' in html
    parts = sections(html)
    assert set(parts) == set(UI_LANGUAGES)
    assert re.search(rf'<div class="report first" id="report-{lang}"', html)  # shown when nothing is targeted
    assert html.count('class="report first"') == 1
    for code, part in parts.items():
        t, shown = TEXTS[code], text_of(part)
        for key in ("leaks", "vendors", "chart", "pages", "note_offline", "own_vendor", "necessary", "analytics",
                    "before", "reject", "accept", "stopped_done", "first_party", "reload", "unknown_title"):
            assert t[key] in shown, (code, key)
        assert t["leak_count"].replace("{n}", "1") in shown
        assert t["fix_cookie"].replace("{category_name}", t["analytics"]) in shown
        assert t["days"].replace("{days}", "729.9") in shown
        assert f'<title id="chart-title-{code}">{t["chart_title"]}</title>' in part  # ids stay unique
    ru = text_of(parts["ru"])
    assert [w for w in ("Leaks", "Vendors by category", "Pages", "Offline", "before a choice") if w in ru] == []


def test_the_switch_links_every_language_by_its_own_name() -> None:
    html = render_html(report(), "kk")
    for code, part in sections(html).items():
        links = re.findall(r'<a href="#report-(\w+)" hreflang="(\w+)" lang="\w+"( aria-current=true)?>([^<]+)</a>',
                           part)
        assert [(a, b, bool(c), d) for a, b, c, d in links] == [
            ("ru", "ru", code == "ru", "Русский"), ("kk", "kk", code == "kk", "Қазақша"),
            ("en", "en", code == "en", "English")]
    # The chosen language is last in the document so that a targeted other one can hide it with CSS alone.
    assert list(sections(html)) == ["ru", "en", "kk"]
    assert ".report:target~.first{display:none}" in html


def test_an_unknown_language_falls_back_to_english() -> None:
    html = render_html(report(), "de")
    assert '<html lang="en">' in html and 'class="report first" id="report-en"' in html


def test_no_leak_is_said_in_every_language() -> None:
    clean = {**report(), "leaks": []}
    parts = sections(render_html(clean, "ru"))
    for code, part in parts.items():
        assert TEXTS[code]["no_leaks"] in text_of(part)


def test_stored_summary_states_each_vendor_cookie_with_its_longest_lifetime(tmp_path: Path) -> None:
    doc = scan_summary(report())
    assert doc["scanned_at"] == "2026-12-01T10:00:00Z" and doc["site"] == SITE
    assert [(v["vendor"], v["category"], v["cookies"]) for v in doc["vendors"]] == [
        ("google-analytics", "analytics", [{"name": "_ga", "expires_days": 729.9}]),  # not the 1 day seen before
        ("yandex-metrika", "analytics", []),
        (OWN_VENDOR, NECESSARY, [{"name": "wgp_consent", "expires_days": 180.0}])]
    path = store_scan(report(), tmp_path / "data")
    stored = read_scan(tmp_path / "data")
    assert path == tmp_path / "data" / "scan.json" and stored is not None
    assert stored.scanned_at.isoformat() == "2026-12-01T10:00:00+00:00"
    assert [(c.name, c.expires_days) for v in stored.vendors for c in v.cookies] == [
        ("_ga", 729.9), ("wgp_consent", 180.0)]


def test_a_session_cookie_stays_one_unless_a_lifetime_was_seen() -> None:
    r = report()
    r["pages"][0]["states"]["accept"]["cookies"][0]["expires_days"] = None
    r["pages"][0]["states"]["before"]["cookies"][0]["expires_days"] = None
    assert scan_summary(r)["vendors"][0]["cookies"] == [{"name": "_ga", "expires_days": None}]
    r["pages"][0]["states"]["before"]["cookies"][0]["expires_days"] = 2.0
    assert scan_summary(r)["vendors"][0]["cookies"] == [{"name": "_ga", "expires_days": 2.0}]

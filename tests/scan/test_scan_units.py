"""The scan's pure parts and its one-line errors, without a browser."""

from __future__ import annotations

import argparse

import pytest

from gateway.cli import main
from gateway.scan.command import duration
from gateway.scan.crawler import same_site_link
from gateway.scan.inventory import Inventory, leaks
from gateway.scan.suggest import guess_category
from gateway.settings import Settings
from gateway.vendors import Catalogue

ORIGIN = "https://wgp.kz"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    settings = Settings()
    return Inventory(Catalogue.load(settings.config_file("vendors.toml")), "wgp.kz", settings.cookie_name)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("1h", 3600), ("1.5m", 90)])
def test_durations(text: str, seconds: float) -> None:
    assert duration(text) == seconds


def test_a_bad_duration_is_refused() -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        duration("ten minutes")


@pytest.mark.parametrize(("href", "expected"), [
    ("https://wgp.kz/about#team", "https://wgp.kz/about"),
    ("https://wgp.kz/?page=2", "https://wgp.kz/?page=2"),
    ("https://www.wgp.kz/", None),
    ("http://wgp.kz/", None),
    ("https://wgp.kz/brochure.PDF", None),
    ("mailto:info@wgp.kz", None),
])
def test_same_site_links(href: str, expected: str | None) -> None:
    assert same_site_link(href, ORIGIN) == expected


def test_requests_are_classified_by_the_catalogue(inv: Inventory) -> None:
    assert inv.request("https://mc.yandex.ru/watch/1?x=1", "image")["vendor"] == "yandex-metrika"
    cdn = inv.request("https://cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js", "script")
    assert (cdn["vendor"], cdn["category"], cdn.get("allowed")) == (None, "necessary", True)
    unknown = inv.request("https://t.example.org/p.gif?id=1", "image")
    assert (unknown["url"], unknown["vendor"], unknown["category"]) == ("https://t.example.org/p.gif", None, "marketing")
    assert inv.is_third_party_url("https://cdn.wgp.kz/x.js") and not inv.is_third_party_url("https://wgp.kz/x.js")


def test_cookies_are_first_or_third_party_and_unknown_third_party_ones_are_marketing(inv: Inventory) -> None:
    now = 1_700_000_000.0
    first = inv.cookie({"name": "_ym_uid", "domain": ".wgp.kz", "expires": now + 86400 * 365}, now)
    assert (first["party"], first["vendor"], first["category"], first["expires_days"]) == (
        "first", "yandex-metrika", "analytics", 365.0)
    session = inv.cookie({"name": "sid", "domain": "wgp.kz", "expires": -1}, now)
    assert (session["category"], session["expires_days"]) == ("necessary", None)
    third = inv.cookie({"name": "uid", "domain": ".tracker.example", "expires": -1}, now)
    assert (third["party"], third["category"]) == ("third", "marketing")
    assert inv.cookie({"name": "wgp_consent", "domain": "wgp.kz"}, now)["vendor"] == "consent-gateway"


def test_only_the_before_and_reject_states_can_leak(inv: Inventory) -> None:
    ga = {"name": "_ga", "vendor": "google-analytics", "category": "analytics"}
    state = {"requests": [], "cookies": [ga], "storage": [{"key": "_ym_uid", "area": "local",
                                                             "vendor": "yandex-metrika", "category": "analytics"}]}
    page = {"url": "https://wgp.kz/", "states": {"before": state, "reject": state, "accept": state}}
    assert [(x["state"], x["kind"], x["what"]) for x in leaks([page])] == [
        ("before", "cookie", "_ga"), ("before", "storage", "localStorage._ym_uid"),
        ("reject", "cookie", "_ga"), ("reject", "storage", "localStorage._ym_uid")]


@pytest.mark.parametrize(("names", "category"), [
    (("stats.example.com",), "analytics"), (("ads.example.net",), "marketing"), (("csrftoken",), "necessary"),
    (("site_lang",), "preferences"), (("x9.example.org",), "marketing"),
])
def test_category_guesses(names: tuple[str, ...], category: str) -> None:
    assert guess_category(*names) == category


@pytest.mark.parametrize(("args", "message"), [
    (["ftp://wgp.kz/"], "is not an http(s) URL"),
    (["wgp.kz"], "is not an http(s) URL"),
    (["https://wgp.kz/", "--chromium", "/nonexistent/chromium"], "Chromium not found at /nonexistent/chromium"),
])
def test_a_scan_that_cannot_run_is_one_line_and_exit_2(args: list[str], message: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("consent-gateway scan: error:")

"""Through the reverse proxy, in headless Chromium with every request recorded.

A realistic page carrying the real public snippets of GTM, GA4, Meta Pixel, LinkedIn Insight, Yandex.Metrika,
a YouTube iframe, jQuery from a CDN and a first-party script is served by a local upstream; the gateway runs
`consent-gateway serve --upstream` in a subprocess. Third-party hosts are answered by the test's own routing,
never the network.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from tests.servers import serve_in_thread

from .conftest import serve_gateway

pytestmark = pytest.mark.browser
SITE_DIR = Path(__file__).parent / "site"
ROOT = Path(__file__).resolve().parents[2]
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36")
ANALYTICS_HOSTS = ("www.googletagmanager.com", "mc.yandex.ru")
MARKETING_HOSTS = ("connect.facebook.net", "www.facebook.com", "snap.licdn.com", "px.ads.linkedin.com",
                   "www.youtube.com")
TRACKER_SUFFIXES = ("googletagmanager.com", "google-analytics.com", "yandex.ru", "facebook.net", "facebook.com",
                    "licdn.com", "linkedin.com", "youtube.com", "doubleclick.net")
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def _upstream_app() -> Starlette:
    return Starlette(routes=[
        Route("/", lambda r: FileResponse(SITE_DIR / "index.html", media_type="text/html; charset=utf-8")),
        Route("/static/site.js", lambda r: FileResponse(SITE_DIR / "site.js", media_type="text/javascript")),
        Route("/favicon.ico", lambda r: Response(status_code=204)),
    ])


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    yield from serve_in_thread(_upstream_app())


@pytest.fixture(scope="module")
def gateway(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_gateway(upstream, tmp_path_factory.mktemp("proxy-gateway"))


@pytest.fixture(scope="module")
def gateway_vendors(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The setting for sites that prefer no reload: known vendors admitted before a choice."""
    yield from serve_gateway(upstream, tmp_path_factory.mktemp("proxy-gateway-vendors"), "csp_first_visit=vendors")


@pytest.fixture
def visit(browser: Any, gateway: str, gateway_vendors: str) -> Iterator[Any]:
    """A fresh visitor: own cookies, every request recorded, third parties answered locally."""
    contexts: list[Any] = []

    def make(base: str = gateway) -> Any:
        context = browser.new_context(base_url=base, user_agent=UA, locale="ru-RU")
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.hosts = []  # type: ignore[attr-defined]

        def third_party(route: Any) -> None:
            url = route.request.url
            page.hosts.append(urlsplit(url).hostname)
            if route.request.resource_type == "image":
                route.fulfill(status=200, body=GIF, content_type="image/gif")
            elif route.request.resource_type in ("document", "iframe") or "/embed/" in url:
                route.fulfill(status=200, body="<html><body>embedded</body></html>", content_type="text/html")
            elif "jquery" in url:
                route.fulfill(status=200, body="window.jQuery = function () {};", content_type="text/javascript")
            else:
                route.fulfill(status=200, body="/* stand-in */", content_type="text/javascript")

        context.route(lambda url: urlsplit(url).hostname != "127.0.0.1", third_party)
        return page

    yield make
    for context in contexts:
        context.close()


def trackers(page: Any) -> list[str]:
    return sorted({h for h in page.hosts if h.endswith(TRACKER_SUFFIXES)})


def open_page(page: Any) -> None:
    page.goto("/")
    page.wait_for_selector("#consent-banner [data-consent-action='accept-all']", state="visible")
    page.wait_for_timeout(300)
    assert page.evaluate("document.documentElement.dataset.firstParty") == "ran"
    assert page.evaluate("document.documentElement.dataset.jquery") == "function"
    assert "cdnjs.cloudflare.com" in page.hosts


def wait_for_hosts(page: Any, *hosts: str, seconds: float = 5) -> None:
    """Give activated tags time to request their hosts (the assertions that follow say what must be there)."""
    deadline = time.monotonic() + seconds
    while not all(h in page.hosts for h in hosts) and time.monotonic() < deadline:
        page.wait_for_timeout(100)


def choose_analytics_only(page: Any) -> None:
    page.click("[data-consent-action='customize']")
    page.check("input[data-consent-category='analytics']")
    page.click("[data-consent-action='save']")


def test_no_tracker_before_a_choice(visit: Any) -> None:
    page = visit()
    open_page(page)
    assert trackers(page) == []


def test_no_tracker_after_reject_all_also_after_reload(visit: Any) -> None:
    page = visit()
    open_page(page)
    page.click("[data-consent-action='reject-all']")
    page.wait_for_timeout(500)
    page.reload()
    page.wait_for_timeout(500)
    assert page.evaluate("document.documentElement.dataset.firstParty") == "ran"
    assert trackers(page) == []


def test_accept_all_reloads_once_and_loads_every_tracker(visit: Any) -> None:
    """Before a choice the CSP admits only what a refusal does, so the first wider choice reloads the page."""
    page = visit()
    open_page(page)
    with page.expect_navigation():
        page.click("[data-consent-action='accept-all']")
    for host in ANALYTICS_HOSTS + ("connect.facebook.net", "snap.licdn.com", "www.youtube.com"):
        wait_for_hosts(page, host)
        assert host in page.hosts, f"{host} did not load after accept-all: {sorted(set(page.hosts))}"
    assert "www.googletagmanager.com" in page.hosts
    assert page.evaluate("window.cspViolations || []") == []
    assert page.evaluate("document.documentElement.dataset.firstParty") == "ran"


def test_with_vendors_admitted_before_a_choice_accept_all_needs_no_reload(visit: Any, gateway_vendors: str) -> None:
    page = visit(gateway_vendors)
    open_page(page)
    page.evaluate("window.__sameDocument = true")
    page.click("[data-consent-action='accept-all']")
    for host in ANALYTICS_HOSTS + ("connect.facebook.net", "snap.licdn.com", "www.youtube.com"):
        wait_for_hosts(page, host)
        assert host in page.hosts, f"{host} did not load after accept-all: {sorted(set(page.hosts))}"
    assert page.evaluate("window.__sameDocument") is True


def test_a_tracker_a_site_script_injects_before_any_choice_is_refused_and_reported(visit: Any) -> None:
    page = visit()
    open_page(page)
    with page.expect_request(lambda r: r.url.endswith("/_consent/csp-report") and r.method == "POST") as report:
        page.evaluate("injectTracker('https://connect.facebook.net/en_US/fbevents.js')")
    assert "connect.facebook.net" in report.value.post_data
    page.wait_for_timeout(300)
    assert "connect.facebook.net" not in page.hosts
    assert any("connect.facebook.net" in b for b in page.evaluate("window.cspViolations || []"))


def test_analytics_only_loads_only_analytics(visit: Any) -> None:
    page = visit()
    open_page(page)
    choose_analytics_only(page)
    wait_for_hosts(page, *ANALYTICS_HOSTS)
    page.wait_for_timeout(500)
    assert all(h in page.hosts for h in ANALYTICS_HOSTS), sorted(set(page.hosts))
    assert not any(h in page.hosts for h in MARKETING_HOSTS), sorted(set(page.hosts))


def test_csp_stops_a_tracker_injected_after_analytics_only_consent(visit: Any) -> None:
    page = visit()
    open_page(page)
    choose_analytics_only(page)
    page.wait_for_timeout(300)
    page.reload()
    page.wait_for_timeout(500)
    assert all(h in page.hosts for h in ANALYTICS_HOSTS)
    page.evaluate("injectTracker('https://connect.facebook.net/en_US/fbevents.js')")
    page.evaluate("injectTracker('https://unknown-tracker.example/t.js')")
    page.wait_for_timeout(700)
    assert "connect.facebook.net" not in page.hosts and "unknown-tracker.example" not in page.hosts
    blocked = page.evaluate("window.cspViolations || []")
    assert any("connect.facebook.net" in b for b in blocked), blocked


def test_widening_a_decided_choice_reloads_to_pick_up_the_wider_policy(visit: Any) -> None:
    page = visit()
    open_page(page)
    choose_analytics_only(page)
    page.wait_for_timeout(300)
    page.reload()
    page.wait_for_function("() => window.consentGateway && window.consentGateway.getConsent().decided")
    assert not any(h in page.hosts for h in MARKETING_HOSTS)
    with page.expect_navigation():
        page.evaluate("window.consentGateway.acceptAll()")
    wait_for_hosts(page, "connect.facebook.net")
    assert "connect.facebook.net" in page.hosts and "www.youtube.com" in page.hosts
    assert page.evaluate("window.cspViolations || []") == []


def test_blocked_video_shows_a_placeholder_until_its_button_loads_it(visit: Any) -> None:
    page = visit()
    open_page(page)
    page.click("[data-consent-action='reject-all']")
    page.wait_for_timeout(300)
    iframe = page.locator("iframe[title='YouTube video player']")
    placeholder = page.locator(".consent-placeholder")
    assert not iframe.is_visible() and placeholder.is_visible()
    assert "YouTube" in placeholder.inner_text()
    placeholder.locator("button").click()
    page.wait_for_function("() => document.querySelector(\"iframe[title='YouTube video player']\").src")
    assert iframe.is_visible() and placeholder.count() == 0
    wait_for_hosts(page, "www.youtube.com")
    assert "www.youtube.com" in page.hosts

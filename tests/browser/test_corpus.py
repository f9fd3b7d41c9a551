"""The regression corpus (tests/corpus/) through `consent-gateway serve --upstream`, in Chromium, in every state.

Each page of tests/corpus/manifest.toml is served by a local upstream with its declared Content-Type, and
visited through the gateway by a fresh visitor (own cookies) for each consent state. Every request to a host
other than 127.0.0.1 is answered by this module's routing (a stand-in of the vendor's library from
tests/corpus/_thirdparty/, a 1x1 GIF, a small frame) and recorded: nothing leaves the machine.

A tracker request is one to a host that config/vendors.toml puts in a category other than "necessary", or to
an unknown third party (unknown means marketing). What each page must load once allowed, and the site's own
behaviour that must hold in every state, are the manifest's. Cases that fail today are xfail(strict) with the
issue-10 item that fixes them, from the manifest's [page.xfail] tables; docs/CORPUS.md has the table.
"""

from __future__ import annotations

import json
import re
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.vendors import Catalogue
from tests.servers import serve_in_thread

from .conftest import serve_gateway

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus"
STUBS = CORPUS / "_thirdparty"
JQUERY = CORPUS / "wp-lazy" / "wp-includes" / "js" / "jquery" / "jquery.min.js"
CATALOGUE = Catalogue.load(ROOT / "config" / "vendors.toml")
FIRST_PARTY = frozenset({"127.0.0.1"})
NECESSARY = "necessary"
ANALYTICS = "analytics"
ADMIN_TOKEN = "corpus-admin-token-" + "t" * 24
SECRET_KEY = "corpus-test-key-" + "k" * 32
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36")
PHONE = {"width": 320, "height": 568}
DESKTOP = {"width": 1280, "height": 800}
SETTLE_MS = 500          # after load: time for async tags, lazy loaders and late injections to fire
STABLE_MS = 300         # a choice counts once it held this long with no navigation begun (the reload starts at once)
VENDOR_WAIT_S = 3.0      # after a grant: how long granted vendors may take to show up
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
PLACEHOLDER_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300"><rect width="400" height="300" '
                   'fill="#c9d3dd"/><path d="M0 300 L140 150 L220 230 L290 170 L400 300Z" fill="#9fb0c2"/></svg>')
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".svg", ".ico")
TYPES = {".js": "text/javascript", ".css": "text/css", ".json": "application/json", ".svg": "image/svg+xml",
         ".gif": "image/gif", ".png": "image/png", ".jpg": "image/jpeg", ".html": "text/html; charset=utf-8"}

# Third-party stand-ins: (host suffix, path substring, file in tests/corpus/_thirdparty/ or "jquery").
STAND_INS = [
    ("connect.facebook.net", "fbevents.js", "fbevents.js"),
    ("mc.yandex.ru", "/metrika/tag.js", "metrika-tag.js"),
    ("googletagmanager.com", "/gtm.js", "gtm.js"),
    ("googletagmanager.com", "/gtag/js", "gtag.js"),
    ("analytics.tiktok.com", "/i18n/pixel/events.js", "tiktok-events.js"),
    ("top-fwz1.mail.ru", "/js/code.js", "tmr-code.js"),
    ("vk.com", "/js/api/", "vk-openapi.js"),
    ("snap.licdn.com", "insight.min.js", "insight.js"),
    ("static.hotjar.com", "/c/hotjar-", "hotjar.js"),
    ("t.contentsquare.net", "/uxa/", "contentsquare.js"),
    ("www.clarity.ms", "/tag/", "clarity-tag.js"),
    ("jivo.ru", "/widget/", "jivo.js"),
    ("jivosite.com", "/widget/", "jivo.js"),
    ("bitrix24.kz", "/loader_", "b24-loader.js"),
    ("bitrix24.ru", "/loader_", "b24-loader.js"),
    ("widgets.2gis.com", "DGWidgetLoader.js", "dgwidget.js"),
    ("api-maps.yandex.ru", "/", "ymaps.js"),
    ("connect.ok.ru", "/connect.js", "ok-connect.js"),
    ("static.tildacdn.com", "/js/tilda-scripts", "tilda-scripts.js"),
    ("static.tildacdn.com", "/js/tilda-stat", "tilda-stat.js"),
    ("static.tildacdn.com", "/js/jquery", "jquery"),
    ("cdn.jsdelivr.net", "lazysizes", "lazysizes.js"),
    ("", "jquery", "jquery"),
]


@dataclass(frozen=True)
class Vendor:
    id: str
    category: str
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    id: str
    path: str
    file: str
    content_type: str
    markers: dict[str, str]
    vendors: tuple[Vendor, ...]
    actions: tuple[str, ...] = ()
    untouched: tuple[str, ...] = ()
    csp_refused: tuple[str, ...] = ()
    settle_ms: int = SETTLE_MS
    xfail: dict[str, str] = field(default_factory=dict)

    def hosts(self, *categories: str) -> list[str]:
        return sorted({h for v in self.vendors if v.category in categories for h in v.hosts})


def _load_pages() -> list[Page]:
    with open(CORPUS / "manifest.toml", "rb") as f:
        doc = tomllib.load(f)
    pages = []
    for p in doc["page"]:
        vendors = tuple(Vendor(vid, v["category"], tuple(v["hosts"])) for vid, v in p.get("vendors", {}).items())
        pages.append(Page(id=p["id"], path=p["path"], file=p["file"], content_type=p["content_type"],
                          markers=dict(p.get("markers", {})), vendors=vendors, actions=tuple(p.get("actions", ())),
                          untouched=tuple(p.get("untouched", ())), csp_refused=tuple(p.get("csp_refused", ())),
                          settle_ms=int(p.get("settle_ms", SETTLE_MS)), xfail=dict(p.get("xfail", {}))))
    return pages


PAGES = _load_pages()
BY_PATH = {p.path: p for p in PAGES}


def cases(state: str, pages: list[Page] = PAGES) -> list[Any]:
    """One parameter per page; xfail(strict) where the manifest says this state fails today, and why."""
    return [pytest.param(p, id=p.id, marks=[pytest.mark.xfail(strict=True, reason=p.xfail[state])]
                         if state in p.xfail else []) for p in pages]


def is_tracker(url: str) -> bool:
    return CATALOGUE.category_for_url(url, FIRST_PARTY) not in (None, NECESSARY)


# ---- the upstream: tests/corpus/ with each page's declared Content-Type ---------------------------------------

async def _serve(request: Request) -> Response:
    path = request.url.path
    page = BY_PATH.get(path)
    if page is not None:
        return Response((CORPUS / page.file).read_bytes(), headers={"content-type": page.content_type})
    target = (CORPUS / path.lstrip("/")).resolve()
    if CORPUS in target.parents and target.is_file():
        return Response(target.read_bytes(), media_type=TYPES.get(target.suffix, "application/octet-stream"))
    if path.lower().endswith(IMAGE_SUFFIXES):
        return Response(PLACEHOLDER_SVG, media_type="image/svg+xml")
    return Response("not found", status_code=404, media_type="text/plain")


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    yield from serve_in_thread(Starlette(routes=[Route("/{path:path}", _serve)]))


@pytest.fixture(scope="module")
def gateway(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_gateway(upstream, tmp_path_factory.mktemp("corpus-gateway"), "access_log=true",
                             env={"GATEWAY_SECRET_KEYS": SECRET_KEY, "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN})


# ---- third parties, answered locally ----------------------------------------------------------------------------

def _stand_in(url: str, resource_type: str) -> tuple[bytes | str, str]:
    parts = urlsplit(url)
    host, rest = parts.hostname or "", parts.path + ("?" + parts.query if parts.query else "")
    if resource_type in ("script", "other", "fetch", "xhr") or rest.endswith(".js"):
        for suffix, needle, name in STAND_INS:
            if host.endswith(suffix) and needle in rest:
                body = JQUERY.read_bytes() if name == "jquery" else (STUBS / name).read_bytes()
                return body, "text/javascript"
    if resource_type == "image":
        return GIF, "image/gif"
    if resource_type in ("document", "iframe", "sub_frame"):
        return f"<!doctype html><html><body style='margin:0;background:#333;color:#fff;font:14px Arial'>{host}</body></html>", "text/html"
    if resource_type == "stylesheet":
        return "/* stand-in */", "text/css"
    if resource_type == "script":
        return (STUBS / "generic.js").read_bytes(), "text/javascript"
    return b"", "text/plain"


class Visitor:
    """One browser context (own cookies) with every third-party request recorded and answered locally."""

    def __init__(self, browser: Any, base_url: str, viewport: dict[str, int] = DESKTOP) -> None:
        self.context = browser.new_context(base_url=base_url, user_agent=UA, locale="ru-RU", viewport=viewport)
        self.context.set_default_timeout(10_000)
        self.requests: list[str] = []
        self.context.route(lambda url: urlsplit(url).hostname != "127.0.0.1", self._third_party)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.pending: dict[Any, str] = {}
        self.page.on("request", lambda r: self.pending.__setitem__(r, r.url) if "/_consent/" in r.url else None)
        self.page.on("requestfinished", lambda r: self.pending.pop(r, None))
        self.page.on("requestfailed", lambda r: self.pending.__setitem__(r, f"FAILED {r.url} {r.failure}"))
        self.navigations = 0  # main-frame documents requested: a reload the banner asks for shows up here first
        self.page.on("request", self._count_navigation)

    def _count_navigation(self, request: Any) -> None:
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            self.navigations += 1

    def _third_party(self, route: Any) -> None:
        self.requests.append(route.request.url)
        body, content_type = _stand_in(route.request.url, route.request.resource_type)
        route.fulfill(status=200, body=body, content_type=content_type)

    def hosts(self) -> set[str]:
        return {urlsplit(u).hostname or "" for u in self.requests}

    def trackers(self) -> list[str]:
        return sorted({u for u in self.requests if is_tracker(u)})

    def open(self, page: Page) -> None:
        self.page.goto(page.path, wait_until="load")
        self.page.wait_for_timeout(page.settle_ms)

    def settle(self, page: Page) -> None:
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(page.settle_ms)

    def broken_markers(self, page: Page) -> list[str]:
        """The page's own behaviours that did not happen (after running its actions)."""
        for action in page.actions:
            self.page.evaluate(f"() => {{ try {{ {action} }} catch (e) {{ }} }}")
        self.page.wait_for_timeout(150)
        return [name for name, expr in page.markers.items()
                if self.page.evaluate(f"() => {{ try {{ return !!({expr}); }} catch (e) {{ return false; }} }}")
                is not True]

    def decided(self) -> bool:
        return bool(self._evaluate("() => !!(window.consentGateway && window.consentGateway.getConsent().decided)"))

    def _evaluate(self, expr: str) -> Any:
        for _ in range(50):  # the banner may reload the page after a choice: retry across the navigation
            try:
                return self.page.evaluate(expr)
            except Exception:  # noqa: BLE001 - "execution context was destroyed" while navigating
                self.page.wait_for_timeout(100)
        return None

    def choose(self, action: str, page: Page) -> None:
        """Click a first-layer button of the banner, then wait for the choice (and any reload it makes)."""
        self.page.click(f"#consent-banner [data-consent-action='{action}']")
        self._wait_decided(page)

    def choose_analytics_only(self, page: Page) -> None:
        self.page.click("#consent-banner [data-consent-action='customize']")
        self.page.check("#consent-banner input[data-consent-category='analytics']")
        self.page.click("#consent-banner [data-consent-action='save']")
        self._wait_decided(page)

    def _wait_decided(self, page: Page) -> None:
        """Wait until the choice holds on a loaded page that stays put. The banner reloads the page after a choice
        wider than the page's CSP: until the new document commits, the old one still answers "decided", and the
        new one answers "undecided" until its own state request returns."""
        deadline = time.monotonic() + 25  # generous: a loaded 2-core machine took over 10 s for POST and reload
        while time.monotonic() < deadline:
            navigations = self.navigations
            if self.decided() and self._evaluate("() => document.readyState") == "complete":
                self.page.wait_for_timeout(STABLE_MS)
                if self.navigations == navigations and self.decided():
                    break
            self.page.wait_for_timeout(100)
        else:
            cookies = [c["name"] for c in self.page.context.cookies()]
            state = self._evaluate("() => [location.href, document.readyState, !!window.consentGateway, "
                                   "!!document.querySelector('#consent-banner')]")
            raise AssertionError(f"the banner did not record the choice: page {state}, cookies {cookies}, "
                                 f"errors {self.errors}, consent requests unfinished {list(self.pending.values())}")
        self.settle(page)

    def wait_for_hosts(self, hosts: list[str]) -> None:
        deadline = time.monotonic() + VENDOR_WAIT_S
        while not set(hosts) <= self.hosts() and time.monotonic() < deadline:
            self.page.wait_for_timeout(100)

    def reload(self, page: Page) -> None:
        self.requests.clear()
        self.page.reload(wait_until="load")
        self.page.wait_for_timeout(page.settle_ms)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visitor(browser: Any, gateway: str) -> Iterator[Any]:
    made: list[Visitor] = []

    def make(viewport: dict[str, int] = DESKTOP) -> Visitor:
        made.append(Visitor(browser, gateway, viewport))
        return made[-1]

    yield make
    for v in made:
        v.close()


@pytest.fixture(scope="module")
def direct(browser: Any, upstream: str) -> Iterator[dict[str, dict[str, Any]]]:
    """Each page served straight from the upstream (no gateway): its document mode, what it requests, its markers."""
    results: dict[str, dict[str, Any]] = {}
    v = Visitor(browser, upstream)
    for page in PAGES:
        v.requests.clear()
        v.open(page)
        v.wait_for_hosts(page.hosts(NECESSARY, "preferences", ANALYTICS, "marketing"))
        results[page.id] = {"mode": v.page.evaluate("document.compatMode"), "hosts": v.hosts(),
                            "broken": v.broken_markers(page)}
    v.close()
    yield results


def missing(visitor: Visitor, hosts: list[str]) -> list[str]:
    visitor.wait_for_hosts(hosts)
    return sorted(set(hosts) - visitor.hosts())


def must_not_load(visitor: Visitor, page: Page, *categories: str) -> list[str]:
    """Requests to the hosts of the page's vendors of these categories."""
    return sorted(u for u in visitor.requests if urlsplit(u).hostname in page.hosts(*categories))


# ---- the corpus itself -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=[p.id for p in PAGES])
def test_served_directly_every_vendor_loads_and_every_behaviour_holds(page: Page, direct: Any) -> None:
    """The corpus is sound: without the gateway each page requests every listed vendor and its own code works,
    so a failure through the gateway is the gateway's."""
    seen = direct[page.id]
    assert seen["broken"] == [], f"{page.id}: markers fail even without the gateway: {seen['broken']}"
    absent = sorted(set(page.hosts(NECESSARY, "preferences", ANALYTICS, "marketing")) - seen["hosts"])
    assert absent == [], f"{page.id}: vendors not requested even without the gateway: {absent}"


# ---- through the gateway, state by state -----------------------------------------------------------------------

@pytest.mark.parametrize("page", cases("undecided"))
def test_undecided_no_tracker_and_own_code_intact(page: Page, visitor: Any) -> None:
    v = visitor()
    v.open(page)
    assert v.trackers() == [], f"tracker requests before any choice: {v.trackers()}"
    assert v.broken_markers(page) == [], f"own behaviour broken: {v.broken_markers(page)}; errors: {v.errors}"
    assert missing(v, page.hosts(NECESSARY)) == []
    assert v.trackers() == [], f"tracker requests before any choice (after the page's actions): {v.trackers()}"


@pytest.mark.parametrize("page", cases("document_mode"))
def test_document_mode_is_the_same_as_served_directly(page: Page, visitor: Any, direct: Any) -> None:
    v = visitor()
    v.page.goto(page.path, wait_until="domcontentloaded")
    assert v.page.evaluate("document.compatMode") == direct[page.id]["mode"]


@pytest.mark.parametrize("page", cases("reject"))
def test_reject_all_no_tracker_also_after_reload(page: Page, visitor: Any) -> None:
    v = visitor()
    v.open(page)
    v.choose("reject-all", page)
    assert v.trackers() == [], f"tracker requests after reject-all: {v.trackers()}"
    assert v.broken_markers(page) == [], f"own behaviour broken after reject-all: {v.errors}"
    v.reload(page)
    assert v.broken_markers(page) == [], f"own behaviour broken after reject-all and reload: {v.errors}"
    assert missing(v, page.hosts(NECESSARY)) == []
    assert v.trackers() == [], f"tracker requests after reject-all and reload: {v.trackers()}"


@pytest.mark.parametrize("page", cases("accept"))
def test_accept_all_loads_every_vendor_without_reload(page: Page, visitor: Any) -> None:
    v = visitor()
    v.open(page)
    v.choose("accept-all", page)
    absent = missing(v, page.hosts(NECESSARY, "preferences", ANALYTICS, "marketing"))
    assert absent == [], f"granted but never requested: {absent}"
    assert v.broken_markers(page) == [], f"own behaviour broken after accept-all: {v.errors}"


@pytest.mark.parametrize("page", cases("accept_reload"))
def test_accept_all_loads_every_vendor_after_reload(page: Page, visitor: Any) -> None:
    v = visitor()
    v.open(page)
    v.choose("accept-all", page)
    v.reload(page)
    absent = missing(v, page.hosts(NECESSARY, "preferences", ANALYTICS, "marketing"))
    assert absent == [], f"granted but not requested after reload: {absent}"
    assert v.broken_markers(page) == [], f"own behaviour broken after accept-all and reload: {v.errors}"


@pytest.mark.parametrize("page", cases("analytics"))
def test_analytics_only_loads_analytics_and_nothing_else(page: Page, visitor: Any) -> None:
    v = visitor()
    v.open(page)
    v.choose_analytics_only(page)
    absent = missing(v, page.hosts(ANALYTICS))
    assert absent == [], f"analytics granted, not requested: {absent}"
    assert must_not_load(v, page, "preferences", "marketing") == [], "not granted, requested"
    assert v.broken_markers(page) == [], f"own behaviour broken with analytics only: {v.errors}"
    v.reload(page)
    assert missing(v, page.hosts(ANALYTICS)) == [], "analytics not requested after reload"
    assert must_not_load(v, page, "preferences", "marketing") == [], "not granted, requested after reload"
    assert v.broken_markers(page) == [], f"own behaviour broken with analytics only, after reload: {v.errors}"


# ---- bytes and the browser's own enforcement --------------------------------------------------------------------

def _fetch(url: str, cookie: str | None = None) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": UA, **({"Cookie": cookie} if cookie else {})})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return bytes(resp.read())


def _reject_cookie(gateway: str) -> str:
    req = urllib.request.Request(gateway + "/_consent/state", method="PUT", data=b'{"action": "reject_all"}',
                                 headers={"Content-Type": "application/json", "Origin": gateway, "User-Agent": UA})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return "; ".join(c.split(";", 1)[0] for c in resp.headers.get_all("Set-Cookie"))


def own_script(source: bytes, element_id: str) -> bytes:
    m = re.search(rb"<script\b[^>]*\bid=[\"']?" + re.escape(element_id.encode()) + rb"\b[^>]*>.*?</script>",
                  source, re.DOTALL)
    assert m, f"no <script id={element_id}> in the corpus page"
    return m.group(0)


UNTOUCHED = [p for p in PAGES if p.untouched]


@pytest.mark.parametrize("page", cases("untouched", UNTOUCHED))
def test_own_scripts_pass_byte_for_byte(page: Page, gateway: str) -> None:
    source = (CORPUS / page.file).read_bytes()
    reject = _reject_cookie(gateway)
    for label, cookie in (("undecided", None), ("rejected", reject)):
        served = _fetch(gateway + page.path, cookie)
        changed = [i for i in page.untouched if own_script(source, i) not in served]
        assert changed == [], f"{label}: the site's own scripts were changed: {changed}"


LATE = [p for p in PAGES if p.csp_refused]


def _csp_reported_hosts(gateway: str) -> str:
    req = urllib.request.Request(gateway + "/_consent/admin/api/summary",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.dumps(json.load(resp))


@pytest.mark.parametrize("page", cases("csp_report", LATE))
def test_trackers_injected_later_are_refused_and_reported(page: Page, visitor: Any, gateway: str) -> None:
    v = visitor()
    v.open(page)
    v.page.wait_for_function("() => document.documentElement.getAttribute('data-late-tags') === 'injected'")
    v.page.wait_for_timeout(500)
    assert sorted(set(page.csp_refused) & v.hosts()) == [], "a tracker injected after load was requested"
    refused = v.page.evaluate("window.__lateViolations || []")
    assert all(any(h in u for u in refused) for h in page.csp_refused), f"refused by the browser: {refused}"
    deadline = time.monotonic() + 5
    while True:
        reported = _csp_reported_hosts(gateway)
        if all(h in reported for h in page.csp_refused) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [h for h in page.csp_refused if h not in reported] == [], "not reported to /_consent/csp-report"


# ---- what a phone shows ----------------------------------------------------------------------------------------

SCREENSHOTS = ("bitrix-corp", "tilda-landing")


def test_phone_screenshots_of_the_undecided_state(visitor: Any) -> None:
    """320x568 screenshots under /tmp for a person to look at (the banner over the page, nothing broken)."""
    for page in (p for p in PAGES if p.id in SCREENSHOTS):
        v = visitor(PHONE)
        v.open(page)
        v.page.wait_for_selector("#consent-banner [data-consent-action='accept-all']", state="visible")
        v.page.screenshot(path=f"/tmp/corpus-{page.id}-320x568.png")
        bbox = v.page.locator("#consent-banner [data-consent-action='reject-all']").first.bounding_box()
        assert bbox is not None and bbox["x"] >= 0 and bbox["x"] + bbox["width"] <= PHONE["width"]


def test_phone_first_layer_choices_are_on_screen_without_scrolling(visitor: Any) -> None:
    v = visitor(PHONE)
    v.open(PAGES[0])
    for action in ("accept-all", "reject-all"):
        bbox = v.page.locator(f"#consent-banner [data-consent-action='{action}']").first.bounding_box()
        assert bbox is not None and bbox["y"] + bbox["height"] <= PHONE["height"], f"{action} at {bbox}"

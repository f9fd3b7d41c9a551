"""The breadth-first crawl: headless Chromium through Playwright, each page in fresh per-state contexts.

Returns raw observations only (URLs, resource types, initiators, cookies as the browser lists them, storage
keys); ``gateway.scan.inventory`` maps them to the catalogue. Playwright is imported lazily, so the rest of
the gateway never needs it (it is the optional ``[scan]`` extra).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync")
ACCEPT = "#consent-banner [data-consent-action='accept-all']"
REJECT = "#consent-banner [data-consent-action='reject-all']"
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{version} "
              "Safari/537.36")
STATES = ("before", "reject", "accept")
LOADS = ("load", "reload")
_SKIP_EXTENSIONS = (".pdf", ".zip", ".gz", ".jpg", ".jpeg", ".png", ".gif", ".svg", ".webp", ".mp4", ".mp3",
                    ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".exe", ".dmg", ".css", ".js", ".xml")
GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
_STUBS: dict[str, tuple[str, bytes]] = {
    "image": ("image/gif", GIF),
    "script": ("text/javascript", b""),
    "stylesheet": ("text/css", b""),
    "document": ("text/html", b"<!DOCTYPE html><title></title>"),
    "xhr": ("application/json", b"{}"),
    "fetch": ("application/json", b"{}"),
    "font": ("font/woff2", b""),
}

# Who wrote a cookie or a storage key: the first http(s) frame of the stack at the moment of writing.
_WRITERS = r"""
(() => {
  const log = {cookies: {}, storage: {}};
  Object.defineProperty(window, "__consentScanWriters", {value: log});
  const where = () => {
    for (const line of (new Error().stack || "").split("\n").slice(2)) {
      const m = line.match(/(https?:\/\/\S+?:\d+:\d+)/);
      if (m) return m[1];
    }
    return null;
  };
  const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  Object.defineProperty(Document.prototype, "cookie", {
    configurable: true, enumerable: cookie.enumerable,
    get() { return cookie.get.call(this); },
    set(value) {
      const name = String(value).split(";")[0].split("=")[0].trim();
      if (!(name in log.cookies)) log.cookies[name] = where();
      cookie.set.call(this, value);
    },
  });
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (key, value) {
    const id = (this === window.localStorage ? "local:" : "session:") + key;
    if (!(id in log.storage)) log.storage[id] = where();
    return setItem.call(this, key, value);
  };
})();
"""
_STORAGE = """() => {
  const keys = (s) => { try { return Object.keys(s); } catch (e) { return []; } };
  return {local: keys(window.localStorage), session: keys(window.sessionStorage),
          writers: window.__consentScanWriters || {cookies: {}, storage: {}}};
}"""
_LINKS = "els => els.map(e => e.href).filter(h => typeof h === 'string')"


class ScanError(Exception):
    """The scan cannot start or its start page cannot be loaded; the message is one line."""


@dataclass(frozen=True)
class ScanOptions:
    pages: int = 50
    depth: int = 3
    time_limit: float = 600.0  # seconds
    offline: bool = False
    chromium: str = CHROMIUM
    settle_ms: int = 1000  # after a click, before looking; then until the network is idle (at most 5 s)
    banner_timeout_ms: int = 5000
    navigation_timeout_ms: int = 30_000


@dataclass
class Load:
    """One look at a page in one state: third-party requests since the last look, cookies and storage now."""

    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # url, resource type, initiator
    cookies: list[dict[str, Any]] = field(default_factory=list)
    storage: list[tuple[str, str, str | None]] = field(default_factory=list)  # key, area, writer
    cookie_writers: dict[str, str | None] = field(default_factory=dict)
    error: str | None = None


@dataclass
class PageVisit:
    url: str
    depth: int
    states: dict[str, dict[str, Load]] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Crawl:
    pages: list[PageVisit]
    banner: bool
    stopped_by: str  # "done", "pages", "time"
    requests_seen: int


Progress = Callable[[int, int, int, float], None]  # pages done, pages known, requests seen, seconds elapsed


def same_site_link(href: str, origin: str) -> str | None:
    """The link without its fragment when it is an http(s) page on ``origin``, else None."""
    url = urldefrag(href)[0]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or f"{parts.scheme}://{parts.netloc}" != origin:
        return None
    if parts.path.lower().endswith(_SKIP_EXTENSIONS):
        return None
    return url


class _Recorder:
    """Per context: the third-party requests seen (and, offline, answered with stubs) and their initiators."""

    def __init__(self, is_third_party: Callable[[str], bool]) -> None:
        self.is_third_party = is_third_party
        self.requests: list[tuple[str, str]] = []
        self.initiators: dict[str, str] = {}
        self.total = 0

    def on_request(self, request: Any) -> None:
        if self.is_third_party(request.url):
            self.requests.append((request.url, request.resource_type))
            self.total += 1

    def on_cdp_request(self, event: dict[str, Any]) -> None:
        url = event.get("request", {}).get("url", "")
        if url and url not in self.initiators:
            found = _initiator(event.get("initiator") or {})
            if found:
                self.initiators[url] = found

    def take(self) -> list[tuple[str, str, str | None]]:
        taken = [(url, kind, self.initiators.get(url)) for url, kind in self.requests]
        self.requests.clear()
        return taken


def _initiator(initiator: dict[str, Any]) -> str | None:
    kind = initiator.get("type", "other")
    frames = (initiator.get("stack") or {}).get("callFrames") or []
    for frame in frames:
        if frame.get("url"):
            return f"{kind} {frame['url']}:{int(frame.get('lineNumber', 0)) + 1}"
    if initiator.get("url"):
        line = initiator.get("lineNumber")
        return f"{kind} {initiator['url']}" + (f":{int(line) + 1}" if line is not None else "")
    return None


def _stub(route: Any) -> None:
    content_type, body = _STUBS.get(route.request.resource_type, ("", b""))
    if content_type:
        route.fulfill(status=200, body=body, content_type=content_type)
    else:
        route.fulfill(status=204, body=b"")


class Crawler:
    def __init__(self, start: str, options: ScanOptions, is_third_party: Callable[[str], bool],
                 progress: Progress | None = None) -> None:
        parts = urlsplit(start)
        self.start = start
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.options = options
        self.is_third_party = is_third_party
        self.progress = progress
        self.requests_seen = 0

    def run(self) -> Crawl:
        with _browser(self.options) as browser:
            return self._crawl(browser)

    def _crawl(self, browser: Any) -> Crawl:
        began = time.monotonic()
        deadline = began + self.options.time_limit
        queue: deque[tuple[str, int]] = deque([(self.start, 0)])
        known = {self.start}
        visits: list[PageVisit] = []
        banner: bool | None = None
        stopped_by = "done"
        while queue:
            if len(visits) >= self.options.pages:
                stopped_by = "pages"
                break
            if time.monotonic() >= deadline:
                stopped_by = "time"
                break
            url, depth = queue.popleft()
            visit, links, has_banner = self._visit(browser, url, depth, banner)
            if banner is None:
                if visit.error:
                    raise ScanError(f"cannot load {url}: {visit.error}")
                banner = has_banner
                if banner:
                    self._other_states(browser, visit)
            elif banner:
                self._other_states(browser, visit)
            visits.append(visit)
            if depth < self.options.depth:
                for link in links:
                    if link not in known:
                        known.add(link)
                        queue.append((link, depth + 1))
            if self.progress:
                self.progress(len(visits), min(len(known), self.options.pages), self.requests_seen,
                              time.monotonic() - began)
        return Crawl(visits, bool(banner), stopped_by, self.requests_seen)

    # -- one page -------------------------------------------------------------------------------------------

    def _visit(self, browser: Any, url: str, depth: int, banner: bool | None) -> tuple[PageVisit, list[str], bool]:
        visit = PageVisit(url, depth)
        links: list[str] = []
        has_banner = False
        with self._context(browser) as (page, recorder):
            try:
                page.goto(url, wait_until="load")
                self._settle(page, click=False)
                if banner is None:
                    has_banner = self._wait_banner(page)
                first = self._look(page, recorder)
                hrefs = page.eval_on_selector_all("a[href]", _LINKS)
                links = [link for h in hrefs if (link := same_site_link(h, self.origin))]
                page.reload(wait_until="load")
                self._settle(page, click=False)
                visit.states["before"] = {"load": first, "reload": self._look(page, recorder)}
            except _playwright_errors() as exc:
                visit.error = _one_line(exc)
        return visit, list(dict.fromkeys(links)), has_banner

    def _other_states(self, browser: Any, visit: PageVisit) -> None:
        if visit.error:
            return
        for state, button in (("reject", REJECT), ("accept", ACCEPT)):
            with self._context(browser) as (page, recorder):
                loads: dict[str, Load] = {}
                try:
                    page.goto(visit.url, wait_until="load")
                    page.wait_for_selector(button, state="visible", timeout=self.options.banner_timeout_ms)
                    recorder.take()  # what loaded before the click belongs to "before"
                    page.click(button)
                    self._settle(page, click=True)
                    loads["load"] = self._look(page, recorder)
                    page.reload(wait_until="load")
                    self._settle(page, click=False)
                    loads["reload"] = self._look(page, recorder)
                except _playwright_errors() as exc:
                    loads.setdefault("load", Load()).error = _one_line(exc)
                visit.states[state] = loads

    def _wait_banner(self, page: Any) -> bool:
        try:
            page.wait_for_selector(ACCEPT, state="visible", timeout=self.options.banner_timeout_ms)
        except _playwright_errors():
            return False
        return True

    def _settle(self, page: Any, click: bool) -> None:
        if click:
            page.wait_for_timeout(self.options.settle_ms)
        try:
            page.wait_for_load_state("load")
            page.wait_for_load_state("networkidle", timeout=5000)
        except _playwright_errors():
            pass  # a page that keeps a connection open is looked at as it is

    def _look(self, page: Any, recorder: _Recorder) -> Load:
        found = page.evaluate(_STORAGE)
        writers = found["writers"]
        storage = [(key, area, writers["storage"].get(f"{area}:{key}")) for area in ("local", "session")
                   for key in found[area]]
        load = Load(requests=recorder.take(), cookies=list(page.context.cookies()), storage=storage,
                    cookie_writers=dict(writers["cookies"]))
        return load

    @contextmanager
    def _context(self, browser: Any) -> Iterator[tuple[Any, _Recorder]]:
        # A headless user agent is a bot to the gateway (no banner): the scan looks like the desktop browser it is.
        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US",
                                      user_agent=USER_AGENT.format(version=browser.version))
        context.set_default_timeout(self.options.navigation_timeout_ms)
        recorder = _Recorder(self.is_third_party)
        if self.options.offline:
            context.route(self.is_third_party, _stub)
        context.add_init_script(_WRITERS)
        page = context.new_page()
        page.on("request", recorder.on_request)
        cdp = context.new_cdp_session(page)
        cdp.on("Network.requestWillBeSent", recorder.on_cdp_request)
        cdp.send("Network.enable")
        seen = recorder.total
        try:
            yield page, recorder
        finally:
            self.requests_seen += recorder.total - seen
            context.close()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _playwright_errors() -> type[Exception]:
    from playwright.sync_api import Error

    return Error


@contextmanager
def _browser(options: ScanOptions) -> Iterator[Any]:
    if not os.path.exists(options.chromium):
        raise ScanError(f"Chromium not found at {options.chromium} (apt-get install chromium, or --chromium PATH)")
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise ScanError("Playwright is not installed: pip install 'consent-gateway[scan]'") from None
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=options.chromium, args=list(CHROMIUM_ARGS))
        except Error as exc:
            raise ScanError(f"cannot start Chromium at {options.chromium}: {_one_line(exc)}") from None
        try:
            yield browser
        finally:
            browser.close()

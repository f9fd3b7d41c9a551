"""scan_site(url, ...) -> the report as a JSON-serialisable dict (the shape is in README "Scanning a site")."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from .. import __version__
from ..settings import Settings
from ..vendors import Catalogue
from .crawler import LOADS, STATES, Crawl, Crawler, Load, Progress, ScanError, ScanOptions
from .inventory import GATEWAY_VENDOR, NECESSARY, Inventory, leaks, vendors_summary

NOTE_NO_BANNER = ("no consent banner was found on the start page (#consent-banner with accept-all and "
                  "reject-all buttons): pages were scanned in the before state only")
NOTE_OFFLINE = ("offline: every request to another host was answered with an empty stub, so vendor scripts "
                "did not run; their own secondary hosts and cookies are not in this report")


def check_url(url: str) -> str:
    """The start URL, or ScanError naming what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ScanError(f"{url!r} is not an http(s) URL like https://wgp.kz/")
    return url if parts.path else url + "/"


def scan_site(url: str, settings: Settings | None = None, options: ScanOptions | None = None,
              catalogue: Catalogue | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Crawl ``url`` in headless Chromium and return the report; raises ScanError if it cannot start."""
    settings = settings or Settings()
    options = options or ScanOptions()
    url = check_url(url)
    if catalogue is None:
        catalogue = Catalogue.load(settings.config_file("vendors.toml"), settings.vendor_overrides)
    inventory = Inventory(catalogue, urlsplit(url).hostname or "", settings.cookie_name)
    began = time.monotonic()
    scanned_at = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    crawl = Crawler(url, options, inventory.is_third_party_url, progress).run()
    return build_report(url, scanned_at, crawl, inventory, options, catalogue, time.monotonic() - began)


def build_report(url: str, scanned_at: str, crawl: Crawl, inventory: Inventory, options: ScanOptions,
                 catalogue: Catalogue, duration: float) -> dict[str, Any]:
    now = time.time()
    states = STATES if crawl.banner else STATES[:1]
    pages = []
    for visit in crawl.pages:
        page: dict[str, Any] = {"url": visit.url, "depth": visit.depth,
                                "states": {s: _state(visit.states.get(s, {}), inventory, now) for s in states}}
        if visit.error:
            page["error"] = visit.error
        pages.append(page)
    vendors, unknown = vendors_summary(pages)
    names = {v.id: v.name for v in catalogue.vendors} | {GATEWAY_VENDOR: "Consent gateway (the visitor's choice)"}
    for v in vendors:
        v["name"] = names.get(v["vendor"], v["vendor"])
    found = leaks(pages)
    notes = ([] if crawl.banner else [NOTE_NO_BANNER]) + ([NOTE_OFFLINE] if options.offline else [])
    return {
        "site": url,
        "scanned_at": scanned_at,
        "generator": f"consent-gateway {__version__}",
        "banner": crawl.banner,
        "offline": options.offline,
        "states_scanned": list(states),
        "limits": {"pages": options.pages, "depth": options.depth, "time_limit_seconds": options.time_limit},
        "stopped_by": crawl.stopped_by,
        "duration_seconds": round(duration, 1),
        "notes": notes,
        "summary": _summary(pages, vendors, found, states),
        "pages": pages,
        "vendors": vendors,
        "unknown": unknown,
        "leaks": found,
    }


def _state(loads: dict[str, Load], inventory: Inventory, now: float) -> dict[str, Any]:
    requests: dict[tuple[str, str], dict[str, Any]] = {}
    cookies: dict[tuple[str, str, str], dict[str, Any]] = {}
    storage: dict[tuple[str, str], dict[str, Any]] = {}
    errors = []
    writers: dict[str, str | None] = {}
    for name in LOADS:
        load = loads.get(name)
        if load is None:
            continue
        if load.error:
            errors.append(f"{name}: {load.error}")
        writers.update({k: v for k, v in load.cookie_writers.items() if v and k not in writers})
        for url, kind, initiator in load.requests:
            r = inventory.request(url, kind, initiator)
            _seen(requests.setdefault((r["url"], r["type"]), r), name)
        for raw in load.cookies:
            c = inventory.cookie(raw, now)
            _seen(cookies.setdefault((c["name"], c["domain"], c["path"]), c), name)
        for key, area, writer in load.storage:
            k = inventory.storage(key, area)
            if writer:
                k["set_by"] = writer
            _seen(storage.setdefault((area, key), k), name)
    for c in cookies.values():
        if writers.get(c["name"]):
            c["set_by"] = writers[c["name"]]
    state: dict[str, Any] = {
        "requests": [requests[k] for k in sorted(requests, key=lambda k: (requests[k]["host"], *k))],
        "cookies": [cookies[k] for k in sorted(cookies)],
        "storage": [storage[k] for k in sorted(storage)],
    }
    if errors:
        state["errors"] = errors
    return state


def _seen(item: dict[str, Any], load: str) -> None:
    loads = item.setdefault("loads", [])
    if load not in loads:
        loads.append(load)


def _summary(pages: list[dict[str, Any]], vendors: list[dict[str, Any]], found: list[dict[str, Any]],
             states: Iterable[str]) -> dict[str, Any]:
    per_state = {s: {"third_party": 0, "not_necessary": 0} for s in states}
    for page in pages:
        for s, state in page["states"].items():
            for r in state["requests"]:
                per_state[s]["third_party"] += 1
                per_state[s]["not_necessary"] += r["category"] != NECESSARY
    by_category: dict[str, list[str]] = {}
    for v in vendors:
        by_category.setdefault(v["category"], []).append(v["name"])
    return {"pages": len(pages), "leaks": len(found),
            "requests_by_state": per_state, "vendors_by_category": by_category}

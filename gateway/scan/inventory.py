"""What a scan saw, mapped to the catalogue: pure functions over plain dicts, no browser and no I/O.

A request to another host is classified by its URL (vendor, category; an unknown third party is
"marketing", the gateway's own rule); a cookie or a storage key by its name (an unknown first-party name is
taken for necessary, an unknown third-party cookie for marketing). Anything that is not necessary in the
``before`` or ``reject`` state is a leak.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..scanfile import OWN_VENDOR
from ..vendors import UNKNOWN_CATEGORY, Catalogue, split_url

NECESSARY = "necessary"
UNKNOWN = "unknown"
LEAK_STATES = ("before", "reject")
GATEWAY_VENDOR = OWN_VENDOR

FIX_REQUEST = ("mark the tag that loads it as blocked (type=\"text/plain\" data-consent-category=\"{category}\") "
               "or serve the site through the gateway; if it is a tag manager's, move it behind consent there")
FIX_UNKNOWN_REQUEST = ("add the host to the catalogue (consent-gateway scan --suggest) with its real category, or "
                       "to [allow] if it is a library CDN that runs no tracking")
FIX_COOKIE = ("the script that sets it runs before consent: block it until \"{category}\" is granted "
              "(first-party scripts the gateway cannot recognise need data-consent-category by hand)")
FIX_STORAGE = "the script that writes it runs before consent: block it until \"{category}\" is granted"


def _host_matches(host: str, site_host: str) -> bool:
    host = host.lstrip(".").lower()
    return host == site_host or site_host.endswith("." + host) or host.endswith("." + site_host)


class Inventory:
    """Classifies what one site's pages loaded; ``site_host`` is the scanned site's host name."""

    def __init__(self, catalogue: Catalogue, site_host: str, consent_cookie: str = "") -> None:
        self.catalogue = catalogue
        self.site_host = site_host.lower()
        self.consent_cookie = consent_cookie

    def is_third_party_url(self, url: str) -> bool:
        parts = split_url(url)
        return parts is not None and parts[0] != self.site_host

    def request(self, url: str, resource_type: str, initiator: str | None = None) -> dict[str, Any]:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        vendor = self.catalogue.vendor_for_url(url)
        category = self.catalogue.category_for_url(url, frozenset({self.site_host}))
        entry: dict[str, Any] = {
            "host": host,
            "url": f"{parts.scheme}://{parts.netloc}{parts.path}",
            "type": resource_type,
            "vendor": vendor.id if vendor else None,
            "category": category or NECESSARY,
        }
        if category is None and vendor is None:
            entry["allowed"] = True  # allow-listed library CDN
        if initiator:
            entry["initiator"] = initiator
        return entry

    def cookie(self, cookie: Mapping[str, Any], now: float) -> dict[str, Any]:
        name = str(cookie["name"])
        domain = str(cookie.get("domain", ""))
        first_party = _host_matches(domain, self.site_host)
        expires = float(cookie.get("expires", -1))
        vendor = self.catalogue.vendor_for_cookie(name)
        if name == self.consent_cookie and first_party:
            vendor_id: str | None = GATEWAY_VENDOR
            category = NECESSARY
        elif vendor is not None:
            vendor_id, category = vendor.id, vendor.category
        else:
            vendor_id, category = None, NECESSARY if first_party else UNKNOWN_CATEGORY
        return {
            "name": name,
            "domain": domain,
            "path": cookie.get("path", "/"),
            "expires_days": None if expires < 0 else round(max(expires - now, 0) / 86400, 1),
            "party": "first" if first_party else "third",
            "secure": bool(cookie.get("secure")),
            "http_only": bool(cookie.get("httpOnly")),
            "same_site": cookie.get("sameSite"),
            "vendor": vendor_id,
            "category": category,
        }

    def storage(self, key: str, area: str) -> dict[str, Any]:
        vendor = self.catalogue.vendor_for_cookie(key)  # vendors use their cookie names as storage keys too
        return {"key": key, "area": area, "vendor": vendor.id if vendor else None,
                "category": vendor.category if vendor else NECESSARY}


def leaks(pages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every non-necessary request, cookie or storage key in a state before or without consent."""
    found: list[dict[str, Any]] = []
    for page in pages:
        for state in LEAK_STATES:
            s = page["states"].get(state)
            if s is None:
                continue
            for r in s["requests"]:
                if r["category"] != NECESSARY:
                    fix = FIX_UNKNOWN_REQUEST if r["vendor"] is None else FIX_REQUEST
                    found.append(_leak(page["url"], state, "request", r["url"], r, r.get("initiator"), fix))
            for c in s["cookies"]:
                if c["category"] != NECESSARY:
                    found.append(_leak(page["url"], state, "cookie", c["name"], c, c.get("set_by"), FIX_COOKIE))
            for k in s["storage"]:
                if k["category"] != NECESSARY:
                    what = f"{k['area']}Storage.{k['key']}"
                    found.append(_leak(page["url"], state, "storage", what, k, k.get("set_by"), FIX_STORAGE))
    return found


def _leak(page: str, state: str, kind: str, what: str, item: Mapping[str, Any], cause: str | None,
          fix: str) -> dict[str, Any]:
    leak = {"page": page, "state": state, "kind": kind, "what": what, "vendor": item["vendor"] or UNKNOWN,
            "category": item["category"], "fix": fix.format(category=item["category"])}
    if cause:
        leak["cause"] = cause
    return leak


def vendors_summary(pages: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """(vendors seen with their hosts, cookies and page counts; unknown third-party hosts and cookies)."""
    seen: dict[str, dict[str, Any]] = {}
    unknown_hosts: set[str] = set()
    unknown_cookies: set[str] = set()
    for page in pages:
        on_page: set[str] = set()
        for s in page["states"].values():
            for r in s["requests"]:
                if r["vendor"]:
                    v = seen.setdefault(r["vendor"], _vendor(r))
                    v["hosts"].add(r["host"])
                    on_page.add(r["vendor"])
                elif not r.get("allowed"):
                    unknown_hosts.add(r["host"])
            for c in s["cookies"]:
                if c["vendor"]:
                    v = seen.setdefault(c["vendor"], _vendor(c))
                    v["cookies"].add(c["name"])
                    on_page.add(c["vendor"])
                else:
                    unknown_cookies.add(c["name"])
            for k in s["storage"]:
                if k["vendor"]:
                    v = seen.setdefault(k["vendor"], _vendor(k))
                    v["storage"].add(k["key"])
                    on_page.add(k["vendor"])
        for vid in on_page:
            seen[vid]["pages"] += 1
    vendors = [
        {**v, "hosts": sorted(v["hosts"]), "cookies": sorted(v["cookies"]), "storage": sorted(v["storage"])}
        for v in sorted(seen.values(), key=lambda v: (v["category"], v["vendor"]))
    ]
    return vendors, {"hosts": sorted(unknown_hosts), "cookies": sorted(unknown_cookies)}


def _vendor(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"vendor": item["vendor"], "category": item["category"], "hosts": set(), "cookies": set(),
            "storage": set(), "pages": 0}

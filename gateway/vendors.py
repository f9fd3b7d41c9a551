"""Vendor catalogue: host, inline-script signature or cookie name -> vendor -> consent category.

Loaded once at startup from ``config/vendors.toml`` plus the site's overrides; every lookup structure is
built in the constructor so the per-request path only walks dictionaries and runs one compiled regex.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from .vocabulary import CATEGORIES

UNKNOWN_CATEGORY = "marketing"  # a third party nobody vouched for is blocked until consent

_REQUIRED = ("name", "category", "purpose", "policy_url")
_LISTS = ("hosts", "paths", "signatures", "cookies")
PURPOSE_LANGUAGES = ("ru", "kk")  # `purpose` itself is English; `purpose_ru`, `purpose_kk` translate it
_TRANSLATIONS = tuple(f"purpose_{lang}" for lang in PURPOSE_LANGUAGES)
_DISCLOSURE = ("country", "cookie_days")  # what Law No. 94-V asks a consent to state, per vendor
_KNOWN_FIELDS = frozenset(_REQUIRED + _LISTS + _TRANSLATIONS + _DISCLOSURE + ("sources",))
HOME_COUNTRY = "KZ"  # data going anywhere else is a cross-border transfer (Law No. 94-V, art. 16)
UNKNOWN_COUNTRY = "unknown"
MAX_COOKIE_DAYS = 3650
_COUNTRY = re.compile(r"^[A-Z]{2}$")

# scheme (optional), the slashes after it, authority, path and query (the fragment is dropped)
_URL_PARTS = re.compile(r"(?:([a-zA-Z][a-zA-Z0-9+.\-]*):)?(/*)([^/?#]*)([^#]*)")
_NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
_URL_JUNK = re.compile(r"[\t\n\r]")
REGEX_BODY_LIMIT = 4096  # longer inline scripts are searched with bytes.find per signature
_HOST_LABELS = re.compile(r"^[a-z0-9_\-]+(?:\.[a-z0-9_\-]+)*$")


@dataclass(frozen=True)
class Vendor:
    """One third party as the banner lists it and the filter recognises it."""

    id: str
    name: str
    category: str
    purpose: str
    policy_url: str
    hosts: tuple[str, ...]  # suffix match: "google-analytics.com" matches "www.google-analytics.com"
    signatures: tuple[str, ...]  # substrings of inline <script> text that identify the vendor
    cookies: tuple[str, ...]  # cookie names; a trailing "*" is a prefix match ("_ga_*")
    paths: tuple[str, ...] = field(default=())  # "host/prefix" for hosts shared by several vendors
    purposes: tuple[tuple[str, str], ...] = field(default=())  # (lang, text) translations of `purpose`
    country: str = UNKNOWN_COUNTRY  # ISO 3166-1 alpha-2 code where the vendor's data goes, or "unknown"
    cookie_days: tuple[tuple[str, int], ...] = field(default=())  # (cookie name or pattern, lifetime in days)
    # ("country" or a cookie_days name, URL of the vendor's own page stating that value); without one it is our estimate
    sources: tuple[tuple[str, str], ...] = field(default=())

    @property
    def cross_border(self) -> bool | None:
        """Whether the vendor's data leaves Kazakhstan; None when its country is not known."""
        return None if self.country == UNKNOWN_COUNTRY else self.country != HOME_COUNTRY

    def days_for(self, cookie: str) -> int | None:
        """The catalogue's lifetime of one of this vendor's cookies (name or pattern), None when not stated."""
        return dict(self.cookie_days).get(cookie)

    def purpose_for(self, lang: str) -> str:
        """The purpose in ``lang``, or the English ``purpose`` when there is no translation."""
        return next((text for code, text in self.purposes if code == lang), self.purpose)


def split_url(url: str) -> tuple[str, str] | None:
    """(host, path+query) of a URL that makes a network request, None for relative and local URLs.

    Normalises the way browsers do before fetching (stray whitespace, tabs, backslashes, userinfo,
    port, trailing dot, percent-escapes in the host) so a disguised URL is not taken for first-party.
    """
    if "\t" in url or "\n" in url or "\r" in url:
        url = _URL_JUNK.sub("", url)
    url = url.strip(" \f\v\x00").replace("\\", "/")
    m = _URL_PARTS.match(url)
    scheme, slashes, authority, path = m.group(1, 2, 3, 4)  # type: ignore[union-attr]
    if scheme is not None:
        if scheme.lower() not in _NETWORK_SCHEMES:
            return None  # data:, blob:, about:, javascript:, mailto: ...
    elif len(slashes) < 2:
        return None  # relative
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        host = host[: host.find("]") + 1] if "]" in host else host
    else:
        host = host.partition(":")[0]
    if "%" in host:
        host = unquote(host)
    host = host.lower().rstrip(".")
    return (host, path or "/") if host else None


def _suffixes(host: str) -> Iterator[str]:
    """'a.b.c' -> 'a.b.c', 'b.c', 'c': the keys a suffix-matched host can be stored under."""
    while True:
        yield host
        dot = host.find(".")
        if dot == -1:
            return
        host = host[dot + 1 :]


def _in_suffix_set(host: str, hosts: frozenset[str]) -> bool:
    return any(s in hosts for s in _suffixes(host))


class Catalogue:
    """Immutable lookups over the vendors; build it with :meth:`load`."""

    def __init__(self, vendors: Iterable[Vendor], allow_hosts: Iterable[str] = ()) -> None:
        self.vendors: tuple[Vendor, ...] = tuple(vendors)
        self.allow_hosts: frozenset[str] = frozenset(h.lower() for h in allow_hosts)
        self._by_host: dict[str, Vendor] = {}
        self._by_path: dict[str, list[tuple[str, Vendor]]] = {}
        for vendor in self.vendors:
            self._index_hosts(vendor)
        for entries in self._by_path.values():
            entries.sort(key=lambda e: len(e[0]), reverse=True)
        self._by_signature = {s: v for v in self.vendors for s in v.signatures}
        self._inline_bytes = _alternation([re.escape(s.encode("ascii")) for s in self._by_signature])
        self._signature_bytes = [(s.encode("ascii"), v) for s, v in self._by_signature.items()]
        self._cookie_exact = {c: v for v in self.vendors for c in v.cookies if not c.endswith("*")}
        self._cookie_prefixes = sorted(
            ((c[:-1], v) for v in self.vendors for c in v.cookies if c.endswith("*")),
            key=lambda e: len(e[0]),
            reverse=True,
        )

    def _index_hosts(self, vendor: Vendor) -> None:
        for host in vendor.hosts:
            other = self._by_host.setdefault(host, vendor)
            if other is not vendor:
                raise ValueError(f"vendor {vendor.id!r}: host {host!r} is already claimed by vendor {other.id!r}")
        for entry in vendor.paths:
            host, slash, prefix = entry.partition("/")
            self._by_path.setdefault(host, []).append((slash + prefix, vendor))

    @classmethod
    def load(cls, path: Path, extra: Mapping[str, Any] | None = None) -> Catalogue:
        """Read the shipped catalogue and apply the site's ``[vendors]``/``[allow]`` tables from gateway.toml."""
        with open(path, "rb") as f:
            data = tomllib.load(f)
        tables = _tables(data.get("vendors", {}), f"{path}: [vendors]")
        allow = list(_allow_hosts(data.get("allow", {}), f"{path}: [allow]"))
        vendors = {vid: _build_vendor(vid, table, str(path)) for vid, table in tables.items()}
        if extra:
            where = "gateway.toml"
            for vid, table in _tables(extra.get("vendors", {}), f"{where}: [vendors]").items():
                vendors[vid] = _override(vendors.get(vid), vid, table, where)
                if "hosts" in table:
                    _release_hosts(vendors, vendors[vid])
            allow += _allow_hosts(extra.get("allow", {}), f"{where}: [allow]")
        return cls(vendors.values(), allow)

    # -- hosts and URLs -------------------------------------------------------------------------------------

    def vendor_for_url(self, url: str) -> Vendor | None:
        """Most specific vendor for a URL: longest host suffix, then path entries before plain hosts."""
        parts = split_url(url)
        return None if parts is None else self._vendor_for(*parts)

    def _vendor_for(self, host: str, path: str) -> Vendor | None:
        for suffix in _suffixes(host):
            for prefix, vendor in self._by_path.get(suffix, ()):
                if path.startswith(prefix):
                    return vendor
            found = self._by_host.get(suffix)
            if found is not None:
                return found
        return None

    def category_for_url(self, url: str, first_party: frozenset[str]) -> str | None:
        """None when the URL loads freely (relative, first-party or allow-listed host, data:/blob:);
        otherwise the vendor's category, or "marketing" for an unknown third party.

        First-party and allow-listed hosts are suffix matches too: "wgp.kz" covers "cdn.wgp.kz".
        """
        parts = split_url(url)
        if parts is None:
            return None
        host, path = parts
        if _in_suffix_set(host, first_party) or _in_suffix_set(host, self.allow_hosts):
            return None
        vendor = self._vendor_for(host, path)
        return UNKNOWN_CATEGORY if vendor is None else vendor.category

    # -- inline scripts ---------------------------------------------------------------------------------------

    def vendors_for_inline_bytes(self, body: bytes) -> tuple[Vendor, ...]:
        """Every vendor whose signature occurs in a script body, in order of first appearance.

        Works on the page's raw bytes: signatures are ASCII, so utf-8 and windows-1251 pages alike match.
        """
        if self._inline_bytes is None:
            return ()
        if len(body) > REGEX_BODY_LIMIT:
            return self._vendors_by_find(body)
        seen: dict[str, Vendor] = {}
        for m in self._inline_bytes.finditer(body):
            vendor = self._by_signature[m.group().decode("ascii")]
            seen.setdefault(vendor.id, vendor)
        return tuple(seen.values())

    def _vendors_by_find(self, body: bytes) -> tuple[Vendor, ...]:
        """Same answer for long bodies: sre tries every alternative at every byte (about 7 MB/s with 76
        signatures), while one bytes.find per signature runs at memchr speed (about 50 MB/s in total)."""
        first: dict[str, tuple[int, Vendor]] = {}
        for signature, vendor in self._signature_bytes:
            i = body.find(signature)
            if i != -1 and (vendor.id not in first or i < first[vendor.id][0]):
                first[vendor.id] = (i, vendor)
        return tuple(v for _, v in sorted(first.values(), key=lambda e: e[0]))

    # -- cookies and CSP --------------------------------------------------------------------------------------

    def vendor_for_cookie(self, name: str) -> Vendor | None:
        """Exact names first, then the longest matching prefix pattern."""
        vendor = self._cookie_exact.get(name)
        if vendor is not None:
            return vendor
        for prefix, candidate in self._cookie_prefixes:
            if name.startswith(prefix):
                return candidate
        return None

    def category_for_cookie(self, name: str) -> str | None:
        """None = unknown cookie (treated as necessary when first-party)."""
        vendor = self.vendor_for_cookie(name)
        return None if vendor is None else vendor.category

    def hosts_for(self, categories: Iterable[str]) -> tuple[str, ...]:
        """Host suffixes (and "host/path" entries) of the vendors in ``categories``, for CSP source lists.
        A path entry's query part is dropped: CSP source expressions cannot carry one."""
        wanted = frozenset(categories)
        return tuple(
            dict.fromkeys(
                h.partition("?")[0] for v in self.vendors if v.category in wanted for h in (*v.hosts, *v.paths)
            )
        )


def _alternation(patterns: list[str] | list[bytes]) -> Any:
    """One compiled alternation, longest pattern first so overlapping signatures resolve predictably."""
    if not patterns:
        return None
    ordered = sorted(patterns, key=len, reverse=True)
    if isinstance(ordered[0], bytes):
        return re.compile(b"|".join(ordered))  # type: ignore[arg-type]
    return re.compile("|".join(ordered))  # type: ignore[arg-type]


def _tables(value: Any, where: str) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: must be a table of vendor tables")
    for vid, table in value.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"{where}: vendor {vid!r} must be a table")
    return dict(value)


def _allow_hosts(value: Any, where: str) -> list[str]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: must be a table with a 'hosts' list")
    unknown = set(value) - {"hosts"}
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}; only 'hosts' is allowed")
    return [_host(h, f"{where} hosts") for h in _str_list(value.get("hosts", []), f"{where}: field 'hosts'")]


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be a list of strings")
    return list(value)


def _host(value: str, where: str) -> str:
    host = value.strip().lower().rstrip(".")
    if not _HOST_LABELS.match(host):
        raise ValueError(f"{where}: {value!r} is not a bare host name (no scheme, path or port)")
    return host


def _check_field(vid: str, name: str, value: Any, where: str) -> Any:
    """Validate one field and return it normalised; every message names the vendor and the field."""
    prefix = f"{where}: vendor {vid!r}: field {name!r}"
    if name not in _KNOWN_FIELDS:
        raise ValueError(f"{where}: vendor {vid!r}: unknown field {name!r} (known: {sorted(_KNOWN_FIELDS)})")
    if name == "cookie_days":
        return _cookie_days(value, prefix)
    if name == "sources":
        return _sources(value, prefix)
    if name in _LISTS:
        items = _str_list(value, prefix)
        if name == "hosts":
            return tuple(_host(h, prefix) for h in items)
        if name == "paths":
            return tuple(_path_entry(p, prefix) for p in items)
        if name == "signatures" and not all(s.isascii() and s for s in items):
            raise ValueError(f"{prefix}: signatures must be non-empty ASCII strings")
        return tuple(items)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{prefix} must be a non-empty string")
    if name == "country" and value != UNKNOWN_COUNTRY and not _COUNTRY.match(value):
        raise ValueError(f"{prefix}: {value!r} is not an ISO 3166-1 alpha-2 code like 'US' (or 'unknown')")
    if name == "category" and value not in CATEGORIES:
        raise ValueError(f"{prefix}: unknown category {value!r}; expected one of {', '.join(CATEGORIES)}")
    return value


def _cookie_days(value: Any, where: str) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a table of cookie name = days")
    for name, days in value.items():
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_COOKIE_DAYS:
            raise ValueError(f"{where}: {name!r}: days must be an integer from 0 to {MAX_COOKIE_DAYS} (got {days!r})")
    return tuple((str(name), int(days)) for name, days in value.items())


def _sources(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a table of \"country\" or cookie name = source URL")
    for name, url in value.items():
        if not isinstance(url, str) or not url.startswith("https://") or any(c.isspace() for c in url):
            raise ValueError(f"{where}: {name!r}: the source must be one https:// URL (got {url!r})")
    return tuple((str(name), str(url)) for name, url in value.items())


def _path_entry(value: str, where: str) -> str:
    host, slash, prefix = value.partition("/")
    if not slash:
        raise ValueError(f"{where}: {value!r} must look like 'host/path-prefix'")
    return f"{_host(host, where)}/{prefix}"


def _build_vendor(vid: str, table: Mapping[str, Any], where: str) -> Vendor:
    values = {name: _check_field(vid, name, value, where) for name, value in table.items()}
    missing = [name for name in _REQUIRED if name not in values]
    if missing:
        raise ValueError(f"{where}: vendor {vid!r}: missing field {missing[0]!r}")
    lists = {name: values.get(name, ()) for name in _LISTS}
    vendor = Vendor(id=vid, **{n: values[n] for n in _REQUIRED}, **lists, purposes=_purposes((), values),
                    country=values.get("country", UNKNOWN_COUNTRY), cookie_days=values.get("cookie_days", ()),
                    sources=values.get("sources", ()))
    _check_cookie_days(vendor, where)
    return vendor


def _check_cookie_days(vendor: Vendor, where: str) -> None:
    """Every lifetime names one of the vendor's own cookies, every source a value the vendor states."""
    stray = [name for name, _ in vendor.cookie_days if name not in vendor.cookies]
    if stray:
        raise ValueError(f"{where}: vendor {vendor.id!r}: field 'cookie_days': {stray[0]!r} is not in its cookies")
    uncited = [name for name, _ in vendor.sources if name != "country" and vendor.days_for(name) is None]
    if uncited:
        raise ValueError(f"{where}: vendor {vendor.id!r}: field 'sources': {uncited[0]!r} is neither 'country' "
                         "nor a cookie in its cookie_days")


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """The fields that map one to one onto Vendor attributes (translations go into `purposes`)."""
    return {name: value for name, value in values.items() if name not in _TRANSLATIONS}


def _purposes(base: tuple[tuple[str, str], ...], values: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Translations after applying ``values``: each `purpose_xx` given replaces that language's text."""
    merged = dict(base)
    for lang in PURPOSE_LANGUAGES:
        text = values.get(f"purpose_{lang}")
        if text is not None:
            merged[lang] = text
    return tuple((lang, merged[lang]) for lang in PURPOSE_LANGUAGES if lang in merged)


def _release_hosts(vendors: dict[str, Vendor], owner: Vendor) -> None:
    """A site's vendor takes its hosts away from shipped vendors (a site may reassign, say, its chat host)."""
    claimed = set(owner.hosts)
    for vid, vendor in vendors.items():
        if vendor is not owner and claimed.intersection(vendor.hosts):
            vendors[vid] = replace(vendor, hosts=tuple(h for h in vendor.hosts if h not in claimed))


def _override(base: Vendor | None, vid: str, table: Mapping[str, Any], where: str) -> Vendor:
    """A site's table replaces the named fields of a shipped vendor, or defines a new one in full."""
    if base is None:
        return _build_vendor(vid, table, where)
    values = {name: _check_field(vid, name, value, where) for name, value in table.items()}
    # A new English purpose makes the shipped translations of the old one wrong: keep only those the site gives.
    base_purposes = () if "purpose" in values else base.purposes
    vendor = replace(base, **_plain(values), purposes=_purposes(base_purposes, values))
    if "cookies" in values and "cookie_days" not in values:  # lifetimes of cookies the site no longer lists go
        vendor = replace(vendor, cookie_days=tuple(e for e in vendor.cookie_days if e[0] in vendor.cookies))
    if "sources" not in values:  # a value the site changed is no longer the one the shipped source states
        before = {"country": base.country, **dict(base.cookie_days)}
        after: dict[str, object] = {"country": vendor.country, **dict(vendor.cookie_days)}
        vendor = replace(vendor, sources=tuple(e for e in vendor.sources if after.get(e[0]) == before[e[0]]))
    _check_cookie_days(vendor, where)
    return vendor

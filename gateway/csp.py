"""A per-visitor Content-Security-Policy built from the categories the visitor refused.

A visitor who has not decided yet gets a policy that admits the catalogue's known vendors but no unknown
host: their tags are already neutralised in the HTML, and the banner must be able to turn them on without a
reload. Once the visitor has decided, the policy admits only the hosts of the granted categories, so a tag
that a tag manager or a first-party script injects later is refused by the browser itself.

It is sent as its own header beside the origin's policy, never merged into it: a browser enforces every
policy it receives, so ours can only narrow what the origin allows, never loosen it.
"""

from __future__ import annotations

from collections.abc import Iterable

from .vendors import Catalogue

DIRECTIVES = ("script-src", "img-src", "frame-src", "connect-src", "style-src", "font-src", "media-src")
ENFORCE = "Content-Security-Policy"
REPORT_ONLY = "Content-Security-Policy-Report-Only"
# Ours restricts hosts only; inline code and eval stay the origin's policy's business.
_KEYWORDS = {
    "script-src": "'self' 'unsafe-inline' 'unsafe-eval' blob:",
    "style-src": "'self' 'unsafe-inline' data:",
    "img-src": "'self' data: blob:",
    "font-src": "'self' data:",
    "media-src": "'self' data: blob:",
    "frame-src": "'self' blob:",
    "connect-src": "'self'",
}


def _sources(host: str) -> str:
    """A catalogue host (suffix match, maybe with a path) as CSP sources for it and its subdomains."""
    host, _, path = host.partition("/")
    if path:
        return f"https://{host}/{path}"
    return f"https://{host} https://*.{host}"


class CspBuilder:
    """Precomputes the header for every combination of refused categories (at most eight of them)."""

    def __init__(self, catalogue: Catalogue, categories: tuple[str, ...], extra_hosts: Iterable[str],
                 report_uri: str, mode: str) -> None:
        self.header = REPORT_ONLY if mode == "report-only" else ENFORCE
        self.enabled = mode != "off"
        self._catalogue = catalogue
        self._categories = categories
        self._extra = " ".join(sorted({_sources(h) for h in extra_hosts}))
        self._report = report_uri
        self._cache: dict[tuple[frozenset[str], bool], str] = {}

    def policy(self, blocked: frozenset[str], decided: bool = True) -> str:
        key = (blocked, decided)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._build(blocked, decided)
        return cached

    def _build(self, blocked: frozenset[str], decided: bool) -> str:
        if decided and "marketing" not in blocked:
            # Unknown third parties count as marketing: once it is granted, any host may load.
            hosts = "*"
        else:
            admitted = [c for c in self._categories if not decided or c not in blocked]
            allowed = set(self._catalogue.allow_hosts) | set(self._catalogue.hosts_for(admitted))
            hosts = " ".join(sorted({_sources(h) for h in allowed}))
        parts = [f"{d} {_KEYWORDS[d]} {self._extra} {hosts}".replace("  ", " ").strip() for d in DIRECTIVES]
        parts.append(f"report-uri {self._report}")
        return "; ".join(parts)

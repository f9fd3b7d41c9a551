"""A per-visitor Content-Security-Policy built from the categories the visitor refused.

A visitor who has not decided yet gets the policy of one who refused everything: necessary and allow-listed
hosts only, so a tag that a first-party script injects before any choice is refused by the browser and
reported; the banner reloads the page once after a choice that grants more. With ``csp_first_visit =
"vendors"`` the undecided policy admits the catalogue's known vendors as well (no reload, the injected-tag
case left to the HTML rewrite). Once the visitor has decided, the policy admits only the hosts of the granted
categories, so a tag that a tag manager or a first-party script injects later is refused by the browser itself.

It is sent as its own header beside the origin's policy, never merged into it: a browser enforces every
policy it receives, so ours can only narrow what the origin allows, never loosen it.
"""

from __future__ import annotations

from collections.abc import Iterable

from .vendors import Catalogue
from .vocabulary import NECESSARY

ENFORCE = "Content-Security-Policy"
REPORT_ONLY = "Content-Security-Policy-Report-Only"
# One default-src carries the host list for every fetch directive (scripts, images, frames, connections,
# styles, fonts, media...), so the list is written once and the header stays a few kilobytes. Ours
# restricts hosts only; inline code, eval, data: and blob: stay the origin's own policy's business.
_KEYWORDS = "'self' 'unsafe-inline' 'unsafe-eval' data: blob:"


def _sources(host: str) -> str:
    """A catalogue host (suffix match, maybe with a path) as scheme-less CSP sources (the page's scheme)."""
    host, _, path = host.partition("/")
    if path:
        return f"{host}/{path}"
    return f"{host} *.{host}"


def _minimal(sources: set[str]) -> list[str]:
    """Sources without those another one already admits (``*.x`` admits ``a.x``, ``*.a.x`` and ``a.x/path``;
    a bare host admits its own paths): the same policy in fewer bytes on every page."""
    wildcards = {s[2:] for s in sources if s.startswith("*.")}
    bare = {s for s in sources if not s.startswith("*.") and "/" not in s}

    def covered(source: str) -> bool:
        host, _, path = source.removeprefix("*.").partition("/")
        labels = host.split(".")
        if any(".".join(labels[i:]) in wildcards for i in range(1, len(labels) - 1)):
            return True
        return bool(path) and (host in bare or host in wildcards)

    return sorted(s for s in sources if not covered(s))


class CspBuilder:
    """Precomputes the header for every combination of refused categories (at most eight of them)."""

    def __init__(self, catalogue: Catalogue, categories: tuple[str, ...], extra_hosts: Iterable[str],
                 report_uri: str, mode: str, first_visit: str = "strict") -> None:
        """``first_visit="strict"``: a visitor who has not decided gets what one who refused everything gets;
        ``"vendors"``: the known vendors are admitted too, so a choice needs no reload."""
        self.header = REPORT_ONLY if mode == "report-only" else ENFORCE
        self.enabled = mode != "off"
        self.strict_first_visit = first_visit == "strict"
        self._catalogue = catalogue
        self._categories = categories
        self._extra = " ".join(sorted({_sources(h) for h in extra_hosts}))
        self._report = report_uri
        self._cache: dict[tuple[frozenset[str], bool], str] = {}
        self._raw: dict[tuple[frozenset[str], bool], tuple[bytes, bytes]] = {}

    def policy(self, blocked: frozenset[str], decided: bool = True) -> str:
        key = (blocked, decided)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._build(blocked, decided)
        return cached

    def raw_header(self, blocked: frozenset[str], decided: bool = True) -> tuple[bytes, bytes]:
        """The header as an ASGI (name, value) pair, encoded once per consent class."""
        key = (blocked, decided)
        cached = self._raw.get(key)
        if cached is None:
            cached = self._raw[key] = (self.header.lower().encode("latin-1"),
                                       self.policy(blocked, decided).encode("latin-1"))
        return cached

    def _build(self, blocked: frozenset[str], decided: bool) -> str:
        if not decided and self.strict_first_visit:
            blocked, decided = frozenset(c for c in self._categories if c != NECESSARY), True  # a refusal's
        if decided and "marketing" not in blocked:
            # Unknown third parties count as marketing: once it is granted, any host may load.
            hosts = "*"
        else:
            admitted = [c for c in self._categories if not decided or c not in blocked]
            allowed = set(self._catalogue.allow_hosts) | set(self._catalogue.hosts_for(admitted))
            hosts = " ".join(_minimal({part for h in allowed for part in _sources(h).split()}))
        sources = " ".join(p for p in (_KEYWORDS, self._extra, hosts) if p)
        return f"default-src {sources}; report-uri {self._report}"

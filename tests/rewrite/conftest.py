"""Shared helpers of the rewrite tests: the plan, the filter run over chunks, the fixture page."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from gateway.rewrite import FilterPlan, HtmlFilter
from gateway.vendors import Catalogue

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
REALISTIC = (FIXTURES / "realistic.html").read_bytes()
CATALOGUE = Catalogue.load(ROOT / "config" / "vendors.toml")
SITE = frozenset({"wgp.kz"})
NOTHING_GRANTED = frozenset({"preferences", "analytics", "marketing"})
BANNER = '<script src="/_consent/banner.js" defer></script>'
TRACKER = "https://tracker.example"


def plan(blocked: Iterable[str] = NOTHING_GRANTED, **kwargs: object) -> FilterPlan:
    return FilterPlan(blocked=frozenset(blocked), catalogue=CATALOGUE, first_party=SITE, **kwargs)  # type: ignore[arg-type]


def run(page: bytes, p: FilterPlan | None = None, chunks: Iterable[int] = (), encoding: str | None = None) -> bytes:
    """Feed ``page`` split at the given offsets and return everything the filter sent."""
    f = HtmlFilter(p or plan(), encoding)
    out, last = [], 0
    for cut in chunks:
        out.append(f.feed(page[last:cut]))
        last = cut
    out.append(f.feed(page[last:]))
    out.append(f.close())
    return b"".join(out)


def filt(html: str, blocked: Iterable[str] = NOTHING_GRANTED, **kwargs: object) -> str:
    return run(html.encode(), plan(blocked, **kwargs)).decode()


# The iframe placeholder's inline styles, spelled out here so a change to them is seen.
PLACEHOLDER_STYLE = (
    "display:flex;flex-direction:column;align-items:flex-start;gap:.5em;box-sizing:border-box;max-width:560px;"
    "padding:1em;border:1px dashed #8a94a0;border-radius:6px;background:#f4f6f8;color:#1b1f24;"
    "font:15px/1.5 system-ui,sans-serif"
)
BUTTON_STYLE = "font:inherit;padding:.4em 1em;border:0;border-radius:4px;background:#0a4d8c;color:#fff;cursor:pointer"
YT_PLACEHOLDER = (
    f'<div class="consent-placeholder" data-consent-placeholder data-consent-category="marketing" '
    f'style="{PLACEHOLDER_STYLE}"><p style="margin:0">YouTube: blocked until you allow marketing.</p>'
    f'<button type="button" data-consent-load style="{BUTTON_STYLE}">Load</button></div>'
)

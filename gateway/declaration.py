"""The cookie declaration: per category, each recipient with its purpose, policy, cookies and their lifetimes, and
the facts Law No. 94-V asks a consent to state (operator and BIN, term, recipients, the country each recipient's
data go to and whether that crosses the border), in the visitor's language.

Pure rendering: the route (api.py) hands in the texts, the catalogue, the latest scan and the visitor's state.
Everything from configuration or a scan is escaped; the page needs no JavaScript (the banner script, when it
loads, turns the "change your choice" link into the preferences dialog; without it the link's form still works).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape

from .consent import ConsentState
from .scanfile import OWN_VENDOR, ScannedVendor, ScanSummary
from .vendors import UNKNOWN_COUNTRY, Vendor


@dataclass(frozen=True)
class Facts:
    """The operator's side of the disclosure: who asks, for how long, under which policy."""

    controller: str
    operator_bin: str
    validity_days: int
    policy_url: str


@dataclass(frozen=True)
class Row:
    """One recipient as the declaration lists it."""

    name: str
    purpose: str
    policy_url: str
    country: str
    cross_border: bool | None
    cookies: tuple[tuple[str, float | None], ...]  # (name or pattern, lifetime in days; None: not stated)
    session: frozenset[str] = frozenset()  # cookies a scan saw as session cookies


@dataclass(frozen=True)
class Page:
    """Everything one declaration shows."""

    lang: str
    texts: Mapping[str, str]  # [declaration], with the banner's accept_all and reject_all for the form
    titles: Mapping[str, str]  # category -> title
    descriptions: Mapping[str, str]
    countries: Mapping[str, str]
    facts: Facts
    categories: tuple[str, ...]
    rows: Mapping[str, tuple[Row, ...]]  # listed per category
    others: Mapping[str, tuple[Row, ...]]  # known vendors a scan did not see (empty without a scan)
    scanned_at: str | None
    state: ConsentState
    state_path: str  # the no-JavaScript form posts here
    return_path: str


def rows_for(vendors: Iterable[Vendor], lang: str, scan: ScanSummary | None
             ) -> tuple[dict[str, tuple[Row, ...]], dict[str, tuple[Row, ...]]]:
    """(listed, others) per category. Without a scan every catalogue vendor is listed (the recipients the banner
    names); with one, the vendors it saw, with the lifetimes it measured, and the rest under ``others``."""
    known = tuple(vendors)
    seen: dict[str, ScannedVendor] = {sv.vendor: sv for sv in scan.vendors} if scan is not None else {}
    listed: dict[str, list[Row]] = {}
    others: dict[str, list[Row]] = {}
    matched: set[str] = set()
    for v in known:
        found = seen.get(v.id) or seen.get(v.name)
        if found is not None:
            matched.add(found.vendor)
        target = listed if scan is None or found is not None else others
        target.setdefault(v.category, []).append(_row(v, lang, found))
    for sv in seen.values():
        if sv.vendor not in matched and sv.category != "unknown":
            # The gateway's own consent cookie is the site's, not a recipient's: no country, no transfer.
            country = "" if sv.vendor == OWN_VENDOR else UNKNOWN_COUNTRY
            listed.setdefault(sv.category, []).append(
                Row(sv.vendor, "", "", country, None, tuple((c.name, c.expires_days) for c in sv.cookies),
                    frozenset(c.name for c in sv.cookies if c.expires_days is None)))
    return ({c: tuple(r) for c, r in listed.items()}, {c: tuple(r) for c, r in others.items()})


def _row(v: Vendor, lang: str, sv: ScannedVendor | None) -> Row:
    cookies: dict[str, float | None] = {name: v.days_for(name) for name in v.cookies}
    session: set[str] = set()
    if sv is not None:
        for c in sv.cookies:
            cookies[c.name] = c.expires_days
            if c.expires_days is None:
                session.add(c.name)
    return Row(v.name, v.purpose_for(lang), v.policy_url, v.country, v.cross_border, tuple(cookies.items()),
               frozenset(session))


def render(page: Page, fragment: bool = False, banner_src: str = "") -> str:
    """The declaration as a section to embed (``fragment``) or a whole page that also loads the banner."""
    t = page.texts
    section = "".join([
        f'<section class="consent-declaration" lang="{_e(page.lang)}" aria-labelledby="consent-declaration-title">',
        f'<h{1 if not fragment else 2} id="consent-declaration-title">{_e(t["title"])}</h{1 if not fragment else 2}>',
        f"<p>{_e(t['intro'])}</p>",
        _facts(page, 3 if fragment else 2),
        _choice(page, 3 if fragment else 2),
        _recipients(page, 3 if fragment else 2),
        "</section>",
    ])
    if fragment:
        return section
    script = f'<script src="{_e(banner_src)}" defer></script>' if banner_src else ""
    return (f'<!DOCTYPE html><html lang="{_e(page.lang)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(t['title'])}</title>{script}</head><body><main>{section}</main></body></html>")


def _facts(page: Page, h: int) -> str:
    t, f = page.texts, page.facts
    items = [
        (t["operator"], _e(f.controller)),
        (t["bin"], _e(f.operator_bin or t["bin_missing"])),
        (t["term"], _e(t["term_value"].replace("{days}", str(f.validity_days)))),
        (t["recipients"], _e(", ".join(dict.fromkeys(r.name for rs in page.rows.values() for r in rs
                                                     if r.name != OWN_VENDOR)))),
    ]
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in items)
    return (f"<h{h}>{_e(t['facts'])}</h{h}><dl>{rows}</dl><p>{_e(t['law'])}</p>"
            f'<p><a href="{_e(f.policy_url)}">{_e(t["policy"])}</a></p>')


def _choice(page: Page, h: int) -> str:
    t, state = page.texts, page.state
    if state.decided:
        items = "".join(f"<li>{_e(page.titles.get(c, c))}: {_e(t['granted'] if state.allows(c) else t['refused'])}"
                        "</li>" for c in page.categories)
        body = f"<ul>{items}</ul>"
    else:
        body = f"<p>{_e(t['no_choice'])}</p>"
    # With banner.js on the page the link opens the preferences; without it, the form below still records a choice.
    return (f'<h{h} id="consent-declaration-choice">{_e(t["choice"])}</h{h}>{body}'
            f'<p><a href="#" data-consent-open>{_e(t["change"])}</a></p>'
            f'<form method="post" action="{_e(page.state_path)}">'
            f'<input type="hidden" name="lang" value="{_e(page.lang)}">'
            f'<input type="hidden" name="return" value="{_e(page.return_path)}">'
            f'<button type="submit" name="action" value="accept_all">{_e(t["accept_all"])}</button> '
            f'<button type="submit" name="action" value="reject_all">{_e(t["reject_all"])}</button>'
            "</form>")


def _recipients(page: Page, h: int) -> str:
    t = page.texts
    out = [f"<h{h}>{_e(t['recipients'])}</h{h}>",
           f"<p>{_e(t['scanned'].replace('{date}', page.scanned_at) if page.scanned_at else t['not_scanned'])}</p>"]
    for cat in page.categories:
        title = page.titles.get(cat, cat)
        out.append(f'<h{h + 1} id="consent-declaration-{_e(cat)}">{_e(title)}</h{h + 1}>')
        if page.descriptions.get(cat):
            out.append(f"<p>{_e(page.descriptions[cat])}</p>")
        rows = page.rows.get(cat, ())
        out.append(_table(page, cat, rows) if rows else f"<p>{_e(t['no_vendors'])}</p>")
        if page.others.get(cat):
            out.append(f"<details><summary>{_e(t['others'])}</summary>{_table(page, cat, page.others[cat])}"
                       "</details>")
    return "".join(out)


def _table(page: Page, cat: str, rows: tuple[Row, ...]) -> str:
    t = page.texts
    heads = "".join(f'<th scope="col">{_e(t[k])}</th>'
                    for k in ("vendor", "purpose", "country", "cross_border", "cookies"))
    body = "".join(_tr(page, r) for r in rows)
    caption = t["caption"].replace("{category}", page.titles.get(cat, cat))
    return f"<table><caption>{_e(caption)}</caption><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def _tr(page: Page, r: Row) -> str:
    t = page.texts
    if r.name == OWN_VENDOR:
        return _own_tr(t, r)
    name = f'<a href="{_e(r.policy_url)}">{_e(r.name)}</a>' if r.policy_url else _e(r.name)
    name_of = page.countries.get(r.country, r.country)
    country = t["unknown"] if r.country == UNKNOWN_COUNTRY else f"{name_of} ({r.country})"
    border = t["unknown"] if r.cross_border is None else t["yes"] if r.cross_border else t["no"]
    cookies = "".join(f"<li><code>{_e(n)}</code>: {_e(_lifetime(t, d, n in r.session))}</li>" for n, d in r.cookies)
    return (f'<tr><th scope="row">{name}</th><td>{_e(r.purpose)}</td><td>{_e(country)}</td><td>{_e(border)}</td>'
            f"<td>{f'<ul>{cookies}</ul>' if cookies else '—'}</td></tr>")


def _own_tr(t: Mapping[str, str], r: Row) -> str:
    """The consent cookie a scan found: the site's own, named and explained in the visitor's language."""
    cookies = "".join(f"<li><code>{_e(n)}</code>: {_e(_lifetime(t, d, n in r.session))}</li>" for n, d in r.cookies)
    return (f'<tr><th scope="row">{_e(t["own_vendor"])}</th><td>{_e(t["own_purpose"])}</td><td>—</td><td>—</td>'
            f"<td>{f'<ul>{cookies}</ul>' if cookies else '—'}</td></tr>")


def _lifetime(t: Mapping[str, str], days: float | None, session: bool) -> str:
    if session or days is not None and days < 1:
        return t["session"]
    if days is None:
        return t["not_stated"]
    return t["days"].replace("{days}", str(round(days)))


def _e(value: str) -> str:
    return escape(value, quote=True)

"""`--suggest`: catalogue entries (vendors.toml syntax) for the hosts and cookies a scan did not know.

The category is a guess from words in the host and cookie names, and every entry says it needs review; an
unknown third party stays "marketing" (blocked until consent) unless a word says otherwise; advertising
words are looked for before measuring ones, since "pixel" outranks "track".
"""

from __future__ import annotations

import re
from typing import Any

from ..vendors import UNKNOWN_CATEGORY

_HINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("necessary", ("csrf", "xsrf", "session", "sessid", "phpsessid", "jsessionid", "auth", "captcha", "cart",
                   "lb", "cf_", "__cf", "cookieconsent", "consent")),
    ("preferences", ("lang", "locale", "theme", "currency", "pref", "font", "map", "chat", "support")),
    ("marketing", ("ad", "ads", "pixel", "tag", "retarget", "campaign", "promo", "affiliate", "sync", "match",
                   "utm", "click", "fb", "doubleclick")),
    ("analytics", ("analytic", "stat", "metric", "count", "track", "collect", "visit", "hit", "insight",
                   "telemetry", "heatmap", "log")),
)
_WORDS = re.compile(r"[a-z0-9]+")


def guess_category(*names: str) -> str:
    words = [w for name in names for w in _WORDS.findall(name.lower())]
    text = " ".join(names).lower()
    for category, hints in _HINTS:
        if any(w == h or (len(h) > 3 and h in text) for h in hints for w in words):
            return category
    return UNKNOWN_CATEGORY


def _id(host: str) -> str:
    labels = host.split(".")
    base = labels[-2] if len(labels) >= 2 else labels[0]
    return re.sub(r"[^a-z0-9-]", "-", f"review-{base}")


def _registrable(host: str) -> str:
    labels = host.split(".")
    return ".".join(labels[-2:]) if len(labels) > 2 else host


def suggest_toml(report: dict[str, Any]) -> str:
    """vendors.toml tables for ``report["unknown"]``; paste into gateway.toml's [vendors] after review."""
    unknown = report["unknown"]
    out = [f"# Suggested by `consent-gateway scan` of {report['site']} at {report['scanned_at']}.",
           "# Every entry is a guess: check the vendor, category, purpose and policy before using it.", ""]
    seen: set[str] = set()
    for host in unknown["hosts"]:
        domain = _registrable(host)
        if domain in seen:
            continue
        seen.add(domain)
        out += [f"[vendors.{_id(domain)}]  # REVIEW", f'name = "{domain}"',
                f'category = "{guess_category(host)}"  # guessed from the host name',
                'purpose = "REVIEW: what this third party does on the site"',
                f'policy_url = "https://{domain}/privacy"  # REVIEW', f'hosts = ["{domain}"]', "cookies = []", ""]
    if unknown["cookies"]:
        out.append("# Cookies no vendor claims (first-party ones are taken for necessary until a vendor names them):")
        out += [f'# "{name}": category "{guess_category(name)}" (guessed from the name); add it to the cookies '
                "list of the vendor whose script sets it" for name in unknown["cookies"]]
        out.append("")
    if len(out) == 3:
        out.append("# Nothing unknown: every host and cookie the scan saw is in the catalogue.")
    return "\n".join(out) + "\n"

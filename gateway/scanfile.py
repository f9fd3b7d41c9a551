"""The latest scan's summary in the data folder (``data/scan.json``), which the cookie declaration reads.

``consent-gateway scan --store`` writes it with :func:`write_scan`; the declaration reads it at request time with
:func:`read_scan` (not the hot path). The shape, for whoever writes it::

    {"scanned_at": "2026-12-01T10:00:00Z",
     "vendors": [{"vendor": "google-analytics", "category": "analytics",
                  "cookies": [{"name": "_ga", "expires_days": 730}, {"name": "_gid", "expires_days": 1}]}]}

``vendor`` is the catalogue's vendor id (its display name is accepted too); a vendor the catalogue does not know
is listed under that string. ``expires_days`` is a number of days (fractions allowed), 0 or null for a session
cookie. Other fields are ignored; gateway/scan/stored.py boils a scan report down to this shape.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .vocabulary import CATEGORIES

SCAN_FILE = "scan.json"
# The vendor id a scan gives the gateway's own consent cookie; the declaration names it in the visitor's language.
OWN_VENDOR = "consent-gateway"


@dataclass(frozen=True)
class ScannedCookie:
    name: str
    expires_days: float | None  # None: a session cookie


@dataclass(frozen=True)
class ScannedVendor:
    vendor: str
    category: str
    cookies: tuple[ScannedCookie, ...]


@dataclass(frozen=True)
class ScanSummary:
    scanned_at: datetime
    vendors: tuple[ScannedVendor, ...]


def parse_scan(doc: Any) -> ScanSummary:
    """A scan summary from its JSON document; ValueError naming the first bad field."""
    if not isinstance(doc, dict):
        raise ValueError("a scan summary is a JSON object")
    try:
        at = datetime.fromisoformat(str(doc.get("scanned_at")).replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"scanned_at: {doc.get('scanned_at')!r} is not an ISO date and time") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    vendors = doc.get("vendors", [])
    if not isinstance(vendors, list):
        raise ValueError("vendors: must be a list")
    return ScanSummary(at, tuple(_vendor(v, i) for i, v in enumerate(vendors)))


def _vendor(v: Any, i: int) -> ScannedVendor:
    if not isinstance(v, dict) or not isinstance(v.get("vendor"), str) or not v["vendor"]:
        raise ValueError(f"vendors[{i}]: needs a 'vendor' string")
    category = v.get("category")
    if category not in CATEGORIES and category != "unknown":
        raise ValueError(f"vendors[{i}]: category {category!r} is not one of {', '.join(CATEGORIES)} or unknown")
    cookies = v.get("cookies", [])
    if not isinstance(cookies, list):
        raise ValueError(f"vendors[{i}]: cookies: must be a list")
    out = []
    for j, c in enumerate(cookies):
        days = c.get("expires_days") if isinstance(c, dict) else None
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or (
                days is not None and (isinstance(days, bool) or not isinstance(days, (int, float)) or days < 0)):
            raise ValueError(f"vendors[{i}].cookies[{j}]: needs a 'name' and 'expires_days' (days, or null)")
        out.append(ScannedCookie(c["name"], None if days is None else float(days)))
    return ScannedVendor(v["vendor"], str(category), tuple(out))


def read_scan(data_dir: Path) -> ScanSummary | None:
    """The stored summary, or None when there is none. A damaged file raises ValueError naming it."""
    path = data_dir / SCAN_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return parse_scan(json.loads(raw))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def write_scan(data_dir: Path, doc: dict[str, Any]) -> Path:
    """Check ``doc`` and store it atomically (a reader never sees half a file); return the path."""
    parse_scan(doc)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".scan-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    os.replace(tmp, data_dir / SCAN_FILE)
    return data_dir / SCAN_FILE

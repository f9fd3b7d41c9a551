"""`scan --store`: the report boiled down to what the cookie declaration shows (gateway/scanfile.py's shape).

The report lists each vendor's cookie names; the declaration also wants their lifetimes, which only the
per-page, per-state entries carry. A cookie seen with several lifetimes is stated with the longest, so the
declaration never promises less than a visitor may get; one seen only as a session cookie is stated as one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..scanfile import write_scan


def scan_summary(report: dict[str, Any]) -> dict[str, Any]:
    """{"site", "scanned_at", "vendors": [{"vendor", "category", "name", "cookies": [{"name", "expires_days"}]}]}."""
    lifetimes: dict[tuple[str, str], float | None] = {}
    for page in report["pages"]:
        for state in page["states"].values():
            for c in state["cookies"]:
                if not c["vendor"]:
                    continue
                key, days = (c["vendor"], c["name"]), c["expires_days"]
                if key not in lifetimes or days is not None and (lifetimes[key] or 0) < days:
                    lifetimes[key] = days
    vendors = [{"vendor": v["vendor"], "category": v["category"], "name": v.get("name", v["vendor"]),
                "cookies": [{"name": n, "expires_days": lifetimes.get((v["vendor"], n))} for n in v["cookies"]]}
               for v in report["vendors"]]
    return {"site": report["site"], "scanned_at": report["scanned_at"], "vendors": vendors}


def store_scan(report: dict[str, Any], data_dir: Path) -> Path:
    """Save the summary where the declaration reads it; returns the file written."""
    return write_scan(data_dir, scan_summary(report))

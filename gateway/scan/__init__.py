"""`consent-gateway scan`: what a site loads before and after consent (issue 14, items 1-3).

``scan_site(url, settings, options) -> dict`` is the whole scan as a JSON-serialisable report; ``report``
renders it, ``suggest`` proposes catalogue entries for what it did not know.
"""

from __future__ import annotations

from .crawler import ScanError, ScanOptions
from .scanner import scan_site

__all__ = ["ScanError", "ScanOptions", "scan_site"]

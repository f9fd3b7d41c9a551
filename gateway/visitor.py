"""Read a visitor's consent from request headers: the one path shared by the API and the middleware."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

from .consent import UNDECIDED, ConsentState
from .metrics import Metrics
from .settings import Settings
from .signing import CookieSigner

RECENT = 4096


class VisitorReader:
    """Cookie + Sec-GPC -> the ConsentState in force now. Bad or stale cookies mean "not decided"."""

    def __init__(self, settings: Settings, signer: CookieSigner, metrics: Metrics) -> None:
        self._name = settings.cookie_name
        self._policy = settings.policy_version
        self._validity = timedelta(days=settings.validity_days)
        self._honor_gpc = settings.honor_gpc
        self._signer = signer
        self._invalid = metrics.invalid_cookies
        self._recent: dict[str, tuple[ConsentState, float]] = {}  # verified value -> (state, valid until)
        # One cookie out of the header, without parsing the others (the per-request hot path).
        self._pattern = re.compile(rf"(?:^|;)\s*{re.escape(self._name)}=\s*\"?([^;\"]*)")

    def cookie_value(self, cookie_header: str | None) -> str | None:
        if not cookie_header or self._name not in cookie_header:
            return None
        m = self._pattern.search(cookie_header)
        if m is None or not m.group(1):
            return None
        value = m.group(1).strip()
        return unquote(value) if "%" in value else value

    def read(self, cookie_header: str | None, gpc_header: str | None, now: datetime | None = None) -> ConsentState:
        gpc = self._honor_gpc and gpc_header is not None and gpc_header.strip() == "1"
        value = self.cookie_value(cookie_header)
        if value is None:
            return _UNDECIDED_GPC if gpc else UNDECIDED
        hit = self._recent.get(value) if now is None else None
        state = hit[0] if hit is not None and time.time() < hit[1] else self._verify(value, now)
        if state is None:
            return _UNDECIDED_GPC if gpc else UNDECIDED
        return replace(state, gpc=True) if gpc and not state.gpc else state

    def _verify(self, value: str, now: datetime | None) -> ConsentState | None:
        """Full check (signature, age, policy version); the result is remembered until it could change."""
        state, reason = self._signer.loads(value)
        if state is None:
            self._invalid.labels(reason or "unknown").inc()
            return None
        at = now or datetime.now(timezone.utc)
        current = state.current(self._policy, at, self._validity)
        if current.decided and state.decided_at is not None and now is None:
            until = min((state.decided_at + self._validity).timestamp(), self._signer.expires_at(value))
            self._recent[value] = (current, until)
            if len(self._recent) > RECENT:
                self._recent.pop(next(iter(self._recent)))
        return current


_UNDECIDED_GPC = replace(UNDECIDED, gpc=True)

"""Read a visitor's consent from request headers: the one path shared by the API and the middleware.

A cookie whose consent was withdrawn or erased (``gateway.revocations``) reads as "no consent yet", keeping no id:
the check comes after the caches of verified cookies, so a cached cookie is refused the moment its id is revoked.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

from .consent import UNDECIDED, ConsentState
from .metrics import Metrics
from .revocations import Revocations
from .settings import Settings
from .signing import CookieSigner

RECENT = 4096


class VisitorReader:
    """Cookie + Sec-GPC -> the ConsentState in force now. Bad or stale cookies mean "not decided"."""

    def __init__(self, settings: Settings, signer: CookieSigner, metrics: Metrics,
                 revocations: Revocations | None = None) -> None:
        self._name = settings.cookie_name
        self._policy = settings.policy_version
        self._validity = timedelta(days=settings.validity_days)
        self._honor_gpc = settings.honor_gpc
        self._signer = signer
        self._invalid = metrics.invalid_cookies
        self._revocations = revocations if revocations is not None else Revocations(self._validity)
        self._recent: dict[str, tuple[ConsentState, float]] = {}  # verified value -> (state, valid until)
        self._by_header: dict[bytes, tuple[ConsentState, float]] = {}  # whole Cookie header -> the same
        self._name_bytes = settings.cookie_name.encode("latin-1")
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
        state = self._lookup(value, now)[0] if value is not None else None
        return self._in_force(state, gpc)

    def read_raw(self, cookie_header: bytes | None, gpc_header: bytes | None) -> ConsentState:
        """``read`` for header bytes as an ASGI server hands them over (the middleware's per-request path).

        A visitor sends the same Cookie header request after request, so the whole header is remembered with
        its verified state (until that could change): a repeat costs one dictionary lookup.
        """
        gpc = self._honor_gpc and gpc_header is not None and gpc_header.strip() == b"1"
        state = None
        # find, not `in`: see gateway.headers
        if cookie_header is not None and cookie_header.find(self._name_bytes) >= 0:
            hit = self._by_header.get(cookie_header)
            if hit is not None and time.time() < hit[1]:
                state = hit[0]
            else:
                value = self.cookie_value(cookie_header.decode("latin-1"))
                if value is not None:
                    state, until = self._lookup(value, None)
                    if until and state is not None:
                        _remember(self._by_header, cookie_header, (state, until))
        return self._in_force(state, gpc)

    def _lookup(self, value: str, now: datetime | None) -> tuple[ConsentState | None, float]:
        """A cookie value's state and until when it holds: remembered if verified recently, else verified."""
        hit = self._recent.get(value) if now is None else None
        if hit is not None and time.time() < hit[1]:
            return hit
        return self._verify(value, now)

    def _in_force(self, state: ConsentState | None, gpc: bool) -> ConsentState:
        if state is None or (state.consent_id is not None
                             and self._revocations.revokes(state.consent_id, state.decided_at)):
            return _UNDECIDED_GPC if gpc else UNDECIDED
        return replace(state, gpc=True) if gpc and not state.gpc else state

    def _verify(self, value: str, now: datetime | None) -> tuple[ConsentState | None, float]:
        """Full check (signature, age, policy version); the result is remembered until it could change.

        Returns the state (None when the cookie is not valid) and until when it holds (0: not remembered)."""
        state, reason = self._signer.loads(value)
        if state is None:
            self._invalid.labels(reason or "unknown").inc()
            return None, 0.0
        at = now or datetime.now(timezone.utc)
        current = state.current(self._policy, at, self._validity)
        if current.decided and state.decided_at is not None and now is None:
            until = min((state.decided_at + self._validity).timestamp(), self._signer.expires_at(value))
            _remember(self._recent, value, (current, until))
            return current, until
        return current, 0.0


def _remember(cache: dict[Any, tuple[ConsentState, float]], key: Any, entry: tuple[ConsentState, float]) -> None:
    cache[key] = entry
    if len(cache) > RECENT:
        cache.pop(next(iter(cache)))


_UNDECIDED_GPC = replace(UNDECIDED, gpc=True)

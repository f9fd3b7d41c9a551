"""Read a visitor's consent from request headers: the one path shared by the API and the middleware."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from starlette.requests import cookie_parser

from .consent import UNDECIDED, ConsentState
from .metrics import Metrics
from .settings import Settings
from .signing import CookieSigner


class VisitorReader:
    """Cookie + Sec-GPC -> the ConsentState in force now. Bad or stale cookies mean "not decided"."""

    def __init__(self, settings: Settings, signer: CookieSigner, metrics: Metrics) -> None:
        self._name = settings.cookie_name
        self._policy = settings.policy_version
        self._validity = timedelta(days=settings.validity_days)
        self._honor_gpc = settings.honor_gpc
        self._signer = signer
        self._invalid = metrics.invalid_cookies

    def cookie_value(self, cookie_header: str | None) -> str | None:
        if not cookie_header or self._name not in cookie_header:
            return None
        return cookie_parser(cookie_header).get(self._name) or None

    def read(self, cookie_header: str | None, gpc_header: str | None, now: datetime | None = None) -> ConsentState:
        gpc = self._honor_gpc and (gpc_header or "").strip() == "1"
        value = self.cookie_value(cookie_header)
        if value is None:
            return replace(UNDECIDED, gpc=True) if gpc else UNDECIDED
        state, reason = self._signer.loads(value)
        if state is None:
            self._invalid.labels(reason or "unknown").inc()
            return replace(UNDECIDED, gpc=True) if gpc else UNDECIDED
        state = state.current(self._policy, now or datetime.now(timezone.utc), self._validity)
        return replace(state, gpc=True) if gpc and not state.gpc else state

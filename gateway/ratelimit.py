"""Token buckets per client network: what one machine (its /24 or /48) may send to the consent API.

In memory, per process: a limit is per instance (several workers or instances each allow the rate), which is
enough to keep one client from filling the log or the dashboard; bounded to ``max_keys`` networks (the least
recently seen are forgotten first). No I/O and no HTTP: the routes ask ``wait`` and answer 429 themselves.
"""

from __future__ import annotations

import time
from collections import OrderedDict


class TokenBuckets:
    """``per_minute`` requests per key and minute, in bursts of up to ``burst`` (default: the same number)."""

    def __init__(self, per_minute: int, burst: int | None = None, max_keys: int = 10_000) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst if burst is not None else per_minute)
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self.enabled = per_minute > 0

    def peek(self, key: str, now: float | None = None) -> float:
        """The seconds until ``key`` has a token again (0: it has one now), taking nothing."""
        if not self.enabled or key not in self._buckets:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets[key]
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self._rate

    def wait(self, key: str, now: float | None = None) -> float:
        """Take one token for ``key``: 0 when allowed, else the seconds until the next token."""
        if not self.enabled:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.pop(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            waited = 0.0
        else:
            self._buckets[key] = (tokens, now)
            waited = (1 - tokens) / self._rate
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return waited


class DailyCap:
    """At most ``limit`` distinct values a day are kept as themselves; the rest count as ``other``."""

    def __init__(self, limit: int, other: str = "other") -> None:
        self._limit = limit
        self._other = other
        self._day = ""
        self._seen: set[str] = set()

    def admit(self, value: str, day: str) -> str:
        if day != self._day:
            self._day, self._seen = day, set()
        if value in self._seen or len(self._seen) < self._limit:
            self._seen.add(value)
            return value
        return self._other

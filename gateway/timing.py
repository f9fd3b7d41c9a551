"""Request latency of the gateway's own routes into a Prometheus histogram (pure ASGI, bounded labels)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import Histogram
from starlette.types import ASGIApp, Receive, Scope, Send


class LatencyMiddleware:
    """Times each request until its last body byte; unknown paths share one label so labels stay bounded."""

    def __init__(self, app: ASGIApp, histogram: Histogram, prefix: str, paths: Iterable[str]) -> None:
        self.app = app
        self.histogram = histogram
        self.prefix = prefix
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].removeprefix(self.prefix)
        label = path if path in self.paths else "other"
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.histogram.labels(label).observe(time.perf_counter() - start)

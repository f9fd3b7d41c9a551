"""The gateway's layers for an HTTP request in one pass: what each ASGI middleware of ``gateway.app`` does, called
as plain functions, and one send wrapper at the end instead of one per layer.

Each layer stays its own module and its own middleware (``ConsentMiddleware`` and the tests nest them); here their
request hooks run in the middlewares' order (forwarded headers, allowed hosts, the content coding, the consent
read), the site or the consent API answers, and its messages pass the consent rewrite, then compression when the
client accepts a coding, then the access log's ``Recorder`` (with the Vary an uncompressed response needs); on
the common path, no coding, the consent rewrite's own send records and adds the Vary. An ASGI layer costs a
coroutine per call and per message: with five of them the layers took more CPU than the proxying they wrap.
Other scope types (lifespan, websocket) go through the nested chain.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from .accesslog import AccessLog, Recorder
from .compression import CompressionMiddleware, vary_identity
from .forwarded import ForwardedHeaders
from .hosts import AllowedHosts
from .middleware import BlockingMiddleware, Responder


class Pipeline:
    def __init__(self, chain: ASGIApp, *, forwarded: ForwardedHeaders, hosts: AllowedHosts,
                 compression: CompressionMiddleware, blocking: BlockingMiddleware, log: AccessLog | None,
                 site: ASGIApp | None = None, own: Mapping[str, ASGIApp] | None = None) -> None:
        """``site`` and ``own``: what ``blocking.app`` does, taken apart (the paths the gateway answers itself,
        the site for the rest) so that a request pays no dispatching frame of its own."""
        self.chain = chain  # the same layers nested, for every scope but "http"
        self.site = site if site is not None else blocking.app
        self.own = own or {}
        self.forwarded = forwarded
        self.hosts = hosts
        self.compression = compression
        self.blocking = blocking
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.chain(scope, receive, send)
            return
        started = time.perf_counter()
        tally: Recorder | Responder | None = None
        try:
            self.forwarded.apply(scope)
            if not self.hosts.allows(scope):
                tally = Recorder(send)
                await self.hosts.refuse(scope, tally.send)
                return
            blocking = self.blocking
            path = scope["path"]
            api = blocking.api is not None and blocking.is_api(path)
            coding = self.compression.coding(scope)
            site = self.own.get(path) or self.site
            if coding is None and not api:  # the common case: the consent rewrite's send is the only wrapper
                tally = blocking.responder(scope, send, publish=False, on_start=vary_identity)
                await site(scope, receive, tally.send)
                return
            tally = Recorder(send, on_start=vary_identity if coding is None else None)
            downstream = tally.send if coding is None else self.compression.encoding(scope, coding, tally.send)
            if api:
                assert blocking.api is not None
                await blocking.api(scope, receive, downstream)
            else:
                await site(scope, receive, blocking.responder(scope, downstream, publish=False).send)
        finally:
            if self.log is not None:
                self.log.record(scope, tally.status if tally else 0, tally.sent if tally else 0, started)

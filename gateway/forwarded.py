"""X-Forwarded-* from trusted proxies: the visitor's address and scheme for the app, the connection's peer
kept for the reverse proxy.

uvicorn's ProxyHeadersMiddleware does the parsing (the visitor is the first untrusted address from the right,
the scheme comes from X-Forwarded-Proto) but replaces ``scope["client"]``. The reverse proxy must still know
whether the connection itself came from a trusted proxy, to extend the X-Forwarded-For chain and to believe
X-Forwarded-Host, so the peer is kept under ``PEER`` first. `serve` runs uvicorn without its own copy.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .trusted import TrustedProxies

PEER = "gateway.peer"


class ForwardedHeaders(ProxyHeadersMiddleware):
    def __init__(self, app: ASGIApp, trusted: TrustedProxies) -> None:
        # The entries were checked when Settings parsed them; uvicorn keeps its own copy for its parser.
        super().__init__(app, trusted_hosts="*" if trusted.everyone else list(trusted.entries))  # type: ignore[arg-type]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        scope[PEER] = scope.get("client")
        await super().__call__(scope, receive, send)  # type: ignore[arg-type]

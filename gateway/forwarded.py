"""X-Forwarded-* from trusted proxies: the visitor's address and scheme for the app, the connection's peer
kept for the reverse proxy.

uvicorn's ProxyHeadersMiddleware parses the trusted hosts and the chain (the visitor is the first untrusted
address from the right, the scheme comes from X-Forwarded-Proto) but replaces ``scope["client"]``. The reverse
proxy must still know whether the connection itself came from a trusted proxy, to extend the X-Forwarded-For
chain and to believe X-Forwarded-Host, so the peer is kept under ``PEER`` first. ``apply`` does it as a plain
call (the one-pass pipeline of ``gateway.pipeline`` runs it so); `serve` runs uvicorn without its own copy.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from .headers import request_headers
from .trusted import TrustedProxies

PEER = "gateway.peer"


class ForwardedHeaders(ProxyHeadersMiddleware):
    def __init__(self, app: ASGIApp, trusted: TrustedProxies) -> None:
        # The entries were checked when Settings parsed them; uvicorn keeps its own copy for its parser.
        super().__init__(app, trusted_hosts="*" if trusted.everyone else list(trusted.entries))  # type: ignore[arg-type]

    def apply(self, scope: Scope) -> None:
        """The visitor's client and scheme in ``scope`` as trusted proxies tell them, the peer under ``PEER``: a
        plain call, so the gateway's one-pass pipeline runs it without an ASGI layer (uvicorn's parsing)."""
        client = scope.get("client")
        scope[PEER] = client
        if (client[0] if client else None) not in self.trusted_hosts:
            return
        headers = request_headers(scope)
        proto = headers.get(b"x-forwarded-proto")
        chain = headers.get(b"x-forwarded-for")
        if proto is not None:
            scheme = proto.decode("latin-1").strip()
            if scheme in ("http", "https", "ws", "wss"):
                scope["scheme"] = scheme.replace("http", "ws") if scope["type"] == "websocket" else scheme
        if chain:
            host, port = self.trusted_hosts.get_trusted_client_address(chain.decode("latin-1"))
            if host:  # an empty X-Forwarded-For names nobody: the peer stays the client
                scope["client"] = (host, port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        if scope["type"] != "lifespan":
            self.apply(scope)
        await self.app(scope, receive, send)  # type: ignore[arg-type]

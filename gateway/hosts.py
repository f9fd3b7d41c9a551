"""Host header checks and the headers every gateway response carries (pure ASGI, parsed once).

``AllowedHosts`` answers a request for a host the site does not serve with 400, as Django's ALLOWED_HOSTS does:
the gateway maps upstream redirects to the visitor's Host, so an arbitrary Host would be reflected in them.
``SecurityHeaders`` adds ``X-Content-Type-Options: nosniff`` where the response has none, and drops
``Access-Control-Allow-Credentials`` from a response that allows every origin (the two together are refused by
browsers and say something the gateway never means: public assets are public, credentials are for the origins).
"""

from __future__ import annotations

import functools

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors
from .headers import request_headers
from .trusted import HostPatterns, host_of


class AllowedHosts:
    """A site is asked for by a handful of Host values, so each header value's verdict is remembered."""

    def __init__(self, app: ASGIApp, hosts: HostPatterns) -> None:
        self.app = app
        self.hosts = hosts
        self._allowed = functools.lru_cache(maxsize=1024)(lambda header: host_of(header) in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.allows(scope):
            await self.app(scope, receive, send)
        else:
            await self.refuse(scope, send)

    def allows(self, scope: Scope) -> bool:
        if self.hosts.everyone:
            return True
        return bool(self._allowed(request_headers(scope).get(b"host", b"")))

    async def refuse(self, scope: Scope, send: Send) -> None:
        """400 naming the host, in the form the client asked for (JSON, HTML or text)."""
        host = next((v for k, v in scope["headers"] if k == b"host"), b"")
        accept = next((v for k, v in scope["headers"] if k == b"accept"), b"").decode("latin-1")
        exc = errors.GatewayError(errors.BAD_HOST.format(host=host.decode("latin-1")[:100]), code="bad_host")
        await errors.send_error(send, exc, errors.kind_for(accept), head=scope["method"] == "HEAD")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = message.setdefault("headers", [])
                names = {name.lower() for name, _ in raw}
                if b"x-content-type-options" not in names:
                    raw.append((b"x-content-type-options", b"nosniff"))
                if (b"access-control-allow-origin", b"*") in raw:
                    message["headers"] = [h for h in raw if h[0].lower() != b"access-control-allow-credentials"]
            await send(message)

        await self.app(scope, receive, sending)

"""ConsentMiddleware: pure ASGI server-side blocking for a Starlette/FastAPI app or the reverse proxy.

Per request: read the signed cookie, decide, publish the consent at scope["gateway.consent"] (and
request.state.consent), then on the way out drop non-consented Set-Cookie headers, add the per-visitor
CSP, and stream HTML bodies through the HTML filter chunk by chunk. Paths under the prefix go to the
consent API. The lifespan opens and closes the consent store.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .decision import Decision, decide
from .html_filter import FilterPlan, HtmlFilter
from .locales import negotiate
from .runtime import Gateway
from .settings import Settings
from .useragent import classify

SCOPE_KEY = "gateway.consent"
HTML_TYPES = ("text/html", "application/xhtml+xml")
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=_-]+)'")


class ConsentMiddleware:
    """`app.add_middleware(ConsentMiddleware, settings=settings)`; state at `request.state.consent`."""

    def __init__(self, app: ASGIApp, settings: Settings | None = None, gateway: Gateway | None = None,
                 serve_api: bool = True) -> None:
        if gateway is None:
            if settings is None:
                raise TypeError("ConsentMiddleware needs settings= or gateway=")
            gateway = Gateway(settings)
        self.app = app
        self.gateway = gateway
        self.settings = gateway.settings
        self.prefix = gateway.settings.prefix
        self.api = gateway.consent_app() if serve_api else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self.api is not None and (path == self.prefix or path.startswith(self.prefix + "/")):
            await self.api(scope, receive, send)
            return
        headers = Headers(scope=scope)
        state = self.gateway.reader.read(headers.get("cookie"), headers.get("sec-gpc"))
        scope[SCOPE_KEY] = state
        scope.setdefault("state", {})["consent"] = state
        decision = decide(state, classify(headers.get("user-agent", "")).is_bot, self.settings.categories)
        responder = _Responder(self, scope, decision, headers)
        await self.app(scope, receive, responder.send_with(send))

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.gateway.startup()
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.shutdown()
            return message

        return wrapped


class _Responder:
    """Per-request response rewriting; the middleware instance itself keeps no request state."""

    def __init__(self, mw: ConsentMiddleware, scope: Scope, decision: Decision, headers: Headers) -> None:
        self.mw = mw
        self.scope = scope
        self.decision = decision
        self.request_headers = headers
        self.filter: HtmlFilter | None = None

    def send_with(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._start(message)
                await send(message)
            elif message["type"] == "http.response.body" and self.filter is not None:
                out = self.filter.feed(message.get("body", b""))
                more = message.get("more_body", False)
                if not more:
                    out += self.filter.close()
                if out or not more:
                    await send({"type": "http.response.body", "body": out, "more_body": more})
            else:
                await send(message)

        return wrapped

    def _start(self, message: Message) -> None:
        headers = MutableHeaders(scope=message)
        gw = self.mw.gateway
        blocked = self.decision.blocked
        self._filter_cookies(headers, blocked)
        ctype = headers.get("content-type", "")
        is_html = ctype.split(";")[0].strip().lower() in HTML_TYPES
        status = message["status"]
        if not is_html:
            return
        origin_csp = headers.get("content-security-policy", "")
        if gw.csp.enabled:
            headers.append(gw.csp.header, gw.csp.policy(blocked, self.decision.decided))
        if "content-encoding" in headers or self.scope["method"] == "HEAD" or status in (204, 206, 304):
            return
        nonce = _NONCE.search(origin_csp)
        lang = negotiate(None, self.request_headers.get("accept-language"), gw.settings.languages,
                         gw.settings.default_language)
        plan = FilterPlan(
            blocked=blocked, catalogue=gw.catalogue, first_party=self._first_party(),
            head_html=gw.head_html(self.decision, nonce.group(1) if nonce else None),
            placeholder=_placeholder(gw, lang),
        )
        self.filter = HtmlFilter(plan, encoding=_charset(ctype))
        del headers["content-length"]
        _make_private(headers)
        headers.add_vary_header("Cookie")

    def _first_party(self) -> frozenset[str]:
        host = self.request_headers.get("host", "").rsplit(":", 1)[0].lower()
        return self.mw.settings.first_party_hosts | {host}

    def _filter_cookies(self, headers: MutableHeaders, blocked: frozenset[str]) -> None:
        """Drop Set-Cookie headers whose cookie belongs to a category the visitor has not granted."""
        cookies = headers.getlist("set-cookie")
        if not cookies or not blocked:
            return
        catalogue = self.mw.gateway.catalogue
        keep = [c for c in cookies if catalogue.category_for_cookie(c.split("=", 1)[0].strip()) not in blocked]
        if len(keep) != len(cookies):
            del headers["set-cookie"]
            for c in keep:
                headers.append("set-cookie", c)


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"').lower()
    return None


def _make_private(headers: MutableHeaders) -> None:
    """A page rewritten for one visitor's consent must never be stored by a shared cache."""
    cache = headers.get("cache-control")
    if not cache:
        headers["cache-control"] = "private"
        return
    parts = [p.strip() for p in cache.split(",") if p.strip()]
    parts = [p for p in parts if p.lower() != "public" and not p.lower().startswith("s-maxage")]
    if not any(p.lower() in ("private", "no-store") for p in parts):
        parts.insert(0, "private")
    headers["cache-control"] = ", ".join(parts)


def _placeholder(gw: Any, lang: str) -> str:
    cfg = gw.configs[lang]
    return cfg.texts["placeholder"] + " " + cfg.texts["load"]

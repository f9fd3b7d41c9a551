"""ConsentMiddleware: pure ASGI server-side blocking for a Starlette/FastAPI app or the reverse proxy.

Per request: read the signed cookie, publish the consent at scope["gateway.consent"] (and
request.state.consent), then on the way out drop non-consented Set-Cookie headers, add the per-visitor
CSP, and stream HTML bodies through the HTML filter chunk by chunk. Paths under the prefix go to the
consent API. The lifespan opens and closes the consent store.

Hot path: a non-HTML response without cookies costs one cookie lookup (verified values are cached by the
signer) and a header scan. A page that arrives in one body message is rewritten once per distinct
(body, plan) pair and served from a small cache after that, since the rewrite is a pure function of both.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from functools import lru_cache

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .consent import ConsentState
from .decision import Decision, decide
from .html_filter import FilterPlan, HtmlFilter
from .locales import negotiate
from .runtime import Gateway
from .settings import Settings
from .useragent import classify

SCOPE_KEY = "gateway.consent"
HTML_TYPES = ("text/html", "application/xhtml+xml")
CACHE_ENTRIES = 128
CACHE_MAX_BODY = 128 * 1024
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
        self.first_party = gateway.settings.first_party_hosts
        self.cache = _RewriteCache(CACHE_ENTRIES)
        self._decide = lru_cache(maxsize=64)(self._decide_uncached)
        self.plan = lru_cache(maxsize=512)(self._plan_uncached)

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
        cookie = gpc = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookie = value.decode("latin-1") if cookie is None else f"{cookie}; {value.decode('latin-1')}"
            elif name == b"sec-gpc":
                gpc = value.decode("latin-1")
        state = self.gateway.reader.read(cookie, gpc)
        scope[SCOPE_KEY] = state
        scope.setdefault("state", {})["consent"] = state
        await self.app(scope, receive, _Responder(self, scope, state).send_with(send))

    def _plan_uncached(self, decision: Decision, host: str, lang: str, nonce: str | None) -> FilterPlan:
        gw = self.gateway
        return FilterPlan(
            blocked=decision.blocked, catalogue=gw.catalogue, first_party=self.first_party | {host},
            head_html=gw.head_html(decision, nonce), early_html=gw.early_html(decision, nonce),
            placeholder=gw.placeholder(lang), category_labels=gw.category_labels(lang),
            banner_path=f"{gw.settings.prefix}/banner.js",
        )

    def decision(self, state: ConsentState, user_agent: str) -> Decision:
        return self._decide(state.granted, state.decided, classify(user_agent).is_bot)

    def _decide_uncached(self, granted: frozenset[str], decided: bool, is_bot: bool) -> Decision:
        return decide(ConsentState(decided=decided, granted=granted), is_bot, self.settings.categories)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.gateway.startup()
            elif message["type"] == "lifespan.shutdown":
                await self.gateway.shutdown()
            return message

        return wrapped


class _RewriteCache:
    """LRU of rewritten single-message pages, keyed by the body and the plan that rewrote it.

    The key holds the body's built-in hash; a hit is confirmed by comparing the stored body, so a hash
    collision can only cost a miss, never serve another page.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[tuple[object, ...], tuple[bytes, bytes]] = OrderedDict()

    def rewrite(self, body: bytes, plan: FilterPlan, encoding: str | None) -> bytes:
        if len(body) > CACHE_MAX_BODY:
            return _rewrite(body, plan, encoding)
        key = (hash(body), plan, encoding)
        hit = self.entries.get(key)
        if hit is not None and hit[0] == body:
            self.entries.move_to_end(key)
            return hit[1]
        out = _rewrite(body, plan, encoding)
        self.entries[key] = (body, out)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return out


def _rewrite(body: bytes, plan: FilterPlan, encoding: str | None) -> bytes:
    f = HtmlFilter(plan, encoding=encoding)
    return f.feed(body) + f.close()


class _Responder:
    """Per-request response rewriting; the middleware instance itself keeps no request state."""

    def __init__(self, mw: ConsentMiddleware, scope: Scope, state: ConsentState) -> None:
        self.mw = mw
        self.scope = scope
        self.state = state
        self.plan: FilterPlan | None = None
        self.encoding: str | None = None
        self.filter: HtmlFilter | None = None
        self.start: Message | None = None

    def send_with(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._start(message)
                if self.plan is None:
                    await send(message)
                else:
                    self.start = message  # held until the first body message says whether the page is whole
            elif message["type"] == "http.response.body" and self.plan is not None:
                body = message.get("body", b"")
                more = message.get("more_body", False)
                if self.start is not None:
                    start, self.start = self.start, None
                    if not more:  # the whole page in one message: rewrite once, send with its exact length
                        out = self.mw.cache.rewrite(body, self.plan, self.encoding)
                        self.plan = None
                        start["headers"].append((b"content-length", str(len(out)).encode()))
                        await send(start)
                        await send({"type": "http.response.body", "body": out})
                        return
                    await send(start)
                    self.filter = HtmlFilter(self.plan, encoding=self.encoding)
                assert self.filter is not None
                out = self.filter.feed(body)
                if not more:
                    out += self.filter.close()
                if out or not more:
                    await send({"type": "http.response.body", "body": out, "more_body": more})
            else:
                await send(message)

        return wrapped

    def _start(self, message: Message) -> None:
        raw = message.get("headers") or []
        ctype = b""
        has_cookies = False
        for name, value in raw:
            if name == b"content-type":
                ctype = value
            elif name == b"set-cookie":
                has_cookies = True
        is_html = ctype.split(b";")[0].strip().lower().decode("latin-1") in HTML_TYPES
        if not is_html and not has_cookies:
            return
        headers = MutableHeaders(scope=message)
        request = MutableHeaders(scope=self.scope)
        decision = self.mw.decision(self.state, request.get("user-agent", ""))
        if has_cookies:
            self._filter_cookies(headers, decision.blocked)
        if not is_html:
            return
        gw = self.mw.gateway
        origin_csp = headers.get("content-security-policy", "")
        if gw.csp.enabled:
            headers.append(gw.csp.header, gw.csp.policy(decision.blocked, decision.decided))
        if self.scope["method"] == "HEAD":
            del headers["content-length"]  # the GET body is rewritten, so the origin's length would be wrong
            _make_private(headers)
            return
        if "content-encoding" in headers or message["status"] in (204, 206, 304):
            return
        nonce = _NONCE.search(origin_csp)
        lang = _negotiate(request.get("accept-language"), gw.settings.languages, gw.settings.default_language)
        host = request.get("host", "").rsplit(":", 1)[0].lower()
        self.plan = self.mw.plan(decision, host, lang, nonce.group(1) if nonce else None)
        self.encoding = _charset(ctype.decode("latin-1"))
        del headers["content-length"]
        # The origin's validators describe its bytes, not this visitor's rewrite: a 304 after a consent change
        # would bring back another consent class's page from the browser cache.
        del headers["etag"]
        del headers["last-modified"]
        _make_private(headers)
        headers.add_vary_header("Cookie")

    def _filter_cookies(self, headers: MutableHeaders, blocked: frozenset[str]) -> None:
        """Drop Set-Cookie headers whose cookie belongs to a category the visitor has not granted."""
        cookies = headers.getlist("set-cookie")
        if not blocked:
            return
        catalogue = self.mw.gateway.catalogue
        keep = [c for c in cookies if catalogue.category_for_cookie(c.split("=", 1)[0].strip()) not in blocked]
        if len(keep) != len(cookies):
            del headers["set-cookie"]
            for c in keep:
                headers.append("set-cookie", c)


@lru_cache(maxsize=1024)
def _negotiate(accept_language: str | None, languages: tuple[str, ...], default: str) -> str:
    """Visitors send few distinct Accept-Language headers: the page's language is decided once per header."""
    return negotiate(None, accept_language, languages, default)


@lru_cache(maxsize=256)
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

"""BlockingMiddleware: pure ASGI server-side blocking in front of an app or the reverse proxy.

Per request: read the signed cookie, publish the consent at scope["gateway.consent"] (and
request.state.consent), then on the way out drop non-consented Set-Cookie headers, add the per-visitor
CSP, and stream HTML bodies through the rewrite filter chunk by chunk. Paths under the prefix go to the
consent API when one is given. Its collaborators are built once by the composition root (``gateway.app``);
this layer never reaches the store or the routes.

Hot path: a non-HTML response without cookies costs one dictionary lookup for the visitor's Cookie header
and a scan of the response headers; HTML headers are edited in one pass over the raw list. A page that
arrives in one body message is rewritten once per distinct (body, plan) pair and served from a small cache
after that, since the rewrite is a pure function of both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import headers
from .bodycache import BodyCache
from .consent import ConsentState
from .csp import CspBuilder
from .decision import Decision
from .headers import request_headers
from .plans import Planner
from .rewrite import FilterPlan, HtmlFilter
from .visitor import VisitorReader

SCOPE_KEY = "gateway.consent"
CACHE_ENTRIES = 128
CACHE_MAX_BODY = 128 * 1024
EDIT_ENTRIES = 256  # distinct (response headers, consent class, host, language) header edits remembered
_NONCE = re.compile(rb"'nonce-([A-Za-z0-9+/=_-]+)'")


class BlockingMiddleware:
    """Reads consent, rewrites responses; ``api`` (optional) answers the paths under ``prefix``."""

    def __init__(self, app: ASGIApp, *, visitors: VisitorReader, planner: Planner, csp: CspBuilder,
                 cookie_category: Callable[[str], str | None], api: ASGIApp | None = None,
                 prefix: str = "/_consent") -> None:
        self.app = app
        self.visitors = visitors
        self.planner = planner
        self.csp = csp
        self.cookie_category = cookie_category
        self.api = api
        self.prefix = prefix
        self._under = prefix + "/"  # made once: every request asks
        self.cache = BodyCache(CACHE_ENTRIES, CACHE_MAX_BODY)  # plans are kept alive by their entries
        self.edits: dict[tuple[object, ...], tuple[tuple[tuple[bytes, bytes], ...], FilterPlan | None, str | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.api is not None and self.is_api(scope["path"]):
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, self.responder(scope, send).send)

    def is_api(self, path: str) -> bool:
        return path.startswith(self._under) or path == self.prefix

    def responder(self, scope: Scope, send: Send, *, publish: bool = True,
                  on_start: Callable[[Message], None] | None = None) -> Responder:
        """The rewriting of the app's response to this visitor (its ``send`` goes to the app).

        ``publish``: read the consent now and put it in ``scope`` for the app; else it is read when a response
        needs it (a page, a Set-Cookie), since the reverse proxy never looks. ``on_start`` sees the response's
        start message as it leaves, edited (a rewritten page's before its new Content-Length), so the one-pass
        pipeline needs no send wrapper of its own; it must be a pure edit of the headers, since a page's is
        remembered with the rest of its header edit."""
        state = None
        if publish:
            state = self.consent(scope)
            scope[SCOPE_KEY] = state
            if "state" in scope:
                scope["state"]["consent"] = state
            else:
                scope["state"] = {"consent": state}
        return Responder(self, scope, state, send, on_start)

    def consent(self, scope: Scope) -> ConsentState:
        """The visitor's consent in force, from the signed cookie (and Sec-GPC)."""
        named = request_headers(scope)
        return self.visitors.read_raw(named.get(b"cookie"), named.get(b"sec-gpc"))


def _rewrite(cache: BodyCache, body: bytes, plan: FilterPlan, encoding: str | None) -> bytes:
    """A whole page rewritten for ``plan``; pure in (body, plan, encoding), so each pair is rewritten once."""
    variant = (plan, encoding)
    out = cache.get(body, variant)
    if out is None:
        f = HtmlFilter(plan, encoding=encoding)
        out = f.feed(body) + f.close()
        cache.put(body, variant, out)
    return out


class Responder:
    """Per-request response rewriting; the middleware instance itself keeps no request state."""

    __slots__ = ("mw", "scope", "state", "downstream", "plan", "encoding", "filter", "start", "on_start", "status",
                 "sent")

    def __init__(self, mw: BlockingMiddleware, scope: Scope, state: ConsentState | None, send: Send,
                 on_start: Callable[[Message], None] | None = None) -> None:
        self.mw = mw
        self.scope = scope
        self.state = state
        self.downstream = send
        self.plan: FilterPlan | None = None
        self.encoding: str | None = None
        self.filter: HtmlFilter | None = None
        self.start: Message | None = None
        self.on_start = on_start
        self.status = 0  # of the start sent, and the body bytes sent: what an access log records
        self.sent = 0

    async def send(self, message: Message) -> None:
        send = self.downstream
        if self.plan is None and self.start is None:
            kind = message["type"]
            if kind == "http.response.start":
                self._start(message)
                if self.plan is not None:
                    self.start = message  # held until the first body message says whether the page is whole
                    return
                self._leaving(message)
            elif kind == "http.response.body":
                self.sent += len(message.get("body", b""))
            await send(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        assert self.plan is not None
        body = message.get("body", b"")
        more = message.get("more_body", False)
        if self.start is not None:
            start, self.start = self.start, None
            if not more:  # the whole page in one message: rewrite once, send with its exact length
                out = _rewrite(self.mw.cache, body, self.plan, self.encoding)
                self.plan = None
                start["headers"].append((b"content-length", str(len(out)).encode()))
                self._leaving(start)
                await send(start)
                self.sent += len(out)
                await send({"type": "http.response.body", "body": out})
                return
            self._leaving(start)
            await send(start)
            self.filter = HtmlFilter(self.plan, encoding=self.encoding)
        assert self.filter is not None
        out = self.filter.feed(body)
        if not more:
            out += self.filter.close()
        if out or not more:
            self.sent += len(out)
            await send({"type": "http.response.body", "body": out, "more_body": more})

    def _leaving(self, start: Message) -> None:
        self.status = start["status"]
        if self.on_start is not None:
            self.on_start(start)

    def _request_facts(self) -> tuple[bytes, bytes | None, bytes]:
        """User-Agent, Accept-Language and Host: read only for the responses that need them."""
        named = request_headers(self.scope)
        return named.get(b"user-agent", b""), named.get(b"accept-language"), named.get(b"host", b"")

    def _start(self, message: Message) -> None:
        """Edit the response headers in one pass; decide whether (and how) the body is rewritten."""
        raw = message.get("headers") or ()
        named = dict(raw)  # the names asked about, in one pass in C (a repeated name keeps its last value)
        ctype = named.get(b"content-type", b"")
        has_cookies = b"set-cookie" in named
        encoded = b"content-encoding" in named
        varies = has_cookies or b"content-security-policy" in named  # a CSP's nonce changes with every response
        is_html = _is_html(ctype)
        if not is_html and not has_cookies:
            return
        mw = self.mw
        agent, language, host = self._request_facts()
        if self.state is None:
            self.state = mw.consent(self.scope)
        decision = mw.planner.decision(self.state, agent)
        if not is_html:
            if decision.blocked:
                message["headers"] = [item for item in raw if not self._refused_cookie(item, decision.blocked)]
            return
        head = self.scope["method"] == "HEAD"
        # A site sends the same few header sets for its pages: their edit for a consent class is made once.
        on_start, self.on_start = self.on_start, None  # part of the edit, so made (and remembered) with it
        key = None if varies else (tuple(raw), message["status"], head, decision, host, language, on_start)
        cached = mw.edits.get(key) if key is not None else None
        if cached is None:
            cached = self._html_headers(raw, ctype, encoded, has_cookies, decision, host, language, head,
                                        message["status"])
            if on_start is not None:
                probe = {"type": "http.response.start", "status": message["status"], "headers": list(cached[0])}
                on_start(probe)
                cached = (tuple(probe["headers"]), cached[1], cached[2])
            if key is not None:
                if len(mw.edits) >= EDIT_ENTRIES:
                    mw.edits.clear()
                mw.edits[key] = cached
        out, self.plan, self.encoding = cached
        message["headers"] = list(out)

    def _html_headers(self, raw: Iterable[tuple[bytes, bytes]], ctype: bytes, encoded: bool, has_cookies: bool,
                      decision: Decision, host: bytes, language: bytes | None, head: bool,
                      status: int) -> tuple[tuple[tuple[bytes, bytes], ...], FilterPlan | None, str | None]:
        """An HTML response's headers for this visitor, and the plan to rewrite its body (None: sent as it is)."""
        # HEAD mirrors GET's headers without a body; a page in a content coding or without a full body
        # (204, 206, 304) passes unchanged apart from cookies and the CSP.
        blocked = decision.blocked if has_cookies else frozenset()
        rewrite = not head and not encoded and status not in (204, 206, 304)
        private = rewrite or head
        drop = _REWRITE_DROP if rewrite else _HEAD_DROP if head else _KEEP_ALL
        out: list[tuple[bytes, bytes]] = []
        cache_control: list[bytes] = []
        vary: list[bytes] = []
        origin_csp = b""
        for item in raw:
            name = item[0]
            if name in drop or (blocked and name == b"set-cookie" and self._refused_cookie(item, blocked)):
                continue
            if name == b"content-security-policy":
                origin_csp = item[1]
            elif private and name == b"cache-control":
                cache_control.append(item[1])
                continue
            elif rewrite and name == b"vary":
                vary.append(item[1])
                continue
            out.append(item)
        mw = self.mw
        if mw.csp.enabled:
            out.append(mw.csp.raw_header(decision.blocked, decision.decided))
        if private:
            out.append((b"cache-control", headers.private(headers.joined(cache_control))))
        if not rewrite:
            return tuple(out), None, None
        # The origin's validators describe its bytes, not this visitor's rewrite: a 304 after a consent
        # change would bring back another consent class's page from the browser cache.
        out.append((b"vary", headers.vary_with(headers.joined(vary), b"Cookie")))
        nonce = _NONCE.search(origin_csp) if origin_csp else None
        plan = mw.planner.plan(decision, host, language, nonce.group(1).decode("ascii") if nonce else None)
        return tuple(out), plan, _charset(ctype)

    def _refused_cookie(self, item: tuple[bytes, bytes], blocked: frozenset[str]) -> bool:
        """A Set-Cookie whose cookie belongs to a category the visitor has not granted."""
        if item[0] != b"set-cookie":
            return False
        name = item[1].split(b"=", 1)[0].strip().decode("latin-1")
        return self.mw.cookie_category(name) in blocked


_REWRITE_DROP = frozenset({b"content-length", b"etag", b"last-modified"})
_HEAD_DROP = frozenset({b"content-length"})  # the GET body is rewritten, so the origin's length would be wrong
_KEEP_ALL: frozenset[bytes] = frozenset()


@lru_cache(maxsize=256)
def _is_html(content_type: bytes) -> bool:
    return content_type.split(b";")[0].strip().lower() in (b"text/html", b"application/xhtml+xml")


@lru_cache(maxsize=256)
def _charset(content_type: bytes) -> str | None:
    for part in content_type.decode("latin-1").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"').lower()
    return None

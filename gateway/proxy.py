"""Reverse proxy to the one configured upstream, streaming both ways.

A pure ASGI app that knows nothing about consent: ``ConsentMiddleware`` wraps it and filters the HTML it
returns. What the proxy guarantees so the filter can do its job: HTML arrives without ``Content-Encoding``
(gzip, deflate and br are decoded on the fly) and ``Set-Cookie`` headers arrive as separate headers.

Choices worth knowing:
- Accept-Encoding: the client's header is forwarded, reduced to the codings we can decode (gzip, deflate, br);
  ``identity`` when none is left or the client named none, so the origin never picks a coding for us.
  Non-HTML thus passes through in a coding the client accepted, and HTML is always decodable. HTML in any
  other coding is answered with 502: passing it on would let trackers slip past the filter.
- Host: ``preserve_host=True`` (default) sends the public Host (a trusted proxy's X-Forwarded-Host, else the
  visitor's Host), as most origins build links from it;
  ``False`` sends the upstream's host:port. The TCP connection always goes to the configured upstream.
  Upstream URLs in ``Location``, ``Content-Location``, ``Refresh`` and ``Link`` are mapped to the public origin.
- Timeouts: connect, and read (each wait for upstream bytes, and each wait for the visitor's upload: a stalled
  upload is answered 408). The origin's ``Date`` and ``Server`` are not passed on (the server writes its own).
- Uploads: a request body is read into memory up to ``buffer_body`` bytes (1 MB; nginx buffers too) before an
  upstream connection is taken, so slow uploads cannot fill the pool; a longer one is sent on from there as it
  arrives. Either way it must keep to ``gateway.deadline.BodyClock`` (``body_timeout`` seconds plus one per
  ``body_min_rate`` bytes) or is answered 408.
- HTML bodies: decoded and sent a piece at a time with a turn of the event loop between pieces, so a
  compression bomb (1 GB from 1 MB) or a huge page never holds up other visitors; past ``max_html_bytes``
  (decoded) the response is cut off (the connection closes mid-body) and logged, never passed on unfiltered.
- WebSocket is not supported (closed before accept: the client sees 403). ``lifespan`` opens and closes the
  pool when the proxy runs bare; inside a larger app call ``startup()``/``aclose()`` from its lifespan.
- Run uvicorn with ``proxy_headers=False`` in front of it, or uvicorn rewrites the peer address before
  ``trusted_proxies`` is consulted (``gateway.forwarded`` keeps the peer for it when the app needs the visitor's
  address too, as the full gateway does).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import zlib
from collections.abc import AsyncIterator, Iterable

import aiohttp
import brotli
from aiohttp import hdrs
from multidict import istr
from starlette.types import Message, Receive, Scope, Send
from yarl import URL

from gateway import errors
from gateway.compression import DECODABLE, Decoder, reduce_accept_encoding
from gateway.deadline import BodyClock, BodyTimeout
from gateway.forwarded import PEER
from gateway.trusted import TrustedProxies

logger = logging.getLogger("gateway.proxy")

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_HTML_MEDIA = frozenset(t.encode() for t in HTML_TYPES)
_UNTOUCHED_STATUSES = frozenset({204, 206, 304})
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
                         b"transfer-encoding", b"upgrade"})
_REBUILT = frozenset({b"host", b"accept-encoding", b"expect", b"x-forwarded-for", b"x-forwarded-proto",
                      b"x-forwarded-host"})
_DROP_UNTRUSTED = frozenset({b"forwarded", b"x-real-ip"})
_DROP_FROM_TRUSTED = _HOP_BY_HOP | _REBUILT
_DROP_FROM_OTHERS = _HOP_BY_HOP | _REBUILT | _DROP_UNTRUSTED
# The request headers the proxy reads or may drop, by what it does with them; any other is passed on unread.
_AGENT, _TYPE, _HOST, _CODINGS, _LENGTH, _CONNECTION, _CHAIN, _PROTO, _PUBLIC, _DROPPED = range(10)
_ROLES = {**dict.fromkeys(_DROP_FROM_OTHERS, _DROPPED), b"user-agent": _AGENT, b"content-type": _TYPE,
          b"host": _HOST, b"accept-encoding": _CODINGS, b"content-length": _LENGTH, b"transfer-encoding": _LENGTH,
          b"connection": _CONNECTION, b"x-forwarded-for": _CHAIN, b"x-forwarded-proto": _PROTO,
          b"x-forwarded-host": _PUBLIC}
# The response headers the proxy reads, drops or rewrites, by what it does with them. The visitor's server
# writes its own Date and none of the origin's Server (nginx does the same): passing the origin's on would give
# the visitor two Date headers and name the origin's software.
_R_DROPPED, _R_CONNECTION, _R_TYPE, _R_CODING, _R_URL, _R_LINK, _R_REFRESH = range(7)
_RESPONSE_ROLES = {**dict.fromkeys(_HOP_BY_HOP | {b"date", b"server"}, _R_DROPPED), b"connection": _R_CONNECTION,
                   b"content-type": _R_TYPE, b"content-encoding": _R_CODING, b"location": _R_URL,
                   b"content-location": _R_URL, b"link": _R_LINK, b"refresh": _R_REFRESH}
# aiohttp adds these when absent; ours are only what the visitor sent (Accept and Accept-Encoding are always
# present: aiohttp's Accept */* means the same as none). Skipping is per request and only when needed, as
# aiohttp's skip list costs a few microseconds on every request.
_SKIP_UA = ("User-Agent",)
_SKIP_UA_TYPE = ("User-Agent", "Content-Type")
_SKIP_TYPE = ("Content-Type",)
_NAMES: dict[bytes, str] = {}  # request header names as ``_name`` makes them
_NAMES_LIMIT = 1024  # distinct names kept: a client inventing names gets them made afresh, not remembered
_INLINE_LIMIT = 256 * 1024  # bodies this small are streamed without a disconnect watcher (cheaper)
_BODY_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, zlib.error, brotli.error)

_LINK_TARGET = re.compile(rb"<([^>]*)>")

_CLOSE = {"Connection": "close"}  # the rest of the upload may still be on its way
LOCALHOST = TrustedProxies(["127.0.0.1"])
SMALL_BODY = 64 * 1024  # known-length bodies up to this size are sent in one message


class ReverseProxy:
    """Forward every HTTP request to ``upstream``; only that host:port is ever contacted."""

    def __init__(self, upstream: str, *, trusted: TrustedProxies = LOCALHOST,
                 connect_timeout: float = 5, read_timeout: float = 30, decode_html: bool = True,
                 preserve_host: bool = True, max_connections: int = 100, buffer_body: int = 1024 * 1024,
                 body_timeout: float = 20, body_min_rate: float = 4096,
                 max_html_bytes: int = 32 * 1024 * 1024) -> None:
        url = URL(upstream)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"upstream must be an http(s) URL with a host, got {upstream!r}")
        self._origin = url.origin()
        self._prefix = url.raw_path.rstrip("/")
        self._mapped_prefix = (str(self._origin) + self._prefix).encode()
        self._trusted = trusted
        self._timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout, sock_connect=connect_timeout,
                                              sock_read=read_timeout)
        self._read_timeout = read_timeout
        self._decode_html = decode_html
        self._preserve_host = preserve_host
        self._max_connections = max_connections
        self._buffer_body = buffer_body
        self._body_timeout = body_timeout
        self._body_min_rate = body_min_rate
        self._max_html_bytes = max_html_bytes
        self._session: aiohttp.ClientSession | None = None
        self._url = functools.lru_cache(maxsize=1024)(self._url_uncached)  # pages are asked for again and again

    async def startup(self) -> None:
        """Open the pooled client in the running loop (idempotent)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                cookie_jar=aiohttp.DummyCookieJar(),  # a shared jar leaks one visitor's cookies to another
                auto_decompress=False, timeout=self._timeout)

    async def aclose(self) -> None:
        """Close the pooled client; safe to call twice."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    shutdown = aclose

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return
        # The proxying itself is here rather than in a method of its own: one coroutine less per request.
        if self._session is None:
            await self.startup()
        assert self._session is not None
        headers, public, has_body, skip = self._request_headers(scope)
        upload = data = None
        if has_body:
            upload = _Upload(receive, BodyClock(self._body_timeout, self._body_min_rate), self._read_timeout)
            try:
                data = await upload.buffer(self._buffer_body)  # before an upstream connection is taken
            except BodyTimeout:
                return await _error(send, scope, errors.RequestTimeout(errors.UPLOAD_STALLED, headers=_CLOSE))
            except _VisitorLeft:
                return
        try:
            resp = await self._session.request(
                scope["method"], self._target(scope), headers=headers, allow_redirects=False, skip_auto_headers=skip,
                data=data)
        except (TimeoutError, aiohttp.ClientError) as exc:
            if upload is not None and upload.stalled:
                return await _error(send, scope, errors.RequestTimeout(errors.UPLOAD_STALLED, headers=_CLOSE))
            if isinstance(exc, TimeoutError):
                return await _error(send, scope, errors.GatewayTimeout(errors.UPSTREAM_SLOW))
            logger.warning("upstream error for %s %s: %r", scope["method"], scope["path"], exc)
            return await _error(send, scope, errors.BadGateway(errors.UPSTREAM_DOWN))
        async with resp:
            await self._respond(scope, receive, send, resp, public, upload.done if upload is not None else None)

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011})
        elif scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            await self.aclose()
            await send({"type": "lifespan.shutdown.complete"})

    def _target(self, scope: Scope) -> URL:
        raw, query = scope.get("raw_path") or scope["path"].encode(), scope["query_string"]
        if len(raw) + len(query) > 512:  # long, one-off URLs would only crowd the cache
            return self._url_uncached(raw, query)
        return self._url(raw, query)

    def _url_uncached(self, raw: bytes, query: bytes) -> URL:
        if not raw.startswith(b"/"):  # absolute-form or "*": keep only the path, never the authority
            raw = b"/" + raw.partition(b"://")[2].partition(b"/")[2] if b"://" in raw else b"/"
        return URL.build(scheme=self._origin.scheme, authority=self._origin.raw_authority, encoded=True,
                         path=self._prefix + raw.decode("latin-1"), query_string=query.decode("latin-1"))

    def _request_headers(self, scope: Scope) -> tuple[list[tuple[str, str]], str, bool, tuple[str, ...] | None]:
        """Headers for upstream, the public origin (for Location mapping), whether a body follows, and which
        headers aiohttp must not add for us."""
        connection_peer = scope.get(PEER) or scope.get("client")  # before a trusted proxy's X-Forwarded-For
        peer = connection_peer[0] if connection_peer else ""
        trusted = peer in self._trusted
        drop = _DROP_FROM_TRUSTED if trusted else _DROP_FROM_OTHERS
        out: list[tuple[str, str]] = []
        connection: list[str] = []
        host = chain = proto = public_host = accept_encoding = ""
        has_body = has_agent = has_type = False
        role_of = _ROLES.get
        names = _NAMES
        for name, value in scope["headers"]:
            role = role_of(name)
            if role is None:  # most of a browser's headers: passed on as they are
                if name[:6] != b"proxy-":
                    out.append((names.get(name) or _name(name), value.decode("latin-1")))
                continue
            text = value.decode("latin-1")
            if role == _AGENT:
                has_agent = True
            elif role == _TYPE:
                has_type = True
            elif role == _HOST:
                host = text
            elif role == _CODINGS:
                accept_encoding = text
            elif role == _LENGTH:
                has_body = has_body or text.strip() != "0"
            elif role == _CONNECTION:
                connection.append(text)
            elif trusted and role == _CHAIN:
                chain = f"{chain}, {text}" if chain else text
            elif trusted and role == _PROTO:
                proto = text.strip()
            elif trusted and role == _PUBLIC:
                public_host = text.strip()
            if name not in drop:
                out.append((names.get(name) or _name(name), text))
        if connection and (named := _connection_named(connection)):
            out = [(name, value) for name, value in out if name.lower().encode("latin-1") not in named]
        scheme = proto or scope.get("scheme", "http")
        public_host = public_host or host
        out.append((hdrs.X_FORWARDED_FOR, f"{chain}, {peer}" if chain else peer))
        out.append((hdrs.X_FORWARDED_PROTO, scheme))
        if public_host:
            out.append((hdrs.X_FORWARDED_HOST, public_host))
        # The public host: a trusted front proxy's X-Forwarded-Host, else the visitor's Host.
        out.append((hdrs.HOST, public_host if self._preserve_host and public_host else self._origin.raw_authority))
        out.append((hdrs.ACCEPT_ENCODING, reduce_accept_encoding(accept_encoding) or "identity"))
        needs_type = has_body and not has_type
        skip = (_SKIP_UA_TYPE if needs_type else _SKIP_UA) if not has_agent else _SKIP_TYPE if needs_type else None
        return out, f"{scheme}://{public_host}" if public_host else "", has_body, skip

    def _response_headers(self, resp: aiohttp.ClientResponse, public: str
                          ) -> tuple[list[tuple[bytes, bytes]], bytes, bytes]:
        """The origin's headers as the visitor gets them, and its Content-Type and Content-Encoding."""
        prefix = self._mapped_prefix
        roles = _RESPONSE_ROLES
        headers = []
        media = coding = b""
        connection = None
        for name, value in resp.raw_headers:
            name = name.lower()
            role = roles.get(name)
            if role is None:
                if not name.startswith(b"proxy-"):
                    headers.append((name, value))
                continue
            if role == _R_DROPPED:
                continue
            if role == _R_CONNECTION:
                connection = (connection or []) + [value.decode("latin-1")]
                continue
            if role == _R_TYPE:
                media = media or value  # the first, as a multidict lookup would give
            elif role == _R_CODING:
                coding = coding or value
            elif not public:
                pass
            elif role == _R_URL:
                value = _mapped(value, prefix, public)
            elif role == _R_LINK and value.find(prefix) >= 0:  # "<http://origin/a.css>; rel=preload, <...>"
                value = _LINK_TARGET.sub(lambda m: b"<" + _mapped(m.group(1), prefix, public) + b">", value)
            elif role == _R_REFRESH:  # "5; url=http://origin/next": the browser follows it too
                delay, sep, url = value.partition(b"=")
                if sep and delay.rstrip().lower().endswith(b"url"):
                    value = delay + sep + _mapped(url.strip(b"'\" "), prefix, public)
            headers.append((name, value))
        if connection:
            named = _connection_named(connection)
            headers = [(k, v) for k, v in headers if k not in named]
        return headers, media, coding

    async def _respond(self, scope: Scope, receive: Receive, send: Send, resp: aiohttp.ClientResponse,
                       public: str, body_done: asyncio.Event | None) -> None:
        headers, media, coding = self._response_headers(resp, public)
        decoder = None
        html = (self._decode_html and scope["method"] != "HEAD"
                and media.partition(b";")[0].strip().lower() in _HTML_MEDIA)
        encoding = coding.strip().lower().decode("latin-1") if coding else "identity"
        if html and encoding != "identity" and resp.status not in _UNTOUCHED_STATUSES:
            if encoding not in DECODABLE:
                logger.warning("upstream sent HTML in an undecodable coding %r for %s", encoding, scope["path"])
                return await _error(send, scope, errors.BadGateway(errors.UPSTREAM_CODING))
            decoder = Decoder(encoding)
            headers = [(k, _weaken(v) if k == b"etag" else v) for k, v in headers
                       if k not in (b"content-encoding", b"content-length")]
        budget = _Budget(self._max_html_bytes) if html else None
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        length = resp.content_length
        try:
            if (body_done is None or body_done.is_set()) and length is not None and length <= _INLINE_LIMIT:
                await _stream(resp, length, decoder, send, budget)
            elif await _stream_until_disconnect(resp, length, decoder, send, receive, body_done, budget):
                resp.close()  # the visitor left: drop the upstream connection instead of reading it to the end
        except _BODY_ERRORS as exc:
            # Headers are out: the only honest signal left is an incomplete response (connection closed).
            logger.warning("upstream body failed for %s %s: %r", scope["method"], scope["path"], exc)
        except _TooLarge:
            resp.close()
            logger.warning("upstream HTML for %s %s is over max_html_bytes (%d decoded): cut off, not passed on",
                           scope["method"], scope["path"], self._max_html_bytes)


class _VisitorLeft(Exception):
    """The visitor disconnected before its upload was read."""


class _TooLarge(Exception):
    """An HTML body grew past max_html_bytes."""


class _Budget:
    """How many more HTML bytes one response may send."""

    __slots__ = ("left",)

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise _TooLarge


class _Upload:
    """The visitor's request body: read into memory up to a limit, then streamed upstream as it arrives.

    The whole body keeps to ``clock``, and a visitor that goes quiet for ``stall`` seconds is cut off too: either
    way 408, instead of holding an upstream connection open for as long as it likes."""

    def __init__(self, receive: Receive, clock: BodyClock, stall: float) -> None:
        self.receive = receive
        self.clock = clock
        self.stall = stall
        self.done = asyncio.Event()  # set once the upload is read to its end (or given up)
        self.stalled = False

    async def _next(self) -> Message:
        message = await self.clock.receive(self.receive, self.stall)
        if message["type"] == "http.disconnect":
            raise _VisitorLeft
        return message

    async def buffer(self, limit: int) -> bytes | AsyncIterator[bytes]:
        """The whole body if it is at most ``limit`` bytes, else an iterator starting with what was read."""
        parts: list[bytes] = []
        size = 0
        try:
            while True:
                message = await self._next()
                if body := message.get("body", b""):
                    parts.append(body)
                    size += len(body)
                if not message.get("more_body", False):
                    self.done.set()
                    return b"".join(parts)
                if size > limit:
                    return self._chunks(b"".join(parts))
        except BaseException:
            self.done.set()
            raise

    async def _chunks(self, first: bytes) -> AsyncIterator[bytes]:
        try:
            yield first
            while True:
                try:
                    message = await self._next()
                except BodyTimeout:
                    self.stalled = True
                    raise aiohttp.ClientPayloadError("the visitor's upload is too slow") from None
                except _VisitorLeft:
                    raise aiohttp.ClientPayloadError("client disconnected during upload") from None
                if body := message.get("body", b""):
                    yield body
                if not message.get("more_body", False):
                    return
        finally:
            self.done.set()


async def _stream(resp: aiohttp.ClientResponse, expected: int | None, decoder: Decoder | None, send: Send,
                  budget: _Budget | None = None) -> None:
    """Send each chunk as it arrives; the last one carries ``more_body=False`` (one send fewer per response).

    A body of known length up to SMALL_BODY goes out as one message: it arrives in one burst anyway, one send
    costs less than several, and a whole page reaches the consent filter's rewrite cache. An HTML body
    (``budget``) gives the event loop a turn after each piece: the consent filter rewrites it inside ``send``.
    """
    content = resp.content
    received = 0
    if expected is not None and expected <= SMALL_BODY and resp.method != "HEAD" and resp.status not in (204, 304):
        body = await content.readexactly(expected) if expected else b""
        if decoder is not None:
            await _send_decoded(decoder, body, True, send, budget)
        else:
            await send({"type": "http.response.body", "body": body, "more_body": False})
        return
    while chunk := await content.readany():
        received += len(chunk)
        # A body of known length is complete once that many bytes came, even before aiohttp sees EOF: a page
        # that arrives whole then reaches the consent filter as one message (and its rewrite cache).
        last = content.at_eof() or (expected is not None and received >= expected)
        if decoder is not None:
            await _send_decoded(decoder, chunk, last, send, budget)
        elif chunk or last:
            if budget is not None:
                budget.spend(len(chunk))
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})
            if budget is not None and not last:
                await asyncio.sleep(0)
        if last:
            return
    if decoder is not None:
        await _send_decoded(decoder, b"", True, send, budget)
    else:
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _send_decoded(decoder: Decoder, data: bytes, last: bool, send: Send, budget: _Budget | None) -> None:
    """Decode and send piece by piece (memory stays at one piece); only the very last says more_body=False.

    A page that decodes to a single piece still goes out as one message, for the consent filter's cache. Each
    further piece waits for a turn of the event loop: decoding a bomb and filtering what it expands to never
    hold up other visitors for longer than one piece takes."""
    held = b""
    for piece in decoder.feed(data, final=last):
        if not piece:
            continue
        if budget is not None:
            budget.spend(len(piece))
        if held:
            await send({"type": "http.response.body", "body": held, "more_body": True})
            await asyncio.sleep(0)
        held = piece
    if held or last:
        await send({"type": "http.response.body", "body": held, "more_body": not last})


async def _stream_until_disconnect(resp: aiohttp.ClientResponse, length: int | None, decoder: Decoder | None,
                                   send: Send, receive: Receive, body_done: asyncio.Event | None,
                                   budget: _Budget | None = None) -> bool:
    """Stream while watching for the visitor leaving (ASGI servers drop sends silently); True if they left."""
    async def wait_disconnect() -> None:
        if body_done is not None:
            await body_done.wait()  # the receive channel belongs to the upload until it is fully read
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(wait_disconnect())
    streamer = asyncio.ensure_future(_stream(resp, length, decoder, send, budget))
    try:
        await asyncio.wait({watcher, streamer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        streamer.cancel()
    if streamer.done() and not streamer.cancelled():
        streamer.result()  # re-raises what went wrong while streaming
        return False
    return True


def _mapped(url: bytes, prefix: bytes, public: str) -> bytes:
    """An absolute URL on the upstream, as the visitor must see it: on the public origin."""
    if not url.startswith(prefix):
        return url
    rest = url[len(prefix):]
    if rest[:1] not in (b"", b"/", b"?", b"#"):
        return url  # another host that merely starts like ours (upstream.example.evil)
    return public.encode("latin-1") + (rest if rest[:1] == b"/" else b"/" + rest)


def _weaken(etag: bytes) -> bytes:
    """Decoded bytes differ from the encoded ones, so a strong validator would lie."""
    return etag if etag.startswith(b"W/") else b"W/" + etag


async def _error(send: Send, scope: Scope, exc: errors.GatewayError) -> None:
    accept = next((v for k, v in scope["headers"] if k == b"accept"), b"").decode("latin-1")
    await errors.send_error(send, exc, errors.kind_for(accept), head=scope["method"] == "HEAD")


def _name(raw: bytes) -> str:
    """A request header's name as aiohttp keys its headers: an ``istr`` carries its case-folded form, so aiohttp
    does not fold it again for each of its three copies of the headers. Made once per name (a site sees a few)."""
    name = istr(raw.decode("latin-1"))
    if len(_NAMES) < _NAMES_LIMIT:
        _NAMES[raw] = name
    return name


def _connection_named(values: Iterable[str]) -> frozenset[bytes]:
    """Headers the Connection header names are hop-by-hop too (RFC 9110 7.6.1)."""
    return frozenset(token.strip().lower().encode("latin-1") for value in values for token in value.split(","))

"""Reverse proxy to the one configured upstream, streaming both ways.

A pure ASGI app that knows nothing about consent: ``ConsentMiddleware`` wraps it and filters the HTML it
returns. What the proxy guarantees so the filter can do its job: HTML arrives without ``Content-Encoding``
(gzip, deflate and br are decoded on the fly) and ``Set-Cookie`` headers arrive as separate headers.

Choices worth knowing:
- Accept-Encoding: the client's header is forwarded, reduced to the codings we can decode (gzip, deflate, br,
  identity). Non-HTML therefore passes through in a coding the client accepted, and HTML is always decodable;
  a coding we cannot decode is never asked for, so tracker markup cannot slip past the filter compressed.
- Host: ``preserve_host=True`` (default) sends the public Host, as most origins build links from it;
  ``False`` sends the upstream's host:port. The TCP connection always goes to the configured upstream.
- WebSocket is not supported (closed before accept, the client sees 403). ``lifespan`` opens and closes the
  client pool when the proxy runs bare; inside a larger app call ``startup()``/``aclose()`` from its lifespan.
- Run uvicorn with ``proxy_headers=False`` in front of this app, or it rewrites the peer address before
  ``trusted_proxies`` is consulted.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Iterable

import aiohttp
from yarl import URL

from gateway.compression import Decoder, reduce_accept_encoding

logger = logging.getLogger("gateway.proxy")

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
BODY_LESS_STATUSES = frozenset({204, 304})
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer",
                         b"transfer-encoding", b"upgrade"})

_DROP_UNTRUSTED = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"forwarded", b"x-real-ip"})
_REPLACED = frozenset({b"host", b"accept-encoding", b"expect"})
_SKIP_AUTO = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


class ReverseProxy:
    """Forward every HTTP request to ``upstream``; only that host:port is ever contacted."""

    def __init__(
        self,
        upstream: str,
        *,
        trusted_proxies: Iterable[str] = ("127.0.0.1",),
        connect_timeout: float = 5,
        read_timeout: float = 30,
        decode_html: bool = True,
        preserve_host: bool = True,
        max_connections: int = 100,
    ) -> None:
        url = URL(upstream)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"upstream must be an http(s) URL with a host, got {upstream!r}")
        self._origin = url.origin()
        self._origin_str = str(self._origin)
        self._prefix = url.raw_path.rstrip("/")
        self._host_header = url.raw_authority
        self._trusted = _TrustedProxies(trusted_proxies)
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._decode_html = decode_html
        self._preserve_host = preserve_host
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    async def startup(self) -> None:
        """Open the pooled client in the running loop (idempotent)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections),
                cookie_jar=aiohttp.DummyCookieJar(),  # a shared jar leaks one visitor's cookies to another
                auto_decompress=False,
                skip_auto_headers=_SKIP_AUTO,
                timeout=self._timeout,
            )

    async def aclose(self) -> None:
        """Close the pooled client; safe to call twice."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    shutdown = aclose

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "http":
            await self._proxy(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011})
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _target(self, scope: dict) -> URL:
        raw = scope.get("raw_path") or scope["path"].encode()
        if not raw.startswith(b"/"):  # absolute-form or "*": keep only the path, never the authority
            raw = b"/" + raw.partition(b"://")[2].partition(b"/")[2] if b"://" in raw else b"/"
        return URL.build(
            scheme=self._origin.scheme,
            authority=self._origin.raw_authority,
            path=self._prefix + raw.decode("latin-1"),
            query_string=scope["query_string"].decode("latin-1"),
            encoded=True,
        )

    def _request_headers(self, scope: dict) -> tuple[list[tuple[str, str]], str, bool]:
        """Headers for upstream, the public origin for Location mapping, and whether a body follows."""
        client = scope.get("client")
        peer = client[0] if client else ""
        trusted = peer in self._trusted
        incoming = scope["headers"]
        drop = _hop_by_hop(incoming) | _REPLACED | (frozenset() if trusted else _DROP_UNTRUSTED)
        out: list[tuple[str, str]] = []
        host = forwarded_for = forwarded_proto = forwarded_host = accept_encoding = ""
        has_body = False
        for name, value in incoming:
            text = value.decode("latin-1")
            if name == b"host":
                host = text
            elif name == b"accept-encoding":
                accept_encoding = text
            elif name in (b"content-length", b"transfer-encoding"):
                has_body = has_body or text.strip() != "0"
            if trusted and name == b"x-forwarded-for":
                forwarded_for = f"{forwarded_for}, {text}" if forwarded_for else text
            elif trusted and name == b"x-forwarded-proto":
                forwarded_proto = text
            elif trusted and name == b"x-forwarded-host":
                forwarded_host = text
            if name not in drop and not name.startswith(b"proxy-"):
                out.append((name.decode("latin-1"), text))
        scheme = forwarded_proto or scope.get("scheme", "http")
        public_host = forwarded_host or host
        out.append(("X-Forwarded-For", f"{forwarded_for}, {peer}" if forwarded_for else peer))
        out.append(("X-Forwarded-Proto", scheme))
        if public_host:
            out.append(("X-Forwarded-Host", public_host))
        out.append(("Host", host if self._preserve_host and host else self._host_header))
        if reduced := reduce_accept_encoding(accept_encoding):
            out.append(("Accept-Encoding", reduced))
        return out, f"{scheme}://{public_host}" if public_host else "", has_body

    def _response_headers(self, resp: aiohttp.ClientResponse, public: str) -> list[tuple[bytes, bytes]]:
        raw = resp.raw_headers
        drop = _hop_by_hop(raw)
        upstream = (self._origin_str + self._prefix).encode()
        headers = []
        for name, value in raw:
            lower = name.lower()
            if lower in drop or lower.startswith(b"proxy-"):
                continue
            if public and lower in (b"location", b"content-location") and value.startswith(upstream):
                rest = value[len(upstream):]
                if not rest or rest[:1] in b"/?#":
                    value = public.encode("latin-1") + (rest if rest[:1] == b"/" else b"/" + rest)
            headers.append((lower, value))
        return headers

    async def _proxy(self, scope: dict, receive, send) -> None:
        if self._session is None:
            await self.startup()
        assert self._session is not None
        headers, public, has_body = self._request_headers(scope)
        body_done = asyncio.Event()
        if not has_body:
            body_done.set()
        try:
            resp = await self._session.request(
                scope["method"],
                self._target(scope),
                headers=headers,
                data=_request_body(receive, body_done) if has_body else None,
                allow_redirects=False,
                compress=None,
            )
        except asyncio.TimeoutError:
            await _error(send, scope, 504, "The site did not answer in time.")
            return
        except aiohttp.ClientError as exc:
            logger.warning("upstream error for %s %s: %r", scope["method"], scope["path"], exc)
            await _error(send, scope, 502, "The site could not be reached.")
            return
        async with resp:
            await self._respond(scope, receive, send, resp, public, body_done)

    async def _respond(self, scope, receive, send, resp, public, body_done) -> None:
        headers = self._response_headers(resp, public)
        decoder = self._decoder_for(scope, resp)
        if decoder is not None:
            headers = [(k, _weaken(v) if k == b"etag" else v) for k, v in headers
                       if k not in (b"content-encoding", b"content-length")]
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        watcher = asyncio.ensure_future(_wait_disconnect(receive, body_done))
        streamer = asyncio.ensure_future(_stream(resp, decoder, send))
        try:
            done, _ = await asyncio.wait({watcher, streamer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            streamer.cancel()
        if streamer in done and not streamer.cancelled() and (exc := streamer.exception()) is not None:
            # Headers are out: the only honest signal left is an incomplete response (connection closed).
            logger.warning("upstream body failed for %s %s: %r", scope["method"], scope["path"], exc)
        elif watcher in done:
            resp.close()  # the visitor left: drop the upstream connection instead of reading it to the end

    def _decoder_for(self, scope: dict, resp: aiohttp.ClientResponse) -> Decoder | None:
        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        if not (self._decode_html and encoding and encoding != "identity"):
            return None
        if scope["method"] == "HEAD" or resp.status in BODY_LESS_STATUSES or resp.status == 206:
            return None
        if resp.headers.get("Content-Type", "").partition(";")[0].strip().lower() not in HTML_TYPES:
            return None
        return Decoder(encoding)


async def _request_body(receive, done: asyncio.Event) -> AsyncIterator[bytes]:
    """Stream the visitor's request body to upstream as it arrives."""
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise aiohttp.ClientPayloadError("client disconnected during upload")
            if body := message.get("body", b""):
                yield body
            if not message.get("more_body", False):
                return
    finally:
        done.set()


async def _stream(resp: aiohttp.ClientResponse, decoder: Decoder | None, send) -> None:
    async for chunk in resp.content.iter_any():
        if decoder is not None:
            chunk = decoder.feed(chunk)
        if chunk:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    tail = decoder.flush() if decoder is not None else b""
    await send({"type": "http.response.body", "body": tail, "more_body": False})


async def _wait_disconnect(receive, body_done: asyncio.Event) -> None:
    await body_done.wait()  # the request body belongs to the upload until it is fully read
    while (await receive())["type"] != "http.disconnect":
        pass


def _weaken(etag: bytes) -> bytes:
    """Decoded bytes differ from the encoded ones, so a strong validator would lie."""
    return etag if etag.startswith(b"W/") else b"W/" + etag


async def _error(send, scope: dict, status: int, text: str) -> None:
    accept = next((v for k, v in scope["headers"] if k == b"accept"), b"").decode("latin-1")
    if "json" in accept and "html" not in accept:
        body, ctype = json.dumps({"error": "bad_gateway" if status == 502 else "gateway_timeout",
                                  "detail": text}).encode(), b"application/json"
    else:
        title = "502 Bad Gateway" if status == 502 else "504 Gateway Timeout"
        body = (f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
                f"<h1>{title}</h1><p>{text} Please try again in a moment.</p></html>").encode()
        ctype = b"text/html; charset=utf-8"
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})


def _hop_by_hop(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """The fixed hop-by-hop set plus every header the Connection header names (RFC 9110 7.6.1)."""
    named = [t.strip().lower().encode("latin-1") for k, v in headers if k.lower() == b"connection"
             for t in v.decode("latin-1").split(",")]
    return _HOP_BY_HOP.union(named) if named else _HOP_BY_HOP


class _TrustedProxies:
    """Addresses and networks whose X-Forwarded-* headers we believe; parsed once, lookups cached."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._all = False
        self._addresses: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            entry = entry.strip()
            if entry == "*":
                self._all = True
            elif "/" in entry:
                self._networks.append(ipaddress.ip_network(entry, strict=False))
            else:
                self._addresses.add(ipaddress.ip_address(entry))  # a typo fails at startup, not silently
        self._contains = functools.lru_cache(maxsize=1024)(self._compute)

    def __contains__(self, host: str) -> bool:
        return bool(host) and (self._all or self._contains(host))

    def _compute(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return ip in self._addresses or any(ip in net for net in self._networks)

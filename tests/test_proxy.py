"""ReverseProxy against a real local upstream (aiohttp.web on 127.0.0.1, free port)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import socket
import time
import tracemalloc
import zlib
from dataclasses import dataclass, field

import brotli
import httpx
import pytest
import uvicorn
from aiohttp import web

from gateway.compression import DECODED_PIECE
from gateway.proxy import ReverseProxy
from gateway.server import server_options
from gateway.settings import Settings
from gateway.trusted import TrustedProxies

PAGE = ("<!doctype html><html lang=ru><head><meta charset=utf-8><title>Тест</title>"
        "<script async src=https://www.googletagmanager.com/gtm.js?id=GTM-X></script></head><body>"
        + "<p>Инженерная компания в Атырау — wgp.kz</p>\n" * 400 + "</body></html>").encode()
PAGE_1251 = PAGE.decode().replace("utf-8", "windows-1251").encode("cp1251")
JS = b"/* app */ function f(){return 42}\n" * 500
BIG_FIRST, BIG_TOTAL = 1 << 20, 20 << 20
BOMB = b"<!doctype html><html><body>" + b" " * (24 << 20) + b"</body></html>"  # a few KB once compressed
PUBLIC = "http://public.example"


def _encode(body: bytes, enc: str) -> bytes:
    if enc == "gzip":
        return gzip.compress(body)
    if enc == "br":
        return brotli.compress(body)
    if enc == "deflate":
        return zlib.compress(body)
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return raw.compress(body) + raw.flush()


@dataclass
class Upstream:
    url: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    big_done: asyncio.Event = field(default_factory=asyncio.Event)
    stream_closed: asyncio.Event = field(default_factory=asyncio.Event)
    upload_started: asyncio.Event = field(default_factory=asyncio.Event)
    released_in_time: bool | None = None


def _upstream_app(state: Upstream) -> web.Application:
    async def page(request: web.Request) -> web.StreamResponse:
        enc = request.match_info["enc"]
        ctype = "text/html; charset=windows-1251" if request.query.get("cs") else "text/html; charset=utf-8"
        source = PAGE_1251 if request.query.get("cs") else PAGE
        body = source if enc == "identity" else _encode(source, enc)
        headers = {"Content-Type": ctype, "ETag": '"p1"'}
        if enc != "identity":
            headers["Content-Encoding"] = "deflate" if enc == "rawdeflate" else enc
        if not request.query.get("chunked"):
            return web.Response(body=body, headers=headers)
        resp = web.StreamResponse(headers=headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(body), 700):  # split mid-token of the compressed stream
            await resp.write(body[i:i + 700])
        await resp.write_eof()
        return resp

    async def asset(request: web.Request) -> web.Response:
        return web.Response(body=gzip.compress(JS), headers={
            "Content-Type": "application/javascript", "Content-Encoding": "gzip"})

    async def echo(request: web.Request) -> web.Response:
        digest, size = hashlib.sha256(), 0
        async for chunk in request.content.iter_any():
            state.upload_started.set()
            digest.update(chunk)
            size += len(chunk)
        return web.json_response({"upstream": "local", "method": request.method, "raw_path": request.raw_path,
                                  "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
                                  "size": size, "sha256": digest.hexdigest()})

    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": f"{state.url}/target?x=1",
                                                 "Content-Location": f"{state.url}/moved",
                                                 "Refresh": f"0; url={state.url}/later",
                                                 "Link": f"<{state.url}/a>; rel=preload"})

    async def foreign_redirect(request: web.Request) -> web.Response:
        return web.Response(status=301, headers={"Location": "https://other.example/x"})

    async def etag(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(text="<p>fresh</p>", content_type="text/html", headers={"ETag": '"v1"'})

    async def ranged(request: web.Request) -> web.Response:
        body = gzip.compress(PAGE)
        assert request.headers["Range"] == "bytes=0-99"
        return web.Response(status=206, body=body[:100], headers={
            "Content-Type": "text/html", "Content-Encoding": "gzip",
            "Content-Range": f"bytes 0-99/{len(body)}"})

    async def big(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await resp.prepare(request)
        block = b"x" * 65536
        for _ in range(BIG_FIRST // len(block)):
            await resp.write(block)
        try:
            await asyncio.wait_for(state.release.wait(), 5)
            state.released_in_time = True
        except TimeoutError:
            state.released_in_time = False
        for _ in range((BIG_TOTAL - BIG_FIRST) // len(block)):
            await resp.write(block)
        state.big_done.set()
        await resp.write_eof()
        return resp

    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        try:
            for _ in range(10_000):
                await resp.write(b"tick\n" * 1000)
                await asyncio.sleep(0.01)
        except (ConnectionError, asyncio.CancelledError):
            state.stream_closed.set()
            raise
        return resp

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.Response(text="late")

    async def cookies(request: web.Request) -> web.Response:
        resp = web.Response(text="<p>hi</p>", content_type="text/html")
        resp.headers.add("Set-Cookie", "sid=visitorA; Path=/")
        resp.headers.add("Set-Cookie", "_ga=GA1.1; Path=/; Max-Age=600")
        return resp

    async def zstd_page(request: web.Request) -> web.Response:
        return web.Response(body=b"(zstd bytes)", headers={"Content-Type": "text/html", "Content-Encoding": "zstd"})

    async def hop(request: web.Request) -> web.Response:
        return web.Response(text="ok", headers={"Connection": "keep-alive, X-Private", "X-Private": "secret",
                                                "Keep-Alive": "timeout=5", "Proxy-Authenticate": "Basic",
                                                "X-Kept": "yes"})

    bombs = {"gzip": gzip.compress(BOMB, 9), "br": brotli.compress(BOMB, quality=5)}

    async def bomb(request: web.Request) -> web.Response:
        enc = request.match_info["enc"]
        return web.Response(body=bombs[enc], headers={"Content-Type": "text/html", "Content-Encoding": enc})

    app = web.Application()
    app.add_routes([web.get("/bomb/{enc}", bomb), web.get("/page/{enc}", page), web.get("/app.js", asset), web.get("/redirect", redirect),
                    web.get("/foreign", foreign_redirect), web.get("/etag", etag), web.get("/range", ranged),
                    web.get("/big", big), web.get("/endless", endless), web.get("/slow", slow),
                    web.get("/cookies", cookies), web.get("/hop", hop), web.get("/zstd", zstd_page), web.route("*", "/{tail:.*}", echo)])
    return app


@pytest.fixture
async def upstream():
    state = Upstream()
    runner = web.AppRunner(_upstream_app(state), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    yield state
    await runner.cleanup()


@pytest.fixture
async def proxy(upstream):
    app = ReverseProxy(upstream.url, connect_timeout=1, read_timeout=1)
    yield app
    await app.aclose()


def client(app, peer: str = "203.0.113.7") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 40000)), base_url=PUBLIC)


def seen(resp: httpx.Response) -> dict:
    data = resp.json()
    data["h"] = {k.lower(): v for k, v in data["headers"]}
    return data


@pytest.mark.parametrize("enc", ["gzip", "br", "deflate", "rawdeflate"])
@pytest.mark.parametrize("chunked", ["", "1"])
async def test_compressed_html_is_decoded_for_the_filter(proxy, enc, chunked):
    async with client(proxy) as c:
        resp = await c.get(f"/page/{enc}?chunked={chunked}", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert resp.status_code == 200
    assert "content-encoding" not in resp.headers and "content-length" not in resp.headers
    assert resp.headers["etag"] == 'W/"p1"'
    assert resp.content == PAGE


async def test_windows_1251_page_passes_byte_exact_with_its_charset(proxy):
    async with client(proxy) as c:
        plain = await c.get("/page/identity?cs=1")
        decoded = await c.get("/page/gzip?cs=1", headers={"Accept-Encoding": "gzip"})
    for resp in (plain, decoded):
        assert resp.headers["content-type"] == "text/html; charset=windows-1251"
        assert resp.content == PAGE_1251
    assert plain.headers["content-length"] == str(len(PAGE_1251))


async def test_non_html_keeps_its_encoding_and_bytes(proxy):
    async with client(proxy) as c, c.stream("GET", "/app.js", headers={"Accept-Encoding": "gzip"}) as resp:
        raw = b"".join([part async for part in resp.aiter_raw()])
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.headers["content-length"] == str(len(raw))
    assert gzip.decompress(raw) == JS


async def test_accept_encoding_is_reduced_to_codings_we_can_decode(proxy):
    async with client(proxy) as c:
        exotic = seen(await c.get("/echo", headers={"Accept-Encoding": "zstd, br;q=0.5, gzip;q=0"}))
        none = seen(await c.get("/echo", headers={"Accept-Encoding": ""}))
    assert exotic["h"]["accept-encoding"] == "br"
    assert none["h"]["accept-encoding"] == "identity"  # explicit: the origin must not choose a coding


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_upstream_gets_no_user_agent_or_content_type_the_visitor_did_not_send(proxy, method):
    body = [b"a=1"] if method == "POST" else None
    call = AsgiCall(proxy, "/echo", method=method, body=body,
                    headers=[(b"content-length", b"3")] if body else [])
    start, reply = await call.next(), await call.next()
    await call.finish()
    data = seen(httpx.Response(start["status"], content=reply["body"]))
    assert "user-agent" not in data["h"] and "content-type" not in data["h"]
    assert data["size"] == (3 if body else 0)


async def test_upstream_gets_the_visitors_own_user_agent_and_content_type(proxy):
    async with client(proxy) as c:
        data = seen(await c.post("/echo", content=b"a=1", headers={
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
            "Content-Type": "application/x-www-form-urlencoded"}))
    assert data["h"]["user-agent"] == "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
    assert data["h"]["content-type"] == "application/x-www-form-urlencoded"


async def test_invented_header_names_reach_upstream_and_are_not_all_remembered(proxy):
    """A client may send a new header name with every request: each is passed on, none grows memory for good."""
    from gateway import proxy as module

    names = [f"x-invented-{i}" for i in range(module._NAMES_LIMIT + 200)]
    async with client(proxy) as c:
        for chunk in range(0, len(names), 100):
            data = seen(await c.get("/echo", headers={name: "v" for name in names[chunk:chunk + 100]}))
            assert all(data["h"][name] == "v" for name in names[chunk:chunk + 100])
    assert len(module._NAMES) <= module._NAMES_LIMIT


async def test_redirect_is_passed_through_not_followed_and_mapped_back(proxy, upstream):
    async with client(proxy, peer="127.0.0.1") as c:
        resp = await c.get("/redirect", headers={"X-Forwarded-Proto": "https"})
        foreign = await c.get("/foreign")
    assert resp.status_code == 302
    assert resp.headers["location"] == "https://public.example/target?x=1"
    assert resp.headers["content-location"] == "https://public.example/moved"
    assert resp.headers["refresh"] == "0; url=https://public.example/later"
    assert resp.headers["link"] == "<https://public.example/a>; rel=preload"  # early hints and preloads too
    assert foreign.status_code == 301 and foreign.headers["location"] == "https://other.example/x"


async def test_head_keeps_upstream_headers_and_sends_no_body(proxy):
    async with client(proxy) as c:
        resp = await c.head("/page/gzip", headers={"Accept-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.headers["content-length"] == str(len(gzip.compress(PAGE)))


async def test_conditional_request_gets_304(proxy):
    async with client(proxy) as c:
        fresh = await c.get("/etag")
        cached = await c.get("/etag", headers={"If-None-Match": fresh.headers["etag"]})
    assert fresh.status_code == 200 and cached.status_code == 304
    assert cached.headers["etag"] == '"v1"' and cached.content == b""


async def test_range_response_is_untouched(proxy):
    async with client(proxy) as c, c.stream("GET", "/range", headers={"Range": "bytes=0-99",
                                                                       "Accept-Encoding": "gzip"}) as resp:
        raw = b"".join([part async for part in resp.aiter_raw()])
    assert resp.status_code == 206 and resp.headers["content-encoding"] == "gzip"
    assert raw == gzip.compress(PAGE)[:100]


async def test_post_form_body_arrives_intact(proxy):
    form = {"name": "Ақбота Сәрсенова", "note": "a&b=c", "empty": ""}
    async with client(proxy) as c:
        resp = seen(await c.post("/form", data=form))
    expected = httpx.Request("POST", "http://x/", data=form).read()
    assert resp["method"] == "POST" and resp["size"] == len(expected)
    assert resp["sha256"] == hashlib.sha256(expected).hexdigest()
    assert resp["h"]["content-type"] == "application/x-www-form-urlencoded"


async def test_set_cookie_headers_stay_separate(proxy):
    async with client(proxy) as c:
        resp = await c.get("/cookies")
    assert resp.headers.get_list("set-cookie") == ["sid=visitorA; Path=/", "_ga=GA1.1; Path=/; Max-Age=600"]


async def test_one_visitors_upstream_cookies_never_reach_another(upstream):
    # "localhost", not an IP: aiohttp's default jar would accept and replay these cookies.
    app = ReverseProxy(upstream.url.replace("127.0.0.1", "localhost"))
    try:
        async with client(app, peer="198.51.100.1") as visitor_a, client(app, peer="198.51.100.2") as visitor_b:
            assert (await visitor_a.get("/cookies")).headers.get_list("set-cookie")
            alone = seen(await visitor_b.get("/echo"))
            own = seen(await visitor_b.get("/echo", headers={"Cookie": "own=1"}))
    finally:
        await app.aclose()
    assert "cookie" not in alone["h"]
    assert own["h"]["cookie"] == "own=1"


async def test_hop_by_hop_headers_are_removed_both_ways(proxy):
    async with client(proxy) as c:
        out = await c.get("/hop")
        sent = seen(await c.get("/echo", headers={"Connection": "X-Hop", "X-Hop": "1", "Keep-Alive": "300",
                                                  "TE": "trailers", "Proxy-Authorization": "Basic eA==",
                                                  "X-End": "kept"}))
    assert out.headers["x-kept"] == "yes"
    for name in ("x-private", "keep-alive", "proxy-authenticate"):
        assert name not in out.headers
    for name in ("x-hop", "keep-alive", "te", "proxy-authorization"):
        assert name not in sent["h"]
    assert sent["h"]["x-end"] == "kept"


SPOOFED = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https",
           "X-Real-IP": "6.6.6.6", "Forwarded": "for=6.6.6.6"}


async def test_forwarded_headers_from_an_untrusted_peer_are_replaced(proxy):
    async with client(proxy, peer="203.0.113.7") as c:
        h = seen(await c.get("/echo", headers=SPOOFED))["h"]
    assert (h["x-forwarded-for"], h["x-forwarded-proto"], h["x-forwarded-host"]) == (
        "203.0.113.7", "http", "public.example")
    assert "x-real-ip" not in h and "forwarded" not in h
    assert h["host"] == "public.example"


async def test_forwarded_chain_from_a_trusted_proxy_is_extended(upstream):
    app = ReverseProxy(upstream.url, trusted=TrustedProxies(["10.0.0.0/8"]), preserve_host=False)
    try:
        async with client(app, peer="10.1.2.3") as c:
            data = seen(await c.get("/echo", headers=SPOOFED))
    finally:
        await app.aclose()
    h = data["h"]
    assert h["x-forwarded-for"] == "6.6.6.6, 10.1.2.3"
    assert [k.lower() for k, _ in data["headers"]].count("x-forwarded-for") == 1
    assert (h["x-forwarded-proto"], h["x-forwarded-host"]) == ("https", "evil.example")
    assert h["host"] == upstream.url.removeprefix("http://")


async def test_a_wildcard_trusts_every_peer_as_a_platform_router_needs(upstream):
    app = ReverseProxy(upstream.url, trusted=TrustedProxies(["*"]))
    try:
        async with client(app, peer="198.51.100.4") as c:
            data = seen(await c.get("/echo", headers={"X-Forwarded-For": "203.0.113.9"}))
    finally:
        await app.aclose()
    assert data["h"]["x-forwarded-for"] == "203.0.113.9, 198.51.100.4"


async def test_each_visitor_gets_its_own_forwarded_headers_however_often_and_however_long(upstream):
    """What the proxy adds for upstream is remembered per visitor: a repeat, another visitor, another scheme or
    host, and a chain too long to remember each get their own."""
    app = ReverseProxy(upstream.url, trusted=TrustedProxies(["10.0.0.0/8"]))
    long_chain = ", ".join(f"198.51.100.{i}" for i in range(40))
    asked = [("10.1.2.3", {"X-Forwarded-For": "203.0.113.9"}), ("10.1.2.3", {"X-Forwarded-For": "203.0.113.9"}),
             ("10.1.2.3", {"X-Forwarded-For": "203.0.113.10"}), ("10.9.9.9", {"X-Forwarded-For": "203.0.113.9"}),
             ("10.1.2.3", {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}),
             ("10.1.2.3", {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "other.example"}),
             ("10.1.2.3", {"X-Forwarded-For": long_chain}), ("10.1.2.3", {"X-Forwarded-For": long_chain})]
    got = []
    try:
        for peer, headers in asked:
            async with client(app, peer=peer) as c:
                h = seen(await c.get("/echo", headers=headers))["h"]
            got.append((h["x-forwarded-for"], h["x-forwarded-proto"], h["x-forwarded-host"]))
    finally:
        await app.aclose()
    assert got == [("203.0.113.9, 10.1.2.3", "http", "public.example"),
                   ("203.0.113.9, 10.1.2.3", "http", "public.example"),
                   ("203.0.113.10, 10.1.2.3", "http", "public.example"),
                   ("203.0.113.9, 10.9.9.9", "http", "public.example"),
                   ("203.0.113.9, 10.1.2.3", "https", "public.example"),
                   ("203.0.113.9, 10.1.2.3", "http", "other.example"),
                   (f"{long_chain}, 10.1.2.3", "http", "public.example"),
                   (f"{long_chain}, 10.1.2.3", "http", "public.example")]


async def test_upstream_down_gives_502_page_or_json():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = ReverseProxy(f"http://127.0.0.1:{port}", connect_timeout=1)
    try:
        async with client(app) as c:
            page = await c.get("/")
            api = await c.get("/", headers={"Accept": "application/json"})
    finally:
        await app.aclose()
    assert page.status_code == 502 and "502 Bad Gateway" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert api.status_code == 502 and api.json()["error"] == "bad_gateway"


async def test_html_in_a_coding_we_cannot_decode_is_refused_not_passed(proxy):
    async with client(proxy) as c:
        resp = await c.get("/zstd")
    assert resp.status_code == 502 and "zstd bytes" not in resp.text


async def test_slow_upstream_gives_504_within_the_timeout(upstream):
    app = ReverseProxy(upstream.url, read_timeout=0.5)
    started = time.monotonic()
    try:
        async with client(app) as c:
            resp = await c.get("/slow")
    finally:
        await app.aclose()
    assert resp.status_code == 504
    assert time.monotonic() - started < 2


class AsgiCall:
    """Drive the app as an ASGI server would, one message at a time, to observe streaming."""

    def __init__(self, app, path: str = "/", method: str = "GET", raw_path: bytes | None = None,
                 headers: list[tuple[bytes, bytes]] | None = None, body: list[bytes] | None = None) -> None:
        self.scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                      "scheme": "http", "path": path, "raw_path": raw_path or path.encode(), "query_string": b"",
                      "root_path": "", "headers": [(b"host", b"public.example"), *(headers or [])],
                      "client": ("203.0.113.7", 40000), "server": ("127.0.0.1", 8000)}
        self.body = list(body or [])
        self.before_last_chunk: asyncio.Event | None = None
        self.disconnected = asyncio.Event()
        self.sent: asyncio.Queue = asyncio.Queue(maxsize=4)  # back-pressure, as a socket gives
        self.task = asyncio.ensure_future(app(self.scope, self.receive, self.send))

    async def send(self, message: dict) -> None:
        if not self.disconnected.is_set():  # like uvicorn: after a disconnect, sends are silently dropped
            await self.sent.put(message)

    async def receive(self) -> dict:
        if self.body:
            chunk = self.body.pop(0)
            if len(self.body) == 1 and self.before_last_chunk is not None:
                await asyncio.wait_for(self.before_last_chunk.wait(), 5)
            return {"type": "http.request", "body": chunk, "more_body": bool(self.body)}
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def next(self) -> dict:
        return await asyncio.wait_for(self.sent.get(), 5)

    async def finish(self) -> None:
        self.disconnected.set()
        await asyncio.wait_for(self.task, 5)


@pytest.mark.parametrize("raw_path", [b"//evil.example/x", b"http://evil.example/x", b"https://evil.example:443/x"])
async def test_path_cannot_change_the_upstream_host(proxy, raw_path):
    call = AsgiCall(proxy, path=raw_path.decode(), raw_path=raw_path, headers=[(b"accept", b"*/*")])
    start, body = await call.next(), await call.next()
    await call.finish()
    data = json.loads(body["body"])
    assert start["status"] == 200 and data["upstream"] == "local"
    assert data["raw_path"] in ("//evil.example/x", "/x")


async def test_big_page_streams_with_flat_memory(proxy, upstream):
    tracemalloc.start()
    try:
        call = AsgiCall(proxy, "/big")
        assert (await call.next())["status"] == 200
        received = 0
        while received < BIG_FIRST:  # all of this arrives while upstream still holds back the rest
            received += len((await call.next())["body"])
        assert not upstream.big_done.is_set()
        upstream.release.set()
        while True:
            message = await call.next()
            received += len(message["body"])
            if not message.get("more_body"):
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    await call.finish()
    assert upstream.released_in_time and received == BIG_TOTAL
    assert peak < 8 << 20, f"peak {peak / 1e6:.1f} MB for a 20 MB page"


@pytest.mark.parametrize("enc", ["gzip", "br"])
async def test_a_compressed_page_that_expands_a_thousandfold_is_decoded_piece_by_piece(proxy, enc):
    tracemalloc.start()
    try:
        call = AsgiCall(proxy, f"/bomb/{enc}")
        assert (await call.next())["status"] == 200
        digest, size, biggest = hashlib.sha256(), 0, 0
        while True:
            message = await call.next()
            digest.update(message["body"])
            size, biggest = size + len(message["body"]), max(biggest, len(message["body"]))
            if not message.get("more_body"):
                break
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    await call.finish()
    assert size == len(BOMB) and digest.digest() == hashlib.sha256(BOMB).digest()
    assert biggest <= DECODED_PIECE
    assert peak < 8 << 20  # 24 MB decoded, a few pieces in memory at a time


async def test_client_disconnect_closes_the_upstream_response(proxy, upstream):
    call = AsgiCall(proxy, "/endless")
    assert (await call.next())["status"] == 200
    await call.next()
    await call.finish()
    await asyncio.wait_for(upstream.stream_closed.wait(), 3)


async def test_an_upload_longer_than_the_buffer_is_streamed_to_upstream(upstream):
    app = ReverseProxy(upstream.url, connect_timeout=1, read_timeout=1, buffer_body=1000)
    chunks = [b"a" * 65536, b"b" * 65536, b"c" * 10]
    try:
        call = AsgiCall(app, "/upload", method="PUT", body=chunks,
                        headers=[(b"content-length", str(sum(map(len, chunks))).encode())])
        call.before_last_chunk = upstream.upload_started  # past the buffer: sent on before the upload ends
        assert (await call.next())["status"] == 200
        data = json.loads((await call.next())["body"])
        await call.finish()
    finally:
        await app.aclose()
    assert data["size"] == sum(map(len, chunks))
    assert data["sha256"] == hashlib.sha256(b"".join(chunks)).hexdigest()


async def test_a_stalled_upload_gets_408_instead_of_holding_the_upstream(upstream):
    app = ReverseProxy(upstream.url, read_timeout=0.5)
    try:
        call = AsgiCall(app, "/upload", method="PUT", body=[b"a" * 1000, b"never sent"],
                        headers=[(b"content-length", b"2000")])
        call.before_last_chunk = asyncio.Event()  # the visitor goes quiet after the first chunk
        started = time.monotonic()
        start, body = await call.next(), await call.next()
        await call.finish()
    finally:
        await app.aclose()
    assert start["status"] == 408 and b"408" in body["body"]
    assert time.monotonic() - started < 3


async def test_websocket_is_refused_and_lifespan_owns_the_pool(upstream):
    app = ReverseProxy(upstream.url)
    sent: list[dict] = []

    async def collect(message: dict) -> None:
        sent.append(message)

    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    await app({"type": "websocket", "path": "/ws", "headers": []}, None, collect)
    await app({"type": "lifespan"}, lambda: asyncio.sleep(0, next(events)), collect)
    assert [m["type"] for m in sent] == ["websocket.close", "lifespan.startup.complete",
                                         "lifespan.shutdown.complete"]
    assert app._session is None


async def _over_uvicorn(app, request: bytes) -> bytes:
    """One raw HTTP/1.1 exchange with ``app`` served by a real uvicorn."""
    options = {**server_options(Settings()), "port": 0, "lifespan": "off", "log_level": "warning"}
    config = uvicorn.Config(app, **options)  # as `consent-gateway serve` runs it
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        reply = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()
    finally:
        server.should_exit = True
        await task
    return reply


async def test_under_uvicorn_absolute_form_target_stays_on_upstream(proxy):
    reply = await _over_uvicorn(proxy, b"GET http://evil.example/x HTTP/1.1\r\nHost: evil.example\r\n"
                                       b"Connection: close\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    data = json.loads(body)
    assert data["upstream"] == "local" and data["raw_path"] == "/x"


async def test_under_uvicorn_the_visitor_gets_one_date_and_no_upstream_server_header(proxy):
    reply = await _over_uvicorn(proxy, b"GET /page/identity HTTP/1.1\r\nHost: site.example\r\n"
                                       b"Connection: close\r\n\r\n")
    lines = reply.partition(b"\r\n\r\n")[0].lower().split(b"\r\n")
    assert lines[0].startswith(b"http/1.1 200")
    assert len([line for line in lines if line.startswith(b"date:")]) == 1
    assert not [line for line in lines if line.startswith(b"server:")]


async def test_path_prefix_of_the_upstream_is_kept(upstream):
    app = ReverseProxy(upstream.url + "/site/")
    try:
        async with client(app) as c:
            data = seen(await c.get("/a/b?q=%2F"))
    finally:
        await app.aclose()
    assert data["raw_path"] == "/site/a/b?q=%2F"

"""CompressionMiddleware and the content-coding helpers the proxy relies on."""

from __future__ import annotations

import asyncio
import gzip
import zlib

import brotli
import httpx
import pytest

from gateway.compression import CompressionMiddleware, Decoder, parse_accept_encoding, reduce_accept_encoding

HTML = ("<!doctype html><html><body>" + "<p>Согласие на cookies / cookie consent</p>" * 200 + "</body></html>").encode()


def app_sending(body: bytes = HTML, ctype: bytes = b"text/html; charset=utf-8", status: int = 200,
                extra: list[tuple[bytes, bytes]] | None = None, chunks: int = 1):
    """A plain ASGI app answering with ``body`` split into ``chunks`` messages."""
    async def app(scope, receive, send):
        headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *(extra or [])]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        size = -(-len(body) // chunks) or 1
        parts = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
        for i, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})
    return app


async def fetch(app, accept: str, method: str = "GET") -> tuple[httpx.Response, bytes]:
    transport = httpx.ASGITransport(app=CompressionMiddleware(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        async with c.stream(method, "/", headers={"Accept-Encoding": accept}) as resp:
            raw = b"".join([part async for part in resp.aiter_raw()])
    return resp, raw


@pytest.mark.parametrize(("accept", "coding", "decode"), [
    ("gzip, deflate, br", "br", brotli.decompress),
    ("br;q=0, gzip", "gzip", gzip.decompress),
    ("*", "br", brotli.decompress),
    ("gzip", "gzip", gzip.decompress),
])
@pytest.mark.parametrize("chunks", [1, 7])
async def test_compresses_with_the_best_accepted_coding(accept, coding, decode, chunks):
    resp, raw = await fetch(app_sending(extra=[(b"etag", b'"h1"')], chunks=chunks), accept)
    assert resp.headers["content-encoding"] == coding
    assert resp.headers["vary"] == "Accept-Encoding"
    assert resp.headers["etag"] == 'W/"h1"'
    assert decode(raw) == HTML
    assert len(raw) < len(HTML) / 4
    if chunks == 1:
        assert resp.headers["content-length"] == str(len(raw))
    else:
        assert "content-length" not in resp.headers


@pytest.mark.parametrize("accept", ["", "identity", "gzip;q=0, br;q=0", "zstd"])
async def test_identity_when_nothing_usable_is_accepted(accept):
    resp, raw = await fetch(app_sending(), accept)
    assert "content-encoding" not in resp.headers
    assert resp.headers["vary"] == "Accept-Encoding"
    assert raw == HTML and resp.headers["content-length"] == str(len(HTML))


@pytest.mark.parametrize(("body", "ctype", "status", "extra"), [
    (b"<p>tiny</p>", b"text/html", 200, []),
    (HTML, b"image/png", 200, []),
    (HTML, b"text/event-stream", 200, []),
    (gzip.compress(HTML), b"text/html", 200, [(b"content-encoding", b"gzip")]),
    (HTML, b"text/html", 200, [(b"cache-control", b"no-transform")]),
    (HTML[:1000], b"text/html", 206, [(b"content-range", b"bytes 0-999/5000")]),
])
async def test_leaves_responses_that_must_not_change_alone(body, ctype, status, extra):
    resp, raw = await fetch(app_sending(body, ctype, status, extra), "br, gzip")
    assert resp.status_code == status and raw == body
    expected = dict(extra).get(b"content-encoding")
    assert resp.headers.get("content-encoding") == (expected.decode() if expected else None)
    assert resp.headers["content-length"] == str(len(body))


async def test_not_modified_passes_untouched():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 304, "headers": [(b"etag", b'"h1"')]})
        await send({"type": "http.response.body", "body": b""})
    resp, raw = await fetch(app, "br")
    assert resp.status_code == 304 and raw == b""
    assert resp.headers["etag"] == '"h1"' and "content-encoding" not in resp.headers


async def test_head_mirrors_the_get_headers_without_a_body():
    resp, raw = await fetch(app_sending(), "br", method="HEAD")
    assert raw == b""
    assert resp.headers["content-encoding"] == "br" and "content-length" not in resp.headers
    small, _ = await fetch(app_sending(b"<p>tiny</p>"), "br", method="HEAD")
    assert "content-encoding" not in small.headers and small.headers["content-length"] == "11"


@pytest.mark.parametrize("accept", ["br", "gzip"])
async def test_each_chunk_is_flushed_so_streaming_stays_streaming(accept):
    second = asyncio.Event()
    out: asyncio.Queue = asyncio.Queue()

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": HTML[:3000], "more_body": True})
        await asyncio.wait_for(second.wait(), 5)  # the client must have the first part before this goes
        await send({"type": "http.response.body", "body": HTML[3000:], "more_body": False})

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"accept-encoding", accept.encode())]}
    task = asyncio.ensure_future(CompressionMiddleware(app)(scope, None, out.put))
    start = await asyncio.wait_for(out.get(), 5)
    first = await asyncio.wait_for(out.get(), 5)
    assert (b"content-encoding", accept.encode()) in start["headers"]
    decoder = Decoder(accept)
    assert b"".join(decoder.feed(first["body"])) == HTML[:3000]
    second.set()
    last = await asyncio.wait_for(out.get(), 5)
    await task
    assert b"".join(decoder.feed(last["body"], final=True)) == HTML[3000:]


async def test_non_http_scopes_pass_through():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])
    await CompressionMiddleware(app)({"type": "lifespan"}, None, None)
    assert seen == ["lifespan"]


@pytest.mark.parametrize(("coding", "encoded"), [
    ("gzip", gzip.compress(HTML)),
    ("br", brotli.compress(HTML)),
    ("deflate", zlib.compress(HTML)),
    ("deflate", (lambda c: c.compress(HTML) + c.flush())(zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS))),
])
@pytest.mark.parametrize("step", [1, 2, 3, 1000])
def test_decoder_restores_the_bytes_at_any_split(coding, encoded, step):
    decoder = Decoder(coding)
    out = b"".join(b"".join(decoder.feed(encoded[i:i + step])) for i in range(0, len(encoded), step))
    assert out + b"".join(decoder.feed(b"", final=True)) == HTML


def test_decoder_refuses_unknown_codings():
    with pytest.raises(ValueError):
        Decoder("zstd")


def test_accept_encoding_parsing():
    assert parse_accept_encoding("gzip, BR;q=0.5 , zstd;q=0, x;q=bad") == {"gzip": 1.0, "br": 0.5, "zstd": 0.0,
                                                                           "x": 0.0}
    assert reduce_accept_encoding("zstd, br") == "br"
    assert reduce_accept_encoding("*;q=1, deflate;q=0") == "gzip, br"
    assert reduce_accept_encoding("") == ""


async def test_a_repeated_whole_body_is_compressed_once_and_each_body_gets_its_own_bytes():
    other = HTML.replace(b"cookies", b"COOKIES")
    bodies = iter([HTML, HTML, other, HTML])

    async def app(scope, receive, send):
        body = next(bodies)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    middleware = CompressionMiddleware(app)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        raws = []
        for accept in ("br", "br", "br", "gzip"):
            async with c.stream("GET", "/", headers={"Accept-Encoding": accept}) as resp:
                raws.append(b"".join([part async for part in resp.aiter_raw()]))
    assert len(middleware.cache) == 3  # HTML in br, the other page in br, HTML in gzip
    assert brotli.decompress(raws[0]) == brotli.decompress(raws[1]) == HTML
    assert brotli.decompress(raws[2]) == other
    assert gzip.decompress(raws[3]) == HTML

"""Bounded decoding and filtering (issue 12, item 4): the whole gateway under uvicorn, real sockets, 127.0.0.1.

A compression bomb from the upstream (1 MB of gzip that decodes to 1 GB, brotli at 40,000 to one) must not hold
up anyone else, must be cut off past ``max_html_bytes`` and logged, and must never reach the visitor unfiltered;
one tag with thousands of attributes is filtered in linear time however the chunks split it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import brotli
import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.rewrite import FilterPlan, HtmlFilter
from gateway.settings import Settings
from gateway.vendors import Catalogue

from .abuse import LoopWatch, get, served

MB = 1 << 20
TRACKER = b'<script src="https://mc.yandex.ru/metrika/tag.js"></script>'
# What another visitor may wait while the bomb is served, in wall time: generous, since a shared machine under load
# stretches it (decoding the whole bomb in one go took 0.8 s of CPU before the filter worked a piece per turn).
PAGE_LATENCY = 0.6
LOOP_STALL = 0.1  # CPU time the event loop may spend without yielding
WATCH_SECONDS = 1.5


def gzip_bomb(megabytes: int) -> bytes:
    """An HTML page of ``megabytes`` MB of blanks as gzip, about 1 KB per MB: one 1 MB deflate block, repeated
    (a full flush makes each block stand alone). The trailer is never reached: the page is cut off first."""
    blanks = b" " * MB
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = z.compress(b"<!doctype html><html><head>" + TRACKER + b"</head><body>" + blanks) + z.flush(zlib.Z_FULL_FLUSH)
    block = z.compress(blanks) + z.flush(zlib.Z_FULL_FLUSH)
    return head + block * (megabytes - 1)


BROTLI_PAGE = b"<!doctype html><html><head>" + TRACKER + b"</head><body>" + b" " * (64 * MB) + b"</body></html>"


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {"gzip": gzip_bomb(1024), "br": brotli.compress(BROTLI_PAGE, quality=5)}


@pytest.fixture
async def upstream(bombs) -> AsyncIterator[str]:
    async def bomb(request: web.Request) -> web.StreamResponse:
        enc = request.match_info["enc"]
        resp = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": enc})
        await resp.prepare(request)
        body = bombs[enc]
        for i in range(0, len(body), 64 * 1024):
            await resp.write(body[i:i + 64 * 1024])
        return resp

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=b"<!doctype html><html><head>" + TRACKER + b"</head><body><p>ok</p></body></html>",
                            content_type="text/html")

    app = web.Application()
    app.add_routes([web.get("/bomb/{enc}", bomb), web.get("/page", page)])
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


@pytest.fixture
async def gateway(settings: Settings, upstream: str):
    async def make(**overrides):
        app = create_app(dataclasses.replace(settings, upstream=upstream, cookie_secure=False, **overrides))
        await app.startup()
        opened.append(app)
        return app

    opened: list = []
    yield make
    for app in opened:
        await app.shutdown()


async def _read_bomb(port: int, enc: str, seconds: float | None = None) -> tuple[bytes, int, bool]:
    """GET a bomb as a browser would (it accepts br) and read fast: the head, bytes of body, whether it ended."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /bomb/{enc} HTTP/1.1\r\nHost: wgp.kz\r\nAccept-Encoding: br\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    size, started, ended = 0, time.monotonic(), False
    while seconds is None or time.monotonic() - started < seconds:
        chunk = await asyncio.wait_for(reader.read(MB), 5)
        if not chunk:
            ended = True
            break
        size += len(chunk)
    writer.close()
    return head, size, ended


async def test_while_a_bomb_is_served_another_visitor_waits_no_longer_than_a_piece(gateway):
    app = await gateway(max_html_bytes=4096 * MB)  # not cut off: the bomb streams for the whole watch
    async with served(app) as port:
        await get(port, "/page")
        bomb = asyncio.ensure_future(_read_bomb(port, "gzip", WATCH_SECONDS))
        await asyncio.sleep(0.2)
        latencies = []
        with LoopWatch() as watch:
            while not bomb.done():
                code, seconds = await get(port, "/page")
                assert code == 200
                latencies.append(seconds)
                await asyncio.sleep(0.02)
        _, size, ended = await bomb
    assert not ended and size > 0 and len(latencies) >= 5
    assert max(latencies) < PAGE_LATENCY, f"pages took up to {max(latencies) * 1000:.0f} ms"
    assert watch.worst_cpu < LOOP_STALL, f"the event loop worked {watch.worst_cpu * 1000:.0f} ms without yielding"


@pytest.mark.parametrize("enc", ["gzip", "br"])
async def test_a_bomb_is_cut_off_past_max_html_bytes_and_logged(gateway, caplog, enc):
    app = await gateway(max_html_bytes=8 * MB)
    with caplog.at_level(logging.WARNING, logger="gateway.proxy"):
        async with served(app) as port:
            started = time.monotonic()
            head, _, ended = await _read_bomb(port, enc)
            took = time.monotonic() - started
            code, _ = await get(port, "/page")
    assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head.lower()
    assert ended and took < 3 and code == 200  # the connection closed without the last chunk
    assert any("over max_html_bytes" in r.getMessage() for r in caplog.records)


async def test_what_a_cut_off_bomb_sent_was_filtered(gateway):
    app = await gateway(max_html_bytes=2 * MB)
    async with served(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /bomb/gzip HTTP/1.1\r\nHost: wgp.kz\r\n\r\n")  # identity: readable as it comes
        raw = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    body = raw.partition(b"\r\n\r\n")[2]
    assert b"mc.yandex.ru" in body and b'type="text/plain"' in body[:4096]  # the tracker was neutralised
    assert not body.endswith(b"0\r\n\r\n")  # no last chunk: the visitor sees an incomplete page


CHUNKS = (16, 256, 1460, 16384)


@pytest.mark.parametrize("chunk", CHUNKS)
def test_one_tag_with_ten_thousand_attributes_is_filtered_in_linear_time(chunk):
    catalogue = Catalogue.load(Path(__file__).parents[1] / "config" / "vendors.toml")
    plan = FilterPlan(frozenset({"preferences", "analytics", "marketing"}), catalogue, frozenset({"wgp.kz"}),
                      '<script src="/_consent/banner.js" defer></script>')
    tag = b"<img" + b"".join(b' data-a%d="v>%d"' % (i, i) for i in range(10_000)) + b">"
    page = b"<html><head></head><body>" + tag + b"<p>after</p></body></html>"
    whole = HtmlFilter(plan)
    expected = whole.feed(page) + whole.close()
    started = time.perf_counter()
    f = HtmlFilter(plan)
    out = b"".join(f.feed(page[i:i + chunk]) for i in range(0, len(page), chunk)) + f.close()
    took = time.perf_counter() - started
    assert out == expected
    assert took < 0.5, f"{took * 1000:.0f} ms in {chunk}-byte chunks (4.4 s before, in 16-byte chunks)"

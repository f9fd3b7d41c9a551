"""No slow client starves the others (issue 12, item 1), over real sockets on 127.0.0.1.

Each case as it was measured against `serve --upstream`: slow uploads filling the upstream pool, a header line
that never ends, headers or a consent-API body trickling in forever.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from gateway.app import Components
from gateway.deadline import BodyDeadline
from gateway.proxy import ReverseProxy
from gateway.settings import Settings

from .abuse import exchange, get, served, status

BODY_TIMEOUT = 1.0
MIN_RATE = 4096
HEAD_TIMEOUT = 1
SLOW_UPLOADS = 12  # three times the pool
POOL = 4
PAGE_LATENCY = 0.5
HEAD = b"GET / HTTP/1.1\r\nHost: wgp.kz\r\n"
MB = 1 << 20


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<p>ok</p>", content_type="text/html")

    async def upload(request: web.Request) -> web.Response:
        return web.json_response({"size": len(await request.read())})

    app = web.Application()
    app.add_routes([web.get("/page", page), web.post("/upload", upload)])
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


async def hello(scope, receive, send) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})


def _proxy(url: str, **options) -> ReverseProxy:
    return ReverseProxy(url, max_connections=POOL, read_timeout=30, body_timeout=BODY_TIMEOUT,
                        body_min_rate=MIN_RATE, **options)


async def test_slow_uploads_hold_no_upstream_connection_and_pages_still_answer(upstream):
    proxy = _proxy(upstream)
    try:
        async with served(proxy) as port:
            slow = [await asyncio.open_connection("127.0.0.1", port) for _ in range(SLOW_UPLOADS)]
            started = time.monotonic()
            for _, writer in slow:  # one byte of a thousand, then nothing (1 byte every 8 s in the issue)
                writer.write(b"POST /upload HTTP/1.1\r\nHost: wgp.kz\r\nContent-Length: 1000\r\n\r\nx")
            await asyncio.sleep(0.2)
            pages = [await get(port, "/page") for _ in range(POOL + 2)]
            replies = await asyncio.gather(*(asyncio.wait_for(reader.read(), 5) for reader, _ in slow))
            ended = time.monotonic() - started
            for _, writer in slow:
                writer.close()
    finally:
        await proxy.aclose()
    assert [code for code, _ in pages] == [200] * len(pages)
    assert max(seconds for _, seconds in pages) < PAGE_LATENCY
    assert [status(reply) for reply in replies] == [408] * SLOW_UPLOADS
    assert ended < BODY_TIMEOUT + 1.5


async def test_a_small_upload_arrives_whole_and_a_big_one_streams_under_the_minimum_rate(upstream):
    proxy = _proxy(upstream, buffer_body=4096)
    try:
        async with served(proxy) as port:
            body = b"a=" + b"x" * 3000
            reply, _ = await exchange(port, b"POST /upload HTTP/1.1\r\nHost: wgp.kz\r\nConnection: close\r\n"
                                            b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            assert status(reply) == 200 and json.loads(reply.partition(b"\r\n\r\n")[2]) == {"size": len(body)}
            # Past the buffer: streamed upstream, but 10 bytes/s is under the minimum rate.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            started = time.monotonic()
            writer.write(b"POST /upload HTTP/1.1\r\nHost: wgp.kz\r\nContent-Length: 1000000\r\n\r\n" + b"y" * 8192)
            read = asyncio.ensure_future(reader.read())
            while not read.done() and time.monotonic() - started < 5:
                writer.write(b"y")
                await asyncio.sleep(0.1)
            reply = await asyncio.wait_for(read, 1)
            writer.close()
    finally:
        await proxy.aclose()
    assert status(reply) == 408
    assert time.monotonic() - started < BODY_TIMEOUT + 8192 / MIN_RATE + 1


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _endless_header(port: int, chunks: int = 16) -> tuple[bytes, int]:
    """A header line that never ends, in 1 MB writes; what the server answered and how much it took."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    chunk, sent = b"a" * MB, 0
    writer.write(HEAD + b"X-Long: ")
    try:
        for _ in range(chunks):
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), 2)
            sent += len(chunk)
        reply = await asyncio.wait_for(reader.read(), 2)
    except (ConnectionError, TimeoutError):
        reply = b""
    writer.close()
    return reply, sent


async def test_a_header_line_that_never_ends_is_cut_off_and_memory_stays_flat():
    async with served(hello) as port:
        await get(port)
        before = _rss()
        results = await asyncio.gather(*(_endless_header(port) for _ in range(6)))
        grown = _rss() - before
        code, _ = await get(port)
    # The issue: +65 MB resident per connection, 6 took the process from 84 to 522 MB.
    assert grown < 40 * MB, f"resident memory grew {grown / MB:.0f} MB"
    assert all(sent < 16 * MB for _, sent in results)  # the server stopped reading: closed or refused
    assert code == 200


@pytest.mark.parametrize(("request_head", "expected"), [
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: wgp.kz\r\n\r\n", 414),
    (HEAD + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    (HEAD + b"".join(b"X-H%d: %s\r\n" % (i, b"c" * 4000) for i in range(9)) + b"\r\n", 431),
    (b"GET /" + b"a" * 20000, 414),  # a request line still growing
    (HEAD + b"X-Big: " + b"b" * 20000, 431),
])
async def test_an_oversized_head_is_answered_and_closed(request_head, expected):
    async with served(hello) as port:
        reply, _ = await exchange(port, request_head)
        code, _ = await get(port)
    assert status(reply) == expected and b"connection: close" in reply.lower()
    assert code == 200


async def test_heads_within_the_limits_are_served_on_a_kept_alive_connection():
    big_but_fine = HEAD + b"X-Fine: " + b"f" * 8000 + b"\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(100))
    async with served(hello) as port:
        reply, _ = await exchange(port, big_but_fine + b"\r\n" + HEAD + b"Connection: close\r\n\r\n")
    assert reply.count(b"HTTP/1.1 200 OK") == 2


async def test_slow_headers_and_a_silent_connection_are_closed_after_the_head_timeout():
    async with served(hello, Settings(header_timeout=HEAD_TIMEOUT)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        silent_reader, silent_writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        writer.write(HEAD)
        read = asyncio.ensure_future(reader.read())
        while not read.done() and time.monotonic() - started < 5:
            writer.write(b"X")  # a byte every 0.1 s, forever
            await asyncio.sleep(0.1)
        reply = await asyncio.wait_for(read, 1)
        trickled = time.monotonic() - started
        silent = await asyncio.wait_for(silent_reader.read(), 5)
        writer.close()
        silent_writer.close()
    assert status(reply) == 408 and HEAD_TIMEOUT <= trickled < HEAD_TIMEOUT + 1
    assert status(silent) == 408


async def test_each_head_on_a_kept_alive_connection_has_the_whole_timeout_from_its_first_byte():
    """A visitor's second request may begin just before the first head's deadline: it still gets all of its own
    time, and a head that trickles on past its own deadline is cut off then."""
    async with served(hello, Settings(header_timeout=HEAD_TIMEOUT)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(HEAD + b"\r\n")
            assert (await asyncio.wait_for(reader.readuntil(b"ok"), 2)).startswith(b"HTTP/1.1 200")
            await asyncio.sleep(HEAD_TIMEOUT * 0.6)
            writer.write(HEAD)  # slow, but within its own time: past the connection's first deadline
            for i in range(6):
                await asyncio.sleep(HEAD_TIMEOUT * 0.1)
                writer.write(b"X-%d: v\r\n" % i)
            writer.write(b"\r\n")
            assert (await asyncio.wait_for(reader.readuntil(b"ok"), 2)).startswith(b"HTTP/1.1 200")
            started = time.monotonic()
            writer.write(HEAD)
            read = asyncio.ensure_future(reader.read())
            while not read.done() and time.monotonic() - started < 5:
                writer.write(b"X")
                await asyncio.sleep(0.05)
            reply = await asyncio.wait_for(read, 1)
        finally:
            writer.close()
    assert status(reply) == 408 and HEAD_TIMEOUT <= time.monotonic() - started < HEAD_TIMEOUT + 0.5


@pytest.fixture
async def consent_api(settings: Settings) -> AsyncIterator[int]:
    """The real consent API under BodyDeadline (as the gateway wires it), served by uvicorn."""
    components = Components(settings)
    await components.startup()
    try:
        async with served(BodyDeadline(components.consent_app(), timeout=BODY_TIMEOUT, min_rate=MIN_RATE)) as port:
            yield port
    finally:
        await components.shutdown()


PUT_HEAD = (b"PUT /_consent/state HTTP/1.1\r\nHost: wgp.kz\r\nOrigin: https://wgp.kz\r\n"
            b"Content-Type: application/json\r\n")
ACCEPT = b'{"action": "accept_all"}'


async def test_a_consent_write_in_time_is_answered(consent_api):
    reply, _ = await exchange(consent_api, PUT_HEAD + b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
                              % (len(ACCEPT), ACCEPT))
    assert status(reply) == 200 and b"set-cookie" in reply.lower()


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_a_consent_body_at_one_byte_a_second_gets_408_within_the_deadline(consent_api, framing):
    reader, writer = await asyncio.open_connection("127.0.0.1", consent_api)
    started = time.monotonic()
    if framing == "length":
        writer.write(PUT_HEAD + b"Content-Length: %d\r\n\r\n" % len(ACCEPT))
        pieces = [ACCEPT[i:i + 1] for i in range(len(ACCEPT))]
    else:
        writer.write(PUT_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        pieces = [b"1\r\n%s\r\n" % ACCEPT[i:i + 1] for i in range(len(ACCEPT))]
    read = asyncio.ensure_future(reader.read())
    for piece in pieces:
        if read.done():
            break
        writer.write(piece)
        await asyncio.sleep(0.25)  # 4 bytes a second
    reply = await asyncio.wait_for(read, 5)
    writer.close()
    assert status(reply) == 408 and b"connection: close" in reply.lower()
    assert b"set-cookie" not in reply.lower()
    assert time.monotonic() - started < BODY_TIMEOUT + 1


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("max_header_line", "100", "at least 256"),
    ("max_header_line", "65536", "at most max_header_bytes"),
    ("max_header_bytes", str(2 * MB), "at most 1048576"),
    ("header_timeout", "0", "between 1 and 3600"),
    ("body_timeout", "7200", "between 1 and 3600"),
    ("body_min_rate", "0", "at least 1 byte"),
    ("proxy_buffer_body", "-1", "between 0 and"),
    ("max_html_bytes", "1000", "at least 1048576"),
])
def test_limits_out_of_range_are_refused_naming_the_setting(key, value, problem):
    from gateway.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match=f"GATEWAY_{key.upper()}: {key}: .*{problem}"):
        load_settings(env={f"GATEWAY_{key.upper()}": value})

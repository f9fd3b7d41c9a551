"""The whole serve stack (compression -> consent -> proxy) in front of a real local upstream."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gzip
import socket
from collections.abc import AsyncIterator
from typing import Any

import brotli
import httpx
import pytest
import uvicorn
from aiohttp import web
from starlette.types import ASGIApp

from gateway.app import create_app
from gateway.server import server_options
from gateway.settings import Settings

from .conftest import BROWSER_UA

TRACKED = ("<!doctype html><html lang=ru><head><meta charset=utf-8><title>Тест</title>"
           "<script async src=https://www.googletagmanager.com/gtm.js?id=GTM-X></script>"
           "<script src=https://cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js></script>"
           "</head><body><h1>Инжиниринг в Атырау</h1>"
           "<img src=https://mc.yandex.ru/watch/1 alt=''>"
           + "<p>Проектирование и надзор.</p>" * 300 + "</body></html>")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        enc = request.query.get("enc", "identity")
        charset = request.query.get("cs", "utf-8")
        body = TRACKED.replace("charset=utf-8", f"charset={charset}").encode(charset)
        headers = {"Content-Type": f"text/html; charset={charset}", "Cache-Control": "public, max-age=300"}
        if enc == "gzip":
            body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
        elif enc == "br":
            body, headers["Content-Encoding"] = brotli.compress(body), "br"
        response = web.Response(body=body, headers=headers)
        response.set_cookie("_ga", "GA1.1.99")
        response.set_cookie("_fbp", "fb.1.1")
        response.set_cookie("sessionid", "s1")
        return response

    async def gpc(request: web.Request) -> web.Response:
        return web.json_response({"from": "upstream"})

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({k.lower(): v for k, v in request.headers.items()})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.1:{port}/landing")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/.well-known/gpc.json", gpc)
    app.router.add_get("/go", redirect)
    app.router.add_get("/echo", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def gateway(upstream: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(dataclasses.replace(settings, upstream=upstream))
    await app.startup()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://wgp.kz",
                               headers={"user-agent": BROWSER_UA})
    yield client
    await client.aclose()
    await app.shutdown()


@pytest.mark.parametrize("encoding", ["identity", "gzip", "br"])
async def test_compressed_upstream_page_is_decoded_rewritten_and_recompressed(
        gateway: httpx.AsyncClient, encoding: str) -> None:
    r = await gateway.get(f"/?enc={encoding}", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == "gzip"
    html = r.text
    assert "Инжиниринг в Атырау" in html and html.count("<p>Проектирование и надзор.</p>") == 300
    assert " src=https://www.googletagmanager.com" not in html and "data-consent-src" in html
    assert " src=https://mc.yandex.ru" not in html
    assert "<script src=https://cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js></script>" in html
    assert "/_consent/banner.js" in html
    assert r.headers["cache-control"].startswith("private")


async def test_identity_for_clients_that_accept_no_encoding(gateway: httpx.AsyncClient) -> None:
    r = await gateway.get("/?enc=br", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in r.headers
    assert "content-length" not in r.headers or int(r.headers["content-length"]) == len(r.content)
    assert "Инжиниринг" in r.text


async def test_windows_1251_page_round_trips(gateway: httpx.AsyncClient) -> None:
    r = await gateway.get("/?cs=windows-1251", headers={"accept-encoding": "identity"})
    assert "windows-1251" in r.headers["content-type"]
    text = r.content.decode("cp1251")
    assert "Инжиниринг в Атырау" in text and "data-consent-src=https://www.googletagmanager.com" in text


async def test_upstream_cookies_of_refused_categories_are_dropped(gateway: httpx.AsyncClient) -> None:
    r = await gateway.get("/")
    assert sorted(c.split("=")[0] for c in r.headers.get_list("set-cookie")) == ["sessionid"]


async def test_gateway_answers_its_own_routes_not_the_upstream(gateway: httpx.AsyncClient) -> None:
    assert (await gateway.get("/.well-known/gpc.json")).json()["gpc"] is True
    state = await gateway.get("/_consent/state")
    assert state.status_code == 200 and state.json()["decided"] is False


async def test_consent_given_through_the_proxy_unblocks_trackers(gateway: httpx.AsyncClient) -> None:
    r = await gateway.put("/_consent/state", content=b'{"action":"accept_all"}',
                          headers={"content-type": "application/json", "origin": "https://wgp.kz"})
    assert r.status_code == 200
    page = await gateway.get("/")
    assert "<script async src=https://www.googletagmanager.com/gtm.js?id=GTM-X></script>" in page.text
    assert sorted(c.split("=")[0] for c in page.headers.get_list("set-cookie")) == ["_fbp", "_ga", "sessionid"]


async def test_upstream_redirect_is_mapped_back_to_the_public_origin(gateway: httpx.AsyncClient) -> None:
    r = await gateway.get("/go")
    assert r.status_code == 302 and r.headers["location"] == "https://wgp.kz/landing"


async def test_a_page_of_known_length_is_rewritten_once_then_served_from_cache(gateway: httpx.AsyncClient) -> None:
    consent = gateway._transport.app.blocking  # type: ignore[attr-defined]
    first = await gateway.get("/", headers={"accept-encoding": "identity"})
    assert len(consent.cache) == 1
    second = await gateway.get("/", headers={"accept-encoding": "identity"})
    assert len(consent.cache) == 1 and second.content == first.content


@contextlib.asynccontextmanager
async def served(app: ASGIApp, **options: Any) -> AsyncIterator[str]:
    """The app behind a real uvicorn with these options on a free port (lifespan on); yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, **{**options, "port": 0, "log_level": "warning"}))
    task = asyncio.ensure_future(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def cut_short_upstream(head: bytes, body: bytes) -> AsyncIterator[str]:
    """An origin that sends a 200 with these headers and only this much body, then hangs up."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


SCRIPT = b"var a = 1;"
BIG_SCRIPT = b"v" * 300_000
BIG_PAGE = TRACKED.encode() * 10
ABORTED = "aborted"  # the 200's headers went out; the connection closes before the body is complete
SERVER_ERROR = 500  # nothing went out yet: uvicorn answers 500 instead of an empty 200
TRUNCATED = [
    ("script, small known length", b"Content-Type: text/javascript\r\nContent-Length: 1000", SCRIPT, ABORTED),
    ("script, over one message", b"Content-Type: text/javascript\r\nContent-Length: 100000", BIG_SCRIPT[:70_000],
     ABORTED),
    ("script, streamed with a disconnect watcher", b"Content-Type: text/javascript\r\nContent-Length: 300000",
     BIG_SCRIPT[:100_000], ABORTED),
    ("script, chunked", b"Content-Type: text/javascript\r\nTransfer-Encoding: chunked", b"a\r\n" + SCRIPT + b"\r\n",
     ABORTED),
    ("page, rewritten", b"Content-Type: text/html\r\nContent-Length: %d" % len(BIG_PAGE), BIG_PAGE[:100_000],
     ABORTED),
    ("page, chunked", b"Content-Type: text/html\r\nTransfer-Encoding: chunked", b"1f4\r\n" + BIG_PAGE[:500] + b"\r\n",
     ABORTED),
    ("page, small known length", b"Content-Type: text/html\r\nContent-Length: 5000", BIG_PAGE[:500],
     SERVER_ERROR),
    ("page, gzip", b"Content-Type: text/html\r\nContent-Encoding: gzip\r\nContent-Length: 5000",
     gzip.compress(BIG_PAGE)[:300], SERVER_ERROR),
]


@pytest.mark.parametrize(("case", "head", "body", "outcome"), TRUNCATED, ids=[t[0] for t in TRUNCATED])
async def test_truncated_upstream_body_is_never_passed_off_as_complete(
        settings: Settings, case: str, head: bytes, body: bytes, outcome: str | int) -> None:
    """What the visitor sees: a connection that ends before the body does, or an error, never a short 200."""
    received = b""
    async with asyncio.timeout(20), cut_short_upstream(head, body) as origin:
        settings = dataclasses.replace(settings, upstream=origin, access_log=False)
        async with served(create_app(settings), **server_options(settings)) as base, httpx.AsyncClient() as client:
            async with client.stream("GET", f"{base}/app", headers={"accept-encoding": "identity"}) as r:
                status = r.status_code
                try:
                    async for chunk in r.aiter_raw():
                        received += chunk
                    ended = "complete"
                except httpx.RemoteProtocolError:
                    ended = ABORTED
    if outcome == ABORTED:
        assert (status, ended) == (200, ABORTED)
    else:
        assert (status, ended, received) == (SERVER_ERROR, "complete", b"Internal Server Error")


async def test_behind_a_trusted_front_proxy_as_serve_runs_it(upstream: str, settings: Settings) -> None:
    """uvicorn with serve's own options: the front proxy's forwarded headers reach the origin and the log."""
    import sqlite3

    settings = dataclasses.replace(settings, upstream=upstream, access_log=False)
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "wgp.kz",
                 "Origin": "https://wgp.kz", "User-Agent": BROWSER_UA}
    async with served(create_app(settings), **server_options(settings)) as base:
        async with httpx.AsyncClient(base_url=base, headers=forwarded) as c:  # from 127.0.0.1
            seen = (await c.get("/echo")).json()
            moved = await c.get("/go")
            decided = await c.put("/_consent/state", json={"action": "reject_all"})
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "https" and seen["x-forwarded-host"] == "wgp.kz"
    assert seen["host"] == "wgp.kz"  # the public host, though the front proxy connected to 127.0.0.1:port
    assert moved.status_code == 302 and moved.headers["location"] == "https://wgp.kz/landing"
    assert decided.status_code == 200
    log = sqlite3.connect(settings.data_dir / "consent.sqlite3")
    assert log.execute("SELECT ip_prefix FROM consent_log").fetchall() == [("203.0.113.0/24",)]

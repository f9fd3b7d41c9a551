"""The composition root: what create_app and ConsentMiddleware open in the lifespan, and what they wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import ConsentMiddleware, create_app
from gateway.settings import Settings

from .conftest import BROWSER_UA, SITE

ACCEPT = {"content-type": "application/json", "origin": SITE}


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Drive the ASGI lifespan as a server does: startup before the first request, shutdown after the last."""
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                   inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await task


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SITE, headers={"user-agent": BROWSER_UA})


async def test_create_app_opens_the_consent_log_in_the_lifespan_and_closes_it_after(settings: Settings) -> None:
    app = create_app(settings)
    async with client_for(app) as client:
        async with lifespan(app):
            assert (await client.put("/_consent/state", json={"action": "accept_all"}, headers=ACCEPT)).status_code == 200
            assert (await client.get("/_consent/healthz")).json()["storage"] == "ok"
        r = await client.put("/_consent/state", json={"action": "accept_all"}, headers=ACCEPT)
    assert r.status_code == 503 and "set-cookie" not in r.headers


async def test_the_embedding_middleware_opens_the_log_and_publishes_the_consent(settings: Settings) -> None:
    async def home(request: Request) -> Response:
        return JSONResponse({"decided": request.state.consent.decided})

    site = Starlette(routes=[Route("/", home)])
    site.add_middleware(ConsentMiddleware, settings=settings)
    async with client_for(site) as client, lifespan(site):
        assert (await client.get("/")).json() == {"decided": False}
        r = await client.put("/_consent/state", json={"action": "reject_all"}, headers=ACCEPT)
        assert r.status_code == 200
        client.cookies = r.cookies
        assert (await client.get("/")).json() == {"decided": True}
        assert (await client.get("/_consent/receipt")).json()["records"][0]["action"] == "reject_all"


async def test_each_app_owns_its_parts(settings: Settings) -> None:
    """Two apps in one process never share a store, counters or caches."""
    first = create_app(settings)
    second = create_app(settings)
    assert first.components.store is not second.components.store
    assert first.components.metrics.registry is not second.components.metrics.registry
    assert first.blocking.cache is not second.blocking.cache


async def test_a_consent_write_whose_body_trickles_in_is_answered_408(settings: Settings) -> None:
    """The consent API's body deadline is part of what create_app builds."""
    import dataclasses

    app = create_app(dataclasses.replace(settings, body_timeout=0.3, body_min_rate=1_000_000))
    sent: list[dict[str, Any]] = []
    parts = iter([{"type": "http.request", "body": b'{"act', "more_body": True}])

    async def receive() -> dict[str, Any]:
        part = next(parts, None)
        if part is None:
            await asyncio.sleep(30)  # the rest never comes
        return part  # type: ignore[return-value]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT", "scheme": "https",
             "path": "/_consent/state", "raw_path": b"/_consent/state", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"wgp.kz"), (b"origin", SITE.encode()), (b"content-type", b"application/json")],
             "client": ("203.0.113.9", 5000), "server": ("wgp.kz", 443)}
    await app.startup()
    try:
        await asyncio.wait_for(app(scope, receive, send), timeout=5)
    finally:
        await app.shutdown()
    assert sent[0]["status"] == 408
    assert not any(name == b"set-cookie" for name, _ in sent[0]["headers"])

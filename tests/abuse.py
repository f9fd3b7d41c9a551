"""Shared by the abuse tests: an app under a real uvicorn (serve's options) and raw sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from gateway.server import server_options
from gateway.settings import Settings


@asynccontextmanager
async def served(app: Any, settings: Settings | None = None, **overrides: Any) -> AsyncIterator[int]:
    """``app`` served as ``consent-gateway serve`` serves it, on a free port; yields the port."""
    options = {**server_options(settings or Settings()), "port": 0, "lifespan": "off", "log_level": "critical",
               **overrides}
    server = uvicorn.Server(uvicorn.Config(app, **options))
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(task, 5)


async def exchange(port: int, request: bytes, timeout: float = 5) -> tuple[bytes, float]:
    """Send ``request`` on a new connection; the whole reply (until the server closes) and seconds it took."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        reply = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    return reply, time.monotonic() - started


async def get(port: int, path: str = "/", timeout: float = 5) -> tuple[int, float]:
    """Status of a plain GET on a new connection, and its latency."""
    reply, seconds = await exchange(port, f"GET {path} HTTP/1.1\r\nHost: wgp.kz\r\nConnection: close\r\n\r\n"
                                          .encode(), timeout)
    return status(reply), seconds


def status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else 0


class LoopWatch:
    """The longest the event loop went without running a 1 ms timer: what every other visitor waits.

    ``worst`` is wall time; ``worst_cpu`` the CPU time the loop's thread spent between two ticks, the work done
    without yielding, which another process on a busy machine does not inflate."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_cpu = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        last, last_cpu = time.monotonic(), time.thread_time()
        while True:
            await asyncio.sleep(0.001)
            now, now_cpu = time.monotonic(), time.thread_time()
            self.worst = max(self.worst, now - last)
            self.worst_cpu = max(self.worst_cpu, now_cpu - last_cpu)
            last, last_cpu = now, now_cpu

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()

"""A request body must arrive in time: ``BodyDeadline`` answers 408 to one that does not.

The rule (``BodyClock``) is Apache's mod_reqtimeout ``body=20,MinRate=500`` in one formula: a body is due
``timeout`` seconds after the request started, plus one second for every ``min_rate`` bytes that arrived, so a
slow but steady upload keeps going and one that trickles a byte at a time is cut off after about ``timeout``
seconds. The reverse proxy applies the same clock to the uploads it buffers or streams (``gateway.proxy``).

``BodyDeadline`` is a pure ASGI middleware for apps that read small bodies (the consent API). When the clock runs
out it answers 408 with ``Connection: close`` itself (if nothing was sent yet), tells the app the client is gone
(``http.disconnect``), drops whatever the app still sends and swallows the error the app raises about it. A
request without a body, and the app's waiting for a disconnect after the body, are not timed.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors

CLOSE = {"Connection": "close"}  # the rest of the body may still be on its way


class BodyTimeout(Exception):
    """The request body did not arrive in time."""


class BodyClock:
    """The deadline of one request body: ``timeout`` seconds from the start, one more per ``min_rate`` bytes."""

    __slots__ = ("timeout", "min_rate", "start", "received")

    def __init__(self, timeout: float, min_rate: float) -> None:
        self.timeout = timeout
        self.min_rate = min_rate
        self.start = time.monotonic()
        self.received = 0

    def remaining(self) -> float:
        return self.start + self.timeout + self.received / self.min_rate - time.monotonic()

    async def receive(self, receive: Receive, wait: float | None = None) -> Message:
        """The next message, waiting no longer than the deadline (or ``wait``); raises BodyTimeout."""
        remaining = self.remaining()
        if wait is not None:
            remaining = min(remaining, wait)
        if remaining <= 0:
            raise BodyTimeout
        try:
            message = await asyncio.wait_for(receive(), remaining)
        except TimeoutError:
            raise BodyTimeout from None
        self.received += len(message.get("body", b""))
        return message


class BodyDeadline:
    """Answer 408 to a request whose body is not in within ``timeout`` s plus one s per ``min_rate`` bytes."""

    def __init__(self, app: ASGIApp, timeout: float = 20, min_rate: float = 4096) -> None:
        if timeout <= 0 or min_rate <= 0:
            raise ValueError("timeout and min_rate must be positive")
        self.app = app
        self.timeout = timeout
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await _Responder(self, scope, receive, send).run()


class _Responder:
    """One request: its clock, whether the body is in, whether the response started or was taken over."""

    __slots__ = ("owner", "scope", "downstream", "upstream", "clock", "body_done", "started", "timed_out")

    def __init__(self, owner: BodyDeadline, scope: Scope, receive: Receive, send: Send) -> None:
        self.owner = owner
        self.scope = scope
        self.upstream = receive
        self.downstream = send
        self.clock = BodyClock(owner.timeout, owner.min_rate)
        self.body_done = self.started = self.timed_out = False

    async def run(self) -> None:
        try:
            await self.owner.app(self.scope, self.receive, self.send)
        except Exception:
            if not self.timed_out:
                raise  # the app's own error; one caused by our disconnect is expected and ends here

    async def receive(self) -> Message:
        if self.body_done or self.timed_out:
            return await self.upstream()
        try:
            message = await self.clock.receive(self.upstream)
        except BodyTimeout:
            self.timed_out = True
            if not self.started:
                self.started = True
                accept = next((v for k, v in self.scope["headers"] if k == b"accept"), b"").decode("latin-1")
                exc = errors.RequestTimeout(errors.UPLOAD_STALLED, headers=CLOSE)
                kind: errors.Kind = "html" if "text/html" in accept else "json"  # as the consent API answers
                await errors.send_error(self.downstream, exc, kind, head=self.scope["method"] == "HEAD")
            return {"type": "http.disconnect"}
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.body_done = True
        return message

    async def send(self, message: Message) -> None:
        if self.timed_out:
            return  # the 408 went out instead
        if message["type"] == "http.response.start":
            self.started = True
        await self.downstream(message)

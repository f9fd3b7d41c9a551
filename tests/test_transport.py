"""A response's head and body leave in one write; nothing is held back longer than one turn of the loop."""

from __future__ import annotations

import asyncio
import contextlib
import pickle
from collections.abc import AsyncIterator

import pytest
import uvicorn

from gateway.server import server_options
from gateway.settings import Settings
from gateway.transport import HOLD_LIMIT, CoalescingHTTP, CoalescingTransport, HeadLimits, _Cycle

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


class Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("203.0.113.5", 4000)}.get(name, default)


async def test_head_and_body_written_in_one_call() -> None:
    real = Recorder()
    t = CoalescingTransport(real, asyncio.get_running_loop())
    t.write(HEAD)
    t.write(b"hello")
    assert real.writes == [HEAD + b"hello"]
    await asyncio.sleep(0)
    assert real.writes == [HEAD + b"hello"]  # the scheduled flush finds nothing left to send


async def test_a_lone_small_write_leaves_on_the_next_turn_of_the_loop() -> None:
    real = Recorder()
    t = CoalescingTransport(real, asyncio.get_running_loop())
    t.write(b"0\r\n\r\n")
    assert t.get_write_buffer_size() == 5
    await asyncio.sleep(0)
    assert real.writes == [b"0\r\n\r\n"]


async def test_every_way_of_writing_keeps_the_order() -> None:
    real = Recorder()
    t = CoalescingTransport(real, asyncio.get_running_loop())
    t.write(b"a")
    t.writelines([b"b", b"c"])
    t.write(b"d")
    t.close()
    assert b"".join(real.writes) == b"abcd"


async def test_big_writes_are_not_held_or_copied() -> None:
    real = Recorder()
    t = CoalescingTransport(real, asyncio.get_running_loop())
    big = b"x" * (HOLD_LIMIT + 1)
    t.write(big)
    assert real.writes == [big]


async def test_close_sends_what_is_held_first_and_a_gone_peer_gets_nothing() -> None:
    real = Recorder()
    t = CoalescingTransport(real, asyncio.get_running_loop())
    t.write(b"bye")
    t.close()
    assert real.writes == [b"bye"] and real.closed
    t.write(b"late")
    await asyncio.sleep(0)
    assert real.writes == [b"bye"]


async def test_other_transport_calls_reach_the_real_one() -> None:
    t = CoalescingTransport(Recorder(), asyncio.get_running_loop())
    assert t.get_extra_info("peername") == ("203.0.113.5", 4000)
    assert not t.is_closing()


def test_serve_runs_the_coalescing_protocol_with_the_head_limits_of_the_settings() -> None:
    http = server_options(Settings(max_header_line=4096, max_header_bytes=16384, header_timeout=3))["http"]
    assert http.func is CoalescingHTTP
    assert http.keywords == {"limits": HeadLimits(4096, 16384, 3)}
    assert pickle.loads(pickle.dumps(http)).keywords == http.keywords  # --workers hands it to spawned processes


@contextlib.asynccontextmanager
async def serving(app, **options: object) -> AsyncIterator[int]:
    """``app`` under uvicorn with serve's options (and ``options`` over them); yields its port."""
    config = {**server_options(Settings()), "port": 0, "log_level": "warning", "lifespan": "off", **options}
    server = uvicorn.Server(uvicorn.Config(app, **config))
    task = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def served():
    """A small ASGI app under uvicorn with serve's options; yields (port, gate) where gate releases the stream."""
    gate = asyncio.Event()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"first", "more_body": True})
            await gate.wait()  # the client must have the first piece before the second exists
            await send({"type": "http.response.body", "body": b"second", "more_body": False})
            return
        if scope["path"] == "/header":  # a response header of the value the query names
            value = bytes.fromhex(scope["query_string"].decode())
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"x-policy", value), (b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        if scope["path"] == "/unframed":  # no length: chunked for GET, nothing for HEAD
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else b"body"})
            return
        if scope["path"] == "/cookie":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"set-cookie", b"sid=" + scope["query_string"]), (b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        if scope["path"] == "/upload":  # the body's size and the request's X-Note, as the app got them
            size, more = 0, True
            while more:
                message = await receive()
                size, more = size + len(message.get("body", b"")), message.get("more_body", False)
            body = b"%d %s" % (size, dict(scope["headers"]).get(b"x-note", b"-"))
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if scope["path"] == "/refuse":  # answered at once, the request's body never read (as a 413 or 408 is)
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-length", b"9"), (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": b"too large"})
            return
        body = b"x" * int(scope["query_string"] or b"5")
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async with serving(app) as port:
        yield port, gate
        gate.set()


async def _read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().partition(b"content-length: ")[2].partition(b"\r\n")[0])
    return head, await reader.readexactly(length)


async def test_keep_alive_responses_of_every_size_arrive_whole(served) -> None:
    port, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for size in (0, 5, HOLD_LIMIT - 200, HOLD_LIMIT + 1, 300_000):
            writer.write(f"GET /?{size} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            head, body = await asyncio.wait_for(_read_response(reader), 5)
            assert head.startswith(b"HTTP/1.1 200") and body == b"x" * size
        writer.write(b"HEAD /?7 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        rest = await asyncio.wait_for(reader.read(), 5)  # the server closes: what it held must still arrive
        assert rest.startswith(b"HTTP/1.1 200") and rest.endswith(b"\r\n\r\n")
    finally:
        writer.close()


async def test_a_streamed_piece_is_not_held_until_the_next_one(served) -> None:
    port, gate = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        received = b""
        while b"first" not in received:  # fails by timeout if the piece waits for "second"
            received += await asyncio.wait_for(reader.read(4096), 5)
        gate.set()
        while not received.endswith(b"0\r\n\r\n"):
            received += await asyncio.wait_for(reader.read(4096), 5)
        assert b"second" in received
    finally:
        writer.close()


LONG_POLICY = b"default-src 'self'\t" + b"a.example.com *.a.example.com " * 90  # a decided visitor's CSP, and a tab


@pytest.mark.parametrize("value", [LONG_POLICY, b"", "caf\u00e9".encode("latin-1")])
async def test_a_long_or_unusual_header_value_is_sent_as_it_is(served, value: bytes) -> None:
    port, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET /header?{value.hex()} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        head, body = await asyncio.wait_for(_read_response(reader), 5)
        assert b"\r\nx-policy: " + value + b"\r\n" in head and body == b"ok"
    finally:
        writer.close()


@pytest.mark.parametrize("value", [b"a\r\nset-cookie: forged=1", b"a\nb", b"a\x00b", b"a\x7fb",
                                   LONG_POLICY + b"\r\nset-cookie: forged=1", b"\n" + LONG_POLICY])
async def test_a_header_value_with_a_control_byte_never_reaches_the_client(served, value: bytes) -> None:
    port, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET /header?{LONG_POLICY.hex()} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        await asyncio.wait_for(_read_response(reader), 5)  # a good long value, checked once and remembered
        writer.write(f"GET /header?{value.hex()} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the connection is closed, nothing sent
    finally:
        writer.close()


async def test_a_repeated_head_keeps_the_framing_and_the_connection_of_its_request(served) -> None:
    """Heads are remembered: the same headers on a closing connection, or for HEAD, must still be framed for it."""
    port, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(2):
            writer.write(b"GET /unframed HTTP/1.1\r\nHost: t\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert b"transfer-encoding: chunked" in head and b"connection: close" not in head
            assert await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 5) == b"4\r\nbody\r\n0\r\n\r\n"
        writer.write(b"HEAD /unframed HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"transfer-encoding" not in head
        writer.write(b"GET /?5 HTTP/1.1\r\nHost: t\r\n\r\n")
        head, _ = await asyncio.wait_for(_read_response(reader), 5)
        assert b"connection: close" not in head
        writer.write(b"GET /?5 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")  # the same head, closing
        rest = await asyncio.wait_for(reader.read(), 5)  # the server must close this time
        assert rest.startswith(b"HTTP/1.1 200") and b"connection: close\r\n" in rest and rest.endswith(b"xxxxx")
    finally:
        writer.close()


async def test_a_visitors_cookie_head_is_written_for_them_and_not_kept(served) -> None:
    port, _ = served
    kept = len(_Cycle._heads)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for sid in (b"one", b"two"):
            writer.write(b"GET /cookie?" + sid + b" HTTP/1.1\r\nHost: t\r\n\r\n")
            head, _ = await asyncio.wait_for(_read_response(reader), 5)
            assert b"set-cookie: sid=" + sid + b"\r\n" in head
    finally:
        writer.close()
    assert len(_Cycle._heads) == kept


async def test_an_upload_that_expects_100_continue_is_told_to_go_on(served) -> None:
    """curl and most HTTP clients ask before a big upload and wait (curl a whole second) for the go-ahead."""
    port, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST /upload HTTP/1.1\r\nHost: t\r\nExpect: 100-Continue\r\nX-Note: kept  \t\r\n"
                     b"Content-Length: 5000\r\n\r\n")
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim.startswith(b"HTTP/1.1 100 ")
        writer.write(b"z" * 5000)
        head, body = await asyncio.wait_for(_read_response(reader), 5)
        assert head.startswith(b"HTTP/1.1 200") and body == b"5000 kept"  # trailing whitespace is not the value's
    finally:
        writer.close()


async def test_a_websocket_upgrade_is_served_over_the_coalescing_transport() -> None:
    """An upgraded connection leaves the HTTP protocol: the transport is handed to the WebSocket one whole."""
    from websockets.asyncio.client import connect

    async def app(scope, receive, send):
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            message = await receive()
            await send({"type": "websocket.send", "text": "echo " + message["text"]})
            await send({"type": "websocket.close", "code": 1000})

    async with serving(app) as port, connect(f"ws://127.0.0.1:{port}/live", open_timeout=5, close_timeout=2) as ws:
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), 5) == "echo hi"


async def test_a_refusal_in_the_middle_of_an_upload_lingers_instead_of_resetting(served) -> None:
    """Closing a connection with input still coming makes the kernel answer the next bytes with a reset, and a
    reset can destroy the answer before the client has read it: a visitor uploading sees "connection reset"
    instead of the 413 or 408. As nginx does (lingering close), the server half-closes after the answer and
    reads, and drops, what the client still sends."""
    port, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"PUT /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 8000000\r\n\r\n" + b"y" * 1000)
        reply = await asyncio.wait_for(reader.read(), 5)  # the answer, then the end of the server's stream
        assert reply.startswith(b"HTTP/1.1 413") and reply.endswith(b"too large")
        for _ in range(5):  # the browser is still uploading: taken and dropped, no reset
            writer.write(b"y" * 65536)
            await writer.drain()
            await asyncio.sleep(0.05)
        assert not writer.transport.is_closing()
    finally:
        writer.close()


async def test_lingering_ends_when_the_client_sends_too_much(served) -> None:
    port, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"PUT /refuse HTTP/1.1\r\nHost: t\r\nContent-Length: 80000000\r\n\r\n")
    assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 413")
    with pytest.raises(ConnectionError):
        for _ in range(200):  # 13 MB, far past what a lingering connection drops
            writer.write(b"y" * 65536)
            await asyncio.wait_for(writer.drain(), 5)
            await asyncio.sleep(0)
    writer.close()


async def test_an_idle_kept_alive_connection_is_closed_and_a_busy_or_slow_one_is_not() -> None:
    """The keep-alive timer is armed once and checks, when it fires, how long the connection has been idle: a
    connection in use (a request every 0.2 s, a response slower than the timeout) stays open, an idle one is
    closed about the timeout after its last response."""
    async def app(scope, receive, send):
        if scope["path"] == "/slow":
            await asyncio.sleep(1.0)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    loop = asyncio.get_running_loop()

    async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> None:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(reader.readexactly(2), 5) == b"ok"

    async with serving(app, timeout_keep_alive=0.5) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(8):  # 1.6 s of use, three times the timeout
                await ask(reader, writer, "/")
                await asyncio.sleep(0.2)
            await ask(reader, writer, "/slow")  # 1 s to answer: the timer fires while the request is served
            idle_from = loop.time()
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed, once idle
            assert 0.4 <= loop.time() - idle_from < 1.5
        finally:
            writer.close()

"""The connection layer under the app: one send per response, and bounded request heads.

uvicorn writes a response's head to the socket as soon as the app sends ``http.response.start`` and the body as
a second write: two system calls and, with Nagle's algorithm off, two packets for every small response. aiohttp
and nginx send the head with the first piece of body. ``CoalescingHTTP`` is uvicorn's own HTTP protocol with the
connection's transport wrapped so that a small write is held until the next write, or until the event loop's
next turn when no other write follows, and the two leave together. At most one small write is ever held, so
uvicorn's flow control (which watches the real transport) still sees everything else as it happens.

Request heads: httptools puts no bound on a request line or header line, so a line that never ends grew one
connection by tens of megabytes, and uvicorn has no timeout before a request's head is complete. As nginx does
(``large_client_header_buffers 4 8k``, ``client_header_timeout``), ``HeadLimits`` bounds each line and the whole
head, and the time from a head's first byte (or the connection's start) to its end: a request line too long is
answered 414, a header line or head too large 431, a head not complete in time 408, and the connection closed.
A line is checked as its bytes arrive, so memory never holds more than one read of an over-long line.

Lingering close: closing a socket with input still unread makes the kernel answer with a reset, and a reset can
destroy the answer before the client has read it, so a visitor still uploading sees "connection reset" instead of
the 408 or 413. When the connection closes in the middle of a request's body, the transport sends what it holds,
half-closes (FIN), and reads and drops what still arrives until the client closes, ``LINGER_SECONDS`` pass or
``LINGER_BYTES`` were dropped, as nginx does (``lingering_close``, ``lingering_time``). A refused head (below) is
closed at once: what sends an endless header is not a browser waiting for an answer.

Response heads: uvicorn refuses a header name or value holding a forbidden byte with a regular expression per
header, which scans a long value at some 50 instructions a byte: the per-visitor CSP (2.5 KB for a decided
visitor) cost more than everything the gateway's own layers do for a page. ``_Cycle`` writes the head as uvicorn
does, the same bytes refused with the same errors, checked by ``bytes.translate`` in one C pass over all the
names and one over all the short values (a tenth of the cost); a long value (the CSP) is checked once and
remembered, since it is the same bytes response after response. A whole head is remembered too (a site answers
with the same few: a page's for a consent class, each asset's), so a repeat is written from one dictionary
lookup instead of three loops over its headers in Python.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

# Only a write this small is held back: a head, a chunk's framing, a short body. Bigger ones leave at once.
HOLD_LIMIT = 16 * 1024
LINGER_SECONDS = 2.0  # the longest a half-closed connection is read (and dropped) before it is closed
LINGER_BYTES = 1024 * 1024  # and the most it may send meanwhile

security_log = logging.getLogger("gateway.security")

URI_TOO_LONG = 414
HEAD_TOO_LARGE = 431
HEAD_TIMEOUT = 408
_REASONS = {URI_TOO_LONG: "request line too long", HEAD_TOO_LARGE: "request header too large",
            HEAD_TIMEOUT: "request header not received in time"}


@dataclass(frozen=True)
class HeadLimits:
    """Bounds on a request's head: one line (request line or header, CRLF included), all of it, and the seconds
    from its first byte to its blank line (for a connection's first request: from the connection's start)."""

    line: int = 8 * 1024
    total: int = 32 * 1024
    timeout: float = 10.0


class CoalescingTransport(asyncio.Transport):
    """A transport whose small writes wait for the next write or the loop's next turn, whichever comes first.

    The rest of the transport's methods are passed on one by one: a ``__getattr__`` would make every attribute
    read of this object (a dozen per request) go through a slower lookup."""

    __slots__ = ("_transport", "_loop", "_held", "_expects_input", "_linger", "_dropped")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop,
                 expects_input: Callable[[], bool] = lambda: False) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._expects_input = expects_input  # is a request's body still coming? (then close lingers)
        self._linger: asyncio.TimerHandle | None = None
        self._dropped = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._linger is not None:
            return  # half-closed: nothing more can be sent
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, data))  # uvloop: one vectored send, the body not copied
        elif len(data) <= HOLD_LIMIT:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def flush(self) -> None:
        """Send what is held (nothing to do when the next write took it along, or the peer is gone)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        """Close; in the middle of a request, half-close and drop what still comes for a while first."""
        self.flush()
        transport = self._transport
        if (self._linger is None and not transport.is_closing() and self._expects_input()
                and transport.can_write_eof()):
            transport.write_eof()  # the client reads the whole answer, then the end of the stream
            transport.resume_reading()  # flow control may have paused it: what comes is read, and dropped
            self._linger = self._loop.call_later(LINGER_SECONDS, transport.close)
            return
        self.stop_lingering()
        transport.close()

    def drop(self, data: bytes) -> None:
        """What arrives while lingering is dropped; past ``LINGER_BYTES`` the connection is closed at once."""
        self._dropped += len(data)
        if self._dropped > LINGER_BYTES:
            self.stop_lingering()
            self._transport.close()

    def stop_lingering(self) -> None:
        """The connection is gone (the client closed it too): no timer left behind."""
        if self._linger is not None:
            self._linger.cancel()

    def is_closing(self) -> bool:
        return self._linger is not None or self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()


_BAD_NAME = bytes(range(0x20)) + b'\x7f()<>@,;:[]={} "\\'  # what uvicorn's HEADER_RE refuses
_BAD_VALUE = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"  # and HEADER_VALUE_RE (tab is allowed)
_LONG = 256  # a value this long is checked once and remembered
_CHECKED = 256  # long values remembered


_Head = tuple[bytes, int, bool | None, bool]  # a head's bytes; expected length, chunked and keep-alive after it


class _Cycle(RequestResponseCycle):
    """uvicorn's request/response cycle with the response head checked by ``bytes.translate`` and remembered;
    anything but an ordinary head (a body, a paused or closed connection) goes to uvicorn's code."""

    # The long values are the gateway's own (a per-visitor CSP, made once per consent class and sent as the same
    # bytes object), so each is checked once: its hash is kept on the object, a repeat costs a set lookup.
    _checked: set[bytes] = set()
    # A site answers with the same few heads (a page's for a consent class, an asset's): each is checked and
    # written once, a repeat costs a dictionary lookup. Keyed by everything the bytes and the cycle's state
    # depend on; a head with a Set-Cookie (a visitor's own) is not kept. uvicorn's default headers (the Date)
    # change every second and are written on their own.
    _heads: dict[tuple[Any, ...], _Head] = {}
    _defaults: tuple[list[tuple[bytes, bytes]] | None, bytes] = (None, b"")

    async def send(self, message: Any) -> None:
        if (self.response_started or self.disconnected or self.flow.write_paused
                or message["type"] != "http.response.start"):
            await super().send(message)
            return
        self.response_started = True
        self.waiting_for_100_continue = False
        status_code = message["status"]
        if self.access_log:  # uvicorn's own (`serve` turns it off and logs through gateway.accesslog)
            self.access_logger.info('%s - "%s %s HTTP/%s" %d', get_client_addr(self.scope), self.scope["method"],
                                    get_path_with_query_string(self.scope), self.scope["http_version"], status_code)
        defaults, written = _Cycle._defaults
        if defaults is not self.default_headers:
            defaults = self.default_headers
            written = _head(defaults, True, True, 200)[0][0][:-2]  # no framing of its own, no blank line
            _Cycle._defaults = (defaults, written)
        raw = message.get("headers", ())
        head_request = self.scope["method"] == "HEAD"
        key: tuple[Any, ...] | None = (status_code, self.keep_alive, head_request, *raw)
        try:
            cached = self._heads.get(key)  # type: ignore[arg-type]
        except TypeError:  # headers as lists: not hashable, written the long way
            key, cached = None, None
        if cached is None:
            cached, sets_cookie = _head(raw, self.keep_alive, head_request, status_code)
            if key is not None and not sets_cookie:
                if len(self._heads) >= _HEADS:
                    self._heads.clear()
                self._heads[key] = cached
        head, self.expected_content_length, self.chunked_encoding, self.keep_alive = cached
        self.transport.write(b"".join((STATUS_LINE[status_code], written, head)))


_HEADS = 256  # distinct response heads remembered


def _head(headers: Iterable[tuple[bytes, bytes]], keep_alive: bool, head_request: bool,
          status_code: int) -> tuple[_Head, bool]:
    """A response head after its status line, as uvicorn writes it, and the cycle's state it implies (expected
    length, chunked, keep-alive), and whether it sets a cookie; RuntimeError for a forbidden byte, as uvicorn."""
    headers = list(headers)
    # Forbidden bytes are forbidden wherever they stand: all names in one pass, all values in another.
    names = b"".join([name for name, _ in headers])
    if len(names.translate(None, _BAD_NAME)) != len(names):
        raise RuntimeError("Invalid HTTP header name.")
    short = []
    checked = _Cycle._checked
    for _, value in headers:
        if len(value) < _LONG:
            short.append(value)
        elif value not in checked:
            if len(value.translate(None, _BAD_VALUE)) != len(value):
                raise RuntimeError("Invalid HTTP header value.")
            if len(checked) >= _CHECKED:
                checked.clear()
            checked.add(value)
    values = b"".join(short)
    if len(values.translate(None, _BAD_VALUE)) != len(values):
        raise RuntimeError("Invalid HTTP header value.")
    content = []
    expected_content_length, chunked_encoding = 0, None
    has_connection_close = sets_cookie = False
    for name, value in headers:
        name = name.lower()
        if name == b"content-length" and chunked_encoding is None:
            expected_content_length = int(value.decode())
            chunked_encoding = False
        elif name == b"transfer-encoding" and value.lower() == b"chunked":
            expected_content_length = 0
            chunked_encoding = True
        elif name == b"connection":
            connection = [token.lower().strip() for token in value.split(b",")]
            if b"close" in connection:
                keep_alive = False
                has_connection_close = True
        elif name == b"set-cookie":
            sets_cookie = True
        content.extend([name, b": ", value, b"\r\n"])
    if not keep_alive and not has_connection_close:
        content.append(b"connection: close\r\n")
    if chunked_encoding is None and not head_request and status_code not in (204, 304):
        chunked_encoding = True  # neither content-length nor transfer-encoding
        content.append(b"transfer-encoding: chunked\r\n")
    content.append(b"\r\n")
    return (b"".join(content), expected_content_length, chunked_encoding, keep_alive), sets_cookie


class CoalescingHTTP(HttpToolsProtocol):
    """uvicorn's httptools HTTP/1.1 protocol writing through a ``CoalescingTransport``, with bounded heads.

    ``server_options`` passes ``limits`` (``functools.partial``); uvicorn builds one instance per connection."""

    def __init__(self, *args: Any, limits: HeadLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits = limits or HeadLimits()
        self._line_limit, self._total_limit = limits.line, limits.total  # read for every header
        self._in_head = True  # between a request's end (or the connection's start) and the next head's end
        self._head_read = 0  # bytes read since the head began (whole reads: an upper bound)
        self._head_size = 0  # the URL and completed header lines, exactly
        self._line = 0  # bytes of the line in progress
        self._first_line = True  # the line in progress is the request line
        self._refusal = 0  # a status to answer with once the parser returns
        self._timer: asyncio.TimerHandle | None = None
        self._head_began: float | None = None  # loop time of the head's first byte (None: no head in progress)
        self._idle_since: float | None = None  # loop time of the last response's end (None: in use)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._wrapped = CoalescingTransport(transport, asyncio.get_running_loop(), self._expects_input)
        super().connection_made(self._wrapped)
        self._head_began = self.loop.time()
        self._arm(self._limits.timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        self._wrapped.stop_lingering()
        super().connection_lost(exc)

    def _expects_input(self) -> bool:
        """A request's body is still to come (its head was read, its end was not)."""
        return not self._in_head and not self._refusal

    def data_received(self, data: bytes) -> None:
        if self._refusal or self.transport.is_closing():
            self._wrapped.drop(data)
            return
        if self._in_head:
            if self._head_began is None:
                self._head_began = self.loop.time()
                if self._timer is None:
                    self._arm(self._limits.timeout)
            self._head_read += len(data)
            newline = data.rfind(b"\n")
            if newline < 0:
                self._line += len(data)
            else:
                self._line, self._first_line = len(data) - newline - 1, False
        super().data_received(data)
        if (self._in_head and not self._refusal
                and (self._line > self._line_limit or self._head_read > self._total_limit)
                and not self.transport.is_closing()):  # the limits first: they are plain numbers
            self._refusal = (URI_TOO_LONG if self._line > self._line_limit and self._first_line
                             else HEAD_TOO_LARGE)
        if self._refusal:
            self._refuse(self._refusal)

    # Parser callbacks: a refusal found mid-read stops the request here (no ASGI task), answered after the read.

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._head_size += len(url)
        if len(self.url) > self._line_limit:
            self._refusal = URI_TOO_LONG

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + 4  # ": " and CRLF
        self._head_size += size
        if size > self._line_limit or self._head_size > self._total_limit:
            self._refusal = HEAD_TOO_LARGE
        if self._refusal:
            return
        # uvicorn's own on_header, inlined (it runs for every header of every request): a lower-case name and
        # the value without the trailing whitespace llhttp keeps (RFC 9110 5.5).
        name = name.lower()
        value = value.rstrip(b" \t")
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._refusal:
            return
        self._in_head = False
        self._head_began = None  # the timer stays: when it fires it finds no head in progress (cheaper than a cancel)
        super().on_headers_complete()
        if isinstance(self.cycle, RequestResponseCycle):  # its task has not run yet: it sends through _Cycle
            self.cycle.__class__ = _Cycle

    def on_body(self, body: bytes) -> None:
        if not self._refusal:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refusal:
            return
        super().on_message_complete()
        self._in_head, self._head_read, self._head_size, self._line, self._first_line = True, 0, 0, 0, True

    # The keep-alive deadline: uvicorn arms a timer after every response and cancels it on the next request's
    # first bytes; here it is armed when none is pending and finds out, when it fires, how long the connection
    # has been idle (two timer operations less per request).

    def _unset_keepalive_if_required(self) -> None:
        self._idle_since = None

    def on_response_complete(self) -> None:
        # uvicorn's own, but for the timer.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self._keep_alive_timeout)

    def _keep_alive_timeout(self) -> None:
        self.timeout_keep_alive_task = None
        idle_since = self._idle_since
        if idle_since is None or self.transport.is_closing():
            return  # in use: the next response's end arms it again
        left = idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self._keep_alive_timeout)
        else:
            self.timeout_keep_alive_handler()

    # The head's deadline.

    def _arm(self, delay: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(delay, self._head_timeout)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _head_timeout(self) -> None:
        """The timer is not cancelled when a head completes: it finds no head in progress, or a later one that
        still has time (armed again for what is left)."""
        self._timer = None
        began = self._head_began
        if not self._in_head or began is None or self.transport.is_closing():
            return  # the next head's first byte arms it again
        timeout = self._limits.timeout
        if self.cycle is not None and not self.cycle.response_complete:
            self._head_began = self.loop.time()  # the next head is early (pipelined): its time starts later
            self._arm(timeout)
            return
        left = began + timeout - self.loop.time()
        if left > 0:
            self._arm(left)
            return
        self._refuse(HEAD_TIMEOUT)

    def _refuse(self, status: int) -> None:
        """Answer the head we will not read and close the connection (what is left of it is never parsed)."""
        self._refusal = status
        self._disarm()
        reason = _REASONS[status]
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        security_log.warning("%s from %s: connection closed with %d", reason, client, status)
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a pipelined head: a status now would land inside the response in progress
            return
        body = reason.encode("ascii") + b"\n"
        self.transport.write(b"".join((
            STATUS_LINE[status], b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: ", str(len(body)).encode("ascii"), b"\r\nconnection: close\r\n\r\n", body)))
        self.transport.close()

"""The access log, written the way nginx writes it: one pre-formatted line per request, kept in memory, sent to
stdout or a file by a thread of its own, so a request never waits on the log.

uvicorn's access log goes through Python logging for every request, on the event loop (a record, a formatter, a
locked handler, a system call per line): that halved the throughput of a proxied page. Here a line is one
f-string appended to a buffer; the writer sends the buffer every second or as soon as it holds 64 KB. When the
sink is slower than the traffic (a full pipe, a stalled disk) the buffer stops growing at 1 MiB and further
lines are dropped and counted, and a warning says how many, rather than holding up requests.

What a line holds, and why (Law No. 94-V asks for no more personal data than the purpose needs; the privacy
policy says the site logs the pages requested, the address and software attributes, no more is needed to run
it):
- the client after trusted proxies, truncated as the consent log truncates it (the /24 or /48 network, shown as
  its first address, ``203.0.113.0``; ``-`` when ``ip_truncation`` is off): abuse from a network shows, a
  person does not;
- method, path (as sent, percent-encoded) and protocol, without the query string: queries carry what a site's
  forms send (names, e-mail addresses, searches) and click identifiers (gclid, fbclid, yclid) that single out
  a visitor;
- status, body bytes sent, and the time from the request to the last byte, in seconds;
- the referer's origin only (``https://www.google.com``), not another site's page and its query;
- the user-agent as the consent log's families (``desktop Chrome Linux``, or ``bot``), not the full string,
  which fingerprints.

``combined`` puts these in nginx's combined order with the duration appended, as ``$request_time`` is;
``json`` writes one object per line for log shippers. Each worker process has its own writer; every write call
carries whole lines and at most PIPE_BUF bytes, so the lines of workers sharing a pipe or file never mix.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import re
import select
import threading
import time
from collections.abc import Callable
from typing import Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .trusted import truncate_ip
from .useragent import classify

FORMATS = ("combined", "json")
FLUSH_SECONDS = 1.0
FLUSH_BYTES = 64 * 1024
MAX_BUFFER = 1024 * 1024
WRITE_MAX = select.PIPE_BUF  # a write to a pipe up to this size is never interleaved with another's
MAX_REFERER = 256
_UNSAFE = re.compile(rb'[^\x21-\x7e]|["\\]')  # control bytes, spaces, non-ASCII, quote and backslash
_SAFE = bytes(b for b in range(0x21, 0x7F) if b not in b'"\\')
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

logger = logging.getLogger("gateway.accesslog")


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...
    def reopen_if_moved(self) -> None: ...
    def close(self) -> None: ...


class FileSink:
    """stdout (``path`` empty), or a file opened for appending. Log rotation: when the path names another file
    than the one open (logrotate moved it away and created a new one), the next flush opens the new file;
    copytruncate works too, since every write appends."""

    def __init__(self, path: str = "") -> None:
        self.path = path
        self._fd = self._open() if path else 1
        self._id = self._identity()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def reopen_if_moved(self) -> None:
        if self.path:
            try:
                st = os.stat(self.path)
                moved = (st.st_dev, st.st_ino) != self._id
            except OSError:
                moved = True
            if moved:
                fd, self._fd = self._fd, self._open()
                os.close(fd)
                self._id = self._identity()

    def close(self) -> None:
        if self.path:
            os.close(self._fd)

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def _identity(self) -> tuple[int, int]:
        st = os.fstat(self._fd)
        return st.st_dev, st.st_ino


class LineWriter:
    """Lines appended by the event loop, written by a daemon thread every ``flush_seconds`` or when
    ``flush_bytes`` are waiting; past ``max_bytes`` waiting, lines are dropped and counted in ``dropped``."""

    def __init__(self, sink: Sink, flush_seconds: float = FLUSH_SECONDS, flush_bytes: int = FLUSH_BYTES,
                 max_bytes: int = MAX_BUFFER) -> None:
        self.sink = sink
        self.dropped = 0
        self._flush_seconds, self._flush_bytes, self._max_bytes = flush_seconds, flush_bytes, max_bytes
        self._lines: list[bytes] = []
        self._size = 0
        self._reported = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = self._closed = False
        self._thread: threading.Thread | None = None

    def append(self, line: bytes) -> None:
        with self._lock:
            if self._size + len(line) > self._max_bytes:
                self.dropped += 1
                return
            self._lines.append(line)
            self._size += len(line)
            full = self._size >= self._flush_bytes
        if full and not self._wake.is_set():
            self._wake.set()

    def start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
            self._thread.start()
            atexit.register(self.close)  # a server that stops without its lifespan's shutdown still flushes

    def close(self, timeout: float = 5.0) -> None:
        """Write what is waiting, stop and close the sink (once); a sink blocked past ``timeout`` seconds is given
        up on."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        thread, self._thread = self._thread, None
        if thread is None:
            self._flush()
        else:
            self._closing = True
            self._wake.set()
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("access log: the sink did not take the last lines within %gs", timeout)
                return
        self.sink.close()

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            self._flush()
        self._flush()

    def _flush(self) -> None:
        with self._lock:
            lines, self._lines, self._size = self._lines, [], 0
            overflowed = self.dropped - self._reported  # dropped by a full buffer since the last warning
        self._reported += overflowed
        if overflowed:
            logger.warning("access log: %d lines dropped: the sink is slower than the traffic", overflowed)
        try:
            self.sink.reopen_if_moved()
            chunk: list[bytes] = []
            size = 0
            for line in lines:
                if size + len(line) > WRITE_MAX and chunk:
                    self.sink.write(b"".join(chunk))
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line)
            if chunk:
                self.sink.write(b"".join(chunk))
        except OSError as exc:
            with self._lock:
                self.dropped += len(lines)
            self._reported += len(lines)
            logger.warning("access log: cannot write (%s): %d lines dropped", exc.strerror or exc, len(lines))


class AccessLog:
    """Pure ASGI, outermost: records the status and body bytes of what is sent, and appends one line per HTTP
    request when it ends (an app that fails before answering is logged 500, as the server then answers)."""

    def __init__(self, app: ASGIApp, writer: LineWriter, log_format: str = "combined",
                 ip_truncation: bool = True) -> None:
        if log_format not in FORMATS:
            raise ValueError(f"access log format must be one of {', '.join(FORMATS)} (got {log_format!r})")
        self.app = app
        self.writer = writer
        self._json = log_format == "json"
        self._time = _Clock(self._json)
        self._client: Callable[[str], str | None] = functools.lru_cache(maxsize=4096)(
            _network if ip_truncation else lambda host: None)
        self._agent = functools.lru_cache(maxsize=1024)(_agent)
        self._origin = functools.lru_cache(maxsize=1024)(_origin)
        self._method = functools.lru_cache(maxsize=64)(_method)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        recorder = _Recorder(send)
        try:
            await self.app(scope, receive, recorder.send)
        finally:
            self.writer.append(self._line(scope, recorder.status or 500, recorder.sent, time.perf_counter() - started))

    def _line(self, scope: Scope, status: int, sent: int, duration: float) -> bytes:
        referer = agent = None
        for name, value in scope["headers"]:
            if name == b"referer":
                referer = self._origin(value)
            elif name == b"user-agent":
                agent = self._agent(value)
        client = scope.get("client")
        address = self._client(client[0]) if client else None
        method = self._method(scope["method"])
        path = _clean(scope.get("raw_path") or scope["path"].encode("utf-8"))
        protocol = scope.get("http_version", "1.1")
        stamp = self._time.now()
        if self._json:
            return (f'{{"time":"{stamp}","client":{_quoted(address)},"method":"{method}","path":"{path}",'
                    f'"protocol":"HTTP/{protocol}","status":{status},"bytes":{sent},"duration":{duration:.3f},'
                    f'"referer":{_quoted(referer)},"agent":{_quoted(agent)}}}\n').encode()
        return (f'{address or "-"} - - [{stamp}] "{method} {path} HTTP/{protocol}" {status} {sent} '
                f'"{referer or "-"}" "{agent or "-"}" {duration:.3f}\n').encode()



class _Clock:
    """The current second, formatted once per second (as nginx caches its time): ``01/Dec/2026:23:45:16 +0000``,
    or ISO 8601 for JSON; always UTC."""

    def __init__(self, iso: bool) -> None:
        self._iso = iso
        self._second = -1
        self._stamp = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            t = time.gmtime(second)
            self._stamp = (time.strftime("%Y-%m-%dT%H:%M:%SZ", t) if self._iso else
                           f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{time.strftime('%H:%M:%S', t)} +0000")
            self._second = second
        return self._stamp


class _Recorder:
    """The status and body bytes of one response, seen on their way out."""

    __slots__ = ("_send", "status", "sent")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.sent = 0

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            self.sent += len(message.get("body", b""))
        elif message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


def _network(host: str) -> str | None:
    network = truncate_ip(host)
    return network.partition("/")[0] if network else None


def _agent(header: bytes) -> str:
    agent = classify(header.decode("latin-1"))
    return "bot" if agent.is_bot else f"{agent.device} {agent.browser} {agent.os}"


def _method(method: str) -> str:
    return _clean(method.encode("latin-1"))


def _origin(referer: bytes) -> str | None:
    """``https://host[:port]`` of a Referer, or None when it is not an http(s) URL."""
    scheme, sep, rest = referer.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        return None
    host = rest.split(b"/", 1)[0].split(b"?", 1)[0].split(b"#", 1)[0].rpartition(b"@")[2]
    return _clean(scheme.lower() + b"://" + host[:MAX_REFERER]) if host else None


def _clean(raw: bytes) -> str:
    """Printable ASCII with no quote or backslash, safe inside a combined field and a JSON string: anything else
    is percent-encoded, as a URL would carry it (so a crafted path cannot forge a line)."""
    if raw.translate(None, _SAFE):  # some byte is not in _SAFE (a C loop: cheaper than a regex search)
        raw = _UNSAFE.sub(lambda m: b"%%%02X" % m.group()[0], raw)
    return raw.decode("ascii")


def _quoted(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'

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
carries whole lines and at most PIPE_BUF bytes, so the lines of workers sharing a pipe or file never mix (the
writer: gateway.linewriter).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .headers import request_headers
from .linewriter import LineWriter
from .trusted import truncate_ip
from .useragent import classify

FORMATS = ("combined", "json")
MAX_REFERER = 256
PARTS = 4096  # distinct (client, method, path, protocol, referer, agent, status) whose fixed parts are kept
_UNSAFE = re.compile(rb'[^\x21-\x7e]|["\\]')  # control bytes, spaces, non-ASCII, quote and backslash
_SAFE = bytes(b for b in range(0x21, 0x7F) if b not in b'"\\')
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

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
        self._parts: dict[tuple[object, ...], tuple[str, str, str, str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        recorder = Recorder(send)
        try:
            await self.app(scope, receive, recorder.send)
        finally:
            self.record(scope, recorder.status, recorder.sent, started)

    def record(self, scope: Scope, status: int, sent: int, started: float) -> None:
        """Append the line of a request that began at ``started`` (``time.perf_counter``); no status yet is 500,
        as the server then answers."""
        self.writer.append(self.line(scope, status or 500, sent, time.perf_counter() - started))

    def line(self, scope: Scope, status: int, sent: int, duration: float) -> bytes:
        """One request's line. All but the time, bytes and duration repeats from request to request (a
        visitor's client, agent and referer, the site's paths), so that part is formatted once per distinct
        request and kept: a line is then one lookup and one f-string."""
        headers = request_headers(scope)
        client = scope.get("client")
        key = (client[0] if client else None, scope["method"], scope.get("raw_path") or scope["path"],
               scope.get("http_version", "1.1"), headers.get(b"referer"), headers.get(b"user-agent"), status)
        parts = self._parts.get(key)
        if parts is None:
            if len(self._parts) >= PARTS:
                self._parts.clear()
            parts = self._parts[key] = self._format(*key)
        before, after_time, after_bytes, end = parts
        return f"{before}{self._time.now()}{after_time}{sent}{after_bytes}{duration:.3f}{end}".encode()

    def _format(self, host: str | None, method: str, path: bytes | str, protocol: str, referer: bytes | None,
                agent: bytes | None, status: int) -> tuple[str, str, str, str]:
        """The fixed parts of a line, around the time, the bytes and the duration."""
        address = self._client(host) if host else None
        method = _method(method)
        where = _clean(path if isinstance(path, bytes) else path.encode("utf-8"))
        origin = _origin(referer) if referer is not None else None
        family = _agent(agent) if agent is not None else None
        if self._json:
            return ('{"time":"', f'","client":{_quoted(address)},"method":"{method}","path":"{where}",'
                    f'"protocol":"HTTP/{protocol}","status":{status},"bytes":', ',"duration":',
                    f',"referer":{_quoted(origin)},"agent":{_quoted(family)}}}\n')
        return (f"{address or '-'} - - [", f'] "{method} {where} HTTP/{protocol}" {status} ',
                f' "{origin or "-"}" "{family or "-"}" ', "\n")


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


class Recorder:
    """The status and body bytes of one response, seen on their way out; ``on_start`` (optional) edits the start
    message as it passes (the one-pass pipeline adds compression's Vary here rather than in a wrapper of its own)."""

    __slots__ = ("_send", "on_start", "status", "sent")

    def __init__(self, send: Send, on_start: Callable[[Message], None] | None = None) -> None:
        self._send = send
        self.on_start = on_start
        self.status = 0
        self.sent = 0

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            self.sent += len(message.get("body", b""))
        elif message["type"] == "http.response.start":
            self.status = message["status"]
            if self.on_start is not None:
                self.on_start(message)
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

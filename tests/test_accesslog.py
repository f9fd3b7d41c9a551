"""The access log: what a line holds in each format, what it leaves out, and that writing it never holds up a
request (a blocked sink drops and counts lines), flushes on shutdown, follows rotation, and keeps lines whole."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import logging
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gateway.accesslog import AccessLog
from gateway.app import create_app
from gateway.linewriter import FileSink, LineWriter
from gateway.settings import Settings, SettingsError, load_settings

from .conftest import BROWSER_UA, KEY, SITE
from .test_app import lifespan

FRONT_PROXY = ("127.0.0.1", 40000)  # trusted by default: its X-Forwarded-For names the visitor
VISITOR = "198.51.100.23"
VISITOR_V6 = "2001:db8:85a3:8d3:1319:8a2e:370:7348"
REFERER = "https://user:secret@www.google.com/search?q=Ivan+Petrov+ivan@mail.kz"
# nginx's combined format with $request_time appended.
COMBINED = re.compile(r'(?P<client>\S+) - - \[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
                      r'"(?P<method>\S+) (?P<path>\S+) (?P<protocol>HTTP/[\d.]+)" (?P<status>\d{3}) (?P<bytes>\d+) '
                      r'"(?P<referer>[^"]*)" "(?P<agent>[^"]*)" (?P<duration>\d+\.\d{3})')


class MemorySink:
    """Records every write call; ``gate``, when given, holds each write until it is set (a stalled disk)."""

    def __init__(self, gate: threading.Event | None = None, fail: int = 0) -> None:
        self.writes: list[bytes] = []
        self.gate = gate
        self.fail = fail  # how many writes fail with ENOSPC first
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.gate is not None:
            self.gate.wait()
        if self.fail:
            self.fail -= 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.writes.append(data)

    def reopen_if_moved(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    @property
    def lines(self) -> list[str]:
        return b"".join(self.writes).decode().splitlines()


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello", "more_body": True})
    await send({"type": "http.response.body", "body": b" world"})


def client_for(app: Any, client: tuple[str, int] = FRONT_PROXY) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=client), base_url=SITE,
                             headers={"user-agent": BROWSER_UA})


async def gateway_lines(settings: Settings, *requests: tuple[str, dict[str, str]], **overrides: Any) -> list[str]:
    """The access log file of the whole gateway after ``requests`` (path, headers) and its shutdown."""
    path = settings.data_dir / "access.log"
    path.unlink(missing_ok=True)
    app = create_app(dataclasses.replace(settings, access_log_path=str(path), **overrides))
    async with client_for(app) as client, lifespan(app):
        for url, headers in requests:
            await client.get(url, headers=headers)
    return path.read_text().splitlines()


async def test_a_combined_line_is_nginx_s_minus_what_singles_out_a_visitor(settings: Settings) -> None:
    """The visitor's network (after the trusted proxy), the path without its query, the referer's origin and the
    user-agent's families: the privacy policy's "pages requested, address, software", minimised."""
    lines = await gateway_lines(settings, ("/?gclid=abc123&email=ivan@mail.kz",
                                           {"x-forwarded-for": VISITOR, "referer": REFERER}))
    assert len(lines) == 1
    found = COMBINED.fullmatch(lines[0])
    assert found is not None, lines[0]
    body = f"Consent gateway. Embed: <script src=\"{settings.prefix}/banner.js\" defer></script>"
    assert found.group("client", "method", "path", "protocol", "status", "bytes", "referer", "agent") == (
        "198.51.100.0", "GET", "/", "HTTP/1.1", "200", str(len(body)), "https://www.google.com",
        "desktop Chrome Windows")
    for secret in ("gclid", "abc123", "ivan", "Petrov", "secret", "user"):
        assert secret not in lines[0].partition("]")[2], secret


async def test_a_json_line_is_one_object_with_the_same_fields(settings: Settings) -> None:
    lines = await gateway_lines(settings, ("/nowhere?q=1", {"x-forwarded-for": VISITOR_V6}),
                                ("/", {"user-agent": "curl/8.4.0", "referer": "android-app://com.example"}),
                                access_log_format="json")
    first, second = (json.loads(line) for line in lines)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first.pop("time"))
    assert 0 <= first.pop("duration") < 5
    assert first == {"client": "2001:db8:85a3::", "method": "GET", "path": "/nowhere", "protocol": "HTTP/1.1",
                     "status": 404, "bytes": len("Not Found"), "referer": None, "agent": "desktop Chrome Windows"}
    assert (second["client"], second["status"], second["referer"], second["agent"]) == ("127.0.0.0", 200, None, "bot")


async def test_without_ip_truncation_no_address_is_logged_at_all(settings: Settings) -> None:
    """``ip_truncation = false`` keeps no address in the consent log; the access log follows it."""
    lines = await gateway_lines(settings, ("/", {"x-forwarded-for": VISITOR}), ip_truncation=False)
    assert lines[0].startswith("- - - [")
    (line,) = await gateway_lines(settings, ("/", {"x-forwarded-for": VISITOR}), ip_truncation=False,
                                  access_log_format="json")
    assert json.loads(line)["client"] is None


async def test_a_rejected_host_is_logged_too(settings: Settings) -> None:
    """The log sits outside every other layer: the 400 for a host the gateway does not serve is in it."""
    (line,) = await gateway_lines(settings, ("/", {"host": "evil.example"}))
    assert COMBINED.fullmatch(line) and COMBINED.fullmatch(line).group("status") == "400"  # type: ignore[union-attr]


async def test_an_app_that_fails_before_answering_is_logged_500() -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    sink = MemorySink()
    writer = LineWriter(sink)
    with pytest.raises(RuntimeError):
        await AccessLog(broken, writer)({"type": "http", "method": "GET", "path": "/x", "headers": []},
                                        _receive, _discard)
    writer.close()
    assert '"GET /x HTTP/1.1" 500 0 "-" "-"' in sink.lines[0]


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.binary(max_size=40), method=st.text(st.characters(max_codepoint=255), min_size=1, max_size=8), referer=st.binary(max_size=40),
       agent=st.binary(max_size=40))
def test_no_request_can_break_a_line_or_its_json(path: bytes, method: str, referer: bytes, agent: bytes) -> None:
    """Whatever bytes a request carries (quotes, newlines, backslashes, non-ASCII), each format keeps one whole
    line of the expected shape: a crafted path cannot forge a line."""
    scope = {"type": "http", "method": method, "path": "/", "raw_path": b"/" + path, "http_version": "1.1",
             "client": ("203.0.113.7", 1), "headers": [(b"referer", b"https://" + referer), (b"user-agent", agent)]}
    for fmt in ("combined", "json"):
        sink = MemorySink()
        writer = LineWriter(sink)
        asyncio.run(AccessLog(ok_app, writer, fmt)(scope, _receive, _discard))
        writer.close()
        (line,) = sink.lines
        assert b"".join(sink.writes) == line.encode() + b"\n"
        if fmt == "json":
            assert json.loads(line)["status"] == 200 and json.loads(line)["bytes"] == 11
        else:
            assert COMBINED.fullmatch(line), line


async def test_a_blocked_sink_delays_no_response_and_drops_counted_lines(caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()  # the disk stalls until the end of the test
    sink = MemorySink(gate)
    writer = LineWriter(sink, flush_seconds=0.01, flush_bytes=512, max_bytes=2048)
    app = AccessLog(ok_app, writer)
    writer.start()
    try:
        async with client_for(app) as client:
            started = time.monotonic()
            for _ in range(300):  # 300 lines, ~40 KB: far more than the 2 KB the buffer may hold
                r = await asyncio.wait_for(client.get("/page.html"), 2)
                assert r.status_code == 200 and r.text == "hello world"
            elapsed = time.monotonic() - started
    finally:
        gate.set()
        with caplog.at_level(logging.WARNING, "gateway.accesslog"):
            writer.close()
    assert elapsed < 3, elapsed  # nothing waited for the sink
    assert writer.dropped > 0 and len(sink.lines) + writer.dropped == 300
    assert f"{writer.dropped} lines dropped" in caplog.text


async def test_shutdown_flushes_the_last_lines_before_the_writer_s_second_is_up(settings: Settings) -> None:
    """``gateway_lines`` reads the file right after the lifespan's shutdown, well within the flush interval."""
    started = time.monotonic()
    lines = await gateway_lines(settings, *[("/", {})] * 20)
    assert time.monotonic() - started < 1 and len(lines) == 20


def test_each_write_carries_whole_lines_and_at_most_pipe_buf_bytes() -> None:
    """What keeps the lines of several workers sharing one pipe from mixing."""
    sink = MemorySink()
    writer = LineWriter(sink)
    lines = [f"line {i} ".encode() + b"x" * (i % 300) + b"\n" for i in range(2000)]
    for line in lines:
        writer.append(line)
    writer.close()
    assert len(sink.writes) > 1 and b"".join(sink.writes) == b"".join(lines)
    assert all(w.endswith(b"\n") and len(w) <= select.PIPE_BUF for w in sink.writes)


def test_a_sink_that_fails_counts_the_lines_and_the_writer_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    sink = MemorySink(fail=1)
    writer = LineWriter(sink, flush_seconds=0.01)
    with caplog.at_level(logging.WARNING, "gateway.accesslog"):
        writer.start()
        writer.append(b"lost\n")
        _wait_for(lambda: writer.dropped == 1)
        writer.append(b"kept\n")
        writer.close()
    assert sink.lines == ["kept"] and sink.closed
    assert "cannot write (No space left on device): 1 lines dropped" in caplog.text and writer.dropped == 1


def test_a_rotated_file_is_followed_and_the_moved_one_keeps_its_lines(tmp_path: Path) -> None:
    """logrotate's default: the file is renamed and a new one is to be created; the next flush does."""
    path = tmp_path / "access.log"
    writer = LineWriter(FileSink(str(path)), flush_seconds=0.01)
    writer.start()
    writer.append(b"before\n")
    _wait_for(lambda: path.exists() and path.read_bytes() == b"before\n")
    path.rename(tmp_path / "access.log.1")
    writer.append(b"after\n")
    _wait_for(lambda: path.exists() and path.read_bytes() == b"after\n")
    writer.close()
    assert (tmp_path / "access.log.1").read_bytes() == b"before\n" and path.read_bytes() == b"after\n"


@pytest.mark.parametrize(("env", "message"), [
    ({"GATEWAY_ACCESS_LOG_FORMAT": "apache"},
     "GATEWAY_ACCESS_LOG_FORMAT: access_log_format: must be one of combined, json (got 'apache')"),
    ({"GATEWAY_ACCESS_LOG_PATH": "/no/such/folder/access.log"},
     "GATEWAY_ACCESS_LOG_PATH: access_log_path: /no/such/folder/access.log: folder /no/such/folder does not exist "
     "(empty: stdout)"),
    ({"GATEWAY_ACCESS_LOG_PATH": "/tmp"}, "GATEWAY_ACCESS_LOG_PATH: access_log_path: /tmp: is a folder (empty: stdout)"),
    ({"GATEWAY_ACCESS_LOG": "sometimes"}, "GATEWAY_ACCESS_LOG: access_log: expected true or false (got 'sometimes')"),
])
def test_bad_access_log_settings_are_one_readable_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env=env)
    assert str(caught.value) == message


def test_serve_with_a_log_path_it_cannot_write_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "access.log").mkdir()  # made a folder after the settings check, as a race would
    env = {**os.environ, "GATEWAY_SECRET_KEYS": KEY}
    proc = subprocess.run([sys.executable, "-m", "gateway", "serve", "--data-dir", str(tmp_path),
                           "--set", f"access_log_path={tmp_path / 'access.log'}"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "access_log_path" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.fixture
def two_workers_logging(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    port = _free_port()
    log = tmp_path / "access.log"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}, "GATEWAY_SECRET_KEYS": KEY}
    out = (tmp_path / "serve.out").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--workers", "2", "--port", str(port),
                             "--data-dir", str(tmp_path), "--set", f"access_log_path={log}"],
                            env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while (tmp_path / "serve.out").read_text().count("Application startup complete") < 2:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.out").read_text()
            time.sleep(0.2)
        yield port, proc, log
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        out.close()


def test_two_workers_write_every_request_as_a_whole_line_and_flush_when_stopped(two_workers_logging) -> None:
    port, proc, log = two_workers_logging
    requests = 200

    def fetch(i: int) -> int:
        return httpx.get(f"http://127.0.0.1:{port}/?n={i}", headers={"user-agent": BROWSER_UA}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(fetch, range(requests))) == {200}
    os.killpg(proc.pid, signal.SIGTERM)  # within the flush interval: the lines still waiting go out on shutdown
    proc.wait(30)
    lines = log.read_text().splitlines()
    assert len(lines) == requests
    assert all(COMBINED.fullmatch(line) and '"GET / HTTP/1.1" 200 ' in line for line in lines)


def _wait_for(condition: Any, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _discard(message: Any) -> None:
    pass

"""`consent-gateway serve --workers 2`: two processes, one consent log, one set of metrics.

Which worker answers is the kernel's choice, so the test finds out instead of hoping: it opens keep-alive
connections until both workers hold one, telling them apart by the inode of the accepted socket (the server end
of the connection in ``/proc/net/tcp``, and the worker whose ``/proc/<pid>/fd`` links to it). Every request then
checks that its connection is still the one that worker accepted.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import KEY, SITE

TOKEN = "admin-" + "t" * 30
COOKIE = "wgp_consent"
STARTUP_SECONDS = 30
FIND_SECONDS = 20  # to see both workers accept a connection
MAX_CONNECTIONS = 200
# Decisions per worker, unequal so that one worker's own count can never pass for the sum.
ACCEPTS_VIA = {0: 3, 1: 2}
TOTAL_ACCEPTS = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _workers(pid: int) -> list[int]:
    """Child processes serving requests (not multiprocessing's resource tracker)."""
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


def _hex_endpoint(port: int) -> str:
    return f"0100007F:{port:04X}"  # 127.0.0.1 as /proc/net/tcp writes it (little-endian address, hex port)


def _server_socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server end of the connection 127.0.0.1:client_port -> 127.0.0.1:server_port."""
    local, remote = _hex_endpoint(server_port), _hex_endpoint(client_port)
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return fields[9]
    return None


def _accepted_by(server_port: int, conn: http.client.HTTPConnection, workers: list[int]) -> int | None:
    """The worker holding the server end of this client connection, if it is still open."""
    assert conn.sock is not None
    inode = _server_socket_inode(server_port, conn.sock.getsockname()[1])
    if inode is None:
        return None
    link = f"socket:[{inode}]"
    for pid in workers:
        fds = Path(f"/proc/{pid}/fd")
        for fd in fds.iterdir():
            try:
                if os.readlink(fd) == link:
                    return pid
            except FileNotFoundError:  # an fd closed while we looked
                continue
    return None


class Worker:
    """One keep-alive connection known to be served by ``pid``; every request re-checks that it still is."""

    def __init__(self, port: int, pid: int, conn: http.client.HTTPConnection, workers: list[int]) -> None:
        self.port, self.pid, self.conn, self.workers = port, pid, conn, workers

    def request(self, method: str, path: str, body: object = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, list[str]], bytes]:
        data = None if body is None else json.dumps(body).encode()
        all_headers = {"Origin": SITE, **({"Content-Type": "application/json"} if data else {}), **(headers or {})}
        self.conn.request(method, path, body=data, headers=all_headers)
        response = self.conn.getresponse()
        content = response.read()
        assert _accepted_by(self.port, self.conn, self.workers) == self.pid, "the connection moved to another worker"
        found: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            found.setdefault(name.lower(), []).append(value)
        return response.status, found, content


def _find_both_workers(port: int, workers: list[int]) -> Iterator[Worker]:
    """Open connections until each worker has accepted one; close the rest."""
    found: dict[int, Worker] = {}
    spare: list[http.client.HTTPConnection] = []
    deadline = time.monotonic() + FIND_SECONDS
    try:
        for _ in range(MAX_CONNECTIONS):
            if len(found) == len(workers) or time.monotonic() > deadline:
                break
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/_consent/state")
            assert conn.getresponse().read()
            pid = _accepted_by(port, conn, workers)
            if pid is not None and pid not in found:
                found[pid] = Worker(port, pid, conn, workers)
            else:
                spare.append(conn)
    finally:
        for conn in spare:
            conn.close()
    assert sorted(found) == sorted(workers), f"only {sorted(found)} of workers {workers} accepted a connection"
    return iter(found.values())


def _serve_two(tmp_path: Path, secrets: dict[str, str]) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}, **secrets}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--workers", "2", "--port", str(port),
                                 "--data-dir", str(tmp_path), "--set", "access_log=false"],
                                env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while log.read_text().count("Application startup complete") < 2:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve --workers 2 did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield port, proc, tmp_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the supervisor and its workers
        proc.wait(20)


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    yield from _serve_two(tmp_path, {"GATEWAY_SECRET_KEYS": KEY, "GATEWAY_ADMIN_TOKEN": TOKEN})


@pytest.fixture
def two_workers_secrets_in_files(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    (tmp_path / "keys").write_text(KEY + "\n")
    (tmp_path / "token").write_text(TOKEN + "\n")
    yield from _serve_two(tmp_path, {"GATEWAY_SECRET_KEYS_FILE": str(tmp_path / "keys"),
                                     "GATEWAY_ADMIN_TOKEN_FILE": str(tmp_path / "token")})


def test_no_secret_is_written_into_any_process_environment(two_workers_secrets_in_files) -> None:
    """Each worker reads the keys and the token from the files the supervisor read; none is handed down."""
    port, proc, data_dir = two_workers_secrets_in_files
    workers = _workers(proc.pid)
    for pid in (proc.pid, *workers):
        for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
            value = entry.partition(b"=")[2]
            try:  # a secret base64-encoded (a pickle handed down, say) is still there
                decoded = base64.b64decode(value, validate=True)
            except ValueError:
                decoded = b""
            for text in (value, decoded):
                assert KEY.encode() not in text and TOKEN.encode() not in text, (pid, entry[:40])
    first, second = _find_both_workers(port, workers)
    try:
        status, headers, body = first.request("PUT", "/_consent/state", {"action": "reject_all"})
        assert status == 200, body  # each worker signs with the key it read itself...
        status, _, body = second.request("GET", "/_consent/state", headers={"Cookie": _consent_cookie(headers)})
        assert json.loads(body)["decided"] is True  # ...and the other one verifies it
        status, _, _ = second.request("GET", "/_consent/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
    finally:
        first.conn.close()
        second.conn.close()
    log = (data_dir / "serve.log").read_text()
    assert KEY not in log and TOKEN not in log


def _consent_cookie(headers: dict[str, list[str]]) -> str:
    return next(c.split(";")[0] for c in headers["set-cookie"] if c.startswith(f"{COOKIE}="))


def _decisions_total(metrics: bytes, action: str) -> float:
    prefix = f'consent_decisions_total{{action="{action}"}} '
    return float(next(x for x in metrics.decode().splitlines() if x.startswith(prefix)).split()[-1])


def test_two_workers_answer_and_share_one_log_and_one_set_of_counters(two_workers) -> None:
    port, proc, data_dir = two_workers
    workers = _workers(proc.pid)
    assert len(workers) == 2
    first, second = _find_both_workers(port, workers)
    assert first.pid != second.pid

    # A decision recorded by one worker is in the receipt the other one serves, both ways.
    for giver, reader in ((first, second), (second, first)):
        status, headers, body = giver.request("PUT", "/_consent/state", {"categories": {"analytics": True}})
        assert status == 200, body
        consent_id = json.loads(body)["consent_id"]
        status, _, body = reader.request("GET", "/_consent/receipt", headers={"Cookie": _consent_cookie(headers)})
        assert status == 200, body
        receipt = json.loads(body)
        assert receipt["consent_id"] == consent_id and [r["action"] for r in receipt["records"]] == ["custom"]

    for index, worker in enumerate((first, second)):
        for _ in range(ACCEPTS_VIA[index]):
            status, _, body = worker.request("PUT", "/_consent/state", {"action": "accept_all"})
            assert status == 200, body

    # Every worker reports the counts of both.
    for worker in (first, second):
        status, _, metrics = worker.request("GET", "/_consent/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        assert (_decisions_total(metrics, "accept_all"), _decisions_total(metrics, "custom")) == (TOTAL_ACCEPTS, 2)

    log = sqlite3.connect(data_dir / "consent.sqlite3")
    assert log.execute("SELECT action, count(*) FROM consent_log GROUP BY action ORDER BY action").fetchall() == [
        ("accept_all", TOTAL_ACCEPTS), ("custom", 2)]
    first.conn.close()
    second.conn.close()

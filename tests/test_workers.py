"""`consent-gateway serve --workers 2`: two processes, one consent log, one set of metrics."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import KEY

TOKEN = "admin-" + "t" * 30
DECISIONS = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _workers(pid: int) -> list[int]:
    """Child processes serving requests (not multiprocessing's resource tracker)."""
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


@pytest.fixture
def two_workers(tmp_path: Path):
    port = _free_port()
    env = {**os.environ, "GATEWAY_SECRET_KEYS": KEY, "GATEWAY_ADMIN_TOKEN": TOKEN}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--workers", "2", "--port", str(port),
                                 "--data-dir", str(tmp_path), "--set", "access_log=false"],
                                env=env, stdout=out, stderr=out, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while log.read_text().count("Application startup complete") < 2:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve --workers 2 did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield base, proc, tmp_path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the supervisor and its workers
        proc.wait(20)


def test_decisions_from_every_worker_land_in_one_log_and_one_metric(two_workers) -> None:
    base, proc, data_dir = two_workers
    for _ in range(DECISIONS):  # a new connection each time, so the kernel hands them to either worker
        with httpx.Client(base_url=base, headers={"Connection": "close"}) as client:
            r = client.put("/_consent/state", json={"action": "accept_all"}, headers={"Origin": "https://wgp.kz"})
            assert r.status_code == 200, r.text
    rows = sqlite3.connect(data_dir / "consent.sqlite3").execute("SELECT count(*) FROM consent_log").fetchone()[0]
    assert rows == DECISIONS
    for _ in range(6):
        with httpx.Client(base_url=base, headers={"Connection": "close"}) as client:
            metrics = client.get("/_consent/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
        line = next(x for x in metrics.splitlines() if x.startswith('consent_decisions_total{action="accept_all"}'))
        assert float(line.split()[-1]) == DECISIONS  # the sum over workers, whichever one answers
    assert len(_workers(proc.pid)) == 2

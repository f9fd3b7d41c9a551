"""Two `consent-gateway serve` processes on one PostgreSQL database: one legal record whichever instance answered.

Real processes on free loopback ports, the same signing key, one fresh schema of the test database
(GATEWAY_TEST_POSTGRES_URL; with CI=true a missing database fails). Decisions are spread over both instances
concurrently; each visitor's receipt is then read from the *other* instance (its log rows, not the cookie's echo)
and the summary from either instance must count exactly what was sent. One instance is killed with SIGKILL while
writes are in flight: none of what it acknowledged (200 and a cookie) may be missing. A withdrawal on one instance
must be refused on the other within the revocation refresh interval.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from tests.store.conftest import postgres_schema

REPO = Path(__file__).resolve().parents[1]
KEY = "instances-test-signing-key-" + "k" * 32
TOKEN = "instances-test-admin-token-" + "t" * 32
COOKIE = "wgp_consent"
ZONE = ZoneInfo("Asia/Almaty")  # the shipped config's timezone: the summary's days are local days
REFRESH = 2  # revocation_refresh_seconds of both instances
START_TIMEOUT = 30.0
VISITORS = 2000  # decisions spread over both instances
KILLED_BATCH = 1200  # decisions sent to the instance that is killed mid-run
KILL_AFTER = 300  # ... once it has acknowledged this many
SURVIVOR_BATCH = 400  # decisions sent to the other one meanwhile
CONCURRENCY = 48  # requests in flight per instance
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
      "Safari/537.36")
OPTIONAL = ("preferences", "analytics", "marketing")
ALL = ("necessary", *OPTIONAL)
# Every visitor comes from 127.0.0.1, one client network: the per-network write limit would take them for one
# flooding client (tests/test_api.py tests the limits), so these instances run without it.
LOOPBACK_VISITORS = ["--set", "rate_limit_writes=0", "--set", "rate_limit_reports=0"]


@dataclass(frozen=True)
class Choice:
    """What one visitor sent: the PUT body, and the action and categories the log must then hold."""

    body: dict[str, Any]
    action: str
    granted: frozenset[str]


def choices(n: int, seed: int) -> list[Choice]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.choice(("accept_all", "reject_all", "custom"))
        if kind == "accept_all":
            out.append(Choice({"action": kind}, kind, frozenset(ALL)))
        elif kind == "reject_all":
            out.append(Choice({"action": kind}, kind, frozenset({"necessary"})))
        else:
            picked = {c: rng.random() < 0.5 for c in OPTIONAL}
            picked[rng.choice(OPTIONAL)] = True  # at least one on and...
            if all(picked.values()):
                picked[rng.choice(OPTIONAL)] = False  # ...one off, so it is a custom choice, not accept_all
            out.append(Choice({"categories": picked}, "custom",
                              frozenset({"necessary", *(c for c, on in picked.items() if on)})))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Instance:
    """One `consent-gateway serve` process and its log file."""

    def __init__(self, name: str, database: str, tmp: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env |= {"GATEWAY_SECRET_KEYS": KEY, "GATEWAY_ADMIN_TOKEN": TOKEN, "GATEWAY_DATABASE": database}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data-dir", str(tmp / name), "--set", f"revocation_refresh_seconds={REFRESH}",
                 *LOOPBACK_VISITORS],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                async with session.get(f"{self.url}/_consent/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        pytest.fail(f"{self.name} did not become ready within {START_TIMEOUT} s:\n{self.output()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@contextmanager
def instances(database: str, tmp: Path, *names: str) -> Iterator[list[Instance]]:
    started: list[Instance] = []
    try:
        for name in names:
            started.append(Instance(name, database, tmp))
        yield started
    finally:
        for inst in started:
            inst.stop()


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with postgres_schema() as url:
        yield url


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    # No cookie jar: each request carries its own visitor's cookie, or none.
    connector = aiohttp.TCPConnector(limit=4 * CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=30)) as s:
        yield s


async def decide(session: aiohttp.ClientSession, inst: Instance, choice: Choice) -> str | None:
    """PUT a choice as a new visitor; the consent cookie if the instance acknowledged it (200 and a cookie)."""
    try:
        async with session.put(f"{inst.url}/_consent/state", json=choice.body, headers={"User-Agent": UA}) as r:
            await r.read()
            morsel = r.cookies.get(COOKIE)
            return morsel.value if r.status == 200 and morsel is not None and morsel.value else None
    except (TimeoutError, aiohttp.ClientError):
        return None


async def spread(session: aiohttp.ClientSession, inst: Instance, batch: list[Choice],
                 on_ack: Callable[[int], None] = lambda n: None) -> list[str | None]:
    """Send ``batch`` to ``inst`` with CONCURRENCY requests in flight; the cookies, None where not acknowledged."""
    out: list[str | None] = [None] * len(batch)
    todo = iter(range(len(batch)))
    acked = 0

    async def worker() -> None:
        nonlocal acked
        for i in todo:
            out[i] = await decide(session, inst, batch[i])
            if out[i] is not None:
                acked += 1
                on_ack(acked)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return out


async def get_json(session: aiohttp.ClientSession, url: str, cookie: str | None = None,
                   token: bool = False) -> tuple[int, Any]:
    headers = {"User-Agent": UA}
    if cookie:
        headers["Cookie"] = f"{COOKIE}={cookie}"
    if token:
        headers["Authorization"] = f"Bearer {TOKEN}"
    async with session.get(url, headers=headers) as r:
        return r.status, await r.json()


async def receipts(session: aiohttp.ClientSession, inst: Instance, cookies: list[str]) -> list[list[dict[str, Any]]]:
    """Each cookie's receipt records as ``inst`` reads them from the shared log."""
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(cookie: str) -> list[dict[str, Any]]:
        async with sem:
            status, body = await get_json(session, f"{inst.url}/_consent/receipt", cookie)
            assert status == 200, body
            return list(body["records"])

    return await asyncio.gather(*(one(c) for c in cookies))


def logged(records: list[dict[str, Any]]) -> list[tuple[str, frozenset[str]]]:
    return [(r["action"], frozenset(c for c, on in r["categories"].items() if on)) for r in records]


async def summary_totals(session: aiohttp.ClientSession, inst: Instance, first: str) -> dict[str, int]:
    today = datetime.now(ZONE).date().isoformat()
    status, body = await get_json(session, f"{inst.url}/_consent/admin/api/summary?from={first}&to={today}",
                                  token=True)
    assert status == 200, body
    return dict(body["totals"])


def expected_totals(sent: list[Choice]) -> dict[str, int]:
    counts = Counter(c.action for c in sent)
    return {"accept_all": counts["accept_all"], "reject_all": counts["reject_all"], "custom": counts["custom"],
            "decisions": len(sent), "withdraw": 0, "erase": 0, "shown": 0}


async def until_refused(session: aiohttp.ClientSession, inst: Instance, cookie: str, within: float) -> float:
    """Seconds until ``inst`` reads ``cookie`` as "no consent yet", failing after ``within``."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        status, body = await get_json(session, f"{inst.url}/_consent/state", cookie)
        assert status == 200, body
        if body["decided"] is False:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    pytest.fail(f"{inst.name} still honours a cookie withdrawn elsewhere after {within} s")


async def test_two_instances_keep_one_record(database: str, session: aiohttp.ClientSession,
                                             tmp_path: Path) -> None:
    first_day = (datetime.now(ZONE) - timedelta(minutes=5)).date().isoformat()
    with instances(database, tmp_path, "a", "b") as (a, b):
        await asyncio.gather(a.ready(session), b.ready(session))

        # 1. Decisions spread over both instances at once; each receipt read from the other instance.
        sent = choices(VISITORS, seed=13)
        halves = sent[0::2], sent[1::2]
        got_a, got_b = await asyncio.gather(spread(session, a, halves[0]), spread(session, b, halves[1]))
        assert None not in got_a and None not in got_b, "a decision was refused with both instances healthy"
        from_b = await receipts(session, b, [c for c in got_a if c])
        from_a = await receipts(session, a, [c for c in got_b if c])
        for batch, read in ((halves[0], from_b), (halves[1], from_a)):
            assert [logged(records) for records in read] == [[(c.action, c.granted)] for c in batch]
        for inst in (a, b):
            assert await summary_totals(session, inst, first_day) == expected_totals(sent)

        # 2. SIGKILL one instance while writes are in flight on both; what it acknowledged is in the log.
        doomed, survivor = choices(KILLED_BATCH, seed=14), choices(SURVIVOR_BATCH, seed=15)

        def kill_at(acked: int) -> None:
            if acked == KILL_AFTER and a.proc.poll() is None:
                a.proc.send_signal(signal.SIGKILL)

        got_killed, got_survivor = await asyncio.gather(spread(session, a, doomed, kill_at),
                                                        spread(session, b, survivor))
        a.proc.wait(10)
        assert a.proc.returncode == -signal.SIGKILL
        acked = [(c, cookie) for c, cookie in zip(doomed, got_killed) if cookie]
        assert KILL_AFTER <= len(acked) < len(doomed), "the kill did not land mid-run"
        assert None not in got_survivor, "the surviving instance refused writes while the other one died"
        read = await receipts(session, b, [cookie for _, cookie in acked])
        assert [logged(records) for records in read] == [[(c.action, c.granted)] for c, _ in acked]
        totals = await summary_totals(session, b, first_day)
        # Acknowledged writes are all there; a write committed just before the kill, not yet answered, may be too.
        floor = expected_totals(sent + survivor + [c for c, _ in acked])
        ceiling = expected_totals(sent + survivor + doomed)
        for name, value in totals.items():
            assert floor[name] <= value <= ceiling[name], (name, value)

        # 3. A withdrawal on one instance is refused on the other within the refresh interval (both directions).
        with instances(database, tmp_path, "a2") as (a2,):
            await a2.ready(session)
            for here, there, cookie in ((b, a2, got_a[0]), (a2, b, got_b[0])):
                assert cookie is not None
                status, body = await get_json(session, f"{there.url}/_consent/state", cookie)
                assert status == 200 and body["decided"] is True
                async with session.delete(f"{here.url}/_consent/state", headers={
                        "User-Agent": UA, "Cookie": f"{COOKIE}={cookie}"}) as r:
                    assert r.status == 200, await r.text()
                await until_refused(session, here, cookie, within=0.5)  # at once where it was withdrawn
                await until_refused(session, there, cookie, within=REFRESH + 1.5)
            withdrawn = await summary_totals(session, a2, first_day)
            assert withdrawn["withdraw"] == 2

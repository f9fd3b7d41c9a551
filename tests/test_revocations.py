"""Withdrawal enforced on the server: a cookie replayed after DELETE /state or erase counts as "no consent yet" in
this process at once, in every other process within the refresh interval, and in a process started later."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.consent import ConsentState
from gateway.metrics import Metrics
from gateway.revocations import CLOCK_SKEW, RevocationRefresher, Revocations
from gateway.settings import Settings
from gateway.signing import CookieSigner
from gateway.visitor import VisitorReader

from .conftest import BROWSER_UA, KEY, SITE
from .test_server import STARTUP_SECONDS, TOKEN, _consent_cookie, _find_both_workers, _free_port, _workers

JSON = {"content-type": "application/json", "origin": SITE}
COOKIE = "wgp_consent"
GTM = "https://www.googletagmanager.com/gtm.js?id=GTM-X"
PAGE = f"<!doctype html><html lang=ru><head><title>t</title><script async src={GTM}></script></head><body></body></html>"
LOADED = f"<script async src={GTM}></script>"
BLOCKED = f'<script type="text/plain" data-consent-category="analytics" async data-consent-src={GTM}></script>'
T0 = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
KEEP = timedelta(days=180)


# -- Revocations: the in-memory set -----------------------------------------------------------------------------


class Clock:
    def __init__(self, at: datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now


def test_a_revoked_id_refuses_cookies_decided_before_the_revocation_only() -> None:
    revoked = Revocations(KEEP, Clock(T0))
    revoked.add("c1", T0)
    assert revoked.revokes("c1", T0 - timedelta(days=3))
    assert revoked.revokes("c1", T0)  # the same second
    assert revoked.revokes("c1", None)  # a state kept only for its id
    assert not revoked.revokes("c1", T0 + timedelta(seconds=CLOCK_SKEW + 1))  # decided after it
    assert not revoked.revokes("c2", T0 - timedelta(days=3))
    assert len(revoked) == 1


def test_the_latest_revocation_of_an_id_wins() -> None:
    revoked = Revocations(KEEP, Clock(T0))
    revoked.add("c1", T0 + timedelta(hours=1))
    revoked.add("c1", T0)  # an older one arriving late does not move it back
    assert revoked.revokes("c1", T0 + timedelta(minutes=30))


def test_revocations_are_forgotten_once_every_cookie_they_refuse_has_expired() -> None:
    clock = Clock(T0)
    revoked = Revocations(KEEP, clock)
    revoked.update([("old", T0 - timedelta(days=10)), ("new", T0)])
    revoked.add("older-than-keep", T0 - KEEP - timedelta(seconds=1))  # already past: not kept
    assert len(revoked) == 2
    clock.now = (T0 + KEEP - timedelta(days=10)).timestamp()
    assert revoked.prune() == 1
    assert not revoked.revokes("old", T0 - timedelta(days=20)) and revoked.revokes("new", T0)
    revoked.add("new", T0 + timedelta(days=1))  # a later revocation keeps the id past the first one's expiry
    clock.now = (T0 + KEEP + timedelta(hours=1)).timestamp()
    assert revoked.prune() == 0 and revoked.revokes("new", T0)
    clock.now = (T0 + KEEP + timedelta(days=1)).timestamp()
    assert revoked.prune() == 1 and len(revoked) == 0


def test_the_reader_refuses_a_revoked_cookie_even_from_its_caches(settings: Settings) -> None:
    signer = CookieSigner((KEY,), settings.validity_seconds)
    revoked = Revocations(KEEP)
    reader = VisitorReader(settings, signer, Metrics(), revoked)
    decided = datetime.now(UTC).replace(microsecond=0)
    value = signer.dumps(ConsentState(consent_id="c1", decided=True, action="accept_all",
                                      granted=frozenset({"necessary", "analytics"}),
                                      policy_version=settings.policy_version, decided_at=decided))
    header = f"{COOKIE}={value}"
    for _ in range(2):  # the second time from the caches
        assert reader.read(header, None).decided and reader.read_raw(header.encode(), None).decided
    revoked.add("c1", decided + timedelta(seconds=1))
    for gpc in (None, "1"):
        state = reader.read(header, gpc)
        assert reader.read_raw(header.encode(), None if gpc is None else gpc.encode()) == state
        assert (state.decided, state.consent_id, state.gpc) == (False, None, gpc == "1")


# -- RevocationRefresher: the store polled -----------------------------------------------------------------------


async def test_the_refresher_loads_at_start_then_polls_with_an_overlap() -> None:
    asked: list[datetime] = []
    answer: list[tuple[str, datetime]] = [("c1", datetime.now(UTC))]

    async def fetch(since: datetime) -> list[tuple[str, datetime]]:
        asked.append(since)
        return list(answer)

    revoked = Revocations(KEEP)
    refresher = RevocationRefresher(revoked, fetch, 0.02, KEEP)
    started = datetime.now(UTC)
    await refresher.start()
    try:
        assert revoked.revokes("c1", None)  # loaded before the first request
        assert abs((started - KEEP) - asked[0]) < timedelta(seconds=5)
        answer.append(("c2", datetime.now(UTC)))
        async with asyncio.timeout(5):
            while not revoked.revokes("c2", None):
                await asyncio.sleep(0.01)
        assert asked[-1] < datetime.now(UTC) - timedelta(seconds=30)  # reaches back behind the previous poll
    finally:
        await refresher.stop()
    polls = len(asked)
    await asyncio.sleep(0.05)
    assert len(asked) == polls  # stopped


async def test_a_store_that_cannot_answer_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[datetime] = []

    async def fetch(since: datetime) -> list[tuple[str, datetime]]:
        calls.append(since)
        if len(calls) == 1:
            raise OSError("disk I/O error")
        return [("c1", datetime.now(UTC))]

    revoked = Revocations(KEEP)
    refresher = RevocationRefresher(revoked, fetch, 0.02, KEEP)
    await refresher.start()  # does not raise: the gateway starts, the next poll retries
    try:
        assert "cannot load revoked consents" in caplog.text
        async with asyncio.timeout(5):
            while not revoked.revokes("c1", None):
                await asyncio.sleep(0.01)
        assert calls[1] < datetime.now(UTC) - KEEP + timedelta(minutes=1)  # still the whole window
    finally:
        await refresher.stop()


def test_the_refresh_interval_must_be_positive() -> None:
    async def fetch(since: datetime) -> list[tuple[str, datetime]]:
        return []

    with pytest.raises(ValueError):
        RevocationRefresher(Revocations(KEEP), fetch, 0, KEEP)


# -- through create_app: the API, the page, and a second instance on the same log --------------------------------


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def instances(upstream: str, settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Gateways in front of the same upstream and the same consent log, each its own process state."""
    opened: list[tuple[httpx.AsyncClient, object]] = []

    async def start() -> httpx.AsyncClient:
        app = create_app(dataclasses.replace(settings, upstream=upstream, revocation_refresh_seconds=1))
        await app.startup()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=SITE,
                                   headers={"user-agent": BROWSER_UA})
        opened.append((client, app))
        return client

    clients = [await start(), await start()]
    clients.append(start)  # type: ignore[arg-type]  # a later instance, on demand
    yield clients
    for client, app in opened:
        await client.aclose()
        await app.shutdown()  # type: ignore[attr-defined]


async def _accept(client: httpx.AsyncClient) -> tuple[str, str]:
    r = await client.put("/_consent/state", content=json.dumps({"action": "accept_all"}), headers=JSON)
    assert r.status_code == 200
    return r.json()["consent_id"], r.cookies[COOKIE]


async def _replay(client: httpx.AsyncClient, cookie: str) -> tuple[dict[str, object], str]:
    """The state and the page for a request carrying ``cookie`` (and no other)."""
    client.cookies.clear()
    headers = {"cookie": f"{COOKIE}={cookie}"}
    state = (await client.get("/_consent/state", headers=headers)).json()
    page = (await client.get("/", headers=headers)).text
    return state, page


@pytest.mark.parametrize("revoke", ["withdraw", "erase"])
async def test_a_cookie_replayed_after_withdrawal_or_erasure_grants_nothing(
        instances: list[httpx.AsyncClient], revoke: str) -> None:
    first, second, start_later = instances
    consent_id, cookie = await _accept(first)
    for client in (first, second):
        state, page = await _replay(client, cookie)
        assert state["decided"] is True and LOADED in page
    first.cookies.set(COOKIE, cookie)
    if revoke == "withdraw":
        r = await first.delete("/_consent/state", headers={"origin": SITE})
        assert r.json()["withdrawn"] == consent_id
    else:
        r = await first.post("/_consent/erase", headers={"origin": SITE})
        assert r.json()["consent_id"] == consent_id

    # The same instance refuses at once: the state is undecided, keeps no id, and the tracker is blocked.
    state, page = await _replay(first, cookie)
    assert (state["decided"], state["consent_id"]) == (False, None)
    assert LOADED not in page and BLOCKED in page
    assert (await first.get("/_consent/receipt", headers={"cookie": f"{COOKIE}={cookie}"})).status_code == 404
    # The other instance within its refresh interval (1 s here), from its own cache of the cookie too.
    deadline = time.monotonic() + 3
    while (await _replay(second, cookie))[0]["decided"]:
        assert time.monotonic() < deadline, "the other instance still honours the withdrawn cookie"
        await asyncio.sleep(0.1)
    state, page = await _replay(second, cookie)
    assert state["consent_id"] is None and LOADED not in page and BLOCKED in page
    # An instance started afterwards loads the revocation before its first request.
    later = await start_later()  # type: ignore[operator]
    state, page = await _replay(later, cookie)
    assert state["decided"] is False and BLOCKED in page


async def test_a_new_choice_after_withdrawal_gets_a_new_id_and_the_old_cookie_stays_refused(
        instances: list[httpx.AsyncClient]) -> None:
    first = instances[0]
    old_id, old_cookie = await _accept(first)
    first.cookies.set(COOKIE, old_cookie)
    await first.delete("/_consent/state", headers={"origin": SITE})
    # The replayed old cookie is sent with the new choice: the choice must not inherit its id.
    first.cookies.clear()
    r = await first.put("/_consent/state", content=json.dumps({"action": "accept_all"}),
                        headers={**JSON, "cookie": f"{COOKIE}={old_cookie}"})
    new_id, new_cookie = r.json()["consent_id"], r.cookies[COOKIE]
    assert new_id != old_id
    assert (await _replay(first, new_cookie))[0]["decided"] is True
    assert (await _replay(first, old_cookie))[0]["decided"] is False


# -- `serve --workers 2`: withdraw through one worker, replay through the other ---------------------------------


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {**os.environ, "GATEWAY_SECRET_KEYS": KEY, "GATEWAY_ADMIN_TOKEN": TOKEN}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--workers", "2", "--port", str(port),
                                 "--data-dir", str(tmp_path), "--set", "access_log=false",
                                 "--set", "revocation_refresh_seconds=1"],
                                env=env, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while log.read_text().count("Application startup complete") < 2:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"serve --workers 2 did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield port, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def test_a_withdrawal_through_one_worker_is_enforced_by_the_other(
        two_workers: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, proc = two_workers
    first, second = _find_both_workers(port, _workers(proc.pid))
    try:
        for giver, other in ((first, second), (second, first)):
            status, headers, body = giver.request("PUT", "/_consent/state", {"action": "accept_all"})
            assert status == 200, body
            cookie = {"Cookie": _consent_cookie(headers)}
            assert json.loads(other.request("GET", "/_consent/state", headers=cookie)[2])["decided"] is True
            status, _, body = giver.request("DELETE", "/_consent/state", headers=cookie)
            assert status == 200 and json.loads(body)["withdrawn"]
            assert json.loads(giver.request("GET", "/_consent/state", headers=cookie)[2])["decided"] is False
            withdrawn = time.monotonic()
            while json.loads(other.request("GET", "/_consent/state", headers=cookie)[2])["decided"]:
                assert time.monotonic() - withdrawn < 3, "the other worker still honours the withdrawn cookie"
                time.sleep(0.1)
    finally:
        first.conn.close()
        second.conn.close()

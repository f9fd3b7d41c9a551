"""What only a shared PostgreSQL database adds to the contract: several instances at once (migrations, one hash
chain, exact rollups), a failed batch and a lost connection (StoreWriteError, then the pool reconnects), and the
same summary as SQLite for the same writes."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import pytest

from gateway.cli import main
from gateway.store import ConsentStore, StoreClosedError, StoreWriteError
from gateway.store.postgres import APPLICATION_NAME, PostgresStore
from gateway.store.sqlite import SqliteStore
from tests.store.conftest import NOON, postgres_schema, record
from tests.store.test_contract import random_traffic

DAY = date(2026, 3, 10)


async def test_instances_starting_at_once_migrate_once() -> None:
    async with postgres_schema() as url:
        stores = [PostgresStore(url) for _ in range(4)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            versions = await stores[0]._live_pool().fetch("SELECT version FROM schema_version ORDER BY version")
            assert [v for (v,) in versions] == [1, 2, 3]
        finally:
            await asyncio.gather(*(s.close() for s in stores))


async def test_two_instances_share_one_chain_and_exact_rollups() -> None:
    async with postgres_schema() as url, PostgresStore(url) as one, PostgresStore(url) as two:
        writes = [(one if i % 2 else two).append(record(consent_id=f"c-{i}", at=NOON + timedelta(seconds=i)))
                  for i in range(400)]
        await asyncio.gather(*writes)
        await one.erase("c-3", record(consent_id="c-3", action="erase", at=NOON + timedelta(hours=1)))
        report = await two.verify_log()
        assert report.ok, report.problem
        assert (report.rows, report.removed) == (400, 1)
        for store in (one, two):
            totals = (await store.summary(DAY, DAY))["totals"]
            assert totals["accept_all"] == 400 and totals["erase"] == 1  # type: ignore[index]
        assert one.commits + two.commits < 400  # group commit shared round trips
        assert len(await one.history("c-8")) == 1  # written by the other instance


async def test_a_failed_batch_acknowledges_nothing(postgres_store: PostgresStore) -> None:
    def fail(stage: str) -> None:
        if stage == "rollup":
            raise RuntimeError("disk full")

    postgres_store._fault = fail
    results = await asyncio.gather(*(postgres_store.append(record(consent_id=f"f-{i}")) for i in range(5)),
                                   return_exceptions=True)
    assert all(isinstance(r, StoreWriteError) for r in results)
    postgres_store._fault = None
    assert await postgres_store.history("f-0") == []
    assert (await postgres_store.summary(DAY, DAY))["totals"]["accept_all"] == 0  # type: ignore[index]
    await postgres_store.append(record())
    assert (await postgres_store.verify_log()).ok


async def test_a_lost_connection_fails_the_write_and_the_pool_reconnects(postgres_store: PostgresStore) -> None:
    await postgres_store.append(record(consent_id="before"))
    pool = postgres_store._live_pool()
    killed = asyncio.Event()

    def kill(stage: str) -> None:
        if stage == "log" and not killed.is_set():
            killed.set()
            raise ConnectionResetError("connection lost")  # what asyncpg raises when the server goes away

    postgres_store._fault = kill
    with pytest.raises(StoreWriteError):
        await postgres_store.append(record(consent_id="lost"))
    postgres_store._fault = None
    # The server drops every connection of the pool (a failover or a restart): the next write reconnects.
    admin = await asyncpg.connect(postgres_store.url.split("?")[0])
    try:
        gone = await admin.fetch("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE pid <> pg_backend_pid() AND datname = current_database()"
                            " AND application_name = $1", APPLICATION_NAME)
        assert gone  # the pool's idle connection at least
    finally:
        await admin.close()
    for _ in range(3):  # the first write may meet a dead pooled connection: a 503 for that visitor, no cookie
        try:
            await postgres_store.append(record(consent_id="after"))
            break
        except StoreWriteError:
            continue
    assert [r.consent_id for r in await postgres_store.history("after")] == ["after"]
    assert await postgres_store.history("lost") == []
    assert await postgres_store.ping()
    assert pool is postgres_store._live_pool()


async def test_postgres_and_sqlite_agree(postgres_store: PostgresStore, tmp_path: Path) -> None:
    records, events = random_traffic(seed=11, n=300)
    summaries = []
    async with SqliteStore(tmp_path / "consent.db") as sqlite_store:
        for store in (sqlite_store, postgres_store):
            await asyncio.gather(*(store.append(r) for r in records), *(store.record_event(e) for e in events))
            await store.record_csp_report("mc.yandex.ru", "script-src", NOON)
            summaries.append(await store.summary(date(2026, 2, 28), date(2026, 3, 9)))
            summaries.append(await store.summary(date(2025, 3, 9), date(2026, 3, 9)))
    assert summaries[:2] == summaries[2:]


async def test_purge_keeps_the_chain_verifiable(postgres_store: PostgresStore) -> None:
    old = NOON - timedelta(days=400)
    await asyncio.gather(*(postgres_store.append(record(consent_id=f"o-{i}", at=old)) for i in range(5)))
    await postgres_store.append(record(consent_id="new"))
    assert await postgres_store.purge(NOON - timedelta(days=365)) == 5
    report = await postgres_store.verify_log()
    assert report.ok and report.rows == 1, report.problem


async def test_closed_store_refuses_writes_and_implements_the_protocol() -> None:
    async with postgres_schema() as url:
        store = PostgresStore(url)
        assert isinstance(store, ConsentStore)
        await store.open()
        await store.close()
        with pytest.raises(StoreClosedError):
            await store.append(record())
        assert await store.ping() is False


async def test_verify_log_command_on_postgresql(capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    async with postgres_schema() as url, PostgresStore(url) as store:
        await asyncio.gather(*(store.append(record(consent_id=f"v-{i}")) for i in range(7)))
        monkeypatch.setenv("GATEWAY_DATABASE", url)
        assert await asyncio.to_thread(main, ["verify-log"]) == 0  # the CLI runs its own event loop
    assert capsys.readouterr().out.startswith("OK: 7 consent-log rows chained")

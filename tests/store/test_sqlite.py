"""SQLite-only behaviour: migrations, durability settings, group commit and the all-or-nothing batch."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.store import StoreWriteError, schema
from gateway.store import sqlite as sqlite_module
from gateway.store.sqlite import SqliteStore
from tests.store.conftest import NOON, event, record

DAY = date(2026, 3, 10)
ROLLUP_TABLES = ("decision_daily", "daily_by_key", "impression_daily", "csp_daily")


def plain(path: Path) -> sqlite3.Connection:
    """A second, independent connection: what another process (or a crash-restart) would see."""
    return sqlite3.connect(path)


def count(path: Path, sql: str, *args: object) -> int:
    conn = plain(path)
    try:
        return int(conn.execute(sql, args).fetchone()[0])
    finally:
        conn.close()


async def test_migrates_an_empty_file_and_reopens_idempotently(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "consent.db"
    async with SqliteStore(path) as store:
        await store.append(record())
    async with SqliteStore(path) as store:
        assert len(await store.history("c-0001")) == 1
    conn = plain(path)
    try:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    assert versions == [v for v, _ in schema.MIGRATIONS]
    assert {"consent_log", "schema_version", *ROLLUP_TABLES} <= tables
    assert {"consent_log_consent_id", "consent_log_at"} <= indexes
    assert journal == "wal"


async def test_two_stores_opening_a_new_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "consent.db"
    first, second = SqliteStore(path), SqliteStore(path)
    try:
        await asyncio.gather(first.open(), second.open())
        await asyncio.gather(first.append(record(consent_id="a")), second.append(record(consent_id="b")))
    finally:
        await asyncio.gather(first.close(), second.close())
    assert count(path, "SELECT COUNT(*) FROM schema_version") == len(schema.MIGRATIONS)
    assert count(path, "SELECT COUNT(*) FROM consent_log") == 2


async def test_later_migrations_apply_in_order_on_an_existing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "consent.db"
    async with SqliteStore(path) as store:
        await store.append(record())
    latest = schema.LATEST
    extra = [(latest + 1, ("CREATE TABLE note (text TEXT)",)), (latest + 2, ("INSERT INTO note VALUES ('v3')",))]
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, *extra])
    monkeypatch.setattr(schema, "LATEST", latest + 2)
    async with SqliteStore(path) as store:
        assert len(await store.history("c-0001")) == 1
    assert count(path, "SELECT MAX(version) FROM schema_version") == latest + 2
    assert count(path, "SELECT COUNT(*) FROM note") == 1


async def test_failed_migration_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "consent.db"
    async with SqliteStore(path):
        pass
    latest = schema.LATEST
    broken = (latest + 1, ("CREATE TABLE half (x INTEGER)", "THIS IS NOT SQL"))
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, broken])
    monkeypatch.setattr(schema, "LATEST", latest + 1)
    with pytest.raises(sqlite3.OperationalError):
        await SqliteStore(path).open()
    assert count(path, "SELECT MAX(version) FROM schema_version") == latest
    assert count(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'") == 0


async def test_refuses_a_file_from_a_newer_gateway(tmp_path: Path) -> None:
    path = tmp_path / "consent.db"
    async with SqliteStore(path):
        pass
    conn = plain(path)
    conn.execute("INSERT INTO schema_version VALUES (99)")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        await SqliteStore(path).open()


async def test_commits_are_fully_synchronous(sqlite_store: SqliteStore) -> None:
    assert sqlite_store._writer is not None
    async with sqlite_store._writer.execute("PRAGMA synchronous") as cursor:
        assert await cursor.fetchone() == (2,)  # FULL: the WAL is fsynced on every commit


async def test_group_commit_acknowledges_only_durable_rows(sqlite_store: SqliteStore) -> None:
    checker = plain(sqlite_store.path)
    missing: list[str] = []

    async def write(i: int) -> None:
        consent_id = f"visitor-{i:03}"
        await sqlite_store.append(record(consent_id=consent_id))
        # The moment append returns, an independent connection must already see the row.
        seen = checker.execute("SELECT COUNT(*) FROM consent_log WHERE consent_id = ?", (consent_id,)).fetchone()
        if seen[0] != 1:
            missing.append(consent_id)

    try:
        await asyncio.gather(*(write(i) for i in range(200)))
        total = checker.execute("SELECT COUNT(*) FROM consent_log").fetchone()[0]
        rolled_up = checker.execute("SELECT SUM(accept_all) FROM daily_by_key WHERE dim = 'all'").fetchone()[0]
    finally:
        checker.close()
    assert missing == []
    assert total == 200
    assert rolled_up == 200
    assert 1 <= sqlite_store.commits < 200


async def test_batch_max_one_commits_every_write(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "consent.db", batch_max=1) as store:
        await asyncio.gather(*(store.append(record(consent_id=f"v{i}")) for i in range(20)))
        assert store.commits == 20


@pytest.mark.parametrize("stage", ["log", "rollup"])
async def test_failed_batch_raises_in_every_writer_and_leaves_nothing(sqlite_store: SqliteStore, stage: str) -> None:
    await sqlite_store.append(record(consent_id="before"))

    def fail(at: str) -> None:
        if at == stage:
            raise OSError("disk on fire")

    sqlite_store._fault = fail
    results = await asyncio.gather(
        *(sqlite_store.append(record(consent_id=f"lost-{i}")) for i in range(30)),
        sqlite_store.record_event(event()),
        sqlite_store.record_csp_report("mc.yandex.ru", "script-src", NOON),
        return_exceptions=True,
    )
    assert all(isinstance(r, StoreWriteError) for r in results), results
    assert isinstance(results[0].__cause__, OSError)  # type: ignore[union-attr]

    path = sqlite_store.path
    assert count(path, "SELECT COUNT(*) FROM consent_log WHERE consent_id LIKE 'lost-%'") == 0
    assert count(path, "SELECT SUM(n) FROM decision_daily") == 1
    assert count(path, "SELECT SUM(accept_all) FROM daily_by_key WHERE dim = 'all'") == 1
    assert count(path, "SELECT COUNT(*) FROM impression_daily") == 0
    assert count(path, "SELECT COUNT(*) FROM csp_daily") == 0

    sqlite_store._fault = None  # the store carries on after a failed batch
    await sqlite_store.append(record(consent_id="after"))
    assert (await sqlite_store.summary(DAY, DAY))["totals"]["decisions"] == 2  # type: ignore[index]


async def test_erase_in_the_same_batch_as_earlier_appends_erases_them(sqlite_store: SqliteStore) -> None:
    proof = record(action="erase", categories=frozenset(), at=NOON + timedelta(seconds=1))
    appended, erased = await asyncio.gather(
        sqlite_store.append(record()), sqlite_store.erase("c-0001", proof)
    )
    assert erased == 1
    assert await sqlite_store.history("c-0001") == [proof]


async def test_close_finishes_queued_writes(tmp_path: Path) -> None:
    path = tmp_path / "consent.db"
    store = SqliteStore(path)
    await store.open()
    writes = [asyncio.create_task(store.append(record(consent_id=f"v{i}"))) for i in range(50)]
    await asyncio.sleep(0)  # let the writes reach the queue
    await store.close()
    await asyncio.gather(*writes)
    assert count(path, "SELECT COUNT(*) FROM consent_log") == 50


async def test_purge_works_in_chunks(sqlite_store: SqliteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "PURGE_CHUNK", 7)
    old = NOON - timedelta(days=500)
    await asyncio.gather(*(sqlite_store.append(record(consent_id=f"o{i}", at=old)) for i in range(30)))
    await sqlite_store.append(record(consent_id="kept"))
    assert await sqlite_store.purge(NOON - timedelta(days=1)) == 30
    assert count(sqlite_store.path, "SELECT COUNT(*) FROM consent_log") == 1


def test_micro_timestamps_round_trip() -> None:
    for at in (datetime(1970, 1, 1, tzinfo=UTC), datetime(2026, 3, 10, 7, 0, 1, 999_999, tzinfo=UTC)):
        assert sqlite_module.from_micros(sqlite_module.to_micros(at)) == at


async def test_impressions_and_rollups_store_no_identifier(sqlite_store: SqliteStore) -> None:
    await sqlite_store.append(record())
    await sqlite_store.record_event(event())
    conn = plain(sqlite_store.path)
    try:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        columns = {t: {row[1] for row in conn.execute(f"PRAGMA table_info({t})")} for t in tables}
    finally:
        conn.close()
    identifying = {"consent_id", "ip_prefix", "texts_hash", "at"}
    # `revoked` holds withdrawn and erased ids on purpose (a replayed cookie is refused), purged with the log.
    assert [t for t, cols in columns.items() if cols & identifying] == ["consent_log", "revoked"]

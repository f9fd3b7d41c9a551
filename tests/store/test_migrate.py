"""migrate-db's copy (gateway.store.migrate): a populated SQLite log moved to PostgreSQL (and to SQLite, and
back) answers every read as the source did and verifies with the same head; a second run copies nothing; an
interrupted run goes on where it stopped; a tampered source and a target holding other data are refused."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.store.migrate import LINKS, LOG, TABLES, MigrateError, migrate_db, redact
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore
from tests.store.conftest import NOON, event, postgres_schema, record
from tests.store.test_contract import random_traffic

RANGES = [(date(2026, 2, 28), date(2026, 3, 9)), (date(2025, 3, 9), date(2026, 3, 9))]
OLD = NOON - timedelta(days=400)
BATCH = 64  # small, so every table takes several batches


async def populate(store: SqliteStore | PostgresStore) -> list[str]:
    """Records, withdrawals, erasures, a purge, banner events and CSP reports; returns every consent id."""
    records, events = random_traffic(seed=5, n=500)
    old = [record(consent_id=f"old-{i}", at=OLD + timedelta(minutes=i)) for i in range(30)]
    await asyncio.gather(*(store.append(r) for r in old))
    await asyncio.gather(*(store.append(r) for r in records), *(store.record_event(e) for e in events))
    await store.record_csp_report("mc.yandex.ru", "script-src", NOON)
    await store.record_csp_report("connect.facebook.net", "img-src", NOON - timedelta(days=40))
    assert await store.purge(NOON - timedelta(days=365)) == 30
    await store.erase("id7", record(consent_id="id7", action="erase", categories=frozenset(), at=NOON))
    await store.erase("id8")
    await store.append(record(consent_id="id9", action="withdraw", at=NOON + timedelta(hours=1)))
    return sorted({r.consent_id for r in records + old})


async def reads(store: SqliteStore | PostgresStore, ids: list[str]) -> tuple[object, ...]:
    """Everything a visitor, an analyst and an auditor can read."""
    report = await store.verify_log()
    return (
        [await store.history(i) for i in ids],
        [await store.summary(start, end) for start, end in RANGES],
        (report.ok, report.rows, report.removed, report.head),
        await store.revoked_since(datetime(1970, 1, 1, tzinfo=UTC)),
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "postgres":
        async with postgres_schema() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'target.db'}"


def open_url(url: str) -> SqliteStore | PostgresStore:
    return SqliteStore(Path(url.removeprefix("sqlite:///"))) if url.startswith("sqlite") else PostgresStore(url)


@pytest.fixture
async def source(tmp_path: Path) -> tuple[str, tuple[object, ...], list[str]]:
    """A populated SQLite file: its URL, what it reads, its consent ids."""
    async with SqliteStore(tmp_path / "source.db") as store:
        ids = await populate(store)
        before = await reads(store, ids)
    return f"sqlite:///{tmp_path / 'source.db'}", before, ids


async def test_a_migrated_log_reads_and_verifies_as_the_source(
        source: tuple[str, tuple[object, ...], list[str]], target: str) -> None:
    url, before, ids = source
    lines: list[str] = []
    outcome = await migrate_db(url, target, batch=BATCH, progress=lines.append)
    assert outcome.report.ok
    assert outcome.copied[LOG] == outcome.counts[LOG] == before[2][1]  # type: ignore[index]
    assert outcome.counts[LINKS] == before[2][2] > 0  # type: ignore[index]  # the erased rows' links
    assert any(line.startswith(f"{LOG}: {BATCH} of ") for line in lines)  # progress, batch by batch
    async with open_url(target) as store:
        assert await reads(store, ids) == before
        # The copy is a working store: the chain goes on from the copied head.
        await store.append(record(consent_id="after-move", at=NOON + timedelta(days=1)))
        assert (await store.verify_log()).ok


async def test_a_second_run_copies_nothing_and_says_so(
        source: tuple[str, tuple[object, ...], list[str]], target: str) -> None:
    url, before, ids = source
    first = await migrate_db(url, target, batch=BATCH)
    lines: list[str] = []
    second = await migrate_db(url, target, batch=BATCH, progress=lines.append)
    assert second.already and second.copied == {} and second.counts == first.counts
    assert any("nothing to copy" in line for line in lines)
    async with open_url(target) as store:
        assert await reads(store, ids) == before  # nothing doubled: rollups and log as the source's


async def test_an_interrupted_run_goes_on_where_it_stopped(
        source: tuple[str, tuple[object, ...], list[str]], target: str) -> None:
    url, before, ids = source

    def stop_after_two_batches(line: str) -> None:
        if line.startswith(f"{LOG}: {2 * BATCH} of"):
            raise ConnectionResetError("connection lost")

    with pytest.raises(MigrateError, match="interrupted: connection lost; run migrate-db again"):
        await migrate_db(url, target, batch=BATCH, progress=stop_after_two_batches)
    async with open_url(target) as store:
        partial = await store.verify_log()
    assert not partial.ok  # rows without their head: no gateway may take this for a whole log
    lines: list[str] = []
    outcome = await migrate_db(url, target, batch=BATCH, progress=lines.append)
    assert outcome.copied[LOG] == outcome.counts[LOG] - 2 * BATCH
    assert any("rows copied by an earlier run" in line for line in lines)
    async with open_url(target) as store:
        assert await reads(store, ids) == before


async def test_a_tampered_source_is_refused_and_nothing_copied(
        source: tuple[str, tuple[object, ...], list[str]], target: str) -> None:
    url, _, _ = source
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    conn.execute("UPDATE consent_log SET action = 'reject_all', categories = 1"
                 " WHERE id = (SELECT MIN(id) + 10 FROM consent_log)")
    conn.commit()
    conn.close()
    with pytest.raises(MigrateError, match=r"the source's consent log does not verify: row \d+: the row does not "
                                           r"match its chain value.*nothing copied") as err:
        await migrate_db(url, target)
    assert not err.value.usage
    async with open_url(target) as store:
        assert (await store.verify_log()).rows == 0


async def test_a_target_holding_another_log_is_refused(
        source: tuple[str, tuple[object, ...], list[str]], target: str) -> None:
    url, _, _ = source
    async with open_url(target) as store:
        await store.append(record(consent_id="someone-else"))
    with pytest.raises(MigrateError, match="already holds a consent log .*migrate into an empty database"):
        await migrate_db(url, target)
    async with open_url(target) as store:
        assert [r.consent_id for r in await store.history("someone-else")] == ["someone-else"]
        assert (await store.verify_log()).rows == 1


async def test_a_target_with_rollups_but_no_log_is_refused(
        source: tuple[str, tuple[object, ...], list[str]], target: str) -> None:
    url, _, _ = source
    async with open_url(target) as store:
        await store.record_event(event())  # an instance already ran on it: counts, no log row
    with pytest.raises(MigrateError, match="is not empty .*impression_daily.*migrate into an empty database"):
        await migrate_db(url, target)


async def test_an_interrupted_copy_of_another_source_is_refused(
        source: tuple[str, tuple[object, ...], list[str]], target: str, tmp_path: Path) -> None:
    url, _, _ = source
    async with SqliteStore(tmp_path / "other.db") as other:
        await asyncio.gather(*(other.append(record(consent_id=f"x-{i}")) for i in range(3 * BATCH)))

    def stop(line: str) -> None:
        if line.startswith(f"{LOG}: {BATCH} of"):
            raise OSError("disk full")

    with pytest.raises(MigrateError, match="interrupted"):
        await migrate_db(f"sqlite:///{tmp_path / 'other.db'}", target, batch=BATCH, progress=stop)
    with pytest.raises(MigrateError, match="holds 64 consent_log rows that are not the source's"):
        await migrate_db(url, target, batch=BATCH)


async def test_postgres_back_to_sqlite(source: tuple[str, tuple[object, ...], list[str]], tmp_path: Path) -> None:
    url, before, ids = source
    async with postgres_schema() as pg:
        await migrate_db(url, pg, batch=BATCH)
        back = f"sqlite:///{tmp_path / 'back.db'}"
        outcome = await migrate_db(pg, back, batch=BATCH)
    assert outcome.report.ok
    async with SqliteStore(tmp_path / "back.db") as store:
        assert await reads(store, ids) == before


async def test_an_empty_source_migrates_and_reruns(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "empty.db"):
        pass
    url, target = f"sqlite:///{tmp_path / 'empty.db'}", f"sqlite:///{tmp_path / 'target.db'}"
    assert (await migrate_db(url, target)).counts[LOG] == 0
    assert (await migrate_db(url, target)).already


BAD = [
    ("sqlite:///{tmp}/missing.db", "sqlite:///{tmp}/t.db", "--from: no SQLite file at {tmp}/missing.db"),
    ("mysql://db/consent", "sqlite:///{tmp}/t.db", "--from: unsupported store URL 'mysql://db/consent'"),
    ("sqlite:///{tmp}/s.db", "memory:", "--to: 'memory:' holds nothing to migrate"),
    ("sqlite:///{tmp}/s.db", "sqlite://t.db", "--to: bad SQLite URL 'sqlite://t.db'"),
    ("sqlite:///{tmp}/s.db", "sqlite:///{tmp}/./s.db", "--from and --to name the same database"),
    ("sqlite:///{tmp}/s.db", "postgresql://gw:hunter2@127.0.0.1:1/consent",
     "cannot use the target postgresql://gw:***@127.0.0.1:1/consent: "),
]


@pytest.mark.parametrize(("source", "target", "message"), BAD, ids=[m.split(":")[0] for _, _, m in BAD])
async def test_bad_urls_are_usage_errors(tmp_path: Path, source: str, target: str, message: str) -> None:
    async with SqliteStore(tmp_path / "s.db"):
        pass
    with pytest.raises(MigrateError) as err:
        await migrate_db(source.format(tmp=tmp_path), target.format(tmp=tmp_path))
    assert err.value.usage
    assert message.format(tmp=tmp_path) in str(err.value)
    assert "hunter2" not in str(err.value)


async def test_every_table_of_the_schema_is_copied(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "s.db"):
        pass
    conn = sqlite3.connect(tmp_path / "s.db")
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    columns = {t: tuple(c[1] for c in conn.execute(f"PRAGMA table_info({t})")) for t in TABLES}
    conn.close()
    assert tables - {"schema_version", "log_head"} == set(TABLES)
    assert {t: set(c) for t, c in columns.items()} == {t: set(c) for t, c in TABLES.items()}


def test_redact_hides_passwords() -> None:
    assert redact("postgresql://gw:s3cret@db:5432/consent") == "postgresql://gw:***@db:5432/consent"
    assert redact("postgresql://db/consent?user=gw&password=s3cret") == "postgresql://db/consent?user=gw&password=***"
    assert redact("postgresql://gw@db/consent") == "postgresql://gw@db/consent"

"""The tamper-evident log: every row chained to the previous one, erase and purge keeping the chain verifiable,
and any edit or deletion made to the file behind the gateway's back caught at the first row it affects."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.store.chain import GENESIS, ChainVerifier, canonical, link
from gateway.store.sqlite import SqliteStore
from tests.store.conftest import NOON, record
from tests.store.fixtures.golden_log import DATABASE, TIMEZONE


def tamper(path: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql, args)
        conn.commit()
    finally:
        conn.close()


async def fill(store: SqliteStore, n: int = 30, first: int = 0) -> None:
    """``n`` appends from concurrent writers (several batches, several rows per batch), a second apart."""
    for start in range(first, first + n, 10):
        await asyncio.gather(*(store.append(record(consent_id=f"c-{i}", at=NOON + timedelta(seconds=i)))
                               for i in range(start, start + 10)))


def test_the_first_row_chains_from_zeros_over_its_canonical_bytes() -> None:
    fields = ("c-1", 5, "accept_all", 15, "p", "ru", 0, None, "desktop", "Chrome", "Windows", "a")
    assert canonical(1, fields) == b'[1,"c-1",5,"accept_all",15,"p","ru",0,null,"desktop","Chrome","Windows","a"]'
    verifier = ChainVerifier(0, GENESIS)
    assert verifier.row(1, fields, link(GENESIS, 1, fields))
    assert verifier.finish(1, link(GENESIS, 1, fields)).ok


@pytest.mark.parametrize("fields", [
    ("c-1", 5, "accept_all", 15, "p", "ru", 1, "2001:db8:1::/48", "desktop", "Chrome", "Windows", "a" * 64),
    ('qu"o\\te', 0, "custom", 3, "полит", "kk", 0, None, "бот\n", "Chrome Mobile", "Android", ""),
])
def test_canonical_bytes_are_compact_ascii_json(fields: tuple[object, ...]) -> None:
    assert canonical(7, fields) == json.dumps([7, *fields], separators=(",", ":"), ensure_ascii=True).encode()


async def test_a_log_written_by_the_gateway_verifies(sqlite_store: SqliteStore) -> None:
    await fill(sqlite_store)
    assert sqlite_store.commits < 30  # group commit still shares commits
    report = await sqlite_store.verify_log()
    assert (report.ok, report.rows, report.removed) == (True, 30, 0)


async def test_erase_keeps_the_chain_verifiable(sqlite_store: SqliteStore) -> None:
    await fill(sqlite_store)
    await sqlite_store.append(record(consent_id="c-3", action="withdraw", at=NOON + timedelta(minutes=5)))
    proof = record(consent_id="c-3", action="erase", at=NOON + timedelta(minutes=6), ip_prefix=None)
    assert await sqlite_store.erase("c-3", proof) == 2
    await sqlite_store.erase("c-29")  # the last rows: their ids are not given again
    await fill(sqlite_store, 10, first=100)
    report = await sqlite_store.verify_log()
    assert (report.ok, report.rows, report.removed) == (True, 30 + 1 + 1 + 10 - 3, 3)


async def test_purge_keeps_the_chain_verifiable_and_folds_the_removed_prefix(sqlite_store: SqliteStore) -> None:
    await fill(sqlite_store)
    await sqlite_store.append(record(consent_id="late-but-old", at=NOON - timedelta(days=400)))  # not a prefix
    await fill(sqlite_store, 10, first=100)
    assert await sqlite_store.purge(NOON + timedelta(seconds=10)) == 11
    report = await sqlite_store.verify_log()
    assert (report.ok, report.rows, report.removed) == (True, 30, 1)  # ids 1-10 folded into the base
    conn = sqlite3.connect(sqlite_store.path)
    assert conn.execute("SELECT base_id FROM log_head").fetchone() == (10,)
    assert conn.execute("SELECT id, reason FROM log_links").fetchall() == [(31, "purge")]
    conn.close()
    await sqlite_store.purge(NOON + timedelta(days=1))
    report = await sqlite_store.verify_log()
    assert (report.ok, report.rows, report.removed) == (True, 0, 0)


async def test_an_edited_row_is_caught_at_that_row(sqlite_store: SqliteStore) -> None:
    await fill(sqlite_store)
    tamper(sqlite_store.path, "UPDATE consent_log SET categories = 1, action = 'reject_all' WHERE id = 7")
    report = await sqlite_store.verify_log()
    assert not report.ok and report.broken_id == 7 and report.rows == 6
    assert report.broken_at == NOON + timedelta(seconds=6)
    assert "changed" in report.problem


@pytest.mark.parametrize(("deleted", "problem"), [(12, "row 12 is missing"), (30, "missing from the end")])
async def test_a_row_deleted_outside_erase_is_caught(sqlite_store: SqliteStore, deleted: int, problem: str) -> None:
    await fill(sqlite_store)
    tamper(sqlite_store.path, "DELETE FROM consent_log WHERE id = ?", deleted)
    report = await sqlite_store.verify_log()
    assert not report.ok and report.broken_id == deleted and problem in report.problem


async def test_a_row_deleted_and_passed_off_as_a_removal_with_a_wrong_link_is_caught(
        sqlite_store: SqliteStore) -> None:
    await fill(sqlite_store)
    tamper(sqlite_store.path, "DELETE FROM consent_log WHERE id = 5")
    tamper(sqlite_store.path, "INSERT INTO log_links VALUES (5, zeroblob(32), 'erase')")
    report = await sqlite_store.verify_log()
    assert not report.ok and report.broken_id == 6


async def test_a_row_inserted_behind_the_gateway_is_caught_and_writes_go_on(sqlite_store: SqliteStore) -> None:
    await fill(sqlite_store, 10)
    tamper(sqlite_store.path, "INSERT INTO consent_log (consent_id, at, action, categories, policy_version, language,"
                              " gpc, device, browser, os, texts_hash) VALUES ('x', 0, 'accept_all', 15, 'p', 'ru', 0,"
                              " 'desktop', 'Chrome', 'Windows', '')")
    await sqlite_store.append(record(consent_id="after"))  # no id clash: the writer starts after the highest id
    report = await sqlite_store.verify_log()
    assert not report.ok and report.broken_id == 11 and "outside the gateway" in report.problem


async def test_two_processes_writing_one_file_share_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "consent.db"
    first, second = SqliteStore(path), SqliteStore(path)
    await asyncio.gather(first.open(), second.open())
    try:
        for _ in range(3):
            await asyncio.gather(fill(first, 10), fill(second, 10))
        report = await first.verify_log()
    finally:
        await asyncio.gather(first.close(), second.close())
    assert (report.ok, report.rows) == (True, 60)


async def test_migration_chains_an_earlier_log(tmp_path: Path) -> None:
    copy = tmp_path / DATABASE.name
    shutil.copyfile(DATABASE, copy)
    async with SqliteStore(copy, timezone=TIMEZONE) as store:
        assert (await store.verify_log()).ok
        await store.append(record())
        report = await store.verify_log()
        assert (report.ok, report.rows) == (True, 8)
        tamper(copy, "UPDATE consent_log SET gpc = 0 WHERE consent_id = 'golden-b'")
        assert (await store.verify_log()).broken_id == 2


def test_verify_log_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async def write() -> None:
        async with SqliteStore(tmp_path / "consent.sqlite3") as store:
            await fill(store)

    asyncio.run(write())
    assert main(["verify-log", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 30 consent-log rows chained") and "head " in out
    tamper(tmp_path / "consent.sqlite3", "UPDATE consent_log SET consent_id = 'someone' WHERE id = 4")
    assert main(["verify-log", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("BROKEN at row 4 (2026-03-10 07:00:03 UTC)"), err

"""Golden tests: a consent log written by an earlier release reads back the same, and the same writes store the
same rows, so a change to the category bitmask, the counters or the rollup keys fails here before it misreads a
real database. The fixture and its inputs are in tests/store/fixtures/golden_log.py."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.store.memory import MemoryStore
from gateway.store.sqlite import SqliteStore
from tests.store.fixtures.golden_log import DATABASE, EXPECTED, TIMEZONE, read_back, table_rows, write

GOLDEN: dict[str, Any] = json.loads(EXPECTED.read_text())


def _json(value: object) -> Any:
    return json.loads(json.dumps(value))


async def test_a_log_written_by_an_earlier_release_reads_back_the_same(tmp_path: Path) -> None:
    copy = tmp_path / DATABASE.name  # opening migrates and switches to WAL: never touch the committed file
    shutil.copyfile(DATABASE, copy)
    async with SqliteStore(copy, timezone=TIMEZONE) as store:
        found = _json(await read_back(store))
    assert found["history"] == GOLDEN["history"]
    assert found["summaries"] == GOLDEN["summaries"]


async def test_the_same_writes_store_the_same_rows(tmp_path: Path) -> None:
    path = tmp_path / "consent.db"
    async with SqliteStore(path, timezone=TIMEZONE) as store:
        await write(store)
    assert _json(table_rows(path)) == GOLDEN["rows"]


async def test_the_memory_store_reads_the_same_summaries() -> None:
    async with MemoryStore(timezone=TIMEZONE) as store:
        await write(store)
        found = _json(await read_back(store))
    assert found == {"history": GOLDEN["history"], "summaries": GOLDEN["summaries"]}


async def test_migrating_an_earlier_log_enforces_its_withdrawals_and_erasures(tmp_path: Path) -> None:
    copy = tmp_path / DATABASE.name
    shutil.copyfile(DATABASE, copy)
    async with SqliteStore(copy, timezone=TIMEZONE) as store:
        revoked = await store.revoked_since(datetime(2026, 1, 1, tzinfo=UTC))
    assert [(i, at.isoformat()) for i, at in revoked] == [
        ("golden-d", "2026-03-11T18:30:00+00:00"), ("golden-a", "2026-03-11T19:30:00+00:00")]

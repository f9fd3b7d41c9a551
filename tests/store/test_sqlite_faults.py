"""SQLite storage faults fail closed and heal: a locked file, a full disk, a file gone or replaced, a SIGKILL.

Each fault is real where that is cheap (another connection holding the lock, the file renamed and a directory in
its place, the process killed) and injected where it is not (SQLite's own error on the writer connection).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from gateway.store import StoreWriteError
from gateway.store import sqlite as sqlite_module
from gateway.store.sqlite import SqliteStore
from tests.store.conftest import record

REPO = Path(__file__).resolve().parents[2]
DISK_FULL = "database or disk is full"
IO_ERROR = "disk I/O error"
READ_ONLY = "attempt to write a readonly database"  # what a file whose permissions changed answers
# (what fails, the SQL statements that raise it): table-driven injected faults on the writer connection
INJECTED = [
    pytest.param(DISK_FULL, ("COMMIT",), id="disk-full-on-commit"),
    pytest.param(IO_ERROR, ("COMMIT", "ROLLBACK"), id="io-error-and-the-rollback-fails-too"),
    pytest.param(READ_ONLY, ("BEGIN IMMEDIATE",), id="file-no-longer-writable"),
]


def rows(path: Path, consent_id: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM consent_log WHERE consent_id = ?", (consent_id,)).fetchone()[0])
    finally:
        conn.close()


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another connection (as another process would) holding the write lock."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def inject(store: SqliteStore, monkeypatch: pytest.MonkeyPatch, message: str, statements: tuple[str, ...]) -> None:
    writer = store._writer
    assert writer is not None
    real: Callable[..., Any] = writer.execute

    def execute(sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql in statements:
            raise sqlite3.OperationalError(message)
        return real(sql, *args, **kwargs)

    monkeypatch.setattr(writer, "execute", execute)


async def test_a_locked_database_fails_writes_within_the_write_timeout_and_heals(sqlite_store: SqliteStore) -> None:
    """The real timeouts: a lock held by another process for longer than them is a StoreWriteError in seconds."""
    path = sqlite_store.path
    with write_lock(path):
        started = time.monotonic()
        results = await asyncio.gather(*(sqlite_store.append(record(consent_id=f"locked-{i}")) for i in range(5)),
                                       return_exceptions=True)
        assert time.monotonic() - started < sqlite_module.WRITE_TIMEOUT + 1
        assert all(isinstance(r, StoreWriteError) for r in results), results
        assert not await sqlite_store.ping()
    assert await sqlite_store.ping()  # the probe commits as soon as the lock is gone: no visitor needed
    await sqlite_store.append(record(consent_id="after"))
    assert rows(path, "after") == 1 and rows(path, "locked-0") == 0


async def test_a_write_queued_behind_a_stuck_batch_is_answered_within_the_write_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even when the writer itself waits longer (a lock, a disk that does not answer), the caller does not."""
    monkeypatch.setattr(sqlite_module, "WRITER_BUSY_TIMEOUT_MS", 3_000)
    monkeypatch.setattr(sqlite_module, "WRITE_TIMEOUT", 0.3)
    monkeypatch.setattr(sqlite_module, "BATCH_STUCK", 0.2)
    async with SqliteStore(tmp_path / "consent.db") as store:
        with write_lock(store.path):
            started = time.monotonic()
            with pytest.raises(StoreWriteError, match="within"):
                await store.append(record(consent_id="first"))
            with pytest.raises(StoreWriteError, match="within"):
                await store.append(record(consent_id="queued"))
            assert time.monotonic() - started < 1.5
            assert not await store.ping()  # the writer is still stuck in its batch
        await store.append(record(consent_id="after"))  # the stuck batch ends, the writer goes on
        assert await store.ping()
        assert rows(store.path, "after") == 1
        assert rows(store.path, "queued") == 0  # its caller had given up before a batch began: skipped


@pytest.mark.parametrize(("message", "statements"), INJECTED)
async def test_an_injected_write_fault_fails_the_batch_keeps_the_writer_and_heals(
        sqlite_store: SqliteStore, monkeypatch: pytest.MonkeyPatch, message: str, statements: tuple[str, ...]) -> None:
    with monkeypatch.context() as patch:
        inject(sqlite_store, patch, message, statements)
        results = await asyncio.gather(*(sqlite_store.append(record(consent_id=f"lost-{i}")) for i in range(10)),
                                       return_exceptions=True)
        assert all(isinstance(r, StoreWriteError) for r in results), results
        assert message in str(results[0])
        assert not await sqlite_store.ping()  # the last batch failed, and so does the probe
        assert not await sqlite_store.ping()
    assert await sqlite_store.ping()
    await sqlite_store.append(record(consent_id="after"))
    assert rows(sqlite_store.path, "after") == 1 and rows(sqlite_store.path, "lost-0") == 0
    assert (await sqlite_store.verify_log()).ok


async def test_a_file_replaced_by_a_directory_refuses_writes_until_it_is_back(sqlite_store: SqliteStore) -> None:
    """The open connections would go on writing to the moved file: acknowledged rows nobody will find again."""
    path = sqlite_store.path
    await sqlite_store.append(record(consent_id="before"))
    moved = path.with_name("moved.db")
    path.rename(moved)
    path.mkdir()
    assert not await sqlite_store.ping()
    with pytest.raises(StoreWriteError, match="no longer the database file"):
        await sqlite_store.append(record(consent_id="lost"))
    path.rmdir()
    assert not await sqlite_store.ping()  # removed is no better
    moved.rename(path)
    assert await sqlite_store.ping()
    await sqlite_store.append(record(consent_id="after"))
    assert rows(path, "after") == 1 and rows(path, "lost") == 0


WRITER = """
import asyncio, sys
from pathlib import Path
from tests.store.conftest import record
from gateway.store.sqlite import SqliteStore

async def main() -> None:
    store = SqliteStore(Path(sys.argv[1]))
    await store.open()

    async def one(i: int) -> None:
        await store.append(record(consent_id=f"k-{i}"))
        print(f"k-{i}", flush=True)  # acknowledged: it must survive anything from here on

    i = 0
    while True:
        await asyncio.gather(*(one(i + j) for j in range(20)))
        i += 20

asyncio.run(main())
"""


def test_every_acknowledged_write_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "consent.db"
    acknowledged: list[str] = []
    with subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=REPO, stdout=subprocess.PIPE,
                          env={**os.environ, "PYTHONPATH": str(REPO)}) as proc:
        assert proc.stdout is not None
        try:
            while len(acknowledged) < 300:
                line = proc.stdout.readline()
                assert line, f"the writer exited early ({proc.wait()})"
                acknowledged.append(line.decode().strip())
        finally:
            proc.send_signal(signal.SIGKILL)  # mid-batch: some writes queued, one transaction in flight
            proc.wait(timeout=10)
            acknowledged += [line.strip() for line in proc.stdout.read().decode().splitlines()]
    assert len(acknowledged) >= 300
    conn = sqlite3.connect(path)
    try:
        kept = {cid for (cid,) in conn.execute("SELECT consent_id FROM consent_log")}
    finally:
        conn.close()
    assert set(acknowledged) <= kept

"""SQLite backend: WAL, synchronous=FULL, group commit, rollups in the same transaction as the log.

Durability: every COMMIT fsyncs the WAL (``synchronous=FULL``), so a write acknowledged to a visitor survives a
power cut. ``NORMAL`` would be faster but may lose the last commits on power loss, which breaks "nothing
acknowledged is ever lost". The fsync is what costs; group commit shares it among every write that arrived while
the previous commit was running: writers put (operation, future) on a queue, ONE writer task takes everything
queued (up to ``batch_max``), writes it in one transaction (log rows with executemany, rollups upserted once per
key after pre-aggregation in Python), commits, and only then resolves the futures. If anything in the batch
fails, the transaction is rolled back and every writer of that batch gets ``StoreWriteError``. The queue, the
writer task and the backend-independent part of a batch are gateway.store.groupcommit, shared with PostgreSQL.

Each batch also extends the log's hash chain (gateway.store.chain): it reads the head once, gives the rows their
ids and chain values in Python, and updates the head once, inside the same transaction; ``verify_log`` walks it.

Two connections: the writer's, used only by the writer task, and a reader for history and summaries; under WAL a
reader sees every committed transaction and never blocks the writer.

Faults fail closed and heal by themselves. A write is answered within ``WRITE_TIMEOUT`` seconds: committed, or a
``StoreWriteError`` (the API's 503, no cookie), never a wait behind a lock held by another process; the writer's
busy timeout is shorter, so its batch gives up first. A failed batch (locked, disk full, I/O error) is rolled
back, even when ROLLBACK itself fails, and the writer goes on with the next one. Before each batch the writer
checks that the path still names the file it opened: one replaced by a directory or another file, or removed,
would take acknowledged rows with it, so the batch fails instead. ``ping`` (healthz) is false while the writer is
stuck in a batch, after a failed batch until a commit succeeds, or when the file is gone; in the failed state it
queues a cheap probe (a one-row no-op update, committed) so readiness comes back without waiting for a visitor.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import stat
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from gateway.store import schema
from gateway.store.chain import ERASED, GENESIS, PURGED, ChainReport, ChainVerifier
from gateway.store.codec import from_micros, log_record, to_micros
from gateway.store.groupcommit import PROBE, GroupCommit, Op, write_batch
from gateway.store.records import (
    DEFAULT_TIMEZONE,
    BannerEvent,
    ConsentRecord,
    StoreClosedError,
    StoreError,
    check_range,
)
from gateway.store.rollups import TOP_HOSTS, Increments, split_range
from gateway.store.summary import build_summary

logger = logging.getLogger("gateway.store")

BUSY_TIMEOUT_MS = 10_000  # another process (the `purge` CLI, a second worker) may hold the write lock briefly
WRITE_TIMEOUT = 5.0  # seconds a caller waits for its write to commit before it is told it did not (503)
WRITER_BUSY_TIMEOUT_MS = 4_000  # the writer's wait for the lock: under WRITE_TIMEOUT, so its batch fails first
BATCH_STUCK = 2.0  # seconds a batch may run before ping reports "not ready" (one normally takes milliseconds)
PROBE_WAIT = 1.0  # seconds ping waits for a writability probe; a slower one reports "not ready" and goes on
PURGE_CHUNK = 10_000  # rows per purge transaction, so appends are never held up for long
VERIFY_CHUNK = 10_000  # log rows read per query by verify_log


__all__ = ["SqliteStore", "from_micros", "to_micros"]


class SqliteStore:
    """Consent store in one SQLite file. Use ``async with`` or call ``open()``/``close()`` (the lifespan does)."""

    def __init__(self, path: Path, timezone: str = DEFAULT_TIMEZONE, batch_max: int = 1000) -> None:
        self._batches = GroupCommit(self._write, batch_max, timeout=WRITE_TIMEOUT)
        self.path = Path(path)
        self.timezone = timezone
        self._tz = ZoneInfo(timezone)
        self.batch_max = batch_max
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file as opened
        self._probe: asyncio.Future[int] | None = None
        # Test seam: called with "log" after the log rows are written and "rollup" after the rollups, inside the
        # transaction; raising there must leave no trace of the batch.
        self._fault: Callable[[str], None] | None = None

    @property
    def commits(self) -> int:
        """Transactions committed by the writer: group commit makes this far below the writes."""
        return self._batches.commits

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self._batches.started:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        try:
            await _enable_wal(self._writer)
            await schema.migrate(self._writer)
            await self._writer.execute(f"PRAGMA busy_timeout={WRITER_BUSY_TIMEOUT_MS}")
            self._reader = await self._connect()
            self._identity = _identity(self.path)
        except BaseException:
            await self._writer.close()
            self._writer = None
            raise
        self._probe = None
        self._batches.start(name=f"consent-store-writer:{self.path.name}")

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)  # we issue BEGIN/COMMIT ourselves
        await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA synchronous=FULL")
        return conn

    async def close(self) -> None:
        """Finish every write already queued (their callers are waiting), then close the connections."""
        if not self._batches.started:
            return
        try:
            await self._batches.stop()
        finally:
            for conn in (self._reader, self._writer):
                if conn is not None:
                    await conn.close()
            self._reader = self._writer = None

    async def ping(self) -> bool:
        """Ready when the writer task is alive and not stuck in a batch, the path is still the file opened, the
        last batch committed (else a probe write must commit now) and the file answers a query."""
        if not self._batches.alive or self._reader is None or self._batches.closing:
            return False
        started = self._batches.batch_since
        if started is not None and asyncio.get_running_loop().time() - started > BATCH_STUCK:
            return False  # a lock held elsewhere, a disk that does not answer: writes are 503 right now
        if self._identity is None or _identity(self.path) != self._identity:
            return False
        if self._batches.failed and not await self._probe_writes():
            return False
        try:
            async with self._reader.execute("SELECT 1") as cursor:
                return await cursor.fetchone() == (1,)
        except Exception:  # a broken file means "not ready", which healthz reports; it is not a crash
            logger.exception("store ping failed")
            return False

    async def _probe_writes(self) -> bool:
        """One probe in the queue at a time (healthz may be polled often); wait for it at most ``PROBE_WAIT``."""
        if self._probe is None or self._probe.done():
            op = Op(PROBE, None)
            op.future.add_done_callback(_retrieve)  # nobody may be left waiting to read its outcome
            self._probe = op.future
            self._batches.enqueue(op)
        try:
            await asyncio.wait_for(asyncio.shield(self._probe), PROBE_WAIT)
        except Exception:  # failed or still waiting: not ready; its outcome updates ``failed`` either way
            return False
        return True

    # -- writes: all through the group-commit queue -------------------------------------------------------------

    async def append(self, record: ConsentRecord) -> None:
        await self._batches.append(record)

    async def erase(self, consent_id: str, proof: ConsentRecord | None = None) -> int:
        """Delete every log row of ``consent_id``; return how many went.

        Pass ``proof`` (an ``erase`` record for the same id, kept because the law asks us to be able to show the
        erasure happened) to write it in the same transaction as the deletion: either both happen or neither. The
        rollups keep their counts: they hold no identifier. Writes queued before this call are erased too.
        """
        return await self._batches.erase(consent_id, proof)

    async def record_event(self, event: BannerEvent) -> None:
        await self._batches.record_event(event)

    async def record_csp_report(self, host: str, directive: str, at: datetime) -> None:
        await self._batches.record_csp_report(host, directive, at)

    async def _write(self, batch: list[Op]) -> list[int]:
        """One batch in one ``BEGIN IMMEDIATE`` transaction (gateway.store.groupcommit calls it)."""
        conn = self._writer
        assert conn is not None
        if conn.in_transaction:  # a ROLLBACK that failed last time: end that transaction before a new one
            await _rollback(conn)
        if self._identity is None or _identity(self.path) != self._identity:
            raise StoreError(f"{self.path} is no longer the database file opened: it was removed or replaced")
        await conn.execute("BEGIN IMMEDIATE")
        try:
            # The chain goes on from the head as committed (another process may have written since our last
            # batch); ids come from it too, so an erased id is never given again.
            async with conn.execute(schema.SELECT_HEAD) as cursor:
                head = await cursor.fetchone()
            assert head is not None, "migration 3 writes the head"
            start_id = max(head[0], head[2] or 0)
            results = await write_batch(batch, start_id, head[1], Increments(self._tz), _BatchSql(conn),
                                        self._inject)
            await conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                await _rollback(conn)
            raise
        return results

    def _inject(self, stage: str) -> None:
        if self._fault is not None:
            self._fault(stage)

    # -- reads --------------------------------------------------------------------------------------------------

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        async with self._read().execute(schema.SELECT_HISTORY, (consent_id,)) as cursor:
            rows = await cursor.fetchall()
        return [log_record(row) for row in rows]

    async def revoked_since(self, since: datetime) -> list[tuple[str, datetime]]:
        if since.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        async with self._read().execute(schema.SELECT_REVOKED, (to_micros(since),)) as cursor:
            rows = await cursor.fetchall()
        return [(consent_id, from_micros(at)) for consent_id, at in rows]

    async def summary(self, start: date, end: date) -> dict[str, object]:
        check_range(start, end)
        spans = split_range(start, end)
        cut = (*spans.head, *spans.months, *spans.tail)
        reader = self._read()
        days = await reader.execute_fetchall(schema.SUMMARY_DAYS, (start.isoformat(), end.isoformat()))
        keys = await reader.execute_fetchall(schema.SUMMARY_KEYS, cut)
        hosts = await reader.execute_fetchall(schema.SUMMARY_HOSTS, (*cut, TOP_HOSTS))
        return build_summary(start, end, self.timezone, days, keys, hosts)  # type: ignore[arg-type]

    async def purge(self, before: datetime) -> int:
        """Delete log rows older than ``before`` in chunks of ``PURGE_CHUNK``, then the revocations older than
        ``before``; rollups keep their counts.

        Runs on the reader connection, not through the writer queue: each chunk is its own short transaction,
        so consent writes interleave with a long purge instead of waiting for it.
        """
        if before.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        cutoff = to_micros(before)
        conn = self._read()
        removed = 0
        while True:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                gone = list(await conn.execute_fetchall(
                    "SELECT id, chain FROM consent_log WHERE at < ? ORDER BY id LIMIT ?", (cutoff, PURGE_CHUNK)))
                await conn.executemany(schema.INSERT_LINK,
                                       [(i, c if c is not None else GENESIS, PURGED) for i, c in gone])
                await conn.executemany("DELETE FROM consent_log WHERE id = ?", [(i,) for i, _ in gone])
                count = len(gone)
                await _fold_purged_prefix(conn)
                await conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    await conn.execute("ROLLBACK")
                raise
            removed += count
            if count < PURGE_CHUNK:
                break
        await conn.execute("BEGIN IMMEDIATE")
        try:  # the revocations go with the log rows they came from: the same retention
            await conn.execute(schema.PURGE_REVOKED, (cutoff,))
            await conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
        return removed

    async def verify_log(self) -> ChainReport:
        """Walk the hash chain from the purged prefix to the head (gateway.store.chain); reads only."""
        conn = self._read()
        head = await conn.execute_fetchall("SELECT last_id, chain, base_id, base_chain FROM log_head")
        last_id, head_chain, base_id, base_chain = next(iter(head))
        links = list(await conn.execute_fetchall(
            "SELECT id, chain FROM log_links WHERE id > ? ORDER BY id", (base_id,)))
        verifier = ChainVerifier(base_id, base_chain)
        after, li = base_id, 0
        while verifier.broken is None:
            rows = list(await conn.execute_fetchall(
                f"SELECT id, {schema.LOG_FIELDS}, chain FROM consent_log WHERE id > ? ORDER BY id LIMIT ?",
                (after, VERIFY_CHUNK)))
            for row_id, *fields, chain in rows:
                while li < len(links) and links[li][0] < row_id:
                    verifier.removed_link(*links[li])
                    li += 1
                verifier.row(row_id, tuple(fields), chain)
            if len(rows) < VERIFY_CHUNK:
                break
            after = rows[-1][0]
        for link_id, chain in links[li:]:
            verifier.removed_link(link_id, chain)
        return verifier.finish(last_id, head_chain)

    def _read(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreClosedError("the consent store is closed")
        return self._reader


class _BatchSql:
    """The statements of gateway.store.groupcommit.write_batch on the writer's connection."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def insert_rows(self, rows: list[tuple[Any, ...]]) -> None:
        await self._conn.executemany(schema.INSERT_CHAINED, rows)

    async def erase_rows(self, consent_id: str) -> int:
        links = await self._conn.execute_fetchall(schema.SELECT_ID_LINKS, (consent_id,))
        await self._conn.executemany(schema.INSERT_LINK,
                                     [(i, c if c is not None else GENESIS, ERASED) for i, c in links])
        cursor = await self._conn.execute(schema.DELETE_ID, (consent_id,))
        return max(cursor.rowcount, 0)

    async def probe(self) -> None:  # a real write and commit (WAL append, fsync), changing nothing
        await self._conn.execute("UPDATE log_head SET last_id = last_id")

    async def update_head(self, last_id: int, chain: bytes) -> None:
        await self._conn.execute(schema.UPDATE_HEAD, (last_id, chain))

    async def insert_revoked(self, revoked: list[tuple[str, int]]) -> None:
        await self._conn.executemany(schema.INSERT_REVOKED, revoked)

    async def upsert(self, name: str, rows: list[tuple[Any, ...]]) -> None:
        await self._conn.executemany(getattr(schema, name), rows)


async def _enable_wal(conn: aiosqlite.Connection) -> None:
    """Switch the file to WAL (a no-op once it is). The switch needs the file to itself and SQLite reports a
    concurrent opener as "locked" at once instead of waiting, so retry within the busy timeout."""
    deadline = asyncio.get_running_loop().time() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            async with conn.execute("PRAGMA journal_mode=WAL") as cursor:
                row = await cursor.fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.02)
            continue
        if row is None or str(row[0]).lower() != "wal":
            raise StoreError(f"cannot switch the database to WAL mode (journal_mode is {row!r})")
        return


def _retrieve(future: asyncio.Future[int]) -> None:
    if not future.cancelled():
        future.exception()


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the regular file at ``path``; None when there is none (removed, a directory, unreadable)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


async def _rollback(conn: aiosqlite.Connection) -> None:
    """ROLLBACK, logging instead of raising: the batch's own error is the one to report, and the next batch
    retries the rollback before it begins."""
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        logger.error("consent store rollback failed: %r", exc)


async def _fold_purged_prefix(conn: aiosqlite.Connection) -> None:
    """Once the oldest rows are all gone, their links are not needed: the chain value just before the first
    remaining row becomes the head's base, where verification starts, and the links below it go."""
    head = await conn.execute_fetchall("SELECT base_id, last_id FROM log_head")
    base_id, last_id = next(iter(head))
    first = await conn.execute_fetchall("SELECT MIN(id) FROM consent_log")
    new_base = (next(iter(first))[0] or last_id + 1) - 1
    if new_base <= base_id:
        return
    found = list(await conn.execute_fetchall("SELECT chain FROM log_links WHERE id = ?", (new_base,)))
    if not found:  # a gap that is not a removal: leave it for verify-log to report
        return
    await conn.execute("UPDATE log_head SET base_id = ?, base_chain = ?", (new_base, found[0][0]))
    await conn.execute("DELETE FROM log_links WHERE id <= ?", (new_base,))

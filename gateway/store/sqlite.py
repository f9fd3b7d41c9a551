"""SQLite backend: WAL, synchronous=FULL, group commit, rollups in the same transaction as the log.

Durability: every COMMIT fsyncs the WAL (``synchronous=FULL``), so a write acknowledged to a visitor survives a
power cut. ``NORMAL`` would be faster but may lose the last commits on power loss, which breaks "nothing
acknowledged is ever lost". The fsync is what costs; group commit shares it among every write that arrived while
the previous commit was running: writers put (operation, future) on a queue, ONE writer task takes everything
queued (up to ``batch_max``), writes it in one transaction (log rows with executemany, rollups upserted once per
key after pre-aggregation in Python), commits, and only then resolves the futures. If anything in the batch
fails, the transaction is rolled back and every writer of that batch gets ``StoreWriteError``.

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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

from gateway.store import schema
from gateway.store.chain import ERASED, GENESIS, PURGED, ChainReport, ChainVerifier, link
from gateway.store.records import (
    DEFAULT_TIMEZONE,
    BannerEvent,
    ConsentRecord,
    StoreClosedError,
    StoreError,
    StoreWriteError,
    check_range,
    validate_event,
    validate_record,
)
from gateway.store.rollups import TOP_HOSTS, Increments, rows, split_range
from gateway.store.summary import build_summary
from gateway.vocabulary import ERASE, WITHDRAW, categories_to_mask, mask_to_categories

logger = logging.getLogger("gateway.store")

BUSY_TIMEOUT_MS = 10_000  # another process (the `purge` CLI, a second worker) may hold the write lock briefly
WRITE_TIMEOUT = 5.0  # seconds a caller waits for its write to commit before it is told it did not (503)
WRITER_BUSY_TIMEOUT_MS = 4_000  # the writer's wait for the lock: under WRITE_TIMEOUT, so its batch fails first
BATCH_STUCK = 2.0  # seconds a batch may run before ping reports "not ready" (one normally takes milliseconds)
PROBE_WAIT = 1.0  # seconds ping waits for a writability probe; a slower one reports "not ready" and goes on
PURGE_CHUNK = 10_000  # rows per purge transaction, so appends are never held up for long
VERIFY_CHUNK = 10_000  # log rows read per query by verify_log


def to_micros(at: datetime) -> int:
    delta = at.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class _Op:
    kind: str  # "record" | "erase" | "event" | "csp" | "probe"
    payload: Any
    future: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class SqliteStore:
    """Consent store in one SQLite file. Use ``async with`` or call ``open()``/``close()`` (the lifespan does)."""

    def __init__(self, path: Path, timezone: str = DEFAULT_TIMEZONE, batch_max: int = 1000) -> None:
        if batch_max < 1:
            raise ValueError("batch_max must be at least 1")
        self.path = Path(path)
        self.timezone = timezone
        self._tz = ZoneInfo(timezone)
        self.batch_max = batch_max
        self.commits = 0  # transactions committed by the writer: group commit makes this far below the writes
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[_Op | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file as opened
        self._failed = False  # the last batch failed and none has committed since
        self._batch_since: float | None = None  # loop time the running batch started; None between batches
        self._probe: asyncio.Future[int] | None = None
        # Test seam: called with "log" after the log rows are written and "rollup" after the rollups, inside the
        # transaction; raising there must leave no trace of the batch.
        self._fault: Callable[[str], None] | None = None

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self._task is not None:
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
        self._closing = False
        self._failed = False
        self._batch_since = self._probe = None
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run_writer(), name=f"consent-store-writer:{self.path.name}")

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)  # we issue BEGIN/COMMIT ourselves
        await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA synchronous=FULL")
        return conn

    async def close(self) -> None:
        """Finish every write already queued (their callers are waiting), then close the connections."""
        if self._task is None:
            return
        self._closing = True
        self._queue.put_nowait(None)
        try:
            await self._task
        finally:
            self._task = None
            for conn in (self._reader, self._writer):
                if conn is not None:
                    await conn.close()
            self._reader = self._writer = None

    async def ping(self) -> bool:
        """Ready when the writer task is alive and not stuck in a batch, the path is still the file opened, the
        last batch committed (else a probe write must commit now) and the file answers a query."""
        if self._task is None or self._task.done() or self._reader is None or self._closing:
            return False
        started = self._batch_since
        if started is not None and asyncio.get_running_loop().time() - started > BATCH_STUCK:
            return False  # a lock held elsewhere, a disk that does not answer: writes are 503 right now
        if self._identity is None or _identity(self.path) != self._identity:
            return False
        if self._failed and not await self._probe_writes():
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
            op = _Op("probe", None)
            op.future.add_done_callback(_retrieve)  # nobody may be left waiting to read its outcome
            self._probe = op.future
            self._queue.put_nowait(op)
        try:
            await asyncio.wait_for(asyncio.shield(self._probe), PROBE_WAIT)
        except Exception:  # failed or still waiting: not ready; its outcome updates ``_failed`` either way
            return False
        return True

    # -- writes: all through the group-commit queue -------------------------------------------------------------

    async def append(self, record: ConsentRecord) -> None:
        validate_record(record)
        await self._submit("record", record)

    async def erase(self, consent_id: str, proof: ConsentRecord | None = None) -> int:
        """Delete every log row of ``consent_id``; return how many went.

        Pass ``proof`` (an ``erase`` record for the same id, kept because the law asks us to be able to show the
        erasure happened) to write it in the same transaction as the deletion: either both happen or neither. The
        rollups keep their counts: they hold no identifier. Writes queued before this call are erased too.
        """
        if proof is not None:
            validate_record(proof)
            if proof.consent_id != consent_id or proof.action != ERASE:
                raise ValueError("the erase proof must be an 'erase' record for the erased consent id")
        return await self._submit("erase", (consent_id, proof))

    async def record_event(self, event: BannerEvent) -> None:
        validate_event(event)
        await self._submit("event", event)

    async def record_csp_report(self, host: str, directive: str, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        await self._submit("csp", (host.lower(), directive, at))

    async def _submit(self, kind: str, payload: Any) -> int:
        if self._task is None or self._closing:
            raise StoreClosedError("the consent store is closed")
        if self._task.done():
            raise StoreClosedError("the consent store writer has stopped")
        op = _Op(kind, payload)
        self._queue.put_nowait(op)
        try:
            return await asyncio.wait_for(op.future, WRITE_TIMEOUT)  # cancels it: a batch not yet begun skips it
        except TimeoutError:
            raise StoreWriteError(f"write not committed within {WRITE_TIMEOUT:g} s (the database is locked or "
                                  "not answering)") from None

    async def _run_writer(self) -> None:
        try:
            await self._drain()
        finally:  # never leave a caller waiting on a writer that is gone
            while not self._queue.empty():
                op = self._queue.get_nowait()
                if op is not None and not op.future.done():
                    op.future.set_exception(StoreClosedError("the consent store writer stopped"))

    async def _drain(self) -> None:
        while True:
            first = await self._queue.get()
            batch: list[_Op] = [] if first is None or first.future.done() else [first]
            stop = first is None
            while len(batch) < self.batch_max and not stop:
                try:
                    op = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if op is None:
                    stop = True
                elif not op.future.done():  # done = its caller gave up waiting: nobody to answer, nothing to do
                    batch.append(op)
            if batch:
                await self._commit_batch(batch)
            if stop and self._queue.empty():
                return

    async def _commit_batch(self, batch: list[_Op]) -> None:
        self._batch_since = asyncio.get_running_loop().time()
        try:
            results = await self._write(batch)
        except BaseException as exc:
            self._failed = True
            logger.error("consent store batch of %d writes failed: %r", len(batch), exc)
            for op in batch:
                if not op.future.done():
                    error = StoreWriteError(f"write not committed: {exc!r}")
                    error.__cause__ = exc
                    op.future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        finally:
            self._batch_since = None
        if self._failed:
            logger.warning("consent store writes commit again")
        self._failed = False
        self.commits += 1
        for op, result in zip(batch, results):
            if not op.future.done():  # the caller may have been cancelled; the row is durable all the same
                op.future.set_result(result)

    async def _write(self, batch: list[_Op]) -> list[int]:
        conn = self._writer
        assert conn is not None
        increments = Increments(self._tz)
        results: list[int] = []
        pending: list[tuple[Any, ...]] = []
        revoked: list[tuple[str, int]] = []
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
            last_id, previous = max(head[0], head[2] or 0), head[1]
            start_id = last_id

            def chained(record: ConsentRecord) -> tuple[Any, ...]:
                nonlocal last_id, previous
                last_id += 1
                fields = _row(record)
                previous = link(previous, last_id, fields)
                return (last_id, *fields, previous)

            for op in batch:
                if op.kind == "record":
                    pending.append(chained(op.payload))
                    increments.add_record(op.payload)
                    if op.payload.action == WITHDRAW:
                        revoked.append((op.payload.consent_id, to_micros(op.payload.at)))
                    results.append(0)
                elif op.kind == "erase":
                    consent_id, proof = op.payload
                    if pending:  # keep queue order: rows appended before the erase are erased with it
                        await conn.executemany(schema.INSERT_CHAINED, pending)
                        pending = []
                    links = await conn.execute_fetchall(schema.SELECT_ID_LINKS, (consent_id,))
                    await conn.executemany(schema.INSERT_LINK,
                                           [(i, c if c is not None else GENESIS, ERASED) for i, c in links])
                    cursor = await conn.execute(schema.DELETE_ID, (consent_id,))
                    results.append(max(cursor.rowcount, 0))
                    revoked.append((consent_id, to_micros(proof.at if proof is not None else datetime.now(UTC))))
                    if proof is not None:
                        pending.append(chained(proof))
                        increments.add_record(proof)
                elif op.kind == "event":
                    increments.add_event(op.payload)
                    results.append(0)
                elif op.kind == "probe":  # a real write and commit (WAL append, fsync), changing nothing
                    await conn.execute("UPDATE log_head SET last_id = last_id")
                    results.append(0)
                else:
                    increments.add_csp(*op.payload)
                    results.append(0)
            if pending:
                await conn.executemany(schema.INSERT_CHAINED, pending)
            if last_id != start_id:
                await conn.execute(schema.UPDATE_HEAD, (last_id, previous))
            if revoked:
                await conn.executemany(schema.INSERT_REVOKED, revoked)
            self._inject("log")
            await _upsert(conn, schema.UPSERT_CUBE, [(*k, n) for k, n in increments.cube.items()])
            daily, monthly = increments.counters()
            await _upsert(conn, schema.UPSERT_BY_KEY, rows(daily))
            await _upsert(conn, schema.UPSERT_BY_MONTH, rows(monthly))
            await _upsert(conn, schema.UPSERT_IMPRESSION, [(*k, n) for k, n in increments.impressions.items()])
            await _upsert(conn, schema.UPSERT_CSP, [(*k, n) for k, n in increments.csp.items()])
            await _upsert(conn, schema.UPSERT_CSP_MONTH, [(*k, n) for k, n in increments.csp_monthly().items()])
            self._inject("rollup")
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
        return [_record(row) for row in rows]

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


async def _upsert(conn: aiosqlite.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        await conn.executemany(sql, rows)


def _row(record: ConsentRecord) -> tuple[Any, ...]:
    return (
        record.consent_id, to_micros(record.at), record.action, categories_to_mask(record.categories),
        record.policy_version, record.language, int(record.gpc), record.ip_prefix, record.device, record.browser,
        record.os, record.texts_hash,
    )


def _record(row: Any) -> ConsentRecord:
    consent_id, at, action, mask, policy_version, language, gpc, ip_prefix, device, browser, os, texts_hash = row
    return ConsentRecord(
        consent_id=consent_id, at=from_micros(at), action=action, categories=mask_to_categories(mask),
        policy_version=policy_version, language=language, gpc=bool(gpc), ip_prefix=ip_prefix, device=device,
        browser=browser, os=os, texts_hash=texts_hash,
    )

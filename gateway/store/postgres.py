"""PostgreSQL backend on asyncpg: the SQLite store's contract, for several gateway instances on one database.

The same tables, migrations and statements as SQLite (gateway.store.schema), turned into PostgreSQL's dialect
here (``$n`` placeholders, ``BYTEA``, ``BIGINT`` ids, sums cast back to ``BIGINT``); the same rollup and summary
builders (gateway.store.rollups, gateway.store.summary), so both backends give the same summary for the same data.

- **Migrations** run under a session advisory lock (``pg_advisory_lock``), each in its own transaction with its
  ``schema_version`` row, so instances starting at once apply each migration exactly once.
- **Group commit** as in SQLite, with the same queue and writer task (gateway.store.groupcommit): writers queue
  (operation, future); one writer task takes what is queued, writes it in one transaction on a pooled connection
  (log rows and rollup upserts pipelined by ``executemany``), commits, and only then resolves the futures. A
  batch that fails, or cannot commit because the connection went, raises ``StoreWriteError`` in every writer of
  the batch (a 503, no cookie); the next batch takes a fresh connection from the pool, which reconnects. If the
  connection drops during COMMIT itself the outcome is unknown to us: the writers still get ``StoreWriteError``
  (never a false acknowledgement), and the row may exist.
- **Rollups** are ``INSERT ... ON CONFLICT ... DO UPDATE SET n = table.n + excluded.n``: exact under concurrent
  writers, because the addition happens on the row under its lock. Rows are upserted in key order, so two
  instances' batches lock rollup rows in the same order and cannot deadlock.
- **The hash chain** spans instances: a batch that writes or removes log rows first takes ``log_head FOR UPDATE``,
  which serializes chain extension across every instance, then chains its rows from the committed head.
  ``purge`` takes the same lock per chunk.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from gateway.store import chain, schema
from gateway.store.chain import ERASED, GENESIS, PURGED, ChainReport, ChainVerifier
from gateway.store.codec import from_micros, log_record, to_micros
from gateway.store.groupcommit import ERASE_OP, RECORD, GroupCommit, Op, write_batch
from gateway.store.records import (
    DEFAULT_TIMEZONE,
    BannerEvent,
    ConsentRecord,
    StoreClosedError,
    check_range,
)
from gateway.store.rollups import TOP_HOSTS, Increments, split_range
from gateway.store.summary import build_summary

logger = logging.getLogger("gateway.store")

PURGE_CHUNK = 10_000
VERIFY_CHUNK = 10_000
# pg_advisory_lock key held while migrating: any fixed 64-bit number no other application on the database uses.
MIGRATION_LOCK = 0x636F6E73656E74  # "consent"
CONNECT_TIMEOUT = 10.0  # seconds: a database that does not answer makes the write fail (503), not hang
COMMAND_TIMEOUT = 30.0
APPLICATION_NAME = "consent-gateway"  # what pg_stat_activity shows for the gateway's connections


def dialect(sql: str) -> str:
    """SQLite's statement in PostgreSQL's dialect: ``?`` -> ``$1..$n``, ``BLOB`` -> ``BYTEA``, ids ``BIGINT``,
    no ``WITHOUT ROWID``, sums cast back to ``BIGINT`` (PostgreSQL sums bigints as numeric), and a name for the
    union subqueries of the summary (required before PostgreSQL 16). The shared statements hold no ``?`` inside a
    string literal."""
    sql = sql.replace(schema.WITHOUT_ROWID, "").replace("INTEGER PRIMARY KEY", "BIGINT PRIMARY KEY")
    sql = sql.replace("BLOB", "BYTEA")
    sql = re.sub(r"SUM\((\w+)\)", r"SUM(\1)::BIGINT", sql)
    sql = sql.replace(") GROUP BY", ") AS spans GROUP BY")
    counter = iter(range(1, 1000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


INSERT_CHAINED = dialect(schema.INSERT_CHAINED)
INSERT_LINK = dialect(schema.INSERT_LINK)
LOCK_HEAD = "SELECT last_id, chain FROM log_head FOR UPDATE"
MAX_ID = "SELECT MAX(id) FROM consent_log"
UPDATE_HEAD = dialect(schema.UPDATE_HEAD)
SELECT_ID_LINKS = dialect(schema.SELECT_ID_LINKS)
SELECT_HISTORY = dialect(schema.SELECT_HISTORY)
DELETE_ID = dialect(schema.DELETE_ID)
INSERT_REVOKED = dialect(schema.INSERT_REVOKED)
SELECT_REVOKED = dialect(schema.SELECT_REVOKED)
PURGE_REVOKED = dialect(schema.PURGE_REVOKED)
UPSERTS = {name: dialect(getattr(schema, name)) for name in (
    "UPSERT_CUBE", "UPSERT_BY_KEY", "UPSERT_BY_MONTH", "UPSERT_IMPRESSION", "UPSERT_CSP", "UPSERT_CSP_MONTH")}
SUMMARY_DAYS = dialect(schema.SUMMARY_DAYS)
SUMMARY_KEYS = dialect(schema.SUMMARY_KEYS)
SUMMARY_HOSTS = dialect(schema.SUMMARY_HOSTS)


async def _chain_existing_rows(conn: asyncpg.Connection) -> None:
    """Migration 3 on PostgreSQL (gateway.store.schema._chain_existing_rows): chain the rows already there."""
    previous, expected, last = chain.GENESIS, 1, 0
    while True:
        found = await conn.fetch(dialect(f"SELECT id, {schema.LOG_FIELDS} FROM consent_log WHERE id > ? ORDER BY id"
                                         " LIMIT ?"), last, schema.CHAIN_CHUNK)
        if not found:
            break
        updates, gaps = [], []
        for row_id, *fields in found:
            gaps += [(gap, previous, chain.BEFORE_CHAIN) for gap in range(expected, row_id)]
            previous = chain.link(previous, row_id, tuple(fields))
            updates.append((previous, row_id))
            expected, last = row_id + 1, row_id
        await conn.executemany("UPDATE consent_log SET chain = $1 WHERE id = $2", updates)
        await conn.executemany(INSERT_LINK, gaps)
    await conn.execute("INSERT INTO log_head (one, last_id, chain, base_id, base_chain) VALUES (1, $1, $2, 0, $3)",
                       last, previous, chain.GENESIS)


async def current_version(conn: asyncpg.Connection) -> int:
    if await conn.fetchval("SELECT to_regclass('schema_version')") is None:
        return 0
    return int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version"))


async def migrate(conn: asyncpg.Connection) -> int:
    """Bring the database up to ``schema.LATEST`` under ``pg_advisory_lock``; safe from several instances."""
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        version = await current_version(conn)
        for target, statements in schema.MIGRATIONS:
            if target <= version:
                continue
            async with conn.transaction():
                for statement in statements:
                    if isinstance(statement, str):
                        await conn.execute(dialect(statement))
                    elif statement is schema._chain_existing_rows:
                        await _chain_existing_rows(conn)
                    else:  # a new Python step in schema.py needs its PostgreSQL twin here
                        raise RuntimeError(f"migration {target} has a step PostgreSQL cannot run: {statement!r}")
                await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", target)
            version = target
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    if version > schema.LATEST:
        raise RuntimeError(f"database schema version {version} is newer than this gateway knows ({schema.LATEST})")
    return version


class PostgresStore:
    """Consent store in a PostgreSQL database. Use ``async with`` or call ``open()``/``close()``."""

    def __init__(self, url: str, timezone: str = DEFAULT_TIMEZONE, batch_max: int = 1000, pool_max: int = 4) -> None:
        self._batches = GroupCommit(self._write, batch_max)  # no timeout of its own: COMMAND_TIMEOUT bounds a batch
        self.url = url
        self.timezone = timezone
        self._tz = ZoneInfo(timezone)
        self.batch_max = batch_max
        self.pool_max = pool_max
        self._pool: asyncpg.Pool | None = None
        self._fault: Callable[[str], None] | None = None  # test seam, as in SqliteStore

    @property
    def commits(self) -> int:
        return self._batches.commits

    async def __aenter__(self) -> PostgresStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self._batches.started:
            return
        pool = await asyncpg.create_pool(self.url, min_size=1, max_size=max(2, self.pool_max),
                                         timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT,
                                         server_settings={"application_name": APPLICATION_NAME})
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self._batches.start(name="consent-store-writer:postgres")

    async def close(self) -> None:
        """Finish every write already queued, then close the pool."""
        if not self._batches.started:
            return
        try:
            await self._batches.stop()
        finally:
            if self._pool is not None:
                await self._pool.close()
            self._pool = None

    async def ping(self) -> bool:
        if not self._batches.alive or self._pool is None:
            return False
        try:
            return bool(await self._pool.fetchval("SELECT 1", timeout=5) == 1)
        except Exception:  # an unreachable database means "not ready", which healthz reports
            logger.exception("store ping failed")
            return False

    # -- writes: all through the group-commit queue -------------------------------------------------------------

    async def append(self, record: ConsentRecord) -> None:
        await self._batches.append(record)

    async def erase(self, consent_id: str, proof: ConsentRecord | None = None) -> int:
        """Delete every log row of ``consent_id`` and append ``proof`` in the same transaction (SqliteStore.erase)."""
        return await self._batches.erase(consent_id, proof)

    async def record_event(self, event: BannerEvent) -> None:
        await self._batches.record_event(event)

    async def record_csp_report(self, host: str, directive: str, at: datetime) -> None:
        await self._batches.record_csp_report(host, directive, at)

    async def _write(self, batch: list[Op]) -> list[int]:
        pool = self._live_pool()
        async with pool.acquire() as conn, conn.transaction():
            return await self._write_in(conn, batch)

    async def _write_in(self, conn: asyncpg.Connection, batch: list[Op]) -> list[int]:
        start_id, previous = 0, GENESIS
        if any(op.kind in (RECORD, ERASE_OP) for op in batch):
            # Every instance's chain extension waits here for the others': the head row is the chain's lock.
            head = await conn.fetchrow(LOCK_HEAD)
            assert head is not None, "migration 3 writes the head"
            start_id, previous = max(head[0], await conn.fetchval(MAX_ID) or 0), bytes(head[1])
        return await write_batch(batch, start_id, previous, Increments(self._tz), _BatchSql(conn), self._inject)

    def _inject(self, stage: str) -> None:
        if self._fault is not None:
            self._fault(stage)

    # -- reads --------------------------------------------------------------------------------------------------

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        found = await self._live_pool().fetch(SELECT_HISTORY, consent_id)
        return [log_record(tuple(row)) for row in found]

    async def revoked_since(self, since: datetime) -> list[tuple[str, datetime]]:
        if since.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        found = await self._live_pool().fetch(SELECT_REVOKED, to_micros(since))
        return [(consent_id, from_micros(at)) for consent_id, at in found]

    async def summary(self, start: date, end: date) -> dict[str, object]:
        check_range(start, end)
        spans = split_range(start, end)
        cut = (*spans.head, *spans.months, *spans.tail)
        async with self._live_pool().acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            days = await conn.fetch(SUMMARY_DAYS, start.isoformat(), end.isoformat())
            keys = await conn.fetch(SUMMARY_KEYS, *cut)
            hosts = await conn.fetch(SUMMARY_HOSTS, *cut, TOP_HOSTS)
        return build_summary(start, end, self.timezone, _tuples(days), _tuples(keys),
                             [(host, n) for host, n in hosts])

    async def purge(self, before: datetime) -> int:
        """Delete log rows older than ``before`` in chunks, then the older revocations; rollups keep their counts.

        Each chunk is its own transaction holding the chain's lock (``log_head FOR UPDATE``) briefly, so consent
        writes from every instance interleave with a long purge instead of waiting for all of it."""
        if before.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        cutoff = to_micros(before)
        removed = 0
        pool = self._live_pool()
        while True:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(LOCK_HEAD)
                gone = await conn.fetch("SELECT id, chain FROM consent_log WHERE at < $1 ORDER BY id LIMIT $2",
                                        cutoff, PURGE_CHUNK)
                await conn.executemany(INSERT_LINK, [(i, bytes(c) if c is not None else GENESIS, PURGED)
                                                     for i, c in gone])
                await conn.execute("DELETE FROM consent_log WHERE id = ANY($1::BIGINT[])", [i for i, _ in gone])
                await _fold_purged_prefix(conn)
            removed += len(gone)
            if len(gone) < PURGE_CHUNK:
                break
        await pool.execute(PURGE_REVOKED, cutoff)
        return removed

    async def verify_log(self) -> ChainReport:
        """Walk the hash chain (gateway.store.chain) in one consistent snapshot; reads only."""
        async with self._live_pool().acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            last_id, head_chain, base_id, base_chain = await conn.fetchrow(
                "SELECT last_id, chain, base_id, base_chain FROM log_head")
            links = await conn.fetch("SELECT id, chain FROM log_links WHERE id > $1 ORDER BY id", base_id)
            verifier = ChainVerifier(base_id, bytes(base_chain))
            after, li = base_id, 0
            while verifier.broken is None:
                found = await conn.fetch(f"SELECT id, {schema.LOG_FIELDS}, chain FROM consent_log WHERE id > $1"
                                         " ORDER BY id LIMIT $2", after, VERIFY_CHUNK)
                for row_id, *fields, value in found:
                    while li < len(links) and links[li][0] < row_id:
                        verifier.removed_link(links[li][0], bytes(links[li][1]))
                        li += 1
                    verifier.row(row_id, tuple(fields), None if value is None else bytes(value))
                if len(found) < VERIFY_CHUNK:
                    break
                after = found[-1][0]
            for link_id, value in links[li:]:
                verifier.removed_link(link_id, bytes(value))
        return verifier.finish(last_id, bytes(head_chain))

    def _live_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreClosedError("the consent store is closed")
        return self._pool


class _BatchSql:
    """The statements of gateway.store.groupcommit.write_batch on the batch's pooled connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def insert_rows(self, rows: list[tuple[Any, ...]]) -> None:
        await self._conn.executemany(INSERT_CHAINED, rows)

    async def erase_rows(self, consent_id: str) -> int:
        links = await self._conn.fetch(SELECT_ID_LINKS, consent_id)
        await self._conn.executemany(INSERT_LINK, [(i, bytes(c) if c is not None else GENESIS, ERASED)
                                                   for i, c in links])
        return _rowcount(await self._conn.execute(DELETE_ID, consent_id))

    async def probe(self) -> None:  # SqliteStore's readiness probe; PostgreSQL's ping asks the server instead
        await self._conn.execute("SELECT 1")

    async def update_head(self, last_id: int, chain: bytes) -> None:
        await self._conn.execute(UPDATE_HEAD, last_id, chain)

    async def insert_revoked(self, revoked: list[tuple[str, int]]) -> None:
        await self._conn.executemany(INSERT_REVOKED, revoked)

    async def upsert(self, name: str, rows: list[tuple[Any, ...]]) -> None:
        """In key order (every column but the counts leads the tuple), so concurrent batches lock rollup rows in one
        order and never deadlock each other."""
        await self._conn.executemany(UPSERTS[name], sorted(rows))


async def _fold_purged_prefix(conn: asyncpg.Connection) -> None:
    """As in the SQLite store: once the oldest rows are all gone, fold their links into the head's base."""
    base_id, last_id = await conn.fetchrow("SELECT base_id, last_id FROM log_head")
    first = await conn.fetchval("SELECT MIN(id) FROM consent_log")
    new_base = (first or last_id + 1) - 1
    if new_base <= base_id:
        return
    found = await conn.fetchval("SELECT chain FROM log_links WHERE id = $1", new_base)
    if found is None:  # a gap that is not a removal: leave it for verify-log to report
        return
    await conn.execute("UPDATE log_head SET base_id = $1, base_chain = $2", new_base, found)
    await conn.execute("DELETE FROM log_links WHERE id <= $1", new_base)


def _rowcount(status: str) -> int:
    """asyncpg returns the command tag, e.g. ``DELETE 3``."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _tuples(found: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in found]

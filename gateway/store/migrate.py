"""Copy a consent store into another database (``consent-gateway migrate-db``): SQLite to PostgreSQL, and back.

Every table is copied as it is, values and ids unchanged, so the hash chain (gateway.store.chain) verifies on
the target and its head is the source's: the log rows with their chain values, the links of removed rows, the
revocations, the rollups (which outlive erasure and purge, so they cannot be rebuilt from the log) and the head.

Order and resumability. The log and the links are copied in batches of ``batch`` rows, each batch its own
transaction, in id order; then the revocations, the rollups and the head go in ONE last transaction. Until
that one commits the target's head is still empty, so a run that was interrupted (killed, connection lost) left
a prefix of the log and nothing else, and the next run checks that prefix against the source (same count, same
chain value at its last id) and goes on after it. Reads come from one snapshot of the source; nothing is ever
held in memory beyond a batch.

Refusals, before anything is written: a source whose chain does not verify (copying it would hand the target a
broken legal record), and a target that holds anything else: a log with another head, rows that are not a
prefix of the source's, or rollups or revocations while its head is empty. A target that already holds exactly
this copy (the same head, the same count and content per table) is left alone and reported as such.

Verification after the copy: the row count of every table equal on both sides, the content of every table but
the log equal (an order-free digest: sums of row hashes), the same head, and ``verify_log`` OK on the target.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gateway.store import open_store
from gateway.store.chain import GENESIS, ChainReport
from gateway.store.connections import Connection, PostgresConnection, Row, SqliteConnection
from gateway.store.records import StoreError
from gateway.store.rollups import COUNTS
from gateway.store.schema import LOG_FIELDS
from gateway.store.sqlite import SqliteStore

DEFAULT_BATCH = 10_000
CONNECT_TIMEOUT = 10.0
MIGRATE_LOCK = 0x636F6E73656E75  # pg_try_advisory_lock key while a migrate-db writes (the migration lock + 1)

LOG = "consent_log"
LINKS = "log_links"
# table -> columns, in the order the key sorts (the log and the links by id). Every table of the schema but
# schema_version (each side migrates itself) and log_head (written last) is here; tests/store/test_migrate.py
# checks that against the schema, so a new table cannot be forgotten.
TABLES: dict[str, tuple[str, ...]] = {
    LOG: ("id", *LOG_FIELDS.split(", "), "chain"),
    LINKS: ("id", "chain", "reason"),
    "revoked": ("consent_id", "at"),
    "decision_daily": ("day", "action", "policy_version", "language", "device", "browser", "os", "gpc",
                       "categories", "n"),
    "daily_by_key": ("dim", "day", "key", *COUNTS),
    "monthly_by_key": ("dim", "month", "key", *COUNTS),
    "impression_daily": ("day", "event", "policy_version", "language", "device", "browser", "os", "n"),
    "csp_daily": ("day", "host", "directive", "n"),
    "csp_monthly": ("month", "host", "n"),
}
LAST = [name for name in TABLES if name not in (LOG, LINKS)]  # copied in the last transaction, with the head
HEAD = "SELECT last_id, chain, base_id, base_chain FROM log_head"
EMPTY_HEAD = (0, GENESIS, 0, GENESIS)


class MigrateError(StoreError):
    """Nothing (more) was copied, for the reason in the message; ``usage`` is a bad URL or an unreachable
    database (the CLI's exit 2), otherwise the data refused the copy (exit 1)."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass(frozen=True)
class Outcome:
    counts: dict[str, int]  # rows per table, equal on both sides
    copied: dict[str, int]  # rows this run copied per table; empty when the target already held this copy
    report: ChainReport  # verify_log on the target

    @property
    def already(self) -> bool:
        return not self.copied


Progress = Callable[[str], None]


async def migrate_db(source_url: str, target_url: str, batch: int = DEFAULT_BATCH,
                     progress: Progress = lambda line: None) -> Outcome:
    """Copy ``source_url``'s store into ``target_url``'s, verify, and say what was done (module docstring)."""
    if batch < 1:
        raise MigrateError("--batch must be at least 1", usage=True)
    source, target = _endpoint(source_url, "--from"), _endpoint(target_url, "--to")
    if isinstance(source, Path) and not source.is_file():
        raise MigrateError(f"--from: no SQLite file at {source}", usage=True)
    if _same(source, target):
        raise MigrateError("--from and --to name the same database", usage=True)
    await _prepare(target_url, target)  # the target's tables, made by its own store's migrations; reachable?
    report = await _verify(source_url, source, "the source")
    if not report.ok:
        raise MigrateError(f"the source's consent log does not verify: row {report.broken_id}: {report.problem}; "
                           "nothing copied (`consent-gateway verify-log` shows the same)")
    src = await _connect(source, source_url)
    try:
        dst = await _connect(target, target_url)
    except BaseException:
        await src.close()
        raise
    try:
        if isinstance(dst, PostgresConnection) and not await dst.try_lock(MIGRATE_LOCK):
            raise MigrateError(f"another migrate-db is writing to {dst.name}")
        async with src.snapshot():
            copied = await _copy(src, dst, batch, progress)
            counts = {name: await _count(src, name) for name in TABLES}
            wanted = (await _head(src), await _digests(src))
    except MigrateError:
        raise
    except Exception as exc:  # a lost connection, a full disk: what was committed stays, and is resumed from
        raise MigrateError(f"interrupted: {_first_line(exc)}; run migrate-db again to go on where it stopped") from None
    finally:
        await src.close()
        await dst.close()
    return await _check(target_url, target, counts, wanted, copied)


async def _copy(src: Connection, dst: Connection, batch: int, progress: Progress) -> dict[str, int]:
    """Copy what the target lacks; ``{}`` when it already holds this copy."""
    src_head, dst_head = await _head(src), await _head(dst)
    src_counts = {name: await _count(src, name) for name in TABLES}
    dst_counts = {name: await _count(dst, name) for name in TABLES}
    if dst_head == src_head and dst_counts == src_counts and await _digests(dst) == await _digests(src):
        progress(f"{dst.name} already holds this copy of {src.name}: nothing to copy")
        return {}
    if dst_head != EMPTY_HEAD:
        raise MigrateError(f"{dst.name} already holds a consent log ({dst_counts[LOG]} rows, head "
                           f"{dst_head[1].hex()[:16]}…) that is not the source's; nothing copied: migrate into an "
                           "empty database")
    if busy := [name for name in LAST if dst_counts[name]]:
        raise MigrateError(f"{dst.name} is not empty ({', '.join(busy)} hold rows) but has no consent log; "
                           "nothing copied: migrate into an empty database")
    copied = {}
    for name in (LOG, LINKS):
        after = await _resume_after(src, dst, name)
        copied[name] = await _copy_table(src, dst, name, batch, progress, after, src_counts[name])
    async with dst.transaction():  # everything else and the head together: the head says the copy is whole
        for name in LAST:
            copied[name] = await _copy_rows(src, dst, name, batch, progress, src_counts[name])
        await dst.execute("UPDATE log_head SET last_id = ?, chain = ?, base_id = ?, base_chain = ?", *src_head)
    return copied


async def _resume_after(src: Connection, dst: Connection, name: str) -> int:
    """The last id an interrupted run copied (0 for none), once the target's rows are checked to be the source's
    prefix: the same count up to that id and the same chain value at it (which hashes everything before it)."""
    [(count, last)] = await dst.fetch(f"SELECT COUNT(*), MAX(id) FROM {name}")
    if not count:
        return 0
    [(theirs,)] = await src.fetch(f"SELECT COUNT(*) FROM {name} WHERE id <= ?", last)
    ours = await dst.fetch(f"SELECT chain FROM {name} WHERE id = ?", last)
    source = await src.fetch(f"SELECT chain FROM {name} WHERE id = ?", last)
    if theirs != count or not source or bytes(source[0][0]) != bytes(ours[0][0]):
        raise MigrateError(f"{dst.name} holds {count} {name} rows that are not the source's (an interrupted copy "
                           "of another database, or the source changed since); nothing copied: migrate into an "
                           "empty database")
    return int(last)


async def _copy_table(src: Connection, dst: Connection, name: str, batch: int, progress: Progress, after: int,
                      total: int) -> int:
    """Rows with id > ``after`` in id order, each batch committed on its own (resumable)."""
    columns = TABLES[name]
    done = 0
    if after:
        [(done,)] = await dst.fetch(f"SELECT COUNT(*) FROM {name}")
        progress(f"{name}: {done} rows copied by an earlier run, going on after id {after}")
    copied = 0
    async for rows in src.stream(f"SELECT {', '.join(columns)} FROM {name} WHERE id > ? ORDER BY id", batch, after):
        async with dst.transaction():
            await dst.insert(name, columns, rows)
        copied += len(rows)
        progress(f"{name}: {done + copied} of {total} rows")
    return copied


async def _copy_rows(src: Connection, dst: Connection, name: str, batch: int, progress: Progress,
                     total: int) -> int:
    """Every row, in the caller's transaction."""
    columns = TABLES[name]
    copied = 0
    async for rows in src.stream(f"SELECT {', '.join(columns)} FROM {name}", batch):
        await dst.insert(name, columns, rows)
        copied += len(rows)
        progress(f"{name}: {copied} of {total} rows")
    return copied


async def _check(url: str, where: Path | str, counts: dict[str, int], wanted: tuple[Any, ...],
                 copied: dict[str, int]) -> Outcome:
    """Counts, digests and head as the source's snapshot had them, and the chain verifying on the target."""
    dst = await _connect(where, url)
    try:
        found = {name: await _count(dst, name) for name in TABLES}
        head, digests = await _head(dst), await _digests(dst)
    finally:
        await dst.close()
    if differ := [f"{name} {found[name]} != {counts[name]}" for name in TABLES if found[name] != counts[name]]:
        raise MigrateError(f"verification failed: row counts differ ({'; '.join(differ)})")
    if (head, digests) != wanted:
        raise MigrateError("verification failed: the target's head or table contents differ from the source's")
    report = await _verify(url, where, "the target")
    if not report.ok:
        raise MigrateError(f"verification failed: the target's chain breaks at row {report.broken_id}: "
                           f"{report.problem}")
    return Outcome(counts, copied, report)


# -- helpers ----------------------------------------------------------------------------------------------------


def _endpoint(url: str, flag: str) -> Path | str:
    """A SQLite file's path, or the PostgreSQL URL; anything else is a usage error naming the flag."""
    try:
        store = open_store(url)  # builds, does not open: the one place store URLs are parsed
    except ValueError as exc:
        raise MigrateError(f"{flag}: {exc}", usage=True) from None
    if isinstance(store, SqliteStore):
        return store.path
    if url.startswith(("postgres://", "postgresql://")):
        return url
    raise MigrateError(f"{flag}: {url!r} holds nothing to migrate: use sqlite:///path or postgresql://...",
                       usage=True)


def _same(a: Path | str, b: Path | str) -> bool:
    if isinstance(a, Path) and isinstance(b, Path):
        return a.resolve() == b.resolve()
    return a == b


def redact(url: str) -> str:
    """The URL as messages show it: without its password."""
    parts = urlsplit(url)
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        parts = parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}")
    query = "&".join("password=***" if item.startswith("password=") else item for item in parts.query.split("&"))
    return urlunsplit(parts._replace(query=query))


async def _connect(where: Path | str, url: str) -> Connection:
    try:
        if isinstance(where, Path):
            return await SqliteConnection.open(where)
        return await PostgresConnection.open(url, redact(url), CONNECT_TIMEOUT)
    except Exception as exc:
        raise _unusable(where, exc) from None


async def _verify(url: str, where: Path | str, role: str) -> ChainReport:
    """Open the store as the gateway would (its migrations bring an older file up to date) and walk the chain."""
    try:
        if isinstance(where, Path):
            async with SqliteStore(where) as sqlite_store:
                return await sqlite_store.verify_log()
        from gateway.store.postgres import PostgresStore  # asyncpg only for those who use it

        async with PostgresStore(where) as postgres_store:
            return await postgres_store.verify_log()
    except Exception as exc:
        raise _unusable(where, exc, role) from None


async def _prepare(url: str, where: Path | str) -> None:
    try:
        async with open_store(url):
            pass
    except Exception as exc:
        raise _unusable(where, exc, "the target") from None


def _unusable(where: Path | str, exc: Exception, role: str = "the database") -> MigrateError:
    name = str(where) if isinstance(where, Path) else redact(where)
    return MigrateError(f"cannot use {role} {name}: {_first_line(exc)}", usage=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def _count(conn: Connection, name: str) -> int:
    [(n,)] = await conn.fetch(f"SELECT COUNT(*) FROM {name}")
    return int(n)


async def _head(conn: Connection) -> tuple[Any, ...]:
    [(last_id, chain, base_id, base_chain)] = await conn.fetch(HEAD)
    return (int(last_id), bytes(chain), int(base_id), bytes(base_chain))


async def _digests(conn: Connection) -> dict[str, int]:
    """Per table but the log (its head and chain prove it), an order-free digest of the rows: the sum of each
    row's sha256, so SQLite's and PostgreSQL's different text orderings give the same value."""
    found = {}
    for name in (LINKS, *LAST):
        total = 0
        async for rows in conn.stream(f"SELECT {', '.join(TABLES[name])} FROM {name}", DEFAULT_BATCH):
            for row in rows:
                total += int.from_bytes(hashlib.sha256(_canonical(row)).digest(), "big")
        found[name] = total % (1 << 256)
    return found


def _canonical(row: Row) -> bytes:
    return repr(tuple(bytes(v) if isinstance(v, (bytes, memoryview)) else v for v in row)).encode()

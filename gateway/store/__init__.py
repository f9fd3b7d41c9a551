"""Consent storage: ``open_store`` picks a backend from a URL; the records and the protocol are re-exported.

The store knows no HTTP. Routes write through ``append``/``erase``/``record_event``/``record_csp_report`` and the
admin side reads ``summary``; every backend passes the same contract suite (tests/store/).

Modules: ``records`` (records, ``ConsentStore`` protocol, errors, checks), ``rollups`` (what a batch of writes adds
to the rollups), ``summary`` (the analyst summary built from rollup rows), ``schema`` (SQL), ``codec`` (a record as
a SQL row), ``groupcommit`` (the SQL stores' shared batch writer), ``chain`` (the hash chain), and the backends
``memory``, ``sqlite`` and ``postgres``. Imports go one way: the backends import those modules, only this one
imports the backends, apart from ``migrate`` (``migrate-db``: copying a store into another database, over the
plain connections of ``connections``), which sits above the package and is imported by the CLI alone.

Guarantees every backend gives:
- ``append`` (and the other writes) return only once the write is durable; several concurrent writes share one
  commit (group commit) and a failed commit raises ``StoreWriteError`` in every writer of that batch.
- Rollups are updated in the same transaction as the log, so a crash never double-counts or misses a record.
- The log is append-only apart from ``erase`` (right to destruction) and ``purge`` (retention); rollups hold no
  identifier and survive both. The SQL logs are hash-chained (``store.chain``), and stays verifiable across both.
- Records from bots (device ``"bot"``) are logged if they arrive but never count in the summary.
"""

from __future__ import annotations

import re
from pathlib import Path

from gateway.store.memory import MemoryStore
from gateway.store.records import (
    DEFAULT_TIMEZONE,
    MAX_RANGE_DAYS,
    BannerEvent,
    ConsentRecord,
    ConsentStore,
    StoreClosedError,
    StoreError,
    StoreWriteError,
)
from gateway.store.sqlite import SqliteStore

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def open_store(url: str, timezone: str = DEFAULT_TIMEZONE, **options: int) -> ConsentStore:
    """Build (not open) a store from a URL: ``sqlite:///relative/or//abs/path.db``, a plain path, ``memory:``, or
    ``postgresql://user@host:port/database`` (gateway.store.postgres).

    The result is also an async context manager: ``async with open_store(url) as store: ...`` opens and closes it.
    Keyword options go to the backend constructor (``batch_max`` for SQLite and PostgreSQL).
    """
    if url in ("memory:", "memory://"):
        return MemoryStore(timezone=timezone)
    if url.startswith(("postgres://", "postgresql://")):
        from gateway.store.postgres import PostgresStore  # asyncpg is loaded only by those who use it

        return PostgresStore(url, timezone=timezone, **options)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise ValueError(f"bad SQLite URL {url!r}: expected sqlite:///path/to/file.db")
        path = path[1:]  # sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db (SQLAlchemy's convention)
    elif "://" in url or _SCHEME.match(url):  # "sqlite:" is a mistyped URL, not a file to create here
        raise ValueError(f"unsupported store URL {url!r}: use sqlite:///path, postgresql://..., a file path or memory:")
    else:
        path = url
    if not path:
        raise ValueError(f"bad store URL {url!r}: no file path")
    return SqliteStore(Path(path), timezone=timezone, **options)


__all__ = [
    "DEFAULT_TIMEZONE",
    "MAX_RANGE_DAYS",
    "BannerEvent",
    "ConsentRecord",
    "ConsentStore",
    "StoreClosedError",
    "StoreError",
    "StoreWriteError",
    "open_store",
]

"""Plain connections to a store's database, for tools that copy tables as they are (gateway.store.migrate).

One small interface over aiosqlite and asyncpg: statements are written once with ``?`` placeholders (PostgreSQL
gets ``$n``), reads stream in batches from one consistent snapshot, writes go in explicit transactions. No
gateway logic here: the stores' own writers never use it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from gateway.store.sqlite import BUSY_TIMEOUT_MS

Row = tuple[Any, ...]


class Connection(Protocol):
    name: str  # how messages name the database: a path, or the URL without its password

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    def stream(self, sql: str, size: int, *args: Any) -> AsyncIterator[list[Row]]: ...

    async def insert(self, table: str, columns: tuple[str, ...], rows: list[Row]) -> None: ...

    async def execute(self, sql: str, *args: Any) -> None: ...

    def transaction(self) -> Any: ...  # async context manager: one write transaction

    def snapshot(self) -> Any: ...  # async context manager: every read inside sees the same committed state

    async def close(self) -> None: ...


class SqliteConnection:
    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.name = str(path)

    @classmethod
    async def open(cls, path: Path) -> SqliteConnection:
        conn = await aiosqlite.connect(path, isolation_level=None)  # BEGIN/COMMIT are ours
        await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA synchronous=FULL")  # a batch reported copied is on disk, as the store's are
        return cls(conn, path)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return [tuple(row) for row in await self._conn.execute_fetchall(sql, args)]

    async def stream(self, sql: str, size: int, *args: Any) -> AsyncIterator[list[Row]]:
        async with self._conn.execute(sql, args) as cursor:
            while rows := await cursor.fetchmany(size):
                yield [tuple(row) for row in rows]

    async def insert(self, table: str, columns: tuple[str, ...], rows: list[Row]) -> None:
        await self._conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                     f"({', '.join('?' for _ in columns)})", rows)

    async def execute(self, sql: str, *args: Any) -> None:
        await self._conn.execute(sql, args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        await self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            await self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                await self._conn.execute("ROLLBACK")
            raise

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        await self._conn.execute("BEGIN")  # deferred: the first read fixes the snapshot (WAL)
        try:
            yield
        finally:
            if self._conn.in_transaction:
                await self._conn.execute("COMMIT")

    async def close(self) -> None:
        await self._conn.close()


class PostgresConnection:
    def __init__(self, conn: Any, name: str) -> None:
        self._conn = conn
        self.name = name

    @classmethod
    async def open(cls, url: str, name: str, timeout: float) -> PostgresConnection:
        import asyncpg

        from gateway.store.postgres import APPLICATION_NAME

        conn = await asyncpg.connect(url, timeout=timeout, server_settings={"application_name": APPLICATION_NAME})
        return cls(conn, name)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return [tuple(row) for row in await self._conn.fetch(numbered(sql), *args)]

    async def stream(self, sql: str, size: int, *args: Any) -> AsyncIterator[list[Row]]:
        """A server-side cursor, which lives in a transaction: the snapshot's, or one of its own."""
        if not self._conn.is_in_transaction():
            async with self._conn.transaction(isolation="repeatable_read", readonly=True):
                async for rows in self.stream(sql, size, *args):
                    yield rows
            return
        cursor = await self._conn.cursor(numbered(sql), *args)
        while rows := await cursor.fetch(size):
            yield [tuple(row) for row in rows]

    async def insert(self, table: str, columns: tuple[str, ...], rows: list[Row]) -> None:
        """COPY (binary), several times faster than INSERT for a batch of thousands of rows."""
        await self._conn.copy_records_to_table(table, records=rows, columns=list(columns))

    async def execute(self, sql: str, *args: Any) -> None:
        await self._conn.execute(numbered(sql), *args)

    def transaction(self) -> Any:
        return self._conn.transaction()

    def snapshot(self) -> Any:
        return self._conn.transaction(isolation="repeatable_read", readonly=True)

    async def try_lock(self, key: int) -> bool:
        """A session advisory lock, released when the connection closes."""
        return bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", key))

    async def close(self) -> None:
        await self._conn.close()


def numbered(sql: str) -> str:
    """``?`` -> ``$1..$n`` (the statements here hold no ``?`` inside a string literal)."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)

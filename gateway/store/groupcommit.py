"""Group commit, shared by the SQLite and PostgreSQL stores: the queue, the writer task, and what a batch does.

Writers put an ``Op`` (kind, payload, future) on a queue; ONE writer task takes everything queued (up to
``batch_max``), hands the batch to the backend's ``write`` (one transaction, committed before it returns), and
only then resolves the futures. If ``write`` raises, nothing of the batch was kept: every writer of that batch
gets ``StoreWriteError`` and the writer goes on with the next batch. An op whose caller stopped waiting before
its batch began (cancelled, or past the store's write timeout) is skipped: nobody is there to answer.

``write_batch`` is the part of a batch that does not depend on the database: the ops in queue order, ids and
chain values given from the committed head (gateway.store.chain), rows flushed before an erase so that rows
appended before it are erased with it, then the head, the revocations and the rollups. The backend opens and
commits the transaction, reads the head (how it locks it differs) and supplies the statements (``BatchSql``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from gateway.store.chain import link
from gateway.store.codec import log_row, to_micros
from gateway.store.records import (
    BannerEvent,
    ConsentRecord,
    StoreClosedError,
    StoreWriteError,
    validate_event,
    validate_record,
)
from gateway.store.rollups import Increments, rows
from gateway.vocabulary import ERASE, WITHDRAW

logger = logging.getLogger("gateway.store")

RECORD, ERASE_OP, EVENT, CSP, PROBE = "record", "erase", "event", "csp", "probe"


@dataclass(slots=True)
class Op:
    kind: str  # RECORD | ERASE_OP | EVENT | CSP | PROBE
    payload: Any
    future: asyncio.Future[int] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


Write = Callable[[list[Op]], Awaitable[list[int]]]


class GroupCommit:
    """The queue and the writer task; ``write(batch)`` commits one batch and returns one result per op."""

    def __init__(self, write: Write, batch_max: int, timeout: float | None = None) -> None:
        if batch_max < 1:
            raise ValueError("batch_max must be at least 1")
        self._write = write
        self.batch_max = batch_max
        self.timeout = timeout  # seconds a caller waits for its commit; None: as long as the write takes
        self.commits = 0  # batches committed: group commit makes this far below the writes
        self.failed = False  # the last batch failed and none has committed since
        self.batch_since: float | None = None  # loop time the running batch started; None between batches
        self.closing = False
        self._queue: asyncio.Queue[Op | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self._task is not None

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, name: str) -> None:
        self.closing = self.failed = False
        self.batch_since = None
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=name)

    async def stop(self) -> None:
        """Finish every write already queued (their callers are waiting), then end the writer task."""
        if self._task is None:
            return
        self.closing = True
        self._queue.put_nowait(None)
        try:
            await self._task
        finally:
            self._task = None

    def enqueue(self, op: Op) -> None:
        """Queue an op nobody awaits through ``submit`` (the SQLite store's writability probe)."""
        self._queue.put_nowait(op)

    # -- the writes every SQL store offers, checked before they are queued ----------------------------------------

    async def append(self, record: ConsentRecord) -> None:
        validate_record(record)
        await self.submit(RECORD, record)

    async def erase(self, consent_id: str, proof: ConsentRecord | None) -> int:
        if proof is not None:
            validate_record(proof)
            if proof.consent_id != consent_id or proof.action != ERASE:
                raise ValueError("the erase proof must be an 'erase' record for the erased consent id")
        return await self.submit(ERASE_OP, (consent_id, proof))

    async def record_event(self, event: BannerEvent) -> None:
        validate_event(event)
        await self.submit(EVENT, event)

    async def record_csp_report(self, host: str, directive: str, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        await self.submit(CSP, (host.lower(), directive, at))

    async def submit(self, kind: str, payload: Any) -> int:
        if self._task is None or self.closing:
            raise StoreClosedError("the consent store is closed")
        if self._task.done():
            raise StoreClosedError("the consent store writer has stopped")
        op = Op(kind, payload)
        self._queue.put_nowait(op)
        if self.timeout is None:
            return await op.future
        try:
            return await asyncio.wait_for(op.future, self.timeout)  # cancels it: a batch not yet begun skips it
        except TimeoutError:
            raise StoreWriteError(f"write not committed within {self.timeout:g} s (the database is locked or "
                                  "not answering)") from None

    # -- the writer task ----------------------------------------------------------------------------------------

    async def _run(self) -> None:
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
            batch: list[Op] = [] if first is None or first.future.done() else [first]
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
                await self._commit(batch)
            if stop and self._queue.empty():
                return

    async def _commit(self, batch: list[Op]) -> None:
        self.batch_since = asyncio.get_running_loop().time()
        try:
            results = await self._write(batch)
        except BaseException as exc:
            self.failed = True
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
            self.batch_since = None
        if self.failed:
            logger.warning("consent store writes commit again")
        self.failed = False
        self.commits += 1
        for op, result in zip(batch, results):
            if not op.future.done():  # the caller may have been cancelled; the row is durable all the same
                op.future.set_result(result)


# -- one batch, inside the backend's transaction ------------------------------------------------------------------


class BatchSql(Protocol):
    """The statements a batch needs from its backend, run in the batch's transaction."""

    async def insert_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert chained log rows: (id, *log fields, chain)."""

    async def erase_rows(self, consent_id: str) -> int:
        """Keep the links of ``consent_id``'s rows (reason ERASED), delete the rows, return how many went."""

    async def probe(self) -> None:
        """A real write that changes nothing (SQLite's writability probe)."""

    async def update_head(self, last_id: int, chain: bytes) -> None: ...

    async def insert_revoked(self, revoked: list[tuple[str, int]]) -> None: ...

    async def upsert(self, name: str, rows: list[tuple[Any, ...]]) -> None:
        """Add ``rows`` to a rollup with the statement ``schema.<name>``; only called with rows."""


@dataclass(slots=True)
class Applied:
    """What ``apply_batch`` leaves for the backend to write after the log rows."""

    results: list[int]
    last_id: int  # the head after the batch: update it when it moved
    chain: bytes
    revoked: list[tuple[str, int]]  # (consent id, UTC microseconds) for the revocation list
    increments: Increments


async def apply_batch(batch: list[Op], last_id: int, previous: bytes, increments: Increments,
                      sql: BatchSql) -> Applied:
    """Write the batch's log rows and erasures in queue order, chaining from the head (``last_id``, ``previous``)."""
    results: list[int] = []
    pending: list[tuple[Any, ...]] = []
    revoked: list[tuple[str, int]] = []

    def chained(record: ConsentRecord) -> tuple[Any, ...]:
        nonlocal last_id, previous
        last_id += 1
        fields = log_row(record)
        previous = link(previous, last_id, fields)
        return (last_id, *fields, previous)

    for op in batch:
        if op.kind == RECORD:
            pending.append(chained(op.payload))
            increments.add_record(op.payload)
            if op.payload.action == WITHDRAW:
                revoked.append((op.payload.consent_id, to_micros(op.payload.at)))
            results.append(0)
        elif op.kind == ERASE_OP:
            consent_id, proof = op.payload
            if pending:  # keep queue order: rows appended before the erase are erased with it
                await sql.insert_rows(pending)
                pending = []
            results.append(await sql.erase_rows(consent_id))
            revoked.append((consent_id, to_micros(proof.at if proof is not None else datetime.now(UTC))))
            if proof is not None:
                pending.append(chained(proof))
                increments.add_record(proof)
        elif op.kind == EVENT:
            increments.add_event(op.payload)
            results.append(0)
        elif op.kind == PROBE:
            await sql.probe()
            results.append(0)
        else:
            increments.add_csp(*op.payload)
            results.append(0)
    if pending:
        await sql.insert_rows(pending)
    return Applied(results, last_id, previous, revoked, increments)


async def write_batch(batch: list[Op], start_id: int, previous: bytes, increments: Increments, sql: BatchSql,
                      inject: Callable[[str], None]) -> list[int]:
    """The whole batch inside the backend's open transaction: log rows and erasures, the head when it moved, the
    revocations, then the rollups. ``inject`` is the stores' test seam (``"log"``, ``"rollup"``)."""
    done = await apply_batch(batch, start_id, previous, increments, sql)
    if done.last_id != start_id:
        await sql.update_head(done.last_id, done.chain)
    if done.revoked:
        await sql.insert_revoked(done.revoked)
    inject("log")
    for name, values in rollup_upserts(done.increments):
        if values:
            await sql.upsert(name, values)
    inject("rollup")
    return done.results


def rollup_upserts(increments: Increments) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """(name of the statement in gateway.store.schema, its rows) for every rollup table, in the order written."""
    daily, monthly = increments.counters()
    return [
        ("UPSERT_CUBE", [(*k, n) for k, n in increments.cube.items()]),
        ("UPSERT_BY_KEY", rows(daily)),
        ("UPSERT_BY_MONTH", rows(monthly)),
        ("UPSERT_IMPRESSION", [(*k, n) for k, n in increments.impressions.items()]),
        ("UPSERT_CSP", [(*k, n) for k, n in increments.csp.items()]),
        ("UPSERT_CSP_MONTH", [(*k, n) for k, n in increments.csp_monthly().items()]),
    ]

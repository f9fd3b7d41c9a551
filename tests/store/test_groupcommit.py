"""The batch writer both SQL stores share (gateway.store.groupcommit), driven by a fake ``write``: one batch for
what queued up meanwhile, a failed batch answered with StoreWriteError in every writer and nothing acknowledged,
an abandoned write never written, and close finishing what is queued."""

from __future__ import annotations

import asyncio

import pytest

from gateway.store import StoreClosedError, StoreWriteError
from gateway.store.groupcommit import EVENT, GroupCommit, Op


class FakeWrite:
    """Records each batch's payloads; ``gate`` holds a batch until it is set; ``fail`` makes the next batch raise."""

    def __init__(self) -> None:
        self.batches: list[list[object]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def __call__(self, batch: list[Op]) -> list[int]:
        await self.gate.wait()
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        self.batches.append([op.payload for op in batch])
        return [len(self.batches)] * len(batch)


async def batch_begun(writer: GroupCommit) -> None:
    for _ in range(100):
        if writer.batch_since is not None:
            return
        await asyncio.sleep(0)
    raise AssertionError("the writer did not take the batch")


async def started(write: FakeWrite, timeout: float | None = None) -> GroupCommit:
    writer = GroupCommit(write, batch_max=100, timeout=timeout)
    writer.start(name="test-writer")
    return writer


async def test_writes_queued_behind_a_batch_share_the_next_one() -> None:
    write = FakeWrite()
    writer = await started(write)
    write.gate.clear()
    first = asyncio.ensure_future(writer.submit(EVENT, "first"))
    await batch_begun(writer)  # the writer took "first" and waits at the gate
    rest = [asyncio.ensure_future(writer.submit(EVENT, i)) for i in range(5)]
    await asyncio.sleep(0)
    write.gate.set()
    assert await first == 1 and await asyncio.gather(*rest) == [2] * 5
    assert write.batches == [["first"], [0, 1, 2, 3, 4]] and writer.commits == 2
    await writer.stop()


async def test_a_failed_batch_acknowledges_nothing_and_the_next_commits() -> None:
    write = FakeWrite()
    writer = await started(write)
    write.fail = OSError("disk full")
    results = await asyncio.gather(*(writer.submit(EVENT, i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, StoreWriteError) and isinstance(r.__cause__, OSError) for r in results)
    assert writer.failed and writer.commits == 0
    assert await writer.submit(EVENT, "after") == 1
    assert not writer.failed and write.batches == [["after"]]
    await writer.stop()


async def test_a_write_abandoned_before_its_batch_began_is_not_written() -> None:
    write = FakeWrite()
    writer = await started(write)
    write.gate.clear()
    busy = asyncio.ensure_future(writer.submit(EVENT, "busy"))
    await batch_begun(writer)
    abandoned = asyncio.ensure_future(writer.submit(EVENT, "abandoned"))
    await asyncio.sleep(0)
    abandoned.cancel()  # the visitor went away while the batch before was committing
    write.gate.set()
    await busy
    assert await writer.submit(EVENT, "next") == 2
    assert write.batches == [["busy"], ["next"]]
    await writer.stop()


async def test_a_write_past_the_timeout_is_refused_and_skipped_if_its_batch_had_not_begun() -> None:
    write = FakeWrite()
    writer = await started(write, timeout=0.05)
    write.gate.clear()
    stuck = asyncio.ensure_future(writer.submit(EVENT, "stuck"))  # its batch has begun: written when it can be
    await batch_begun(writer)
    with pytest.raises(StoreWriteError, match="not committed within 0.05 s"):
        await writer.submit(EVENT, "queued")
    with pytest.raises(StoreWriteError):
        await stuck
    write.gate.set()
    assert await writer.submit(EVENT, "next") == 2
    assert write.batches == [["stuck"], ["next"]]
    await writer.stop()


async def test_stop_finishes_what_is_queued_then_refuses() -> None:
    write = FakeWrite()
    writer = await started(write)
    queued = [asyncio.ensure_future(writer.submit(EVENT, i)) for i in range(3)]
    await asyncio.sleep(0)
    await writer.stop()
    assert [await q for q in queued] == [1, 1, 1]
    with pytest.raises(StoreClosedError):
        await writer.submit(EVENT, "late")

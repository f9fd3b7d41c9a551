"""gateway.store.rollups and gateway.store.summary: range cutting, rates, memory (daily only) vs SQLite (monthly + daily)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.store.memory import MemoryStore
from gateway.store.rollups import EMPTY, Spans, split_range
from gateway.store.sqlite import SqliteStore
from gateway.store.summary import build_summary
from tests.store.conftest import ALL_GRANTED, NECESSARY, event, record

SPLITS = [
    ((date(2026, 3, 5), date(2026, 3, 20)), Spans(("2026-03-05", "2026-03-20"), EMPTY, EMPTY)),
    ((date(2026, 3, 1), date(2026, 3, 31)), Spans(EMPTY, ("2026-03", "2026-03"), EMPTY)),
    ((date(2026, 2, 1), date(2026, 2, 28)), Spans(EMPTY, ("2026-02", "2026-02"), EMPTY)),
    ((date(2026, 2, 1), date(2026, 2, 27)), Spans(("2026-02-01", "2026-02-27"), EMPTY, EMPTY)),
    ((date(2026, 1, 15), date(2026, 3, 10)),
     Spans(("2026-01-15", "2026-01-31"), ("2026-02", "2026-02"), ("2026-03-01", "2026-03-10"))),
    ((date(2025, 12, 15), date(2026, 1, 14)), Spans(("2025-12-15", "2026-01-14"), EMPTY, EMPTY)),
    ((date(2025, 11, 25), date(2026, 11, 24)),
     Spans(("2025-11-25", "2025-11-30"), ("2025-12", "2026-10"), ("2026-11-01", "2026-11-24"))),
    ((date(2026, 5, 31), date(2026, 6, 30)), Spans(("2026-05-31", "2026-05-31"), ("2026-06", "2026-06"), EMPTY)),
]


@pytest.mark.parametrize(("span", "expected"), SPLITS, ids=[f"{a}..{b}" for (a, b), _ in SPLITS])
def test_split_range(span: tuple[date, date], expected: Spans) -> None:
    assert split_range(*span) == expected


def covered_days(spans: Spans) -> list[str]:
    days = []
    for lo, hi in (spans.head, spans.tail):
        if (lo, hi) != EMPTY:
            d = date.fromisoformat(lo)
            while d <= date.fromisoformat(hi):
                days.append(d.isoformat())
                d += timedelta(days=1)
    if spans.months != EMPTY:
        d = date.fromisoformat(spans.months[0] + "-01")
        while d.isoformat()[:7] <= spans.months[1]:
            days.append(d.isoformat())
            d += timedelta(days=1)
    return sorted(days)


def test_split_range_covers_every_day_exactly_once() -> None:
    rng = random.Random(5)
    for _ in range(200):
        start = date(2023, 1, 1) + timedelta(days=rng.randrange(1200))
        end = start + timedelta(days=rng.randrange(800))
        expected = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
        assert covered_days(split_range(start, end)) == expected, (start, end)


def test_rates_round_to_four_places_and_zero_denominators_give_zero() -> None:
    day = date(2026, 3, 10)
    #          day,          shown, accept, reject, custom, withdraw, erase, pref, analytics, marketing, gpc
    rows = [("2026-03-10", 7, 1, 1, 1, 0, 0, 1, 2, 0, 1), ("2026-03-12", 99, 9, 9, 9, 9, 9, 9, 9, 9, 9)]
    summary = build_summary(day, day, "Asia/Almaty", rows, [], [])
    assert summary["interaction_rate"] == 0.4286  # 3 / 7
    assert summary["opt_in_rate"] == {"preferences": 0.3333, "analytics": 0.6667, "marketing": 0.0}
    assert summary["gpc_share"] == 0.3333
    assert summary["totals"]["shown"] == 7  # type: ignore[index]  # the row outside the range is ignored
    empty = build_summary(day, day, "Asia/Almaty", [], [], [])
    assert (empty["interaction_rate"], empty["gpc_share"]) == (0.0, 0.0)


async def test_memory_and_sqlite_agree_across_months(tmp_path: Path) -> None:
    rng = random.Random(3)
    start = datetime(2025, 12, 20, tzinfo=UTC)
    stores = [MemoryStore(), SqliteStore(tmp_path / "consent.db")]
    for store in stores:
        await store.open()
    try:
        writes = []
        for i in range(800):
            at = start + timedelta(seconds=rng.randrange(110 * 86_400))
            action = rng.choice(["accept_all", "reject_all", "custom", "withdraw"])
            categories = {"accept_all": ALL_GRANTED, "custom": frozenset({"necessary", "analytics"})}.get(
                action, NECESSARY
            )
            r = record(consent_id=f"v{i}", at=at, action=action, categories=categories,
                       language=rng.choice(["ru", "kk", "en"]), device=rng.choice(["mobile", "desktop"]),
                       gpc=rng.random() < 0.1)
            host = rng.choice(["mc.yandex.ru", "connect.facebook.net", "vk.com", "snap.licdn.com"])
            writes.append((r, event(at=at, language=r.language, device=r.device), host))
        for store in stores:
            await asyncio.gather(*(
                call
                for r, e, host in writes
                for call in (store.append(r), store.record_event(e), store.record_csp_report(host, "img-src", r.at))
            ))
        for first, last in [(date(2025, 12, 20), date(2026, 4, 10)), (date(2026, 1, 1), date(2026, 2, 28)),
                            (date(2026, 1, 17), date(2026, 3, 3)), (date(2026, 2, 1), date(2026, 2, 27))]:
            memory, sqlite = [await store.summary(first, last) for store in stores]
            assert memory == sqlite, (first, last)
            assert sqlite["totals"]["decisions"] > 0  # type: ignore[index]
    finally:
        for store in stores:
            await store.close()

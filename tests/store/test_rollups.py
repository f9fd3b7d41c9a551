"""gateway.store.rollups: cutting a summary range into whole months and the days around them."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from gateway.store.rollups import EMPTY, Spans, split_range

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

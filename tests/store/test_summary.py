"""gateway.store.summary: rates from rollup rows, and memory (daily rollups only) vs SQLite (monthly + daily)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from gateway.store.memory import MemoryStore
from gateway.store.sqlite import SqliteStore
from gateway.store.summary import build_summary
from tests.store.conftest import ALL_GRANTED, NECESSARY, event, record


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

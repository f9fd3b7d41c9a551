"""Behaviour every ConsentStore backend must show (rerun per backend through the `store` fixture)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gateway.store import MAX_RANGE_DAYS, ConsentStore, StoreClosedError, open_store
from gateway.store.memory import MemoryStore
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore
from tests.store.conftest import ALL_GRANTED, NECESSARY, NOON, POLICY, event, make_store, record

DAY = date(2026, 3, 10)  # the local day of NOON


async def test_history_round_trips_every_field(store: ConsentStore) -> None:
    original = record(
        at=datetime(2026, 3, 10, 7, 0, 1, 123456, tzinfo=UTC),
        action="custom",
        categories=frozenset({"necessary", "analytics"}),
        gpc=True,
        ip_prefix="2001:db8:1::/48",
        device="mobile",
        browser="Safari",
        os="iOS",
        language="kk",
    )
    await store.append(original)
    await store.append(record(consent_id="someone-else"))
    assert await store.history("c-0001") == [original]


async def test_history_is_oldest_first_and_keeps_missing_ip(store: ConsentStore) -> None:
    later = record(at=NOON + timedelta(hours=1), action="withdraw", ip_prefix=None)
    earlier = record(at=NOON)
    await store.append(later)
    await store.append(earlier)
    assert await store.history("c-0001") == [earlier, later]
    assert await store.history("unknown") == []


@pytest.mark.parametrize(
    "bad",
    [
        {"action": "maybe"},
        {"categories": frozenset({"necessary", "tracking"})},
        {"at": datetime(2026, 3, 10, 7, 0)},
    ],
    ids=["action", "category", "naive-time"],
)
async def test_invalid_record_is_refused_and_not_stored(store: ConsentStore, bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        await store.append(record(**bad))
    assert await store.history("c-0001") == []


async def test_erase_removes_only_that_id_and_keeps_rollups(store: ConsentStore) -> None:
    await store.append(record())
    await store.append(record(action="withdraw", at=NOON + timedelta(minutes=5)))
    await store.append(record(consent_id="other"))
    before = await store.summary(DAY, DAY)
    assert await store.erase("c-0001") == 2
    assert await store.history("c-0001") == []
    assert len(await store.history("other")) == 1
    assert await store.summary(DAY, DAY) == before
    assert await store.erase("c-0001") == 0


async def test_erase_with_proof_keeps_only_the_proof(store: ConsentStore) -> None:
    await store.append(record())
    proof = record(action="erase", categories=frozenset(), at=NOON + timedelta(minutes=1), ip_prefix=None)
    assert await store.erase("c-0001", proof) == 1
    assert await store.history("c-0001") == [proof]
    totals = (await store.summary(DAY, DAY))["totals"]
    assert totals["erase"] == 1  # type: ignore[index]
    assert totals["accept_all"] == 1  # type: ignore[index]


@pytest.mark.parametrize("proof", [{"consent_id": "other", "action": "erase"}, {"action": "accept_all"}],
                         ids=["other-id", "not-erase"])
async def test_erase_proof_must_be_an_erase_of_that_id(store: ConsentStore, proof: dict[str, object]) -> None:
    await store.append(record())
    with pytest.raises(ValueError):
        await store.erase("c-0001", record(**proof))
    assert len(await store.history("c-0001")) == 1


async def test_summary_of_a_scripted_day(store: ConsentStore) -> None:
    for _ in range(4):
        await store.record_event(event())
    await store.append(record(consent_id="a"))
    await store.append(record(consent_id="b", action="reject_all", gpc=True, language="en"))
    await store.append(
        record(consent_id="c", action="custom", categories=frozenset({"necessary", "analytics"}), device="mobile")
    )
    await store.append(record(consent_id="a", action="withdraw", at=NOON + timedelta(hours=1)))
    await store.record_csp_report("Connect.Facebook.net", "script-src", NOON)
    await store.record_csp_report("connect.facebook.net", "img-src", NOON)
    await store.record_csp_report("mc.yandex.ru", "script-src", NOON)

    third = round(1 / 3, 4)
    two_thirds = round(2 / 3, 4)
    day = {
        "day": "2026-03-10", "shown": 4, "decisions": 3, "accept_all": 1, "reject_all": 1, "custom": 1,
        "withdraw": 1, "opt_in": {"preferences": third, "analytics": two_thirds, "marketing": third},
    }
    empty_day = {
        "day": "2026-03-11", "shown": 0, "decisions": 0, "accept_all": 0, "reject_all": 0, "custom": 0,
        "withdraw": 0, "opt_in": {"preferences": 0.0, "analytics": 0.0, "marketing": 0.0},
    }

    def item(key: str, accept: int, reject: int, custom: int, pref: float, analytics: float, mkt: float) -> dict:
        return {"key": key, "decisions": accept + reject + custom, "accept_all": accept, "reject_all": reject,
                "custom": custom, "opt_in": {"preferences": pref, "analytics": analytics, "marketing": mkt}}

    assert await store.summary(DAY, DAY + timedelta(days=1)) == {
        "from": "2026-03-10",
        "to": "2026-03-11",
        "timezone": "Asia/Almaty",
        "totals": {"shown": 4, "decisions": 3, "accept_all": 1, "reject_all": 1, "custom": 1, "withdraw": 1,
                   "erase": 0},
        "interaction_rate": 0.75,
        "opt_in_rate": {"preferences": third, "analytics": two_thirds, "marketing": third},
        "gpc_share": third,
        "days": [day, empty_day],
        "breakdowns": {
            "device": [item("desktop", 1, 1, 0, 0.5, 0.5, 0.5), item("mobile", 0, 0, 1, 0.0, 1.0, 0.0)],
            "browser": [item("Chrome", 1, 1, 1, third, two_thirds, third)],
            "os": [item("Windows", 1, 1, 1, third, two_thirds, third)],
            "language": [item("ru", 1, 0, 1, 0.5, 1.0, 0.5), item("en", 0, 1, 0, 0.0, 0.0, 0.0)],
            "policy_version": [item(POLICY, 1, 1, 1, third, two_thirds, third)],
        },
        "blocked_hosts": [{"host": "connect.facebook.net", "reports": 2}, {"host": "mc.yandex.ru", "reports": 1}],
    }


async def test_empty_range_has_every_day_with_zeros(store: ConsentStore) -> None:
    summary = await store.summary(date(2024, 2, 27), date(2024, 3, 2))
    assert [d["day"] for d in summary["days"]] == [  # type: ignore[union-attr,index]
        "2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02",
    ]
    assert summary["interaction_rate"] == 0.0
    assert summary["gpc_share"] == 0.0
    assert summary["blocked_hosts"] == []
    assert summary["breakdowns"] == {d: [] for d in ("device", "browser", "os", "language", "policy_version")}


async def test_reversed_range_is_refused(store: ConsentStore) -> None:
    with pytest.raises(ValueError, match="before it starts"):
        await store.summary(DAY, DAY - timedelta(days=1))


async def test_the_longest_range_is_the_one_limit_the_api_and_the_cli_enforce(store: ConsentStore) -> None:
    first = DAY - timedelta(days=MAX_RANGE_DAYS - 1)
    assert len((await store.summary(first, DAY))["days"]) == MAX_RANGE_DAYS == 1098  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="^range longer than 1098 days$"):
        await store.summary(first - timedelta(days=1), DAY)


@pytest.mark.parametrize(
    ("utc_time", "local_day"),
    [
        (datetime(2026, 3, 10, 18, 59, tzinfo=UTC), "2026-03-10"),  # 23:59 in Almaty
        (datetime(2026, 3, 10, 19, 1, tzinfo=UTC), "2026-03-11"),  # 00:01 in Almaty
    ],
    ids=["23:59", "00:01"],
)
async def test_days_are_local_to_almaty(store: ConsentStore, utc_time: datetime, local_day: str) -> None:
    await store.append(record(at=utc_time))
    await store.record_event(event(at=utc_time))
    await store.record_csp_report("mc.yandex.ru", "script-src", utc_time)
    summary = await store.summary(DAY, DAY + timedelta(days=1))
    by_day = {d["day"]: (d["decisions"], d["shown"]) for d in summary["days"]}  # type: ignore[union-attr,index]
    assert by_day[local_day] == (1, 1)
    assert sum(decisions for decisions, _ in by_day.values()) == 1
    only_that_day = date.fromisoformat(local_day)
    assert (await store.summary(only_that_day, only_that_day))["blocked_hosts"] == [
        {"host": "mc.yandex.ru", "reports": 1}
    ]


async def test_store_time_zone_is_configurable(tmp_path: Path) -> None:
    late_evening_utc = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)  # next day in Almaty, same day in UTC
    for store in (MemoryStore(timezone="UTC"), SqliteStore(tmp_path / "utc.db", timezone="UTC")):
        async with store:
            await store.append(record(at=late_evening_utc))
            summary = await store.summary(DAY, DAY)
            assert summary["timezone"] == "UTC"
            assert summary["totals"]["decisions"] == 1  # type: ignore[index]


async def test_bots_are_logged_but_never_counted(store: ConsentStore) -> None:
    await store.append(record(consent_id="human"))
    await store.append(record(consent_id="bot", device="bot", browser="Other", os="Other", action="reject_all"))
    await store.record_event(event())
    await store.record_event(event(device="bot", browser="Other", os="Other"))
    summary = await store.summary(DAY, DAY)
    assert summary["totals"]["decisions"] == 1  # type: ignore[index]
    assert summary["totals"]["reject_all"] == 0  # type: ignore[index]
    assert summary["totals"]["shown"] == 1  # type: ignore[index]
    assert summary["interaction_rate"] == 1.0
    assert [item["key"] for item in summary["breakdowns"]["device"]] == ["desktop"]  # type: ignore[index]
    assert len(await store.history("bot")) == 1  # still provable


async def test_top_blocked_hosts_are_capped_at_twenty(store: ConsentStore) -> None:
    await asyncio.gather(*(
        store.record_csp_report(f"h{i:02}.example", "script-src", NOON) for i in range(25) for _ in range(i + 1)
    ))
    hosts = (await store.summary(DAY, DAY))["blocked_hosts"]
    assert len(hosts) == 20  # type: ignore[arg-type]
    assert hosts[0] == {"host": "h24.example", "reports": 25}  # type: ignore[index]
    assert hosts[-1] == {"host": "h05.example", "reports": 6}  # type: ignore[index]


async def test_purge_removes_old_log_rows_and_keeps_rollup_totals(store: ConsentStore) -> None:
    old = NOON - timedelta(days=400)
    await store.append(record(consent_id="old", at=old))
    await store.append(record(consent_id="old", at=old + timedelta(days=1), action="withdraw"))
    await store.append(record(consent_id="new"))
    span = (old.date() - timedelta(days=1), DAY)
    before = await store.summary(*span)
    assert await store.purge(NOON - timedelta(days=365)) == 2
    assert await store.history("old") == []
    assert len(await store.history("new")) == 1
    assert await store.summary(*span) == before
    assert before["totals"]["decisions"] == 2  # type: ignore[index]
    assert await store.purge(NOON - timedelta(days=365)) == 0


async def test_purge_cutoff_is_exclusive(store: ConsentStore) -> None:
    await store.append(record(at=NOON))
    assert await store.purge(NOON) == 0
    assert await store.purge(NOON + timedelta(microseconds=1)) == 1


async def test_revoked_since_lists_withdrawals_and_erasures_oldest_first(store: ConsentStore) -> None:
    await store.append(record(consent_id="kept"))
    await store.append(record(consent_id="withdrawn", action="withdraw", at=NOON + timedelta(minutes=2)))
    await store.append(record(consent_id="erased", at=NOON))
    proof = record(consent_id="erased", action="erase", at=NOON + timedelta(minutes=1), ip_prefix=None)
    await store.erase("erased", proof)
    assert await store.revoked_since(NOON) == [("erased", proof.at), ("withdrawn", NOON + timedelta(minutes=2))]
    assert await store.revoked_since(NOON + timedelta(minutes=2)) == [("withdrawn", NOON + timedelta(minutes=2))]
    assert await store.revoked_since(NOON + timedelta(minutes=3)) == []


async def test_a_withdrawal_stays_revoked_after_its_erasure(store: ConsentStore) -> None:
    await store.append(record(action="withdraw", at=NOON))
    assert await store.erase("c-0001") == 1  # no proof: nothing of the id is left in the log
    revoked = await store.revoked_since(NOON - timedelta(days=1))
    assert [consent_id for consent_id, _ in revoked] == ["c-0001", "c-0001"]
    assert revoked[0][1] == NOON


async def test_purge_forgets_revocations_older_than_the_cutoff(store: ConsentStore) -> None:
    await store.append(record(consent_id="old", action="withdraw", at=NOON - timedelta(days=400)))
    await store.append(record(consent_id="new", action="withdraw", at=NOON))
    await store.purge(NOON - timedelta(days=365))
    assert await store.revoked_since(NOON - timedelta(days=500)) == [("new", NOON)]


async def test_revoked_since_needs_an_aware_time(store: ConsentStore) -> None:
    with pytest.raises(ValueError):
        await store.revoked_since(datetime(2026, 3, 10))


async def test_closed_store_refuses_writes(tmp_path: Path) -> None:
    for kind in ("memory", "sqlite"):
        store = make_store(kind, tmp_path / kind)
        await store.open()
        await store.close()
        with pytest.raises(StoreClosedError):
            await store.append(record())
        assert await store.ping() is False


async def test_ping_is_true_while_open(store: ConsentStore) -> None:
    assert await store.ping() is True


def test_backends_implement_the_protocol(tmp_path: Path) -> None:
    for kind in ("memory", "sqlite"):
        assert isinstance(make_store(kind, tmp_path), ConsentStore)


# -- a randomised week checked against numbers computed independently from the raw writes -----------------------

ACTIONS_WEIGHTED = ["accept_all"] * 5 + ["reject_all"] * 3 + ["custom"] * 3 + ["withdraw", "erase"]
CUSTOM_CHOICES = [
    frozenset({"necessary", "analytics"}),
    frozenset({"necessary", "preferences"}),
    frozenset({"necessary", "preferences", "marketing"}),
    NECESSARY,
]


def random_traffic(seed: int, n: int) -> tuple[list, list]:
    rng = random.Random(seed)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    records, events = [], []
    for i in range(n):
        at = start + timedelta(seconds=rng.randrange(7 * 86_400))
        action = rng.choice(ACTIONS_WEIGHTED)
        categories = {"accept_all": ALL_GRANTED, "custom": rng.choice(CUSTOM_CHOICES)}.get(action, NECESSARY)
        device = rng.choice(["desktop", "mobile", "tablet", "bot"])
        records.append(record(
            consent_id=f"id{i % 50}", at=at, action=action, categories=categories, gpc=rng.random() < 0.2,
            language=rng.choice(["ru", "kk", "en"]), device=device, browser=rng.choice(["Chrome", "Safari"]),
            os=rng.choice(["Android", "Windows"]), policy_version=rng.choice([POLICY, "2026-01-01"]),
        ))
        for _ in range(rng.randrange(3)):
            events.append(event(at=at - timedelta(seconds=1), device=device, language=rng.choice(["ru", "en"])))
    return records, events


def almaty_day(at: datetime) -> str:
    return (at + timedelta(hours=5)).date().isoformat()  # Almaty is UTC+5 since 2024-03-01, no DST


async def test_random_week_matches_independent_counts(store: ConsentStore) -> None:
    records, events = random_traffic(seed=7, n=600)
    await asyncio.gather(*(store.append(r) for r in records), *(store.record_event(e) for e in events))
    start, end = date(2026, 3, 1), date(2026, 3, 8)
    summary = await store.summary(start, end)

    humans = [r for r in records if r.device != "bot"]
    decisions = [r for r in humans if r.action in ("accept_all", "reject_all", "custom")]
    shown = sum(1 for e in events if e.device != "bot")
    actions = Counter(r.action for r in humans)
    assert summary["totals"] == {  # type: ignore[comparison-overlap]
        "shown": shown, "decisions": len(decisions), "accept_all": actions["accept_all"],
        "reject_all": actions["reject_all"], "custom": actions["custom"], "withdraw": actions["withdraw"],
        "erase": actions["erase"],
    }
    assert summary["interaction_rate"] == round(len(decisions) / shown, 4)
    assert summary["gpc_share"] == round(sum(r.gpc for r in decisions) / len(decisions), 4)
    for category in ("preferences", "analytics", "marketing"):
        granted = sum(category in r.categories for r in decisions)
        assert summary["opt_in_rate"][category] == round(granted / len(decisions), 4)  # type: ignore[index]
    per_day = Counter(almaty_day(r.at) for r in decisions)
    assert {d["day"]: d["decisions"] for d in summary["days"]} == {  # type: ignore[union-attr,index]
        (start + timedelta(days=i)).isoformat(): per_day[(start + timedelta(days=i)).isoformat()] for i in range(8)
    }
    by_language = Counter(r.language for r in decisions)
    assert [(b["key"], b["decisions"]) for b in summary["breakdowns"]["language"]] == sorted(  # type: ignore[index]
        by_language.items(), key=lambda kv: (-kv[1], kv[0])
    )
    by_device = {b["key"]: b for b in summary["breakdowns"]["device"]}  # type: ignore[index]
    assert "bot" not in by_device
    mobile = [r for r in decisions if r.device == "mobile"]
    assert by_device["mobile"]["custom"] == sum(r.action == "custom" for r in mobile)
    assert by_device["mobile"]["opt_in"]["analytics"] == round(
        sum("analytics" in r.categories for r in mobile) / len(mobile), 4
    )


async def test_memory_and_sqlite_agree(tmp_path: Path) -> None:
    records, events = random_traffic(seed=11, n=300)
    summaries = []
    for kind in ("memory", "sqlite"):
        async with make_store(kind, tmp_path) as store:  # type: ignore[attr-defined]
            await asyncio.gather(*(store.append(r) for r in records), *(store.record_event(e) for e in events))
            summaries.append(await store.summary(date(2026, 2, 28), date(2026, 3, 9)))
    assert summaries[0] == summaries[1]


# -- open_store ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///data/consent.db", "data/consent.db"),
        ("sqlite:////var/lib/gateway/consent.db", "/var/lib/gateway/consent.db"),
        ("data/consent.db", "data/consent.db"),
        ("/srv/consent.db", "/srv/consent.db"),
    ],
)
def test_open_store_sqlite_urls(url: str, expected: str) -> None:
    store = open_store(url, timezone="UTC")
    assert isinstance(store, SqliteStore)
    assert store.path == Path(expected)
    assert store.timezone == "UTC"


def test_open_store_memory() -> None:
    assert isinstance(open_store("memory:"), MemoryStore)


@pytest.mark.parametrize("url", ["mysql://h/db", "sqlite://relative.db", "sqlite:///", "", "sqlite:", "sqlite:consent.db",
                                 "postgresql:"])
def test_open_store_refuses_what_it_cannot_open(url: str) -> None:
    with pytest.raises(ValueError):
        open_store(url)


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u:p@h:5433/db?sslmode=require"])
def test_open_store_postgresql_urls(url: str) -> None:
    store = open_store(url, timezone="UTC")  # built, not connected
    assert isinstance(store, PostgresStore)
    assert store.url == url
    assert store.timezone == "UTC"

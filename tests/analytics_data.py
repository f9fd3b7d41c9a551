"""Shared by the admin, metrics, report and dashboard tests: the scripted analytics data set, its independently
computed summary, and the admin app with its client and credentials.

The data set has every action, several local days, languages, user agents, a bot, an erasure and CSP reports. The
expected numbers are computed here from the raw rows, never through gateway.store.summary.
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

from gateway.admin import admin_routes
from gateway.metrics import Metrics
from gateway.store import BannerEvent, ConsentRecord
from gateway.useragent import classify

TIMEZONE = "Asia/Almaty"
TZ = ZoneInfo(TIMEZONE)
TOKEN = "adm1n-t0ken-for-tests-7f3a9c"
START = date(2026, 11, 2)
DAYS = 5
END = START + timedelta(days=DAYS - 1)
OPT_IN = ("preferences", "analytics", "marketing")
ALL = frozenset({"necessary", *OPT_IN})
KINDS = [  # (action, granted): every kind of decision, cycled with a period prime to the day cycle
    ("accept_all", ALL), ("reject_all", frozenset({"necessary"})), ("custom", frozenset({"necessary", "analytics"})),
    ("custom", frozenset({"necessary", "preferences", "analytics"})), ("withdraw", frozenset({"necessary"})),
    ("accept_all", ALL), ("reject_all", frozenset({"necessary"})), ("custom", frozenset({"necessary", "marketing"})),
]
AGENTS = [
    "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 YaBrowser/24.10.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
LANGUAGES = ("ru", "kk", "en")
POLICIES = ("2022-06-01", "2023-01-12")
HOSTILE_HOST = "<img src=x onerror=alert(1)>.example"
FORMULA_HOST = "=cmd|' /c calc'!a0"
CSP_HOSTS = {"mc.yandex.ru": 3, "connect.facebook.net": 5, HOSTILE_HOST: 1, FORMULA_HOST: 2}


@dataclass
class Data:
    records: list[ConsentRecord] = field(default_factory=list)
    events: list[BannerEvent] = field(default_factory=list)
    erasures: list[ConsentRecord] = field(default_factory=list)  # proofs of erasure, written after the rest


def local_time(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), TZ).astimezone(UTC)


def scripted_data(n: int = 84, start: date = START, days: int = DAYS) -> Data:
    """`n` decisions over `days` local days: each kind, language, agent (one a bot), policy and GPC mixed."""
    data = Data()
    for i in range(n):
        agent = classify(AGENTS[i % len(AGENTS)])
        day = start + timedelta(days=i % days)
        action, granted = KINDS[i % len(KINDS)]
        traits = dict(language=LANGUAGES[(i // 2) % 3], policy_version=POLICIES[(i // 3) % 2],
                      device=agent.device, browser=agent.browser, os=agent.os)
        at = local_time(day, (i * 5) % 24, (i * 17) % 60)
        data.records.append(ConsentRecord(consent_id=f"c-{i:04d}", at=at, action=action, categories=granted,
                                          gpc=i % 4 == 0, ip_prefix=None, texts_hash="t" * 64, **traits))
        for extra in range(1 + i % 3):  # impressions outnumber decisions; bots' are logged and ignored
            data.events.append(BannerEvent(at=at - timedelta(minutes=1 + extra), event="shown", **traits))
    # Local-day boundary: 23:59 and 00:01 in Almaty are the same UTC day (18:59 and 19:01 UTC).
    for cid, at in (("c-late", local_time(start, 23, 59)), ("c-early", local_time(start + timedelta(days=1), 0, 1))):
        data.records.append(ConsentRecord(consent_id=cid, at=at, action="accept_all", categories=ALL, gpc=False,
                                          ip_prefix=None, texts_hash="t" * 64, language="ru",
                                          policy_version=POLICIES[1], device="desktop", browser="Chrome",
                                          os="Windows"))
    first = data.records[0]
    data.erasures.append(ConsentRecord(**{**{f: getattr(first, f) for f in first.__slots__},
                                          "action": "erase", "categories": frozenset({"necessary"}),
                                          "at": first.at + timedelta(hours=1)}))
    return data


async def load(store: Any, data: Data) -> None:
    """Write through the store's real write path, concurrently so group commit batches them."""
    await asyncio.gather(*(store.append(r) for r in data.records), *(store.record_event(e) for e in data.events))
    for proof in data.erasures:
        await store.erase(proof.consent_id, proof)
    for host, reports in CSP_HOSTS.items():
        for k in range(reports):
            await store.record_csp_report(host, "script-src-elem", local_time(START, 12, k))


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def expected_summary(data: Data, start: date = START, end: date = END) -> dict[str, Any]:
    """The summary computed from raw rows: local days in Almaty, bots out, rates as shares of decisions."""
    decided = ("accept_all", "reject_all", "custom")
    rows = [r for r in data.records if r.device != "bot" and start <= r.at.astimezone(TZ).date() <= end]
    erasures = sum(start <= p.at.astimezone(TZ).date() <= end for p in data.erasures if p.device != "bot")
    shown = [e for e in data.events if e.device != "bot" and start <= e.at.astimezone(TZ).date() <= end]

    def tally(group: list[ConsentRecord]) -> dict[str, Any]:
        count = Counter(r.action for r in group)
        dec = [r for r in group if r.action in decided]
        return {"decisions": len(dec), **{a: count[a] for a in (*decided, "withdraw")},
                "opt_in": {c: _rate(sum(c in r.categories for r in dec), len(dec)) for c in OPT_IN}}

    whole = tally(rows)
    days = []
    for i in range((end - start).days + 1):
        day = start + timedelta(days=i)
        t = tally([r for r in rows if r.at.astimezone(TZ).date() == day])
        days.append({"day": day.isoformat(), "shown": sum(e.at.astimezone(TZ).date() == day for e in shown), **t})
    breakdowns: dict[str, list[dict[str, Any]]] = {}
    for dim in ("device", "browser", "os", "language", "policy_version"):
        groups: dict[str, list[ConsentRecord]] = defaultdict(list)
        for r in rows:
            groups[getattr(r, dim)].append(r)
        entries = [{"key": k, **{n: v for n, v in tally(g).items() if n != "withdraw"}} for k, g in groups.items()]
        breakdowns[dim] = sorted(entries, key=lambda e: (-e["decisions"], e["key"]))
    dec = [r for r in rows if r.action in decided]
    hosts = sorted(CSP_HOSTS.items(), key=lambda kv: (-kv[1], kv[0])) if start <= START <= end else []
    return {
        "from": start.isoformat(), "to": end.isoformat(), "timezone": TIMEZONE,
        "totals": {"shown": len(shown), "decisions": whole["decisions"],
                   **{a: whole[a] for a in (*decided, "withdraw")}, "erase": erasures},
        "interaction_rate": _rate(whole["decisions"], len(shown)),
        "opt_in_rate": whole["opt_in"],
        "gpc_share": _rate(sum(r.gpc for r in dec), len(dec)),
        "days": days,
        "breakdowns": breakdowns,
        "blocked_hosts": [{"host": h, "reports": n} for h, n in hosts],
    }


def make_app(store: Any, token: str | None = TOKEN, metrics: Metrics | None = None,
             failures_per_minute: int = 10) -> Starlette:
    routes = admin_routes(token=token, store=store, metrics=metrics or Metrics(), timezone=TIMEZONE,
                          failures_per_minute=failures_per_minute)
    return Starlette(routes=[Mount("/_consent", routes=routes)])


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://admin.test")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


AUTH = {"Authorization": f"Bearer {TOKEN}"}

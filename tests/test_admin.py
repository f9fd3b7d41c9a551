"""Admin routes over a real store: numbers equal an independent count, auth, headers, ranges, escaping.

`scripted_data` and `expected_summary` are shared with the report and browser tests: the data set is scripted
(every action, several local days, languages, user agents, a bot, an erasure, CSP reports), and the expected
numbers are computed here from the raw rows, never through gateway.summary.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import logging
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from gateway.admin import admin_routes
from gateway.metrics import Metrics
from gateway.store import BannerEvent, ConsentRecord, open_store
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


def _local(day: date, hour: int, minute: int) -> datetime:
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
        at = _local(day, (i * 5) % 24, (i * 17) % 60)
        data.records.append(ConsentRecord(consent_id=f"c-{i:04d}", at=at, action=action, categories=granted,
                                          gpc=i % 4 == 0, ip_prefix=None, texts_hash="t" * 64, **traits))
        for extra in range(1 + i % 3):  # impressions outnumber decisions; bots' are logged and ignored
            data.events.append(BannerEvent(at=at - timedelta(minutes=1 + extra), event="shown", **traits))
    # Local-day boundary: 23:59 and 00:01 in Almaty are the same UTC day (18:59 and 19:01 UTC).
    for cid, at in (("c-late", _local(start, 23, 59)), ("c-early", _local(start + timedelta(days=1), 0, 1))):
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
            await store.record_csp_report(host, "script-src-elem", _local(START, 12, k))


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


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROUTES = ["/_consent/admin/", "/_consent/admin/api/summary", "/_consent/admin/api/summary.csv", "/_consent/metrics"]
RANGE = {"from": START.isoformat(), "to": END.isoformat()}


def make_app(store: Any, token: str | None = TOKEN, metrics: Metrics | None = None) -> Starlette:
    routes = admin_routes(token=token, store=store, metrics=metrics or Metrics(), timezone=TIMEZONE)
    return Starlette(routes=[Mount("/_consent", routes=routes)])


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://admin.test")


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    url = "memory:" if request.param == "memory" else f"sqlite:///{tmp_path / 'consent.sqlite3'}"
    s = open_store(url, TIMEZONE)
    await s.open()
    yield s
    await s.close()


@pytest.fixture
async def loaded(store: Any) -> Any:
    await load(store, scripted_data())
    return store


@pytest.fixture
async def client(loaded: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app(loaded)) as c:
        yield c


async def test_summary_json_equals_independent_count(client: httpx.AsyncClient) -> None:
    resp = await client.get("/_consent/admin/api/summary", params=RANGE, headers=AUTH)
    assert resp.status_code == 200
    assert resp.json() == expected_summary(scripted_data())


async def test_summary_counts_local_days_and_leaves_bots_out(client: httpx.AsyncClient) -> None:
    resp = await client.get("/_consent/admin/api/summary", params={"from": "2026-11-02", "to": "2026-11-03"},
                            headers=AUTH)
    data = scripted_data()
    late, early = _local(START, 23, 59), _local(START + timedelta(days=1), 0, 1)
    assert late.date() == early.date()  # the same UTC day...
    days = {d["day"]: d for d in resp.json()["days"]}
    humans = [r for r in data.records if r.device != "bot" and r.action in ("accept_all", "reject_all", "custom")]
    for day in ("2026-11-02", "2026-11-03"):  # ...counted on two local days
        assert days[day]["decisions"] == sum(r.at.astimezone(TZ).date().isoformat() == day for r in humans)
    assert any(r.device == "bot" for r in data.records)
    assert "bot" not in {row["key"] for row in resp.json()["breakdowns"]["device"]}


async def test_csv_carries_the_same_numbers(client: httpx.AsyncClient) -> None:
    resp = await client.get("/_consent/admin/api/summary.csv", params=RANGE, headers=AUTH)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    assert resp.headers["content-disposition"] == 'attachment; filename="consent-summary-2026-11-02_2026-11-06.csv"'
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0] == ["section", "key", "metric", "value"]
    got = {(s, k, m): v for s, k, m, v in rows[1:]}
    want = expected_summary(scripted_data())
    for name, value in want["totals"].items():
        assert int(got[("totals", "", name)]) == value
    assert float(got[("rates", "", "interaction_rate")]) == want["interaction_rate"]
    for category, rate in want["opt_in_rate"].items():
        assert float(got[("rates", category, "opt_in_rate")]) == rate
    for day in want["days"]:
        for name in ("shown", "decisions", "accept_all", "reject_all", "custom", "withdraw"):
            assert int(got[("day", day["day"], name)]) == day[name]
        for category, rate in day["opt_in"].items():
            assert float(got[("day", day["day"], f"opt_in_{category}")]) == rate
    for entry in want["breakdowns"]["browser"]:
        assert int(got[("browser", entry["key"], "decisions")]) == entry["decisions"]
    assert got[("blocked_host", "connect.facebook.net", "reports")] == "5"
    # Visitor-supplied text that a spreadsheet would execute is defused with a leading quote.
    assert got[("blocked_host", "'" + FORMULA_HOST, "reports")] == "2"


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": basic("analyst", "wrong")},
    {"Authorization": "Basic !!not-base64!!"}, {"Authorization": f"Token {TOKEN}"},
    {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Bearer "},
], ids=["none", "wrong-bearer", "wrong-basic", "garbled-basic", "other-scheme", "longer-token", "empty-bearer"])
@pytest.mark.parametrize("path", ROUTES)
async def test_refused_without_the_token(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> None:
    resp = await client.get(path, headers=headers)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == 'Basic realm="consent-gateway", charset="UTF-8"'
    assert resp.headers["cache-control"] == "no-store"
    assert "Admin token required" in resp.text


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}", f"bearer {TOKEN}", basic("analyst", TOKEN), basic("", TOKEN)],
                         ids=["bearer", "bearer-lower", "basic", "basic-no-user"])
@pytest.mark.parametrize("path", ROUTES)
async def test_allowed_with_the_token(client: httpx.AsyncClient, path: str, header: str) -> None:
    resp = await client.get(path, headers={"Authorization": header})
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-store"


async def test_token_never_logged(store: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with client_for(make_app(store)) as c:
        for path in ROUTES:
            for header in (f"Bearer {TOKEN}", basic("a", TOKEN), f"Bearer {TOKEN[:-1]}", basic("a", TOKEN + "!")):
                await c.get(path, headers={"Authorization": header})
    make_app(store, token=None)
    assert caplog.records  # the disabled-admin warning at least: the capture works
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert TOKEN[:12] not in logged


async def test_no_token_disables_admin_with_one_warning(store: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.admin")
    app = make_app(store, token=None)
    warnings = [r for r in caplog.records if r.name == "gateway.admin"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "GATEWAY_ADMIN_TOKEN" in warnings[0].getMessage()
    async with client_for(app) as c:
        for path in ROUTES:
            resp = await c.get(path, headers={"Authorization": "Bearer "})
            assert resp.status_code == 503 and "Admin is disabled" in resp.text
            assert resp.headers["cache-control"] == "no-store"
    assert len([r for r in caplog.records if r.name == "gateway.admin"]) == 1
    make_app(store, token="   ")  # a blank token is no token: never "anyone with an empty password"
    assert len([r for r in caplog.records if r.name == "gateway.admin"]) == 2


BAD_RANGES = [
    ({"from": "2026-13-01"}, "from"), ({"from": "yesterday"}, "from"), ({"to": "20261101"}, "to"),
    ({"to": "2026-02-30"}, "to"), ({"from": "2026-11-06", "to": "2026-11-02"}, "from"),
    ({"from": "2020-01-01", "to": "2026-11-02"}, "to"),
]


@pytest.mark.parametrize(("params", "parameter"), BAD_RANGES)
async def test_bad_range_is_422_naming_the_parameter(client: httpx.AsyncClient, params: dict[str, str],
                                                     parameter: str) -> None:
    for path in ("/_consent/admin/api/summary", "/_consent/admin/api/summary.csv"):
        resp = await client.get(path, params=params, headers=AUTH)
        assert resp.status_code == 422
        assert resp.headers["cache-control"] == "no-store"
        body = resp.json()
        assert body["parameter"] == parameter and body["message"].startswith(parameter)
    page = await client.get("/_consent/admin/", params=params, headers=AUTH)
    assert page.status_code == 422 and 'role="alert"' in page.text


async def test_three_years_is_the_longest_range(client: httpx.AsyncClient) -> None:
    resp = await client.get("/_consent/admin/api/summary", params={"from": "2023-11-03", "to": "2026-11-02"},
                            headers=AUTH)
    assert resp.status_code == 200 and len(resp.json()["days"]) == 1096


async def test_default_range_is_the_last_30_local_days(client: httpx.AsyncClient) -> None:
    today = datetime.now(TZ).date()
    body = (await client.get("/_consent/admin/api/summary", headers=AUTH)).json()
    assert (body["from"], body["to"]) == ((today - timedelta(days=29)).isoformat(), today.isoformat())
    only_to = (await client.get("/_consent/admin/api/summary", params={"to": "2026-11-06"}, headers=AUTH)).json()
    assert (only_to["from"], len(only_to["days"])) == ("2026-10-08", 30)


class SvgPoints(HTMLParser):
    """Collects data points (elements with data-value) per chart id, and all text."""

    def __init__(self) -> None:
        super().__init__()
        self.chart = ""
        self.points: dict[str, list[dict[str, str]]] = defaultdict(list)
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "svg" and a.get("id", "").startswith("chart-"):
            self.chart = a["id"]
        if "data-value" in a:
            self.points[self.chart].append(a)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def test_dashboard_charts_carry_the_numbers(client: httpx.AsyncClient) -> None:
    resp = await client.get("/_consent/admin/", params=RANGE, headers=AUTH)
    assert resp.status_code == 200
    assert "default-src 'none'" in resp.headers["content-security-policy"]
    parsed = SvgPoints()
    parsed.feed(resp.text)
    want = expected_summary(scripted_data())
    mix = {(p["data-day"], p["data-series"]): int(p["data-value"]) for p in parsed.points["chart-mix"]}
    assert mix == {(d["day"], s): d[s] for d in want["days"] for s in ("accept_all", "reject_all", "custom", "withdraw")}
    lines = {(p["data-day"], p["data-series"]): float(p["data-value"]) for p in parsed.points["chart-opt-in"]}
    assert lines == {(d["day"], c): d["opt_in"][c] for d in want["days"] for c in OPT_IN}
    devices = {(p["data-key"], p["data-series"]): int(p["data-value"]) for p in parsed.points["chart-device"]}
    assert devices == {(e["key"], s): e[s] for e in want["breakdowns"]["device"]
                       for s in ("accept_all", "reject_all", "custom")}
    assert 'href="api/summary.csv?from=2026-11-02&amp;to=2026-11-06"' in resp.text


async def test_days_without_decisions_leave_a_gap_in_the_rate_lines(client: httpx.AsyncClient) -> None:
    empty = (START - timedelta(days=1)).isoformat()
    resp = await client.get("/_consent/admin/", params={"from": empty, "to": END.isoformat()}, headers=AUTH)
    parsed = SvgPoints()
    parsed.feed(resp.text)
    rate_days = {p["data-day"] for p in parsed.points["chart-opt-in"]}
    bars = {(p["data-day"], p["data-series"]): p["data-value"] for p in parsed.points["chart-mix"]}
    assert empty not in rate_days and START.isoformat() in rate_days
    assert bars[(empty, "accept_all")] == "0"  # the bar chart still shows the empty day as zero


async def test_dashboard_escapes_visitor_data(client: httpx.AsyncClient) -> None:
    resp = await client.get("/_consent/admin/", params=RANGE, headers=AUTH)
    assert HOSTILE_HOST not in resp.text and "<img" not in resp.text
    assert "&lt;img src=x onerror=alert(1)&gt;.example" in resp.text
    parsed = SvgPoints()
    parsed.feed(resp.text)
    assert HOSTILE_HOST in "".join(parsed.text)  # shown to the analyst as text


async def test_bare_admin_path_redirects_to_the_dashboard(client: httpx.AsyncClient) -> None:
    resp = await client.get("/_consent/admin", headers=AUTH)
    assert resp.status_code == 308 and resp.headers["location"] == "admin/"

"""Admin routes over a real store: numbers equal an independent count, auth, headers, ranges, escaping.

The data set and its expected summary come from tests/analytics_data.py (shared with the report and browser tests).
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.store import MAX_RANGE_DAYS, open_store
from tests.analytics_data import (
    AUTH,
    END,
    FORMULA_HOST,
    HOSTILE_HOST,
    OPT_IN,
    START,
    TIMEZONE,
    TOKEN,
    TZ,
    basic,
    client_for,
    expected_summary,
    load,
    local_time,
    make_app,
    scripted_data,
)

ROUTES = ["/_consent/admin/", "/_consent/admin/api/summary", "/_consent/admin/api/summary.csv", "/_consent/metrics"]
RANGE = {"from": START.isoformat(), "to": END.isoformat()}


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
    late, early = local_time(START, 23, 59), local_time(START + timedelta(days=1), 0, 1)
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
    resp = await client.get(path, headers={**headers, "Accept-Language": "en"})
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
            assert resp.status_code == 503 and "GATEWAY_ADMIN_TOKEN" in resp.text  # how to enable it
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


async def test_a_range_over_the_limit_is_a_422_saying_so(client: httpx.AsyncClient) -> None:
    longest = {"from": (END - timedelta(days=MAX_RANGE_DAYS - 1)).isoformat(), "to": END.isoformat()}
    resp = await client.get("/_consent/admin/api/summary", params=longest, headers=AUTH)
    assert resp.status_code == 200 and len(resp.json()["days"]) == 1098
    one_more = {"from": (END - timedelta(days=MAX_RANGE_DAYS)).isoformat(), "to": END.isoformat()}
    resp = await client.get("/_consent/admin/api/summary", params=one_more, headers=AUTH)
    assert resp.status_code == 422
    assert resp.json() == {"error": "invalid_range", "parameter": "to",
                           "message": "to is more than 3 years after from: at most 1098 days per summary"}


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


async def test_wrong_tokens_are_slowed_per_network_and_then_not_even_checked(store: Any) -> None:
    async with client_for(make_app(store, failures_per_minute=3)) as c:
        wrong = [(await c.get("/_consent/admin/api/summary", headers={"Authorization": "Bearer nope"})).status_code
                 for _ in range(3)]
        right = await c.get("/_consent/admin/api/summary", headers={"Authorization": f"Bearer {TOKEN}"})
    assert wrong == [401, 401, 401]
    assert right.status_code == 429 and int(right.headers["retry-after"]) >= 1  # even the right token waits

"""Prometheus exposition: parses with the client library's own parser, and the counters follow the traffic."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.store.memory import MemoryStore
from tests.analytics_data import AUTH, TOKEN, basic, client_for, make_app

FAMILIES = {
    "consent_decisions": "counter", "consent_opt_ins": "counter", "consent_banner_impressions": "counter",
    "consent_invalid_cookies": "counter", "consent_csp_reports": "counter", "consent_request_seconds": "histogram",
    "consent_admin_auth_failures": "counter",
}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition as {(name, sorted labels): value}; raises if the text does not parse."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_fresh_exposition_parses_and_starts_known_series_at_zero() -> None:
    text = Metrics().render().decode()
    families = {f.name: f.type for f in text_string_to_metric_families(text) if not f.name.endswith("_created")}
    assert families == FAMILIES  # (the client library adds a *_created gauge per counter in this format)
    parsed = samples(text)
    for action in ("accept_all", "reject_all", "custom", "withdraw", "erase"):
        assert parsed[("consent_decisions_total", (("action", action),))] == 0
    for category in ("preferences", "analytics", "marketing"):
        assert parsed[("consent_opt_ins_total", (("category", category),))] == 0


def test_two_apps_never_share_counters() -> None:
    a, b = Metrics(), Metrics()
    a.decisions.labels("custom").inc()
    assert value(a.render().decode(), "consent_decisions_total", action="custom") == 1
    assert value(b.render().decode(), "consent_decisions_total", action="custom") == 0


async def test_metrics_route_serves_the_exposition_and_counts_refused_admin_requests() -> None:
    metrics = Metrics()
    async with MemoryStore() as store, client_for(make_app(store, metrics=metrics)) as c:
        await c.get("/_consent/admin/api/summary")
        for header in ("Bearer nope", basic("x", "nope"), basic("x", TOKEN[:-1])):
            await c.get("/_consent/metrics", headers={"Authorization": header})
        await c.get("/_consent/admin/", headers={"Authorization": "Digest abc"})
        resp = await c.get("/_consent/metrics", headers=AUTH)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == CONTENT_TYPE_LATEST
    assert resp.headers["cache-control"] == "no-store"
    text = resp.text
    assert value(text, "consent_admin_auth_failures_total", reason="missing") == 1
    assert value(text, "consent_admin_auth_failures_total", reason="wrong") == 3
    assert value(text, "consent_admin_auth_failures_total", reason="malformed") == 1
    assert TOKEN not in text


async def test_counters_follow_consent_traffic_through_the_app(make_client: object, settings: Settings) -> None:
    """Decisions, opt-ins, impressions and CSP reports made through the real API show up on /metrics."""
    client: httpx.AsyncClient = await make_client(settings)  # type: ignore[operator]
    json_headers = {"content-type": "application/json", "origin": "https://wgp.kz"}

    async def put(body: dict[str, object]) -> None:
        resp = await client.put("/_consent/state", content=json.dumps(body), headers=json_headers)
        assert resp.status_code == 200

    async def scrape() -> str:
        resp = await client.get("/_consent/metrics", headers={"Authorization": f"Bearer {settings.admin_token}"})
        assert resp.status_code == 200
        return resp.text

    before = await scrape()
    for _ in range(3):
        shown = await client.post("/_consent/events", content=b'{"event": "shown", "lang": "ru"}',
                                  headers=json_headers)
        assert shown.status_code == 204
    await put({"action": "accept_all"})
    await put({"action": "reject_all"})
    await put({"categories": {"analytics": True}})
    assert (await client.delete("/_consent/state", headers={"origin": "https://wgp.kz"})).status_code == 200
    report = {"csp-report": {"blocked-uri": "https://mc.yandex.ru/metrika/tag.js",
                             "violated-directive": "script-src-elem", "document-uri": "https://wgp.kz/"}}
    await client.post("/_consent/csp-report", content=json.dumps(report),
                      headers={"content-type": "application/csp-report"})
    after = await scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("consent_banner_impressions_total") == 3
    assert [moved("consent_decisions_total", action=a) for a in ("accept_all", "reject_all", "custom", "withdraw")] \
        == [1, 1, 1, 1]
    assert moved("consent_opt_ins_total", category="analytics") == 2  # accept_all and the custom choice
    assert moved("consent_opt_ins_total", category="marketing") == 1
    assert moved("consent_csp_reports_total") == 1


@pytest.mark.parametrize("token", ["", None])
async def test_metrics_route_is_closed_without_a_token(token: str | None) -> None:
    async with MemoryStore() as store, client_for(make_app(store, token=token)) as c:
        resp = await c.get("/_consent/metrics", headers={"Authorization": "Bearer "})
    assert resp.status_code == 503 and "consent_decisions" not in resp.text

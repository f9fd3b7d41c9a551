"""The consent API through the real app: every route, every bad input, the log rows written."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from gateway.settings import Settings
from gateway.signing import CookieSigner
from gateway.store import sqlite as sqlite_module

from .conftest import CLIENT_IP, KEY, OLD_KEY, SITE, ClientFactory

JSON = {"content-type": "application/json", "origin": SITE}
COOKIE = "wgp_consent"


def log_rows(settings: Settings) -> list[sqlite3.Row]:
    """Read the consent log back through a separate plain sqlite3 connection."""
    con = sqlite3.connect(settings.data_dir / "consent.sqlite3")
    con.row_factory = sqlite3.Row
    try:
        return con.execute("SELECT * FROM consent_log ORDER BY id").fetchall()
    finally:
        con.close()


async def put(client: httpx.AsyncClient, body: object, **headers: str) -> httpx.Response:
    return await client.put("/_consent/state", content=json.dumps(body), headers={**JSON, **headers})


async def test_new_visitor_is_undecided(client: httpx.AsyncClient) -> None:
    r = await client.get("/_consent/state")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["decided"] is False and body["consent_id"] is None
    assert body["categories"] == {"necessary": True, "preferences": False, "analytics": False, "marketing": False}


async def test_accept_all_sets_signed_cookie_and_logs_row(client: httpx.AsyncClient, settings: Settings) -> None:
    r = await put(client, {"action": "accept_all", "lang": "kk"})
    assert r.status_code == 200
    state = r.json()
    assert state["decided"] and state["action"] == "accept_all"
    assert all(state["categories"].values())
    assert state["policy_version"] == "2023-01-12" and state["expires_at"] > state["decided_at"]
    set_cookie = r.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=") and "HttpOnly" in set_cookie and "Secure" in set_cookie
    assert "Max-Age=15552000" in set_cookie and "SameSite=lax" in set_cookie and "Path=/" in set_cookie
    rows = log_rows(settings)
    assert len(rows) == 1
    row = dict(rows[0])
    assert row["consent_id"] == state["consent_id"] and row["action"] == "accept_all"
    assert row["language"] == "kk" and row["ip_prefix"] == "203.0.113.0/24"
    assert row["browser"] == "Chrome" and row["device"] == "desktop" and row["os"] == "Windows"
    assert len(row["texts_hash"]) == 64
    as_text = json.dumps(row, default=bytes.hex)  # the chain column is bytes
    assert CLIENT_IP not in as_text and "Mozilla" not in as_text
    again = await client.get("/_consent/state")
    assert again.json() == state


async def test_custom_choice_and_receipt(client: httpx.AsyncClient) -> None:
    first = (await put(client, {"categories": {"analytics": True}})).json()
    assert first["action"] == "custom"
    assert first["categories"] == {"necessary": True, "preferences": False, "analytics": True, "marketing": False}
    second = (await put(client, {"action": "reject_all"})).json()
    assert second["consent_id"] == first["consent_id"]
    receipt = (await client.get("/_consent/receipt")).json()
    assert receipt["consent_id"] == first["consent_id"]
    assert [r["action"] for r in receipt["records"]] == ["custom", "reject_all"]
    assert receipt["records"][0]["categories"]["analytics"] is True
    assert receipt["controller"].startswith("WGP LLP") and "Atyrau" in receipt["controller"]


async def test_withdraw_logs_clears_cookie_and_expires_vendor_cookies(
        client: httpx.AsyncClient, settings: Settings) -> None:
    state = (await put(client, {"action": "accept_all"})).json()
    client.cookies.set("_ga", "GA1.1.123", domain="wgp.kz")
    client.cookies.set("_ym_uid", "42", domain="wgp.kz")
    r = await client.delete("/_consent/state", headers={"origin": SITE})
    assert r.status_code == 200
    assert r.json()["decided"] is False and r.json()["withdrawn"] == state["consent_id"]
    cookies = r.headers.get_list("set-cookie")
    assert any(c.startswith(f"{COOKIE}=") and "Max-Age=0" in c for c in cookies)
    assert any(c.startswith("_ga=") and "Max-Age=0" in c and "Domain=.wgp.kz" in c for c in cookies)
    assert any(c.startswith("_ga=") and "Domain" not in c for c in cookies)  # host-only form too
    assert any(c.startswith("_ym_uid=") and "Max-Age=0" in c for c in cookies)
    assert "clear-site-data" not in r.headers
    assert [row["action"] for row in log_rows(settings)] == ["accept_all", "withdraw"]
    assert (await client.get("/_consent/state")).json()["decided"] is False


async def test_withdraw_sends_clear_site_data_only_when_enabled(
        make_client: ClientFactory, settings: Settings) -> None:
    client = await make_client(settings, clear_site_data=True)
    await put(client, {"action": "accept_all"})
    r = await client.delete("/_consent/state", headers={"origin": SITE})
    assert r.headers["clear-site-data"] == '"storage"'


async def test_erase_removes_rows_and_says_what_is_kept(client: httpx.AsyncClient, settings: Settings) -> None:
    cid = (await put(client, {"action": "accept_all"})).json()["consent_id"]
    await put(client, {"action": "reject_all"})
    r = await client.post("/_consent/erase", headers={"origin": SITE})
    assert r.status_code == 200
    body = r.json()
    assert body["erased_records"] == 2 and body["consent_id"] == cid
    assert {"what", "why"} <= set(body["kept"][0])
    rows = log_rows(settings)
    assert [(row["consent_id"], row["action"]) for row in rows] == [(cid, "erase")]
    assert rows[0]["ip_prefix"] is None
    assert (await client.post("/_consent/erase", headers={"origin": SITE})).status_code == 404


async def test_receipt_without_consent_is_404_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/_consent/receipt")
    assert r.status_code == 404 and "no consent" in r.json()["message"]


BAD_WRITES = [
    ("not json type", {"content-type": "text/plain", "origin": SITE}, b'{"action":"accept_all"}', 415, "application/json"),
    ("form", {"content-type": "application/x-www-form-urlencoded", "origin": SITE}, b"action=accept_all", 415, "application/json"),
    ("broken json", JSON, b'{"action":', 400, "not valid JSON"),
    ("array", JSON, b"[1,2]", 422, "JSON object"),
    ("unknown action", JSON, b'{"action":"accept_some"}', 422, "unknown action 'accept_some'"),
    ("unknown category", JSON, b'{"categories":{"ads":true}}', 422, "unknown category 'ads'"),
    ("non-bool", JSON, b'{"categories":{"analytics":"yes"}}', 422, "must be true or false"),
    ("refuse necessary", JSON, b'{"categories":{"necessary":false}}', 422, "'necessary' cannot be refused"),
    ("both", JSON, b'{"action":"accept_all","categories":{}}', 422, "not both"),
    ("empty object", JSON, b"{}", 422, "expected 'action'"),
    ("too large", JSON, b'{"action":"accept_all","pad":"' + b"x" * 5000 + b'"}', 413, "larger than 4096"),
    ("foreign origin", {"content-type": "application/json", "origin": "https://evil.example"},
     b'{"action":"accept_all"}', 403, "'https://evil.example' is not allowed"),
]


@pytest.mark.parametrize(("headers", "body", "status", "message"), [b[1:] for b in BAD_WRITES],
                         ids=[b[0] for b in BAD_WRITES])
async def test_bad_writes_get_clear_errors_and_write_nothing(
        client: httpx.AsyncClient, settings: Settings, headers: dict[str, str], body: bytes, status: int,
        message: str) -> None:
    r = await client.put("/_consent/state", content=body, headers=headers)
    assert r.status_code == status
    assert message in r.json()["message"]
    assert "set-cookie" not in r.headers
    assert log_rows(settings) == []


async def test_bad_write_keeps_earlier_consent(client: httpx.AsyncClient, settings: Settings) -> None:
    good = (await put(client, {"action": "accept_all"})).json()
    assert (await put(client, {"action": "nope"})).status_code == 422
    assert (await client.get("/_consent/state")).json() == good
    assert len(log_rows(settings)) == 1


async def test_same_origin_and_originless_writes_are_allowed(make_client: ClientFactory, settings: Settings) -> None:
    client = await make_client(settings, origins=("https://www.wgp.kz",), allowed_hosts=(".wgp.kz",))
    assert (await put(client, {"action": "reject_all"}, origin="https://wgp.kz")).status_code == 200  # same origin
    r = await client.put("/_consent/state", content=b'{"action":"reject_all"}',
                         headers={"content-type": "application/json"})
    assert r.status_code == 200


async def test_cors_preflight_for_configured_origin_only(client: httpx.AsyncClient) -> None:
    ok = await client.options("/_consent/state", headers={
        "origin": "https://www.wgp.kz", "access-control-request-method": "PUT",
        "access-control-request-headers": "content-type"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://www.wgp.kz"
    assert ok.headers["access-control-allow-credentials"] == "true"
    bad = await client.options("/_consent/state", headers={
        "origin": "https://evil.example", "access-control-request-method": "PUT"})
    assert bad.status_code == 400 and "access-control-allow-origin" not in bad.headers


async def test_bad_cookies_mean_no_consent_and_are_counted(client: httpx.AsyncClient) -> None:
    good = (await put(client, {"action": "accept_all"})).cookies[COOKIE]
    from gateway.consent import ConsentState

    forged = CookieSigner(("z" * 40,), 3600).dumps(ConsentState(consent_id="x", decided=True, action="accept_all",
                                                                 granted=frozenset({"necessary", "marketing"}),
                                                                 policy_version="2023-01-12"))
    for value in ("hello", good[:-5], forged, "a.b.c", good + "tamper"):
        client.cookies.clear()
        client.cookies.set(COOKIE, value, domain="wgp.kz")
        r = await client.get("/_consent/state")
        assert r.status_code == 200 and r.json()["decided"] is False
    metrics = client.app.components.metrics.render().decode()
    assert 'consent_invalid_cookies_total{reason="bad_signature"}' in metrics


async def test_old_key_cookie_verifies_after_rotation(make_client: ClientFactory, settings: Settings) -> None:
    old = await make_client(settings, secret_keys=(OLD_KEY,))
    cookie = (await put(old, {"action": "accept_all"})).cookies[COOKIE]
    rotated = await make_client(settings, secret_keys=(KEY, OLD_KEY))
    rotated.cookies.set(COOKIE, cookie, domain="wgp.kz")
    assert (await rotated.get("/_consent/state")).json()["decided"] is True
    resigned = (await put(rotated, {"action": "reject_all"})).cookies[COOKIE]
    assert CookieSigner((KEY,), 3600).loads(resigned)[0] is not None


async def test_new_policy_version_asks_again(make_client: ClientFactory, settings: Settings) -> None:
    before = await make_client(settings)
    cookie = (await put(before, {"action": "accept_all"})).cookies[COOKIE]
    after = await make_client(settings, policy_version="2026-12-01")
    after.cookies.set(COOKIE, cookie, domain="wgp.kz")
    state = (await after.get("/_consent/state")).json()
    assert state["decided"] is False and state["categories"]["analytics"] is False
    assert state["consent_id"] is not None  # the receipt stays reachable


async def test_gpc_refuses_marketing_until_explicit_opt_in(client: httpx.AsyncClient, settings: Settings) -> None:
    undecided = (await client.get("/_consent/state", headers={"sec-gpc": "1"})).json()
    assert undecided["gpc"] is True and undecided["categories"]["marketing"] is False
    accepted = (await put(client, {"action": "accept_all"}, **{"sec-gpc": "1"})).json()
    assert accepted["gpc"] is True and accepted["categories"]["analytics"] is True
    assert accepted["categories"]["marketing"] is False
    explicit = (await put(client, {"categories": {"marketing": True}}, **{"sec-gpc": "1"})).json()
    assert explicit["categories"]["marketing"] is True
    assert [row["gpc"] for row in log_rows(settings)] == [1, 1]
    assert (await client.get("/.well-known/gpc.json")).json()["gpc"] is True


async def test_plain_http_localhost_drops_secure_only_there(make_client: ClientFactory, settings: Settings) -> None:
    client = await make_client(settings)
    local = await client.put("http://localhost:8000/_consent/state", content=b'{"action":"reject_all"}',
                             headers={"content-type": "application/json"})
    assert "Secure" not in local.headers["set-cookie"]
    remote = await client.put("http://wgp.kz/_consent/state", content=b'{"action":"reject_all"}',
                              headers={"content-type": "application/json"})
    assert "Secure" in remote.headers["set-cookie"]


async def test_cookie_domain_for_gateway_subdomain(make_client: ClientFactory, settings: Settings) -> None:
    client = await make_client(settings, cookie_domain=".wgp.kz")
    r = await client.put("https://consent.wgp.kz/_consent/state", content=b'{"action":"reject_all"}',
                         headers={"content-type": "application/json", "origin": "https://www.wgp.kz"})
    assert "Domain=wgp.kz" in r.headers["set-cookie"] or "Domain=.wgp.kz" in r.headers["set-cookie"]
    assert r.headers["access-control-allow-origin"] == "https://www.wgp.kz"


def site_today(settings: Settings) -> date:
    """The day in the site's timezone: the log's days are the analyst's days, not UTC's."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


async def test_events_count_impressions_without_identifier(client: httpx.AsyncClient, settings: Settings) -> None:
    r = await client.post("/_consent/events", content=b'{"event":"shown","lang":"en"}', headers=JSON)
    assert r.status_code == 204
    bad = await client.post("/_consent/events", content=b'{"event":"clicked"}', headers=JSON)
    assert bad.status_code == 422 and "unknown event" in bad.json()["message"]
    bot = await client.post("/_consent/events", content=b'{"event":"shown"}',
                            headers={**JSON, "user-agent": "curl/8.5.0"})
    assert bot.status_code == 204
    today = site_today(settings)
    summary = await client.app.components.store.summary(today, today)
    assert summary["totals"]["shown"] == 1
    con = sqlite3.connect(settings.data_dir / "consent.sqlite3")
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert "consent_log" in tables
    assert con.execute("SELECT count(*) FROM consent_log").fetchone()[0] == 0
    con.close()


async def test_csp_reports_are_recorded_by_host(client: httpx.AsyncClient, settings: Settings) -> None:
    report = {"csp-report": {"document-uri": "https://wgp.kz/", "blocked-uri": "https://tracker.example/p.js",
                             "effective-directive": "script-src-elem", "violated-directive": "script-src"}}
    r = await client.post("/_consent/csp-report", content=json.dumps(report),
                          headers={"content-type": "application/csp-report"})
    assert r.status_code == 204
    today = site_today(settings)
    hosts = (await client.app.components.store.summary(today, today))["blocked_hosts"]
    assert hosts == [{"host": "tracker.example", "reports": 1}]
    junk = await client.post("/_consent/csp-report", content=b"42", headers={"content-type": "application/csp-report"})
    assert junk.status_code == 422


async def test_config_json_by_lang_then_accept_language(client: httpx.AsyncClient) -> None:
    ru = (await client.get("/_consent/config.json?lang=ru")).json()
    kk = (await client.get("/_consent/config.json?lang=kz")).json()
    en = (await client.get("/_consent/config.json", headers={"accept-language": "de, en;q=0.8, ru;q=0.5"})).json()
    fallback = (await client.get("/_consent/config.json?lang=fr")).json()
    assert (ru["lang"], kk["lang"], en["lang"], fallback["lang"]) == ("ru", "kk", "en", "ru")
    assert ru["texts"]["accept_all"] != en["texts"]["accept_all"] != kk["texts"]["accept_all"]
    assert [c["id"] for c in ru["categories"]] == ["necessary", "preferences", "analytics", "marketing"]
    assert ru["texts"]["title"] != en["texts"]["title"]
    assert all("vendors" not in c for c in ru["categories"])  # the vendor list is in vendors.json


async def test_banner_assets_cached_by_hash_with_etag(client: httpx.AsyncClient) -> None:
    r = await client.get("/_consent/banner.js", headers={"accept-encoding": "br"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "br"
    assert "javascript" in r.headers["content-type"]
    etag = r.headers["etag"]
    assert (await client.get("/_consent/banner.js", headers={"if-none-match": etag})).status_code == 304
    version = etag.strip('"')
    cached = await client.get(f"/_consent/banner.js?v={version}")
    assert "immutable" in cached.headers["cache-control"]
    css = await client.get("/_consent/banner.css", headers={"accept-encoding": "gzip"})
    assert css.status_code == 200 and "#consent-banner" in css.text


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/_consent/healthz")
    assert r.status_code == 200 and r.json()["storage"] == "ok"


async def test_store_failure_is_503_and_sets_no_cookie(client: httpx.AsyncClient, settings: Settings) -> None:
    await client.app.components.store.close()
    r = await put(client, {"action": "accept_all"})
    assert r.status_code == 503 and "set-cookie" not in r.headers
    assert "message" in r.json()
    assert (await client.get("/_consent/healthz")).status_code == 503


async def test_concurrent_puts_are_durable_when_answered_and_share_commits(
        make_client: ClientFactory, settings: Settings) -> None:
    import asyncio

    client = await make_client(settings, rate_limit_writes=0)  # many visitors at once, not one client
    store = client.app.components.store
    commits_before = store.commits
    con = sqlite3.connect(settings.data_dir / "consent.sqlite3")
    seen: list[bool] = []

    async def visitor(i: int) -> None:
        async with httpx.AsyncClient(transport=client._transport, base_url=SITE,
                                     headers={"user-agent": "Mozilla/5.0 Firefox/130.0"}) as own:
            r = await own.put("/_consent/state", content=b'{"action":"accept_all"}', headers=JSON)
            assert r.status_code == 200
            cid = r.json()["consent_id"]
            seen.append(con.execute("SELECT 1 FROM consent_log WHERE consent_id = ?", (cid,)).fetchone() == (1,))

    await asyncio.gather(*(visitor(i) for i in range(100)))
    con.close()
    assert seen == [True] * 100
    assert store.commits - commits_before < 100


async def test_route_latency_is_measured_with_bounded_labels(client: httpx.AsyncClient) -> None:
    await client.get("/_consent/state")
    await client.get("/_consent/no-such-route-1")
    await client.get("/_consent/no-such-route-2")
    text = client.app.components.metrics.render().decode()
    assert 'consent_request_seconds_count{route="/state"} 1.0' in text
    assert 'consent_request_seconds_count{route="other"} 2.0' in text
    assert "no-such-route" not in text


DEEP = [("/_consent/state", "PUT", b'{"categories": ' + b"[" * 1000 + b"]" * 1000 + b"}"),
        ("/_consent/events", "POST", b'{"event": ' + b"{\"a\":" * 600 + b"1" + b"}" * 600 + b"}"),
        ("/_consent/csp-report", "POST", b"[" * 1000 + b"]" * 1000)]


@pytest.mark.parametrize(("path", "method", "body"), DEEP, ids=[d[0] for d in DEEP])
async def test_deeply_nested_json_is_a_clear_400_not_a_crash(client: httpx.AsyncClient, path: str, method: str,
                                                             body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    r = await client.request(method, path, content=body,
                             headers={"content-type": "application/json", "origin": SITE})
    assert r.status_code == 400 and r.json() == {
        "error": "bad_request", "message": "request body nests deeper than 16 levels of arrays and objects"}
    assert "RecursionError" not in caplog.text and "Traceback" not in caplog.text


async def test_brackets_inside_strings_do_not_count_as_nesting(client: httpx.AsyncClient) -> None:
    r = await client.post("/_consent/events", content=b'{"event": "shown", "lang": "' + b"[" * 100 + b'"}',
                          headers={"content-type": "application/json", "origin": SITE})
    assert r.status_code == 204


async def test_one_network_flooding_writes_gets_429_and_others_are_served(
        make_client: ClientFactory, settings: Settings) -> None:
    flooded = await make_client(settings, rate_limit_writes=5)
    answers = [(await put(flooded, {"action": "reject_all"})) for _ in range(8)]
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 3
    refused = answers[-1]
    assert int(refused.headers["retry-after"]) >= 1 and "set-cookie" not in refused.headers
    assert refused.json()["error"] == "too_many_requests"
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=flooded.app, client=("198.51.100.7", 1)),
                              base_url=SITE)
    assert (await put(other, {"action": "reject_all"})).status_code == 200


async def test_impressions_and_csp_reports_are_limited_per_network(
        make_client: ClientFactory, settings: Settings) -> None:
    client = await make_client(settings, rate_limit_reports=3)
    codes = [(await client.post("/_consent/events", json={"event": "shown"}, headers=JSON)).status_code
             for _ in range(5)]
    assert codes == [204, 204, 204, 429, 429]


async def test_a_csp_report_names_at_most_a_few_hosts_and_a_day_keeps_a_bounded_set(
        make_client: ClientFactory, settings: Settings) -> None:
    client = await make_client(settings, csp_report_hosts=2, csp_hosts_per_day=2, rate_limit_reports=0)
    report = [{"type": "csp-violation", "body": {"blockedURL": f"https://h{i}.example/x.js",
                                                 "effectiveDirective": "script-src-elem"}} for i in range(50)]
    for _ in range(3):
        assert (await client.post("/_consent/csp-report", json=report,
                                  headers={"content-type": "application/reports+json"})).status_code == 204
    await client.post("/_consent/csp-report", json=[{"body": {"blockedURL": "https://late.example/t.js"}}],
                      headers={"content-type": "application/reports+json"})
    store = client.app.components.store  # type: ignore[attr-defined]
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    hosts = {h["host"]: h["reports"] for h in (await store.summary(today, today))["blocked_hosts"]}
    assert hosts == {"h0.example": 3, "h1.example": 3, "other": 1}


@pytest.mark.parametrize("action", ["reject", "withdraw"])
async def test_expiring_vendor_cookies_sends_only_those_the_browser_has(client: httpx.AsyncClient,
                                                                       action: str) -> None:
    """A header block of hundreds of Set-Cookie lines is refused by proxies (nginx buffers 4-8 KB) and clients
    (aiohttp: "Too many headers"): only cookies the request carries are expired."""
    await put(client, {"action": "accept_all"})
    client.cookies.set("_ga", "GA1.1.123", domain="wgp.kz")
    client.cookies.set("session", "own", domain="wgp.kz")
    if action == "reject":
        r = await put(client, {"action": "reject_all"})
    else:
        r = await client.delete("/_consent/state", headers={"origin": SITE})
    cookies = r.headers.get_list("set-cookie")
    expired = {c.split("=", 1)[0] for c in cookies if "Max-Age=0" in c}
    assert expired <= {"_ga", COOKIE} and "_ga" in expired
    assert len(cookies) <= 4  # the consent cookie, and _ga host-only and on .wgp.kz
    assert sum(len(c) for c in cookies) < 1024

# -- storage faults: an accept that cannot be logged is a quick 503, no cookie; healthz follows; both heal ---------


async def _refused_then_healed(client: httpx.AsyncClient, clear: Callable[[], object]) -> None:
    started = time.monotonic()
    r = await put(client, {"action": "accept_all"})
    assert r.status_code == 503 and r.headers["retry-after"].isdigit() and "set-cookie" not in r.headers
    assert r.json()["error"] == "unavailable" and time.monotonic() - started < 3
    health = await client.get("/_consent/healthz")
    assert health.status_code == 503 and health.json() == {"status": "degraded", "storage": "unavailable"}
    clear()
    assert (await client.get("/_consent/healthz")).status_code == 200  # by itself: no restart, no visitor
    again = await put(client, {"action": "accept_all"})
    assert again.status_code == 200 and COOKIE in again.headers["set-cookie"]


async def test_a_locked_database_is_a_quick_503_without_cookie_and_heals(
        make_client: ClientFactory, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "WRITER_BUSY_TIMEOUT_MS", 500)  # the real 4 s: tests/store
    client = await make_client(settings)
    lock = sqlite3.connect(settings.data_dir / "consent.sqlite3", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        await _refused_then_healed(client, lambda: lock.execute("ROLLBACK"))
    finally:
        lock.close()
    assert len(log_rows(settings)) == 1


async def test_a_full_disk_is_a_503_without_cookie_and_heals(
        client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = client.app.components.store._writer  # type: ignore[attr-defined]
    real = writer.execute

    def execute(sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return real(sql, *args)

    monkeypatch.setattr(writer, "execute", execute)
    await _refused_then_healed(client, monkeypatch.undo)
    assert len(log_rows(settings)) == 1


async def test_a_database_file_replaced_by_a_directory_is_a_503_without_cookie_and_heals(
        client: httpx.AsyncClient, settings: Settings) -> None:
    path = settings.data_dir / "consent.sqlite3"
    moved = path.with_name("elsewhere.sqlite3")
    path.rename(moved)
    path.mkdir()

    def put_it_back() -> None:
        path.rmdir()
        moved.rename(path)

    await _refused_then_healed(client, put_it_back)
    assert len(log_rows(settings)) == 1

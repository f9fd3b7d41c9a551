"""The consent form of a page read without JavaScript: POST form-encoded, answered 303 back to the page."""

from __future__ import annotations

import httpx
import pytest

from .conftest import SITE

FORM = {"content-type": "application/x-www-form-urlencoded", "origin": SITE}


async def test_reject_all_sets_the_cookie_logs_and_returns_to_the_page(client: httpx.AsyncClient) -> None:
    r = await client.post("/_consent/state", content=b"action=reject_all&return=%2Fabout%3Fx%3D1", headers=FORM)
    assert r.status_code == 303 and r.headers["location"] == "/about?x=1"
    assert r.headers["cache-control"] == "no-store"
    client.cookies = r.cookies
    state = (await client.get("/_consent/state")).json()
    assert state["decided"] and state["action"] == "reject_all" and not state["categories"]["analytics"]
    records = (await client.get("/_consent/receipt")).json()["records"]
    assert [rec["action"] for rec in records] == ["reject_all"]


async def test_accept_all_grants_everything(client: httpx.AsyncClient) -> None:
    r = await client.post("/_consent/state", content=b"action=accept_all&return=/", headers=FORM)
    client.cookies = r.cookies
    assert all((await client.get("/_consent/state")).json()["categories"].values())


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "evil", ""])
async def test_the_way_back_never_leaves_the_site(client: httpx.AsyncClient, target: str) -> None:
    r = await client.post("/_consent/state", data={"action": "reject_all", "return": target}, headers=FORM)
    assert r.status_code == 303 and r.headers["location"] == "/"


async def test_the_referer_stands_in_for_a_missing_origin(client: httpx.AsyncClient) -> None:
    headers = {"content-type": FORM["content-type"]}
    ok = await client.post("/_consent/state", content=b"action=reject_all",
                           headers=headers | {"referer": f"{SITE}/contacts"})
    refused = await client.post("/_consent/state", content=b"action=reject_all",
                                headers=headers | {"referer": "https://evil.example/page"})
    assert ok.status_code == 303
    assert refused.status_code == 403 and "set-cookie" not in refused.headers


@pytest.mark.parametrize(("body", "ctype", "status", "message"), [
    (b"action=custom", FORM["content-type"], 422, "unknown action 'custom'"),
    (b"return=/", FORM["content-type"], 422, "expected 'action'"),
    (b"action=reject_all&&&", FORM["content-type"], 400, "the form is not valid"),
    (b"a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9", FORM["content-type"], 400, "the form is not valid"),
    (b"action=reject_all", "text/plain", 415, "application/x-www-form-urlencoded"),
    (b"action=reject_all&return=" + b"x" * 5000, FORM["content-type"], 413, "larger than 4096 bytes"),
])
async def test_bad_forms_get_a_clear_4xx_and_no_cookie(client: httpx.AsyncClient, body: bytes, ctype: str,
                                                       status: int, message: str) -> None:
    r = await client.post("/_consent/state", content=body, headers={"content-type": ctype, "origin": SITE})
    assert r.status_code == status and message in r.json()["message"] and "set-cookie" not in r.headers


async def test_a_browser_gets_the_error_as_a_page(client: httpx.AsyncClient) -> None:
    r = await client.post("/_consent/state", content=b"action=maybe",
                          headers=FORM | {"accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html") and "<h1>422" in r.text

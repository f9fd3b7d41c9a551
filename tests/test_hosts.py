"""Hosts the gateway answers for, and the headers every one of its own responses carries."""

from __future__ import annotations

import httpx
import pytest

from gateway.settings import Settings
from gateway.trusted import HostPatterns, host_of

from .conftest import ClientFactory

PATTERNS = [
    (["wgp.kz"], "wgp.kz", True), (["wgp.kz"], "www.wgp.kz", False), ([".wgp.kz"], "wgp.kz", True),
    ([".wgp.kz"], "consent.wgp.kz", True), ([".wgp.kz"], "evilwgp.kz", False), (["*"], "anything.example", True),
    (["wgp.kz"], "", False),
]


@pytest.mark.parametrize(("patterns", "host", "allowed"), PATTERNS)
def test_patterns(patterns: list[str], host: str, allowed: bool) -> None:
    assert (host in HostPatterns(patterns)) is allowed


@pytest.mark.parametrize(("header", "host"), [(b"WGP.kz:8443", "wgp.kz"), (b"[::1]:8000", "::1"), (b"::1", "::1"),
                                              (b"127.0.0.1", "127.0.0.1")])
def test_host_of_a_header(header: bytes, host: str) -> None:
    assert host_of(header) == host


def test_the_default_is_the_origins_the_cookie_domain_and_this_machine(settings: Settings) -> None:
    import dataclasses

    hosts = dataclasses.replace(settings, cookie_domain=".wgp.kz").hosts
    assert {"wgp.kz", "www.wgp.kz", "consent.wgp.kz", "localhost", "127.0.0.1"} <= {
        h for h in ("wgp.kz", "www.wgp.kz", "consent.wgp.kz", "localhost", "127.0.0.1") if h in hosts}
    assert "evil.example" not in hosts and "evil.example" not in settings.hosts


async def test_another_host_is_a_400_and_nothing_is_reflected(client: httpx.AsyncClient) -> None:
    r = await client.get("/", headers={"host": "evil.example", "accept": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "bad_host" and "evil.example" in r.json()["message"]
    page = await client.get("/", headers={"host": "evil.example", "accept": "text/html"})
    assert page.status_code == 400 and "<h1>400 Bad Request</h1>" in page.text
    r = await client.put("/_consent/state", json={"action": "accept_all"},
                         headers={"host": "evil.example", "origin": "https://evil.example"})
    assert r.status_code == 400 and "set-cookie" not in r.headers


async def test_allowed_hosts_star_answers_every_host(make_client: ClientFactory, settings: Settings) -> None:
    client = await make_client(settings, allowed_hosts=("*",))
    assert (await client.get("/_consent/state", headers={"host": "anything.example"})).status_code == 200


@pytest.mark.parametrize("path", ["/_consent/state", "/_consent/banner.js", "/_consent/config.json",
                                  "/_consent/healthz", "/_consent/nope"])
async def test_every_gateway_response_says_nosniff(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("origin", ["https://evil.example", "https://wgp.kz"])
async def test_no_wildcard_origin_together_with_credentials(client: httpx.AsyncClient, origin: str) -> None:
    r = await client.get("/_consent/banner.js", headers={"origin": origin})
    allow = r.headers.get("access-control-allow-origin")
    assert not (allow == "*" and "access-control-allow-credentials" in r.headers)

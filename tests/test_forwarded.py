"""ForwardedHeaders: the visitor's address and scheme from trusted proxies, the connection's peer kept."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.forwarded import PEER, ForwardedHeaders
from gateway.trusted import TrustedProxies

FRONT = ("10.0.0.5", 40000)
STRANGER = ("198.51.100.9", 40000)
CHAIN = b"203.0.113.7, 10.0.0.6"

CASES = [
    # (trusted entries, connection peer, X-Forwarded-For, X-Forwarded-Proto, client seen by the app, scheme)
    (["10.0.0.0/8"], FRONT, CHAIN, b"https", "203.0.113.7", "https"),
    (["10.0.0.0/8"], FRONT, None, None, "10.0.0.5", "http"),
    (["10.0.0.0/8"], STRANGER, CHAIN, b"https", "198.51.100.9", "http"),  # forged by a stranger: ignored
    (["*"], STRANGER, b"203.0.113.7", b"https", "203.0.113.7", "https"),
    (["127.0.0.1"], FRONT, CHAIN, b"https", "10.0.0.5", "http"),
]


@pytest.mark.parametrize(("entries", "peer", "xff", "proto", "client", "scheme"), CASES)
async def test_the_app_sees_the_visitor_and_the_proxy_keeps_the_peer(
        entries: list[str], peer: tuple[str, int], xff: bytes | None, proto: bytes | None, client: str,
        scheme: str) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    headers = [(b"host", b"wgp.kz")]
    headers += [(b"x-forwarded-for", xff)] if xff else []
    headers += [(b"x-forwarded-proto", proto)] if proto else []
    scope = {"type": "http", "scheme": "http", "client": peer, "headers": headers, "path": "/"}
    await ForwardedHeaders(app, TrustedProxies(entries))(scope, None, None)
    assert seen["client"][0] == client and seen["scheme"] == scheme
    assert seen[PEER] == peer

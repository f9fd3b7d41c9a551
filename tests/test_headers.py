"""Raw header edits that every rewritten page's caching depends on, and the request headers read once."""

from __future__ import annotations

import pytest

from gateway.headers import add_vary, private, request_headers, vary_with
from gateway.hosts import AllowedHosts
from gateway.trusted import HostPatterns


@pytest.mark.parametrize(("existing", "expected"), [
    (None, b"Cookie"),
    (b"", b"Cookie"),
    (b"Accept-Encoding", b"Accept-Encoding, Cookie"),
    (b"accept-encoding, cookie", b"accept-encoding, cookie"),  # already named, in any case
    (b"*", b"*"),  # varies on everything already
])
def test_vary_names_the_token_once(existing: bytes | None, expected: bytes) -> None:
    assert vary_with(existing, b"Cookie") == expected


def test_repeated_vary_lines_become_one_that_keeps_every_name() -> None:
    headers = [(b"vary", b"Origin"), (b"content-type", b"text/html"), (b"vary", b"Accept-Language")]
    out = add_vary(headers, b"Accept-Encoding")
    assert [v for k, v in out if k == b"vary"] == [b"Origin, Accept-Language, Accept-Encoding"]
    assert (b"content-type", b"text/html") in out
    assert headers[0] == (b"vary", b"Origin")  # the caller's list is not edited behind its back


@pytest.mark.parametrize(("origin", "expected"), [
    (None, b"private"),
    (b"public, max-age=600, s-maxage=3600", b"private, max-age=600"),
    (b"no-store", b"no-store"),
    (b"private, max-age=60", b"private, max-age=60"),
    (b"PUBLIC", b"private"),
])
def test_rewritten_pages_are_never_left_to_shared_caches(origin: bytes | None, expected: bytes) -> None:
    assert private(origin) == expected


def test_request_headers_are_read_once_and_repeated_lines_joined() -> None:
    # HTTP/2 clients split Cookie into one line per cookie; proxies add X-Forwarded-For lines.
    scope: dict[str, object] = {"headers": [(b"host", b"wgp.kz"), (b"cookie", b"a=1"), (b"x-forwarded-for", b"1.2.3.4"),
                                            (b"cookie", b"wgp_consent=v"), (b"x-forwarded-for", b"10.0.0.6")]}
    named = request_headers(scope)
    assert named[b"cookie"] == b"a=1; wgp_consent=v"
    assert named[b"x-forwarded-for"] == b"1.2.3.4, 10.0.0.6"
    assert named[b"host"] == b"wgp.kz"
    scope["headers"] = []  # read once per request: every layer after the first sees the same
    assert request_headers(scope) is named


async def test_a_repeated_host_header_is_refused() -> None:
    """Two Host lines name no one host: refused, never matched on the first."""
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    hosts = AllowedHosts(None, HostPatterns(["wgp.kz"]))  # type: ignore[arg-type]
    scope = {"type": "http", "method": "GET", "headers": [(b"host", b"wgp.kz"), (b"host", b"evil.example")]}
    assert not hosts.allows(scope)
    await hosts.refuse(scope, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 400

"""Raw header edits that every rewritten page's caching depends on."""

from __future__ import annotations

import pytest

from gateway.headers import add_vary, private, vary_with


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

"""TrustedProxies: which peers' forwarded headers are believed."""

from __future__ import annotations

import pytest

from gateway.trusted import TrustedProxies

CASES = [
    (["127.0.0.1"], "127.0.0.1", True),
    (["127.0.0.1"], "127.0.0.2", False),
    (["10.0.0.0/8"], "10.20.30.40", True),
    (["10.0.0.0/8"], "11.0.0.1", False),
    ([" 192.168.1.0/24 ", ""], "192.168.1.9", True),
    (["2001:db8::/32"], "2001:db8::1", True),
    (["2001:db8::/32"], "10.0.0.1", False),
    (["*"], "203.0.113.5", True),
    (["*"], "", False),  # no peer at all (a unix socket) is never trusted
    (["10.0.0.0/8"], "not-an-address", False),
]


@pytest.mark.parametrize(("entries", "peer", "trusted"), CASES)
def test_membership(entries: list[str], peer: str, trusted: bool) -> None:
    assert (peer in TrustedProxies(entries)) is trusted


@pytest.mark.parametrize("entry", ["10.0.0.300", "localhost", "10.0.0.0/33"])
def test_a_bad_entry_is_named(entry: str) -> None:
    with pytest.raises(ValueError, match=f"'{entry}' is not an IP address, a network like 10.0.0.0/8, or \\*"):
        TrustedProxies(["127.0.0.1", entry])


def test_entries_are_kept_trimmed_for_the_forwarded_header_parser() -> None:
    proxies = TrustedProxies([" 10.0.0.1 ", "", "*"])
    assert proxies.entries == ("10.0.0.1", "*") and proxies.everyone

"""Parsed once: the peers whose X-Forwarded-* headers the gateway believes, and the hosts it answers for."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable

EVERYONE = "*"


class TrustedProxies:
    """Addresses and networks (``10.0.0.0/8``), or ``*`` for every peer (a platform's router).

    A bad entry is a ValueError naming it, so a typo fails at start-up; membership is cached per address.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(entry.strip() for entry in entries if entry.strip())
        self.everyone = EVERYONE in self.entries
        networks = []
        for entry in self.entries:
            if entry == EVERYONE:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address, a network like 10.0.0.0/8, or *") from None
        self._networks = tuple(networks)
        self._contains = functools.lru_cache(maxsize=1024)(self._compute)

    def __contains__(self, host: object) -> bool:
        return isinstance(host, str) and bool(host) and (self.everyone or self._contains(host))

    def __reduce__(self) -> tuple[type[TrustedProxies], tuple[tuple[str, ...]]]:
        return TrustedProxies, (self.entries,)  # the cache is rebuilt, not pickled

    def __repr__(self) -> str:
        return f"TrustedProxies({list(self.entries)!r})"

    def _compute(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in network for network in self._networks)


class HostPatterns:
    """``wgp.kz`` (that host), ``.wgp.kz`` (it and every subdomain) or ``*`` (every host)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        cleaned = [p.strip().lower() for p in patterns if p.strip()]
        self.everyone = EVERYONE in cleaned
        self._exact = frozenset(p for p in cleaned if not p.startswith("."))
        self._suffixes = tuple(p for p in cleaned if p.startswith("."))

    def __contains__(self, host: object) -> bool:
        if self.everyone:
            return True
        if not isinstance(host, str):
            return False
        return host in self._exact or host.endswith(self._suffixes) or ("." + host) in self._suffixes


def host_of(header: bytes) -> str:
    """The host name of a Host header, lower case, without the port (IPv6 literals keep their brackets off)."""
    text = header.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1:].partition("]")[0]
    return text.rpartition(":")[0] if text.count(":") == 1 else text


def truncate_ip(address: str | None) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of an address: enough for abuse analysis, not a person."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))

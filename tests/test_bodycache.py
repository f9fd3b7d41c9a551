"""The cache behind rewritten and compressed bodies: exact hits only, bounded memory."""

from __future__ import annotations

from gateway.bodycache import BodyCache


def test_a_hit_needs_the_same_body_and_the_same_variant() -> None:
    cache = BodyCache()
    cache.put(b"<p>page</p>", "br", b"compressed")
    assert cache.get(bytes(bytearray(b"<p>page</p>")), "br") == b"compressed"  # equal bytes, another object
    assert cache.get(b"<p>page</p>", "gzip") is None
    assert cache.get(b"<p>other</p>", "br") is None


def test_memory_stays_within_its_byte_and_entry_bounds_least_recent_out_first() -> None:
    cache = BodyCache(entries=3, max_body=100, max_bytes=250)
    cache.put(b"x" * 101, "v", b"too big to keep")
    assert len(cache) == 0
    for name in (b"a", b"b", b"c"):
        cache.put(name * 50, "v", name * 10)  # 60 bytes each
    cache.get(b"a" * 50, "v")  # a is now the most recent
    cache.put(b"d" * 50, "v", b"d" * 10)
    assert cache.get(b"b" * 50, "v") is None and cache.get(b"a" * 50, "v") == b"a" * 10
    cache.put(b"e" * 100, "v", b"e" * 100)  # 200 bytes: only what fits in 250 stays
    assert cache.stored <= 250 and cache.get(b"e" * 100, "v") == b"e" * 100


def test_bodies_that_differ_only_in_the_middle_never_stand_in_for_each_other() -> None:
    cache = BodyCache()
    first = b"<html>" + b"a" * 1000 + b"token=1111" + b"b" * 1000 + b"</html>"
    second = first.replace(b"token=1111", b"token=2222")
    cache.put(first, "br", b"first")
    assert cache.get(second, "br") is None
    cache.put(second, "br", b"second")
    assert cache.get(second, "br") == b"second" and cache.get(first, "br") is None  # one slot, last one wins

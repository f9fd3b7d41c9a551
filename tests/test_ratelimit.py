"""Token buckets and the daily cap, with the clock passed in."""

from __future__ import annotations

from gateway.ratelimit import DailyCap, TokenBuckets


def test_a_burst_then_the_rate() -> None:
    buckets = TokenBuckets(per_minute=60, burst=3)
    assert [buckets.wait("203.0.113.0/24", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.wait("203.0.113.0/24", now=100.0) == 1.0  # one token a second
    assert buckets.wait("203.0.113.0/24", now=101.0) == 0.0
    assert buckets.wait("198.51.100.0/24", now=101.0) == 0.0  # another network has its own bucket


def test_a_refused_request_takes_nothing() -> None:
    buckets = TokenBuckets(per_minute=60, burst=1)
    assert buckets.wait("k", now=0.0) == 0.0
    assert buckets.wait("k", now=0.5) == 0.5
    assert buckets.wait("k", now=1.0) == 0.0


def test_zero_means_no_limit() -> None:
    buckets = TokenBuckets(per_minute=0)
    assert all(buckets.wait("k", now=0.0) == 0.0 for _ in range(1000))


def test_memory_is_bounded() -> None:
    buckets = TokenBuckets(per_minute=1, max_keys=100)
    for i in range(1000):
        buckets.wait(f"net-{i}", now=0.0)
    assert len(buckets._buckets) == 100
    assert buckets.wait("net-999", now=0.0) > 0  # the recent ones are remembered


def test_daily_cap_counts_the_rest_as_other() -> None:
    cap = DailyCap(2)
    assert [cap.admit(h, "2026-12-01") for h in ("a", "b", "c", "a", "d")] == ["a", "b", "other", "a", "other"]
    assert cap.admit("c", "2026-12-02") == "c"  # a new day

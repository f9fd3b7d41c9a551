"""Rollup keys and the analyst summary built from rollup rows, shared by every storage backend.

Two kinds of daily rollup are kept, both updated in the transaction that writes the log:

- the *cubes* (``decision_daily``, ``impression_daily``, ``csp_daily``): one count per full combination of
  dimensions, bots included, for drill-down and for rebuilding anything else;
- ``daily_by_key``: per (dimension, local day, key, action) the count and how many of those granted each
  category or carried GPC. It is what the summary reads: a breakdown needs each dimension on its own, never the
  cross product, so a 365-day summary reads a few tens of thousands of rows whatever the log size. Bots are left
  out of it, so they never count in a rate.

This module does no I/O: ``Increments`` pre-aggregates one batch of writes, ``build_summary`` turns the rows a
backend read into the JSON-ready summary.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from gateway.store import CATEGORIES, DECISIONS, BannerEvent, ConsentRecord

CATEGORY_BITS = {name: 1 << i for i, name in enumerate(CATEGORIES)}  # necessary=1 ... marketing=8
OPT_IN = ("preferences", "analytics", "marketing")
DIMENSIONS = ("device", "browser", "os", "language", "policy_version")
ALL = "all"  # the pseudo-dimension holding whole-site totals per day (key "")
SHOWN = "shown"
BOT = "bot"
TOP_HOSTS = 20
_TOTALS = ("accept_all", "reject_all", "custom", "withdraw", "erase")


def categories_to_mask(categories: Iterable[str]) -> int:
    return sum(CATEGORY_BITS[name] for name in set(categories))


def mask_to_categories(mask: int) -> frozenset[str]:
    return frozenset(name for name, bit in CATEGORY_BITS.items() if mask & bit)


def local_day(at: datetime, tz: ZoneInfo) -> str:
    """The calendar day of ``at`` in the store's zone, as the ISO text every rollup is keyed by."""
    return at.astimezone(tz).date().isoformat()


class DayRow(NamedTuple):
    """``daily_by_key`` row of the ``all`` dimension: one local day and action."""

    day: str
    action: str
    n: int
    preferences: int
    analytics: int
    marketing: int
    gpc: int


class KeyRow(NamedTuple):
    """``daily_by_key`` rows of one dimension key and action, summed over the range."""

    dim: str
    key: str
    action: str
    n: int
    preferences: int
    analytics: int
    marketing: int
    gpc: int


CubeKey = tuple[str, str, str, str, str, str, str, int, int]  # day, action, policy, language, device, browser, os, gpc, mask
ByKey = tuple[str, str, str, str]  # dim, day, key, action
ImpressionKey = tuple[str, str, str, str, str, str, str]  # day, event, policy, language, device, browser, os
CspKey = tuple[str, str, str]  # day, host, directive


@dataclass
class Increments:
    """One batch of writes pre-aggregated, so each rollup row is upserted once per batch, not once per write."""

    tz: ZoneInfo
    cube: dict[CubeKey, int] = field(default_factory=lambda: defaultdict(int))
    by_key: dict[ByKey, list[int]] = field(default_factory=dict)  # [n, preferences, analytics, marketing, gpc]
    impressions: dict[ImpressionKey, int] = field(default_factory=lambda: defaultdict(int))
    csp: dict[CspKey, int] = field(default_factory=lambda: defaultdict(int))

    def add_record(self, record: ConsentRecord) -> None:
        day = local_day(record.at, self.tz)
        mask = categories_to_mask(record.categories)
        self.cube[(day, record.action, record.policy_version, record.language, record.device, record.browser,
                   record.os, int(record.gpc), mask)] += 1
        if record.device == BOT:
            return
        deltas = (1, *(1 if mask & CATEGORY_BITS[c] else 0 for c in OPT_IN), int(record.gpc))
        keys = (record.device, record.browser, record.os, record.language, record.policy_version)
        self._bump((ALL, day, "", record.action), deltas)
        for dim, key in zip(DIMENSIONS, keys):
            self._bump((dim, day, key, record.action), deltas)

    def add_event(self, event: BannerEvent) -> None:
        day = local_day(event.at, self.tz)
        self.impressions[(day, event.event, event.policy_version, event.language, event.device, event.browser,
                          event.os)] += 1
        if event.device != BOT:
            self._bump((ALL, day, "", event.event), (1, 0, 0, 0, 0))

    def add_csp(self, host: str, directive: str, at: datetime) -> None:
        self.csp[(local_day(at, self.tz), host, directive)] += 1

    def by_key_rows(self) -> list[tuple[str, str, str, str, int, int, int, int, int]]:
        return [(*k, *v) for k, v in self.by_key.items()]  # type: ignore[misc]

    def _bump(self, key: ByKey, deltas: tuple[int, ...]) -> None:
        row = self.by_key.get(key)
        if row is None:
            self.by_key[key] = list(deltas)
        else:
            for i, d in enumerate(deltas):
                row[i] += d


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _opt_in(counts: dict[str, int]) -> dict[str, float]:
    decisions = counts["decisions"]
    return {c: _rate(counts[c], decisions) for c in OPT_IN}


def _tally() -> dict[str, int]:
    return dict.fromkeys((SHOWN, "decisions", *_TOTALS, *OPT_IN, "gpc"), 0)


def _add(tally: dict[str, int], action: str, n: int, pref: int, analytics: int, marketing: int, gpc: int) -> None:
    tally[action] = tally.get(action, 0) + n
    if action in DECISIONS:
        tally["decisions"] += n
        tally["preferences"] += pref
        tally["analytics"] += analytics
        tally["marketing"] += marketing
        tally["gpc"] += gpc


def build_summary(
    start: date,
    end: date,
    timezone: str,
    day_rows: Iterable[DayRow | tuple[str, str, int, int, int, int, int]],
    key_rows: Iterable[KeyRow | tuple[str, str, str, int, int, int, int, int]],
    host_rows: Iterable[tuple[str, int]],
) -> dict[str, object]:
    """The summary JSON: totals, rates, a series with every day of the range (zeros included), breakdowns.

    Rates are shares of *decisions* (accept_all + reject_all + custom); the interaction rate is decisions per
    banner shown. Every rate is 0.0 when its denominator is 0, rounded to 4 places.
    """
    per_day: dict[str, dict[str, int]] = {}
    day = start
    while day <= end:
        per_day[day.isoformat()] = _tally()
        day += timedelta(days=1)
    totals = _tally()
    for day_text, action, n, pref, analytics, marketing, gpc in day_rows:
        tally = per_day.get(day_text)
        if tally is None:  # a backend handed a row outside the range: ignore rather than invent a day
            continue
        _add(tally, action, n, pref, analytics, marketing, gpc)
        _add(totals, action, n, pref, analytics, marketing, gpc)

    keyed: dict[str, dict[str, dict[str, int]]] = {dim: {} for dim in DIMENSIONS}
    for dim, key, action, n, pref, analytics, marketing, gpc in key_rows:
        if dim not in keyed:
            continue
        tally = keyed[dim].setdefault(key, _tally())
        _add(tally, action, n, pref, analytics, marketing, gpc)

    hosts = sorted(host_rows, key=lambda row: (-row[1], row[0]))[:TOP_HOSTS]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "timezone": timezone,
        "totals": {k: totals[k] for k in (SHOWN, "decisions", *_TOTALS)},
        "interaction_rate": _rate(totals["decisions"], totals[SHOWN]),
        "opt_in_rate": _opt_in(totals),
        "gpc_share": _rate(totals["gpc"], totals["decisions"]),
        "days": [
            {
                "day": day_text,
                **{k: t[k] for k in (SHOWN, "decisions", "accept_all", "reject_all", "custom", "withdraw")},
                "opt_in": _opt_in(t),
            }
            for day_text, t in per_day.items()
        ],
        "breakdowns": {
            dim: [
                {
                    "key": key,
                    **{k: t[k] for k in ("decisions", "accept_all", "reject_all", "custom")},
                    "opt_in": _opt_in(t),
                }
                for key, t in sorted(keyed[dim].items(), key=lambda item: (-item[1]["decisions"], item[0]))
            ]
            for dim in DIMENSIONS
        },
        "blocked_hosts": [{"host": host, "reports": n} for host, n in hosts],
    }

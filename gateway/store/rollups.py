"""What a batch of writes adds to the daily rollups, and how a summary range is cut into months and days.

Two kinds of daily rollup are kept, both updated in the transaction that writes the log:

- the *cubes* (``decision_daily``, ``impression_daily``, ``csp_daily``): one count per full combination of
  dimensions, bots included, for drill-down and for rebuilding anything else (``csp_monthly`` adds CSP reports
  per month and host);
- ``daily_by_key`` (and ``monthly_by_key``, the same per calendar month): per (dimension, local day, key) a row
  of counters (``COUNTS``: banners shown, each action, and how many decisions granted each category or carried
  GPC). It is what the summary reads: a breakdown needs each dimension on its own, never the cross product;
  whole months come from the monthly table, so a 365-day summary reads about 365 + (12 + up to 60) x 25 rows
  whatever the log size. Dimension ``all`` (key "") holds the whole site per day. Bots are left out of it, so
  they never count in a rate.

This module does no I/O: ``Increments`` pre-aggregates one batch of writes for a backend to upsert.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from gateway.store.records import BannerEvent, ConsentRecord
from gateway.vocabulary import ACTIONS, CATEGORY_BITS, CHOICES, OPTIONAL, SHOWN, categories_to_mask

DIMENSIONS = ("device", "browser", "os", "language", "policy_version")
ALL = "all"  # the pseudo-dimension holding whole-site totals per day (key "")
BOT = "bot"
GPC = "gpc"
TOP_HOSTS = 20

# The counters of one ``daily_by_key``/``monthly_by_key`` row, named as its columns (schema migration 1): a new
# action or category needs a migration adding its column. Category and GPC counts are over decisions only: they
# feed rates whose denominator is the number of decisions.
COUNTS = (SHOWN, *ACTIONS, *OPTIONAL, GPC)
_INDEX = {name: i for i, name in enumerate(COUNTS)}
_CATEGORY_INDEX = [(CATEGORY_BITS[c], _INDEX[c]) for c in OPTIONAL]
_SHOWN, _GPC = _INDEX[SHOWN], _INDEX[GPC]


def _local_day(at: datetime, tz: ZoneInfo) -> str:
    """The calendar day of ``at`` in the store's zone, as the ISO text every rollup is keyed by."""
    return at.astimezone(tz).date().isoformat()


# day, action, policy, language, device, browser, os, gpc, categories mask
CubeKey = tuple[str, str, str, str, str, str, str, int, int]
ByKey = tuple[str, str, str]  # dim, day (or month), key
ImpressionKey = tuple[str, str, str, str, str, str, str]  # day, event, policy, language, device, browser, os
CspKey = tuple[str, str, str]  # day, host, directive
CspMonthKey = tuple[str, str]  # month, host


@dataclass
class Increments:
    """One batch of writes pre-aggregated, so each rollup row is upserted once per batch, not once per write.

    Adding a write only bumps one counter in a cube; the per-key counters are derived from the cubes once per
    batch (``counters()``), so their cost follows the distinct combinations in a batch, not its size, and they
    agree with the cubes by construction.
    """

    tz: ZoneInfo
    cube: dict[CubeKey, int] = field(default_factory=lambda: defaultdict(int))
    impressions: dict[ImpressionKey, int] = field(default_factory=lambda: defaultdict(int))
    csp: dict[CspKey, int] = field(default_factory=lambda: defaultdict(int))

    def add_record(self, record: ConsentRecord) -> None:
        self.cube[(_local_day(record.at, self.tz), record.action, record.policy_version, record.language,
                   record.device, record.browser, record.os, int(record.gpc),
                   categories_to_mask(record.categories))] += 1

    def add_event(self, event: BannerEvent) -> None:
        self.impressions[(_local_day(event.at, self.tz), event.event, event.policy_version, event.language,
                          event.device, event.browser, event.os)] += 1

    def add_csp(self, host: str, directive: str, at: datetime) -> None:
        self.csp[(_local_day(at, self.tz), host, directive)] += 1

    def counters(self) -> tuple[dict[ByKey, list[int]], dict[ByKey, list[int]]]:
        """(daily, monthly) counter rows keyed (dim, day or month, key), in ``COUNTS`` order; bots left out."""
        daily: dict[ByKey, list[int]] = {}
        monthly: dict[ByKey, list[int]] = {}
        for (day, action, policy, language, device, browser, os, gpc, mask), n in self.cube.items():
            if device == BOT:
                continue
            deltas = [(_INDEX[action], n)]
            if action in CHOICES:
                deltas += [(i, n) for bit, i in _CATEGORY_INDEX if mask & bit]
                if gpc:
                    deltas.append((_GPC, n))
            _bump(daily, monthly, day, (device, browser, os, language, policy), deltas)
        for (day, event, policy, language, device, browser, os), n in self.impressions.items():
            if device != BOT and event == SHOWN:
                _bump(daily, monthly, day, (device, browser, os, language, policy), [(_SHOWN, n)])
        return daily, monthly

    def csp_monthly(self) -> dict[CspMonthKey, int]:
        months: dict[CspMonthKey, int] = defaultdict(int)
        for (day, host, _directive), n in self.csp.items():
            months[(day[:7], host)] += n
        return months


def _bump(daily: dict[ByKey, list[int]], monthly: dict[ByKey, list[int]], day: str, keys: tuple[str, ...],
          deltas: list[tuple[int, int]]) -> None:
    month = day[:7]
    for dim, key in ((ALL, ""), *zip(DIMENSIONS, keys)):
        for table, period in ((daily, day), (monthly, month)):
            row = table.get((dim, period, key))
            if row is None:
                row = table[(dim, period, key)] = [0] * len(COUNTS)
            for i, d in deltas:
                row[i] += d


def rows(table: Mapping[ByKey, list[int]]) -> list[tuple[str | int, ...]]:
    """A pre-aggregated table as flat rows for executemany."""
    return [(*k, *v) for k, v in table.items()]


@dataclass(frozen=True)
class Spans:
    """A day range cut into whole calendar months (read from monthly rollups) and the days around them."""

    head: tuple[str, str]  # first..last day before the first whole month (EMPTY when none)
    months: tuple[str, str]  # first..last whole month, "YYYY-MM" (EMPTY when none)
    tail: tuple[str, str]  # first..last day after the last whole month (EMPTY when none)


EMPTY = ("1", "0")  # BETWEEN '1' AND '0' matches nothing: keeps the SQL text fixed whatever the range


def split_range(start: date, end: date) -> Spans:
    """Cut ``start..end`` (inclusive) so a year reads 12 monthly rows per key instead of 365 daily ones."""
    first_full = start if start.day == 1 else _next_month(start)
    after_end = end + timedelta(days=1)
    end_full = after_end.replace(day=1)  # first day after the last whole month
    if first_full >= end_full:
        return Spans(head=(start.isoformat(), end.isoformat()), months=EMPTY, tail=EMPTY)
    last_month = end_full - timedelta(days=1)
    head = (start.isoformat(), (first_full - timedelta(days=1)).isoformat()) if start < first_full else EMPTY
    tail = (end_full.isoformat(), end.isoformat()) if end_full <= end else EMPTY
    return Spans(head=head, months=(first_full.isoformat()[:7], last_month.isoformat()[:7]), tail=tail)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)

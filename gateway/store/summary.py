"""The analyst summary, built from the rollup rows a backend read, and the names of its numbers.

Every backend reads its rollups (see ``gateway.store.rollups``) and hands the rows to ``build_summary``; the
dashboard, the CSV and the CLI read the result through the names below. This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from gateway.store.rollups import COUNTS, DIMENSIONS, GPC, TOP_HOSTS
from gateway.vocabulary import ACTIONS, CHOICES, ERASE, OPTIONAL, SHOWN

DECISIONS = "decisions"  # accept_all + reject_all + custom: the denominator of every rate
TOTALS = (SHOWN, DECISIONS, *ACTIONS)  # the keys of "totals"
DAY_ACTIONS = tuple(a for a in ACTIONS if a != ERASE)  # the actions counted per day (erasures only in totals)
DAY_COUNTS = (SHOWN, DECISIONS, *DAY_ACTIONS)  # the counts of each "days" entry
BREAKDOWNS = DIMENSIONS  # the keys of "breakdowns", one per rollup dimension
BREAKDOWN_COUNTS = (DECISIONS, *CHOICES)  # the counts of each breakdown entry


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


_ZERO_OPT_IN = dict.fromkeys(OPTIONAL, 0.0)


def _opt_in(counts: dict[str, int]) -> dict[str, float]:
    decisions = counts[DECISIONS]
    if not decisions:
        return dict(_ZERO_OPT_IN)
    return {c: round(counts[c] / decisions, 4) for c in OPTIONAL}


def _tally(values: Iterable[int]) -> dict[str, int]:
    tally = dict(zip(COUNTS, values))
    tally[DECISIONS] = sum(tally[choice] for choice in CHOICES)
    return tally


def _add(total: list[int] | None, values: list[int]) -> list[int]:
    if total is None:
        return list(values)
    return [a + b for a, b in zip(total, values)]


def build_summary(
    start: date,
    end: date,
    timezone: str,
    day_rows: Iterable[Sequence[Any]],
    key_rows: Iterable[Sequence[Any]],
    host_rows: Iterable[tuple[str, int]],
) -> dict[str, object]:
    """The summary JSON: totals, rates, a series with every day of the range (zeros included), breakdowns.

    ``day_rows`` are (day, *COUNTS) of the ``all`` dimension; ``key_rows`` (dim, key, *COUNTS) summed over the
    range. Rates are shares of *decisions* (accept_all + reject_all + custom); the interaction rate is decisions
    per banner shown. Every rate is 0.0 when its denominator is 0, rounded to 4 places.
    """
    zero = [0] * len(COUNTS)
    per_day: dict[str, list[int] | None] = {}
    day = start
    while day <= end:
        per_day[day.isoformat()] = None
        day += timedelta(days=1)
    for day_text, *counts in day_rows:
        if day_text in per_day:  # a row outside the range is ignored rather than inventing a day
            per_day[day_text] = _add(per_day[day_text], counts)
    totals_values = zero
    for day_counts in per_day.values():
        if day_counts is not None:
            totals_values = _add(totals_values, day_counts)
    totals = _tally(totals_values)

    sums: dict[str, dict[str, list[int]]] = {dim: {} for dim in BREAKDOWNS}
    for dim, key, *counts in key_rows:
        if dim in sums:
            sums[dim][key] = _add(sums[dim].get(key), counts)

    days = []
    for day_text, day_counts in per_day.items():
        t = _tally(day_counts or zero)
        days.append({"day": day_text, **{name: t[name] for name in DAY_COUNTS}, "opt_in": _opt_in(t)})
    breakdowns = {}
    for dim in BREAKDOWNS:
        items = []
        for key, values in sums[dim].items():
            t = _tally(values)
            items.append({"key": key, **{name: t[name] for name in BREAKDOWN_COUNTS}, "opt_in": _opt_in(t)})
        breakdowns[dim] = sorted(items, key=lambda item: (-item[DECISIONS], item["key"]))  # type: ignore[operator]
    hosts = sorted(host_rows, key=lambda row: (-row[1], row[0]))[:TOP_HOSTS]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "timezone": timezone,
        "totals": {name: totals[name] for name in TOTALS},
        "interaction_rate": _rate(totals[DECISIONS], totals[SHOWN]),
        "opt_in_rate": _opt_in(totals),
        "gpc_share": _rate(totals[GPC], totals[DECISIONS]),
        "days": days,
        "breakdowns": breakdowns,
        "blocked_hosts": [{"host": host, "reports": n} for host, n in hosts],
    }

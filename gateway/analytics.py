"""What the dashboard and the CLI share about a summary: its date range (defaults, parsing, limits) and its CSV.

The admin API serves the same CSV as `report --format csv`, so a spreadsheet built on one keeps working on the
other. CSV is long format (`section,key,metric,value`): one header, every number in one column, ready for a pivot
table or a filter, and it never needs ragged rows when a breakdown grows a key. No HTTP and no I/O here: the
routes (gateway.admin) and the CLI (gateway.report) turn a refusal into their own kind of error.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from gateway.store.records import MAX_RANGE_DAYS
from gateway.store.summary import BREAKDOWN_COUNTS, BREAKDOWNS, DAY_COUNTS, TOTALS
from gateway.vocabulary import OPTIONAL

DEFAULT_DAYS = 30
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # spreadsheet formula triggers (CSV injection)


def default_range(timezone: str) -> tuple[date, date]:
    """The last ``DEFAULT_DAYS`` local days ending today in the gateway's time zone."""
    today = datetime.now(ZoneInfo(timezone)).date()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def resolve_range(start: date | None, end: date | None, timezone: str) -> tuple[date, date]:
    """The range asked for, a missing end being today and a missing start ``DEFAULT_DAYS`` days before the end."""
    end = end or default_range(timezone)[1]
    return start or end - timedelta(days=DEFAULT_DAYS - 1), end


def parse_day(text: str) -> date:
    """A ``YYYY-MM-DD`` calendar day; ValueError saying what is wrong otherwise (the caller names the input)."""
    if not _DAY.fullmatch(text):
        raise ValueError("not a date: use YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError("not a calendar date") from None


def range_error(start: date, end: date, names: tuple[str, str] = ("from", "to")) -> str | None:
    """Why a range is unusable, naming the parameter as the caller spells it, or None when it is fine."""
    if start > end:
        return f"{names[0]} ({start}) is after {names[1]} ({end})"
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        return f"{names[1]} is more than 3 years after {names[0]}: at most {MAX_RANGE_DAYS} days per summary"
    return None


def _number(value: Any) -> str:
    if value is None:
        return ""
    return repr(round(value, 6)) if isinstance(value, float) else str(value)


def _cell(text: str) -> str:
    """Neutralise visitor-supplied text a spreadsheet would run as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def long_rows(summary: dict[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """Every number of the summary as (section, key, metric, value)."""
    for name in ("from", "to", "timezone"):
        yield "range", "", name, str(summary[name])
    for name in TOTALS:
        yield "totals", "", name, _number(summary["totals"][name])
    yield "rates", "", "interaction_rate", _number(summary["interaction_rate"])
    for category in OPTIONAL:
        yield "rates", category, "opt_in_rate", _number(summary["opt_in_rate"][category])
    yield "rates", "", "gpc_share", _number(summary["gpc_share"])
    for day in summary["days"]:
        for name in DAY_COUNTS:
            yield "day", day["day"], name, _number(day[name])
        for category in OPTIONAL:
            yield "day", day["day"], f"opt_in_{category}", _number(day["opt_in"][category])
    for section in BREAKDOWNS:
        for row in summary["breakdowns"][section]:
            for name in BREAKDOWN_COUNTS:
                yield section, _cell(str(row["key"])), name, _number(row[name])
            for category in OPTIONAL:
                yield section, _cell(str(row["key"])), f"opt_in_{category}", _number(row["opt_in"][category])
    for row in summary["blocked_hosts"]:
        yield "blocked_host", _cell(str(row["host"])), "reports", _number(row["reports"])


def to_csv(summary: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("section", "key", "metric", "value"))
    writer.writerows(long_rows(summary))
    return out.getvalue()

"""gateway.analytics: day parsing, range defaults and limits, and the CSV, without HTTP or a terminal."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from gateway.analytics import DEFAULT_DAYS, default_range, parse_day, range_error, resolve_range, to_csv
from gateway.store import MAX_RANGE_DAYS
from gateway.store.summary import build_summary

DAY = date(2026, 11, 6)

DAYS = [
    ("2026-11-06", date(2026, 11, 6)),
    ("2024-02-29", date(2024, 2, 29)),
]
NOT_DAYS = [
    ("2026-02-30", "not a calendar date"),
    ("2026-13-01", "not a calendar date"),
    ("tomorrow", "not a date: use YYYY-MM-DD"),
    ("20261106", "not a date: use YYYY-MM-DD"),
    ("2026-11-06T00:00", "not a date: use YYYY-MM-DD"),
    ("", "not a date: use YYYY-MM-DD"),
]


@pytest.mark.parametrize(("text", "day"), DAYS)
def test_parse_day_reads_an_iso_calendar_day(text: str, day: date) -> None:
    assert parse_day(text) == day


@pytest.mark.parametrize(("text", "reason"), NOT_DAYS)
def test_parse_day_says_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^{reason}$"):
        parse_day(text)


RANGES = [
    (DAY, DAY, None),
    (DAY - timedelta(days=MAX_RANGE_DAYS - 1), DAY, None),
    (DAY - timedelta(days=MAX_RANGE_DAYS), DAY, "to is more than 3 years after from: at most 1098 days per summary"),
    (DAY + timedelta(days=1), DAY, "from (2026-11-07) is after to (2026-11-06)"),
]


@pytest.mark.parametrize(("start", "end", "error"), RANGES)
def test_range_error(start: date, end: date, error: str | None) -> None:
    assert range_error(start, end) == error


def test_range_error_names_the_parameters_as_the_caller_spells_them() -> None:
    assert range_error(DAY, DAY - timedelta(days=1), ("--from", "--to")) == "--from (2026-11-06) is after --to (2026-11-05)"


def test_resolve_range_fills_in_what_is_missing() -> None:
    assert resolve_range(DAY - timedelta(days=3), DAY, "Asia/Almaty") == (DAY - timedelta(days=3), DAY)
    assert resolve_range(None, DAY, "Asia/Almaty") == (DAY - timedelta(days=DEFAULT_DAYS - 1), DAY)
    start, end = default_range("Asia/Almaty")
    assert (end - start).days + 1 == DEFAULT_DAYS == 30
    assert resolve_range(None, None, "Asia/Almaty") == (start, end)


def test_csv_is_long_format_and_defuses_formulas() -> None:
    summary = build_summary(DAY, DAY, "Asia/Almaty", [], [], [("=cmd|' /c calc'!a0", 2), ("vk.com", 1)])
    text = to_csv(summary)
    assert text.startswith("section,key,metric,value\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert all(len(row) == 4 for row in rows)
    assert ["range", "", "timezone", "Asia/Almaty"] in rows
    assert ["totals", "", "erase", "0"] in rows
    assert ["day", "2026-11-06", "opt_in_marketing", "0.0"] in rows
    assert ["blocked_host", "'=cmd|' /c calc'!a0", "reports", "2"] in rows
    assert ["blocked_host", "vk.com", "reports", "1"] in rows

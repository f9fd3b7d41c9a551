"""CLI commands report / purge / seed-demo-data against a real SQLite file, numbers checked independently."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.report import DEMO_PREFIX, add_commands, seed_demo
from gateway.store import MAX_RANGE_DAYS, open_store
from gateway.store.memory import MemoryStore
from tests.analytics_data import END, START, TIMEZONE, TZ, expected_summary, load, scripted_data

RANGE = ["--from", START.isoformat(), "--to", END.isoformat()]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="consent-gateway")
    add_commands(p.add_subparsers(dest="command", required=True))
    return p


def run(argv: list[str], settings: Any) -> int:
    args = parser().parse_args(argv)
    return int(args.handler(args, settings))


@pytest.fixture
def settings(tmp_path: Path) -> SimpleNamespace:
    return SimpleNamespace(database=f"sqlite:///{tmp_path / 'consent.sqlite3'}", timezone=TIMEZONE)


def fill(settings: SimpleNamespace, data: Any) -> None:
    async def main() -> None:
        async with open_store(settings.database, TIMEZONE) as store:
            await load(store, data)

    asyncio.run(main())


def test_report_json_equals_independent_count(settings: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    fill(settings, scripted_data())
    assert run(["report", *RANGE, "--format", "json"], settings) == 0
    assert json.loads(capsys.readouterr().out) == expected_summary(scripted_data())


def test_report_csv_equals_independent_count(settings: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    fill(settings, scripted_data())
    assert run(["report", *RANGE, "--format", "csv"], settings) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    got = {(s, k, m): v for s, k, m, v in rows[1:]}
    want = expected_summary(scripted_data())
    assert {name: int(got[("totals", "", name)]) for name in want["totals"]} == want["totals"]
    for day in want["days"]:
        assert int(got[("day", day["day"], "decisions")]) == day["decisions"]
        assert float(got[("day", day["day"], "opt_in_marketing")]) == day["opt_in"]["marketing"]
    for entry in want["breakdowns"]["language"]:
        assert int(got[("language", entry["key"], "custom")]) == entry["custom"]


def test_report_table_is_aligned_and_equals_independent_count(settings: SimpleNamespace,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    fill(settings, scripted_data())
    assert run(["report", *RANGE], settings) == 0
    out = capsys.readouterr().out
    want = expected_summary(scripted_data())
    lines = out.splitlines()
    assert lines[0] == f"Consent summary {START} to {END} (Asia/Almaty)"
    headline = dict(line.split() for line in lines[3:15])
    assert {k: int(headline[k]) for k in want["totals"]} == want["totals"]
    assert headline["opt_in_analytics"] == f"{want['opt_in_rate']['analytics'] * 100:.1f}%"
    day_rows = {line.split()[0]: line.split()[1:] for line in lines if line[:4] == "2026"}
    for day in want["days"]:
        counts = [str(day[k]) for k in ("shown", "decisions", "accept_all", "reject_all", "custom", "withdraw")]
        assert day_rows[day["day"]][:6] == counts
    header = next(line for line in lines if line.startswith("day "))
    first = next(line for line in lines if line.startswith(want["days"][0]["day"]))
    assert len(header) == len(first)  # right-aligned numbers end under their header
    yandex = next(line for line in lines if line.startswith("Yandex Browser"))
    entry = next(e for e in want["breakdowns"]["browser"] if e["key"] == "Yandex Browser")
    assert yandex.split()[2] == str(entry["decisions"])


def test_purge_removes_old_log_rows_and_keeps_rollups(settings: SimpleNamespace,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    today = datetime.now(TZ).date()
    start = today - timedelta(days=32)  # decisions 32..28 days ago: a 30-day cut-off splits them
    data = scripted_data(start=start)
    fill(settings, data)
    window = ["--from", start.isoformat(), "--to", today.isoformat(), "--format", "json"]
    assert run(["report", *window], settings) == 0
    before = json.loads(capsys.readouterr().out)

    assert run(["purge", "--older-than", "30d"], settings) == 0
    cutoff = datetime.now(UTC) - timedelta(days=30)
    log = [r for r in data.records if r.consent_id not in {p.consent_id for p in data.erasures}] + data.erasures
    old = sum(r.at < cutoff for r in log)
    assert 0 < old < len(log)
    assert capsys.readouterr().out.startswith(f"Purged {old} consent-log rows recorded before ")

    assert run(["report", *window], settings) == 0
    assert json.loads(capsys.readouterr().out) == before  # the rollups, hence the metrics, survive


def test_seed_demo_writes_plausible_synthetic_rows() -> None:
    class Spy(MemoryStore):
        def __init__(self) -> None:
            super().__init__(TIMEZONE)
            self.seen: list[Any] = []

        async def append(self, record: Any) -> None:
            self.seen.append(record)
            await super().append(record)

    async def main() -> tuple[Spy, tuple[int, int], dict[str, Any]]:
        async with Spy() as store:
            counts = await seed_demo(store, days=30, rows=600, seed=7, now=now)
            summary = await store.summary((now - timedelta(days=31)).date(), now.date())
            return store, counts, summary

    now = datetime.now(UTC)
    store, (rows, shown), summary = asyncio.run(main())
    records = store.seen
    assert rows == len(records) == 600
    assert all(r.consent_id.startswith(DEMO_PREFIX) for r in records)
    assert all(now - timedelta(days=30) <= r.at < now for r in records)
    assert summary["totals"]["shown"] == shown
    assert 0.5 < summary["interaction_rate"] < 0.7  # about 60% of visitors decide
    assert {r.action for r in records} == {"accept_all", "reject_all", "custom", "withdraw"}
    assert {r.language for r in records} == {"ru", "kk", "en"}
    assert {r.device for r in records} == {"mobile", "desktop", "tablet"}
    assert len({r.browser for r in records}) >= 4 and len({r.policy_version for r in records}) == 2
    assert 0 < summary["gpc_share"] < 0.3
    assert not any(r.gpc and r.action == "custom" and "marketing" in r.categories for r in records)


def test_seed_demo_data_command_fills_the_database(settings: SimpleNamespace,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["seed-demo-data", "--days", "20", "--rows", "250"], settings) == 0
    assert "Seeded 250 synthetic consent-log rows (consent ids start with 'demo-')" in capsys.readouterr().out
    assert run(["report", "--format", "json"], settings) == 0
    totals = json.loads(capsys.readouterr().out)["totals"]
    assert totals["decisions"] + totals["withdraw"] == 250


BAD_INPUT = [
    (["report", "--from", "2026-02-30"], "--from: '2026-02-30' is not a calendar date"),
    (["report", "--to", "tomorrow"], "--to: 'tomorrow' is not a date: use YYYY-MM-DD"),
    (["report", "--format", "xml"], "invalid choice: 'xml'"),
    (["report", "--from", "2026-11-06", "--to", "2026-11-02"], "report: --from (2026-11-06) is after --to (2026-11-02)"),
    (["report", "--from", "2020-01-01", "--to", "2026-11-02"], "report: --to is more than 3 years after --from"),
    (["purge", "--older-than", "365"], "'365' is not a duration: use a number of days such as 365d"),
    (["purge", "--older-than", "0d"], "'0d' is not a duration"),
    (["purge"], "the following arguments are required: --older-than"),
    (["seed-demo-data", "--rows", "-5"], "'-5' is not a positive whole number"),
    (["seed-demo-data", "--days", "ninety"], "'ninety' is not a positive whole number"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_exits_2_with_a_message(settings: SimpleNamespace, capsys: pytest.CaptureFixture[str],
                                          argv: list[str], message: str) -> None:
    try:
        code = run(argv, settings)
    except SystemExit as exc:  # argparse's own exit for flags it cannot parse
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err


def test_a_range_over_the_limit_is_one_readable_line(settings: SimpleNamespace,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    longest = ["--from", (END - timedelta(days=MAX_RANGE_DAYS - 1)).isoformat(), "--to", END.isoformat()]
    assert run(["report", *longest, "--format", "json"], settings) == 0
    assert len(json.loads(capsys.readouterr().out)["days"]) == 1098
    one_more = ["--from", (END - timedelta(days=MAX_RANGE_DAYS)).isoformat(), "--to", END.isoformat()]
    assert run(["report", *one_more], settings) == 2
    assert capsys.readouterr().err == "report: --to is more than 3 years after --from: at most 1098 days per summary\n"


def test_unusable_store_is_one_line_not_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = SimpleNamespace(database="ftp://nowhere/db", timezone=TIMEZONE)
    assert run(["report"], settings) == 1
    err = capsys.readouterr().err
    assert err.startswith("report: cannot use the consent store: ") and len(err.splitlines()) == 1


def test_cli_wires_the_commands_to_the_configured_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    for name in ("GATEWAY_DATABASE", "GATEWAY_DATABASE_URL", "GATEWAY_DATA_DIR", "GATEWAY_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["seed-demo-data", "--data-dir", str(tmp_path), "--days", "5", "--rows", "40"]) == 0
    assert main(["report", "--data-dir", str(tmp_path), "--format", "json"]) == 0
    out = capsys.readouterr().out
    totals = json.loads(out[out.index("{"):])["totals"]
    assert totals["decisions"] + totals["withdraw"] == 40

"""Durable consent writes and the 365-day summary: PostgreSQL (one and two instances) against SQLite, one run.

    GATEWAY_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:55432/gateway_test \\
        .venv/bin/python bench/bench_store.py                      # 1 million rows for the summary
    ... bench/bench_store.py --rows 10000000                         # the 10-million-row figure (~10 minutes)
    ... bench/bench_store.py --no-summary                            # writes only

Everything on PostgreSQL happens in throw-away schemas of the given database, dropped at the end.

1. **Writes**: ``--writes`` appends of synthetic records through the store's real write path (group commit, rollups
   in the same transaction, the hash chain; an append returns after its batch committed) from ``--writers``
   concurrent writers, each instance a process of its own (as gateway instances are):
   SQLite (one instance: its file is one machine's), PostgreSQL with one instance, and PostgreSQL with two
   instances sharing the work and the database (each half the writers and half the appends, started at the same
   moment). Interleaved rounds, median printed: rows/s, p50/p99 of an acknowledged append, and the ratios.
2. **Summary**: ``--rows`` synthetic log rows over the 365 local days ending yesterday, filled into SQLite by
   bench/bench_summary.py's bulk loader (log rows, then every rollup by GROUP BY), then copied table by table
   into PostgreSQL with COPY, so both hold the very same data; the 30- and 365-day summaries through each store
   (first call, then median/p95 of ``--repeats``) must be equal, and the ratio is printed. The bulk-filled rows
   are not hash-chained (as in bench_summary.py: the summary reads rollups only).

Mind the machine: PostgreSQL, the instances and this script share its cores (``os.cpu_count()`` is printed), and
PostgreSQL's fsync and SQLite's share one disk; the figures are this machine's, the ratios are the point.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_summary import (  # noqa: E402
    DAYS,
    TIMEZONE,
    as_record,
    bulk_load,
    create_schema,
    day_range,
    fixed_offset_seconds,
    generate,
)
from gateway.store.postgres import PostgresStore  # noqa: E402
from gateway.store.sqlite import SqliteStore  # noqa: E402

TABLES = ("consent_log", "decision_daily", "daily_by_key", "monthly_by_key", "impression_daily", "csp_daily",
          "csp_monthly")
LOG_COLUMNS = ("id", "consent_id", "at", "action", "categories", "policy_version", "language", "gpc", "ip_prefix",
               "device", "browser", "os", "texts_hash")
COPY_CHUNK = 100_000
START_DELAY = 3.0  # seconds between launching the instances and their common start: time to open and migrate


@dataclass(frozen=True)
class Writes:
    rate: float
    p50: float  # ms
    p99: float  # ms
    commits: int


def pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


@asynccontextmanager
async def schemas(url: str, n: int) -> AsyncIterator[list[str]]:
    """``n`` throw-away schemas, dropped at the end; yields a URL selecting each."""
    import asyncpg

    names = [f"bench_{uuid.uuid4().hex[:12]}" for _ in range(n)]
    conn = await asyncpg.connect(url)
    try:
        for name in names:
            await conn.execute(f"CREATE SCHEMA {name}")
        try:
            yield [f"{url}{'&' if '?' in url else '?'}search_path={name}" for name in names]
        finally:
            for name in names:
                await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    finally:
        await conn.close()


# -- writes: one process per instance -------------------------------------------------------------------------------


def open_store(kind: str, where: str) -> SqliteStore | PostgresStore:
    return SqliteStore(Path(where), timezone=TIMEZONE) if kind == "sqlite" else PostgresStore(where, TIMEZONE)


async def instance(kind: str, where: str, n: int, writers: int, start_at: float, seed: int) -> dict[str, Any]:
    """One instance's share: open the store, wait for the common start, append ``n`` records from ``writers``."""
    first = day_range(2)[0]
    records = iter([as_record(r) for chunk in generate(n, first, 2, seed=seed) for r in chunk])
    latencies: list[float] = []
    async with open_store(kind, where) as store:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        began = time.time()  # later than start_at only if opening took longer than START_DELAY

        async def writer() -> None:
            for record in records:
                started = time.perf_counter()
                await store.append(record)
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(writer() for _ in range(writers)))
        ended = time.time()
        commits = store.commits
    return {"began": began, "ended": ended, "latencies": latencies, "commits": commits}


def run_instances(kind: str, where: str, instances: int, writes: int, writers: int, round_no: int) -> Writes:
    start_at = time.time() + START_DELAY
    outs = []
    for _ in range(instances):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            outs.append(Path(f.name))
    procs = [subprocess.Popen([sys.executable, __file__, "--instance", kind, where, str(writes // instances),
                               str(writers // instances), str(start_at), str(round_no * 10 + i), str(out)])
             for i, out in enumerate(outs)]
    for proc in procs:
        if proc.wait(timeout=600) != 0:
            raise SystemExit(f"a {kind} instance failed ({proc.returncode})")
    found = [json.loads(out.read_text()) for out in outs]
    for out in outs:
        out.unlink()
    latencies = sorted(x for f in found for x in f["latencies"])
    elapsed = max(f["ended"] for f in found) - min(f["began"] for f in found)
    if max(f["began"] for f in found) - start_at > 0.05:
        print(f"  (warning: a {kind} instance started {max(f['began'] for f in found) - start_at:.2f} s late)")
    return Writes(len(latencies) / elapsed, pct(latencies, 0.5), pct(latencies, 0.99),
                  sum(f["commits"] for f in found))


async def bench_writes(pg_url: str, workdir: Path, writes: int, writers: int, rounds: int) -> None:
    cases = [("sqlite", 1), ("postgres", 1), ("postgres", 2)]
    results: dict[tuple[str, int], list[Writes]] = {case: [] for case in cases}
    async with schemas(pg_url, 2) as (one, two):
        where = {("sqlite", 1): str(workdir / "writes.db"), ("postgres", 1): one, ("postgres", 2): two}
        for round_no in range(rounds):
            for kind, n in cases:
                results[(kind, n)].append(run_instances(kind, where[(kind, n)], n, writes, writers, round_no))
    print(f"writes: {writes:,} appends from {writers} concurrent writers per run, {rounds} interleaved rounds "
          "(median), each append acknowledged after its batch committed")
    median: dict[tuple[str, int], Writes] = {}
    for kind, n in cases:
        runs = sorted(results[(kind, n)], key=lambda w: w.rate)
        w = median[(kind, n)] = runs[len(runs) // 2]
        label = f"{kind}, {n} instance{'s' if n > 1 else ''}"
        print(f"  {label:<22} {w.rate:>9,.0f} rows/s  p50 {w.p50:7.2f} ms  p99 {w.p99:7.2f} ms"
              f"  ({w.commits:,} commits)")
    lite, pg1, pg2 = median[("sqlite", 1)], median[("postgres", 1)], median[("postgres", 2)]
    print(f"  ratios: postgres 1 instance / sqlite {pg1.rate / lite.rate:.2f}x; postgres 2 instances / sqlite "
          f"{pg2.rate / lite.rate:.2f}x; 2 instances / 1 instance {pg2.rate / pg1.rate:.2f}x")


# -- summary --------------------------------------------------------------------------------------------------------


def sqlite_rows(path: Path, table: str) -> Iterator[list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        columns = ", ".join(LOG_COLUMNS) if table == "consent_log" else "*"
        cursor = conn.execute(f"SELECT {columns} FROM {table}")
        while chunk := cursor.fetchmany(COPY_CHUNK):
            yield chunk
    finally:
        conn.close()


async def copy_to_postgres(path: Path, url: str) -> float:
    """Every filled table from the SQLite file into the (migrated, empty) PostgreSQL schema, with COPY."""
    import asyncpg

    async with PostgresStore(url, TIMEZONE):  # creates the schema by the store's own migrations
        pass
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET synchronous_commit = off")  # a benchmark fill; durability is what writes measure
        for table in TABLES:
            columns = list(LOG_COLUMNS) if table == "consent_log" else None
            for chunk in sqlite_rows(path, table):
                await conn.copy_records_to_table(table, records=chunk, columns=columns)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


def timed(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, pct(ordered, 0.95)


async def bench_summary(pg_url: str, workdir: Path, rows: int, repeats: int) -> None:
    first, last = day_range(DAYS)
    path = workdir / "summary.db"
    await create_schema(path)
    started = time.perf_counter()
    loaded = bulk_load(path, generate(rows, first, DAYS, seed=42), fixed_offset_seconds(first, last), seed=43)
    filled = time.perf_counter() - started
    async with schemas(pg_url, 1) as (url,):
        copied = await copy_to_postgres(path, url)
        print(f"summary: {loaded:,} log rows over {first} .. {last}; SQLite fill {filled:.0f} s, copied into "
              f"PostgreSQL with COPY in {copied:.0f} s")
        stores: dict[str, SqliteStore | PostgresStore] = {
            "sqlite": SqliteStore(path, timezone=TIMEZONE), "postgres": PostgresStore(url, TIMEZONE)}
        for store in stores.values():
            await store.open()
        try:
            for days in (30, 365):
                start = last - timedelta(days=days - 1)
                figures: dict[str, tuple[float, float, float]] = {}
                answers = {}
                for name, store in stores.items():
                    began = time.perf_counter()
                    answers[name] = await store.summary(start, last)
                    cold = (time.perf_counter() - began) * 1000
                    samples = []
                    for _ in range(repeats):
                        began = time.perf_counter()
                        await store.summary(start, last)
                        samples.append(time.perf_counter() - began)
                    figures[name] = (cold, *timed(samples))
                if answers["sqlite"] != answers["postgres"]:
                    raise SystemExit(f"the {days}-day summaries of SQLite and PostgreSQL differ")
                for name, (cold, median, p95) in figures.items():
                    print(f"  {days:3} days {name:<8}: first {cold:8.2f} ms, median {median:7.2f} ms, "
                          f"p95 {p95:7.2f} ms")
                ratio = figures["postgres"][1] / figures["sqlite"][1]
                decisions = answers["sqlite"]["totals"]["decisions"]  # type: ignore[index]
                print(f"  {days:3} days postgres / sqlite (median): {ratio:.2f}x; both {decisions:,} decisions,"
                      " identical summaries")
        finally:
            for store in stores.values():
                await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=os.environ.get("GATEWAY_TEST_POSTGRES_URL", ""),
                        help="the database to make throw-away schemas in (default GATEWAY_TEST_POSTGRES_URL)")
    parser.add_argument("--writes", type=int, default=40_000, help="appends per write run")
    parser.add_argument("--writers", type=int, default=1000, help="concurrent writers per run (split over instances)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved write rounds (the median is printed)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="log rows for the summary (10000000 for the "
                                                                     "README figure)")
    parser.add_argument("--repeats", type=int, default=20, help="timed summary calls per range and store")
    parser.add_argument("--no-writes", action="store_true")
    parser.add_argument("--no-summary", action="store_true")
    args = parser.parse_args()
    if not args.postgres_url:
        raise SystemExit("set GATEWAY_TEST_POSTGRES_URL or --postgres-url (.ci/postgres starts a throw-away cluster)")
    print(f"machine: {os.cpu_count()} cores shared by PostgreSQL, the instances and this script; one disk; load"
          f" average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        if not args.no_writes:
            await bench_writes(args.postgres_url, Path(tmp), args.writes, args.writers, args.rounds)
        if not args.no_summary:
            await bench_summary(args.postgres_url, Path(tmp), args.rows, args.repeats)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (above {os.cpu_count()}: other work competed)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--instance":
        _, _, kind, where, n, writers, start_at, seed, out = sys.argv
        found = asyncio.run(instance(kind, where, int(n), int(writers), float(start_at), int(seed)))
        Path(out).write_text(json.dumps(found))
    else:
        asyncio.run(main())

"""Summary from rollups vs a plain GROUP BY over the raw log, and group commit vs a commit per row.

    .venv/bin/python bench/bench_summary.py                  # 10 million log rows (a few minutes, ~2 GB on disk)
    .venv/bin/python bench/bench_summary.py --rows 1000000   # smaller

What it does, all in one run on one machine:

1. Consistency check: a sample of synthetic rows goes through the real write path (``SqliteStore.append``, group
   commit, rollups in the same transaction) into one file, and through the bulk loader below into another; the
   two summaries must be identical, so the bulk-built rollups are the ones the gateway itself would have built.
2. Bulk fill: ``--rows`` synthetic log rows over the 365 local days ending yesterday, inserted with executemany
   in 200k-row transactions (synchronous=OFF for the fill only), then the rollups built from them by GROUP BY
   ``INSERT ... SELECT`` (decision cube from the log; per-key daily table from the cube; impressions derived as
   ~1.45 banner displays per decision; CSP reports as a few dozen hosts a day). The local day is computed in SQL
   with the zone's fixed UTC offset over the range (Asia/Almaty has been UTC+5 with no DST since 2024-03-01;
   the script refuses a range where the offset changes).
3. Summary timing through ``SqliteStore.summary`` for 30 and 365 days (first call, then median/p95 of repeats),
   against the same summary computed from one plain GROUP BY pass over the raw log (grouped by every dimension at
   once and folded in Python: the cheapest way to get every breakdown without rollups), measured in the same
   run. Both summaries must be equal, and the ratio is printed.
4. Write throughput: ``--writes`` appends from ``--writers`` concurrent writers through group commit, against a
   commit per row (``batch_max=1``) with the same writers, and the in-memory store as the no-I/O ceiling;
   rows/s and p50/p99 latency of an acknowledged append.

Measured on this machine (2 vCPU, 23 GB RAM, virtio disk, other sessions running), 2026-11-25, defaults:

    writes group commit   :  39,737 rows/s  p50 23.85 ms  p99 69.48 ms  (100,000 appends, 1000 writers, 100 commits)
    writes commit per row :   1,448 rows/s  p50  655 ms   p99  974 ms   (10,000 appends, 1000 writers)
    writes memory (no I/O):  64,404 rows/s                               (the Python/asyncio ceiling)
    writes one writer     :   1,324 rows/s  p50  0.74 ms  p99  1.30 ms   (a lone visitor's append)
    writes plain sqlite3  :   7,137 rows/s  (INSERT + COMMIT per row, log only, no asyncio)
    group commit / commit per row through the store: 27.4x; / plain sqlite3 commit per row: 5.6x
    fill: 10,000,000 log rows in 152 s (2,250 MiB); rollups: decision_daily 367,107 rows, daily_by_key 8,572,
          monthly_by_key 305, impression_daily 30,821, csp_daily 21,900, csp_monthly 598
    summary  30 days: median 1.73 ms (p95 1.86)  | one-pass raw GROUP BY 2.04 s  (1,178x) | totals-only 0.31 s
    summary 365 days: median 4.17 ms (p95 4.36)  | one-pass raw GROUP BY 24.33 s (5,829x) | totals-only 4.01 s

Under heavy load from other sessions (load average 8-15) the 365-day summary stayed at 4-8 ms median while
group commit fell to 9-13k rows/s (fsync waits behind other writers); the commit-per-row store figure is bound
by aiosqlite's ~6 thread hops per transaction, which is why the plain sqlite3 loop is shown as well.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gateway.store import ConsentRecord, schema  # noqa: E402
from gateway.store.memory import MemoryStore  # noqa: E402
from gateway.store.rollups import COUNTS, DIMENSIONS, TOP_HOSTS  # noqa: E402
from gateway.store.sqlite import SqliteStore, from_micros, to_micros  # noqa: E402
from gateway.store.summary import build_summary  # noqa: E402
from gateway.vocabulary import mask_to_categories  # noqa: E402

TIMEZONE = "Asia/Almaty"
DAYS = 365
CHUNK = 200_000
OLD_POLICY, NEW_POLICY = "2023-01-12", "2026-06-01"

# (device, browser, os, weight): a plausible Kazakh mix, plus a few bots that slipped past the HTTP layer.
PROFILES = [
    ("desktop", "Chrome", "Windows", 24), ("desktop", "Edge", "Windows", 5),
    ("desktop", "Yandex Browser", "Windows", 7),
    ("desktop", "Firefox", "Windows", 3), ("desktop", "Opera", "Windows", 2), ("desktop", "Safari", "macOS", 3),
    ("desktop", "Chrome", "macOS", 2), ("desktop", "Firefox", "Linux", 1), ("desktop", "Chrome", "Linux", 1),
    ("mobile", "Chrome", "Android", 20), ("mobile", "Samsung Internet", "Android", 4),
    ("mobile", "Yandex Browser", "Android", 5), ("mobile", "Safari", "iOS", 12), ("mobile", "Chrome", "iOS", 2),
    ("mobile", "Other", "Android", 2), ("tablet", "Safari", "iOS", 2), ("tablet", "Chrome", "Android", 1),
    ("other", "Other", "Other", 1), ("bot", "Other", "Other", 0.5),
]
LANGUAGES = (("ru", 70), ("kk", 15), ("en", 15))
ACTIONS = (("accept_all", 52), ("reject_all", 26), ("custom", 14), ("withdraw", 6), ("erase", 2))
ACTION_MASKS = {"accept_all": [15], "reject_all": [1], "withdraw": [1], "erase": [0]}
CUSTOM_MASKS = ((3, 30), (5, 25), (7, 15), (9, 5), (11, 5), (13, 5), (1, 15))  # bitmask: necessary=1 ... marketing=8
HOSTS = [
    "connect.facebook.net", "www.facebook.com", "mc.yandex.ru", "www.googletagmanager.com", "snap.licdn.com",
    "px.ads.linkedin.com", "analytics.tiktok.com", "vk.com", "top-fwz1.mail.ru", "googleads.g.doubleclick.net",
    "static.hotjar.com", "www.clarity.ms", "www.youtube.com", "player.vimeo.com", "maps.googleapis.com",
    "widgets.2gis.com", *[f"cdn{i}.adnetwork.example" for i in range(30)],
]


# -- synthetic data -------------------------------------------------------------------------------------------------


def day_range(days: int) -> tuple[date, date]:
    """The ``days`` local days ending yesterday (in the store's zone)."""
    today = datetime.now(ZoneInfo(TIMEZONE)).date()
    return today - timedelta(days=days), today - timedelta(days=1)


def fixed_offset_seconds(first: date, last: date) -> int:
    tz = ZoneInfo(TIMEZONE)
    offsets = {datetime(d.year, d.month, d.day, 12, tzinfo=tz).utcoffset() for d in (first, last)}
    offsets |= {datetime(first.year, m, 1, 12, tzinfo=tz).utcoffset() for m in range(1, 13)}
    if len(offsets) != 1:
        raise SystemExit(f"{TIMEZONE} changes its UTC offset within the range; the bulk loader needs a fixed one")
    (offset,) = offsets
    assert offset is not None
    return int(offset.total_seconds())


def generate(rows: int, first: date, days: int, seed: int) -> Iterator[list[tuple[object, ...]]]:
    """Log rows in time order, as ``schema.INSERT_LOG`` takes them, in chunks of at most ``CHUNK``."""
    rng = random.Random(seed)
    tz = ZoneInfo(TIMEZONE)
    profiles = [p[:3] for p in PROFILES]
    profile_w = [p[3] for p in PROFILES]
    prefixes = [f"{rng.randrange(2, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24" for _ in range(500)]
    hashes = {lang: [secrets.token_hex(32) for _ in range(3)] for lang, _ in LANGUAGES}
    switch = date.fromisoformat(NEW_POLICY)
    per_day = [rows // days + (1 if i < rows % days else 0) for i in range(days)]
    chunk: list[tuple[object, ...]] = []
    for i, n in enumerate(per_day):
        day = first + timedelta(days=i)
        midnight = to_micros(datetime(day.year, day.month, day.day, tzinfo=tz))
        ats = sorted(midnight + rng.randrange(86_400_000_000) for _ in range(n))
        actions = rng.choices([a for a, _ in ACTIONS], [w for _, w in ACTIONS], k=n)
        custom = rng.choices([m for m, _ in CUSTOM_MASKS], [w for _, w in CUSTOM_MASKS], k=n)
        kinds = rng.choices(profiles, profile_w, k=n)
        langs = rng.choices([lang for lang, _ in LANGUAGES], [w for _, w in LANGUAGES], k=n)
        if day >= switch:
            policies = rng.choices([NEW_POLICY, OLD_POLICY], [9, 1], k=n)
        else:
            policies = [OLD_POLICY] * n
        gpcs = rng.choices([0, 1], [92, 8], k=n)
        ips = rng.choices(prefixes, k=n)
        for at, action, cmask, (device, browser, os_name), lang, policy, gpc, ip in zip(
            ats, actions, custom, kinds, langs, policies, gpcs, ips
        ):
            mask = cmask if action == "custom" else ACTION_MASKS[action][0]
            chunk.append((
                secrets.token_urlsafe(16), at, action, mask, policy, lang, gpc, ip, device, browser, os_name,
                hashes[lang][at % 3],
            ))
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def as_record(row: tuple[object, ...]) -> ConsentRecord:
    consent_id, at, action, mask, policy, lang, gpc, ip, device, browser, os, texts_hash = row
    return ConsentRecord(
        consent_id=str(consent_id), at=from_micros(int(at)), action=str(action),  # type: ignore[call-overload]
        categories=mask_to_categories(int(mask)), policy_version=str(policy),  # type: ignore[call-overload]
        language=str(lang), gpc=bool(gpc), ip_prefix=str(ip), device=str(device), browser=str(browser), os=str(os),
        texts_hash=str(texts_hash),
    )


# -- bulk fill ------------------------------------------------------------------------------------------------------


async def create_schema(path: Path) -> None:
    async with SqliteStore(path, timezone=TIMEZONE):
        pass


def bulk_load(path: Path, chunks: Iterator[list[tuple[object, ...]]], offset: int, seed: int) -> int:
    """Insert the log rows, then build every rollup from them with GROUP BY, as the write path would have."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")  # a benchmark fill: durability is what the write benchmark measures
    conn.execute("PRAGMA cache_size=-2000000")
    total = 0
    started = time.perf_counter()
    for chunk in chunks:
        conn.execute("BEGIN")
        conn.executemany(schema.INSERT_LOG, chunk)
        conn.execute("COMMIT")
        total += len(chunk)
        if total % 1_000_000 < CHUNK:
            print(f"  {total:>12,} rows  {time.perf_counter() - started:6.1f} s", file=sys.stderr)
    local_day = f"date(at / 1000000 + {offset}, 'unixepoch')"
    rng = random.Random(seed)
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO decision_daily (day, action, policy_version, language, device, browser, os, gpc, categories, n)"
        f" SELECT {local_day} AS day, action, policy_version, language, device, browser, os, gpc, categories,"
        " COUNT(*) FROM consent_log GROUP BY day, action, policy_version, language, device, browser, os, gpc,"
        " categories"
    )
    conn.execute(
        "INSERT INTO impression_daily (day, event, policy_version, language, device, browser, os, n)"
        " SELECT day, 'shown', policy_version, language, device, browser, os, CAST(SUM(n) * 1.45 AS INTEGER)"
        " FROM decision_daily WHERE action IN ('accept_all', 'reject_all', 'custom')"
        " GROUP BY day, policy_version, language, device, browser, os"
    )
    decision = "action IN ('accept_all', 'reject_all', 'custom')"
    counters = ", ".join([
        *(f"SUM(CASE WHEN action = '{a}' THEN n ELSE 0 END)" for a in ("accept_all", "reject_all", "custom",
                                                                      "withdraw", "erase")),
        *(f"SUM(CASE WHEN {decision} AND categories & {b} THEN n ELSE 0 END)" for b in (2, 4, 8)),
        f"SUM(CASE WHEN {decision} AND gpc = 1 THEN n ELSE 0 END)",
    ])
    for dim, column in [("all", "''"), *((d, d) for d in DIMENSIONS)]:
        conn.execute(
            f"INSERT INTO daily_by_key (dim, day, key, {', '.join(COUNTS)})"
            f" SELECT '{dim}', day, {column}, 0, {counters} FROM decision_daily WHERE device <> 'bot'"
            f" GROUP BY day, {column}"
        )
        conn.execute(
            f"INSERT INTO daily_by_key (dim, day, key, {', '.join(COUNTS)})"
            f" SELECT '{dim}', day, {column}, SUM(n), 0, 0, 0, 0, 0, 0, 0, 0, 0 FROM impression_daily"
            f" WHERE device <> 'bot' GROUP BY day, {column}"
            " ON CONFLICT (dim, day, key) DO UPDATE SET shown = daily_by_key.shown + excluded.shown"
        )
    days = [d for (d,) in conn.execute("SELECT DISTINCT day FROM decision_daily")]
    conn.executemany(
        "INSERT INTO csp_daily (day, host, directive, n) VALUES (?, ?, ?, ?)",
        [(d, h, directive, rng.randrange(1, 400)) for d in days for h in rng.sample(HOSTS, 30)
         for directive in ("script-src", "img-src")],
    )
    conn.execute(
        f"INSERT INTO monthly_by_key (dim, month, key, {', '.join(COUNTS)})"
        f" SELECT dim, substr(day, 1, 7) AS month, key, {', '.join(f'SUM({c})' for c in COUNTS)}"
        " FROM daily_by_key GROUP BY dim, month, key"
    )
    conn.execute(
        "INSERT INTO csp_monthly (month, host, n)"
        " SELECT substr(day, 1, 7) AS month, host, SUM(n) FROM csp_daily GROUP BY month, host"
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return total


# -- the baseline: the same summary straight from the raw log ---------------------------------------------------


def raw_summary(path: Path, first: date, last: date, offset: int) -> dict[str, object]:
    """What the dashboard would cost without rollups: one plain GROUP BY pass over the raw log for the range.

    Every breakdown comes from that one scan (grouped by every dimension at once, then folded in Python), which
    is the cheapest way to get them all from the log; short ranges walk the ``at`` index, long ones scan the table.
    """
    tz = ZoneInfo(TIMEZONE)
    lo = to_micros(datetime(first.year, first.month, first.day, tzinfo=tz))
    end = last + timedelta(days=1)
    hi = to_micros(datetime(end.year, end.month, end.day, tzinfo=tz))
    access = "INDEXED BY consent_log_at" if (last - first).days * 4 < DAYS else "NOT INDEXED"
    span = (first.isoformat(), last.isoformat())
    conn = sqlite3.connect(path)
    try:
        cube = conn.execute(
            f"SELECT date(at / 1000000 + {offset}, 'unixepoch') AS day, action, categories, gpc, device, browser,"
            f" os, language, policy_version, COUNT(*) FROM consent_log {access}"
            " WHERE at >= ? AND at < ? AND device <> 'bot'"
            " GROUP BY day, action, categories, gpc, device, browser, os, language, policy_version", (lo, hi),
        ).fetchall()
        # Impressions have no raw log (they are only ever counted), so the baseline reads their rollup.
        shown = conn.execute(
            "SELECT day, device, browser, os, language, policy_version, SUM(n) FROM impression_daily"
            " WHERE day BETWEEN ? AND ? AND device <> 'bot' GROUP BY day, device, browser, os, language,"
            " policy_version", span,
        ).fetchall()
        hosts = conn.execute(
            "SELECT host, SUM(n) AS r FROM csp_daily WHERE day BETWEEN ? AND ? GROUP BY host"
            " ORDER BY r DESC, host LIMIT ?", (*span, TOP_HOSTS),
        ).fetchall()
    finally:
        conn.close()
    width = len(COUNTS)
    days: dict[str, list[int]] = {}
    keys: dict[tuple[str, str], list[int]] = {}

    def bump(day: str, dims: tuple[str, ...], column: str, n: int) -> None:
        i = COUNTS.index(column)
        days.setdefault(day, [0] * width)[i] += n
        for dim, key in zip(DIMENSIONS, dims):
            keys.setdefault((dim, key), [0] * width)[i] += n

    for day, action, mask, gpc, *dims, n in cube:
        bump(day, dims, action, n)
        if action in ("accept_all", "reject_all", "custom"):
            for column, bit in (("preferences", 2), ("analytics", 4), ("marketing", 8)):
                if mask & bit:
                    bump(day, dims, column, n)
            if gpc:
                bump(day, dims, "gpc", n)
    for day, *dims, n in shown:
        bump(day, dims, "shown", n)
    return build_summary(
        first, last, TIMEZONE, [(d, *v) for d, v in days.items()], [(*k, *v) for k, v in keys.items()], hosts
    )


def simplest_group_by(path: Path, first: date, last: date) -> int:
    """The floor of any raw-log answer: one GROUP BY action over the range, totals only, no breakdowns."""
    tz = ZoneInfo(TIMEZONE)
    end = last + timedelta(days=1)
    lo = to_micros(datetime(first.year, first.month, first.day, tzinfo=tz))
    hi = to_micros(datetime(end.year, end.month, end.day, tzinfo=tz))
    access = "INDEXED BY consent_log_at" if (last - first).days * 4 < DAYS else "NOT INDEXED"
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            f"SELECT action, COUNT(*) FROM consent_log {access} WHERE at >= ? AND at < ? GROUP BY action", (lo, hi)
        ).fetchall()
    finally:
        conn.close()
    return sum(n for _, n in rows)


# -- measurements ---------------------------------------------------------------------------------------------------


async def check_consistency(workdir: Path, rows: int) -> None:
    """The bulk loader must build exactly the rollups the real write path builds for the same rows."""
    first, last = day_range(DAYS)
    offset = fixed_offset_seconds(first, last)
    sample = [row for chunk in generate(rows, first, DAYS, seed=1) for row in chunk]
    real, bulk = workdir / "check-real.db", workdir / "check-bulk.db"
    async with SqliteStore(real, timezone=TIMEZONE) as store:
        for i in range(0, len(sample), 1000):
            await asyncio.gather(*(store.append(as_record(row)) for row in sample[i : i + 1000]))
        real_summary = await store.summary(first, last)
    await create_schema(bulk)
    bulk_load(bulk, iter([sample]), offset, seed=2)
    async with SqliteStore(bulk, timezone=TIMEZONE) as store:
        bulk_summary = await store.summary(first, last)
    for summary in (real_summary, bulk_summary):  # impressions and CSP reports are synthetic in the bulk file only
        summary.pop("blocked_hosts")
        summary.pop("interaction_rate")
        summary["totals"].pop("shown")  # type: ignore[attr-defined]
        for day in summary["days"]:  # type: ignore[attr-defined]
            day.pop("shown")
    if real_summary != bulk_summary:
        raise SystemExit("bulk-built rollups differ from the write path's: the benchmark would measure fiction")
    print(f"consistency: {rows:,} rows through append() and through the bulk loader give the same summary")


def timed(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1000:8.2f} ms   p95 {p95 * 1000:8.2f} ms"


async def bench_summary(path: Path, repeats: int) -> None:
    first_day, last_day = day_range(DAYS)
    offset = fixed_offset_seconds(first_day, last_day)
    async with SqliteStore(path, timezone=TIMEZONE) as store:
        for days in (30, 365):
            first = last_day - timedelta(days=days - 1)
            started = time.perf_counter()
            from_rollups = await store.summary(first, last_day)
            cold = time.perf_counter() - started
            samples = []
            for _ in range(repeats):
                started = time.perf_counter()
                await store.summary(first, last_day)
                samples.append(time.perf_counter() - started)
            started = time.perf_counter()
            from_log = raw_summary(path, first, last_day, offset)
            raw = time.perf_counter() - started
            if from_log != from_rollups:
                raise SystemExit(f"{days}-day summary from rollups differs from the raw GROUP BY")
            started = time.perf_counter()
            simplest = simplest_group_by(path, first, last_day)
            floor = time.perf_counter() - started
            median = statistics.median(samples)
            print(
                f"summary {days:3} days: simplest raw GROUP BY (totals by action only) {floor:7.2f} s"
                f" = {floor / median:,.0f}x the full summary from rollups ({simplest:,} rows counted)"
            )
            print(
                f"summary {days:3} days: rollups first {cold * 1000:8.2f} ms, {timed(samples)}"
                f" | raw GROUP BY {raw:7.2f} s | {raw / median:,.0f}x faster"
                f" | {from_rollups['totals']['decisions']:,} decisions"  # type: ignore[index]
            )


async def bench_writes(workdir: Path, writes: int, single_writes: int, writers: int) -> None:
    async def run(store: SqliteStore | MemoryStore, n: int, writers: int) -> tuple[float, list[float]]:
        rows = [as_record(r) for chunk in generate(n, *day_range(2)[:1], 2, seed=3) for r in chunk]
        latencies: list[float] = []
        queue = iter(rows)

        async def writer() -> None:
            for record in queue:
                started = time.perf_counter()
                await store.append(record)
                latencies.append(time.perf_counter() - started)

        async with store:  # type: ignore[attr-defined]
            started = time.perf_counter()
            await asyncio.gather(*(writer() for _ in range(writers)))
            elapsed = time.perf_counter() - started
        return n / elapsed, latencies

    def pct(latencies: list[float], q: float) -> float:
        ordered = sorted(latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    results = {}
    for label, store, n, concurrency in (
        ("group commit", SqliteStore(workdir / "writes-group.db", timezone=TIMEZONE), writes, writers),
        ("commit per row", SqliteStore(workdir / "writes-single.db", timezone=TIMEZONE, batch_max=1), single_writes,
         writers),
        ("memory (no I/O)", MemoryStore(timezone=TIMEZONE), writes, writers),
        # An idle site: each append is a batch of one, so this is the latency a lone visitor's PUT pays.
        ("one writer", SqliteStore(workdir / "writes-one.db", timezone=TIMEZONE), single_writes // 5, 1),
    ):
        rate, latencies = await run(store, n, concurrency)
        results[label] = rate
        commits = getattr(store, "commits", 0)
        print(
            f"writes {label:15}: {rate:10,.0f} rows/s  p50 {pct(latencies, 0.5):7.2f} ms  p99"
            f" {pct(latencies, 0.99):7.2f} ms  ({n:,} appends, {concurrency} writers, {commits:,} commits)"
        )
    rate = plain_commit_per_row(workdir / "writes-plain.db", single_writes)
    print(f"writes {'plain sqlite3':15}: {rate:10,.0f} rows/s  (one INSERT + COMMIT per row, log only, no rollups,"
          " no asyncio: the cheapest commit-per-row possible)")
    group = results["group commit"]
    print(f"group commit / commit per row through the store: {group / results['commit per row']:.1f}x;"
          f" / plain sqlite3 commit per row: {group / rate:.1f}x")


def plain_commit_per_row(path: Path, n: int) -> float:
    """The generous baseline: stdlib sqlite3, WAL + synchronous=FULL, one transaction per log row, nothing else."""
    rows = [r for chunk in generate(n, day_range(2)[0], 2, seed=4) for r in chunk]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(
            "CREATE TABLE consent_log (id INTEGER PRIMARY KEY, consent_id TEXT, at BIGINT, action TEXT,"
            " categories INTEGER, policy_version TEXT, language TEXT, gpc INTEGER, ip_prefix TEXT, device TEXT,"
            " browser TEXT, os TEXT, texts_hash TEXT)"
        )
        conn.execute("CREATE INDEX consent_log_consent_id ON consent_log (consent_id)")
        conn.execute("CREATE INDEX consent_log_at ON consent_log (at)")
        started = time.perf_counter()
        for row in rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(schema.INSERT_LOG, row)
            conn.execute("COMMIT")
        return n / (time.perf_counter() - started)
    finally:
        conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="synthetic log rows (default 10,000,000)")
    parser.add_argument("--check-rows", type=int, default=20_000, help="rows for the write-path consistency check")
    parser.add_argument("--repeats", type=int, default=20, help="timed summary calls per range")
    parser.add_argument("--writes", type=int, default=100_000, help="appends for the group-commit run")
    parser.add_argument("--single-writes", type=int, default=10_000, help="appends for the commit-per-row run")
    parser.add_argument("--writers", type=int, default=1000, help="concurrent writers")
    parser.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed afterwards)")
    parser.add_argument("--db", type=Path, help="keep the filled database here; an existing file is reused as is")
    parser.add_argument("--no-writes", action="store_true", help="skip the write-throughput part")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        workdir = Path(tmp)
        if not args.no_writes:
            # First, while the disk is quiet: after the bulk fill the kernel is still writing back gigabytes of
            # dirty pages, and every fsync of the write benchmark would wait behind them.
            await bench_writes(workdir, args.writes, args.single_writes, args.writers)
        path = args.db or workdir / "bench.db"
        if not path.exists():
            await check_consistency(workdir, args.check_rows)
            first, last = day_range(DAYS)
            offset = fixed_offset_seconds(first, last)
            await create_schema(path)
            started = time.perf_counter()
            loaded = bulk_load(path, generate(args.rows, first, DAYS, seed=42), offset, seed=43)
            elapsed = time.perf_counter() - started
            size = path.stat().st_size / 2**20
            print(f"fill: {loaded:,} log rows, {first} .. {last}, in {elapsed:.0f} s ({size:,.0f} MiB)")
            os.sync()
        conn = sqlite3.connect(path)
        tables = ("consent_log", "decision_daily", "daily_by_key", "monthly_by_key", "impression_daily", "csp_daily",
                  "csp_monthly")
        counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}
        conn.close()
        print("rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()))
        await bench_summary(path, args.repeats)


if __name__ == "__main__":
    asyncio.run(main())

"""The CLI commands report, purge, verify-log and seed-demo-data, and the summary as text for a terminal (table,
CSV, JSON).

The range handling and the CSV are gateway.analytics', shared with the dashboard and its API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from gateway.analytics import DEFAULT_DAYS, parse_day, range_error, resolve_range, to_csv
from gateway.store import BannerEvent, ConsentRecord, StoreError, open_store
from gateway.store.summary import BREAKDOWN_COUNTS, BREAKDOWNS, DAY_COUNTS, TOTALS
from gateway.useragent import classify
from gateway.vocabulary import ACCEPT_ALL, CHOICES, CUSTOM, NECESSARY, OPTIONAL, SHOWN, WITHDRAW

_DURATION = re.compile(r"(\d+)d")

T = TypeVar("T")


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _grid(header: list[str], rows: list[list[str]]) -> list[str]:
    """Columns aligned: the first (a name) to the left, numbers to the right."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            .rstrip() for r in [header, *rows]]


def to_table(summary: dict[str, Any]) -> str:
    """What a person reads in a terminal: headline numbers, then per-day and per-breakdown tables."""
    totals = summary["totals"]
    lines = [f"Consent summary {summary['from']} to {summary['to']} ({summary['timezone']})", ""]
    head = [[name, str(totals[name])] for name in TOTALS]
    head += [["interaction_rate", _pct(summary["interaction_rate"])]]
    head += [[f"opt_in_{c}", _pct(summary["opt_in_rate"][c])] for c in OPTIONAL]
    head += [["gpc_share", _pct(summary["gpc_share"])]]
    lines += _grid(["metric", "value"], head)
    lines += ["", "Per day"]
    lines += _grid(["day", *DAY_COUNTS, *OPTIONAL], [
        [d["day"], *(str(d[n]) for n in DAY_COUNTS), *(_pct(d["opt_in"][c]) for c in OPTIONAL)]
        for d in summary["days"]
    ])
    for section in BREAKDOWNS:
        rows = summary["breakdowns"][section]
        lines += ["", f"By {section.replace('_', ' ')}"]
        lines += _grid([section, *BREAKDOWN_COUNTS, *OPTIONAL], [
            [str(r["key"]), *(str(r[n]) for n in BREAKDOWN_COUNTS), *(_pct(r["opt_in"][c]) for c in OPTIONAL)]
            for r in rows
        ]) if rows else ["  (none)"]
    lines += ["", "Top blocked hosts"]
    hosts = summary["blocked_hosts"]
    lines += _grid(["host", "reports"], [[h["host"], str(h["reports"])] for h in hosts]) if hosts else ["  (none)"]
    return "\n".join(lines) + "\n"


def to_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, ensure_ascii=False) + "\n"


FORMATS: dict[str, Callable[[dict[str, Any]], str]] = {"table": to_table, "csv": to_csv, "json": to_json}


# --- command line -------------------------------------------------------------------------------------------


def _date(text: str) -> date:
    try:
        return parse_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is {exc}") from None


def _days(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if not match or int(match[1]) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: use a number of days such as 365d")
    return timedelta(days=int(match[1]))


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def add_commands(subparsers: Any) -> None:
    """Add `report`, `purge` and `seed-demo-data`; each sets `handler(args, settings) -> exit code`."""
    report = subparsers.add_parser("report", help="print the consent summary for a range of local days")
    report.add_argument("--from", dest="start", type=_date, metavar="YYYY-MM-DD",
                        help=f"first day, inclusive (default: {DEFAULT_DAYS} days ending --to)")
    report.add_argument("--to", dest="end", type=_date, metavar="YYYY-MM-DD",
                        help="last day, inclusive (default: today)")
    report.add_argument("--format", choices=tuple(FORMATS), default="table")
    report.set_defaults(handler=run_report)

    purge = subparsers.add_parser("purge", help="delete consent-log rows older than a period; rollups are kept")
    purge.add_argument("--older-than", dest="older_than", type=_days, required=True, metavar="Nd",
                       help="age in days, e.g. 365d")
    purge.set_defaults(handler=run_purge)

    verify = subparsers.add_parser("verify-log", help="check the consent log's hash chain; exit 1 at a broken link")
    verify.set_defaults(handler=run_verify_log)

    seed = subparsers.add_parser("seed-demo-data", help="fill the database with clearly synthetic decisions")
    seed.add_argument("--days", type=_positive, default=90, help="spread over this many past days (default 90)")
    seed.add_argument("--rows", type=_positive, default=5000, help="consent-log rows to write (default 5000)")
    seed.add_argument("--seed", type=int, default=1, help="random seed, for a repeatable data set")
    seed.set_defaults(handler=run_seed)


def _with_store(command: str, settings: Any, work: Callable[[Any], Awaitable[T]]) -> T | None:
    """Open the configured store, run `work`, close it; a storage failure is one line on stderr and None."""
    async def main() -> T:
        url = getattr(settings, "database_url", None) or settings.database  # Settings fills in the default path
        async with open_store(url, settings.timezone) as store:
            return await work(store)

    try:
        return asyncio.run(main())
    except (StoreError, ValueError, OSError) as exc:  # the URL is not echoed: it may carry a password
        print(f"{command}: cannot use the consent store: {exc}", file=sys.stderr)
        return None


def run_report(args: argparse.Namespace, settings: Any) -> int:
    start, end = resolve_range(args.start, args.end, settings.timezone)
    if error := range_error(start, end, ("--from", "--to")):
        print(f"report: {error}", file=sys.stderr)
        return 2
    summary = _with_store("report", settings, lambda store: store.summary(start, end))
    if summary is None:
        return 1
    sys.stdout.write(FORMATS[args.format](summary))
    return 0


def run_purge(args: argparse.Namespace, settings: Any) -> int:
    before = datetime.now(ZoneInfo("UTC")) - args.older_than
    removed = _with_store("purge", settings, lambda store: store.purge(before))
    if removed is None:
        return 1
    print(f"Purged {removed} consent-log rows recorded before {before:%Y-%m-%d %H:%M} UTC; daily rollups kept.")
    return 0


def run_verify_log(args: argparse.Namespace, settings: Any) -> int:
    """OK with the count and the head (keep it elsewhere: a later rewrite of the file would not reach it), or
    the first broken link with its row id and time, and exit 1 (gateway.store.chain says what is proven)."""
    async def verify(store: Any) -> Any:
        check = getattr(store, "verify_log", None)
        return False if check is None else await check()

    report = _with_store("verify-log", settings, verify)
    if report is None:
        return 1
    if report is False:
        print("verify-log: this store keeps no chained log (the SQLite and PostgreSQL stores do)", file=sys.stderr)
        return 1
    if report.ok:
        print(f"OK: {report.rows} consent-log rows chained ({report.removed} removed by erase or purge, their "
              f"links kept); head {report.head}")
        return 0
    at = f" ({report.broken_at:%Y-%m-%d %H:%M:%S} UTC)" if report.broken_at else ""
    print(f"BROKEN at row {report.broken_id}{at}: {report.problem}; {report.rows} rows verified before it",
          file=sys.stderr)
    return 1


# --- demo data ----------------------------------------------------------------------------------------------

DEMO_PREFIX = "demo-"
DEMO_POLICIES = ("2022-06-01", "2023-01-12")  # (older, current): the policy changes 40% of the way in
_DEMO_LANGUAGES = (("ru", 55), ("kk", 25), ("en", 20))
_DEMO_AGENTS = (  # (weight, user-agent): classified by gateway.useragent exactly like live traffic
    (30, "Mozilla/5.0 (Linux; Android 14; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/130.0.0.0 Mobile Safari/537.36"),
    (18, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.6 Mobile/15E148 Safari/604.1"),
    (6, "Mozilla/5.0 (Linux; Android 13; SM-G991B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36"),
    (20, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/130.0.0.0 Safari/537.36"),
    (6, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 YaBrowser/24.10.0.0 Safari/537.36"),
    (5, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0"),
    (4, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0"),
    (4, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.6 Safari/605.1.15"),
    (4, "Mozilla/5.0 (iPad; CPU OS 16_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/16.6 Mobile/15E148 Safari/604.1"),
    (3, "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/130.0.0.0 Safari/537.36"),
)
_DEMO_NETWORKS = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", None)  # documentation ranges only
_BATCH = 256  # writes in flight at once, so the store's group commit can batch them


async def seed_demo(store: Any, days: int, rows: int, seed: int = 1, *, policy: str = DEMO_POLICIES[1],
                    now: datetime | None = None) -> tuple[int, int]:
    """Write `rows` synthetic log rows through the store's real write path; returns (rows, impressions).

    Each visitor sees the banner once; 60% decide (GPC senders reject more and never get marketing in a custom
    choice); about 5% of those who allowed something later withdraw. Every timestamp lies in the past.
    """
    rng = random.Random(seed)
    now = now or datetime.now(ZoneInfo("UTC"))
    span = days * 86400.0
    languages = [lang for lang, _ in _DEMO_LANGUAGES]
    lang_weights = [w for _, w in _DEMO_LANGUAGES]
    agents = [classify(ua) for _, ua in _DEMO_AGENTS]
    agent_weights = [w for w, _ in _DEMO_AGENTS]
    written = shown = 0
    pending: list[Awaitable[None]] = []
    while written < rows:
        ago = rng.uniform(60, span)
        at = now - timedelta(seconds=ago)
        lang = rng.choices(languages, lang_weights)[0]
        agent = rng.choices(agents, agent_weights)[0]
        traits: dict[str, str] = dict(language=lang, policy_version=DEMO_POLICIES[0] if ago > span * 0.6 else policy,
                                      device=agent.device, browser=agent.browser, os=agent.os)
        pending.append(store.record_event(BannerEvent(at=at, event=SHOWN, **traits)))
        shown += 1
        if rng.random() < 0.6:
            gpc = rng.random() < 0.12
            action = rng.choices(CHOICES, (20, 60, 20) if gpc else (50, 30, 20))[0]  # accept, reject, custom
            granted = {NECESSARY}
            if action == ACCEPT_ALL:
                granted |= set(OPTIONAL)
            elif action == CUSTOM:
                odds = {"preferences": 0.7, "analytics": 0.5, "marketing": 0.0 if gpc else 0.2}
                granted |= {c for c, p in odds.items() if rng.random() < p}
            record = ConsentRecord(
                consent_id=f"{DEMO_PREFIX}{rng.getrandbits(64):016x}", at=at, action=action,
                categories=frozenset(granted), gpc=gpc, ip_prefix=rng.choice(_DEMO_NETWORKS),
                texts_hash="demo", **traits,
            )
            pending.append(store.append(record))
            written += 1
            if len(granted) > 1 and written < rows and rng.random() < 0.05:
                later = at + timedelta(seconds=rng.uniform(0, min(ago - 1, 14 * 86400)))  # within two weeks
                pending.append(store.append(ConsentRecord(
                    consent_id=record.consent_id, at=later, action=WITHDRAW, categories=frozenset({NECESSARY}),
                    gpc=gpc, ip_prefix=record.ip_prefix, texts_hash="demo", **traits)))
                written += 1
        if len(pending) >= _BATCH:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    return written, shown


def run_seed(args: argparse.Namespace, settings: Any) -> int:
    current = getattr(settings, "policy_version", DEMO_POLICIES[1])
    result = _with_store("seed-demo-data", settings,
                         lambda store: seed_demo(store, args.days, args.rows, args.seed, policy=current))
    if result is None:
        return 1
    rows, shown = result
    print(f"Seeded {rows} synthetic consent-log rows (consent ids start with '{DEMO_PREFIX}') and {shown} banner "
          f"impressions over the last {args.days} days.")
    return 0

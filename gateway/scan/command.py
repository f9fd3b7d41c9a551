"""`consent-gateway scan URL`: run the scan, write the reports, print the summary; exit 1 on a leak.

Exit codes: 0 no leak, 1 at least one leak, 2 the scan could not run (bad URL, no Chromium or Playwright,
start page unreachable), each as one line on stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from .crawler import CHROMIUM, ScanError, ScanOptions
from .report import LANGUAGES, summary_lines, write_html, write_json
from .scanner import scan_site
from .stored import store_scan
from .suggest import suggest_toml

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def duration(text: str) -> float:
    m = _DURATION.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a duration like 90s, 10m or 1h")
    return float(m.group(1)) * _UNITS[m.group(2)]


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="start page, e.g. https://wgp.kz/ (or the gateway in front of it)")
    parser.add_argument("--pages", type=positive, default=50, help="most pages to visit (default 50)")
    parser.add_argument("--depth", type=int, default=3, help="most links away from the start page (default 3)")
    parser.add_argument("--time-limit", dest="time_limit", type=duration, default=600.0, metavar="DURATION",
                        help="stop starting new pages after this long, e.g. 10m (default 10m)")
    parser.add_argument("--json", dest="json_path", type=Path, metavar="FILE", help="write the report as JSON")
    parser.add_argument("--html", dest="html_path", type=Path, metavar="FILE",
                        help="write the report as one self-contained HTML page")
    parser.add_argument("--suggest", dest="suggest_path", type=Path, metavar="FILE",
                        help="write vendors.toml entries for unknown hosts and cookies, to review")
    parser.add_argument("--store", action="store_true",
                        help="save the scan's date and cookies in the data folder, for the cookie declaration")
    parser.add_argument("--lang", choices=LANGUAGES, metavar="LANG",
                        help="the HTML report's first language: ru, kk or en (default: the site's default language)")
    parser.add_argument("--offline", action="store_true",
                        help="answer every request to another host with an empty stub instead of sending it")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"Chromium executable (default {CHROMIUM})")
    parser.add_argument("--settle", type=int, default=1000, metavar="MS",
                        help="wait after clicking a banner button before looking (default 1000 ms)")


class _ProgressBar:
    """pages done / known, requests seen, elapsed: redrawn in place on a terminal, one line per page otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()

    def __call__(self, done: int, known: int, requests: int, elapsed: float) -> None:
        width = 24
        filled = int(width * done / max(known, 1))
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {done}/{known} pages, {requests} requests, "
                f"{int(elapsed) // 60:02d}:{int(elapsed) % 60:02d}")
        self.out.write(("\r" + line) if self.tty else line + "\n")
        self.out.flush()

    def end(self) -> None:
        if self.tty:
            self.out.write("\n")


def run_scan(args: argparse.Namespace, settings: Any) -> int:
    options = ScanOptions(pages=args.pages, depth=max(args.depth, 0), time_limit=args.time_limit,
                          offline=args.offline, chromium=args.chromium, settle_ms=max(args.settle, 0))
    bar = _ProgressBar(sys.stderr)
    try:
        report = scan_site(args.url, settings, options, progress=bar)
    except ScanError as exc:
        bar.end()
        print(f"consent-gateway scan: error: {exc}", file=sys.stderr)
        return 2
    bar.end()
    try:
        if args.json_path:
            write_json(report, args.json_path)
        if args.html_path:
            lang = args.lang or settings.default_language
            write_html(report, args.html_path, lang if lang in LANGUAGES else LANGUAGES[0])
        if args.suggest_path:
            args.suggest_path.write_text(suggest_toml(report), encoding="utf-8")
    except OSError as exc:
        print(f"consent-gateway scan: error: cannot write the report: {exc}", file=sys.stderr)
        return 2
    lines = summary_lines(report)
    if args.store:
        try:
            stored = store_scan(report, settings.data_dir)
        except (OSError, ValueError) as exc:
            print(f"consent-gateway scan: error: cannot store the scan for the declaration: {exc}", file=sys.stderr)
            return 2
        lines.append(f"stored for the cookie declaration: {stored}")
    print("\n".join(lines))
    return 1 if report["leaks"] else 0

"""consent-gateway serve | demo | keygen | scan | report | purge | verify-log | seed-demo-data | migrate-db.

Thin: parse flags, build one Settings, hand it to the app factory or a command. Errors are one line on
stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .settings import Settings, SettingsError, load_settings

DEV_KEY_FILE = "dev-secret.key"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="consent-gateway",
                                     description="Self-hosted cookie and tracking-pixel consent gateway.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML settings file (default: the shipped config/gateway.toml)")
    common.add_argument("--data-dir", dest="data_dir", help="folder for the SQLite consent log")
    common.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override any setting, e.g. --set cookie_domain=.wgp.kz (repeatable)")
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--host")
    server.add_argument("--port", type=int)
    server.add_argument("--upstream", help="origin to proxy, e.g. http://127.0.0.1:8080")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", parents=[common, server], help="run the gateway (needs GATEWAY_SECRET_KEYS)")
    serve.set_defaults(handler=_serve)
    serve.add_argument("--workers", type=int, default=1,
                       help="processes serving in parallel (one core each); they share the consent log")
    demo = sub.add_parser("demo", parents=[common, server], help="run a demo site with the banner on http://127.0.0.1:8000")
    demo.set_defaults(handler=_demo)
    keygen = sub.add_parser("keygen", help="print a new signing key for GATEWAY_SECRET_KEYS")
    keygen.set_defaults(handler=_keygen, needs_settings=False)
    snippet = sub.add_parser("snippet", parents=[common],
                             help="print the <script> tag to embed the banner, with its integrity hash")
    snippet.add_argument("--base", default="", help="the gateway's public origin, e.g. https://consent.wgp.kz")
    snippet.set_defaults(handler=_snippet)
    migrate = sub.add_parser("migrate-db", help="copy the consent log, rollups and chain into another database "
                             "(SQLite to PostgreSQL, or back), verify it; safe to re-run")
    migrate.add_argument("--from", dest="source", required=True, metavar="URL", help="sqlite:///path or postgresql://...")
    migrate.add_argument("--to", dest="target", required=True, metavar="URL", help="sqlite:///path or postgresql://...")
    migrate.add_argument("--batch", type=int, default=10_000, help="rows per copied batch (default 10000)")
    migrate.set_defaults(handler=_migrate_db, needs_settings=False)
    scan = sub.add_parser("scan", parents=[common],
                          help="crawl a site in headless Chromium: what loads before and after consent")
    scan.set_defaults(handler=_scan)
    from .scan.command import add_arguments

    add_arguments(scan)
    try:
        from .report import add_commands
    except ImportError:  # pragma: no cover - metrics commands not installed
        pass
    else:
        before = set(sub.choices)
        add_commands(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].add_argument("--config", type=Path, help="TOML settings file")
            sub.choices[name].add_argument("--data-dir", dest="data_dir", help="folder for the SQLite consent log")
            sub.choices[name].set_defaults(set=[])
    return parser


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    flags: dict[str, Any] = {k: getattr(args, k, None) for k in ("host", "port", "upstream", "data_dir")}
    for item in getattr(args, "set", []) or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise SettingsError(f"--set {item}: expected NAME=VALUE")
        flags[name.strip()] = value
    return flags


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.secret_keys:
        raise SettingsError("no signing key: set GATEWAY_SECRET_KEYS (or GATEWAY_SECRET_KEYS_FILE); "
                            "make one with `consent-gateway keygen`")
    return _run(settings, getattr(args, "workers", 1))


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses

    keys = settings.secret_keys
    if not keys:
        path = settings.data_dir / DEV_KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
            path.chmod(0o600)
            print(f"demo: created a development signing key in {path} (never use it in production)", file=sys.stderr)
        keys = (path.read_text(encoding="utf-8").strip(),)
    local = tuple(f"http://{h}:{settings.port}" for h in ("127.0.0.1", "localhost"))
    token = settings.admin_token or secrets.token_urlsafe(16)
    settings = dataclasses.replace(settings, secret_keys=keys, demo=True, origins=settings.origins + local,
                                   admin_token=token)
    if not os.environ.get("GATEWAY_ADMIN_TOKEN") and not os.environ.get("GATEWAY_ADMIN_TOKEN_FILE"):
        print(f"demo: dashboard at http://{settings.host}:{settings.port}{settings.prefix}/admin/ "
              f"(any user name, password {token}; made for this run only)", file=sys.stderr)
    where = settings.upstream or "the built-in demo site"
    print(f"demo: open http://{settings.host}:{settings.port}/ ({where}); consent log in {settings.database_url}",
          file=sys.stderr)
    return _run(settings, 1)


def _run(settings: Settings, workers: int) -> int:
    from .server import run_app, run_workers

    if workers < 1:
        raise SettingsError(f"--workers {workers}: must be at least 1")
    if workers > 1:
        run_workers(settings, workers)
    else:
        from .app import create_app

        run_app(create_app(settings), settings)
    return 0


def _snippet(args: argparse.Namespace, settings: Settings) -> int:
    from .assets import StaticAsset

    base = args.base.rstrip("/")
    if base and not base.startswith(("https://", "http://")):
        raise SettingsError(f"--base {args.base}: expected an origin like https://consent.wgp.kz")
    asset = StaticAsset(settings.static_dir / "banner" / "banner.js", "text/javascript")
    print(f'<script src="{base}{settings.prefix}/banner.js?v={asset.version}" integrity="{asset.integrity}" '
          f'crossorigin="anonymous" defer></script>')
    return 0


def _scan(args: argparse.Namespace, settings: Settings) -> int:
    from .scan.command import run_scan

    return run_scan(args, settings)


def _migrate_db(args: argparse.Namespace, settings: Settings | None) -> int:
    """Progress on stderr, the final line on stdout; 2 for a bad URL or an unreachable database, 1 when the data
    refuse the copy (a source that does not verify, a target holding something else)."""
    import asyncio

    from .store.migrate import MigrateError, migrate_db

    def progress(line: str) -> None:
        print(f"migrate-db: {line}", file=sys.stderr, flush=True)

    try:
        outcome = asyncio.run(migrate_db(args.source, args.target, args.batch, progress))
    except MigrateError as exc:
        print(f"consent-gateway: error: migrate-db: {exc}", file=sys.stderr)
        return 2 if exc.usage else 1
    counts = ", ".join(f"{name} {n}" for name, n in outcome.counts.items())
    verified = f"chain verified ({outcome.report.rows} rows, head {outcome.report.head})"
    if outcome.already:
        print(f"migrate-db: nothing copied, the target already held this copy; rows: {counts}; {verified}")
    else:
        print(f"migrate-db: copied {sum(outcome.copied.values())} rows; rows now on both sides: {counts}; {verified}")
    return 0


def _keygen(args: argparse.Namespace, settings: Settings | None) -> int:
    print(secrets.token_urlsafe(32))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = None
        if getattr(args, "needs_settings", True):
            settings = load_settings(config=args.config, flags=_flags(args))
        return int(args.handler(args, settings) or 0)
    except SettingsError as exc:
        print(f"consent-gateway: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The gateway's own cost per request, without sockets: the full ``create_app`` stack of a proxy deployment with
its default settings (access log off here: it writes from a thread) in one process, the reverse proxy's upstream
call replaced by a canned answer of the same bytes, against that canned answer served bare, in the same run.

What wrk through real sockets cannot show on a shared 2-core machine (runs of the same code differ by 20 %), this
shows to a microsecond: how much of a request's time is the consent layers' at all. CPU time per request, best
of rounds, for the undecided visitor's 11 KB page, the decided visitor's (analytics granted), and a 30 KB asset.
Run: ``.venv/bin/python bench/bench_stack.py [--requests 3000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_proxy import ASSET, KEY, consent_cookie, page  # noqa: E402
from gateway.app import create_app  # noqa: E402
from gateway.settings import Settings  # noqa: E402

UA = (b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
      b"Safari/537.36")
HTML = page()


async def canned(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """What the upstream answers, as the reverse proxy would hand it on."""
    asset = scope["path"] == "/app.js"
    body, ctype = (ASSET, b"application/javascript") if asset else (HTML, b"text/html; charset=utf-8")
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def request(app: Any, path: str, cookie: str) -> int:
    headers = [(b"host", b"127.0.0.1:8000"), (b"user-agent", UA), (b"accept", b"*/*")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return int(sent[0]["status"])


async def per_request(app: Any, path: str, cookie: str, n: int) -> float:
    for _ in range(200):
        await request(app, path, cookie)
    started = time.process_time()
    for _ in range(n):
        await request(app, path, cookie)
    return (time.process_time() - started) / n * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    settings = Settings(upstream="http://127.0.0.1:9", access_log=False, secret_keys=(KEY,),
                        admin_token="bench-" + "t" * 20, cookie_secure=False,
                        data_dir=Path(tempfile.mkdtemp(prefix="bench-stack-")))
    app = create_app(settings)
    app.site = canned  # the proxy's place in the one-pass pipeline; every layer above it is the real one
    await app.startup()
    kinds = {"page, undecided": ("/page.html", ""), "page, decided": ("/page.html", consent_cookie()),
             "asset": ("/app.js", "")}
    best = {k: {"bare": float("inf"), "stack": float("inf")} for k in kinds}
    try:
        assert all([await request(app, p, c) == 200 for p, c in kinds.values()])
        for _ in range(args.rounds):
            for kind, (path, cookie) in kinds.items():
                best[kind]["bare"] = min(best[kind]["bare"], await per_request(canned, path, cookie, args.requests))
                best[kind]["stack"] = min(best[kind]["stack"], await per_request(app, path, cookie, args.requests))
    finally:
        await app.shutdown()
    print(f"CPU per request, best of {args.rounds} rounds of {args.requests}")
    print(f"{'request':18} {'bare answer':>12} {'full stack':>12} {'stack adds':>12}")
    for kind, b in best.items():
        print(f"{kind:18} {b['bare']:10.1f} µs {b['stack']:10.1f} µs {b['stack'] - b['bare']:10.1f} µs")


if __name__ == "__main__":
    asyncio.run(main())

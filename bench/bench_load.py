"""A bounded load run over loopback: pages, assets and consent writes mixed, against `consent-gateway serve`.

The gateway runs with its default settings (the shipped wgp.kz config, SQLite in a temporary folder) in front of
a small aiohttp upstream serving the realistic page; the load comes from a separate process (32 connections,
aiohttp) for ``--seconds`` (default 60), then stops by itself. Every request goes to 127.0.0.1 only. The visitors
arrive through a trusted front proxy (X-Forwarded-For, as behind nginx), each from its own address, so the
per-network rate limits see many visitors rather than one flooding client.

Printed: requests and errors per kind, p50/p99 latency through the gateway, the same pages fetched straight from
the upstream in the same run (the baseline: the ratio is the gateway's cost), and the gateway's resident memory
at the start of the measured run (after a 15 s warm-up that fills the bounded caches) and at its end (the growth
must stay under 10 %).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "tests" / "fixtures" / "realistic.html").read_bytes()
KEY = "bench-load-key-" + "k" * 40
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
      "Safari/537.36")
MIX = (("page", 70), ("asset", 20), ("write", 10))  # percent of requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def upstream_main(port: int) -> None:
    from aiohttp import web

    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/about", page)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_ready(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {seconds} s")


async def load(base: str, seconds: float, connections: int, kinds: bool) -> dict[str, object]:
    """Requests for ``seconds`` from ``connections`` workers; latencies per kind and the error count."""
    import aiohttp

    latencies: dict[str, list[float]] = {k: [] for k, _ in MIX}
    errors = 0
    failures: dict[str, int] = {}
    population = [k for k, share in MIX for _ in range(share)] if kinds else ["page"]
    deadline = time.monotonic() + seconds
    rng = random.Random(7)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        cookie = ""
        while time.monotonic() < deadline:
            kind = rng.choice(population)
            visitor = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            headers = {"User-Agent": UA, "Accept-Encoding": "gzip, br", "X-Forwarded-For": visitor}
            if cookie and rng.random() < 0.5:
                headers["Cookie"] = cookie
            start = time.perf_counter()
            try:
                if kind == "write":
                    body = {"action": rng.choice(("accept_all", "reject_all"))}
                    async with session.put(f"{base}/_consent/state", data=json.dumps(body),
                                           headers={**headers, "Content-Type": "application/json",
                                                    "Origin": "https://wgp.kz", "Host": "wgp.kz"}) as r:
                        await r.read()
                        ok, status = r.status == 200, r.status
                        if ok:
                            cookie = "; ".join(f"{c.key}={c.value}" for c in r.cookies.values())
                else:
                    path = "/_consent/banner.js" if kind == "asset" else rng.choice(("/", "/about"))
                    async with session.get(f"{base}{path}", headers={**headers, "Host": "wgp.kz"}) as r:
                        await r.read()
                        ok, status = r.status == 200, r.status
            except (TimeoutError, aiohttp.ClientError) as exc:
                ok, status = False, type(exc).__name__
            if ok:
                latencies[kind].append(time.perf_counter() - start)
            else:
                errors += 1
                failures[f"{kind} {status}"] = failures.get(f"{kind} {status}", 0) + 1

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections), timeout=timeout,
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    return {**latencies, "errors": errors, "failures": failures}  # type: ignore[dict-item]


def load_main(base: str, seconds: float, connections: int, kinds: bool, out: str) -> None:
    Path(out).write_text(json.dumps(asyncio.run(load(base, seconds, connections, kinds))))


def run_load(base: str, seconds: float, connections: int, kinds: bool) -> dict[str, object]:
    """The load generator in a process of its own, so its CPU is not the gateway's."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([sys.executable, __file__, "--generate", base, str(seconds), str(connections),
                        "1" if kinds else "0", f.name], check=True, timeout=seconds + 120)
        return json.loads(Path(f.name).read_text())  # type: ignore[no-any-return]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) >= 2 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    up_port, gw_port = free_port(), free_port()
    upstream = subprocess.Popen([sys.executable, __file__, "--upstream", str(up_port)])
    data = tempfile.mkdtemp(prefix="bench-load-")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}, "GATEWAY_SECRET_KEYS": KEY}
    gateway = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--upstream", f"http://127.0.0.1:{up_port}", "--port",
         str(gw_port), "--data-dir", data, "--set", "access_log=false"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{up_port}/")
        wait_ready(f"http://127.0.0.1:{gw_port}/_consent/healthz")
        base, direct = f"http://127.0.0.1:{gw_port}", f"http://127.0.0.1:{up_port}"
        # Warm-up until the bounded caches (verified cookies, decisions, rewritten pages) and SQLite's page cache
        # are full: growth after that is what a long run would keep adding.
        run_load(base, 15, args.connections, kinds=True)
        rss_start = rss_kb(gateway.pid)
        measured = run_load(base, args.seconds, args.connections, kinds=True)
        rss_end = rss_kb(gateway.pid)
        baseline = run_load(direct, min(args.seconds, 15), args.connections, kinds=False)
    finally:
        for proc in (gateway, upstream):
            proc.terminate()
            proc.wait(10)

    print(f"load: {args.connections} connections for {args.seconds:.0f} s; mix {dict(MIX)} (%); "
          f"visitors through a trusted front proxy")
    print(f"{'kind':<8} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, _ in MIX:
        values = measured[kind]
        assert isinstance(values, list)
        print(f"{kind:<8} {len(values):>9} {len(values) / args.seconds:>8.0f} {pct(values, 50):>8.2f} "
              f"{pct(values, 99):>8.2f}")
    direct_pages = baseline["page"]
    assert isinstance(direct_pages, list)
    pages = measured["page"]
    assert isinstance(pages, list)
    print(f"{'direct':<8} {len(direct_pages):>9} {len(direct_pages) / min(args.seconds, 15):>8.0f} "
          f"{pct(direct_pages, 50):>8.2f} {pct(direct_pages, 99):>8.2f}   (pages straight from the upstream)")
    print(f"page latency through the gateway / direct: p50 {pct(pages, 50) / pct(direct_pages, 50):.2f}, "
          f"p99 {pct(pages, 99) / pct(direct_pages, 99):.2f}")
    growth = (rss_end - rss_start) / rss_start * 100 if rss_start else float("nan")
    failures = measured.get("failures") or ""
    print(f"errors: {measured['errors']} {failures}; gateway resident memory {rss_start / 1024:.1f} MB at the start, "
          f"{rss_end / 1024:.1f} MB at the end ({growth:+.1f} %, goal under 10 %)")
    if measured["errors"] or growth >= 10:
        raise SystemExit(1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--upstream":
        upstream_main(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--generate":
        load_main(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6])
    else:
        main()

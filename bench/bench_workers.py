"""Scaling by cores: `consent-gateway serve --workers 2` against `--workers 1`, measured in the same run.

Two gateways run side by side exactly as `serve` runs them (default settings, the shipped wgp.kz config, the
consent log in SQLite in a temporary folder, or in a throw-away PostgreSQL schema with ``--database postgres``),
in front of one small aiohttp upstream serving the realistic 11 KB page (tests/fixtures/realistic.html). Load
comes from ``wrk`` (``apt-get install wrk``; else an aiohttp client loop in its own process) with ``--connections``
connections over loopback, in interleaved rounds (1 worker, 2 workers, 1 worker, ...) so that a slow spell on the
machine hits both; the median round is printed with requests/s, p50/p99 and the ratio 2 workers / 1 worker.

Kinds: ``page`` = a page through the proxy for a visitor who has not decided (banner injected, per-visitor CSP);
``write`` = a consent decision (``PUT /_consent/state``, durable: answered after the batch holding it committed),
each from its own address behind a trusted front proxy (X-Forwarded-For from 127.0.0.1, as behind nginx), so the
per-network rate limit sees many visitors rather than one flooding client.

Mind the machine: the gateway's workers, the upstream and the load generator share its cores (``os.cpu_count()``
is printed). On a 2-core machine the second worker gets what wrk and the upstream leave, so the ratio is a floor
of what a dedicated machine gives, not a measure of it.

    .venv/bin/python bench/bench_workers.py                         # 3 rounds of 10 s per kind and worker count
    .venv/bin/python bench/bench_workers.py --seconds 5 --rounds 1  # quicker
    GATEWAY_TEST_POSTGRES_URL=postgresql://... .venv/bin/python bench/bench_workers.py --database postgres
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_load import UA, free_port, wait_ready  # noqa: E402

KEY = "bench-workers-key-" + "k" * 40
KINDS = ("page", "write")
# wrk's request hook for consent writes: a fresh visitor address per request, accept and reject alternating.
WRITE_LUA = """
local n = 0
local bodies = {'{"action":"accept_all"}', '{"action":"reject_all"}'}
request = function()
  n = n + 1
  wrk.headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255),
                                                  math.random(1, 254))
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Origin"] = "https://wgp.kz"
  return wrk.format("PUT", "/_consent/state", nil, bodies[n % 2 + 1])
end
"""


@dataclass(frozen=True)
class Run:
    rate: float  # requests/s
    p50: float  # ms
    p99: float  # ms
    errors: int


# -- load generators ----------------------------------------------------------------------------------------------


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk_run(url: str, kind: str, seconds: float, connections: int, lua: Path) -> Run:
    headers = ["-H", "Host: wgp.kz", "-H", f"User-Agent: {UA}", "-H", "Accept-Encoding: gzip, br"]
    extra = ["-s", str(lua)] if kind == "write" else []
    target = f"{url}/_consent/state" if kind == "write" else f"{url}/"
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s",
               *headers, *extra, target]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if rate is None or p50 is None or p99 is None:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(g) for g in sock.groups()) if sock else 0)
    return Run(float(rate.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), errors)


async def client_loop(url: str, kind: str, seconds: float, connections: int) -> dict[str, object]:
    """The fallback generator: ``connections`` aiohttp workers for ``seconds``."""
    import random

    import aiohttp

    latencies: list[float] = []
    errors = 0
    rng = random.Random(7)
    deadline = time.monotonic() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        n = 0
        while time.monotonic() < deadline:
            n += 1
            headers = {"Host": "wgp.kz", "User-Agent": UA, "Accept-Encoding": "gzip, br"}
            started = time.perf_counter()
            try:
                if kind == "write":
                    visitor = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                    headers |= {"X-Forwarded-For": visitor, "Content-Type": "application/json",
                                "Origin": "https://wgp.kz"}
                    body = json.dumps({"action": ("accept_all", "reject_all")[n % 2]})
                    async with session.put(f"{url}/_consent/state", data=body, headers=headers) as r:
                        await r.read()
                        ok = r.status == 200
                else:
                    async with session.get(f"{url}/", headers=headers) as r:
                        await r.read()
                        ok = r.status == 200
            except (TimeoutError, aiohttp.ClientError):
                ok = False
            if ok:
                latencies.append(time.perf_counter() - started)
            else:
                errors += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections),
                                     cookie_jar=aiohttp.DummyCookieJar(),
                                     timeout=aiohttp.ClientTimeout(total=10)) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    return {"latencies": latencies, "errors": errors}


def loop_run(url: str, kind: str, seconds: float, connections: int) -> Run:
    """The client loop in a process of its own, so its CPU is not the gateway's."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([sys.executable, __file__, "--generate", url, kind, str(seconds), str(connections), f.name],
                       check=True, timeout=seconds + 60)
        found = json.loads(Path(f.name).read_text())
    lat = sorted(found["latencies"])
    if len(lat) < 2:
        raise SystemExit(f"no answers from {url} ({found['errors']} errors)")
    q = statistics.quantiles(lat, n=100)
    return Run(len(lat) / seconds, q[49] * 1000, q[98] * 1000, int(found["errors"]))


# -- the servers ----------------------------------------------------------------------------------------------------


@contextmanager
def postgres_schemas(url: str, n: int) -> Iterator[list[str | None]]:
    """``n`` throw-away schemas in the database at ``url``, dropped at the end; yields a URL selecting each."""
    import asyncpg

    names = [f"bench_{uuid.uuid4().hex[:12]}" for _ in range(n)]

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(url)
        try:
            for name in names:
                await conn.execute(sql.format(name=name))
        finally:
            await conn.close()

    asyncio.run(run("CREATE SCHEMA {name}"))
    try:
        yield [f"{url}{'&' if '?' in url else '?'}search_path={name}" for name in names]
    finally:
        asyncio.run(run("DROP SCHEMA IF EXISTS {name} CASCADE"))


@contextmanager
def gateways(upstream: str, databases: list[str | None], workers: list[int], tmp: Path) -> Iterator[list[str]]:
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for database, n in zip(databases, workers):
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")} | {"GATEWAY_SECRET_KEYS": KEY}
            if database:
                env["GATEWAY_DATABASE"] = database
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--workers", str(n), "--upstream", upstream,
                 "--port", str(port), "--data-dir", str(tmp / f"workers-{n}")],
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_ready(f"{url}/_consent/healthz")
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10, help="length of one measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is printed")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite",
                        help="where the consent log goes (postgres: GATEWAY_TEST_POSTGRES_URL or --postgres-url)")
    parser.add_argument("--postgres-url", default=os.environ.get("GATEWAY_TEST_POSTGRES_URL", ""))
    parser.add_argument("--loop", action="store_true", help="use the aiohttp client loop even when wrk is installed")
    args = parser.parse_args()
    if args.database == "postgres" and not args.postgres_url:
        raise SystemExit("--database postgres needs GATEWAY_TEST_POSTGRES_URL or --postgres-url")
    use_wrk = shutil.which("wrk") is not None and not args.loop

    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, str(ROOT / "bench" / "bench_load.py"), "--upstream", str(up_port)])
    lua = tmp / "write.lua"
    lua.write_text(WRITE_LUA)
    results: dict[tuple[str, int], list[Run]] = {(k, w): [] for k in KINDS for w in (1, 2)}
    try:
        wait_ready(f"http://127.0.0.1:{up_port}/")
        with (postgres_schemas(args.postgres_url, 2) if args.database == "postgres" else _none(2)) as databases, \
                gateways(f"http://127.0.0.1:{up_port}", databases, [1, 2], tmp) as urls:
            by_workers = dict(zip((1, 2), urls))

            def measure(kind: str, workers: int, seconds: float) -> Run:
                url = by_workers[workers]
                if use_wrk:
                    return wrk_run(url, kind, seconds, args.connections, lua)
                return loop_run(url, kind, seconds, args.connections)

            for kind in KINDS:  # warm-up: caches, connections, the page cache of the log
                for workers in (1, 2):
                    measure(kind, workers, 3)
            for _ in range(args.rounds):
                for kind in KINDS:
                    for workers in (1, 2):
                        results[(kind, workers)].append(measure(kind, workers, args.seconds))
    finally:
        upstream.terminate()
        upstream.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)

    tool = "wrk -t1" if use_wrk else "aiohttp client loop"
    print(f"serve --workers 2 against --workers 1: {tool}, {args.connections} connections, {args.rounds} rounds of "
          f"{args.seconds:.0f} s per kind, consent log in {args.database}")
    print(f"machine: {os.cpu_count()} cores, shared by the gateway's workers, the upstream and the load generator "
          "(the ratio is a floor of what dedicated cores give); load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (above the core count: other work competes)")
    print(f"{'kind':<6} {'workers':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    median: dict[tuple[str, int], Run] = {}
    for kind in KINDS:
        for workers in (1, 2):
            runs = sorted(results[(kind, workers)], key=lambda r: r.rate)
            run = median[(kind, workers)] = runs[len(runs) // 2]
            errors = sum(r.errors for r in runs)
            print(f"{kind:<6} {workers:>7} {run.rate:>9,.0f} {run.p50:>8.2f} {run.p99:>8.2f} {errors:>7}")
        one, two = median[(kind, 1)], median[(kind, 2)]
        print(f"{kind:<6} {'2 / 1':>7} {two.rate / one.rate:>9.2f}x {two.p50 / one.p50:>7.2f}x "
              f"{two.p99 / one.p99:>7.2f}x")
    if any(r.errors for runs in results.values() for r in runs):
        raise SystemExit(1)


@contextmanager
def _none(n: int) -> Iterator[list[str | None]]:
    yield [None] * n


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        _, _, url, kind, seconds, connections, out = sys.argv
        Path(out).write_text(json.dumps(asyncio.run(client_loop(url, kind, float(seconds), int(connections)))))
    else:
        main()

"""ConsentMiddleware overhead: the same Starlette app bare and wrapped, served by uvicorn, loaded by wrk.

Measured in the same run, interleaved rounds (the best kept): a 30 KB non-HTML asset (goal: at least
0.90 of the bare app's throughput) and an 11 KB HTML page with trackers, rewritten per visitor. Visitors send
a valid consent cookie (analytics granted), so the signed-cookie check is on the hot path.
Run: ``.venv/bin/python bench/bench_middleware.py [--seconds 5]``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
KEY = "bench-key-" + "b" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(port: int, wrapped: bool, data_dir: str) -> None:
    """Child process: the bench app, bare or behind ConsentMiddleware."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from bench.bench_proxy import ASSET, page

    html = page()

    async def asset(request: object) -> Response:
        return Response(ASSET, media_type="text/javascript")

    async def html_page(request: object) -> Response:
        return Response(html, media_type="text/html; charset=utf-8")

    app = Starlette(routes=[Route("/app.js", asset), Route("/page.html", html_page)])
    if wrapped:
        from gateway import ConsentMiddleware
        from gateway.settings import load_settings

        settings = load_settings(env={}, secret_keys=(KEY,), data_dir=Path(data_dir))
        app.add_middleware(ConsentMiddleware, settings=settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def consent_cookie() -> str:
    from gateway.consent import ConsentState, new_consent_id
    from gateway.signing import CookieSigner

    state = ConsentState(consent_id=new_consent_id(), decided=True, action="custom",
                         granted=frozenset({"necessary", "analytics"}), policy_version="2023-01-12")
    return CookieSigner((KEY,), 180 * 86400).dumps(state)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a server process: steadier than req/s on a shared, noisy machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, cookie: str, pid: int | None = None) -> tuple[float, float]:
    """(requests per second, server CPU microseconds per request)."""
    before = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", "-H", f"Cookie: wgp_consent={cookie}",
                          "-H", "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36", url],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    assert match and total, out
    cpu = (cpu_seconds(pid) - before) / int(total.group(1)) * 1e6 if pid else 0.0
    return float(match.group(1)), cpu


def wait(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best run is kept")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not give the servers under test a core of their own")
    args = parser.parse_args()
    from bench.bench_proxy import pin, reserve_core

    core = reserve_core(args.pin)  # the servers under test there, wrk on the others
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    cookie = consent_cookie()
    procs = []
    ports = {"bare": free_port(), "middleware": free_port()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, port in ports.items():
            procs.append(subprocess.Popen([sys.executable, __file__, "--serve", str(port), name, tmp], cwd=ROOT))
        try:
            for port in ports.values():
                wait(f"http://127.0.0.1:{port}/app.js")
            if core is not None:
                for p in procs:
                    pin(p, core)
            results: dict[tuple[str, str], float] = {}
            cpu: dict[tuple[str, str], float] = {}
            pids = dict(zip(ports, (p.pid for p in procs)))
            for _round in range(args.rounds):
                for path in ("/app.js", "/page.html"):
                    for name, port in ports.items():
                        url = f"http://127.0.0.1:{port}{path}"
                        wrk(url, 1, cookie)  # warm-up
                        rps, us = wrk(url, args.seconds, cookie, pids[name])
                        results[(name, path)] = max(results.get((name, path), 0.0), rps)
                        cpu[(name, path)] = min(cpu.get((name, path), float("inf")), us)
        finally:
            for p in procs:
                p.terminate()
                p.wait()
    print(f"load: wrk, 32 connections, {args.seconds}s per run after 1s warm-up, best of {args.rounds} rounds; "
          + (f"servers pinned to core {core}, wrk on the others" if core is not None else "no pinning"))
    print(f"{'response':<26}{'bare req/s':>11}{'middleware':>11}{'ratio':>7}"
          f"{'bare CPU us/req':>17}{'mw CPU us/req':>15}{'CPU ratio':>11}")
    for path, label in (("/app.js", "30 KB asset (non-HTML)"), ("/page.html", "11 KB HTML, rewritten")):
        bare, mw = results[("bare", path)], results[("middleware", path)]
        cb, cm = cpu[("bare", path)], cpu[("middleware", path)]
        print(f"{label:<26}{bare:>11.0f}{mw:>11.0f}{mw / bare:>7.2f}{cb:>17.0f}{cm:>15.0f}{cb / cm:>11.2f}")
    print("ratio = middleware / bare throughput; CPU ratio = bare / middleware CPU per request (1.0 = free)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3] == "middleware", sys.argv[4])
    else:
        main()

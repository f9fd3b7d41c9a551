"""Proxy throughput: upstream direct, the plainest aiohttp pass-through (the peer), our ReverseProxy alone,
the full gateway stack (access log -> forwarded headers -> compression -> consent -> proxy) with its default
settings (the access log on, as a user gets it) and with the access log off, and nginx ``proxy_pass`` when
installed.

Every server is its own process on 127.0.0.1; ours run exactly as ``consent-gateway serve`` runs them. The
default stack's access log goes to its stdout, redirected to a file as a service manager would, and the lines
it holds are counted at the end (every request served must be there). Load comes from ``wrk`` (or an aiohttp
client loop when wrk is missing) with 32 connections for a fixed time after a warm-up. The proxies under test
share one core, the upstream and the load generator the others, so a proxy's throughput is its own CPU cost
rather than a fight for cores. Targets are measured in interleaved rounds and the best run kept; the serving
process's CPU time per request is printed too.
Run: ``.venv/bin/python bench/bench_proxy.py [--seconds 5] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRACKERS = """<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123"></script>
<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}gtag('js',new Date());
gtag('config','G-ABC123');</script>
<script>!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments)
:n.queue.push(arguments)};t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)[0];
s.parentNode.insertBefore(t,s)}(window,document,'script','https://connect.facebook.net/en_US/fbevents.js');
fbq('init','1234567890');fbq('track','PageView');</script>
<noscript><img height="1" width="1" style="display:none" src="https://www.facebook.com/tr?id=1234567890&ev=PageView&noscript=1"/></noscript>
<script>(function(m,e,t,r,i,k,a){m[i]=m[i]||function(){(m[i].a=m[i].a||[]).push(arguments)};m[i].l=1*new Date();
k=e.createElement(t),a=e.getElementsByTagName(t)[0],k.async=1,k.src=r,a.parentNode.insertBefore(k,a)})
(window,document,"script","https://mc.yandex.ru/metrika/tag.js","ym");ym(12345678,"init",{webvisor:true});</script>
"""


def page() -> bytes:
    body = "".join(f"<section><h2>Проект {i}</h2><p>WGP — инженерные услуги в Атырау: проектирование, "
                   f"экспертиза, сопровождение строительства. <a href=/projects/{i}>Подробнее</a></p></section>\n"
                   for i in range(36))
    html = (f"<!doctype html><html lang=ru><head><meta charset=utf-8><title>WGP</title>{TRACKERS}"
            f"<script src=https://code.jquery.com/jquery-3.7.1.min.js></script><script src=/app.js></script>"
            f"</head><body>{body}<iframe src=https://www.youtube.com/embed/xyz width=560 height=315></iframe>"
            f"</body></html>")
    data = html.encode()
    return data + b"<!--" + b" " * max(0, 11 * 1024 - len(data) - 7) + b"-->"


ASSET = b"".join(b"function f%05d(a){return a*%d+1;}\n" % (i, i) for i in range(1000))[:30 * 1024]
KEY = "bench-" + "k" * 40
# Every request comes from a browser: without a User-Agent the gateway treats a client as a bot (no banner,
# everything blocked), which is a cheaper page than a person gets.
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
# kind -> (path, with the consent cookie of a visitor who granted analytics only); without it the visitor has
# not decided yet and gets a refusal's CSP (728 bytes; analytics only: 2.5 KB, and a cookie to verify).
KINDS = {"html": ("/page.html", False), "html, decided": ("/page.html", True), "asset": ("/app.js", False)}
DEFAULT = "ours: stack, defaults"  # the access log on, as `serve` runs without settings
NO_LOG = "ours: stack, no log"


def consent_cookie() -> str:
    from gateway.consent import ConsentState, new_consent_id
    from gateway.signing import CookieSigner

    state = ConsentState(consent_id=new_consent_id(), decided=True, action="custom",
                         granted=frozenset({"necessary", "analytics"}), policy_version="2023-01-12")
    return "wgp_consent=" + CookieSigner((KEY,), 180 * 86400).dumps(state)


def serve_upstream(port: int) -> None:
    from aiohttp import web

    html = page()

    async def handle_page(request: web.Request) -> web.Response:
        return web.Response(body=html, content_type="text/html", charset="utf-8")

    async def handle_asset(request: web.Request) -> web.Response:
        return web.Response(body=ASSET, content_type="application/javascript")

    app = web.Application()
    app.add_routes([web.get("/page.html", handle_page), web.get("/app.js", handle_asset)])
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=_loop())


def serve_peer(port: int, upstream: str) -> None:
    """The plainest aiohttp pass-through: one shared session, read the answer, send it on."""
    import aiohttp
    from aiohttp import web

    hop = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade", "te", "trailer"}

    async def session_ctx(app: web.Application):
        app["s"] = aiohttp.ClientSession(auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        yield
        await app["s"].close()

    async def forward(request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
        async with request.app["s"].request(request.method, upstream + request.rel_url.raw_path_qs, headers=headers,
                                            data=await request.read() or None, allow_redirects=False) as r:
            body = await r.read()
            out = [(k, v) for k, v in r.headers.items() if k.lower() not in hop]
            return web.Response(body=body, status=r.status, headers=out)

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_route("*", "/{tail:.*}", forward)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=_loop())


def serve_ours(port: int, upstream: str, mode: str) -> None:
    """Served exactly as `consent-gateway serve --upstream` serves: ``_stack`` with the default settings (the
    access log on), ``_stack_nolog`` with ``access_log = false``, ``_ours`` the ReverseProxy alone."""
    from gateway.app import create_app
    from gateway.proxy import ReverseProxy
    from gateway.server import run_app
    from gateway.settings import Settings

    settings = Settings(upstream=upstream, port=port, access_log=mode == "_stack", secret_keys=(KEY,),
                        admin_token="bench-" + "t" * 20, cookie_secure=False,
                        data_dir=Path(tempfile.mkdtemp(prefix="bench-gw-")))
    run_app(create_app(settings) if mode != "_ours" else ReverseProxy(upstream), settings)


def _loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover
        return asyncio.new_event_loop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(*args: str, stdout: Path | None = None) -> subprocess.Popen:
    """This file run in ``mode``; its stdout to ``stdout`` (a file, as a service manager keeps it) or dropped."""
    with open(stdout or os.devnull, "wb") as out:
        return subprocess.Popen([sys.executable, __file__, *args], cwd=ROOT, stdout=out,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})


def wait_ready(url: str, proc: subprocess.Popen | None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def load(url: str, seconds: float, cookie: str = "", connections: int = 32) -> float:
    """Requests per second over ``seconds`` with ``connections`` concurrent keep-alive connections."""
    if shutil.which("wrk"):
        header = ["-H", f"User-Agent: {BROWSER}", *(["-H", f"Cookie: {cookie}"] if cookie else [])]
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", *header, url],
                             capture_output=True, text=True, timeout=seconds + 30).stdout
        found = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if found is None or "Non-2xx" in out or "Socket errors" in out:
            raise RuntimeError(f"bad run against {url}:\n{out}")
        return float(found.group(1))
    out = subprocess.run([sys.executable, __file__, "_load", url, str(seconds), str(connections), cookie],
                         capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    return float(out.strip())


def reserve_core(wanted: bool) -> int | None:
    """The last core, for the servers under test; this process and the load it starts move to the others.
    None when pinning is off or there is a single core."""
    cores = sorted(os.sched_getaffinity(0))
    if not wanted or len(cores) < 2:
        return None
    os.sched_setaffinity(0, set(cores[:-1]))
    return cores[-1]


def pin(proc: subprocess.Popen, core: int) -> None:
    """A server process and its children (nginx serves from a worker it forks) onto ``core``."""
    for pid in family(proc.pid):
        os.sched_setaffinity(pid, {core})


def family(pid: int) -> list[int]:
    """A process and its children (nginx serves from a worker it forks)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(c) for c in children.read_text().split())] if children.exists() else [pid]


def cpu_seconds(proc: subprocess.Popen | None) -> float:
    """CPU time of the serving process and its children: steadier than req/s when other work shares the cores."""
    if proc is None:
        return 0.0
    total = 0
    for pid in family(proc.pid):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def client_loop(url: str, seconds: float, connections: int, cookie: str) -> None:
    import aiohttp

    async def main() -> int:
        done = 0
        stop = time.monotonic() + seconds
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections)) as s:
            async def worker() -> None:
                nonlocal done
                while time.monotonic() < stop:
                    headers = {"User-Agent": BROWSER, **({"Cookie": cookie} if cookie else {})}
                    async with s.get(url, headers=headers) as r:
                        await r.read()
                        done += r.status == 200
            await asyncio.gather(*(worker() for _ in range(connections)))
        return done

    print(_loop().run_until_complete(main()) / seconds)


def nginx(port: int, upstream: str, workdir: Path) -> subprocess.Popen | None:
    if not shutil.which("nginx"):
        return None
    conf = workdir / "nginx.conf"
    conf.write_text(f"""worker_processes 1; error_log {workdir}/error.log; pid {workdir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{ access_log off; upstream up {{ server {upstream.removeprefix('http://')}; keepalive 64; }}
  server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://up; proxy_http_version 1.1;
    proxy_set_header Connection ""; proxy_set_header Host $host; }} }} }}
""")
    return subprocess.Popen(["nginx", "-c", str(conf), "-p", str(workdir), "-g", "daemon off;"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best run is kept")
    parser.add_argument("--warmup", type=float, default=1, help="whole seconds with wrk")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not give the proxies under test a core of their own")
    args = parser.parse_args()
    core = reserve_core(args.pin)  # the proxies under test there; the upstream and the load generator elsewhere
    up_port = free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    procs = [spawn("_upstream", str(up_port))]
    targets = {"upstream direct": upstream}
    owners: dict[str, subprocess.Popen | None] = {"upstream direct": procs[0]}
    try:
        wait_ready(upstream + KINDS["html"][0], procs[0])
        access_log = workdir / "access.log"
        for name, mode in [("aiohttp peer", "_peer"), ("ours: ReverseProxy", "_ours"), (DEFAULT, "_stack"),
                           (NO_LOG, "_stack_nolog")]:
            port = free_port()
            procs.append(spawn(mode, str(port), upstream, stdout=access_log if mode == "_stack" else None))
            targets[name], owners[name] = f"http://127.0.0.1:{port}", procs[-1]
        port = free_port()
        if (proc := nginx(port, upstream, workdir)) is not None:
            procs.append(proc)
            targets["nginx proxy_pass"], owners["nginx proxy_pass"] = f"http://127.0.0.1:{port}", proc
        else:
            print("nginx not installed: nginx proxy_pass skipped")
        for name, url in targets.items():
            wait_ready(url + KINDS["html"][0], owners[name])
        if core is not None:
            for proc in procs[1:]:
                pin(proc, core)
        print(f"load: {'wrk' if shutil.which('wrk') else 'aiohttp client loop'}, 32 connections, "
              f"{args.seconds:g}s per run after {args.warmup:g}s warm-up, best of {args.rounds}; "
              + (f"proxies pinned to core {core}, upstream and load on the others" if core is not None
                 else "no pinning"))
        cookie = consent_cookie()
        results: dict[str, dict[str, float]] = {name: {kind: 0.0 for kind in KINDS} for name in targets}
        rounds: dict[str, dict[str, list[float]]] = {name: {kind: [] for kind in KINDS} for name in targets}
        cpu: dict[str, dict[str, float]] = {name: {kind: float("inf") for kind in KINDS} for name in targets}
        for base in targets.values():
            for path, decided in KINDS.values():
                load(base + path, args.warmup, cookie if decided else "")
        for _ in range(args.rounds):  # interleaved, so a burst of noise does not hit one target twice
            for kind, (path, decided) in KINDS.items():  # every target in turn on one kind: a ratio's two runs
                for name, base in targets.items():  # are seconds apart, so they share the machine's load
                    before = cpu_seconds(owners[name])
                    rate = load(base + path, args.seconds, cookie if decided else "")
                    used = cpu_seconds(owners[name]) - before
                    results[name][kind] = max(results[name][kind], rate)
                    rounds[name][kind].append(rate)
                    cpu[name][kind] = min(cpu[name][kind], used / (rate * args.seconds) * 1e6)
        report(results, cpu, rounds)
        time.sleep(1.5)  # the log is flushed every second
        measured = sum(rate * args.seconds for kind in KINDS for rate in rounds[DEFAULT][kind])  # warm-up not counted
        lines = (access_log.read_bytes() if access_log.exists() else b"").splitlines()
        print(f"\naccess log of the default stack: {len(lines)} lines for {measured:.0f} measured requests "
              f"(plus the warm-up's); the first: {lines[0].decode() if lines else '(none)'}")
    finally:
        for proc in reversed(procs):  # proxies before the upstream, so no request meets a dead upstream
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def report(results: dict[str, dict[str, float]], cpu: dict[str, dict[str, float]],
           rounds: dict[str, dict[str, list[float]]]) -> None:
    peer, peer_cpu = results["aiohttp peer"], cpu["aiohttp peer"]
    print(f"\n{'target':22}" + "".join(f" {kind + ' req/s (/peer)':>26}" for kind in KINDS)
          + "".join(f" {kind + ' CPU us':>18}" for kind in KINDS))
    for name, r in results.items():
        c = cpu[name]
        print(f"{name:22}" + "".join(f" {r[k]:>17.0f} ({r[k] / peer[k]:.2f})" for k in KINDS)
              + "".join(f" {c[k] if c[k] else float('nan'):>18.0f}" for k in KINDS))
    for name in (DEFAULT, NO_LOG, "ours: ReverseProxy"):
        ours, ours_cpu = results[name], cpu[name]
        print(f"\n{name}: html/peer {ours['html'] / peer['html']:.2f} (goal >= 0.90), decided visitor "
              f"{ours['html, decided'] / peer['html, decided']:.2f}, asset/peer {ours['asset'] / peer['asset']:.2f} "
              f"(goal >= 0.95); CPU per request peer/ours (1.0 = as cheap as the peer): "
              + ", ".join(f"{k} {peer_cpu[k] / ours_cpu[k]:.2f}" for k in KINDS))
        # Each round measures ours right after the peer, so a round's ratio shares its noise; the median of
        # those ratios is steadier than one best run.
        print("  median of per-round ratios: " + ", ".join(
            f"{k} {statistics.median(o / p for o, p in zip(rounds[name][k], rounds['aiohttp peer'][k])):.2f}"
            for k in KINDS))


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "_upstream":
        serve_upstream(int(sys.argv[2]))
    elif mode == "_peer":
        serve_peer(int(sys.argv[2]), sys.argv[3])
    elif mode in ("_ours", "_stack", "_stack_nolog"):
        serve_ours(int(sys.argv[2]), sys.argv[3], mode)
    elif mode == "_load":
        client_loop(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else "")
    else:
        main()

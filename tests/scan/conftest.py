"""The scanner's test site on a local port, optionally behind `consent-gateway serve --upstream`.

Scans run with --offline: every third-party host is answered by the scanner's own stubs, never the network.
Without Chromium or Playwright the tests that scan skip, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.scan.crawler import CHROMIUM
from tests.servers import serve_in_thread

from .site import app

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK_VISITORS = ["--set", "rate_limit_writes=0", "--set", "rate_limit_reports=0"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"scan tests cannot run in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def chromium() -> str:
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[scan]')")
    return CHROMIUM


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    yield from serve_in_thread(app())


@pytest.fixture(scope="session")
def gateway_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gateway's data folder, where `scan --store` saves what its cookie declaration shows."""
    return tmp_path_factory.mktemp("scan-gateway")


@pytest.fixture(scope="session")
def gateway(site: str, gateway_data: Path) -> Iterator[str]:
    data = gateway_data
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env["GATEWAY_SECRET_KEYS"] = "scan-test-key-" + "k" * 32
    log = data / "gateway.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--upstream", site, "--port", str(port),
             "--data-dir", str(data), "--set", f"origins={url}", *LOOPBACK_VISITORS],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"gateway did not start: {log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url + "/_consent/healthz", timeout=1):
                break
        except OSError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)

"""Headless Chromium (Debian's /usr/bin/chromium) driving the real demo app over real HTTP.

The server under test is `consent-gateway demo` started in a subprocess on a free port with a temporary data
folder. Set CONSENT_BROWSER_BASE_URL to run the same tests against a gateway that is already running.
Without Chromium or Playwright the tests skip, except with CI=true, where they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
START_TIMEOUT = 30.0
# Every simulated visitor comes from 127.0.0.1, one client network: the per-network rate limits would take them
# all for one flooding client, so the browser tests' gateways run without them (tests/test_api.py tests them).
LOOPBACK_VISITORS = ["--set", "rate_limit_writes=0", "--set", "rate_limit_reports=0"]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the gateway exited with {proc.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url + "/_consent/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail(f"the gateway did not answer within {START_TIMEOUT}s:\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("CONSENT_BROWSER_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    data_dir = tmp_path_factory.mktemp("gateway-data")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "demo", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", str(data_dir), *LOOPBACK_VISITORS],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=Path(__file__).resolve().parents[2],
        )
    try:
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - only when the server hangs on shutdown
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Any, base_url: str) -> Iterator[Any]:
    """Factory for pages in fresh browser contexts (own cookies); each page records the URLs it requests."""
    contexts: list[Any] = []

    def make(locale: str = "ru-RU", **options: Any) -> Any:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(base_url=base_url, locale=locale, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.requested = []  # type: ignore[attr-defined]
        page.on("request", lambda req: page.requested.append(urlsplit(req.url).path))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Any) -> Any:
    return new_page()


def serve_gateway(upstream: str, data: Path, *settings: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`consent-gateway serve --upstream` on a free port for the tests of a module: yields its URL, stops it after.

    ``settings`` are ``name=value`` pairs for ``--set``; ``env`` adds variables (secrets) to a clean environment.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    clean.update({"GATEWAY_SECRET_KEYS": "browser-test-key-" + "k" * 32, **(env or {})})
    log = data / "gateway.log"
    extra = [arg for setting in settings for arg in ("--set", setting)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--upstream", upstream, "--port", str(port),
             "--data-dir", str(data), "--set", f"origins={url}", *LOOPBACK_VISITORS, *extra],
            stdout=out, stderr=subprocess.STDOUT, env=clean, cwd=Path(__file__).resolve().parents[2])
    try:
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - only when the server hangs on shutdown
            proc.kill()
            proc.wait()


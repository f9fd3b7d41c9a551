"""The analyst dashboard in headless Chromium: charts carry a known data set, the range picker and CSV work.

The app is the admin routes over a MemoryStore filled with the scripted data of tests/analytics_data.py, served by
uvicorn on a free 127.0.0.1 port in a thread; the browser logs in with HTTP basic auth like an analyst would.
`browser` (skip without Chromium, fail under CI=true) comes from tests/browser/conftest.py.
"""

from __future__ import annotations

import asyncio
import csv
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from gateway.store.memory import MemoryStore

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:  # tests/browser has no __init__.py: run alone, pytest puts only this folder on sys.path
    sys.path.insert(0, ROOT)

from tests.analytics_data import END, START, TIMEZONE, TOKEN, TZ, expected_summary, load, make_app, scripted_data  # noqa: E402

pytestmark = pytest.mark.browser
SERIES = ("accept_all", "reject_all", "custom", "withdraw")
POINTS = "els => els.map(e => [e.dataset.day, e.dataset.series, Number(e.dataset.value)])"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    store = MemoryStore(TIMEZONE)

    async def fill() -> None:
        await store.open()
        await load(store, scripted_data())

    # Playwright's sync API keeps a loop running in this thread, so fill the store from another one; a
    # MemoryStore holds no loop-bound resources, so uvicorn's loop can read it afterwards.
    filler = threading.Thread(target=asyncio.run, args=(fill(),))
    filler.start()
    filler.join()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(make_app(store), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/_consent/admin/"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(http_credentials={"username": "analyst", "password": TOKEN}, accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.csp_errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: "Content Security Policy" in m.text and page.csp_errors.append(m.text))
    yield page
    context.close()


def mix_points(page: Any) -> dict[tuple[str, str], int]:
    return {(d, s): v for d, s, v in page.eval_on_selector_all("#chart-mix rect[data-series]", POINTS)}


def expected_mix(start: Any, end: Any) -> dict[tuple[str, str], int]:
    days = expected_summary(scripted_data(), start, end)["days"]
    return {(d["day"], s): d[s] for d in days for s in SERIES}


def test_charts_carry_the_known_data_set(page: Any, server: str) -> None:
    response = page.goto(f"{server}?from={START}&to={END}")
    assert response.status == 200
    want = expected_summary(scripted_data())
    assert mix_points(page) == expected_mix(START, END)
    lines = {(d, s): v for d, s, v in page.eval_on_selector_all("#chart-opt-in circle", POINTS)}
    assert lines == {(d["day"], c): d["opt_in"][c] for d in want["days"] for c in ("preferences", "analytics",
                                                                                    "marketing")}
    browsers = page.eval_on_selector_all("#chart-browser rect", "els => els.map(e => e.dataset.key)")
    assert set(browsers) == {e["key"] for e in want["breakdowns"]["browser"]}
    assert page.inner_text('[data-metric="decisions"]') == str(want["totals"]["decisions"])
    # The charts are drawn (not zero-sized) and the stylesheet passed the page's strict CSP.
    assert page.locator("#chart-mix").bounding_box()["height"] > 100
    assert page.eval_on_selector(".kpis", "e => getComputedStyle(e).display") == "grid"
    assert page.csp_errors == []
    tooltip = page.text_content(f'#chart-mix rect[data-day="{START}"][data-series="accept_all"] title')
    assert tooltip == f"{START} Accept all: {want['days'][0]['accept_all']}"


def test_changing_the_range_changes_the_charts(page: Any, server: str) -> None:
    page.goto(f"{server}?from={START}&to={END}")
    start, end = START + timedelta(days=2), START + timedelta(days=3)
    page.fill('input[name="from"]', start.isoformat())
    page.fill('input[name="to"]', end.isoformat())
    with page.expect_navigation():
        page.click('button[type="submit"]')
    assert f"from={start}" in page.url and f"to={end}" in page.url
    assert mix_points(page) == expected_mix(start, end)
    with page.expect_navigation():
        page.click("text=Last 7 days")
    today = datetime.now(TZ).date()
    days = sorted({d for d, _ in mix_points(page)})
    assert days == [(today - timedelta(days=6 - i)).isoformat() for i in range(7)]
    assert page.get_attribute("text=Last 7 days", "aria-current") == "page"


def test_csv_link_downloads_the_same_range(page: Any, server: str) -> None:
    start, end = START + timedelta(days=1), START + timedelta(days=3)
    page.goto(f"{server}?from={start}&to={end}")
    with page.expect_download() as info:
        page.click("text=Download CSV")
    download = info.value
    assert download.suggested_filename == f"consent-summary-{start}_{end}.csv"
    with open(download.path(), encoding="utf-8-sig", newline="") as f:
        rows = {(s, k, m): v for s, k, m, v in list(csv.reader(f))[1:]}
    want = expected_summary(scripted_data(), start, end)
    assert {n: int(rows[("totals", "", n)]) for n in want["totals"]} == want["totals"]
    assert rows[("range", "", "from")] == str(start) and rows[("range", "", "to")] == str(end)


def test_readable_on_a_phone(page: Any, server: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server}?from={START}&to={END}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = page.locator("#chart-mix").bounding_box()
    assert 300 < box["width"] <= 390
    assert page.eval_on_selector("#chart-mix text", "e => parseFloat(getComputedStyle(e).fontSize)") >= 19


def test_wrong_password_gets_no_dashboard(browser: Any, server: str) -> None:
    context = browser.new_context(http_credentials={"username": "analyst", "password": "guess"})
    try:
        response = context.new_page().goto(server)
        assert response.status == 401
        assert response.headers["cache-control"] == "no-store"
    finally:
        context.close()


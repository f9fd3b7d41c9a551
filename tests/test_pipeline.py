"""The one-pass pipeline answers every HTTP request exactly as the same layers nested as ASGI middleware do:
the same status, headers and bytes, and the same access-log line, for each branch a request can take."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.settings import Settings

from .conftest import BROWSER_UA, KEY

PAGE = (b"<!doctype html><html><head><title>wgp</title>"
        b"<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-1\"></script></head>"
        b"<body><p>" + b"x" * 2000 + b"</p></body></html>")


async def site(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The upstream's answers, as the reverse proxy hands them on."""
    if scope["path"] == "/app.js":
        body, head = b"console.log(1);" * 100, [(b"content-type", b"application/javascript")]
    elif scope["path"] == "/cookie":
        body, head = b"{}", [(b"content-type", b"application/json"), (b"set-cookie", b"_ga=GA1.1; Path=/")]
    elif scope["path"] == "/boom":
        raise RuntimeError("the site failed")
    else:
        body, head = PAGE, [(b"content-type", b"text/html; charset=utf-8"), (b"vary", b"Origin")]
    await send({"type": "http.response.start", "status": 200,
                "headers": [*head, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


CASES = {
    "page": ("/page.html", []),
    "page, br": ("/page.html", [(b"accept-encoding", b"br, gzip")]),
    "page, HEAD": ("/page.html", [], "HEAD"),
    "asset": ("/app.js", []),
    "asset, gzip": ("/app.js", [(b"accept-encoding", b"gzip")]),
    "tracker cookie refused": ("/cookie", []),
    "unknown host": ("/page.html", [(b"host", b"evil.example")]),
    "forwarded by the front proxy": ("/page.html", [(b"x-forwarded-for", b"198.51.100.4"),
                                                    (b"x-forwarded-proto", b"https")]),
    "consent API": ("/_consent/config", []),
    "GPC well-known": ("/.well-known/gpc.json", [(b"sec-gpc", b"1")]),
    "site fails": ("/boom", []),
}


def _scope(path: str, extra: list[tuple[bytes, bytes]], method: str = "GET") -> dict[str, Any]:
    names = {name for name, _ in extra}
    headers = [(b"host", b"wgp.kz")] if b"host" not in names else []
    headers += [(b"user-agent", BROWSER_UA.encode()), (b"accept", b"text/html"), *extra]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}


async def _answer(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    try:
        await app(scope, receive, send)
    except RuntimeError:
        sent.append({"type": "raised"})
    return sent


def _csp_nonce_free(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-response nonce and request time differ between any two answers: compared without them."""
    out = []
    for m in messages:
        m = dict(m)
        if "headers" in m:
            m["headers"] = [(k, re.sub(rb"nonce-[A-Za-z0-9+/=_-]+", b"nonce-N", v)) for k, v in m["headers"]]
        if "body" in m:
            m["body"] = re.sub(rb'nonce="[^"]+"', b'nonce="N"', m["body"])
        out.append(m)
    return out


@pytest.mark.parametrize("case", list(CASES))
async def test_the_pipeline_answers_as_the_nested_layers_do(case: str, tmp_path: Path) -> None:
    path, extra, *method = CASES[case]
    settings = Settings(upstream="http://127.0.0.1:9", secret_keys=(KEY,), data_dir=tmp_path, cookie_secure=False,
                        allowed_hosts=("wgp.kz",), access_log_path=str(tmp_path / "access.log"))
    answers = []
    for layered in (False, True):
        app = create_app(dataclasses.replace(settings, data_dir=tmp_path / str(layered)))
        app.blocking.app.app = app.site = site  # the reverse proxy's place: behind the well-known route, and the pipeline's
        await app.startup()
        try:
            entry = app.nested if layered else app
            messages = await _answer(entry, _scope(path, extra, *method))
        finally:
            await app.shutdown()
        log = (tmp_path / "access.log").read_text().splitlines()[-1]
        answers.append((_csp_nonce_free(messages), re.sub(r"\[[^]]+\]| [0-9.]+$", "", log)))
    (fused, fused_log), (nested, nested_log) = answers
    assert fused == nested
    assert fused_log == nested_log
    assert fused and fused[0]["type"] in ("http.response.start", "raised")

"""The one mapping from an error to a response: JSON for the API, a page for browsers, text for scrapers."""

from __future__ import annotations

import json

import pytest

from gateway import errors

ERRORS = [
    (errors.Forbidden(errors.BAD_ORIGIN.format(origin="https://evil.example")), 403, "forbidden"),
    (errors.NotFound(errors.NO_CONSENT), 404, "not_found"),
    (errors.RequestTimeout(errors.UPLOAD_STALLED), 408, "request_timeout"),
    (errors.PayloadTooLarge(errors.TOO_LARGE.format(limit=4096)), 413, "payload_too_large"),
    (errors.UnsupportedMediaType(errors.NOT_JSON), 415, "unsupported_media_type"),
    (errors.Unprocessable(errors.NOT_OBJECT), 422, "unprocessable"),
    (errors.BadGateway(errors.UPSTREAM_DOWN), 502, "bad_gateway"),
    (errors.Unavailable(errors.STORE_DOWN), 503, "unavailable"),
    (errors.GatewayTimeout(errors.UPSTREAM_SLOW), 504, "gateway_timeout"),
]


@pytest.mark.parametrize(("exc", "status", "code"), ERRORS)
def test_json_names_the_error_and_says_what_is_wrong(exc: errors.GatewayError, status: int, code: str) -> None:
    got, headers, body = errors.render(exc, "json")
    assert got == status
    assert json.loads(body) == {"error": code, "message": exc.message}
    assert ("content-type", "application/json") in headers and ("cache-control", "no-store") in headers


@pytest.mark.parametrize(("exc", "status", "code"), ERRORS)
def test_a_browser_gets_a_small_inert_page(exc: errors.GatewayError, status: int, code: str) -> None:
    got, headers, body = errors.render(exc, "html")
    page = body.decode()
    assert got == status and page.startswith("<!doctype html>") and f"<h1>{status} " in page
    assert dict(headers)["content-security-policy"] == "default-src 'none'"


def test_html_escapes_the_message() -> None:
    _, _, body = errors.render(errors.Unprocessable("from: '<script>' is not a date"), "html")
    assert b"<script>" not in body and b"&lt;script&gt;" in body


def test_the_field_at_fault_and_extra_headers_go_out() -> None:
    exc = errors.Unauthorized("send the admin token", parameter="authorization",
                              headers={"WWW-Authenticate": 'Bearer realm="consent"'})
    status, headers, body = errors.render(exc, "text")
    assert status == 401 and body == b"send the admin token\n"
    assert ("www-authenticate", 'Bearer realm="consent"') in headers
    assert json.loads(errors.render(exc)[2])["parameter"] == "authorization"


@pytest.mark.parametrize(("accept", "kind"), [
    ("application/json", "json"), ("text/html,application/xhtml+xml,*/*;q=0.8", "html"), ("", "html"),
    ("application/json, text/html", "html"),
])
def test_kind_follows_accept(accept: str, kind: str) -> None:
    assert errors.kind_for(accept) == kind


async def test_over_raw_asgi_a_head_request_gets_no_body() -> None:
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await errors.send_error(send, errors.BadGateway(errors.UPSTREAM_DOWN), "html", head=True)
    start, body = sent
    assert start["status"] == 502 and body["body"] == b""
    assert (b"content-length", str(len(errors.render(errors.BadGateway(errors.UPSTREAM_DOWN), "html")[2])).encode()) \
        in start["headers"]  # type: ignore[operator]

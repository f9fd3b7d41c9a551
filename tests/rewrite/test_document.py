"""The document keeps its mode and its start: nothing is injected before a BOM, blanks, comments or the doctype;
the no-JavaScript form goes right after <body>."""

from __future__ import annotations

import pytest

from tests.rewrite.conftest import BANNER, plan, run

BOM = b"\xef\xbb\xbf"
EARLY = "<script>gtag('consent','default',{})</script>"
FORM = "<noscript><form data-consent-noscript></form></noscript>"
GA = b'<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>'

STARTS = [
    BOM + b"<!DOCTYPE html>",
    BOM + b"\n  <!-- built 2026-12-01 -->\n<!doctype html>\n",
    BOM + b"<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" "
          b"\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">",
    b"\r\n\r\n<!DOCTYPE html>",
    BOM,
]


@pytest.mark.parametrize("start", STARTS, ids=["bom", "bom-comment", "bom-xhtml", "blank-lines", "bom-only"])
@pytest.mark.parametrize("body", [
    b"<html><head><title>WGP</title>" + GA + b"</head><body><p>Hi</p></body></html>",
    b"<p>Hi</p>",  # no head, no body: the banner goes before the first content
])
def test_the_page_start_stays_first_at_every_split(start: bytes, body: bytes) -> None:
    page = start + body
    p = plan(head_html=BANNER, early_html=EARLY)
    whole = run(page, p)
    assert whole.startswith(start)
    assert BANNER.encode() in whole and whole.count(BANNER.encode()) == 1
    for cut in range(1, len(page)):
        assert run(page, p, [cut]) == whole, cut


def test_a_bom_alone_or_cut_short_is_passed_on() -> None:
    for page in (BOM, BOM[:1], BOM[:2], BOM + b"x"):
        assert run(page, plan()) == page
    assert run(BOM + b"<p>x</p>", plan(), [1, 2]) == BOM + b"<p>x</p>"


@pytest.mark.parametrize(("page", "expected"), [
    (b"<html><head></head><body class=home><p>Hi</p></body></html>",
     f"<html><head>{BANNER}</head><body class=home>{FORM}<p>Hi</p></body></html>".encode()),
    (b"<html><head></head><p>Hi</p></html>",  # no body tag: where the body starts, at the first content
     f"<html><head>{BANNER}</head>{FORM}<p>Hi</p></html>".encode()),
    (b"<html><head></head>\n  Hi", f"<html><head>{BANNER}</head>\n  {FORM}Hi".encode()),
    (b"<html><head></head>", f"<html><head>{BANNER}</head>{FORM}".encode()),  # no content: at the end
    (b"<body><p>Hi</p><body>",  # a second body tag gets nothing
     f"<body>{BANNER}{FORM}<p>Hi</p><body>".encode()),
])
def test_the_no_javascript_form_goes_right_after_body(page: bytes, expected: bytes) -> None:
    p = plan(head_html=BANNER, body_html=FORM)
    assert run(page, p) == expected
    for cut in range(1, len(page)):
        assert run(page, p, [cut]) == expected, cut


def test_a_page_with_nothing_blocked_but_the_form_still_gets_it() -> None:
    assert run(b"<body>x", plan(blocked=(), body_html=FORM)) == f"<body>{FORM}x".encode()

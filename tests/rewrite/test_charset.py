"""Charsets: sniffing, non-utf-8 pages round trip, wide charsets pass through."""

from __future__ import annotations

import pytest

from gateway.rewrite import sniff_charset
from gateway.rewrite.charset import PageCharset
from tests.rewrite.conftest import BANNER, TRACKER, plan, run

CP1251_PAGE = (
    '<html><head><meta charset="windows-1251"><title>Инжиниринг</title></head><body><p>Атырау</p>'
    '<iframe src="https://www.youtube.com/embed/x"></iframe></body></html>'
)


@pytest.mark.parametrize("encoding", [None, "windows-1251"], ids=["sniffed", "from header"])
def test_windows_1251_page_round_trip(encoding: str | None) -> None:
    page = CP1251_PAGE.encode("cp1251")
    p = plan(head_html=BANNER, placeholder="{vendor}: заблокировано до согласия на {category}. Жүктеу")
    out = run(page, p, [97], encoding=encoding)
    text = out.decode("cp1251")
    assert "<title>Инжиниринг</title>" in text and "<p>Атырау</p>" in text
    assert '<p style="margin:0">YouTube: заблокировано до согласия на marketing.</p>' in text
    assert "cursor:pointer\">Ж&#1199;ктеу</button>" in text  # "ү" is not in windows-1251


def test_utf16_page_passes_through_untouched() -> None:
    page = f'<img src="{TRACKER}/x.gif">'.encode("utf-16")
    assert run(page, plan(head_html=BANNER), encoding="utf-16") == page


@pytest.mark.parametrize(
    ("header", "head", "expected"),
    [
        ("text/html; charset=windows-1251", b"", "cp1251"),
        ('text/html; charset="UTF-8"', b'<meta charset="windows-1251">', "utf-8"),
        ("text/html", b'<meta charset="windows-1251">', "cp1251"),
        (None, b'<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">', "koi8-r"),
        (None, b"\xef\xbb\xbf<meta charset=windows-1251>", "utf-8"),
        (None, b'<meta charset="utf-16">', "utf-8"),
        ("text/html; charset=nonsense", b"<p>", "utf-8"),
        (None, b" " * 1100 + b'<meta charset="windows-1251">', "utf-8"),
    ],
)
def test_sniff_charset(header: str | None, head: bytes, expected: str) -> None:
    assert sniff_charset(header, head) == expected



def test_page_charset_is_sniffed_from_the_first_kilobyte_as_it_arrives() -> None:
    charset = PageCharset(None)
    assert charset.name == "utf-8"
    charset.see(b'<html><meta charset="wind')
    assert charset.name == "utf-8"
    charset.see(b'ows-1251">')
    assert charset.name == "cp1251"
    charset.see(b' <meta charset="koi8-r">' + b" " * 2000)
    assert charset.name == "cp1251"


@pytest.mark.parametrize(("encoding", "name", "wide"), [("UTF-16LE", "utf-16-le", True), ("latin-1", "iso8859-1", False),
                                                        ("nonsense", "koi8-r", False)])  # unknown: sniffed
def test_page_charset_declared_by_the_caller(encoding: str, name: str, wide: bool) -> None:
    charset = PageCharset(encoding)
    charset.see(b'<meta charset="koi8-r">')
    assert (charset.name, charset.wide) == (name, wide)

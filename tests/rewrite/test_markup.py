"""The injected markup, pinned to the exact strings the gateway sends today."""

from __future__ import annotations

import pytest

from gateway.rewrite import banner_tag, consent_mode_script, placeholder_markup
from gateway.rewrite.markup import head_markup
from tests.rewrite.conftest import BUTTON_STYLE, PLACEHOLDER_STYLE, YT_PLACEHOLDER

DENIED = (
    ("ad_storage", "denied"), ("ad_user_data", "denied"), ("ad_personalization", "denied"),
    ("analytics_storage", "denied"), ("functionality_storage", "denied"), ("personalization_storage", "denied"),
    ("security_storage", "granted"),
)
DENIED_JSON = (
    '{"ad_storage":"denied","ad_user_data":"denied","ad_personalization":"denied","analytics_storage":"denied",'
    '"functionality_storage":"denied","personalization_storage":"denied","security_storage":"granted"}'
)
GTAG = "window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}"
SRC = "/_consent/banner.js?v=e75e14bd25df920f"

CONSENT_MODE = [
    ("no nonce", DENIED, None, f"<script>{GTAG}gtag('consent','default',{DENIED_JSON});</script>"),
    ("nonce", DENIED, "r4nd0m", f'<script nonce="r4nd0m">{GTAG}gtag(\'consent\',\'default\',{DENIED_JSON});</script>'),
    ("empty nonce is none", (("analytics_storage", "granted"),), "",
     f"<script>{GTAG}gtag('consent','default',{{\"analytics_storage\":\"granted\"}});</script>"),
]
BANNER_TAGS = [
    ("plain", SRC, None, None, f'<script src="{SRC}" defer></script>'),
    ("nonce", SRC, "r4nd0m", None, f'<script nonce="r4nd0m" src="{SRC}" defer></script>'),
    ("granted", SRC, None, ("necessary", "analytics"), f'<script src="{SRC}" data-consent-csp="necessary analytics" defer></script>'),
    ("nothing granted", SRC, "n", (), f'<script nonce="n" src="{SRC}" data-consent-csp="" defer></script>'),
]


@pytest.mark.parametrize(("label", "mode", "nonce", "expected"), CONSENT_MODE, ids=[c[0] for c in CONSENT_MODE])
def test_consent_mode_script(label: str, mode: tuple[tuple[str, str], ...], nonce: str | None, expected: str) -> None:
    assert consent_mode_script(mode, nonce) == expected


@pytest.mark.parametrize(("label", "src", "nonce", "granted", "expected"), BANNER_TAGS, ids=[c[0] for c in BANNER_TAGS])
def test_banner_tag(label: str, src: str, nonce: str | None, granted: tuple[str, ...] | None, expected: str) -> None:
    assert banner_tag(src, nonce, granted) == expected


def test_placeholder_markup() -> None:
    template = "{vendor}: blocked until you allow {category}. Load"
    assert placeholder_markup(template, "YouTube", "marketing", "marketing", "utf-8").decode() == YT_PLACEHOLDER


def test_placeholder_without_a_sentence_break_gets_a_load_button_and_escaped_text() -> None:
    markup = placeholder_markup("<{vendor}> needs {category}", "A&B", "preferences", "Настройки", "ascii").decode()
    assert markup == (
        '<div class="consent-placeholder" data-consent-placeholder data-consent-category="preferences" '
        f'style="{PLACEHOLDER_STYLE}"><p style="margin:0">&lt;A&amp;B&gt; needs '
        "&#1053;&#1072;&#1089;&#1090;&#1088;&#1086;&#1081;&#1082;&#1080;</p>"
        f'<button type="button" data-consent-load style="{BUTTON_STYLE}">Load</button></div>'
    )


HEAD = '<script src="/b.js" defer></script><SCRIPT>x</SCRIPT><script nonce="own">y</script><scripts>'
HEAD_MARKUP = [
    ("no nonce", None, HEAD),
    ("nonce on each script without one", b"Q2x9",
     '<script nonce="Q2x9" src="/b.js" defer></script><script nonce="Q2x9">x</SCRIPT><script nonce="own">y</script>'
     "<scripts>"),
    ("nonce escaped", b'a"b', '<script nonce="a&quot;b" src="/b.js" defer></script><script nonce="a&quot;b">x</SCRIPT>'
     '<script nonce="own">y</script><scripts>'),
]


@pytest.mark.parametrize(("label", "nonce", "expected"), HEAD_MARKUP, ids=[c[0] for c in HEAD_MARKUP])
def test_head_markup(label: str, nonce: bytes | None, expected: str) -> None:
    assert head_markup(HEAD, nonce, "utf-8") == expected.encode()


def test_head_markup_encodes_for_the_page() -> None:
    assert head_markup("<p>Жүктеу</p>", None, "cp1251") == "<p>Ж&#1199;ктеу</p>".encode("cp1251")


@pytest.mark.parametrize("nonce", [rb"a\1", rb"\0", b"x\\"])
def test_a_page_nonce_with_a_backslash_is_copied_as_it_is(nonce: bytes) -> None:
    """A nonce is the page's text, never a regular-expression replacement template."""
    out = head_markup('<script src="/b.js"></script>', nonce, "utf-8")
    assert out == b'<script nonce="' + nonce + b'" src="/b.js"></script>'


def test_noscript_form_posts_both_choices_with_escaped_texts() -> None:
    from gateway.rewrite import noscript_form

    form = noscript_form("/_consent/state", "Cookies & you", "Optional ones wait.", "Which cookies", "/policy?a=1&b=2",
                         "Accept all", "Reject all")
    assert form.startswith('<noscript><form method="post" action="/_consent/state" data-consent-noscript')
    assert form.endswith("</form></noscript>")
    assert "Cookies &amp; you" in form and 'href="/policy?a=1&amp;b=2"' in form
    assert 'name="action" ' in form and 'value="accept_all">Accept all</button>' in form
    assert 'value="reject_all">Reject all</button>' in form

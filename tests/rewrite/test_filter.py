"""The streaming state machine: tokenizer states, injection, nonce, chunking, bounded memory, the realistic page."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from gateway.rewrite import HtmlFilter
from tests.rewrite.conftest import BANNER, REALISTIC, TRACKER, YT_PLACEHOLDER, filt, plan, run

# -- what the plan blocks --------------------------------------------------------------------------------------


def test_only_blocked_categories_are_rewritten() -> None:
    page = (
        '<script src="https://www.googletagmanager.com/gtm.js?id=GTM-1"></script>'
        '<script src="https://connect.facebook.net/en_US/fbevents.js"></script>'
    )
    out = filt(page, blocked={"marketing"})
    assert out.startswith('<script src="https://www.googletagmanager.com/gtm.js?id=GTM-1"></script>')
    assert 'data-consent-category="marketing" data-consent-src="https://connect.facebook.net' in out


def test_necessary_is_never_blocked() -> None:
    page = '<script src="https://challenges.cloudflare.com/turnstile/v0/api.js"></script>'
    assert filt(page, blocked={"necessary", "marketing"}) == page


# -- tokenizer states: foreign content, CDATA, noscript --------------------------------------------------------


def test_cdata_outside_foreign_content_is_a_bogus_comment() -> None:
    page = f'<![CDATA[ x ]]><img src="{TRACKER}/x.gif">'
    assert filt(page) == f'<![CDATA[ x ]]><img data-consent-category="marketing" data-consent-src="{TRACKER}/x.gif">'


def test_foreign_content_ends_at_a_breakout_tag() -> None:
    # An unclosed <svg> must not leave the rest of the page in foreign content: the <p> closes it, so
    # the script after it is script data again and its GTM snippet is recognised.
    page = "<svg><path d='M0 0'><p>text</p><script>(function(){w.push({'gtm.start':1})})()</script>"
    assert filt(page) == page.replace("<script>", '<script type="text/plain" data-consent-category="analytics">')


def test_style_inside_svg_is_not_raw_text() -> None:
    page = f'<svg><style><image href="{TRACKER}/x.gif"/></style></svg><style><img src="{TRACKER}/y.gif"></style>'
    assert filt(page) == page.replace("<image href", '<image data-consent-category="marketing" data-consent-href')


def test_noscript_pixels_lose_their_src_but_noscript_text_cannot_hide_a_tag() -> None:
    page = (
        f'<noscript><img height="1" src="{TRACKER}/px.gif"/><script></noscript>'
        f'<script src="{TRACKER}/t.js"></script>'
    )
    assert filt(page) == (
        f'<noscript><img data-consent-category="marketing" height="1" data-consent-src="{TRACKER}/px.gif"/>'
        f'<script></noscript><script type="text/plain" data-consent-category="marketing" '
        f'data-consent-src="{TRACKER}/t.js"></script>'
    )


# -- banner injection and nonce --------------------------------------------------------------------------------


INJECTION = [
    ("before </head>", "<html><head><title>t</title></head><body>x</body></html>",
     f"<html><head><title>t</title>{BANNER}</head><body>x</body></html>"),
    ("at the start of <body>", '<html><body class="home"><p>x</p></body></html>',
     f'<html><body class="home">{BANNER}<p>x</p></body></html>'),
    ("before the first content", "<!DOCTYPE html>\n<!-- c -->\n<p>x</p>",
     f"<!DOCTYPE html>\n<!-- c -->\n{BANNER}<p>x</p>"),
    ("before first text", "  Hello", f"  {BANNER}Hello"),
    ("once only", "<head></head><body></body></head>", f"<head>{BANNER}</head><body></body></head>"),
    ("empty page", "", BANNER),
]


@pytest.mark.parametrize(("label", "page", "expected"), INJECTION, ids=[c[0] for c in INJECTION])
def test_banner_injection_point(label: str, page: str, expected: str) -> None:
    assert filt(page, head_html=BANNER) == expected


def test_nonce_from_a_page_script_is_copied_onto_injected_scripts() -> None:
    page = '<head><script nonce="r4nd0m">var a=1;</script></head>'
    assert filt(page, head_html=BANNER + "<script>window.x=1</script>") == (
        '<head><script nonce="r4nd0m">var a=1;</script>'
        '<script nonce="r4nd0m" src="/_consent/banner.js" defer></script><script nonce="r4nd0m">window.x=1</script>'
        "</head>"
    )


def test_nonce_from_a_meta_csp_is_copied() -> None:
    page = "<head><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'nonce-Q2x9' 'self'\"></head>"
    assert '<script nonce="Q2x9" src="/_consent/banner.js"' in filt(page, head_html=BANNER)


def test_nonce_copy_can_be_switched_off() -> None:
    page = '<head><script nonce="r4nd0m"></script></head>'
    assert f"{BANNER}</head>" in filt(page, head_html=BANNER, nonce=False)


# -- the realistic page ----------------------------------------------------------------------------------------


def test_realistic_page_blocks_every_tracker_and_keeps_the_rest() -> None:
    out = run(REALISTIC, plan(head_html=BANNER)).decode()
    for needle in (
        '<script type="text/plain" data-consent-category="analytics">(function(w,d,s,l,i)',  # GTM
        'data-consent-src="https://www.googletagmanager.com/gtag/js?id=G-WGP1234567"',  # GA4
        'data-consent-category="marketing">\n!function(f,b,e,v,n,t,s)',  # Meta Pixel
        'data-consent-src="https://www.facebook.com/tr?id=2043440376090642',  # its noscript image
        'data-consent-src="https://mc.yandex.ru/watch/95712345"',  # Metrika noscript
        'data-consent-src="https://px.ads.linkedin.com/collect/?pid=5123456&fmt=gif"',  # LinkedIn noscript
        'data-consent-src="https://www.youtube.com/embed/dQw4w9WgXcQ?si=wgp"',
        YT_PLACEHOLDER,
        f"{BANNER}</head>",
    ):
        assert needle in out
    # 13: gtag's inline queue (dataLayer, gtag('js'), gtag('config')) is no loader and stays; its gtag.js tag is blocked.
    assert out.count("data-consent-category=") == 13
    assert "<script>\n  window.dataLayer = window.dataLayer || [];" in out
    assert ' src="https://' not in out.replace('src="https://cdnjs.cloudflare.com', "")


def test_json_ld_first_party_and_cdn_bytes_are_unchanged() -> None:
    out = run(REALISTIC, plan(head_html=BANNER))
    for start, end in (
        (b'<script type="application/ld+json">', b"</script>"),
        (b'<script src="https://cdnjs.cloudflare.com', b"</script>"),
        (b'<script src="/static/js/site.js?v=3" defer>', b"</script>"),
        (b"<script>\n  document.querySelectorAll", b"</script>"),
        (b"<style>", b"</style>"),
        (b"<header", b"</header>"),
        (b"<form", b"</footer>"),
    ):
        i = REALISTIC.index(start)
        block = REALISTIC[i : REALISTIC.index(end, i) + len(end)]
        assert block in out


def test_nothing_blocked_and_nothing_injected_is_byte_identical() -> None:
    assert run(REALISTIC, plan(blocked=())) == REALISTIC


def test_allowed_tags_pass_byte_for_byte_through_the_tokenizer() -> None:
    # Only preferences refused: the one Google Fonts preconnect changes, every other byte is the page's.
    fonts = b'<link rel="preconnect" href="https://fonts.googleapis.com">'
    blocked = b'<link data-consent-category="preferences" rel="preconnect" data-consent-href="https://fonts.googleapis.com">'
    assert run(REALISTIC, plan(blocked={"preferences"})) == REALISTIC.replace(fonts, blocked)


def test_every_split_point_gives_the_same_output() -> None:
    p = plan(head_html=BANNER)
    whole = run(REALISTIC, p)
    bad = [i for i in range(len(REALISTIC) + 1) if run(REALISTIC, p, [i]) != whole]
    assert bad == []


def test_one_byte_chunks_give_the_same_output() -> None:
    p = plan(head_html=BANNER)
    assert run(REALISTIC, p, range(1, len(REALISTIC))) == run(REALISTIC, p)


# -- bounded memory and constructs longer than max_carry -------------------------------------------------------


def test_twenty_megabyte_page_streams_with_flat_memory() -> None:
    body = REALISTIC[REALISTIC.index(b"<main>") : REALISTIC.index(b"</main>")]
    block = (body * (65536 // len(body) + 1))[:65521]  # odd size: chunk edges fall inside tags
    f = HtmlFilter(plan(head_html=BANNER))
    tracemalloc.start()
    try:
        sent = len(f.feed(REALISTIC[: REALISTIC.index(b"<main>")]))
        for _ in range(20 * 1024 * 1024 // len(block)):
            sent += len(f.feed(block))
        sent += len(f.close())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sent > 20 * 1024 * 1024
    assert peak < 2 * 1024 * 1024


def test_oversized_tag_with_a_data_url_passes_and_the_page_continues() -> None:
    big = "A" * 100_000
    page = f'<img src="data:image/png;base64,{big}" alt="x"><img src="{TRACKER}/x.gif">'
    assert filt(page) == (
        f'<img src="data:image/png;base64,{big}" alt="x">'
        f'<img data-consent-category="marketing" data-consent-src="{TRACKER}/x.gif">'
    )


def test_oversized_tracker_tag_is_decided_on_its_beginning() -> None:
    big = "A" * 100_000
    page = f'<img src="{TRACKER}/x.gif?{big}" alt="x"><p>after</p>'
    out = run(page.encode(), plan(), range(4096, len(page), 4096)).decode()
    assert out == f'<img data-consent-category="marketing" data-consent-src="{TRACKER}/x.gif?{big}" alt="x"><p>after</p>'


def test_long_comment_streams_and_cannot_hide_or_invent_tags() -> None:
    page = "<!--" + f'<img src="{TRACKER}/x.gif">' * 10_000 + f'--><img src="{TRACKER}/y.gif">'
    out = run(page.encode(), plan(), range(1000, len(page), 1000)).decode()
    assert out == page.replace(f'<img src="{TRACKER}/y.gif">',
                               f'<img data-consent-category="marketing" data-consent-src="{TRACKER}/y.gif">')


# -- broken pages: the output never depends on the chunking ----------------------------------------------------


FRAGMENTS = [b"<", b">", b'"', b"'", b"=", b"<!--", b"-->", b"</script>", b"<script>", b"<svg>", b"</svg>",
             b"<![CDATA[", b"]]>", b"<textarea>", b"</textarea>", b"<noscript>", b"</noscript>", b"<style>",
             b"</style>", b"url(", b"//tracker.example/x", b" src=", b"<img", b"<iframe src=//t.example/>",
             b"</iframe>", b"<p>", b"\t", b"\n", b"/", b"<?", b"</", b"<!", b"<plaintext>"]


@pytest.mark.parametrize("max_carry", [256, 64 * 1024])
def test_mangled_pages_give_the_same_output_however_they_are_chunked(max_carry: int) -> None:
    """Broken HTML from random insertions into the realistic page, cut at random places: the output never
    depends on the chunking, even when constructs outgrow a tiny carry-over bound."""
    rnd = random.Random(20231125)
    p = plan(head_html=BANNER)

    def chunked(page: bytes, cuts: list[int]) -> bytes:
        f = HtmlFilter(p, max_carry=max_carry)
        edges = [0, *cuts, len(page)]
        return b"".join(f.feed(page[a:b]) for a, b in zip(edges, edges[1:])) + f.close()

    for _ in range(60):
        page = bytearray(REALISTIC)
        for _ in range(rnd.randint(1, 12)):
            at = rnd.randrange(len(page))
            page[at:at] = rnd.choice(FRAGMENTS)
        whole = chunked(bytes(page), [])
        for _ in range(4):
            cuts = sorted(rnd.sample(range(1, len(page)), rnd.randint(1, 30)))
            assert chunked(bytes(page), cuts) == whole


# -- early_html, and a page that embeds the banner itself ------------------------------------------------------


EARLY = "<script>gtag('consent','default',{})</script>"


EARLY_CASES = [
    ("before the first script",
     '<html><head><meta charset="utf-8"><script src="/a.js"></script></head><body>x</body></html>',
     f'<html><head><meta charset="utf-8">{EARLY}<script src="/a.js"></script>[B]</head><body>x</body></html>'),
    ("before an inline script that is held",
     "<head><title>t</title><script>var a=1;</script></head>",
     f"<head><title>t</title>{EARLY}<script>var a=1;</script>[B]</head>"),
    ("with the banner when the head has no script", "<head><title>t</title></head><p>x",
     f"<head><title>t</title>{EARLY}[B]</head><p>x"),
    ("no head at all", "<p>x</p><script src=/a.js></script>", f"{EARLY}[B]<p>x</p><script src=/a.js></script>"),
]


@pytest.mark.parametrize(("page", "expected"), [c[1:] for c in EARLY_CASES], ids=[c[0] for c in EARLY_CASES])
def test_early_html_goes_before_the_first_script_once(page: str, expected: str) -> None:
    p = plan((), head_html="[B]", early_html=EARLY)
    whole = run(page.encode(), p)
    assert whole.decode() == expected
    assert all(run(page.encode(), p, chunks=[i]) == whole for i in range(1, len(page)))


def test_early_html_alone_is_not_a_pass_through() -> None:
    assert filt("<head><script src=/a.js></script></head>", (), early_html=EARLY).startswith(f"<head>{EARLY}")


def test_page_that_embeds_the_banner_keeps_its_own_and_gets_no_second() -> None:
    page = '<head><script src="https://consent.wgp.kz/_consent/banner.js" defer></script></head><body>x</body>'
    p = plan((), head_html="[B]", early_html=EARLY, banner_path="/_consent/banner.js")
    whole = run(page.encode(), p).decode()
    assert whole == f'<head>{EARLY}<script src="https://consent.wgp.kz/_consent/banner.js" defer></script></head><body>x</body>'
    assert all(run(page.encode(), p, chunks=[i]).decode() == whole for i in range(1, len(page)))
    other = '<head><script src="/js/app.js"></script></head>'
    assert "[B]" in run(other.encode(), p).decode()


def test_page_that_embeds_the_banner_by_relative_path_gets_no_second() -> None:
    page = '<html><head><meta charset="utf-8"><script src="/_consent/banner.js" defer></script></head><body>x</body>'
    p = plan((), head_html="[B]", early_html=EARLY, banner_path="/_consent/banner.js")
    assert "[B]" not in run(page.encode(), p).decode()


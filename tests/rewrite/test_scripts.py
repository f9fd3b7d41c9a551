"""<script>: script data read the way the browser reads it, inline bodies held and decided, long ones streamed."""

from __future__ import annotations

from tests.rewrite.conftest import TRACKER, filt, plan, run


def test_split_end_tag_in_a_string_does_not_end_the_script() -> None:
    page = "<script>var s = \"</scr\" + \"ipt>\"; fbq('init', '1');</script><p>after</p>"
    assert filt(page) == (
        "<script type=\"text/plain\" data-consent-category=\"marketing\">var s = \"</scr\" + \"ipt>\"; "
        "fbq('init', '1');</script><p>after</p>"
    )


def test_double_escaped_script_ends_at_the_outer_end_tag() -> None:
    # "<!--<script>" enters the double-escaped state: the first </script> does not end the element.
    page = (
        '<script><!--<script>document.write("x")</script>-->fbq(\'init\', \'1\')</script>'
        f'<img src="{TRACKER}/x.gif">'
    )
    out = filt(page)
    assert out.startswith('<script type="text/plain" data-consent-category="marketing"><!--<script>')
    assert out.endswith(f'<img data-consent-category="marketing" data-consent-src="{TRACKER}/x.gif">')


def test_escaped_script_still_ends_at_its_end_tag() -> None:
    # "<!--" without an inner <script> only escapes; </script> ends the element and the img is real.
    page = f'<script><!-- var a = 1; </script><img src="{TRACKER}/x.gif">'
    assert filt(page) == f'<script><!-- var a = 1; </script><img data-consent-category="marketing" data-consent-src="{TRACKER}/x.gif">'


def test_script_text_that_looks_like_a_tag_is_not_rewritten() -> None:
    page = f'<script>document.write(\'<img src="{TRACKER}/x.gif">\');</script>'
    assert filt(page) == page


def test_long_inline_script_is_decided_on_its_first_bytes_and_streamed() -> None:
    page = "<script>fbq('init', '1');" + "var x = 1;\n" * 20_000 + f'</script><img src="{TRACKER}/x.gif">'
    out = run(page.encode(), plan(), range(8192, len(page), 8192)).decode()
    assert out.startswith('<script type="text/plain" data-consent-category="marketing">fbq(')
    assert out.endswith(f'<img data-consent-category="marketing" data-consent-src="{TRACKER}/x.gif">')


def test_oversized_script_tag_still_opens_script_data() -> None:
    # After a >64 KB opening tag the body must still be read as script: the <img> string inside it is text.
    big = "A" * 100_000
    page = (f'<script src="{TRACKER}/t.js" data-config="{big}">var s = \'<img src="{TRACKER}/in.gif">\';</script>'
            f'<img src="{TRACKER}/out.gif">')
    out = run(page.encode(), plan(), range(8192, len(page), 8192)).decode()
    assert out == (
        f'<script type="text/plain" data-consent-category="marketing" data-consent-src="{TRACKER}/t.js" '
        f'data-config="{big}">var s = \'<img src="{TRACKER}/in.gif">\';</script>'
        f'<img data-consent-category="marketing" data-consent-src="{TRACKER}/out.gif">'
    )


"""Start tags: every element and attribute form, as input and exactly what the browser receives."""

from __future__ import annotations

import pytest

from tests.rewrite.conftest import TRACKER, YT_PLACEHOLDER, filt, plan, run

TAG_FORMS = [
    (
        "external script",
        '<script async src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>',
        '<script type="text/plain" data-consent-category="analytics" async '
        'data-consent-src="https://www.googletagmanager.com/gtag/js?id=G-1"></script>',
    ),
    (
        "module script keeps its type",
        f'<script type="module" src="{TRACKER}/t.js"></script>',
        '<script type="text/plain" data-consent-category="marketing" data-consent-type="module" '
        f'data-consent-src="{TRACKER}/t.js"></script>',
    ),
    (
        "upper case",
        '<SCRIPT SRC="//mc.yandex.ru/metrika/tag.js"></SCRIPT>',
        '<SCRIPT type="text/plain" data-consent-category="analytics" '
        'data-consent-SRC="//mc.yandex.ru/metrika/tag.js"></SCRIPT>',
    ),
    (
        "unquoted value",
        "<script src=https://connect.facebook.net/en_US/fbevents.js async></script>",
        '<script type="text/plain" data-consent-category="marketing" '
        "data-consent-src=https://connect.facebook.net/en_US/fbevents.js async></script>",
    ),
    (
        "single quotes and entities",
        "<img src='https://px.ads.linkedin.com/collect/?pid=1&amp;fmt=gif' alt=''>",
        "<img data-consent-category=\"marketing\" data-consent-src='https://px.ads.linkedin.com/collect/?pid=1&amp;fmt=gif' alt=''>",
    ),
    (
        "every duplicate of a blocked attribute is renamed",
        f'<img src="{TRACKER}/a.gif" hidden src="/local.png">',
        f'<img data-consent-category="marketing" data-consent-src="{TRACKER}/a.gif" hidden data-consent-src="/local.png">',
    ),
    (
        "the browser uses the first duplicate",
        f'<img src="/local.png" src="{TRACKER}/a.gif">',
        f'<img src="/local.png" src="{TRACKER}/a.gif">',
    ),
    (
        "self-closing with slash separator",
        f"<img/src={TRACKER}/a.gif/>",
        f'<img data-consent-category="marketing"/data-consent-src={TRACKER}/a.gif/>',
    ),
    (
        "iframe gets a placeholder naming the vendor",
        '<iframe width="560" src="https://www.youtube.com/embed/x" allowfullscreen></iframe><p>after</p>',
        '<iframe data-consent-category="marketing" data-consent-style="" style="display:none" width="560" '
        'data-consent-src="https://www.youtube.com/embed/x" allowfullscreen></iframe>' + YT_PLACEHOLDER + "<p>after</p>",
    ),
    (
        "blocked iframe keeps its own style for later",
        '<iframe style="border:0" src="https://player.vimeo.com/video/1"></iframe>',
        '<iframe data-consent-category="marketing" style="display:none" data-consent-style="border:0" '
        'data-consent-src="https://player.vimeo.com/video/1"></iframe>'
        + YT_PLACEHOLDER.replace("YouTube", "Vimeo"),
    ),
    (
        "embed",
        f'<embed type="application/x-shockwave-flash" src="{TRACKER}/a.swf">',
        f'<embed data-consent-category="marketing" type="application/x-shockwave-flash" data-consent-src="{TRACKER}/a.swf">',
    ),
    (
        "object data",
        '<object data="https://www.youtube.com/v/x" width="1"></object>',
        '<object data-consent-category="marketing" data-consent-data="https://www.youtube.com/v/x" width="1"></object>',
    ),
    (
        "video src and poster",
        '<video src="https://player.vimeo.com/v.mp4" poster="https://i.vimeocdn.com/p.jpg" controls></video>',
        '<video data-consent-category="marketing" data-consent-src="https://player.vimeo.com/v.mp4" '
        'data-consent-poster="https://i.vimeocdn.com/p.jpg" controls></video>',
    ),
    (
        "video with first-party poster keeps it",
        f'<video poster="/p.jpg"><source src="{TRACKER}/v.mp4" type="video/mp4"></video>',
        f'<video poster="/p.jpg"><source data-consent-category="marketing" data-consent-src="{TRACKER}/v.mp4" '
        'type="video/mp4"></video>',
    ),
    (
        "audio",
        f'<audio src="{TRACKER}/a.mp3"></audio>',
        f'<audio data-consent-category="marketing" data-consent-src="{TRACKER}/a.mp3"></audio>',
    ),
    (
        "source srcset",
        f'<picture><source srcset="{TRACKER}/a.webp 1x, /b.webp 2x"><img src="/b.png"></picture>',
        f'<picture><source data-consent-category="marketing" data-consent-srcset="{TRACKER}/a.webp 1x, /b.webp 2x">'
        '<img src="/b.png"></picture>',
    ),
    (
        "img srcset blocked, first-party src kept",
        f'<img src="/a.jpg" srcset="/a.jpg 1x, {TRACKER}/a2.jpg 2x">',
        f'<img data-consent-category="marketing" src="/a.jpg" data-consent-srcset="/a.jpg 1x, {TRACKER}/a2.jpg 2x">',
    ),
    (
        "link preconnect",
        '<link rel="preconnect" href="https://www.google-analytics.com">',
        '<link data-consent-category="analytics" rel="preconnect" data-consent-href="https://www.google-analytics.com">',
    ),
    (
        "link dns-prefetch",
        "<link rel=dns-prefetch href=//mc.yandex.ru>",
        '<link data-consent-category="analytics" rel=dns-prefetch data-consent-href=//mc.yandex.ru>',
    ),
    (
        "link preload",
        '<link rel="preload" as="script" href="https://connect.facebook.net/en_US/fbevents.js">',
        '<link data-consent-category="marketing" rel="preload" as="script" '
        'data-consent-href="https://connect.facebook.net/en_US/fbevents.js">',
    ),
    (
        "link prefetch",
        f'<link rel="prefetch" href="{TRACKER}/next.js">',
        f'<link data-consent-category="marketing" rel="prefetch" data-consent-href="{TRACKER}/next.js">',
    ),
    (
        "link modulepreload",
        f'<link rel="modulepreload" href="{TRACKER}/m.js">',
        f'<link data-consent-category="marketing" rel="modulepreload" data-consent-href="{TRACKER}/m.js">',
    ),
    (
        "link stylesheet",
        '<LINK REL="Stylesheet" HREF="https://fonts.googleapis.com/css2?family=Inter">',
        '<LINK data-consent-category="preferences" REL="Stylesheet" '
        'data-consent-HREF="https://fonts.googleapis.com/css2?family=Inter">',
    ),
    (
        "link that loads nothing is left alone",
        f'<link rel="canonical" href="{TRACKER}/page"><a href="{TRACKER}/">out</a>',
        f'<link rel="canonical" href="{TRACKER}/page"><a href="{TRACKER}/">out</a>',
    ),
    (
        "style attribute with a blocked url()",
        f'<div class="hero" style="background:url({TRACKER}/bg.png) no-repeat">x</div>',
        f'<div data-consent-category="marketing" class="hero" data-consent-style="background:url({TRACKER}/bg.png) '
        'no-repeat">x</div>',
    ),
    (
        "style attribute with a first-party url()",
        '<div style="background:url(/bg.png)">x</div>',
        '<div style="background:url(/bg.png)">x</div>',
    ),
    (
        "svg image href and xlink:href",
        f'<svg><image href="{TRACKER}/i.png"/><image xlink:href="{TRACKER}/j.png"/></svg>',
        f'<svg><image data-consent-category="marketing" data-consent-href="{TRACKER}/i.png"/>'
        f'<image data-consent-category="marketing" data-consent-xlink:href="{TRACKER}/j.png"/></svg>',
    ),
    (
        "input type=image",
        f'<input type="image" src="{TRACKER}/go.png"><input type="text" value="{TRACKER}/x">',
        f'<input data-consent-category="marketing" type="image" data-consent-src="{TRACKER}/go.png">'
        f'<input type="text" value="{TRACKER}/x">',
    ),
    (
        "look-alike of the site's host",
        '<img src="https://wgp.kz.evil.example/a.gif"><img src="https://wgp.kz@evil.example/b.gif">',
        '<img data-consent-category="marketing" data-consent-src="https://wgp.kz.evil.example/a.gif">'
        '<img data-consent-category="marketing" data-consent-src="https://wgp.kz@evil.example/b.gif">',
    ),
    (
        "entity-encoded scheme is still a third party",
        '<img src="https&#58;//tracker.example/a.gif">',
        '<img data-consent-category="marketing" data-consent-src="https&#58;//tracker.example/a.gif">',
    ),
    (
        "backslash URL is still a third party",
        '<img src="/\\tracker.example/a.gif">',
        '<img data-consent-category="marketing" data-consent-src="/\\tracker.example/a.gif">',
    ),
    (
        "inline GTM snippet: opening tag neutralised, body unchanged",
        "<script>(function(w,d,s,l,i){w[l].push({'gtm.start':1})})(window,document,'script','dataLayer','GTM-1');"
        "</script>",
        "<script type=\"text/plain\" data-consent-category=\"analytics\">(function(w,d,s,l,i){w[l].push({'gtm.start':1})})"
        "(window,document,'script','dataLayer','GTM-1');</script>",
    ),
    (
        "script type with parameters counts as JavaScript",
        f'<script type="text/javascript; charset=utf-8" src="{TRACKER}/t.js"></script>',
        '<script type="text/plain" data-consent-category="marketing" data-consent-type="text/javascript; charset=utf-8" '
        f'data-consent-src="{TRACKER}/t.js"></script>',
    ),
    (
        "inline script with several vendors gets the strictest category",
        "<script type=\"text/javascript\">gtag('config', 'G-1'); fbq('init', '1');</script>",
        '<script type="text/plain" data-consent-category="marketing" data-consent-type="text/javascript">'
        "gtag('config', 'G-1'); fbq('init', '1');</script>",
    ),
    # Tags that the skip patterns read exactly (style=, ":" in other attributes, inline svg) must still be
    # rewritten when they carry a tracker.
    (
        "style attribute with a blocked url()",
        f'<div class="hero" style="color:#fff; background:url({TRACKER}/bg.png)">x</div>',
        '<div data-consent-category="marketing" class="hero" '
        f'data-consent-style="color:#fff; background:url({TRACKER}/bg.png)">x</div>',
    ),
    (
        "entity-spelled url() in a style attribute",
        f'<div title="url(" style="background:u&#114;l({TRACKER}/bg.png)">x</div>',
        '<div data-consent-category="marketing" title="url(" '
        f'data-consent-style="background:u&#114;l({TRACKER}/bg.png)">x</div>',
    ),
    (
        "@import in the style attribute of an img",
        f"<img src=\"/a.png\" style=\"@import '{TRACKER}/s.css'\">",
        f"<img data-consent-category=\"marketing\" src=\"/a.png\" data-consent-style=\"@import '{TRACKER}/s.css'\">",
    ),
    (
        "tracker img with colons in alt and sizes",
        f'<img alt="Note: pixel" sizes="(max-width: 600px) 100vw" src="{TRACKER}/x.gif">',
        '<img data-consent-category="marketing" alt="Note: pixel" sizes="(max-width: 600px) 100vw" '
        f'data-consent-src="{TRACKER}/x.gif">',
    ),
    (
        "source with one tracker URL in its srcset",
        f'<picture><source sizes="(max-width: 600px) 100vw" srcset="/a.webp 1x, {TRACKER}/b.webp 2x"></picture>',
        '<picture><source data-consent-category="marketing" sizes="(max-width: 600px) 100vw" '
        f'data-consent-srcset="/a.webp 1x, {TRACKER}/b.webp 2x"></picture>',
    ),
    (
        "svg image inside an icon",
        f'<svg class="icon" viewBox="0 0 1 1"><g><image href="{TRACKER}/i.png"/></g></svg>',
        '<svg class="icon" viewBox="0 0 1 1"><g><image data-consent-category="marketing" '
        f'data-consent-href="{TRACKER}/i.png"/></g></svg>',
    ),
    (
        "breakout tag ends an svg before a tracker img",
        f'<svg><path d="M0 0"/><p>x<img src="{TRACKER}/x.gif"></svg>',
        f'<svg><path d="M0 0"/><p>x<img data-consent-category="marketing" data-consent-src="{TRACKER}/x.gif"></svg>',
    ),
    (
        "upper-case svg end tag, then a tracker",
        f'<svg><use href="#i"></use></SVG ><img src="{TRACKER}/x.gif">',
        f'<svg><use href="#i"></use></SVG ><img data-consent-category="marketing" data-consent-src="{TRACKER}/x.gif">',
    ),
]


UNCHANGED = [
    ("first-party script", '<script src="/static/js/site.js" defer></script>'),
    ("absolute first-party URLs", '<img src="https://wgp.kz/wp-content/a.jpg" srcset="https://wgp.kz/a-2x.jpg 2x, '
                                  '//cdn.wgp.kz/a-3x.jpg 3x"><link rel="preload" href="https://wgp.kz/f.woff2">'),
    ("allow-listed CDN", '<script src="https://cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js"></script>'),
    ("necessary vendor", '<script src="https://www.google.com/recaptcha/api.js" async defer></script>'),
    ("data: image", '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">'),
    ("JSON-LD naming trackers", '<script type="application/ld+json">{"url": "https://connect.facebook.net", '
                                '"x": "fbq(\'init\'"}</script>'),
    ("application/json", "<script type=\"application/json\" id=\"cfg\">{\"gtag('config'\": 1}</script>"),
    ("importmap", f'<script type="importmap">{{"imports": {{"a": "{TRACKER}/a.js"}}}}</script>'),
    ("template", f'<script type="text/x-template" src="{TRACKER}/t.html"></script>'),
    ("unknown script type", '<script type="text/x-handlebars-template">fbq(\'init\', \'1\')</script>'),
    ("hand-marked tag", '<script type="text/plain" data-consent-category="analytics">gtag(\'config\', \'G-1\');</script>'),
    ("script text in a textarea", f'<textarea><script src="{TRACKER}/t.js"></script><img src="{TRACKER}/x"></textarea>'),
    ("script text in a title", f'<title><script src="{TRACKER}/t.js"></script></title>'),
    ("script in a comment", f'<!-- <script src="{TRACKER}/t.js"></script> --><p>x</p>'),
    ("short comments", '<!--><img src="/a.png"><!---><p>x</p>'),
    ("bogus comment", f'<? <img src="{TRACKER}/x.gif"> ?><p>x</p>'),
    ("tag in an attribute value", f'<div title="<img src={TRACKER}/x.gif>" data-x=\'<script src=//t.example>\'>x</div>'),
    ("iframe content is raw text", f'<iframe src="/local.html"><img src="{TRACKER}/x.gif"></iframe>'),
    ("xmp raw text", f'<xmp><img src="{TRACKER}/x.gif"></xmp>'),
    ("CDATA in svg is text", f'<svg><![CDATA[ <img src="{TRACKER}/x.gif"> ]]></svg>'),
    ("plaintext", f'<plaintext><script src="{TRACKER}/t.js"></script>'),
    ("unterminated tag at EOF", f'<p>hi</p><img src="{TRACKER}/x.gif" alt="'),
    ("doctype and processing", "<!DOCTYPE html><html><body><p>a < b and c<d</p></body></html>"),
    ("inline svg icon",
     '<a href="/x">More <svg class="icon" width="16" height="16" aria-hidden="true">'
     '<use href="#arrow"></use></svg></a>'),
    ("svg with camelCase elements and a title",
     '<svg viewBox="0 0 24 24"><title>Arrow</title><defs><linearGradient id="g"><stop offset="0"/></linearGradient>'
     '</defs><path d="M0 0h24v24H0z" fill="url(#g)"/></svg>'),
    ("inert style attributes",
     "<div style=\"color:red; margin: 0 auto\">x</div><SPAN STYLE='font-weight:bold'>y</SPAN>"),
    ("first-party images with colons in alt and sizes",
     '<picture><source type="image/webp" srcset="/a.webp 400w, /b.webp 800w" sizes="(max-width: 600px) 100vw, 33vw">'
     '<img src="https://wgp.kz/a.jpg" alt="Проект: 1" width="400"></picture>'),
    ("textarea and title text",
     '<textarea name="m" rows="4"><img src="//t.example/x"></textarea><title>a <b> c</title>'),
]


@pytest.mark.parametrize(("label", "page", "expected"), TAG_FORMS, ids=[c[0] for c in TAG_FORMS])
def test_tag_form_is_rewritten(label: str, page: str, expected: str) -> None:
    assert filt(page) == expected


@pytest.mark.parametrize(("label", "page"), UNCHANGED, ids=[c[0] for c in UNCHANGED])
def test_tag_form_passes_unchanged(label: str, page: str) -> None:
    assert filt(page) == page


@pytest.mark.parametrize(
    ("label", "page"),
    [(c[0], c[1]) for c in TAG_FORMS] + list(UNCHANGED),
    ids=[c[0] for c in TAG_FORMS] + [c[0] for c in UNCHANGED],
)
def test_small_case_gives_the_same_output_at_every_split_point(label: str, page: str) -> None:
    data = page.encode()
    whole = run(data)
    assert [i for i in range(len(data) + 1) if run(data, plan(), [i]) != whole] == []



def test_a_srcdoc_iframe_that_loads_a_tracker_is_blocked_behind_its_placeholder() -> None:
    from tests.rewrite.conftest import filt

    srcdoc = ("&lt;a href=https://www.youtube.com/embed/abc?autoplay=1&gt;&lt;img "
              "src=https://i.ytimg.com/vi/abc/hqdefault.jpg&gt;&lt;/a&gt;")
    out = filt(f'<iframe srcdoc="{srcdoc}" title="video"></iframe>')
    assert out.startswith('<iframe data-consent-category="marketing" data-consent-style="" style="display:none" '
                          f'data-consent-srcdoc="{srcdoc}" title="video"></iframe><div class="consent-placeholder"')
    assert "YouTube" in out


def test_a_srcdoc_of_the_sites_own_markup_passes() -> None:
    from tests.rewrite.conftest import filt

    tag = '<iframe srcdoc="&lt;p&gt;Hello &lt;img src=/logo.png&gt;&lt;/p&gt;"></iframe>'
    assert filt(tag) == tag


@pytest.mark.parametrize("head_html", ["", "<script src=/b.js></script>"], ids=["page", "after the banner"])
def test_svg_use_on_a_tracker_is_blocked_and_the_sites_own_icons_pass(head_html: str) -> None:
    from tests.rewrite.conftest import plan, run

    icons = ('<svg class="icon"><use href="#icon-phone"></use></svg>'
             '<svg><use xlink:href="/local/templates/main/sprite.svg#mail"/></svg>')
    tracker = '<svg><use href="https://tracker.example/s.svg#x"/></svg>'
    page = f"<p>x</p>{icons}{tracker}".encode()
    out = run(page, plan(head_html=head_html))
    assert icons.encode() in out
    assert b'<use data-consent-category="marketing" data-consent-href="https://tracker.example/s.svg#x"/>' in out
    assert all(run(page, plan(head_html=head_html), [cut]) == out for cut in range(1, len(page)))

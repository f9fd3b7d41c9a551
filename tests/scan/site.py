"""The scanner's test site: known trackers, a first-party cookie and storage key, and optionally a planted bypass.

`/clean/` and `/clean/about` load GTM (whose inline snippet also sets `_ga`, as gtag would), Yandex.Metrika,
the Meta Pixel loader and a pixel from an unknown host. `/planted/` is the same page plus a first-party script
the gateway cannot recognise: it writes the Meta `_fbp` cookie with the name built from pieces, so nothing
in the markup names Meta. Every third-party host is answered by the scanner's --offline stubs.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Scan test {title}</title>
<script>(function(w,d,s,l,i){{w[l]=w[l]||[];w[l].push({{'gtm.start':new Date().getTime(),event:'gtm.js'}});
var f=d.getElementsByTagName(s)[0],j=d.createElement(s);j.async=true;
j.src='https://www.googletagmanager.com/gtm.js?id='+i;f.parentNode.insertBefore(j,f);
d.cookie="_ga=GA1.1.1234567890.1700000000; path=/; max-age=63072000";
}})(window,document,'script','dataLayer','GTM-TEST01');</script>
<script async src="https://mc.yandex.ru/metrika/tag.js"></script>
<script async src="https://connect.facebook.net/en_US/fbevents.js"></script>
<script>document.cookie = "site_lang=en; path=/; max-age=86400"; localStorage.setItem("site_theme", "dark");</script>
{planted}
</head>
<body>
<h1>{title}</h1>
<img src="https://pixel.unknown-tracker.test/p.gif?page={title}" alt="" width="1" height="1">
<nav><a href="/{variant}/">home</a> <a href="/{variant}/about#team">about</a> <a href="https://elsewhere.test/">out</a>
<a href="/{variant}/brochure.pdf">brochure</a></nav>
</body>
</html>
"""
# The bypass: first-party, split across strings, so no signature, host or cookie name appears in the markup.
PLANTED = """<script>(function () { var n = "_f" + "bp"; document.cookie = n + "=fb.1.1700000000.42; path=/; max-age=7776000"; })();</script>"""


def _page(request: Request) -> Response:
    variant = request.path_params["variant"]
    name = request.path_params.get("name", "home")
    if variant not in ("clean", "planted") or name not in ("home", "about"):
        return Response(status_code=404)
    html = PAGE.format(title=name, variant=variant, planted=PLANTED if variant == "planted" else "")
    return HTMLResponse(html)


def app() -> Starlette:
    return Starlette(routes=[
        Route("/{variant}/", _page),
        Route("/{variant}/{name}", _page),
        Route("/favicon.ico", lambda r: Response(status_code=204)),
    ])

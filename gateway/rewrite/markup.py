"""The markup the gateway adds to a page: Consent Mode defaults, the banner tag, the iframe placeholder.

Pure functions of their arguments, so their exact output is pinned by tests (tests/rewrite/test_markup.py).
"""

from __future__ import annotations

import functools
import html
import json
import re

_SCRIPT_OPEN = re.compile(r"<script(?=[\s/>])(?![^>]*\snonce\s*=)", re.IGNORECASE)


def consent_mode_script(consent_mode: tuple[tuple[str, str], ...], nonce: str | None) -> str:
    """Google Consent Mode v2 defaults, to run before the page's first script."""
    attr = f' nonce="{nonce}"' if nonce else ""
    mode = json.dumps(dict(consent_mode), separators=(",", ":"))
    return (f"<script{attr}>window.dataLayer=window.dataLayer||[];"
            f"function gtag(){{dataLayer.push(arguments);}}gtag('consent','default',{mode});</script>")


def banner_tag(src: str, nonce: str | None, granted: tuple[str, ...] | None) -> str:
    """The banner's script tag; ``granted`` (None: no attribute) tells it which categories the CSP admits."""
    attr = f' nonce="{nonce}"' if nonce else ""
    admits = "" if granted is None else f' data-consent-csp="{" ".join(granted)}"'
    return f'<script{attr} src="{src}"{admits} defer></script>'


# The form a visitor without JavaScript answers; it stands on its own (inline styles, no script, equal buttons).
_FORM_STYLE = ("margin:0;padding:12px 16px;border-bottom:1px solid #8a94a0;background:#f4f6f8;color:#1b1f24;"
               "font:15px/1.5 system-ui,sans-serif")
_FORM_BUTTON = ("font:inherit;min-width:11em;margin:8px 8px 0 0;padding:.5em 1em;border:2px solid #0a4d8c;"
                "border-radius:4px;background:#0a4d8c;color:#fff;cursor:pointer")


def noscript_form(action: str, title: str, body: str, link_label: str, link_url: str, accept: str, reject: str) -> str:
    """The consent form for a browser without JavaScript: it posts to ``action`` and comes back with a 303.

    Inside ``<noscript>``, a scripting browser reads it as text and never shows it."""
    e = functools.partial(html.escape, quote=True)
    button = f'<button type="submit" name="action" style="{_FORM_BUTTON}" value='
    return (f'<noscript><form method="post" action="{e(action)}" data-consent-noscript style="{_FORM_STYLE}">'
            f'<p style="margin:0"><strong>{e(title)}</strong> {e(body)} <a href="{e(link_url)}">{e(link_label)}</a></p>'
            f'{button}"accept_all">{e(accept)}</button>{button}"reject_all">{e(reject)}</button>'
            f"</form></noscript>")


def head_markup(text: str, nonce: bytes | None, charset: str) -> bytes:
    """``text`` (the plan's head_html) encoded for the page, with the page's nonce, if given, on each of its
    ``<script`` tags that has none. What the charset cannot encode becomes character references."""
    if nonce:
        value = html.escape(nonce.decode("ascii", "replace"), quote=True)
        text = _SCRIPT_OPEN.sub(lambda _: f'<script nonce="{value}"', text)
    return text.encode(charset, "xmlcharrefreplace")


# Inline, so the placeholder has its final size from the first byte (no layout shift when a stylesheet
# arrives) and a site's own CSS for .consent-placeholder still applies where it sets !important.
_PLACEHOLDER_STYLE = ("display:flex;flex-direction:column;align-items:flex-start;gap:.5em;box-sizing:border-box;"
                      "max-width:560px;padding:1em;border:1px dashed #8a94a0;border-radius:6px;"
                      "background:#f4f6f8;color:#1b1f24;font:15px/1.5 system-ui,sans-serif")
_BUTTON_STYLE = "font:inherit;padding:.4em 1em;border:0;border-radius:4px;background:#0a4d8c;color:#fff;cursor:pointer"


@functools.lru_cache(maxsize=256)
def placeholder_markup(template: str, label: str, category: str, title: str, charset: str) -> bytes:
    """Placeholder after a blocked iframe: ``{vendor}`` in the template is ``label``, ``{category}`` is
    ``title``, and the template's last sentence is the button label."""
    text = template.replace("{vendor}", label).replace("{category}", title)
    message, dot, button = text.rpartition(". ")
    if not dot:
        message, button = text, "Load"
    else:
        message += "."
    markup = (
        f'<div class="consent-placeholder" data-consent-placeholder data-consent-category="{category}" '
        f'style="{_PLACEHOLDER_STYLE}"><p style="margin:0">{html.escape(message)}</p>'
        f'<button type="button" data-consent-load style="{_BUTTON_STYLE}">{html.escape(button)}</button></div>'
    )
    return markup.encode(charset, "xmlcharrefreplace")

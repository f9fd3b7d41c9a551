"""Incremental bytes -> bytes HTML rewrite: neutralise blocked third-party tags and inject the banner.

No I/O and no ASGI here: the middleware and the proxy feed body chunks and send what comes back. The page
is tokenised with compiled regular expressions over bytes; text and tags that need no change are copied by
slicing, so a page with nothing blocked and nothing to inject comes out byte for byte identical. Only an
incomplete construct at the end of a chunk is carried over.

Where each concern lives (imports run down this list, never up):

- ``filter``: ``HtmlFilter``, the streaming state machine, and ``FilterPlan``; its behaviour in detail.
- ``inject``: where the banner, Consent Mode defaults and the no-JavaScript form go, once each.
- ``opentag``: a tag still open at the end of a chunk, held until its ">".
- ``scripts``: inline scripts held until their body is known.
- ``tags``: start tags through the rules; the blocked-element markup.
- ``css``: ``url()``/``@import`` in style blocks and attributes.
- ``markup``: what the gateway adds (Consent Mode defaults, banner tag, no-JavaScript form, iframe placeholder).
- ``charset``: which charset values are decoded with and insertions encoded in.
- ``tokenizer``: the compiled patterns, after the WHATWG tokenizer.
- ``rules``: which elements load from which attributes, as a table; a new rule is one row.
"""

from gateway.rewrite.charset import sniff_charset
from gateway.rewrite.filter import FilterPlan, HtmlFilter
from gateway.rewrite.markup import banner_tag, consent_mode_script, noscript_form, placeholder_markup

__all__ = ["FilterPlan", "HtmlFilter", "banner_tag", "consent_mode_script", "noscript_form", "placeholder_markup",
           "sniff_charset"]

"""The rules table, row by row: each element and attribute it names is neutralised on a tracker host and passes
byte for byte on the site's own. A new row in ``rules.LOADS`` is covered here without a new test; a new gate
needs its row in GATE_CASES."""

from __future__ import annotations

import pytest

from gateway.rewrite import rules
from gateway.rewrite.rules import SRCSET, Load
from tests.rewrite.conftest import BANNER, TRACKER, plan, run

# gated element -> (a value of its gate attribute with which it loads, one with which it does not)
GATE_CASES = {b"link": ("stylesheet", "canonical"), b"input": ("image", "text")}
# (label, head_html, text before the tag, text after it, another attribute of the tag): a plain page, one the
# banner goes into (the tokenizer's fast paths then decide first), noscript text. A ":" in another attribute
# sends the tag to the fast path that checks the URL attributes by name.
Context = tuple[str, str, str, str, str]
CONTEXTS: list[Context] = [
    ("page", "", "", "", ""),
    ("after the banner", BANNER, "<p>x</p>", "", ""),
    ("after the banner, a colon elsewhere", BANNER, "<p>x</p>", "", ' title="Note: 1"'),
    ("noscript", "", "<noscript>", "</noscript>", ""),
]
# A row for every element is tried on elements with rows of their own and on ones without.
ANY_ELEMENTS = (b"div", b"a", b"section", b"img", b"iframe", b"video")
CONCRETE = [r._replace(element=e) if r.element == rules.ANY else r
            for r in rules.LOADS for e in (ANY_ELEMENTS if r.element == rules.ANY else (r.element,))]
ROWS = [pytest.param(row, id=f"{row.element.decode()} {row.attribute.decode()}") for row in CONCRETE]
CONTEXT_PARAMS = [pytest.param(c, id=c[0]) for c in CONTEXTS]


def tag(row: Load, url: str, context: Context, gate_value: int = 0) -> tuple[str, str]:
    """(the attributes before the rule's, and the rule's own attribute) for ``row`` loading ``url``."""
    gate = rules.GATES.get(row.element)
    gate_attr = f' {gate.attribute.decode()}="{GATE_CASES[row.element][gate_value]}"' if gate else ""
    gate_attr += context[4]
    value = f"/a.png 1x, {url} 2x" if row.kind == SRCSET else url
    return gate_attr, f'{row.attribute.decode()}="{value}"'


def page_for(row: Load, url: str, context: Context, gate_value: int = 0) -> str:
    gate_attr, attr = tag(row, url, context, gate_value)
    end = f"</{row.element.decode()}>" if row.element in rules.RAWTEXT else ""
    return f"{context[2]}<{row.element.decode()}{gate_attr} {attr}>{end}{context[3]}"


def test_every_gate_has_cases() -> None:
    assert set(GATE_CASES) == set(rules.GATES)


@pytest.mark.parametrize("context", CONTEXT_PARAMS)
@pytest.mark.parametrize("row", ROWS)
def test_row_is_neutralised_on_a_tracker_host(row: Load, context: Context) -> None:
    head_html, before = context[1:3]
    p = plan(head_html=head_html)
    page = page_for(row, f"{TRACKER}/x", context).encode()
    gate_attr, attr = tag(row, f"{TRACKER}/x", context)
    hidden = ' data-consent-style="" style="display:none"' if row.element == b"iframe" else ""
    expected = f'<{row.element.decode()} data-consent-category="marketing"{hidden}{gate_attr} data-consent-{attr}>'
    out = run(page, p).decode()
    assert out.startswith(head_html + before + expected)
    assert [i for i in range(1, len(page)) if run(page, p, [i]) != out.encode()] == []


@pytest.mark.parametrize("context", CONTEXT_PARAMS)
@pytest.mark.parametrize("url", ["https://wgp.kz/x", "//cdn.wgp.kz/x", "/x", "x.png"])
@pytest.mark.parametrize("row", ROWS)
def test_row_passes_byte_for_byte_on_the_site_itself(row: Load, url: str, context: Context) -> None:
    head_html = context[1]
    page = page_for(row, url, context)
    out = run(page.encode(), plan(head_html=head_html)).decode()
    assert out == (page.replace("<p>", head_html + "<p>", 1) if head_html else page)


@pytest.mark.parametrize("row", [r for r in ROWS if r.values[0].element in rules.GATES])
def test_gated_row_loads_nothing_without_its_gate(row: Load) -> None:
    page = page_for(row, f"{TRACKER}/x", CONTEXTS[0], gate_value=1)
    assert run(page.encode(), plan()).decode() == page


SCRIPT_TYPES = [("", True), ("module", True), ("text/javascript", True), (" Text/JavaScript ", True),
                ("text/javascript; charset=utf-8", True), ("application/ecmascript", True),
                ("application/ld+json", False), ("importmap", False), ("text/plain", False), ("text/x-template", False)]


@pytest.mark.parametrize(("script_type", "runs"), SCRIPT_TYPES)
def test_script_types_that_run(script_type: str, runs: bool) -> None:
    assert rules.executable(script_type) is runs


@pytest.mark.parametrize(("categories", "expected"), [({"preferences"}, "preferences"), (["analytics", "preferences"], "analytics"),
                                                       ({"marketing", "analytics", "preferences"}, "marketing")])
def test_strictest_category_wins(categories: list[str] | set[str], expected: str) -> None:
    assert rules.strictest(categories) == expected

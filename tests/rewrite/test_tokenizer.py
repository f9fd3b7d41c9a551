"""The tokenizer's patterns and readers, and their agreement with the rules table."""

from __future__ import annotations

import re

import pytest

from gateway.rewrite import rules, tokenizer


def test_skip_patterns_know_every_element_and_attribute_the_filter_rewrites() -> None:
    """The regex fast paths decide "nothing to rewrite" on their own; they must treat every element with URL
    attributes as loading, and every URL attribute name as one whose value has to be relative."""
    assert set(rules.URL_ATTRS) <= set(rules.LOADING)
    url_names = re.compile(tokenizer._URL_NAMES)
    assert all(url_names.fullmatch(n) for names in rules.URL_ATTRS.values() for n, _ in names)



def test_attr_picker_reads_every_duplicate_and_never_a_name_inside_a_value() -> None:
    pick = tokenizer.attr_picker(b"src", b"style")
    tag = b"<img alt='src=x' SRC=\"/a.png\" data-src=/b style = 'c' src=/c>"
    assert pick(tag, 4) == [
        tokenizer.Attr(b"src", tag.index(b"SRC"), b"/a.png"),
        tokenizer.Attr(b"style", tag.index(b"style"), b"c"),
        tokenizer.Attr(b"src", tag.index(b"src=/c"), b"/c"),
    ]


SCRIPT_ENDS = [
    ("end tag", b"var a;</script>", 0, (6, 0, 0)),
    ("no end yet", b"var a; </scr", 0, (-1, 0, 0)),
    ("escaped, then ended", b"<!-- x </script>", 0, (7, 2, 1)),
    ("double escaped is not the end", b"<!--<script></script>--></script>", 0, (24, 24, 0)),
    ("sub-state carried over a chunk edge", b"</script>--></script>", 2, (12, 12, 0)),
]


@pytest.mark.parametrize(("label", "buf", "sub", "expected"), SCRIPT_ENDS, ids=[c[0] for c in SCRIPT_ENDS])
def test_script_end(label: str, buf: bytes, sub: int, expected: tuple[int, int, int]) -> None:
    assert tokenizer.script_end(buf, 0, sub) == expected


def test_tag_tail_follows_quotes_to_the_end_of_a_tag() -> None:
    rest = b"AAAA\" title='x>y' b=c>after"
    assert tokenizer.tag_tail(rest, 0, "dq") == (rest.index(b"after"), "done")
    assert tokenizer.tag_tail(b"AAAA", 0, "dq") == (4, "dq")

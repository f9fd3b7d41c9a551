"""The tokenizer's patterns and readers, and their agreement with the rules table."""

from __future__ import annotations

import re

from gateway.rewrite import rules, tokenizer


def test_skip_patterns_know_every_element_and_attribute_the_filter_rewrites() -> None:
    """The regex fast paths decide "nothing to rewrite" on their own; they must treat every element with URL
    attributes as loading, and every URL attribute name as one whose value has to be relative."""
    assert set(rules.URL_ATTRS) <= set(rules.LOADING)
    url_names = re.compile(tokenizer._URL_NAMES)
    assert all(url_names.fullmatch(n) for names in rules.URL_ATTRS.values() for n, _ in names)


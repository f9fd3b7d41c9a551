"""CSS url() and @import: in <style> blocks through the filter, and the css module's functions directly."""

from __future__ import annotations

import pytest

from tests.rewrite.conftest import TRACKER, filt, plan, run

CSS_FORMS = [
    (
        "style block url()",
        f'<style>.a{{background:url("{TRACKER}/x.png")}} .b{{background:url(/ok.png)}}</style>',
        f'<style>.a{{background:url("data:,")/*consent-blocked:marketing:{TRACKER}/x.png*/}} '
        ".b{background:url(/ok.png)}</style>",
    ),
    (
        "style block @import",
        '<style>@import "https://fonts.googleapis.com/css?family=Roboto"; body{margin:0}</style>',
        '<style>@import url("data:,")/*consent-blocked:preferences:https://fonts.googleapis.com/css?family=Roboto*/;'
        " body{margin:0}</style>",
    ),
]

CSS_UNCHANGED = [
    ("style block without url()", "<style>.a{color:red}.b:hover{background:#fff}</style>"),
]


@pytest.mark.parametrize(("label", "page", "expected"), CSS_FORMS, ids=[c[0] for c in CSS_FORMS])
def test_style_block_is_rewritten(label: str, page: str, expected: str) -> None:
    assert filt(page) == expected


@pytest.mark.parametrize(("label", "page"), CSS_UNCHANGED, ids=[c[0] for c in CSS_UNCHANGED])
def test_style_block_passes_unchanged(label: str, page: str) -> None:
    assert filt(page) == page


@pytest.mark.parametrize(
    ("label", "page"),
    [(c[0], c[1]) for c in CSS_FORMS] + list(CSS_UNCHANGED),
    ids=[c[0] for c in CSS_FORMS] + [c[0] for c in CSS_UNCHANGED],
)
def test_style_block_gives_the_same_output_at_every_split_point(label: str, page: str) -> None:
    data = page.encode()
    whole = run(data)
    assert [i for i in range(len(data) + 1) if run(data, plan(), [i]) != whole] == []

"""Planner: the consent and the request facts decide what a page gets, once per distinct combination."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.app import Components
from gateway.consent import ConsentState
from gateway.plans import Planner
from gateway.settings import Settings

from .conftest import BROWSER_UA

BOT_UA = b"Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)"
PEOPLE = BROWSER_UA.encode()
ANALYTICS_ONLY = ConsentState(decided=True, action="custom", granted=frozenset({"necessary", "analytics"}))
UNDECIDED = ConsentState()


@pytest.fixture
def planner(settings: Settings) -> Planner:
    return Components(settings).planner


@pytest.mark.parametrize(("state", "agent", "blocked", "banner"), [
    (UNDECIDED, PEOPLE, {"preferences", "analytics", "marketing"}, True),
    (ANALYTICS_ONLY, PEOPLE, {"preferences", "marketing"}, True),
    (ANALYTICS_ONLY, BOT_UA, {"preferences", "analytics", "marketing"}, False),  # bots never get a tracker
])
def test_decision_per_visitor(planner: Planner, state: ConsentState, agent: bytes, blocked: set[str],
                              banner: bool) -> None:
    decision = planner.decision(state, agent)
    assert decision.blocked == frozenset(blocked) and decision.show_banner is banner


def test_a_bot_page_gets_no_banner_tag(planner: Planner) -> None:
    plan = planner.plan(planner.decision(UNDECIDED, BOT_UA), b"wgp.kz", None, None)
    assert plan.head_html == ""


def test_the_banner_tag_says_what_a_decided_visitors_policy_admits(planner: Planner) -> None:
    undecided = planner.plan(planner.decision(UNDECIDED, PEOPLE), b"wgp.kz", None, None)
    decided = planner.plan(planner.decision(ANALYTICS_ONLY, PEOPLE), b"wgp.kz", None, None)
    assert 'data-consent-csp="necessary"' in undecided.head_html  # before a choice: what a refusal admits
    assert 'data-consent-csp="necessary analytics"' in decided.head_html
    assert '"analytics_storage":"granted"' in decided.early_html and '"ad_storage":"denied"' in decided.early_html


def test_with_vendors_admitted_before_a_choice_an_undecided_banner_need_not_reload(settings: Settings) -> None:
    planner = Components(dataclasses.replace(settings, csp_first_visit="vendors")).planner
    plan = planner.plan(planner.decision(UNDECIDED, PEOPLE), b"wgp.kz", None, None)
    assert "data-consent-csp" not in plan.head_html


def test_the_pages_nonce_goes_on_every_injected_script(planner: Planner) -> None:
    plan = planner.plan(planner.decision(UNDECIDED, PEOPLE), b"wgp.kz", None, "r4nd0m")
    assert plan.head_html.startswith('<script nonce="r4nd0m" ') and plan.early_html.startswith('<script nonce="r4nd0m">')


@pytest.mark.parametrize(("accept_language", "word"), [(b"ru-RU,ru;q=0.9", "Маркетинг"), (b"en-US", "Marketing"),
                                                       (b"kk", "Маркетинг"), (None, "Маркетинг")])
def test_placeholder_labels_in_the_visitors_language(planner: Planner, accept_language: bytes | None,
                                                     word: str) -> None:
    plan = planner.plan(planner.decision(UNDECIDED, PEOPLE), b"wgp.kz", accept_language, None)
    assert dict(plan.category_labels)["marketing"].startswith(word)


def test_the_requested_host_counts_as_first_party(planner: Planner) -> None:
    plan = planner.plan(planner.decision(UNDECIDED, PEOPLE), b"www.wgp.kz:8443", None, None)
    assert "www.wgp.kz" in plan.first_party and "wgp.kz" in plan.first_party


def test_each_combination_is_decided_and_planned_once(planner: Planner) -> None:
    first = planner.decision(ANALYTICS_ONLY, PEOPLE)
    assert planner.decision(ANALYTICS_ONLY, PEOPLE) is first
    assert planner.plan(first, b"wgp.kz", b"ru", None) is planner.plan(first, b"wgp.kz", b"ru", None)

"""gateway/decision.py: what a response must block and show, from the consent and whether a bot asked."""

from __future__ import annotations

import pytest

from gateway.consent import UNDECIDED, ConsentState
from gateway.decision import Decision, consent_mode, decide
from gateway.vocabulary import CATEGORIES

OPTIONAL = frozenset({"preferences", "analytics", "marketing"})
ALL = frozenset(CATEGORIES)

NOTHING_GRANTED = (
    ("ad_storage", "denied"), ("ad_user_data", "denied"), ("ad_personalization", "denied"),
    ("analytics_storage", "denied"),
    ("functionality_storage", "denied"), ("personalization_storage", "denied"),
    ("security_storage", "granted"),
)
ANALYTICS_ONLY = (
    ("ad_storage", "denied"), ("ad_user_data", "denied"), ("ad_personalization", "denied"),
    ("analytics_storage", "granted"),
    ("functionality_storage", "denied"), ("personalization_storage", "denied"),
    ("security_storage", "granted"),
)
PREFERENCES_AND_MARKETING = (
    ("ad_storage", "granted"), ("ad_user_data", "granted"), ("ad_personalization", "granted"),
    ("analytics_storage", "denied"),
    ("functionality_storage", "granted"), ("personalization_storage", "granted"),
    ("security_storage", "granted"),
)
EVERYTHING_GRANTED = (
    ("ad_storage", "granted"), ("ad_user_data", "granted"), ("ad_personalization", "granted"),
    ("analytics_storage", "granted"),
    ("functionality_storage", "granted"), ("personalization_storage", "granted"),
    ("security_storage", "granted"),
)
CONSENT_MODE_KEYS = ["ad_storage", "ad_user_data", "ad_personalization", "analytics_storage",
                     "functionality_storage", "personalization_storage", "security_storage"]


def decided(*granted: str) -> ConsentState:
    return ConsentState(consent_id="id", decided=True, action="custom", granted=frozenset({"necessary", *granted}))


REJECTED = decided()
ANALYTICS = decided("analytics")
PREFS_MARKETING = decided("preferences", "marketing")
ACCEPTED = decided("preferences", "analytics", "marketing")
UNDECIDED_WITH_GRANTS = ConsentState(granted=ALL)  # grants without a decision count for nothing

DECISIONS = [
    ("undecided person", UNDECIDED, False, Decision(OPTIONAL, True, False, NOTHING_GRANTED)),
    ("undecided with stray grants", UNDECIDED_WITH_GRANTS, False, Decision(OPTIONAL, True, False, NOTHING_GRANTED)),
    ("rejected all", REJECTED, False, Decision(OPTIONAL, True, True, NOTHING_GRANTED)),
    ("analytics only", ANALYTICS, False,
     Decision(frozenset({"preferences", "marketing"}), True, True, ANALYTICS_ONLY)),
    ("preferences and marketing", PREFS_MARKETING, False,
     Decision(frozenset({"analytics"}), True, True, PREFERENCES_AND_MARKETING)),
    ("accepted all", ACCEPTED, False, Decision(frozenset(), True, True, EVERYTHING_GRANTED)),
    # Bots: every optional tracker blocked, no banner, treated as decided (the strict CSP), whatever the cookie.
    ("bot", UNDECIDED, True, Decision(OPTIONAL, False, True, NOTHING_GRANTED)),
    ("bot with a consent cookie", ACCEPTED, True, Decision(OPTIONAL, False, True, NOTHING_GRANTED)),
]


@pytest.mark.parametrize(("case", "state", "is_bot", "expected"), DECISIONS, ids=[d[0] for d in DECISIONS])
def test_decide(case: str, state: ConsentState, is_bot: bool, expected: Decision) -> None:
    assert decide(state, is_bot) == expected


@pytest.mark.parametrize(("is_bot", "expected"), [
    (False, Decision(frozenset({"marketing"}), True, True, ANALYTICS_ONLY)),
    (True, Decision(frozenset({"analytics", "marketing"}), False, True, NOTHING_GRANTED)),
])
def test_decide_blocks_only_among_the_configured_categories(is_bot: bool, expected: Decision) -> None:
    assert decide(ANALYTICS, is_bot, ("necessary", "analytics", "marketing")) == expected


CONSENT_MODES = [
    (UNDECIDED, NOTHING_GRANTED),
    (REJECTED, NOTHING_GRANTED),
    (ANALYTICS, ANALYTICS_ONLY),
    (PREFS_MARKETING, PREFERENCES_AND_MARKETING),
    (ACCEPTED, EVERYTHING_GRANTED),
]


@pytest.mark.parametrize(("state", "expected"), CONSENT_MODES)
def test_consent_mode_has_the_seven_keys_in_order(state: ConsentState, expected: tuple[tuple[str, str], ...]) -> None:
    mode = consent_mode(state)
    assert mode == expected
    assert [key for key, _ in mode] == CONSENT_MODE_KEYS


EQUAL_PAIRS = [
    (decide(ANALYTICS, False), decide(decided("analytics"), False)),
    (decide(UNDECIDED, True), decide(ACCEPTED, True)),
    (Decision(frozenset({"a", "b"}), True, False, ()), Decision(frozenset({"b", "a"}), True, False, ())),
]


@pytest.mark.parametrize(("one", "other"), EQUAL_PAIRS)
def test_equal_decisions_hash_equal_and_key_one_cache_entry(one: Decision, other: Decision) -> None:
    assert one is not other and one == other
    assert hash(one) == hash(other)
    assert len({one: 1, other: 2}) == 1


def test_hash_is_stable_once_computed() -> None:
    decision = decide(ANALYTICS, False)
    assert hash(decision) == hash(decision) == hash(decide(ANALYTICS, False))


DIFFERENT = [
    decide(UNDECIDED, False),
    decide(REJECTED, False),  # same blocked set and banner as undecided, but decided
    decide(UNDECIDED, True),  # same blocked set as rejected, no banner
    decide(ANALYTICS, False),
    decide(ACCEPTED, False),
]


def test_different_decisions_are_different_cache_keys() -> None:
    assert len(set(DIFFERENT)) == len(DIFFERENT)

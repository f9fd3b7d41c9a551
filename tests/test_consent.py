"""gateway/consent.py: the consent value and the rules of a PUT body, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.consent import UNDECIDED, ConsentState, new_consent_id, resolve_choice
from gateway.vocabulary import CATEGORIES

POLICY = "2025-01-15"
NEW_POLICY = "2025-06-01"
VALIDITY = timedelta(days=180)
DECIDED_AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ID = "c0ns3nt-1d"

NECESSARY = frozenset({"necessary"})
ALL = frozenset(CATEGORIES)
BUT_MARKETING = frozenset({"necessary", "preferences", "analytics"})
ANALYTICS = frozenset({"necessary", "analytics"})


def decided(granted: frozenset[str] = ANALYTICS, *, gpc: bool = False, consent_id: str | None = ID,
            action: str = "custom") -> ConsentState:
    return ConsentState(consent_id=consent_id, decided=True, action=action, granted=granted,
                        policy_version=POLICY, decided_at=DECIDED_AT, gpc=gpc)


# -- allows / blocked ----------------------------------------------------------------------------------------

UNDECIDED_WITH_GRANTS = ConsentState(granted=ALL)  # a grant counts only once decided

ALLOWS = [
    (UNDECIDED, "necessary", True),
    (UNDECIDED, "analytics", False),
    (UNDECIDED, "marketing", False),
    (UNDECIDED_WITH_GRANTS, "necessary", True),
    (UNDECIDED_WITH_GRANTS, "analytics", False),
    (decided(ANALYTICS), "necessary", True),
    (decided(ANALYTICS), "analytics", True),
    (decided(ANALYTICS), "preferences", False),
    (decided(ANALYTICS), "marketing", False),
    (decided(frozenset()), "necessary", True),  # necessary needs no grant
    (decided(ALL), "marketing", True),
    (decided(ALL), "unknown", False),
]


@pytest.mark.parametrize(("state", "category", "expected"), ALLOWS)
def test_allows(state: ConsentState, category: str, expected: bool) -> None:
    assert state.allows(category) is expected


BLOCKED = [
    (UNDECIDED, CATEGORIES, frozenset({"preferences", "analytics", "marketing"})),
    (UNDECIDED_WITH_GRANTS, CATEGORIES, frozenset({"preferences", "analytics", "marketing"})),
    (decided(ANALYTICS), CATEGORIES, frozenset({"preferences", "marketing"})),
    (decided(ALL), CATEGORIES, frozenset()),
    (decided(NECESSARY), ("necessary", "marketing"), frozenset({"marketing"})),
]


@pytest.mark.parametrize(("state", "categories", "expected"), BLOCKED)
def test_blocked(state: ConsentState, categories: tuple[str, ...], expected: frozenset[str]) -> None:
    assert state.blocked(categories) == expected


def test_blocked_defaults_to_every_category() -> None:
    assert decided(ANALYTICS).blocked() == frozenset({"preferences", "marketing"})


# -- is_stale / current --------------------------------------------------------------------------------------

STALE = [
    ("same policy, just decided", POLICY, DECIDED_AT, False),
    ("same policy, a second under validity", POLICY, DECIDED_AT + VALIDITY - timedelta(seconds=1), False),
    ("same policy, exactly at validity", POLICY, DECIDED_AT + VALIDITY, True),
    ("same policy, past validity", POLICY, DECIDED_AT + VALIDITY + timedelta(days=1), True),
    ("policy changed", NEW_POLICY, DECIDED_AT, True),
]


@pytest.mark.parametrize(("case", "policy", "now", "expected"), STALE, ids=[c[0] for c in STALE])
def test_is_stale(case: str, policy: str, now: datetime, expected: bool) -> None:
    assert decided().is_stale(policy, now, VALIDITY) is expected


def test_never_decided_is_always_stale() -> None:
    assert ConsentState(policy_version=POLICY).is_stale(POLICY, DECIDED_AT, VALIDITY) is True


def test_current_consent_is_kept_as_it_is() -> None:
    state = decided(gpc=True)
    assert state.current(POLICY, DECIDED_AT + timedelta(days=1), VALIDITY) is state


CURRENT_WHEN_STALE = [
    ("policy changed", NEW_POLICY, DECIDED_AT),
    ("expired", POLICY, DECIDED_AT + VALIDITY),
]


@pytest.mark.parametrize(("case", "policy", "now"), CURRENT_WHEN_STALE, ids=[c[0] for c in CURRENT_WHEN_STALE])
@pytest.mark.parametrize("gpc", [False, True])
def test_stale_consent_becomes_undecided_keeping_id_and_gpc(case: str, policy: str, now: datetime,
                                                            gpc: bool) -> None:
    assert decided(ALL, gpc=gpc).current(policy, now, VALIDITY) == ConsentState(consent_id=ID, gpc=gpc)


def test_stale_consent_without_an_id_becomes_plain_undecided() -> None:
    assert decided(consent_id=None, gpc=True).current(NEW_POLICY, DECIDED_AT, VALIDITY) is UNDECIDED


def test_undecided_state_is_kept_whatever_the_policy() -> None:
    state = ConsentState(consent_id=ID, gpc=True)
    assert state.current(NEW_POLICY, DECIDED_AT, VALIDITY) is state


# -- to_json -------------------------------------------------------------------------------------------------

DECIDED_JSON = {
    "consent_id": ID,
    "decided": True,
    "action": "custom",
    "categories": {"necessary": True, "preferences": False, "analytics": True, "marketing": False},
    "policy_version": POLICY,
    "decided_at": "2025-03-01T12:00:00Z",
    "expires_at": "2025-08-28T12:00:00Z",
    "gpc": True,
}
UNDECIDED_JSON = {
    "consent_id": None,
    "decided": False,
    "action": None,
    "categories": {"necessary": True, "preferences": False, "analytics": False, "marketing": False},
    "policy_version": None,
    "decided_at": None,
    "expires_at": None,
    "gpc": False,
}
TO_JSON = [(decided(gpc=True), DECIDED_JSON), (UNDECIDED, UNDECIDED_JSON)]


@pytest.mark.parametrize(("state", "expected"), TO_JSON, ids=["decided", "undecided"])
def test_to_json(state: ConsentState, expected: dict[str, object]) -> None:
    assert state.to_json(CATEGORIES, VALIDITY) == expected


def test_to_json_lists_the_categories_asked_for_in_their_order() -> None:
    assert list(decided().to_json(("necessary", "analytics"), VALIDITY)["categories"]) == ["necessary", "analytics"]


def test_new_consent_ids_are_random_and_url_safe() -> None:
    ids = {new_consent_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 22 and i.replace("-", "").replace("_", "").isalnum() for i in ids)


# -- resolve_choice ------------------------------------------------------------------------------------------

CHOICES = [
    ("accept all", {"action": "accept_all"}, False, ("accept_all", ALL)),
    ("accept all under GPC keeps marketing refused", {"action": "accept_all"}, True, ("accept_all", BUT_MARKETING)),
    ("reject all", {"action": "reject_all"}, False, ("reject_all", NECESSARY)),
    ("reject all under GPC", {"action": "reject_all"}, True, ("reject_all", NECESSARY)),
    ("one category", {"categories": {"analytics": True}}, False, ("custom", ANALYTICS)),
    ("explicit false", {"categories": {"analytics": True, "marketing": False}}, False, ("custom", ANALYTICS)),
    ("empty object", {"categories": {}}, False, ("reject_all", NECESSARY)),
    ("every optional false", {"categories": {"preferences": False, "analytics": False, "marketing": False}},
     False, ("reject_all", NECESSARY)),
    ("necessary true only", {"categories": {"necessary": True}}, False, ("reject_all", NECESSARY)),
    ("every optional true", {"categories": {"preferences": True, "analytics": True, "marketing": True}},
     False, ("accept_all", ALL)),
    ("explicit marketing under GPC", {"categories": {"marketing": True}}, True,
     ("custom", frozenset({"necessary", "marketing"}))),
    ("every optional true under GPC", {"categories": {"preferences": True, "analytics": True, "marketing": True}},
     True, ("accept_all", ALL)),
    ("categories null counts as absent", {"action": "reject_all", "categories": None}, False,
     ("reject_all", NECESSARY)),
]


@pytest.mark.parametrize(("case", "body", "gpc", "expected"), CHOICES, ids=[c[0] for c in CHOICES])
def test_resolve_choice(case: str, body: dict[str, object], gpc: bool,
                        expected: tuple[str, frozenset[str]]) -> None:
    assert resolve_choice(body, CATEGORIES, gpc) == expected


def test_accept_all_grants_only_the_configured_categories() -> None:
    assert resolve_choice({"action": "accept_all"}, ("necessary", "analytics"), False) == ("accept_all", ANALYTICS)


BOTH_KEYS = "send either 'action' or 'categories', not both"
UNKNOWN_ACTION = "unknown action 'withdraw': expected 'accept_all' or 'reject_all'"
UNKNOWN_CATEGORY = "unknown category 'ads': expected one of necessary, preferences, analytics, marketing"
NOT_BOOL = "category 'analytics' must be true or false"
NECESSARY_REFUSED = "category 'necessary' cannot be refused"
NEITHER = "expected 'action' or a 'categories' object"

ERRORS = [
    ({"action": "accept_all", "categories": {"analytics": True}}, BOTH_KEYS),
    ({"action": "withdraw"}, UNKNOWN_ACTION),
    ({"categories": {"ads": True}}, UNKNOWN_CATEGORY),
    ({"categories": {"analytics": "yes"}}, NOT_BOOL),
    ({"categories": {"analytics": 1}}, NOT_BOOL),
    ({"categories": {"analytics": None}}, NOT_BOOL),
    ({"categories": {"necessary": False}}, NECESSARY_REFUSED),
    ({}, NEITHER),
    ({"categories": ["analytics"]}, NEITHER),
    ({"categories": "analytics"}, NEITHER),
]


@pytest.mark.parametrize(("body", "message"), ERRORS)
@pytest.mark.parametrize("gpc", [False, True])
def test_resolve_choice_names_what_is_wrong(body: dict[str, object], message: str, gpc: bool) -> None:
    with pytest.raises(ValueError) as raised:
        resolve_choice(body, CATEGORIES, gpc)
    assert str(raised.value) == message

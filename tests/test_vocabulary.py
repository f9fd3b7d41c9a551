"""Golden tests: the stored formats built on the vocabulary never change meaning.

A cookie signed by an earlier release must decode to the same consent; a bitmask written to the log or a rollup
must name the same categories. Reordering a tuple in gateway.vocabulary fails here before it misreads anything.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway import vocabulary as v
from gateway.signing import CookieSigner

# Signed with keys ("golden-key-newest", "golden-key-old") by the release of 2026-12-01.
GOLDEN_COOKIES = [
    ("WzEsIloyOXNaR1Z1TFdOdmJuTmxiblF0YVdRIiwiMjAyMy0wMS0xMiIsNSwyLDEsMTc5NjE1NTIwMF0.aw8sWQ.7m4QzVnF3C_M2QhqNQrYa0lfTC4",
     "Z29sZGVuLWNvbnNlbnQtaWQ", "custom", {"necessary", "analytics"}, True, datetime(2026, 12, 1, 20, 0, tzinfo=UTC)),
    ("WzEsIllXTmpaWEIwTFdGc2JDMXBaQSIsIjIwMjMtMDEtMTIiLDE1LDAsMCwxNzk2MTU1MjAwXQ.aw8sWQ.HUndsbssdmxEJmLHU2F2xpDJlhk",
     "YWNjZXB0LWFsbC1pZA", "accept_all", {"necessary", "preferences", "analytics", "marketing"}, False,
     datetime(2026, 12, 1, 20, 0, tzinfo=UTC)),
    # Signed by the older key alone: rotation keeps it valid.
    ("WzEsImNtVnFaV04wTFdsayIsIjIwMjMtMDEtMTIiLDEsMSwwLDE3OTYxNTE2MDBd.aw8sWQ.oUee65lJfFEKtDL6JqOaeS84_g0",
     "cmVqZWN0LWlk", "reject_all", {"necessary"}, False, datetime(2026, 12, 1, 19, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize(("value", "consent_id", "action", "granted", "gpc", "decided_at"), GOLDEN_COOKIES)
def test_a_cookie_signed_by_an_earlier_release_decodes_the_same(value, consent_id, action, granted, gpc, decided_at):
    signer = CookieSigner(("golden-key-newest", "golden-key-old"), max_age=10**10)
    state, reason = signer.loads(value)
    assert reason is None and state is not None
    assert (state.consent_id, state.action, state.granted, state.gpc, state.decided_at, state.policy_version) == (
        consent_id, action, frozenset(granted), gpc, decided_at, "2023-01-12")


@pytest.mark.parametrize(("mask", "categories"), [
    (1, {"necessary"}),
    (2, {"preferences"}),
    (4, {"analytics"}),
    (8, {"marketing"}),
    (5, {"necessary", "analytics"}),
    (15, {"necessary", "preferences", "analytics", "marketing"}),
])
def test_category_bits_keep_their_meaning(mask, categories):
    assert v.mask_to_categories(mask) == frozenset(categories)
    assert v.categories_to_mask(categories) == mask


@pytest.mark.parametrize(("code", "choice"), [(0, "accept_all"), (1, "reject_all"), (2, "custom")])
def test_cookie_action_codes_keep_their_meaning(code, choice):
    assert v.choice_for_code(code) == choice
    assert v.choice_code(choice) == code


@pytest.mark.parametrize("code", [-1, 3, 99])
def test_an_action_code_no_choice_owns_names_none(code):
    assert v.choice_for_code(code) is None


def test_an_unknown_category_is_no_bit():
    with pytest.raises(KeyError):
        v.categories_to_mask({"advertising"})


def test_the_log_records_every_choice_and_the_two_rights():
    assert v.ACTIONS == ("accept_all", "reject_all", "custom", "withdraw", "erase")
    assert v.OPTIONAL == ("preferences", "analytics", "marketing")

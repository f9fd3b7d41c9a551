"""Cookie decoding never raises: any text, and a real cookie damaged, give (state, None) or (None, reason).

A returned state carries only known categories and a known choice. The visitor reader, which takes the raw
Cookie and Sec-GPC header bytes of every request, never raises either.
"""

from __future__ import annotations

import string
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from gateway.consent import ConsentState
from gateway.metrics import Metrics
from gateway.settings import load_settings
from gateway.signing import BAD_SIGNATURE, EXPIRED, MALFORMED, SALT, CookieSigner
from gateway.visitor import VisitorReader
from gateway.vocabulary import CATEGORIES, CHOICES
from tests.conftest import KEY, OLD_KEY

DAY = 86400
SIGNER = CookieSigner((KEY, OLD_KEY), 180 * DAY)
REASONS = {MALFORMED, BAD_SIGNATURE, EXPIRED}
SETTINGS = load_settings(env={}, secret_keys=(KEY,), data_dir=Path("unused"))
COOKIE = SETTINGS.cookie_name
# What a cookie value is made of (itsdangerous' URL-safe base64 and "."), and then anything at all.
COOKIE_CHARS = string.ascii_letters + string.digits + "-_.="
NOW = datetime.now(timezone.utc).replace(microsecond=0)

states = st.builds(
    ConsentState,
    consent_id=st.text(alphabet=COOKIE_CHARS, min_size=1, max_size=30),
    decided=st.just(True),
    action=st.sampled_from(CHOICES),
    granted=st.frozensets(st.sampled_from(CATEGORIES)).map(lambda g: g | {"necessary"}),
    policy_version=st.text(max_size=20),
    decided_at=st.just(NOW),
    gpc=st.booleans(),
)


def assert_outcome(result: tuple[ConsentState | None, str | None]) -> None:
    state, reason = result
    if state is None:
        assert reason in REASONS
    else:
        assert reason is None
        assert state.granted <= set(CATEGORIES) and "necessary" in state.granted
        assert state.action in CHOICES


@given(st.text(max_size=700) | st.text(alphabet=COOKIE_CHARS, max_size=200))
def test_any_text_is_refused_or_decoded_never_raises(value: str) -> None:
    assert_outcome(SIGNER.loads(value))


@st.composite
def damaged(draw: st.DrawFn) -> str:
    """A real signed cookie with characters flipped, cut, inserted or appended."""
    value = CookieSigner((draw(st.sampled_from([KEY, OLD_KEY])),), 180 * DAY).dumps(draw(states))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(value)))
        how = draw(st.sampled_from(["flip", "cut", "insert", "append", "truncate"]))
        piece = draw(st.text(alphabet=COOKIE_CHARS, min_size=1, max_size=4) | st.text(min_size=1, max_size=4))
        if how == "flip" and at < len(value):
            value = value[:at] + piece[0] + value[at + 1 :]
        elif how == "cut":
            value = value[:at] + value[at + len(piece) :]
        elif how == "insert":
            value = value[:at] + piece + value[at:]
        elif how == "append":
            value += piece
        else:
            value = value[:at]
    return value


@given(damaged())
def test_damaged_cookie_is_refused_or_decoded_never_raises(value: str) -> None:
    assert_outcome(SIGNER.loads(value))


@given(states)
def test_undamaged_cookie_round_trips(state: ConsentState) -> None:
    assert SIGNER.loads(SIGNER.dumps(state)) == (state, None)


# JSON the real key signed but this format never wrote (an older or newer format, or a bug elsewhere):
# still refused or decoded, never an exception, never an unknown category.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
near_format = st.tuples(
    st.just(1) | st.integers(-2, 3), st.text(max_size=8) | json_values, st.text(max_size=8) | json_values,
    st.integers(-(2**70), 2**70) | json_values, st.integers(-5, 5) | json_values, st.integers(-1, 2) | json_values,
    st.integers(-(2**70), 2**40) | json_values,
).map(list)


def signed(payload: object) -> str:
    return URLSafeTimedSerializer([KEY], salt=SALT).dumps(payload)


@given(near_format | json_values)
def test_any_payload_signed_with_the_key_never_raises(payload: object) -> None:
    assert_outcome(SIGNER.loads(signed(payload)))


# The format's own shape with any numbers in it, the decision time included (before 1970 or past the signing
# time it is malformed, never an exception).
well_typed = st.tuples(st.just(1), st.text(max_size=8), st.text(max_size=8), st.integers(), st.integers(),
                       st.integers(-1, 2), st.integers()).map(list)


@given(well_typed)
def test_any_well_typed_payload_signed_with_the_key_never_raises(payload: list[object]) -> None:
    assert_outcome(SIGNER.loads(signed(payload)))


@pytest.mark.parametrize("decided", [-62135596801, -(2**70)])
def test_signed_decision_time_out_of_range_is_malformed(decided: int) -> None:
    assert SIGNER.loads(signed([1, "id", "v", 1, 0, 0, decided])) == (None, MALFORMED)


READER = VisitorReader(SETTINGS, SIGNER, Metrics())
GOOD = SIGNER.dumps(ConsentState(consent_id="abc", decided=True, action="accept_all", granted=frozenset(CATEGORIES),
                                 policy_version=SETTINGS.policy_version, decided_at=NOW))


@st.composite
def cookie_headers(draw: st.DrawFn) -> bytes | None:
    """A Cookie header: anything, or cookies around ours (real, damaged or junk), quoted or %-escaped."""
    if draw(st.booleans()):
        return draw(st.none() | st.binary(max_size=300))
    ours = draw(st.sampled_from([GOOD, ""]) | damaged() | st.text(max_size=40))
    if draw(st.booleans()):
        ours = f'"{ours}"'
    if draw(st.booleans()):
        ours = ours.replace("-", "%2D").replace(".", "%")
    parts = draw(st.lists(st.text(alphabet=COOKIE_CHARS + " ;=\"", max_size=20), max_size=3))
    parts.insert(draw(st.integers(0, len(parts))), f"{COOKIE}={ours}")
    sep = draw(st.sampled_from(["; ", ";", " ; "]))
    return sep.join(parts).encode("utf-8", "surrogatepass")


@given(cookie_headers(), st.none() | st.sampled_from([b"1", b" 1 ", b"0"]) | st.binary(max_size=8))
def test_visitor_reader_never_raises(cookie: bytes | None, gpc: bytes | None) -> None:
    state = READER.read_raw(cookie, gpc)
    assert state.granted <= set(CATEGORIES)
    assert state.action in (*CHOICES, None)
    assert state == READER.read_raw(cookie, gpc)  # the remembered header gives the same answer

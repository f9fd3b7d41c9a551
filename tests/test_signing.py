from datetime import datetime, timedelta, timezone

import pytest

from gateway.consent import ConsentState, new_consent_id
from gateway.signing import BAD_SIGNATURE, EXPIRED, MALFORMED, CookieSigner

OLD_KEY = "o" * 40
NEW_KEY = "n" * 40
DAY = 86400


def decided(**kw: object) -> ConsentState:
    base = dict(consent_id=new_consent_id(), decided=True, action="custom",
                granted=frozenset({"necessary", "analytics"}), policy_version="2023-01-12")
    base.update(kw)
    return ConsentState(**base)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field() -> None:
    signer = CookieSigner((NEW_KEY,), 180 * DAY)
    state = decided(gpc=True)
    loaded, reason = signer.loads(signer.dumps(state))
    assert reason is None and loaded is not None
    assert (loaded.consent_id, loaded.action, loaded.granted, loaded.policy_version, loaded.gpc) == (
        state.consent_id, "custom", frozenset({"necessary", "analytics"}), "2023-01-12", True)
    assert loaded.decided and loaded.decided_at is not None


def test_cookie_is_compact() -> None:
    assert len(CookieSigner((NEW_KEY,), DAY).dumps(decided())) < 120


def test_old_key_still_verifies_after_rotation_and_new_writes_use_newest() -> None:
    old_cookie = CookieSigner((OLD_KEY,), DAY).dumps(decided())
    rotated = CookieSigner((NEW_KEY, OLD_KEY), DAY)
    assert rotated.loads(old_cookie)[0] is not None
    new_cookie = rotated.dumps(decided())
    assert CookieSigner((NEW_KEY,), DAY).loads(new_cookie)[0] is not None
    assert CookieSigner((OLD_KEY,), DAY).loads(new_cookie) == (None, BAD_SIGNATURE)


def test_unknown_key_is_refused() -> None:
    cookie = CookieSigner(("x" * 40,), DAY).dumps(decided())
    assert CookieSigner((NEW_KEY,), DAY).loads(cookie) == (None, BAD_SIGNATURE)


def test_expired_cookie_is_refused_even_when_cached() -> None:
    signer = CookieSigner((NEW_KEY,), DAY)
    cookie = signer.dumps(decided())
    assert signer.loads(cookie)[0] is not None  # now cached
    later = datetime.now(timezone.utc).timestamp() + DAY + 5
    assert signer.loads(cookie, now=later) == (None, EXPIRED)


def test_expired_cookie_fresh_signer() -> None:
    signer = CookieSigner((NEW_KEY,), 1)
    cookie = signer.dumps(decided())
    import time

    time.sleep(2.1)
    assert CookieSigner((NEW_KEY,), 1).loads(cookie) == (None, EXPIRED)


GOOD = CookieSigner((NEW_KEY,), DAY).dumps(decided())
BAD_FORMS = {
    "empty": "",
    "garbage": "not-a-cookie",
    "truncated": GOOD[:-6],
    "tampered payload": "X" + GOOD[1:],
    # The last base64 character carries padding bits: flip one in the middle of the signature instead.
    "tampered signature": GOOD[:-5] + ("A" if GOOD[-5] != "A" else "B") + GOOD[-4:],
    "huge": GOOD + "A" * 1000,
    "dots only": "...",
    "unicode": "ключ.значение.подпись",
}


@pytest.mark.parametrize("value", BAD_FORMS.values(), ids=BAD_FORMS.keys())
def test_bad_cookie_forms_mean_no_consent(value: str) -> None:
    state, reason = CookieSigner((NEW_KEY,), DAY).loads(value)
    assert state is None and reason in (MALFORMED, BAD_SIGNATURE, EXPIRED)


def test_wrong_payload_shape_signed_with_our_key_is_malformed() -> None:
    from itsdangerous import URLSafeTimedSerializer

    from gateway.signing import SALT

    forged = URLSafeTimedSerializer([NEW_KEY], salt=SALT).dumps({"admin": True})
    assert CookieSigner((NEW_KEY,), DAY).loads(forged) == (None, MALFORMED)


def test_policy_change_and_age_make_consent_stale() -> None:
    now = datetime.now(timezone.utc)
    state = decided(decided_at=now - timedelta(days=10))
    validity = timedelta(days=180)
    assert not state.is_stale("2023-01-12", now, validity)
    assert state.is_stale("2024-05-01", now, validity)
    assert state.is_stale("2023-01-12", now + timedelta(days=171), validity)
    reset = state.current("2024-05-01", now, validity)
    assert not reset.decided and reset.consent_id == state.consent_id
    assert not reset.allows("analytics") and reset.allows("necessary")

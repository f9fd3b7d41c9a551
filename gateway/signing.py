"""Consent cookie <-> ConsentState with itsdangerous: key rotation, expiry, and one place for bad cookies.

The payload is compact: [format version, consent id, policy version, granted bitmask, action, gpc,
decision time in epoch seconds]; itsdangerous' own timestamp bounds the cookie's age. Verified values are
cached (the signature check costs tens of microseconds per request); the age is still checked on every call.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime, timezone

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from .consent import ConsentState
from .vocabulary import NECESSARY, categories_to_mask, choice_code, choice_for_code, mask_to_categories

FORMAT = 1
SALT = "consent-gateway.cookie"
MAX_COOKIE = 512

# Reasons a cookie was refused, counted in metrics.
MALFORMED = "malformed"
BAD_SIGNATURE = "bad_signature"
EXPIRED = "expired"


class CookieSigner:
    """Signs with the newest key, verifies with any; `keys` are newest first, as in GATEWAY_SECRET_KEYS."""

    def __init__(self, keys: tuple[str, ...], max_age: int, cache_size: int = 4096) -> None:
        if not keys:
            raise ValueError("at least one signing key is required")
        # itsdangerous wants oldest -> newest and signs with the last.
        self._serializer = URLSafeTimedSerializer(list(reversed(keys)), salt=SALT)
        self._max_age = max_age
        self._cache: OrderedDict[str, tuple[ConsentState, float]] = OrderedDict()
        self._cache_size = cache_size

    def dumps(self, state: ConsentState) -> str:
        decided = int(state.decided_at.timestamp()) if state.decided_at else int(time.time())
        payload = [FORMAT, state.consent_id, state.policy_version, categories_to_mask(state.granted),
                   choice_code(state.action or "reject_all"), int(state.gpc), decided]
        return self._serializer.dumps(payload)

    def loads(self, value: str, now: float | None = None) -> tuple[ConsentState | None, str | None]:
        """Return (state, None) or (None, reason). Never raises: a bad cookie means "no consent yet"."""
        now = time.time() if now is None else now
        hit = self._cache.get(value)
        if hit is not None:
            state, signed_at = hit
            if now - signed_at > self._max_age:
                return None, EXPIRED
            return state, None
        if len(value) > MAX_COOKIE:
            return None, MALFORMED
        try:
            payload, signed = self._serializer.loads(value, max_age=self._max_age, return_timestamp=True)
        except SignatureExpired:
            return None, EXPIRED
        except BadData:
            return None, BAD_SIGNATURE
        decoded = _decode(payload, signed)
        if decoded is None:
            return None, MALFORMED
        self._remember(value, decoded)
        return decoded, None

    def expires_at(self, value: str) -> float:
        """When a cookie this signer accepted stops verifying (epoch seconds)."""
        hit = self._cache.get(value)
        return hit[1] + self._max_age if hit is not None else 0.0

    def _remember(self, value: str, state: ConsentState) -> None:
        assert state.decided_at is not None
        self._cache[value] = (state, state.decided_at.timestamp())
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _decode(payload: object, signed: datetime) -> ConsentState | None:
    if not (isinstance(payload, list) and len(payload) == 7 and payload[0] == FORMAT):
        return None
    _, cid, policy, mask, action, gpc, decided = payload
    if not (isinstance(cid, str) and isinstance(policy, str) and isinstance(mask, int)
            and isinstance(action, int) and gpc in (0, 1)
            and isinstance(decided, int) and decided <= signed.timestamp() + 1):
        return None
    choice = choice_for_code(action)
    if choice is None or decided < 0:  # before 1970: never a decision this gateway signed
        return None
    return ConsentState(
        consent_id=cid, decided=True, action=choice, granted=mask_to_categories(mask) | {NECESSARY},
        policy_version=policy, decided_at=datetime.fromtimestamp(decided, timezone.utc), gpc=bool(gpc),
    )

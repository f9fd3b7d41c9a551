"""Reading consent from request headers, including the cache of recently verified cookies."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timedelta, timezone

import pytest

from gateway import visitor
from gateway.consent import ConsentState, new_consent_id
from gateway.metrics import Metrics
from gateway.settings import Settings
from gateway.signing import CookieSigner
from gateway.visitor import VisitorReader

from .conftest import KEY


def make(settings: Settings, **overrides: object) -> tuple[VisitorReader, CookieSigner]:
    s = dataclasses.replace(settings, **overrides)
    signer = CookieSigner((KEY,), s.validity_seconds)
    return VisitorReader(s, signer, Metrics()), signer


def cookie(signer: CookieSigner, decided_at: datetime, policy: str = "2023-01-12") -> str:
    return signer.dumps(ConsentState(consent_id=new_consent_id(), decided=True, action="accept_all",
                                     granted=frozenset({"necessary", "analytics"}), policy_version=policy,
                                     decided_at=decided_at))


def read_both(reader: VisitorReader, header: str | None, gpc: str | None) -> ConsentState:
    """The API's path (str headers) and the middleware's (raw bytes, whole-header cache) must agree."""
    as_text = reader.read(header, gpc)
    raw = reader.read_raw(None if header is None else header.encode("latin-1"),
                          None if gpc is None else gpc.encode("latin-1"))
    assert raw == as_text
    return raw


def test_cached_consent_still_expires_on_time(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    reader, signer = make(settings, validity_days=1)
    value = cookie(signer, datetime.now(timezone.utc).replace(microsecond=0))
    header = f"a=1; wgp_consent={value}; b=2"
    assert read_both(reader, header, None).decided
    assert read_both(reader, header, None).decided  # from the caches
    later = time.time() + 86400 + 5
    monkeypatch.setattr(visitor.time, "time", lambda: later)
    monkeypatch.setattr(visitor, "datetime", type("D", (), {"now": staticmethod(
        lambda tz=None: datetime.fromtimestamp(later, timezone.utc))}))
    import gateway.signing as signing

    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert read_both(reader, header, None).decided is False


def test_gpc_header_marks_cached_state(settings: Settings) -> None:
    reader, signer = make(settings)
    header = f"wgp_consent={cookie(signer, datetime.now(timezone.utc))}"
    assert read_both(reader, header, None).gpc is False
    assert read_both(reader, header, "1").gpc is True
    assert read_both(reader, header, None).gpc is False  # the cached state is not marked for everyone
    assert read_both(reader, None, "1").gpc is True and read_both(reader, None, "0").gpc is False


@pytest.mark.parametrize("header", ["wgp_consent=", "xwgp_consent=abc", "wgp_consent_old=abc", "", "wgp_consent"])
def test_missing_or_lookalike_cookie_is_no_consent(settings: Settings, header: str) -> None:
    reader, _ = make(settings)
    assert read_both(reader, header, None).decided is False


def test_quoted_cookie_value_is_read(settings: Settings) -> None:
    reader, signer = make(settings)
    value = cookie(signer, datetime.now(timezone.utc))
    assert read_both(reader, f'wgp_consent="{value}"', None).decided


def test_stale_policy_is_not_cached_as_decided(settings: Settings) -> None:
    reader, signer = make(settings, policy_version="2026-01-01")
    header = f"wgp_consent={cookie(signer, datetime.now(timezone.utc) - timedelta(days=1))}"
    for _ in range(2):
        state = read_both(reader, header, None)
        assert state.decided is False and state.consent_id is not None


def test_a_tampered_cookie_is_counted_on_every_request(settings: Settings) -> None:
    s = dataclasses.replace(settings)
    metrics = Metrics()
    reader = VisitorReader(s, CookieSigner((KEY,), s.validity_seconds), metrics)
    header = f"wgp_consent={cookie(CookieSigner((KEY,), 60), datetime.now(timezone.utc))}x".encode()
    for _ in range(3):
        assert reader.read_raw(header, None).decided is False  # never remembered as if it were valid
    counted = [x.value for m in metrics.invalid_cookies.collect() for x in m.samples if x.name.endswith("_total")]
    assert sum(counted) == 3

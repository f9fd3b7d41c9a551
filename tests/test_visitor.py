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


def test_cached_consent_still_expires_on_time(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    reader, signer = make(settings, validity_days=1)
    value = cookie(signer, datetime.now(timezone.utc).replace(microsecond=0))
    header = f"a=1; wgp_consent={value}; b=2"
    assert reader.read(header, None).decided
    assert reader.read(header, None).decided  # from the cache
    later = time.time() + 86400 + 5
    monkeypatch.setattr(visitor.time, "time", lambda: later)
    monkeypatch.setattr(visitor, "datetime", type("D", (), {"now": staticmethod(
        lambda tz=None: datetime.fromtimestamp(later, timezone.utc))}))
    import gateway.signing as signing

    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert reader.read(header, None).decided is False


def test_gpc_header_marks_cached_state(settings: Settings) -> None:
    reader, signer = make(settings)
    header = f"wgp_consent={cookie(signer, datetime.now(timezone.utc))}"
    assert reader.read(header, None).gpc is False
    assert reader.read(header, "1").gpc is True
    assert reader.read(None, "1").gpc is True and reader.read(None, "0").gpc is False


@pytest.mark.parametrize("header", ["wgp_consent=", "xwgp_consent=abc", "wgp_consent_old=abc", "", "wgp_consent"])
def test_missing_or_lookalike_cookie_is_no_consent(settings: Settings, header: str) -> None:
    reader, _ = make(settings)
    assert reader.read(header, None).decided is False


def test_quoted_cookie_value_is_read(settings: Settings) -> None:
    reader, signer = make(settings)
    value = cookie(signer, datetime.now(timezone.utc))
    assert reader.read(f'wgp_consent="{value}"', None).decided


def test_stale_policy_is_not_cached_as_decided(settings: Settings) -> None:
    reader, signer = make(settings, policy_version="2026-01-01")
    header = f"wgp_consent={cookie(signer, datetime.now(timezone.utc) - timedelta(days=1))}"
    for _ in range(2):
        state = reader.read(header, None)
        assert state.decided is False and state.consent_id is not None

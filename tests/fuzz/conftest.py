"""Hypothesis profiles for the fuzz suite: reproducible (derandomized, no example database) and bounded, so the
whole of tests/fuzz runs in well under 30 s on two cores. ``HYPOTHESIS_PROFILE=deep`` explores more, locally."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("fuzz", max_examples=150, derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz"))

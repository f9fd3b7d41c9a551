"""Prometheus counters for one app instance (a registry per app, never the global one)."""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

from .vocabulary import ACTIONS, OPTIONAL

AUTH_FAILURE_REASONS = ("missing", "malformed", "wrong")


class Metrics:
    """Counters of one app: each `create_app` owns a registry, so tests never share state; `serve --workers`
    adds every worker's counts up through prometheus_client's multiprocess files."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.decisions = Counter(
            "consent_decisions", "Consent decisions recorded, by action.", ["action"], registry=self.registry
        )
        self.opt_ins = Counter(
            "consent_opt_ins", "Decisions granting a category, by category.", ["category"], registry=self.registry
        )
        self.impressions = Counter("consent_banner_impressions", "Banner first layers shown.", registry=self.registry)
        self.invalid_cookies = Counter(
            "consent_invalid_cookies", "Consent cookies that failed verification, by reason.", ["reason"],
            registry=self.registry,
        )
        self.csp_reports = Counter("consent_csp_reports", "CSP violation reports received.", registry=self.registry)
        self.latency = Histogram(
            "consent_request_seconds", "Latency of gateway routes.", ["route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
        )
        self.admin_auth_failures = Counter(
            "consent_admin_auth_failures", "Admin requests refused, by reason (missing, malformed, wrong token).",
            ["reason"], registry=self.registry,
        )
        # Known label values start at 0, so rate() and absent() work before the first event of each kind.
        for action in ACTIONS:
            self.decisions.labels(action)
        for category in OPTIONAL:
            self.opt_ins.labels(category)
        for reason in AUTH_FAILURE_REASONS:
            self.admin_auth_failures.labels(reason)

    def render(self) -> bytes:
        """This process's counters, or every worker's summed when ``serve --workers`` shares them in files."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

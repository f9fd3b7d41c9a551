"""Running the gateway process: uvicorn options, one process or several workers.

One Python process uses one core. ``--workers N`` starts N processes that share the listening socket (uvicorn
supervises them and restarts any that dies); each builds its own app from the same settings, handed over
pickled in the environment of its own children without their secrets: each worker reads the signing keys, the
admin token and the database URL from the same variables or files the supervisor did, so no secret is ever
written into a process's environment. The consent log is shared through the database; Prometheus
counters are shared through prometheus_client's multiprocess files, so ``/metrics`` shows the sum of every
worker whichever one answers.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import gc
import os
import pickle
import shutil
from typing import Any

from .settings import Settings, read_secrets, validate

SETTINGS_ENV = "GATEWAY_WORKER_SETTINGS"
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def server_options(settings: Settings) -> dict[str, Any]:
    """How `serve` and `demo` run uvicorn (the proxy benchmark runs the same). Forwarded headers are the app's
    business (``gateway.forwarded``), so uvicorn's own handling is off, and so is its access log: the app writes
    its own, off the request path (``gateway.accesslog``); a response's head and body leave in one write, and
    request heads are bounded in size and time (``gateway.transport``)."""
    from .transport import CoalescingHTTP, HeadLimits

    limits = HeadLimits(settings.max_header_line, settings.max_header_bytes, settings.header_timeout)
    return {"host": settings.host, "port": settings.port, "proxy_headers": False, "log_level": "info",
            "access_log": False, "server_header": False,
            "http": functools.partial(CoalescingHTTP, limits=limits)}


def run_app(app: Any, settings: Settings, **overrides: Any) -> None:
    """Serve ``app`` in this process (``overrides`` replace uvicorn options, e.g. the log level)."""
    import uvicorn

    _tune_collector()
    uvicorn.run(app, **{**server_options(settings), **overrides})


def run_workers(settings: Settings, workers: int) -> None:
    """Serve with ``workers`` processes; each calls ``worker_app``."""
    import uvicorn

    metrics_dir = settings.data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)  # counts of an earlier run must not add up with these
    metrics_dir.mkdir(parents=True)
    os.environ[METRICS_ENV] = str(metrics_dir.resolve())
    public = dataclasses.replace(settings, secret_keys=(), admin_token=None, database="")
    os.environ[SETTINGS_ENV] = base64.b64encode(pickle.dumps(public)).decode("ascii")
    uvicorn.run("gateway.server:worker_app", factory=True, workers=workers, **server_options(settings))


def worker_app() -> Any:
    """The app of one worker process, from the settings its supervisor handed down."""
    from .app import create_app

    public: Settings = pickle.loads(base64.b64decode(os.environ[SETTINGS_ENV]))  # noqa: S301 - our own parent's
    settings = dataclasses.replace(public, **read_secrets(os.environ))
    validate(settings)
    app = create_app(settings)
    _tune_collector()
    return app


# Young objects a collection waits for. With Python's default (700), the objects of a few dozen requests in flight
# start a collection every few dozen requests and a full one every few thousand, though nearly everything a
# request allocates is freed by reference counting when it ends: 7 % of a proxied page's CPU at 32 connections.
YOUNG_GENERATION = 10_000


def _tune_collector() -> None:
    """What start-up built (settings, catalogue, compiled patterns, texts) lives as long as the process: keep it
    out of every later garbage collection instead of scanning it again and again under load, and collect the
    young generation only when a burst of requests has truly left garbage behind."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION, *gc.get_threshold()[1:])

"""The command line: readable one-line errors, exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.signing import CookieSigner


def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str,
        env: dict[str, str] | None = None) -> tuple[int, str, str]:
    for name in ("GATEWAY_SECRET_KEYS", "GATEWAY_SECRET_KEYS_FILE", "GATEWAY_PORT", "GATEWAY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_keygen_prints_a_usable_key(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(capsys, monkeypatch, "keygen")
    key = out.strip()
    assert code == 0 and len(key) >= 43
    assert run(capsys, monkeypatch, "keygen")[1].strip() != key
    CookieSigner((key,), 60)  # accepted as a signing key


def test_serve_refuses_to_start_without_keys(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(capsys, monkeypatch, "serve")
    assert code == 2
    assert err.strip() == ("consent-gateway: error: no signing key: set GATEWAY_SECRET_KEYS (or "
                           "GATEWAY_SECRET_KEYS_FILE); make one with `consent-gateway keygen`")


BAD = [
    (("serve", "--port", "70000"), {}, "--port: port: must be between 1 and 65535 (got 70000)"),
    (("serve", "--set", "cookie_samesite=maybe"), {}, "--cookie-samesite: cookie_samesite: must be one of"),
    (("serve", "--set", "colour=blue"), {}, "--set colour: unknown setting"),
    (("serve", "--set", "novalue"), {}, "--set novalue: expected NAME=VALUE"),
    (("serve", "--upstream", "origin.local"), {}, "upstream: 'origin.local' is not an http(s) URL"),
    (("serve", "--config", "/nonexistent.toml"), {}, "/nonexistent.toml: file not found"),
    (("serve",), {"GATEWAY_SECRET_KEYS": "short"}, "at least 32 characters"),
    (("snippet", "--base", "consent.wgp.kz"), {}, "expected an origin"),
    (("serve", "--set", "trusted_proxies=10.0.0.300"), {},
     "trusted_proxies: '10.0.0.300' is not an IP address, a network like 10.0.0.0/8, or *"),
]


@pytest.mark.parametrize(("argv", "env", "message"), BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_input_is_one_readable_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                        argv: tuple[str, ...], env: dict[str, str], message: str) -> None:
    code, _, err = run(capsys, monkeypatch, *argv, env=env)
    assert code == 2
    assert err.startswith("consent-gateway: error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_snippet_carries_integrity_of_the_served_file(capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import hashlib
    from pathlib import Path

    code, out, _ = run(capsys, monkeypatch, "snippet", "--base", "https://consent.wgp.kz")
    body = (Path(__file__).resolve().parents[1] / "static" / "banner" / "banner.js").read_bytes()
    digest = base64.b64encode(hashlib.sha384(body).digest()).decode()
    assert code == 0
    assert out.startswith('<script src="https://consent.wgp.kz/_consent/banner.js?v=')
    assert f'integrity="sha384-{digest}"' in out and 'crossorigin="anonymous"' in out


def test_module_entry_point_matches_console_script() -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "gateway", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("consent-gateway ")


def test_demo_makes_a_dev_key_and_a_dashboard_password_and_says_so(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import gateway.cli as cli

    seen = {}
    monkeypatch.setattr(cli, "_run", lambda settings, workers: seen.setdefault("s", settings) and 0)
    for name in ("GATEWAY_ADMIN_TOKEN", "GATEWAY_ADMIN_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(capsys, monkeypatch, "demo", "--data-dir", str(tmp_path), "--port", "8123")
    settings = seen["s"]
    assert code == 0 and (tmp_path / "dev-secret.key").exists()
    assert settings.secret_keys == ((tmp_path / "dev-secret.key").read_text().strip(),)
    assert settings.admin_token and f"password {settings.admin_token}" in err
    assert "development signing key" in err and "http://127.0.0.1:8123" in " ".join(settings.origins)


def test_serve_writes_its_own_access_log_and_never_uvicorn_s(capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """uvicorn's access log (Python logging per request, on the event loop) is off whatever the setting; the
    setting turns the gateway's own on or off (its lines: tests/test_accesslog.py)."""
    import uvicorn

    from gateway import server

    calls: list[tuple[object, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    monkeypatch.setattr(server, "_tune_collector", lambda: None)  # the test runner's heap stays as it is
    env = {"GATEWAY_SECRET_KEYS": "k" * 40}
    for value in ("false", "true"):
        code, _, err = run(capsys, monkeypatch, "serve", "--data-dir", str(tmp_path), "--set", f"access_log={value}",
                           env=env)
        assert code == 0, err
    assert [options["access_log"] for _, options in calls] == [False, False]
    assert [app.access_log is not None for app, _ in calls] == [False, True]  # type: ignore[attr-defined]
    assert all(options["server_header"] is False and options["port"] == 8000 for _, options in calls)


def _sqlite_store(path: Path, rows: int = 3) -> str:
    import asyncio

    from gateway.store.sqlite import SqliteStore
    from tests.store.conftest import record

    async def fill() -> None:
        async with SqliteStore(path) as store:
            for i in range(rows):
                await store.append(record(consent_id=f"cli-{i}"))

    asyncio.run(fill())
    return f"sqlite:///{path}"


def test_migrate_db_copies_then_says_there_is_nothing_to_copy(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source, target = _sqlite_store(tmp_path / "from.db"), f"sqlite:///{tmp_path / 'to.db'}"
    code, out, err = run(capsys, monkeypatch, "migrate-db", "--from", source, "--to", target)
    assert code == 0, err
    assert out.startswith("migrate-db: copied ") and "consent_log 3," in out and "chain verified (3 rows" in out
    assert out.count("\n") == 1  # the final line; the progress went to stderr
    assert "migrate-db: consent_log: 3 of 3 rows" in err
    code, out, err = run(capsys, monkeypatch, "migrate-db", "--from", source, "--to", target)
    assert code == 0
    assert out.startswith("migrate-db: nothing copied, the target already held this copy") and "consent_log 3," in out


MIGRATE_BAD = [
    (("--from", "sqlite:///{tmp}/missing.db", "--to", "sqlite:///{tmp}/to.db"), 2,
     "migrate-db: --from: no SQLite file at {tmp}/missing.db"),
    (("--from", "oracle://db", "--to", "sqlite:///{tmp}/to.db"), 2, "migrate-db: --from: unsupported store URL"),
    (("--from", "sqlite:///{tmp}/from.db", "--to", "postgresql://gw:hunter2@127.0.0.1:1/consent"), 2,
     "migrate-db: cannot use the target postgresql://gw:***@127.0.0.1:1/consent"),
    (("--from", "sqlite:///{tmp}/from.db", "--to", "sqlite:///{tmp}/from.db"), 2,
     "migrate-db: --from and --to name the same database"),
    (("--from", "sqlite:///{tmp}/from.db", "--to", "sqlite:///{tmp}/to.db", "--batch", "0"), 2,
     "migrate-db: --batch must be at least 1"),
    (("--from", "sqlite:///{tmp}/from.db", "--to", "sqlite:///{tmp}/other.db"), 1,
     "migrate-db: {tmp}/other.db already holds a consent log (1 rows"),
]


@pytest.mark.parametrize(("argv", "code", "message"), MIGRATE_BAD, ids=[m.split(": ")[1] for _, _, m in MIGRATE_BAD])
def test_migrate_db_errors_are_one_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path, argv: tuple[str, ...], code: int, message: str) -> None:
    _sqlite_store(tmp_path / "from.db")
    _sqlite_store(tmp_path / "other.db", rows=1)
    got, out, err = run(capsys, monkeypatch, "migrate-db", *(a.format(tmp=tmp_path) for a in argv))
    assert (got, out) == (code, "")
    assert err.startswith("consent-gateway: error: ") and message.format(tmp=tmp_path) in err, err
    assert "Traceback" not in err and err.count("\n") == 1 and "hunter2" not in err


def test_migrate_db_refuses_a_tampered_source(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    import sqlite3

    source = _sqlite_store(tmp_path / "from.db")
    conn = sqlite3.connect(tmp_path / "from.db")
    conn.execute("DELETE FROM consent_log WHERE id = 2")  # outside erase: no link left behind
    conn.commit()
    conn.close()
    code, out, err = run(capsys, monkeypatch, "migrate-db", "--from", source, "--to", f"sqlite:///{tmp_path / 'to.db'}")
    assert (code, out) == (1, "")
    assert err.strip() == ("consent-gateway: error: migrate-db: the source's consent log does not verify: row 2: row 2 "
                           "is missing: deleted outside erase and purge; nothing copied (`consent-gateway verify-log` "
                           "shows the same)")

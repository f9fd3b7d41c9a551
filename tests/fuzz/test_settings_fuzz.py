"""Settings parsing: any GATEWAY_* values give a valid Settings or a SettingsError, one line naming its source.

The environment holds text only, and never a NUL character (a process environment cannot), so values are any
text without NUL. A valid Settings passes ``validate`` again; a refusal names the variable at fault, or, for a
cross-field rule (``default_language`` against ``languages``), the variable or file the other value came from.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.settings import DEFAULT_CONFIG, Settings, SettingsError, load_settings, validate

# Values that pass, so that generated environments also get past the first check and reach the later ones.
PLAUSIBLE = {
    "ORIGINS": ["https://wgp.kz", "https://a.kz,http://b.kz:8080", "wgp.kz", "https://x.kz/path", ""],
    "POLICY_URL": ["https://wgp.kz/p", "/privacy", "ftp://x"],
    "POLICY_VERSION": ["2024-01-01", " ", ""],
    "LANGUAGES": ["ru,kk,en", "en", "en,xx", "../en", ""],
    "DEFAULT_LANGUAGE": ["ru", "en", "kk", "xx"],
    "TIMEZONE": ["Asia/Almaty", "UTC", "Mars/Base", "../../etc/passwd", "x" * 300],
    "CATEGORIES": ["necessary,analytics", "analytics", "necessary,cookies", ""],
    "VALIDITY_DAYS": ["180", "0", "-3", "396", "1e3", "٣"],
    "HONOR_GPC": ["true", "0", "maybe"],
    "CLEAR_SITE_DATA": ["yes", "off", ""],
    "IP_TRUNCATION": ["on", "2"],
    "COOKIE_NAME": ["consent", "bad name", "ok-name_1", ""],
    "COOKIE_DOMAIN": [".wgp.kz", "wgp.kz", "bad domain", ""],
    "COOKIE_SECURE": ["false", "true"],
    "COOKIE_SAMESITE": ["lax", "none", "strict", "LAX"],
    "PORT": ["8000", "0", "65536", "99999999999999999999", "-1", "²"],
    "PREFIX": ["/_consent", "/", "_consent", "/a/", "/cg"],
    "UPSTREAM": ["http://127.0.0.1:8080", "ftp://x", "http://", ""],
    "TRUSTED_PROXIES": ["127.0.0.1", "10.0.0.0/8,::1", "not-an-ip", "300.1.1.1", "*", ""],
    "CSP_MODE": ["enforce", "report-only", "off", "on"],
    "CSP_FIRST_VISIT": ["strict", "vendors", "lax"],
    "ACCESS_LOG": ["1", "no"],
    "ACCESS_LOG_FORMAT": ["combined", "json", "JSON", ""],
    "ACCESS_LOG_PATH": ["", "/tmp/gw-access.log", "/no/such/folder/access.log", "/tmp", "relative.log", "a\nb"],
    "HOST": ["0.0.0.0", "::"],
    "DATA_DIR": ["data", "/tmp/gw", ""],
    "SECRET_KEYS": ["k" * 32, "k" * 40 + "," + "j" * 33, "short", " , ", ""],
    "ADMIN_TOKEN": ["t" * 20, "", "x"],
    "CONTROLLER": ["WGP LLP"],
}
KEYS = sorted(PLAUSIBLE)
ENV_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40)


@st.composite
def environments(draw: st.DrawFn) -> dict[str, str]:
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=6))
    return {f"GATEWAY_{key}": draw(st.sampled_from(PLAUSIBLE[key]) | ENV_TEXT) for key in keys}


def check(env: dict[str, str]) -> None:
    try:
        settings = load_settings(env=env)
    except SettingsError as exc:
        message = str(exc)
        assert len(message.splitlines()) == 1, message
        where = message.split(": ", 1)[0]
        assert where in env or f"{where}_FILE" in env or where == str(DEFAULT_CONFIG), message
        return
    assert isinstance(settings, Settings)
    validate(settings)


@given(environments())
def test_any_environment_gives_settings_or_a_one_line_error(env: dict[str, str]) -> None:
    check(env)


@given(st.sampled_from(KEYS), ENV_TEXT)
def test_any_single_variable(key: str, value: str) -> None:
    check({f"GATEWAY_{key}": value})


# A file path with a line break in it has its own test below; here, any other path.
PATH_TEXT = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                    max_size=40)


@given(st.sampled_from(["GATEWAY_SECRET_KEYS_FILE", "GATEWAY_ADMIN_TOKEN_FILE", "GATEWAY_DATABASE_FILE"]),
       st.sampled_from(["/nonexistent/key", "/", "/proc/self/nonexistent", str(Path(__file__))]) | PATH_TEXT)
def test_secret_file_variables(var: str, path: str) -> None:
    check({var: path})


@pytest.mark.parametrize("env", [{"GATEWAY_SECRET_KEYS_FILE": "\n"}, {"GATEWAY_CONFIG": "\n"}])
def test_file_path_with_a_line_break_gives_a_one_line_error(env: dict[str, str]) -> None:
    check(env)


@pytest.mark.parametrize("path", ["/", "x" * 5000])
def test_config_that_cannot_be_read_is_a_settings_error(path: str) -> None:
    check({"GATEWAY_CONFIG": path})

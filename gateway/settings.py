"""One frozen, validated Settings, built once at the edge from TOML, then environment, then CLI flags.

Every error names where the bad value came from (file and key, variable, or flag) so start-up fails
with one readable line instead of a traceback.
"""

from __future__ import annotations

import functools
import os
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .resources import CONFIG_DIR, STATIC_DIR
from .trusted import HostPatterns, TrustedProxies
from .vocabulary import CATEGORIES

DEFAULT_CONFIG = CONFIG_DIR / "gateway.toml"
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
MIN_ADMIN_TOKEN = 16
ENV_PREFIX = "GATEWAY_"


class SettingsError(ValueError):
    """A setting is missing or wrong; the message is one line naming its source, key and problem."""


@dataclass(frozen=True)
class Settings:
    origins: tuple[str, ...] = ("https://wgp.kz", "https://www.wgp.kz")
    policy_url: str = "https://wgp.kz/privacy-policy"
    controller: str = "WGP LLP, 1B Sevastopolskaya St., Atyrau, Republic of Kazakhstan"
    # The operator's business identification number (BIN, 12 digits), which Law No. 94-V asks a consent to state.
    # wgp.kz's privacy policy of 12.01.2023 does not give it: empty until the site owner fills it in.
    operator_bin: str = ""
    policy_version: str = "2023-01-12"
    languages: tuple[str, ...] = ("ru", "kk", "en")
    default_language: str = "ru"
    timezone: str = "Asia/Almaty"
    categories: tuple[str, ...] = CATEGORIES
    validity_days: int = 180
    # How often every process reloads withdrawn and erased consent ids from the store (gateway.revocations).
    revocation_refresh_seconds: int = 5
    honor_gpc: bool = True
    clear_site_data: bool = False
    ip_truncation: bool = True
    cookie_name: str = "wgp_consent"
    cookie_domain: str = ""
    cookie_secure: bool = True
    cookie_samesite: str = "lax"
    host: str = "127.0.0.1"
    port: int = 8000
    prefix: str = "/_consent"
    data_dir: Path = Path("data")
    upstream: str = ""
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    allowed_hosts: tuple[str, ...] = ()  # empty: the hosts of the origins, the cookie domain, and this machine
    csp_mode: str = "enforce"
    rate_limit_writes: int = 30  # consent writes per client network (/24, /48) and minute; 0: no limit
    rate_limit_reports: int = 120  # impressions and CSP reports per client network and minute
    csp_report_hosts: int = 5  # blocked hosts kept per CSP report
    csp_hosts_per_day: int = 200  # distinct blocked hosts a day kept by name; the rest count as "other"
    admin_failures: int = 10  # failed admin logins per client network and minute before 429
    csp_first_visit: str = "strict"
    access_log: bool = True
    access_log_format: str = "combined"  # or "json": one object per line (gateway.accesslog)
    access_log_path: str = ""  # empty: stdout; else a file, appended to and reopened after rotation
    # Slow and oversized clients and upstream answers (gateway.transport, gateway.deadline, gateway.proxy).
    max_header_line: int = 8 * 1024
    max_header_bytes: int = 32 * 1024
    header_timeout: int = 10
    body_timeout: int = 20
    body_min_rate: int = 4096
    proxy_buffer_body: int = 1024 * 1024
    max_html_bytes: int = 32 * 1024 * 1024
    # Secrets: environment or file only.
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    admin_token: str | None = field(default=None, repr=False)
    database: str = ""
    # Site overrides of the vendor catalogue: {"vendors": {...}, "allow": {"hosts": [...]}}.
    vendor_overrides: Mapping[str, Any] = field(default_factory=dict, repr=False)
    config_dir: Path = CONFIG_DIR
    static_dir: Path = STATIC_DIR
    demo: bool = False

    @functools.cached_property
    def trusted(self) -> TrustedProxies:
        """``trusted_proxies`` parsed, once per Settings."""
        return TrustedProxies(self.trusted_proxies)

    @functools.cached_property
    def hosts(self) -> HostPatterns:
        """The Host headers answered: ``allowed_hosts``, or by default the origins' hosts, the cookie domain and
        its subdomains, and localhost."""
        if self.allowed_hosts:
            return HostPatterns(self.allowed_hosts)
        own = [urlsplit(o).hostname or "" for o in self.origins]
        domain = [f".{self.cookie_domain.lstrip('.')}"] if self.cookie_domain else []
        return HostPatterns([*own, *domain, *LOCAL_HOSTS])

    @property
    def validity_seconds(self) -> int:
        return self.validity_days * 86400

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.data_dir / 'consent.sqlite3'}"

    def config_file(self, name: str) -> Path:
        """A file from the site's config folder, else the shipped one (vendors.toml, locales/ru.toml)."""
        own = self.config_dir / name
        return own if own.exists() else CONFIG_DIR / name

    @property
    def first_party_hosts(self) -> frozenset[str]:
        return frozenset(urlsplit(o).hostname or "" for o in self.origins) - {""}


_SECRET_FIELDS = {"secret_keys", "admin_token", "database"}
DATABASE_SETTING = "database_url"  # GATEWAY_DATABASE_URL; the field keeps the older name `database`
_FILE_ONLY = {"vendor_overrides", "config_dir", "static_dir", "demo"}
_FIELDS = {name: f for name, f in Settings.__dataclass_fields__.items() if name not in _FILE_ONLY}
_SAMESITE = ("lax", "strict", "none")
_CSP_MODES = ("enforce", "report-only", "off")
# What the CSP admits before a choice: only necessary and allow-listed hosts (a choice reloads the page once), or
# every known vendor as well (no reload; a tag a script injects before the choice is then not refused).
_FIRST_VISIT = ("strict", "vendors")
_ACCESS_LOG_FORMATS = ("combined", "json")


def _coerce(name: str, raw: Any, source: str) -> Any:
    """Turn a TOML, env or flag value into the field's type, or raise naming the source."""
    default = Settings.__dataclass_fields__[name].default
    kind: type = type(default) if default is not None else str
    if name in ("secret_keys",):
        kind = tuple
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if kind is int:
            if isinstance(raw, bool) or not str(raw).strip().lstrip("-").isdigit():
                raise ValueError("expected an integer")
            return int(raw)
        if kind is tuple:
            items = raw if isinstance(raw, list) else [p for p in str(raw).split(",")]
            return tuple(str(i).strip() for i in items if str(i).strip())
        if isinstance(default, Path):
            return Path(str(raw))
        if isinstance(raw, (list, dict)):
            raise ValueError("expected a string")
        return str(raw)
    except ValueError as exc:
        raise SettingsError(f"{source}: {name}: {exc} (got {raw!r})") from None


def _read_toml(path: Path) -> tuple[dict[str, tuple[Any, str]], dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{_shown(path)}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{_shown(path)}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{_shown(path)}: invalid TOML: {exc}") from None
    values: dict[str, tuple[Any, str]] = {}
    overrides: dict[str, Any] = {k: data.pop(k) for k in ("vendors", "allow") if k in data}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise SettingsError(f"{path}: {section}: expected a [table]")
        for key, raw in table.items():
            where = f"{path}: [{section}] {key}"
            if key not in _FIELDS or key in _SECRET_FIELDS:
                secret = key in _SECRET_FIELDS or key == DATABASE_SETTING
                hint = " (secrets come from the environment only)" if secret else ""
                raise SettingsError(f"{where}: unknown setting{hint}")
            values[key] = (raw, where)
    return values, overrides


def read_secrets(env: Mapping[str, str]) -> dict[str, Any]:
    """The secret settings from GATEWAY_SECRET_KEYS, GATEWAY_ADMIN_TOKEN, GATEWAY_DATABASE_URL or their _FILE
    variables: the only place they are read, by `serve` and again by each of its workers (never handed down)."""
    found: dict[str, Any] = {"admin_token": _read_secret(env, "admin_token"), "database": _read_database(env)}
    keys = _read_secret(env, "secret_keys")
    if keys:
        found["secret_keys"] = _coerce("secret_keys", keys, "GATEWAY_SECRET_KEYS")
    return found


def _read_database(env: Mapping[str, str]) -> str:
    """GATEWAY_DATABASE_URL (the documented name), or GATEWAY_DATABASE, its older name, still read so existing
    deployments keep their database. Both naming different databases is refused: guessing one could send an
    instance's writes to the wrong log. The message names the variables, never their values (passwords)."""
    url = _read_secret(env, DATABASE_SETTING)
    alias = _read_secret(env, "database")
    if url and alias and url != alias:
        raise SettingsError(f"{ENV_PREFIX}DATABASE_URL and {ENV_PREFIX}DATABASE (its older name; or their _FILE "
                            "variables) name different databases: set only GATEWAY_DATABASE_URL")
    return url or alias or ""


def _shown(path: object) -> str:
    """A path as an error message shows it: on one line, whatever characters it holds."""
    return str(path).encode("unicode_escape").decode("ascii")


def _read_secret(env: Mapping[str, str], name: str) -> str | None:
    """A secret from GATEWAY_NAME, or from the file named by GATEWAY_NAME_FILE."""
    var = ENV_PREFIX + name.upper()
    if env.get(var):
        return env[var]
    path = env.get(var + "_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{var}_FILE: cannot read {_shown(path)}: {exc.strerror}") from None
    return None


def load_settings(
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
    **fixed: Any,
) -> Settings:
    """Build Settings: TOML file, then GATEWAY_* environment, then CLI flags, then `fixed` (tests, demo)."""
    env = os.environ if env is None else env
    path = Path(config or env.get(ENV_PREFIX + "CONFIG") or DEFAULT_CONFIG)
    try:
        values, overrides = _read_toml(path)
    except SettingsError as exc:
        if config is None and env.get(ENV_PREFIX + "CONFIG"):  # say where the path came from
            raise SettingsError(f"{ENV_PREFIX}CONFIG: {exc}") from None
        raise
    for name in _FIELDS:
        if name in _SECRET_FIELDS:
            continue
        var = ENV_PREFIX + name.upper()
        if var in env:
            values[name] = (env[var], var)
    for name, raw in (flags or {}).items():
        if name not in _FIELDS or name in _SECRET_FIELDS:
            raise SettingsError(f"--set {name}: unknown setting")
        if raw is not None:
            values[name] = (raw, f"--{name.replace('_', '-')}")
    kwargs: dict[str, Any] = {n: _coerce(n, raw, where) for n, (raw, where) in values.items()}
    kwargs.update(read_secrets(env))
    kwargs["vendor_overrides"] = overrides
    kwargs["config_dir"] = path.parent
    kwargs.update(fixed)
    settings = Settings(**kwargs)
    sources = {name: where.removesuffix(f" {name}") for name, (_, where) in values.items()}
    validate(settings, str(path), sources)
    return settings


def validate(s: Settings, source: str = "settings", sources: Mapping[str, str] | None = None) -> None:
    """Check cross-field rules; raise SettingsError with one clear line naming where the value came from."""

    def bad(key: str, problem: str) -> SettingsError:
        where = (sources or {}).get(key, source)
        return SettingsError(f"{where}: {key}: {problem}")

    for origin in s.origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise bad("origins", f"{origin!r} is not an origin like https://example.kz")
    if not s.policy_url.startswith(("https://", "http://", "/")):
        raise bad("policy_url", f"{s.policy_url!r} is not a URL")
    if s.operator_bin and not (len(s.operator_bin) == 12 and s.operator_bin.isdigit()):
        raise bad("operator_bin", f"a BIN is 12 digits (got {s.operator_bin!r})")
    if not s.policy_version.strip():
        raise bad("policy_version", "must not be empty")
    unknown = [c for c in s.categories if c not in CATEGORIES]
    if unknown or "necessary" not in s.categories:
        raise bad("categories",
                  f"allowed are {', '.join(CATEGORIES)} with necessary always present (got {list(s.categories)})")
    if not s.languages or s.default_language not in s.languages:
        raise bad("default_language", f"{s.default_language!r} is not one of languages {list(s.languages)}")
    for lang in s.languages:
        if not s.config_file(f"locales/{lang}.toml").is_file():
            raise bad("languages", f"no locale file locales/{lang}.toml for {lang!r}")
    if not 1 <= s.validity_days <= 395:
        raise bad("validity_days", f"must be between 1 and 395 days (got {s.validity_days})")
    if not 1 <= s.revocation_refresh_seconds <= 300:
        raise bad("revocation_refresh_seconds",
                  f"must be between 1 and 300 seconds (got {s.revocation_refresh_seconds})")
    if s.cookie_samesite not in _SAMESITE:
        raise bad("cookie_samesite", f"must be one of {', '.join(_SAMESITE)} (got {s.cookie_samesite!r})")
    if s.cookie_samesite == "none" and not s.cookie_secure:
        raise bad("cookie_samesite", "none requires cookie_secure = true")
    if not s.cookie_name or not s.cookie_name.replace("_", "").replace("-", "").isalnum():
        raise bad("cookie_name", f"{s.cookie_name!r} must be letters, digits, - and _")
    if s.cookie_domain and not s.cookie_domain.lstrip(".").replace("-", "").replace(".", "").isalnum():
        raise bad("cookie_domain", f"{s.cookie_domain!r} is not a domain")
    if not 0 < s.port < 65536:
        raise bad("port", f"must be between 1 and 65535 (got {s.port})")
    if not s.prefix.startswith("/") or s.prefix.endswith("/") or len(s.prefix) < 2:
        raise bad("prefix", f"must look like /_consent (got {s.prefix!r})")
    try:
        _ = s.trusted  # parsed here once; the proxy and the forwarded-headers layer take the parsed value
    except ValueError as exc:
        raise bad("trusted_proxies", str(exc)) from None
    if s.upstream:
        parts = urlsplit(s.upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad("upstream", f"{s.upstream!r} is not an http(s) URL")
    if s.csp_mode not in _CSP_MODES:
        raise bad("csp_mode", f"must be one of {', '.join(_CSP_MODES)} (got {s.csp_mode!r})")
    for key in ("rate_limit_writes", "rate_limit_reports", "csp_report_hosts", "csp_hosts_per_day", "admin_failures"):
        if getattr(s, key) < 0:
            raise bad(key, f"must be 0 or more (got {getattr(s, key)})")
    if s.admin_token is not None and len(s.admin_token.strip()) < MIN_ADMIN_TOKEN:
        raise SettingsError(f"GATEWAY_ADMIN_TOKEN: must be at least {MIN_ADMIN_TOKEN} characters "
                            "(make one with `consent-gateway keygen`)")
    if s.csp_first_visit not in _FIRST_VISIT:
        raise bad("csp_first_visit", f"must be one of {', '.join(_FIRST_VISIT)} (got {s.csp_first_visit!r})")
    if s.access_log_format not in _ACCESS_LOG_FORMATS:
        raise bad("access_log_format",
                  f"must be one of {', '.join(_ACCESS_LOG_FORMATS)} (got {s.access_log_format!r})")
    if s.access_log_path:
        log_path = Path(s.access_log_path)
        if log_path.is_dir() or not log_path.parent.is_dir():
            problem = "is a folder" if log_path.is_dir() else f"folder {_shown(log_path.parent)} does not exist"
            raise bad("access_log_path", f"{_shown(log_path)}: {problem} (empty: stdout)")
    if not 256 <= s.max_header_line <= s.max_header_bytes:
        raise bad("max_header_line", f"must be at least 256 and at most max_header_bytes (got {s.max_header_line})")
    if s.max_header_bytes > 1024 * 1024:
        raise bad("max_header_bytes", f"must be at most 1048576 (got {s.max_header_bytes})")
    for key in ("header_timeout", "body_timeout"):
        if not 1 <= getattr(s, key) <= 3600:
            raise bad(key, f"must be between 1 and 3600 seconds (got {getattr(s, key)})")
    if s.body_min_rate < 1:
        raise bad("body_min_rate", f"must be at least 1 byte per second (got {s.body_min_rate})")
    if not 0 <= s.proxy_buffer_body <= 64 * 1024 * 1024:
        raise bad("proxy_buffer_body", f"must be between 0 and 67108864 bytes (got {s.proxy_buffer_body})")
    if s.max_html_bytes < 1024 * 1024:
        raise bad("max_html_bytes", f"must be at least 1048576 bytes (got {s.max_html_bytes})")
    try:
        zoneinfo.ZoneInfo(s.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise bad("timezone", f"unknown time zone {s.timezone!r}") from None
    for key in s.secret_keys:
        if len(key) < 32:
            raise SettingsError("GATEWAY_SECRET_KEYS: every key must be at least 32 characters "
                                "(make one with `consent-gateway keygen`)")

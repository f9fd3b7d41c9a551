"""Schema as forward-only migrations, and the SQL statements the SQL backends share.

Each migration is (version, statements); ``migrate`` applies the missing ones in order, each in its own
transaction together with its ``schema_version`` row, re-reading the version under the write lock so two processes
opening the same file at once cannot both apply it. Statements are kept to SQL that SQLite and PostgreSQL both
accept (``INTEGER``/``BIGINT``/``TEXT``, ``ON CONFLICT ... DO UPDATE``) so the PostgreSQL backend can reuse them.
Never edit a released migration: append a new one.
"""

from __future__ import annotations

import aiosqlite

MIGRATIONS: list[tuple[int, tuple[str, ...]]] = [
    (
        1,
        (
            # The append-only proof of consent. `at` is UTC in microseconds since the epoch (exact round trip of
            # the datetime, sortable, portable); `categories` a bitmask (necessary=1, preferences=2,
            # analytics=4, marketing=8).
            """CREATE TABLE consent_log (
                id INTEGER PRIMARY KEY,
                consent_id TEXT NOT NULL,
                at BIGINT NOT NULL,
                action TEXT NOT NULL,
                categories INTEGER NOT NULL,
                policy_version TEXT NOT NULL,
                language TEXT NOT NULL,
                gpc INTEGER NOT NULL,
                ip_prefix TEXT,
                device TEXT NOT NULL,
                browser TEXT NOT NULL,
                os TEXT NOT NULL,
                texts_hash TEXT NOT NULL
            )""",
            "CREATE INDEX consent_log_consent_id ON consent_log (consent_id)",
            "CREATE INDEX consent_log_at ON consent_log (at)",
            # Full cube of decisions per local day, bots included.
            """CREATE TABLE decision_daily (
                day TEXT NOT NULL,
                action TEXT NOT NULL,
                policy_version TEXT NOT NULL,
                language TEXT NOT NULL,
                device TEXT NOT NULL,
                browser TEXT NOT NULL,
                os TEXT NOT NULL,
                gpc INTEGER NOT NULL,
                categories INTEGER NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (day, action, policy_version, language, device, browser, os, gpc, categories)
            )""",
            # What the summary reads: each dimension on its own (dim 'all', key '' = whole site), bots excluded.
            """CREATE TABLE daily_by_key (
                dim TEXT NOT NULL,
                day TEXT NOT NULL,
                key TEXT NOT NULL,
                action TEXT NOT NULL,
                n BIGINT NOT NULL,
                preferences BIGINT NOT NULL,
                analytics BIGINT NOT NULL,
                marketing BIGINT NOT NULL,
                gpc BIGINT NOT NULL,
                PRIMARY KEY (dim, day, key, action)
            )""",
            # Banner impressions: no identifier anywhere, only counts.
            """CREATE TABLE impression_daily (
                day TEXT NOT NULL,
                event TEXT NOT NULL,
                policy_version TEXT NOT NULL,
                language TEXT NOT NULL,
                device TEXT NOT NULL,
                browser TEXT NOT NULL,
                os TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (day, event, policy_version, language, device, browser, os)
            )""",
            """CREATE TABLE csp_daily (
                day TEXT NOT NULL,
                host TEXT NOT NULL,
                directive TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (day, host, directive)
            )""",
        ),
    ),
]

LATEST = MIGRATIONS[-1][0]

INSERT_LOG = (
    "INSERT INTO consent_log (consent_id, at, action, categories, policy_version, language, gpc, ip_prefix,"
    " device, browser, os, texts_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SELECT_HISTORY = (
    "SELECT consent_id, at, action, categories, policy_version, language, gpc, ip_prefix, device, browser, os,"
    " texts_hash FROM consent_log WHERE consent_id = ? ORDER BY at, id"
)
DELETE_ID = "DELETE FROM consent_log WHERE consent_id = ?"
UPSERT_CUBE = (
    "INSERT INTO decision_daily (day, action, policy_version, language, device, browser, os, gpc, categories, n)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (day, action, policy_version, language, device, browser, os, gpc, categories)"
    " DO UPDATE SET n = decision_daily.n + excluded.n"
)
UPSERT_BY_KEY = (
    "INSERT INTO daily_by_key (dim, day, key, action, n, preferences, analytics, marketing, gpc)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (dim, day, key, action) DO UPDATE SET n = daily_by_key.n + excluded.n,"
    " preferences = daily_by_key.preferences + excluded.preferences,"
    " analytics = daily_by_key.analytics + excluded.analytics,"
    " marketing = daily_by_key.marketing + excluded.marketing,"
    " gpc = daily_by_key.gpc + excluded.gpc"
)
UPSERT_IMPRESSION = (
    "INSERT INTO impression_daily (day, event, policy_version, language, device, browser, os, n)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (day, event, policy_version, language, device, browser, os)"
    " DO UPDATE SET n = impression_daily.n + excluded.n"
)
UPSERT_CSP = (
    "INSERT INTO csp_daily (day, host, directive, n) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (day, host, directive) DO UPDATE SET n = csp_daily.n + excluded.n"
)
SUMMARY_DAYS = (
    "SELECT day, action, n, preferences, analytics, marketing, gpc FROM daily_by_key"
    " WHERE dim = 'all' AND day BETWEEN ? AND ?"
)
SUMMARY_KEYS = (
    "SELECT dim, key, action, SUM(n), SUM(preferences), SUM(analytics), SUM(marketing), SUM(gpc)"
    " FROM daily_by_key WHERE dim IN ('device', 'browser', 'os', 'language', 'policy_version')"
    " AND day BETWEEN ? AND ? GROUP BY dim, key, action"
)
SUMMARY_HOSTS = (
    "SELECT host, SUM(n) AS reports FROM csp_daily WHERE day BETWEEN ? AND ?"
    " GROUP BY host ORDER BY reports DESC, host LIMIT ?"
)


async def current_version(conn: aiosqlite.Connection) -> int:
    await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    async with conn.execute("SELECT MAX(version) FROM schema_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def migrate(conn: aiosqlite.Connection) -> int:
    """Bring the file up to ``LATEST``; safe to run on every open. Returns the version now in place."""
    version = await current_version(conn)
    for target, statements in MIGRATIONS:
        if target <= version:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if await current_version(conn) >= target:  # another process got there first
                await conn.execute("ROLLBACK")
                continue
            for statement in statements:
                await conn.execute(statement)
            await conn.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        version = target
    if version > LATEST:
        raise RuntimeError(f"database schema version {version} is newer than this gateway knows ({LATEST})")
    return version

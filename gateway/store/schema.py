"""Schema as forward-only migrations, and the SQL statements the SQL backends share.

Each migration is (version, statements); ``migrate`` applies the missing ones in order, each in its own
transaction together with its ``schema_version`` row, re-reading the version under the write lock so two processes
opening the same file at once cannot both apply it. Statements are kept to SQL that SQLite and PostgreSQL both
accept (``INTEGER``/``BIGINT``/``TEXT``, ``ON CONFLICT ... DO UPDATE``, ``BETWEEN`` on ISO day text) so the
PostgreSQL backend can reuse them; the SQLite-only parts are the ``WITHOUT_ROWID`` suffix, ``INTEGER PRIMARY KEY``
(an identity column there) and ``?`` placeholders. Never edit a released migration: append a new one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiosqlite

from gateway.store import chain
from gateway.store.rollups import COUNTS, DIMENSIONS

# A migration step: one SQL statement, or a function run on the connection inside the migration's transaction
# (for what SQL alone cannot compute, such as the hash chain over the existing rows).
Step = str | Callable[[aiosqlite.Connection], Awaitable[None]]

# Rollups are read by primary-key range only: SQLite stores such a table clustered on its key (one B-tree, no
# rowid lookups), which makes a year of summary a few sequential page reads. PostgreSQL gets the same tables
# without this suffix.
WITHOUT_ROWID = " WITHOUT ROWID"

LOG_FIELDS = ("consent_id, at, action, categories, policy_version, language, gpc, ip_prefix, device, browser, os,"
              " texts_hash")
CHAIN_CHUNK = 10_000


async def _chain_existing_rows(conn: aiosqlite.Connection) -> None:
    """Migration 3: chain the rows already in the log, in id order, and record the head. An id missing from such a
    log (erased before the chain existed) gets a link equal to the chain so far, so later ids verify."""
    previous, expected, last = chain.GENESIS, 1, 0
    while True:
        rows = list(await conn.execute_fetchall(
            f"SELECT id, {LOG_FIELDS} FROM consent_log WHERE id > ? ORDER BY id LIMIT ?", (last, CHAIN_CHUNK)))
        if not rows:
            break
        updates, gaps = [], []
        for row_id, *fields in rows:
            gaps += [(gap, previous, chain.BEFORE_CHAIN) for gap in range(expected, row_id)]
            previous = chain.link(previous, row_id, tuple(fields))
            updates.append((previous, row_id))
            expected, last = row_id + 1, row_id
        await conn.executemany("UPDATE consent_log SET chain = ? WHERE id = ?", updates)
        await conn.executemany(INSERT_LINK, gaps)
    await conn.execute("INSERT INTO log_head (one, last_id, chain, base_id, base_chain) VALUES (1, ?, ?, 0, ?)",
                       (last, previous, chain.GENESIS))


MIGRATIONS: list[tuple[int, tuple[Step, ...]]] = [
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
            )""" + WITHOUT_ROWID,
            # What the summary reads: counters per dimension key and day (dim 'all', key '' = whole site), bots
            # excluded.
            # Category and GPC counters count decisions only.
            """CREATE TABLE daily_by_key (
                dim TEXT NOT NULL,
                day TEXT NOT NULL,
                key TEXT NOT NULL,
                shown BIGINT NOT NULL,
                accept_all BIGINT NOT NULL,
                reject_all BIGINT NOT NULL,
                custom BIGINT NOT NULL,
                withdraw BIGINT NOT NULL,
                erase BIGINT NOT NULL,
                preferences BIGINT NOT NULL,
                analytics BIGINT NOT NULL,
                marketing BIGINT NOT NULL,
                gpc BIGINT NOT NULL,
                PRIMARY KEY (dim, day, key)
            )""" + WITHOUT_ROWID,
            # The same counters per calendar month ("YYYY-MM"): whole months of a long range are read from here.
            """CREATE TABLE monthly_by_key (
                dim TEXT NOT NULL,
                month TEXT NOT NULL,
                key TEXT NOT NULL,
                shown BIGINT NOT NULL,
                accept_all BIGINT NOT NULL,
                reject_all BIGINT NOT NULL,
                custom BIGINT NOT NULL,
                withdraw BIGINT NOT NULL,
                erase BIGINT NOT NULL,
                preferences BIGINT NOT NULL,
                analytics BIGINT NOT NULL,
                marketing BIGINT NOT NULL,
                gpc BIGINT NOT NULL,
                PRIMARY KEY (dim, month, key)
            )""" + WITHOUT_ROWID,
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
            )""" + WITHOUT_ROWID,
            """CREATE TABLE csp_daily (
                day TEXT NOT NULL,
                host TEXT NOT NULL,
                directive TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (day, host, directive)
            )""" + WITHOUT_ROWID,
            """CREATE TABLE csp_monthly (
                month TEXT NOT NULL,
                host TEXT NOT NULL,
                n BIGINT NOT NULL,
                PRIMARY KEY (month, host)
            )""" + WITHOUT_ROWID,
        ),
    ),
    (
        2,
        (
            # Withdrawn and erased consent ids with the time of the withdrawal or erasure (UTC microseconds), so
            # every gateway process can refuse a replayed cookie (gateway.revocations). Written in the same
            # transaction as the withdraw record or the erasure; an erasure deletes the log rows of the id, not
            # this. Existing withdrawals and erase proofs are copied in, so they are enforced from now on.
            """CREATE TABLE revoked (
                consent_id TEXT NOT NULL,
                at BIGINT NOT NULL
            )""",
            "CREATE INDEX revoked_at ON revoked (at)",
            "INSERT INTO revoked (consent_id, at) SELECT consent_id, at FROM consent_log"
            " WHERE action IN ('withdraw', 'erase') ORDER BY at, id",
        ),
    ),
    (
        3,
        (
            # The hash chain (gateway.store.chain): each row's sha256 over the previous row's chain and its own
            # canonical bytes; the links of rows removed by erase or purge; the head (last id and chain written,
            # and the purged prefix folded into base_id/base_chain).
            "ALTER TABLE consent_log ADD COLUMN chain BLOB",
            """CREATE TABLE log_links (
                id INTEGER PRIMARY KEY,
                chain BLOB NOT NULL,
                reason TEXT NOT NULL
            )""",
            """CREATE TABLE log_head (
                one INTEGER PRIMARY KEY CHECK (one = 1),
                last_id BIGINT NOT NULL,
                chain BLOB NOT NULL,
                base_id BIGINT NOT NULL,
                base_chain BLOB NOT NULL
            )""",
            _chain_existing_rows,
        ),
    ),
]

LATEST = MIGRATIONS[-1][0]

INSERT_CHAINED = (
    "INSERT INTO consent_log (id, consent_id, at, action, categories, policy_version, language, gpc, ip_prefix,"
    " device, browser, os, texts_hash, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_LINK = "INSERT INTO log_links (id, chain, reason) VALUES (?, ?, ?)"
SELECT_HEAD = "SELECT last_id, chain, (SELECT MAX(id) FROM consent_log) FROM log_head"
UPDATE_HEAD = "UPDATE log_head SET last_id = ?, chain = ?"
SELECT_ID_LINKS = "SELECT id, chain FROM consent_log WHERE consent_id = ? ORDER BY id"
# Unchained: only for tools that fill a file in bulk (bench/); the gateway writes INSERT_CHAINED.
INSERT_LOG = (
    "INSERT INTO consent_log (consent_id, at, action, categories, policy_version, language, gpc, ip_prefix,"
    " device, browser, os, texts_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SELECT_HISTORY = (
    "SELECT consent_id, at, action, categories, policy_version, language, gpc, ip_prefix, device, browser, os,"
    " texts_hash FROM consent_log WHERE consent_id = ? ORDER BY at, id"
)
DELETE_ID = "DELETE FROM consent_log WHERE consent_id = ?"
INSERT_REVOKED = "INSERT INTO revoked (consent_id, at) VALUES (?, ?)"
SELECT_REVOKED = "SELECT consent_id, at FROM revoked WHERE at >= ? ORDER BY at"
PURGE_REVOKED = "DELETE FROM revoked WHERE at < ?"
UPSERT_CUBE = (
    "INSERT INTO decision_daily (day, action, policy_version, language, device, browser, os, gpc, categories, n)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (day, action, policy_version, language, device, browser, os, gpc, categories)"
    " DO UPDATE SET n = decision_daily.n + excluded.n"
)
_SUM_COUNTERS = ", ".join(f"SUM({c})" for c in COUNTS)
_DIMS = f"dim IN ({', '.join(repr(d) for d in DIMENSIONS)})"


def _upsert_counters(table: str, period: str) -> str:
    return (
        f"INSERT INTO {table} (dim, {period}, key, {', '.join(COUNTS)})"
        f" VALUES (?, ?, ?, {', '.join('?' for _ in COUNTS)})"
        f" ON CONFLICT (dim, {period}, key) DO UPDATE SET "
        + ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTS)
    )


UPSERT_BY_KEY = _upsert_counters("daily_by_key", "day")
UPSERT_BY_MONTH = _upsert_counters("monthly_by_key", "month")
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
UPSERT_CSP_MONTH = (
    "INSERT INTO csp_monthly (month, host, n) VALUES (?, ?, ?)"
    " ON CONFLICT (month, host) DO UPDATE SET n = csp_monthly.n + excluded.n"
)
# Summary reads take the spans of gateway.store.rollups.split_range: head days, whole months, tail days.
SUMMARY_DAYS = (
    f"SELECT day, {', '.join(COUNTS)} FROM daily_by_key WHERE dim = 'all' AND day BETWEEN ? AND ?"
)
SUMMARY_KEYS = (
    f"SELECT dim, key, {_SUM_COUNTERS} FROM ("
    f" SELECT dim, key, {', '.join(COUNTS)} FROM daily_by_key WHERE {_DIMS} AND day BETWEEN ? AND ?"
    f" UNION ALL SELECT dim, key, {', '.join(COUNTS)} FROM monthly_by_key WHERE {_DIMS} AND month BETWEEN ? AND ?"
    f" UNION ALL SELECT dim, key, {', '.join(COUNTS)} FROM daily_by_key WHERE {_DIMS} AND day BETWEEN ? AND ?"
    ") GROUP BY dim, key"
)
SUMMARY_HOSTS = (
    "SELECT host, SUM(n) AS reports FROM ("
    " SELECT host, n FROM csp_daily WHERE day BETWEEN ? AND ?"
    " UNION ALL SELECT host, n FROM csp_monthly WHERE month BETWEEN ? AND ?"
    " UNION ALL SELECT host, n FROM csp_daily WHERE day BETWEEN ? AND ?"
    ") GROUP BY host ORDER BY reports DESC, host LIMIT ?"
)

async def current_version(conn: aiosqlite.Connection) -> int:
    """The applied version, 0 for a new file; reads only, so it never contends for the write lock."""
    async with conn.execute(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ) as cursor:
        exists = await cursor.fetchone()
    if not exists or not exists[0]:
        return 0
    async with conn.execute("SELECT MAX(version) FROM schema_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


async def migrate(conn: aiosqlite.Connection) -> int:
    """Bring the file up to ``LATEST``; safe to run on every open, from several processes at once.

    Returns the version now in place. Each migration runs in its own ``BEGIN IMMEDIATE`` transaction (the write
    lock, waited for through busy_timeout) and re-reads the version inside it, so a migration another process
    applied meanwhile is skipped, and one that fails leaves the file at the previous version.
    """
    version = await current_version(conn)
    for target, statements in MIGRATIONS:
        if target <= version:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = await current_version(conn)
            if version < target:
                for statement in statements:
                    if isinstance(statement, str):
                        await conn.execute(statement)
                    else:
                        await statement(conn)
                await conn.execute("INSERT INTO schema_version (version) VALUES (?)", (target,))
                version = target
            await conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise
    if version > LATEST:
        raise RuntimeError(f"database schema version {version} is newer than this gateway knows ({LATEST})")
    return version

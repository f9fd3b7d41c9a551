"""In-memory backend: the same behaviour as SQLite, for tests, demos without a disk, and as a benchmark peer.

Every write is applied whole before ``await`` returns (there is no other thread), and goes through the same
``Increments`` as SQL backends, so rollups and summaries match the SQLite store exactly. Nothing survives the
process: never use it where consent must be proven later.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from gateway.store.records import (
    DEFAULT_TIMEZONE,
    BannerEvent,
    ConsentRecord,
    StoreClosedError,
    check_range,
    validate_event,
    validate_record,
)
from gateway.store.rollups import ALL, DIMENSIONS, TOP_HOSTS, CspKey, CubeKey, ImpressionKey, Increments
from gateway.store.summary import build_summary
from gateway.vocabulary import ERASE, WITHDRAW


class MemoryStore:
    """Summaries here read the daily rollups only (never the monthly ones), so comparing them with the SQLite
    store's, as the contract suite does, also checks how SQL backends cut a range into months and days."""

    def __init__(self, timezone: str = DEFAULT_TIMEZONE) -> None:
        self.timezone = timezone
        self._tz = ZoneInfo(timezone)
        self._open = False
        self.commits = 0
        self._log: list[ConsentRecord] = []
        self.cube: dict[CubeKey, int] = defaultdict(int)
        self.by_key: dict[tuple[str, str, str], list[int]] = {}
        self.impressions: dict[ImpressionKey, int] = defaultdict(int)
        self.csp: dict[CspKey, int] = defaultdict(int)
        self._revoked: list[tuple[str, datetime]] = []

    async def __aenter__(self) -> MemoryStore:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def ping(self) -> bool:
        return self._open

    async def append(self, record: ConsentRecord) -> None:
        validate_record(record)
        self._check_open()
        self._apply([record])

    async def erase(self, consent_id: str, proof: ConsentRecord | None = None) -> int:
        """Same contract as ``SqliteStore.erase``: delete the id's rows, append ``proof`` atomically with it."""
        if proof is not None:
            validate_record(proof)
            if proof.consent_id != consent_id or proof.action != ERASE:
                raise ValueError("the erase proof must be an 'erase' record for the erased consent id")
        self._check_open()
        before = len(self._log)
        self._log = [r for r in self._log if r.consent_id != consent_id]
        removed = before - len(self._log)
        self._apply([proof] if proof is not None else [])
        self._revoked.append((consent_id, proof.at if proof is not None else datetime.now(UTC)))
        return removed

    async def record_event(self, event: BannerEvent) -> None:
        validate_event(event)
        self._check_open()
        increments = Increments(self._tz)
        increments.add_event(event)
        self._merge(increments)

    async def record_csp_report(self, host: str, directive: str, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        self._check_open()
        increments = Increments(self._tz)
        increments.add_csp(host.lower(), directive, at)
        self._merge(increments)

    async def history(self, consent_id: str) -> list[ConsentRecord]:
        self._check_open()
        # Stable sort: records with the same instant keep their append order, as SQLite's (at, id) does.
        return sorted((r for r in self._log if r.consent_id == consent_id), key=lambda r: r.at)

    async def summary(self, start: date, end: date) -> dict[str, object]:
        check_range(start, end)
        self._check_open()
        lo, hi = start.isoformat(), end.isoformat()
        days = []
        keyed: dict[tuple[str, str], list[int]] = {}
        for (dim, day, key), counts in self.by_key.items():
            if not lo <= day <= hi:
                continue
            if dim == ALL:
                days.append((day, *counts))
            elif dim in DIMENSIONS:
                total = keyed.setdefault((dim, key), [0] * len(counts))
                for i, value in enumerate(counts):
                    total[i] += value
        hosts: dict[str, int] = defaultdict(int)
        for (day, host, _directive), n in self.csp.items():
            if lo <= day <= hi:
                hosts[host] += n
        top = sorted(hosts.items(), key=lambda item: (-item[1], item[0]))[:TOP_HOSTS]
        return build_summary(
            start, end, self.timezone, days, [(*k, *v) for k, v in keyed.items()], top
        )

    async def purge(self, before: datetime) -> int:
        if before.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        self._check_open()
        kept = [r for r in self._log if r.at >= before]
        removed = len(self._log) - len(kept)
        self._log = kept
        self._revoked = [(i, at) for i, at in self._revoked if at >= before]
        return removed

    async def revoked_since(self, since: datetime) -> list[tuple[str, datetime]]:
        if since.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        self._check_open()
        return sorted(((i, at) for i, at in self._revoked if at >= since), key=lambda item: item[1])

    def _apply(self, records: list[ConsentRecord]) -> None:
        increments = Increments(self._tz)
        for record in records:
            increments.add_record(record)
        self._log.extend(records)
        self._revoked.extend((r.consent_id, r.at) for r in records if r.action == WITHDRAW)
        self._merge(increments)

    def _merge(self, increments: Increments) -> None:
        for cube_key, n in increments.cube.items():
            self.cube[cube_key] += n
        daily, _monthly = increments.counters()  # monthly rows are not kept: summaries here use the daily ones
        for key, counts in daily.items():
            row = self.by_key.setdefault(key, [0] * len(counts))
            for i, value in enumerate(counts):
                row[i] += value
        for impression_key, n in increments.impressions.items():
            self.impressions[impression_key] += n
        for csp_key, n in increments.csp.items():
            self.csp[csp_key] += n
        self.commits += 1

    def _check_open(self) -> None:
        if not self._open:
            raise StoreClosedError("the consent store is closed")

"""Withdrawn and erased consent ids, held in memory so a replayed cookie is refused without asking the store.

A withdrawal clears the visitor's cookie, but a copy of it (another browser profile, a saved request, an attacker
replaying it) would still verify: the signature is good and the consent has not expired. So every process keeps
the ids withdrawn or erased within the last ``validity`` (after that, any cookie decided before the revocation has
expired by itself) with the time of the revocation. ``VisitorReader`` consults the set on every request: one
dictionary lookup, never a database call.

The rule is "a cookie whose id was revoked at R counts only if it was decided after R": the API never gives a new
decision the id of a revoked cookie (a revoked cookie reads as "no consent yet", keeping no id), and should an id
ever come back, only the cookies decided before its revocation are refused.

``RevocationRefresher`` keeps the set in step with the store: it loads the revocations of the last ``validity``
at start-up, then every ``interval`` seconds asks for those since its previous poll (with an overlap, so a
revocation committed late by another worker is not missed; adding an id twice is harmless). The fetch is a
constructor callable (the store's ``revoked_since``), so this module never imports the store.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta, timezone

logger = logging.getLogger("gateway.revocations")

Fetch = Callable[[datetime], Awaitable[list[tuple[str, datetime]]]]
# How far back each poll reaches behind the previous one: a withdrawal recorded by another worker becomes
# visible when its batch commits, which can be a few seconds after its timestamp under a busy write lock.
OVERLAP = timedelta(seconds=60)
# Cookie and revocation times come from the clocks of different processes or machines: a cookie decided up to this
# long after a revocation of its id is refused too. No decision ever legitimately takes a revoked id (see above).
CLOCK_SKEW = 5.0


class Revocations:
    """consent id -> when it was revoked (epoch seconds), forgotten ``keep`` after the revocation."""

    def __init__(self, keep: timedelta, clock: Callable[[], float] = time.time) -> None:
        self._keep = keep.total_seconds()
        self._clock = clock
        self._at: dict[str, float] = {}
        self._expiry: list[tuple[float, str]] = []  # (forget at, id): a heap, so pruning is O(expired)

    def __len__(self) -> int:
        return len(self._at)

    def add(self, consent_id: str, at: datetime) -> None:
        """Record a revocation; the latest time of an id wins. One already past ``keep`` is not kept."""
        revoked = at.timestamp()
        if revoked + self._keep <= self._clock() or revoked <= self._at.get(consent_id, float("-inf")):
            return
        self._at[consent_id] = revoked
        heapq.heappush(self._expiry, (revoked + self._keep, consent_id))

    def update(self, revoked: Iterable[tuple[str, datetime]]) -> None:
        for consent_id, at in revoked:
            self.add(consent_id, at)
        self.prune()

    def revokes(self, consent_id: str, decided_at: datetime | None) -> bool:
        """Whether a cookie of ``consent_id`` decided at ``decided_at`` has been revoked since (the hot path).

        ``decided_at`` None (a state that no longer holds, kept only for its id) counts as revoked if the id is.
        Cookie times are whole seconds (never later than the decision) and may come from another machine's clock,
        so the comparison allows ``CLOCK_SKEW``."""
        revoked = self._at.get(consent_id)
        if revoked is None:
            return False
        return decided_at is None or decided_at.timestamp() <= revoked + CLOCK_SKEW

    def prune(self) -> int:
        """Forget revocations older than ``keep``: every cookie they could refuse has expired. Returns how many."""
        now = self._clock()
        removed = 0
        while self._expiry and self._expiry[0][0] <= now:
            until, consent_id = heapq.heappop(self._expiry)
            revoked = self._at.get(consent_id)
            if revoked is not None and revoked + self._keep == until:  # else a later revocation replaced it
                del self._at[consent_id]
                removed += 1
        return removed


class RevocationRefresher:
    """Loads ``revocations`` from the store at ``start()`` and refreshes them every ``interval`` seconds until
    ``stop()``; owned by the lifespan (``Components.startup``/``shutdown``)."""

    def __init__(self, revocations: Revocations, fetch: Fetch, interval: float, keep: timedelta) -> None:
        if interval <= 0:
            raise ValueError("the refresh interval must be positive")
        self.revocations = revocations
        self._fetch = fetch
        self._interval = interval
        self._keep = keep
        self._since: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """The first load happens before the gateway answers: a worker that starts after a withdrawal refuses
        the replayed cookie from its first request. A store that cannot answer is logged and retried."""
        if self._task is not None:
            return
        await self.refresh()
        self._task = asyncio.create_task(self._run(), name="consent-revocations-refresher")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def refresh(self) -> bool:
        """One poll; False (logged) when the store did not answer, to be retried at the next interval."""
        now = datetime.now(timezone.utc)
        since = now - self._keep if self._since is None else self._since - OVERLAP
        try:
            revoked = await self._fetch(since)
        except Exception:  # a storage fault must not stop the refresher: the next poll retries
            logger.exception("cannot load revoked consents from the store")
            return False
        self.revocations.update(revoked)
        self._since = now
        return True

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.refresh()

"""A small LRU of body transformations: rewriting a page for a consent class, compressing a response.

Both are pure functions of (body, variant), and a site serves the same few pages and assets over and over,
so the second visitor of a consent class costs a lookup instead of a rewrite or a brotli pass. The key is the
body's length and its first and last bytes (hashing a whole 30 KB body each time would cost more than the
lookup saves); a hit is confirmed by comparing the whole stored body, so two bodies that share a key can only
cost a miss, never serve one for the other. Bounded by entry count and by stored bytes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

_EDGE = 256


class BodyCache:
    def __init__(self, entries: int = 128, max_body: int = 128 * 1024, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.entries = entries
        self.max_body = max_body
        self.max_bytes = max_bytes
        self.stored = 0
        self._items: OrderedDict[tuple[int, bytes, bytes, Hashable], tuple[bytes, bytes]] = OrderedDict()

    def get(self, body: bytes, variant: Hashable) -> bytes | None:
        if len(body) > self.max_body:
            return None
        key = (len(body), body[:_EDGE], body[-_EDGE:], variant)
        hit = self._items.get(key)
        if hit is None or hit[0] != body:
            return None
        self._items.move_to_end(key)
        return hit[1]

    def put(self, body: bytes, variant: Hashable, out: bytes) -> None:
        if len(body) > self.max_body:
            return
        key = (len(body), body[:_EDGE], body[-_EDGE:], variant)
        old = self._items.pop(key, None)
        if old is not None:
            self.stored -= len(old[0]) + len(old[1])
        self._items[key] = (body, out)
        self.stored += len(body) + len(out)
        while len(self._items) > self.entries or self.stored > self.max_bytes:
            _, (b, o) = self._items.popitem(last=False)
            self.stored -= len(b) + len(o)

    def __len__(self) -> int:
        return len(self._items)

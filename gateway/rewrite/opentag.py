"""A tag still open at the end of a chunk, held until its ">" arrives.

Later chunks are only scanned for the tag's ">" from where the last scan stopped (never the whole tag again), so
one tag with thousands of attributes arriving in small chunks costs linear time, not (tag size / chunk size)
rescans.
"""

from __future__ import annotations

from gateway.rewrite import tokenizer as tk

_ASCII_LETTERS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class OpenTag:
    def __init__(self, carry: bytes, state: str) -> None:
        self._pieces = [carry]
        self._size = len(carry)
        self._state = state  # the tokenizer's state at the end of what was read
        self._read = 1  # pieces read so far

    @staticmethod
    def of(carry: bytes) -> OpenTag | None:
        """An OpenTag if ``carry`` is a start or end tag without its ">" yet, else None."""
        if len(carry) < 3:
            return None
        at = 2 if carry[1] == 0x2F else 1  # "</"
        if carry[0] != 0x3C or carry[at] not in _ASCII_LETTERS:
            return None
        _, state = tk.tag_tail(carry, at, "tagname")
        return None if state == "done" else OpenTag(carry, state)

    def add(self, chunk: bytes, max_carry: int) -> tuple[bytes, bool] | None:
        """Take the next chunk: None while the tag is still open and within ``max_carry``; else everything held
        and whether the tag is complete (False: still open, now past ``max_carry``)."""
        self._pieces.append(chunk)
        self._size += len(chunk)
        state = self._state
        if 0x3E in chunk:  # only a ">" can end the tag: read up to here, from where the last read stopped
            for piece in self._pieces[self._read:]:
                if state != "done":
                    state = tk.tag_tail(piece, 0, state)[1]
            self._state, self._read = state, len(self._pieces)
        if state != "done" and self._size <= max_carry:
            return None
        return b"".join(self._pieces), state == "done"

    def held(self) -> bytes:
        return b"".join(self._pieces)

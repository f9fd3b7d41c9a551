"""One send per response where uvicorn would make two.

uvicorn writes a response's head to the socket as soon as the app sends ``http.response.start`` and the body as
a second write: two system calls and, with Nagle's algorithm off, two packets for every small response. aiohttp
and nginx send the head with the first piece of body. ``CoalescingHTTP`` is uvicorn's own HTTP protocol with the
connection's transport wrapped so that a small write is held until the next write, or until the event loop's
next turn when no other write follows, and the two leave together. At most one small write is ever held, so
uvicorn's flow control (which watches the real transport) still sees everything else as it happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

# Only a write this small is held back: a head, a chunk's framing, a short body. Bigger ones leave at once.
HOLD_LIMIT = 16 * 1024


class CoalescingTransport:
    """A transport whose small writes wait for the next write or the loop's next turn, whichever comes first."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.writelines((held, data))  # uvloop: one vectored send, the body not copied
        elif len(data) <= HOLD_LIMIT:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def writelines(self, list_of_data: Iterable[bytes]) -> None:
        self.write(b"".join(list_of_data))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def flush(self) -> None:
        """Send what is held (nothing to do when the next write took it along, or the peer is gone)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def __getattr__(self, name: str) -> Any:  # get_extra_info, pause_reading, set_protocol, abort...
        return getattr(self._transport, name)


class CoalescingHTTP(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP/1.1 protocol (httptools, else h11) writing through a ``CoalescingTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(CoalescingTransport(transport, asyncio.get_running_loop()))

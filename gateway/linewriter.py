"""A buffered line writer off the request path: the event loop appends a line (no lock, no system call); a
daemon thread sends what waits every second or as soon as 64 KB wait, in writes of whole lines of at most
PIPE_BUF bytes, so the lines of processes sharing one pipe or file never mix. A sink slower than the traffic
makes the buffer stop at 1 MiB and drops (counts, then reports) lines rather than holding up requests.
"""

from __future__ import annotations

import atexit
import logging
import os
import select
import threading
from collections import deque
from typing import Protocol

FLUSH_SECONDS = 1.0
FLUSH_BYTES = 64 * 1024
MAX_BUFFER = 1024 * 1024
WRITE_MAX = select.PIPE_BUF  # a write to a pipe up to this size is never interleaved with another's

logger = logging.getLogger("gateway.accesslog")


class Sink(Protocol):
    def write(self, data: bytes) -> None: ...
    def reopen_if_moved(self) -> None: ...
    def close(self) -> None: ...


class FileSink:
    """stdout (``path`` empty), or a file opened for appending. Log rotation: when the path names another file
    than the one open (logrotate moved it away and created a new one), the next flush opens the new file;
    copytruncate works too, since every write appends."""

    def __init__(self, path: str = "") -> None:
        self.path = path
        self._fd = self._open() if path else 1
        self._id = self._identity()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def reopen_if_moved(self) -> None:
        if self.path:
            try:
                st = os.stat(self.path)
                moved = (st.st_dev, st.st_ino) != self._id
            except OSError:
                moved = True
            if moved:
                fd, self._fd = self._fd, self._open()
                os.close(fd)
                self._id = self._identity()

    def close(self) -> None:
        if self.path:
            os.close(self._fd)

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def _identity(self) -> tuple[int, int]:
        st = os.fstat(self._fd)
        return st.st_dev, st.st_ino


class LineWriter:
    """Lines appended by the event loop, written by a daemon thread every ``flush_seconds`` or when
    ``flush_bytes`` are waiting; past ``max_bytes`` waiting, lines are dropped and counted in ``dropped``."""

    def __init__(self, sink: Sink, flush_seconds: float = FLUSH_SECONDS, flush_bytes: int = FLUSH_BYTES,
                 max_bytes: int = MAX_BUFFER) -> None:
        self.sink = sink
        self._overflowed = 0  # lines refused by a full buffer (the loop's count)
        self._flush_seconds, self._flush_bytes, self._max_bytes = flush_seconds, flush_bytes, max_bytes
        # The event loop appends and counts what it queued; the thread pops and counts what it took: each counter
        # has one writer, and deque's append and popleft are atomic, so a request takes no lock.
        self._lines: deque[bytes] = deque()
        self._queued = 0
        self._taken = 0
        self._failed = 0  # lines the sink refused (the thread's count; ``dropped`` adds the loop's)
        self._reported = 0
        self._wake = threading.Event()
        self._closing = self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def dropped(self) -> int:
        return self._overflowed + self._failed

    def append(self, line: bytes) -> None:
        """Called from the event loop only."""
        waiting = self._queued - self._taken + len(line)
        if waiting > self._max_bytes:
            self._overflowed += 1
            return
        self._lines.append(line)
        self._queued += len(line)
        if waiting >= self._flush_bytes and not self._wake.is_set():
            self._wake.set()

    def start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
            self._thread.start()
            atexit.register(self.close)  # a server that stops without its lifespan's shutdown still flushes

    def close(self, timeout: float = 5.0) -> None:
        """Write what is waiting, stop and close the sink (once); a sink blocked past ``timeout`` seconds is given
        up on."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        thread, self._thread = self._thread, None
        if thread is None:
            self._flush()
        else:
            self._closing = True
            self._wake.set()
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("access log: the sink did not take the last lines within %gs", timeout)
                return
        self.sink.close()

    def _run(self) -> None:
        while not self._closing:
            self._wake.wait(self._flush_seconds)
            self._wake.clear()
            self._flush()
        self._flush()

    def _flush(self) -> None:
        queue = self._lines
        lines = [queue.popleft() for _ in range(len(queue))]  # what the loop appends meanwhile waits its turn
        self._taken += sum(map(len, lines))
        overflowed = self._overflowed - self._reported  # dropped by a full buffer since the last warning
        self._reported += overflowed
        if overflowed:
            logger.warning("access log: %d lines dropped: the sink is slower than the traffic", overflowed)
        try:
            self.sink.reopen_if_moved()
            chunk: list[bytes] = []
            size = 0
            for line in lines:
                if size + len(line) > WRITE_MAX and chunk:
                    self.sink.write(b"".join(chunk))
                    chunk, size = [], 0
                chunk.append(line)
                size += len(line)
            if chunk:
                self.sink.write(b"".join(chunk))
        except OSError as exc:
            self._failed += len(lines)
            logger.warning("access log: cannot write (%s): %d lines dropped", exc.strerror or exc, len(lines))

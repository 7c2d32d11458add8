"""One wall-clock budget over a whole exchange: connect, headers and body together.

Socket timeouts bound each read, so a host trickling a byte a second never trips them. A
watchdog timer shuts the socket down when the budget runs out, which ends any blocked read.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return time.monotonic() >= self.end


class Watchdog:
    """`fired` once it has cut the connection: reads that ended early are timeouts, not EOF.
    `stand_down()` ends the watch early (e.g. once a request is read, before it is served)."""

    def __init__(self) -> None:
        self.fired = False
        self.timer: threading.Timer | None = None

    def stand_down(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


@contextmanager
def watchdog(
    deadline: Deadline, current_socket: Callable[[], socket.socket | None]
) -> Iterator[Watchdog]:
    """Shut down `current_socket()` at the deadline unless the block has finished first."""
    dog = Watchdog()

    def cut() -> None:
        sock = current_socket()
        dog.fired = True
        if sock is not None:
            # The plain socket's shutdown, also under TLS: it wakes a blocked recv at once.
            with suppress(OSError):  # already closed: nothing left to cut
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    dog.timer = threading.Timer(deadline.remaining(), cut)
    dog.timer.daemon = True
    dog.timer.start()
    try:
        yield dog
    finally:
        dog.stand_down()

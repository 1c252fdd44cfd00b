"""Admission in front of the encoders: a bounded queue served in arrival order.

``/classify``, ``/detect`` and ``/ask`` share one line: at most ``workers`` requests
encode at once and at most ``max_queue`` wait for a turn,
first come first served; one more is refused at once with 429 and a ``Retry-After``
estimated from recent encode times, so under overload a client learns quickly when to
come back instead of waiting behind an ever longer queue (the latency of the requests
that are served stays bounded: about ``(workers + max_queue) / workers`` encode times).
A request that gives up (its time budget ran out, the client went away) leaves the queue
at once and never starts. When the last request leaves, ``on_idle`` runs (the service
hands freed memory back to the operating system there).

Thread-safe: slots may be taken from several event loops (tests run one per client).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import math
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable

from starlette.exceptions import HTTPException


class Admission:
    """``async with admission.slot(): ...`` around the expensive part of a request."""

    def __init__(self, workers: int, max_queue: int, on_idle: Callable[[], None] | None = None) -> None:
        if workers < 1 or max_queue < 0:
            raise ValueError(f"workers must be >= 1 and max_queue >= 0; got {workers}, {max_queue}")
        self.workers, self.max_queue, self.on_idle = workers, max_queue, on_idle
        self.active = 0
        self.rejected = 0
        self.served = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._lock = threading.Lock()
        self._hold_s = 1.0  # moving average of how long a slot is held

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def retry_after_s(self) -> int:
        """Seconds until a slot is likely free for a request arriving now."""
        return max(1, math.ceil((len(self._waiters) + 1) * self._hold_s / self.workers))

    def _refuse(self) -> HTTPException:
        self.rejected += 1
        after = self.retry_after_s()
        return HTTPException(
            429,
            f"the service is busy: {self.active} requests encoding and {len(self._waiters)} waiting "
            f"(SCREENSTATE_WORKERS={self.workers}, SCREENSTATE_MAX_QUEUE={self.max_queue}); retry in {after} s",
            headers={"Retry-After": str(after)},
        )

    async def acquire(self) -> None:
        """Take a slot, waiting in line; 429 when the line is full. Cancelled while waiting:
        leaves the line (a slot handed over meanwhile goes to the next in line)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.active < self.workers and not self._waiters:
                self.active += 1
                return
            if len(self._waiters) >= self.max_queue:
                raise self._refuse()
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
        try:
            await fut  # the releasing request hands its slot over: ``active`` already counts us
        except asyncio.CancelledError:
            with self._lock:
                granted = fut.done() and not fut.cancelled()
                if not granted:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(fut)
            if granted:
                self.release()
            raise

    def release(self, held_s: float | None = None) -> None:
        """Give the slot back: to the first request in line, else free it."""
        idle = False
        with self._lock:
            if held_s is not None:
                self._hold_s = 0.8 * self._hold_s + 0.2 * held_s
                self.served += 1
            while self._waiters:
                fut = self._waiters.popleft()
                if not fut.done():
                    self._hand_over(fut)
                    return
            self.active -= 1
            idle = self.active == 0
        if idle and self.on_idle is not None:
            self.on_idle()

    def _hand_over(self, fut: asyncio.Future[None]) -> None:
        """Give the slot to ``fut``, whichever event loop (and thread) it belongs to; if it
        was cancelled before that happened, the slot goes on to the next in line."""
        loop = fut.get_loop()
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            fut.set_result(None)
            return

        def hand() -> None:
            if fut.done():
                self.release()
            else:
                fut.set_result(None)

        loop.call_soon_threadsafe(hand)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.release(time.monotonic() - t0)


_TRIM = threading.Lock()
#: glibc's mallopt parameter number of M_ARENA_MAX (malloc.h)
_M_ARENA_MAX = -8


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def cap_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas at ``arenas`` for threads that start allocating from now on
    (True where applied; False elsewhere). glibc gives up to 8 arenas per core to threads that
    allocate concurrently; each keeps its peak size after a burst, which ``malloc_trim`` returns
    only in part, so a server that ran many threads at once stays hundreds of MB above what it
    holds."""
    fn = getattr(_libc(), "mallopt", None)
    return bool(fn is not None and fn(_M_ARENA_MAX, max(1, arenas)) == 1)


def release_free_memory() -> None:
    """Hand the heap pages that freed objects left behind back to the operating system
    (glibc ``malloc_trim``, in a thread; elsewhere nothing). After a burst of requests the
    worker threads' malloc arenas keep their peak size otherwise: the process's RSS would
    stay hundreds of MB above what it holds."""

    def trim() -> None:
        if not _TRIM.acquire(blocking=False):
            return  # one trim at a time is enough
        try:
            gc.collect()  # cycles holding arrays go first
            fn = getattr(_libc(), "malloc_trim", None)
            if fn is not None:
                fn(0)
        finally:
            _TRIM.release()

    threading.Thread(target=trim, name="malloc-trim", daemon=True).start()

"""Request batching for ``/classify``: concurrent uploads are encoded together, and one
slow image never holds up the rest."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from screenstate.classify import LoadedImage

#: images with more pixels than this are encoded on their own, not in a shared batch
LARGE_IMAGE_PIXELS = 4_000_000


class Batcher:
    """Collects concurrent classify requests for a few milliseconds and encodes them as
    one batch in a worker thread (the encoder is the expensive, batch-friendly part).

    Up to ``max_concurrent`` batches run at once, and an image larger than
    ``LARGE_IMAGE_PIXELS`` (a long scrolling capture: OCR reads it strip by strip) is
    encoded alone, so small requests arriving meanwhile are not queued behind it."""

    def __init__(
        self,
        encode: Callable[[list[LoadedImage]], list[Any]],
        max_batch: int = 32,
        wait_s: float = 0.004,
        max_concurrent: int = 2,
    ) -> None:
        self.encode, self.max_batch, self.wait_s = encode, max_batch, wait_s
        self.max_concurrent = max_concurrent
        #: per event loop (tests and some servers run several): its queue and batch slots
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lane] = weakref.WeakKeyDictionary()

    async def submit(self, img: LoadedImage, on_done: Callable[[], None] | None = None) -> Any:
        """The features of ``img``; ``on_done`` runs when the encoding that includes it has
        ended (or it was dropped unstarted because its request gave up), even after the
        request stopped waiting."""
        w, h = img.image.size
        if w * h > LARGE_IMAGE_PIXELS:
            work = asyncio.ensure_future(asyncio.to_thread(self.encode, [img]))
            if on_done is not None:
                work.add_done_callback(lambda _: on_done())
            return (await asyncio.shield(work))[0]
        loop = asyncio.get_running_loop()
        lane = self._lanes.get(loop)
        if lane is None:
            lane = self._lanes[loop] = _Lane(asyncio.Queue(), asyncio.Semaphore(self.max_concurrent))
            lane.task = loop.create_task(self._run(lane))
        fut: asyncio.Future[Any] = loop.create_future()
        await lane.queue.put((img, fut, on_done))
        return await fut

    async def aclose(self) -> None:
        """Stop collecting on the running event loop (at shutdown; a later submit starts again)."""
        lane = self._lanes.pop(asyncio.get_running_loop(), None)
        if lane is not None and lane.task is not None:
            lane.task.cancel()
            try:
                await lane.task
            except asyncio.CancelledError:
                pass

    async def _run(self, lane: _Lane) -> None:
        queue = lane.queue
        while True:
            first = await queue.get()
            batch = [first]
            deadline = asyncio.get_running_loop().time() + self.wait_s
            while len(batch) < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), timeout))
                except asyncio.TimeoutError:
                    break
            await lane.slots.acquire()
            asyncio.get_running_loop().create_task(self._encode(batch, lane.slots))

    async def _encode(self, batch: list[_Item], slots: asyncio.Semaphore) -> None:
        for _, fut, on_done in batch:
            if fut.done() and on_done is not None:  # its request gave up meanwhile: not encoded
                on_done()
        batch = [b for b in batch if not b[1].done()]
        try:
            if batch:
                feats = await asyncio.to_thread(self.encode, [b[0] for b in batch])
                for (_, fut, _d), f in zip(batch, feats):
                    if not fut.done():
                        fut.set_result(f)
        except Exception as e:  # noqa: BLE001 - delivered to every waiter
            for _, fut, _d in batch:
                if not fut.done():
                    fut.set_exception(e)
        finally:
            slots.release()
            for _, _f, on_done in batch:
                if on_done is not None:
                    on_done()


_Item = tuple[LoadedImage, "asyncio.Future[Any]", "Callable[[], None] | None"]


@dataclass
class _Lane:
    queue: asyncio.Queue[_Item]
    slots: asyncio.Semaphore
    task: asyncio.Task[None] | None = None

"""What the HTTP service does, without HTTP: deployed configs, the models built from them
(one bounded cache), the shared encoder, and the one path from an upload to features.

:mod:`screenstate.server.routes` is a thin layer of endpoints over one :class:`Service`."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from starlette.exceptions import HTTPException

from screenstate.classify import LoadedImage, ScreenClassifier, load_with_hash
from screenstate.embeddings.cache import MemoryFeatureCache
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.factory import EncoderOptions, create_encoder
from screenstate.embeddings.feature_store import FeatureStore
from screenstate.embeddings.features import ScreenFeatures
from screenstate.errors import SpecError
from screenstate.schema import ClassSpec, DetectorSpec, ExemplarsExample, ImageExample
from screenstate.server.admission import Admission, release_free_memory
from screenstate.server.batching import Batcher
from screenstate.server.config_store import ConfigStore
from screenstate.server.limits import ServiceLimits
from screenstate.server.registry import LoadedModels

if TYPE_CHECKING:
    from screenstate.asking import Asker
    from screenstate.detect import ScreenDetector
    from screenstate.embeddings.text import TextChannel

#: one answer for every image example in a deployed config, whatever its path: the
#: service never looks at its own filesystem for a client's config
NO_IMAGE_EXAMPLES = (
    'the service accepts text examples only: image exemplars ({"image": ...} or {"exemplars": ...}) '
    "and pins need a local class file (use the Python API, classify-directory or the review page)"
)
KINDS = ("classifier", "detector", "asker")
log = logging.getLogger("screenstate")
T = TypeVar("T")


class Upload(Protocol):
    """What the service reads of an uploaded file (FastAPI's ``UploadFile``)."""

    async def read(self, size: int = -1) -> bytes: ...


class Service:
    """One per app: the config store, the per-request limits, one encoder shared by every
    deployed config (loaded on first use), one bounded cache of the classifiers, detectors
    and askers built from deployed configs, and a memory of recent screens' features."""

    def __init__(
        self,
        store: ConfigStore,
        limits: ServiceLimits,
        encoder: str | Encoder = "auto",
        options: EncoderOptions | None = None,
        batching: bool = True,
        memory_cache: int = 256,
        vlm: Any = None,
    ) -> None:
        self.store, self.limits, self.batching = store, limits, batching
        self._encoder_spec = encoder
        self._options = options or EncoderOptions()
        self._encoder: Encoder | None = encoder if isinstance(encoder, Encoder) else None
        self._encoder_lock = threading.Lock()  # batches, /detect and /ask run in threads: load once
        self._vlm = vlm
        #: every model built from a deployed config, keyed ``kind:deployed_id``
        self.loaded: LoadedModels[Any] = LoadedModels(limits.max_loaded)
        # one encoder for every deployed classifier; bounded in entries and in bytes
        self.memory = MemoryFeatureCache(memory_cache, max_bytes=limits.max_cache_bytes)
        self._features: FeatureStore | None = None
        self.batcher = Batcher(self._encode_loaded)
        #: bounded, first-come-first-served line in front of the encoders (429 beyond it)
        self.admission = Admission(limits.workers, limits.max_queue, on_idle=release_free_memory)
        self._workers = ThreadPoolExecutor(limits.workers, thread_name_prefix="encode")
        #: screens being encoded now: a second request for one waits for it instead of queueing
        self._inflight: dict[str, Future[ScreenFeatures]] = {}

    # -- models ------------------------------------------------------------------------
    @property
    def encoder_name(self) -> str | None:
        return self._encoder.name if self._encoder is not None else None

    def encoder(self) -> Encoder:
        with self._encoder_lock:
            if self._encoder is None:
                self._encoder = create_encoder(
                    str(self._encoder_spec), parallel_ocr(self._options, self.limits.workers)
                )
            return self._encoder

    def _text_channel(self) -> TextChannel | None:
        return self.encoder().text

    def _vlm_model(self) -> Any:
        with self._encoder_lock:
            if self._vlm is None:
                from screenstate.vlm import VLM

                self._vlm = VLM()  # loads its weights on the first free-form question only
            return self._vlm

    # -- deployed configs --------------------------------------------------------------
    def stored(self, deployed_id: str) -> dict[str, Any]:
        """``{"kind", "config"}`` of a deployed id (400 when unknown, as the reference server)."""
        body = self.store.get(deployed_id)
        if body is None:
            raise HTTPException(400, f"deployed_id {deployed_id!r} not found; deploy a config first")
        return dict(json.loads(body))

    def config(self, deployed_id: str, kind: str) -> dict[str, Any]:
        data = self.stored(deployed_id)
        if data.get("kind") != kind:
            raise HTTPException(400, f"deployed_id {deployed_id!r} is a {data.get('kind')}, not a {kind}")
        return dict(data["config"])

    def deploy(self, kind: str, payload: dict[str, Any]) -> dict[str, str]:
        """Store a new config, or replace one when ``payload`` names a known ``deployed_id``."""
        requested = payload.pop("deployed_id", None)
        if requested is not None and not isinstance(requested, str):
            raise HTTPException(
                422, f"deployed_id: must be a string (an id from an earlier deploy); got {requested!r}"[:300]
            )
        model = ClassSpec if kind == "classifier" else DetectorSpec
        self.limits.check_config(payload, model.configs_field)
        try:
            spec = model.from_dict(payload, check_files=False)  # the server's files are none of a client's business
        except SpecError as e:
            raise HTTPException(422, str(e)) from e
        if getattr(spec, "pins", None) or any(
            isinstance(ref.example, (ImageExample, ExemplarsExample)) for ref in spec.iter_examples()
        ):
            raise HTTPException(422, NO_IMAGE_EXAMPLES)
        if requested and self.store.exists(requested):
            deployed_id, message = requested, "Model updated."
        else:
            deployed_id = str(uuid.uuid4())
            message = f"{requested} model not found. Generated new model." if requested else "New model deployed."
        config = spec.model_dump(exclude_none=True, exclude={"deployed_id"})
        self.store.set(deployed_id, kind, json.dumps({"kind": kind, "config": config}))
        for k in KINDS:
            self.loaded.drop(f"{k}:{deployed_id}")
        return {"deployed_id": deployed_id, "message": message}

    def classifier(self, deployed_id: str) -> ScreenClassifier:
        cfg = self.config(deployed_id, "classifier")
        return self.loaded.get(
            f"classifier:{deployed_id}",
            json.dumps(cfg, sort_keys=True),
            lambda: ScreenClassifier(ClassSpec.from_dict(cfg, check_files=False), encoder=self.encoder()),
        )

    def detector(self, deployed_id: str) -> ScreenDetector:
        from screenstate.detect import ScreenDetector

        cfg = self.config(deployed_id, "detector")

        def build() -> ScreenDetector:
            spec = DetectorSpec.from_dict(cfg, check_files=False)
            return ScreenDetector(spec, regions="auto", text_channel=self._text_channel())

        return self.loaded.get(f"detector:{deployed_id}", json.dumps(cfg, sort_keys=True), build)

    def asker(self, deployed_id: str | None) -> Asker:
        """One Asker per deployed classifier (its StateChecker built once), and one without."""
        from screenstate.asking import Asker
        from screenstate.checker import StateChecker

        vlm = self._vlm_model()
        if not deployed_id:
            return self.loaded.get("asker:", "", lambda: Asker(text_channel=self._text_channel(), vlm=vlm))
        cfg = self.config(deployed_id, "classifier")

        def build() -> Asker:
            checker = StateChecker(ClassSpec.from_dict(cfg, check_files=False), encoder=self.encoder())
            return Asker(checker=checker, text_channel=self._text_channel(), vlm=vlm)

        return self.loaded.get(f"asker:{deployed_id}", json.dumps(cfg, sort_keys=True), build)

    # -- uploads -----------------------------------------------------------------------
    async def read_image(self, data: Upload, decode: bool = True) -> LoadedImage:
        """The upload, size-checked and hashed; decoded now unless ``decode`` is False."""
        limit = self.limits.max_upload_bytes
        raw = await data.read(limit + 1)
        if len(raw) > limit:
            raise HTTPException(413, f"upload is larger than {limit} bytes")
        self.limits.check_image_header(raw)  # a 64000x1000 strip is refused before any decoding
        img = await asyncio.to_thread(
            functools.partial(load_with_hash, raw, max_pixels=self.limits.max_pixels, lazy=True)
        )  # hashing only
        return await _decoded(img) if decode else img

    def feature_store(self) -> FeatureStore:
        """The feature store of the service's encoder (memory only: uploads are not kept on disk)."""
        enc = self.encoder()
        with self._encoder_lock:
            if self._features is None:
                self._features = FeatureStore(enc, disk=None, memory=self.memory)
            return self._features

    def _encode_loaded(self, images: list[LoadedImage]) -> list[ScreenFeatures]:
        return self.feature_store().features(images)

    async def features_of(self, img: LoadedImage) -> ScreenFeatures:
        """Features of an upload: from the store when these bytes were seen, from the request
        encoding the same bytes right now, else decoded and encoded once admitted (batched
        with concurrent requests). The one place an upload becomes features."""
        feats = self.feature_store().cached(img.content_hash)
        if feats is not None:
            return feats
        shared = self._inflight.get(img.content_hash)
        if shared is not None:  # a concurrent.futures.Future: any event loop may wait for it
            return await asyncio.shield(asyncio.wrap_future(shared))
        mine: Future[ScreenFeatures] = Future()
        mine.set_running_or_notify_cancel()  # only its request settles it
        self._inflight[img.content_hash] = mine
        try:
            feats = await self._encode_admitted(img)
            mine.set_result(feats)
            return feats
        except BaseException as e:
            gave_up = HTTPException(503, "the request encoding this same screen gave up; retry", {"Retry-After": "1"})
            mine.set_exception(gave_up if isinstance(e, asyncio.CancelledError) else e)
            raise
        finally:
            if self._inflight.get(img.content_hash) is mine:
                del self._inflight[img.content_hash]

    async def _encode_admitted(self, img: LoadedImage) -> ScreenFeatures:
        """Wait for a turn (:class:`Admission`: 429 when the line is full), then decode and
        encode. The turn ends when the encoding really ends, not when a request gives up,
        so the encoders are never oversubscribed; a request cancelled while waiting (time
        budget, client gone) never starts, and one whose batch has not started is dropped."""
        await self.admission.acquire()
        t0 = time.monotonic()
        once = threading.Lock()

        def done(*_: Any) -> None:  # from a worker thread or the event loop, exactly once
            if once.acquire(blocking=False):
                self.admission.release(time.monotonic() - t0)

        handed_over = False  # from then on the batcher or the worker thread ends the turn
        try:
            if self.batching:
                img = await _decoded(img)
                handed_over = True
                return await self.batcher.submit(img, on_done=done)
            work = self._workers.submit(self._decode_encode, img)
            work.add_done_callback(done)  # not started and cancelled below: runs at once
            handed_over = True
            return await asyncio.wrap_future(work)  # cancelling it cancels ``work`` if not started
        finally:
            if not handed_over:
                done()

    async def admitted(self, fn: Callable[[], T]) -> T:
        """``fn()`` in a worker thread once admitted (:class:`Admission`: the same line as
        the encodes, 429 when it is full): ``/detect`` and ``/ask``. As for encodes, the
        turn ends when ``fn`` really returns, and a request that gives up while waiting
        never starts it."""
        await self.admission.acquire()
        t0 = time.monotonic()
        try:
            work = self._workers.submit(fn)
        except BaseException:
            self.admission.release(time.monotonic() - t0)
            raise
        work.add_done_callback(lambda _: self.admission.release(time.monotonic() - t0))
        return await asyncio.wrap_future(work)  # cancelling it cancels ``work`` if not started

    def _decode_encode(self, img: LoadedImage) -> ScreenFeatures:
        return self._encode_loaded([img])[0]  # decodes a lazily loaded upload first

    async def within_budget(self, work: Awaitable[T]) -> T:
        """``work`` or a 503 with ``Retry-After`` after the per-request time budget (the event
        loop stays free; the work is cancelled: queued encodes never start)."""
        try:
            return await asyncio.wait_for(work, self.limits.request_timeout_s)
        except asyncio.TimeoutError as e:
            raise HTTPException(
                503,
                f"request took longer than the {self.limits.request_timeout_s:g} s time budget "
                "(SCREENSTATE_REQUEST_TIMEOUT_S); try a smaller image",
                headers={"Retry-After": str(self.admission.retry_after_s())},
            ) from e

    async def aclose(self) -> None:
        """Stop the batcher's queue on this event loop (the app's lifespan calls it)."""
        await self.batcher.aclose()


def parallel_ocr(options: EncoderOptions, workers: int) -> EncoderOptions:
    """``options`` with an OCR that reads ``workers`` screens at once, the threads shared
    among them (unless the caller chose): the admitted requests then read in parallel
    instead of taking turns at one OCR on every thread, which spends ~40% more CPU a screen
    on 2 cores (``benchmarks/run.py server_load``)."""
    ocr = options.text.ocr
    if ocr.parallel != 1 or workers == 1:
        return options
    return options.model_copy(
        update={"text": dataclasses.replace(options.text, ocr=dataclasses.replace(ocr, parallel=workers))}
    )


async def _decoded(img: LoadedImage) -> LoadedImage:
    """``img`` with its pixels decoded in a thread (an undecodable upload raises
    :class:`~screenstate.errors.InvalidImageError`, answered 422 by the error mapping)."""
    await asyncio.to_thread(getattr, img, "image")
    return img

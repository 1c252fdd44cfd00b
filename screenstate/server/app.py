"""FastAPI app with the reference server's endpoints and error shape.

Endpoints: ``POST /deploy_classifier``, ``POST /classify?deployed_id=`` (multipart
``data``), ``POST /deploy_detector``, ``POST /detect?deployed_id=``,
``GET /model_config?deployed_id=``, plus ``POST /ask`` and ``GET /healthz``. Errors are
``{"status_code", "message", "data"}``. Models load once per process and are shared by
every deployed config; concurrent ``/classify`` requests are encoded together in one
batch (see :class:`_Batcher`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from screenstate.classify import LoadedImage, ScreenClassifier, load_with_hash
from screenstate.embeddings.cache import MemoryFeatureCache
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.factory import EncoderOptions, create_encoder
from screenstate.errors import InvalidImageError, ScreenstateError, SpecError
from screenstate.schema import ClassSpec, DetectorSpec
from screenstate.server.store import ConfigStore, open_store

INVALID_IMAGE = InvalidImageError.REFERENCE_MESSAGE
DEFAULT_MAX_UPLOAD = 32 * 1024 * 1024


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"status_code": status, "message": message, "data": None})


class _Batcher:
    """Collects concurrent classify requests for a few milliseconds and encodes them as
    one batch in a worker thread (the encoder is the expensive, batch-friendly part)."""

    def __init__(self, encode: Callable[[list[LoadedImage]], list[Any]], max_batch: int = 32, wait_s: float = 0.004):
        self.encode, self.max_batch, self.wait_s = encode, max_batch, wait_s
        self.queue: asyncio.Queue[tuple[LoadedImage, asyncio.Future[Any]]] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0
        self.items = 0

    async def submit(self, img: LoadedImage) -> Any:
        loop = asyncio.get_running_loop()
        if self.queue is None or self.loop is not loop:  # first call, or a new event loop
            self.loop, self.queue = loop, asyncio.Queue()
            loop.create_task(self._run(self.queue))
        fut: asyncio.Future[Any] = loop.create_future()
        await self.queue.put((img, fut))
        return await fut

    async def _run(self, queue: asyncio.Queue[tuple[LoadedImage, asyncio.Future[Any]]]) -> None:
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
            try:
                feats = await asyncio.to_thread(self.encode, [b[0] for b in batch])
                for (_, fut), f in zip(batch, feats):
                    if not fut.done():
                        fut.set_result(f)
            except Exception as e:  # noqa: BLE001 - delivered to every waiter
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
            self.batches += 1
            self.items += len(batch)


def create_app(
    store: str | Path | ConfigStore | None = None,
    encoder: str | Encoder = "auto",
    options: EncoderOptions | None = None,
    api_key: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
    batching: bool = True,
    memory_cache: int = 256,
) -> FastAPI:
    """Build the service. ``store``: SQLite path (default ``./screenstate.db``), ``redis://`` URL
    or a store object; ``api_key``: required ``X-API-Key`` header when set; ``memory_cache``:
    how many recent screens keep their features (a replay loop polling an unchanged screen
    is answered without encoding it again; 0 turns it off)."""
    app = FastAPI(title="screenstate", version="0.1.0", description=__doc__)
    cfg_store: ConfigStore = (
        store if store is not None and not isinstance(store, (str, Path)) else open_store(store or "screenstate.db")
    )
    api_key = api_key or os.environ.get("SCREENSTATE_API_KEY") or None
    shared: dict[str, Any] = {"encoder": encoder if isinstance(encoder, Encoder) else None}
    classifiers: OrderedDict[str, tuple[str, ScreenClassifier]] = OrderedDict()
    detectors: OrderedDict[str, tuple[str, Any]] = OrderedDict()
    app.state.store = cfg_store

    def get_encoder() -> Encoder:
        if shared["encoder"] is None:
            shared["encoder"] = create_encoder(str(encoder), options or EncoderOptions())
        return shared["encoder"]  # type: ignore[no-any-return]

    def encode_loaded(images: list[LoadedImage]) -> list[Any]:
        enc = get_encoder()
        return enc.encode([enc.prepare(li.image) for li in images])

    batcher = _Batcher(encode_loaded)
    app.state.batcher = batcher
    memory = MemoryFeatureCache(memory_cache)  # one encoder for every deployed classifier
    app.state.memory = memory

    async def features_of(img: LoadedImage) -> Any:
        """Features of an upload: from memory when these bytes were seen, else decoded and encoded."""
        feats = memory.get(img.content_hash)
        if feats is None:
            img = await _decoded(img)
            feats = await batcher.submit(img) if batching else (await asyncio.to_thread(encode_loaded, [img]))[0]
            memory.put(img.content_hash, feats)
        return feats

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
        return _error(422, "; ".join(parts))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.middleware("http")
    async def _auth(request: Request, call_next: Any) -> Any:
        if api_key and request.url.path not in ("/healthz", "/docs", "/openapi.json"):
            if request.headers.get("x-api-key") != api_key:
                return _error(401, "missing or wrong X-API-Key header")
        return await call_next(request)

    def _config(deployed_id: str, kind: str) -> dict[str, Any]:
        body = cfg_store.get(deployed_id)
        if body is None:
            raise HTTPException(400, f"deployed_id {deployed_id!r} not found; deploy a config first")
        data = json.loads(body)
        if data.get("kind") != kind:
            raise HTTPException(400, f"deployed_id {deployed_id!r} is a {data.get('kind')}, not a {kind}")
        return dict(data["config"])

    def _deploy(kind: str, payload: dict[str, Any]) -> dict[str, str]:
        requested = payload.pop("deployed_id", None)
        model = ClassSpec if kind == "classifier" else DetectorSpec
        try:
            spec = model.from_dict(payload)
        except SpecError as e:
            raise HTTPException(422, str(e)) from e
        if any(not isinstance(x, str) for ref in spec.iter_examples() for x in [ref.example]):
            raise HTTPException(422, "the service accepts text examples only; image exemplars need a local class file")
        if requested and cfg_store.exists(requested):
            deployed_id, message = requested, "Model updated."
        else:
            deployed_id = str(uuid.uuid4())
            message = f"{requested} model not found. Generated new model." if requested else "New model deployed."
        cfg_store.set(
            deployed_id,
            kind,
            json.dumps({"kind": kind, "config": spec.model_dump(exclude_none=True, exclude={"deployed_id"})}),
        )
        classifiers.pop(deployed_id, None)
        detectors.pop(deployed_id, None)
        return {"deployed_id": deployed_id, "message": message}

    async def _read_image(data: UploadFile, decode: bool = True) -> LoadedImage:
        """The upload, hashed; decoded now unless ``decode`` is False (see ``_decoded``)."""
        raw = await data.read(max_upload_bytes + 1)
        if len(raw) > max_upload_bytes:
            raise HTTPException(413, f"upload is larger than {max_upload_bytes} bytes")
        img = await asyncio.to_thread(functools.partial(load_with_hash, raw, lazy=True))  # hashing only
        return await _decoded(img) if decode else img

    async def _decoded(img: LoadedImage) -> LoadedImage:
        try:
            await asyncio.to_thread(getattr, img, "image")
        except InvalidImageError as e:
            raise HTTPException(422, INVALID_IMAGE) from e
        return img

    def _classifier(deployed_id: str) -> ScreenClassifier:
        cfg = _config(deployed_id, "classifier")
        key = json.dumps(cfg, sort_keys=True)
        hit = classifiers.get(deployed_id)
        if hit is None or hit[0] != key:
            hit = (key, ScreenClassifier(ClassSpec.from_dict(cfg), encoder=get_encoder()))
            classifiers[deployed_id] = hit
            while len(classifiers) > 256:
                classifiers.popitem(last=False)
        return hit[1]

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "encoder": shared["encoder"].name if shared["encoder"] else "not loaded yet"}

    @app.post("/deploy_classifier")
    async def deploy_classifier(request: Request) -> dict[str, str]:
        """Deploy a new classifier, or update one by passing its ``deployed_id``."""
        payload = await _json_body(request)
        return await asyncio.to_thread(_deploy, "classifier", payload)

    @app.post("/deploy_detector")
    async def deploy_detector(request: Request) -> dict[str, str]:
        """Deploy a new detector, or update one by passing its ``deployed_id``."""
        payload = await _json_body(request)
        return await asyncio.to_thread(_deploy, "detector", payload)

    @app.get("/model_config")
    async def model_config(deployed_id: str) -> dict[str, Any]:
        """The stored config of a deployed classifier or detector."""
        body = cfg_store.get(deployed_id)
        if body is None:
            raise HTTPException(400, f"deployed_id {deployed_id!r} not found; deploy a config first")
        data = json.loads(body)
        return {**data["config"], "deployed_id": deployed_id, "kind": data["kind"]}

    @app.post("/classify")
    async def classify(deployed_id: str, data: UploadFile = File(...)) -> dict[str, Any]:
        """Scores, prediction and raw scores of one uploaded image."""
        clf = await asyncio.to_thread(_classifier, deployed_id)
        img = await _read_image(data, decode=False)
        try:
            res = clf.classify_features([await features_of(img)])[0]
        except ScreenstateError as e:
            raise HTTPException(500, str(e)) from e
        return {"scores": res.scores, "pred": res.pred, "raw_scores": res.raw_scores}

    @app.post("/detect")
    async def detect(deployed_id: str, data: UploadFile = File(...)) -> list[list[dict[str, Any]]]:
        """Boxes ``[[{"tlbr", "score", "class"}, ...]]`` for one uploaded image."""
        from screenstate.detect import ScreenDetector

        cfg = _config(deployed_id, "detector")
        img = await _read_image(data)
        key = json.dumps(cfg, sort_keys=True)
        hit = detectors.get(deployed_id)
        if hit is None or hit[0] != key:
            text = next((c for c in get_encoder().channels if c.name == "text"), None)
            hit = (key, ScreenDetector(DetectorSpec.from_dict(cfg), regions="auto", text_channel=text))  # type: ignore[arg-type]
            detectors[deployed_id] = hit
        dets = await asyncio.to_thread(hit[1].detect, img.image)
        return [[d.to_dict() for d in dets]]

    @app.post("/ask")
    async def ask_endpoint(
        question: str = Form(...), data: UploadFile = File(...), deployed_id: str | None = None
    ) -> dict[str, Any]:
        """Answer a question about an image (classifier, detector, OCR, or the VLM)."""
        from screenstate.asking import Asker
        from screenstate.checker import StateChecker

        img = await _read_image(data)
        checker = None
        if deployed_id:
            checker = StateChecker(ClassSpec.from_dict(_config(deployed_id, "classifier")), encoder=get_encoder())
        text = next((c for c in get_encoder().channels if c.name == "text"), None)
        try:
            ans = await asyncio.to_thread(Asker(checker=checker, text_channel=text).ask, img.image, question)
        except ScreenstateError as e:
            raise HTTPException(503, str(e)) from e
        return {"text": ans.text, "path": ans.path, "evidence": json.loads(json.dumps(ans.evidence, default=str))}

    return app


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HTTPException(422, f"request body is not valid JSON: {e}") from e
    if not isinstance(payload, dict):
        raise HTTPException(422, "request body must be a JSON object")
    return payload

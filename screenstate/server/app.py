"""FastAPI app with the reference server's endpoints and error shape.

Endpoints: ``POST /deploy_classifier``, ``POST /classify?deployed_id=`` (multipart
``data``), ``POST /deploy_detector``, ``POST /detect?deployed_id=``,
``GET /model_config?deployed_id=``, plus ``POST /ask`` and ``GET /healthz``. Errors are
``{"status_code", "message", "data"}``, for every error the service returns. Models load
once per process and are shared by every deployed config; concurrent ``/classify``
requests are encoded together (see :class:`~screenstate.server.batching.Batcher`).
Every request is bounded: body and upload size (checked from ``Content-Length`` before
reading), classes, examples and example length of a deploy, image side and pixels, and a
time budget (see :mod:`screenstate.server.limits`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hmac
import json
import logging
import os
import threading
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from screenstate.classify import LoadedImage, ScreenClassifier, load_with_hash
from screenstate.embeddings.cache import MemoryFeatureCache
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.factory import EncoderOptions, create_encoder
from screenstate.embeddings.store import FeatureStore
from screenstate.errors import InvalidImageError, ScreenstateError, SpecError
from screenstate.schema import ClassSpec, DetectorSpec, ExemplarsExample, ImageExample
from screenstate.server.batching import Batcher
from screenstate.server.limits import BodyLimitMiddleware, ServiceLimits
from screenstate.server.registry import LoadedModels
from screenstate.server.store import ConfigStore, open_store

INVALID_IMAGE = InvalidImageError.REFERENCE_MESSAGE
DEFAULT_MAX_UPLOAD = ServiceLimits.max_upload_bytes
#: one answer for every image example in a deployed config, whatever its path: the
#: service never looks at its own filesystem for a client's config
NO_IMAGE_EXAMPLES = (
    'the service accepts text examples only: image exemplars ({"image": ...} or {"exemplars": ...}) '
    "need a local class file (use the Python API, classify-directory or the review page)"
)
log = logging.getLogger("screenstate")
T = TypeVar("T")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"status_code": status, "message": message, "data": None})


def create_app(
    store: str | Path | ConfigStore | None = None,
    encoder: str | Encoder = "auto",
    options: EncoderOptions | None = None,
    api_key: str | None = None,
    max_upload_bytes: int | None = None,
    batching: bool = True,
    memory_cache: int = 256,
    limits: ServiceLimits | None = None,
    vlm: Any = None,
) -> FastAPI:
    """Build the service. ``store``: SQLite path (default ``./screenstate.db``), ``redis://`` URL
    or a store object; ``api_key``: required ``X-API-Key`` header when set (default
    ``SCREENSTATE_API_KEY``; an empty key is refused, never taken as "no auth");
    ``memory_cache``: how many recent screens keep their features (a replay loop polling an
    unchanged screen is answered without encoding it again; 0 turns it off); ``limits``:
    per-request limits (default :meth:`ServiceLimits.from_env`; ``max_upload_bytes``
    overrides its upload limit); ``vlm``: the VLM behind free-form ``/ask`` questions
    (default: SmolVLM, loaded on the first such question, once per process)."""
    limits = limits or ServiceLimits.from_env()
    if max_upload_bytes is not None:
        limits = dataclasses.replace(limits, max_upload_bytes=max_upload_bytes)
    if api_key is None:
        api_key = os.environ.get("SCREENSTATE_API_KEY")
    if api_key is not None and not api_key.strip():
        raise ScreenstateError(
            "the API key is empty (--api-key or SCREENSTATE_API_KEY): an empty key would accept every "
            "request; set a real key, or unset the variable to serve without one on a trusted host"
        )
    app = FastAPI(title="screenstate", version="0.1.0", description=__doc__)
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    cfg_store: ConfigStore = (
        store if store is not None and not isinstance(store, (str, Path)) else open_store(store or "screenstate.db")
    )
    shared: dict[str, Any] = {"encoder": encoder if isinstance(encoder, Encoder) else None, "vlm": vlm}
    classifiers: LoadedModels[ScreenClassifier] = LoadedModels(limits.max_loaded)
    detectors: LoadedModels[Any] = LoadedModels(limits.max_loaded)
    askers: LoadedModels[Any] = LoadedModels(limits.max_loaded)  # an Asker (with its StateChecker) per id
    app.state.store = cfg_store
    app.state.limits = limits
    app.state.loaded = {"classifiers": classifiers, "detectors": detectors, "askers": askers}

    encoder_lock = threading.Lock()  # batches, /detect and /ask run in threads: load the models once

    def get_encoder() -> Encoder:
        with encoder_lock:
            if shared["encoder"] is None:
                shared["encoder"] = create_encoder(str(encoder), options or EncoderOptions())
        return shared["encoder"]  # type: ignore[no-any-return]

    memory = MemoryFeatureCache(memory_cache)  # one encoder for every deployed classifier
    app.state.memory = memory

    def get_store() -> FeatureStore:
        """The feature store of the service's encoder (memory only: uploads are not kept on disk)."""
        enc = get_encoder()
        with encoder_lock:
            if shared.get("store") is None:
                shared["store"] = FeatureStore(enc, disk=None, memory=memory)
        return shared["store"]  # type: ignore[no-any-return]

    def encode_loaded(images: list[LoadedImage]) -> list[Any]:
        return get_store().features(images)

    batcher = Batcher(encode_loaded)
    app.state.batcher = batcher

    async def features_of(img: LoadedImage) -> Any:
        """Features of an upload: from the store when these bytes were seen, else decoded and encoded."""
        feats = get_store().cached(img.content_hash)
        if feats is None:
            img = await _decoded(img)
            feats = await batcher.submit(img) if batching else (await asyncio.to_thread(encode_loaded, [img]))[0]
        return feats

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
        return _error(422, "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)  # also 404/405 from routing
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); the service log has the details")

    key_bytes = api_key.encode() if api_key else None

    @app.middleware("http")
    async def _auth(request: Request, call_next: Any) -> Any:
        if key_bytes is not None and request.url.path not in ("/healthz", "/docs", "/openapi.json"):
            given = request.headers.get("x-api-key", "").encode()
            if not hmac.compare_digest(given, key_bytes):  # constant time: no key guessing by timing
                return _error(401, "missing or wrong X-API-Key header")
        return await call_next(request)

    async def _within_budget(work: Awaitable[T]) -> T:
        """``work`` or a 503 after the per-request time budget (the event loop stays free)."""
        try:
            return await asyncio.wait_for(work, limits.request_timeout_s)
        except asyncio.TimeoutError as e:
            raise HTTPException(
                503,
                f"request took longer than the {limits.request_timeout_s:g} s time budget "
                "(SCREENSTATE_REQUEST_TIMEOUT_S); try a smaller image",
            ) from e

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
        limits.check_config(payload, model.configs_field)
        try:
            spec = model.from_dict(payload, check_files=False)  # the server's files are none of a client's business
        except SpecError as e:
            raise HTTPException(422, str(e)) from e
        if any(isinstance(ref.example, (ImageExample, ExemplarsExample)) for ref in spec.iter_examples()):
            raise HTTPException(422, NO_IMAGE_EXAMPLES)
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
        for loaded in (classifiers, detectors, askers):
            loaded.drop(deployed_id)
        return {"deployed_id": deployed_id, "message": message}

    async def _read_image(data: UploadFile, decode: bool = True) -> LoadedImage:
        """The upload, hashed; decoded now unless ``decode`` is False (see ``_decoded``)."""
        raw = await data.read(limits.max_upload_bytes + 1)
        if len(raw) > limits.max_upload_bytes:
            raise HTTPException(413, f"upload is larger than {limits.max_upload_bytes} bytes")
        limits.check_image_header(raw)  # a 64000x1000 strip is refused before any decoding
        img = await asyncio.to_thread(
            functools.partial(load_with_hash, raw, max_pixels=limits.max_pixels, lazy=True)
        )  # hashing only
        return await _decoded(img) if decode else img

    async def _decoded(img: LoadedImage) -> LoadedImage:
        try:
            await asyncio.to_thread(getattr, img, "image")
        except InvalidImageError as e:
            raise HTTPException(422, INVALID_IMAGE) from e
        return img

    def _classifier(deployed_id: str) -> ScreenClassifier:
        cfg = _config(deployed_id, "classifier")
        return classifiers.get(
            deployed_id,
            json.dumps(cfg, sort_keys=True),
            lambda: ScreenClassifier(ClassSpec.from_dict(cfg, check_files=False), encoder=get_encoder()),
        )

    def _text_channel() -> Any:
        return next((c for c in get_encoder().channels if c.name == "text"), None)

    def _asker(deployed_id: str | None) -> Any:
        """One Asker per deployed classifier (its StateChecker built once), and one without."""
        from screenstate.asking import Asker
        from screenstate.checker import StateChecker

        if shared["vlm"] is None:
            from screenstate.vlm import VLM

            shared["vlm"] = VLM()  # loads its weights on the first free-form question only
        if not deployed_id:
            return askers.get("", "", lambda: Asker(text_channel=_text_channel(), vlm=shared["vlm"]))
        cfg = _config(deployed_id, "classifier")

        def build() -> Any:
            checker = StateChecker(ClassSpec.from_dict(cfg, check_files=False), encoder=get_encoder())
            return Asker(checker=checker, text_channel=_text_channel(), vlm=shared["vlm"])

        return askers.get(deployed_id, json.dumps(cfg, sort_keys=True), build)

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

        async def work() -> dict[str, Any]:
            clf = await asyncio.to_thread(_classifier, deployed_id)
            img = await _read_image(data, decode=False)
            try:
                res = clf.classify_features([await features_of(img)])[0]
            except ScreenstateError as e:
                raise HTTPException(500, str(e)) from e
            return {"scores": res.scores, "pred": res.pred, "raw_scores": res.raw_scores}

        return await _within_budget(work())

    @app.post("/detect")
    async def detect(deployed_id: str, data: UploadFile = File(...)) -> list[list[dict[str, Any]]]:
        """Boxes ``[[{"tlbr", "score", "class"}, ...]]`` for one uploaded image."""
        from screenstate.detect import ScreenDetector

        cfg = _config(deployed_id, "detector")

        def build() -> Any:
            spec = DetectorSpec.from_dict(cfg, check_files=False)
            return ScreenDetector(spec, regions="auto", text_channel=_text_channel())

        async def work() -> list[list[dict[str, Any]]]:
            img = await _read_image(data)
            det = await asyncio.to_thread(detectors.get, deployed_id, json.dumps(cfg, sort_keys=True), build)
            dets = await asyncio.to_thread(det.detect, img.image)
            return [[d.to_dict() for d in dets]]

        return await _within_budget(work())

    @app.post("/ask")
    async def ask_endpoint(
        question: str = Form(...), data: UploadFile = File(...), deployed_id: str | None = None
    ) -> dict[str, Any]:
        """Answer a question about an image (classifier, detector, OCR, or the VLM)."""

        async def work() -> dict[str, Any]:
            img = await _read_image(data)
            asker = await asyncio.to_thread(_asker, deployed_id)
            try:
                ans = await asyncio.to_thread(asker.ask, img.image, question)
            except ScreenstateError as e:
                raise HTTPException(503, str(e)) from e
            return {"text": ans.text, "path": ans.path, "evidence": json.loads(json.dumps(ans.evidence, default=str))}

        return await _within_budget(work())

    return app


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HTTPException(422, f"request body is not valid JSON: {e}") from e
    except RecursionError as e:
        raise HTTPException(422, "request body is not valid JSON: nested too deeply") from e
    if not isinstance(payload, dict):
        raise HTTPException(422, "request body must be a JSON object")
    return payload

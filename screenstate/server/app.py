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

Layout: :mod:`.service` does the work, :mod:`.routes` are the endpoints over it,
:mod:`.errors` maps exceptions to responses, :mod:`.auth` and :mod:`.limits` guard requests.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.factory import EncoderOptions
from screenstate.errors import InvalidImageError
from screenstate.server.auth import ApiKeyMiddleware, checked_api_key
from screenstate.server.config_store import ConfigStore, open_store
from screenstate.server.errors import install_error_handlers
from screenstate.server.limits import BodyLimitMiddleware, ServiceLimits
from screenstate.server.routes import router
from screenstate.server.service import NO_IMAGE_EXAMPLES, Service

INVALID_IMAGE = InvalidImageError.REFERENCE_MESSAGE
DEFAULT_MAX_UPLOAD = ServiceLimits.max_upload_bytes
__all__ = ["DEFAULT_MAX_UPLOAD", "INVALID_IMAGE", "NO_IMAGE_EXAMPLES", "create_app"]
log = logging.getLogger("screenstate")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Serving starts with the service built by ``create_app`` and ends by stopping its
    request batcher (models load on first use, so startup stays instant)."""
    service: Service = app.state.service
    log.info(
        "screenstate service up: encoder %s, limits %s", service.encoder_name or "loads on first use", service.limits
    )
    try:
        yield
    finally:
        await service.aclose()


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
    or a store object; ``api_key``: required ``X-API-Key`` header when set (an empty key is
    refused, never taken as "no auth"; default ``SCREENSTATE_API_KEY``);
    ``memory_cache``: how many recent screens keep their features (a replay loop polling an
    unchanged screen is answered without encoding it again; 0 turns it off); ``limits``:
    per-request limits (default :meth:`ServiceLimits.from_env`; ``max_upload_bytes``
    overrides its upload limit); ``vlm``: the VLM behind free-form ``/ask`` questions
    (default: SmolVLM, loaded on the first such question, once per process)."""
    limits = limits or ServiceLimits.from_env()
    if max_upload_bytes is not None:
        limits = dataclasses.replace(limits, max_upload_bytes=max_upload_bytes)
    api_key = checked_api_key(os.environ.get("SCREENSTATE_API_KEY") if api_key is None else api_key)
    cfg_store: ConfigStore = (
        store if store is not None and not isinstance(store, (str, Path)) else open_store(store or "screenstate.db")
    )
    service = Service(cfg_store, limits, encoder, options, batching=batching, memory_cache=memory_cache, vlm=vlm)
    app = FastAPI(title="screenstate", version="0.1.0", description=__doc__, lifespan=lifespan)
    app.state.service = service
    app.state.store, app.state.limits = service.store, service.limits
    app.state.loaded, app.state.memory, app.state.batcher = service.loaded, service.memory, service.batcher
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    if api_key is not None:
        app.add_middleware(ApiKeyMiddleware, api_key=api_key)  # outermost: no body is read without a key
    install_error_handlers(app)
    app.include_router(router)
    return app

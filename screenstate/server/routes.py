"""The reference server's endpoints (plus ``/ask`` and ``/healthz``), each a few lines over
:class:`~screenstate.server.service.Service`, which reaches them as a FastAPI dependency."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.exceptions import HTTPException

from screenstate.server.service import Service


def get_service(request: Request) -> Service:
    """The app's one :class:`Service` (built by ``create_app``)."""
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]
router = APIRouter()


@router.get("/healthz")
async def healthz(service: ServiceDep) -> dict[str, Any]:
    return {"status": "ok", "encoder": service.encoder_name or "not loaded yet"}


@router.post("/deploy_classifier")
async def deploy_classifier(request: Request, service: ServiceDep) -> dict[str, str]:
    """Deploy a new classifier, or update one by passing its ``deployed_id``."""
    payload = await _json_body(request)
    return await asyncio.to_thread(service.deploy, "classifier", payload)


@router.post("/deploy_detector")
async def deploy_detector(request: Request, service: ServiceDep) -> dict[str, str]:
    """Deploy a new detector, or update one by passing its ``deployed_id``."""
    payload = await _json_body(request)
    return await asyncio.to_thread(service.deploy, "detector", payload)


@router.get("/model_config")
async def model_config(deployed_id: str, service: ServiceDep) -> dict[str, Any]:
    """The stored config of a deployed classifier or detector."""
    data = service.stored(deployed_id)
    return {**data["config"], "deployed_id": deployed_id, "kind": data["kind"]}


@router.post("/classify")
async def classify(deployed_id: str, service: ServiceDep, data: UploadFile = File(...)) -> dict[str, Any]:
    """Scores, prediction and raw scores of one uploaded image."""

    async def work() -> dict[str, Any]:
        clf = await asyncio.to_thread(service.classifier, deployed_id)
        img = await service.read_image(data, decode=False)
        res = clf.classify_features([await service.features_of(img)])[0]
        return {"scores": res.scores, "pred": res.pred, "raw_scores": res.raw_scores}

    return await service.within_budget(work())


@router.post("/detect")
async def detect(deployed_id: str, service: ServiceDep, data: UploadFile = File(...)) -> list[list[dict[str, Any]]]:
    """Boxes ``[[{"tlbr", "score", "class"}, ...]]`` for one uploaded image."""
    service.config(deployed_id, "detector")  # an unknown id is refused before reading the upload

    async def work() -> list[list[dict[str, Any]]]:
        img = await service.read_image(data, decode=False)  # decoded once admitted
        dets = await service.admitted(lambda: service.detector(deployed_id).detect(img.image))
        return [[d.to_dict() for d in dets]]

    return await service.within_budget(work())


@router.post("/ask")
async def ask(
    service: ServiceDep,
    question: str = Form(...),
    data: UploadFile = File(...),
    deployed_id: str | None = None,
) -> dict[str, Any]:
    """Answer a question about an image (classifier, detector, OCR, or the VLM)."""
    if deployed_id:
        service.config(deployed_id, "classifier")  # an unknown id is refused before reading the upload

    async def work() -> dict[str, Any]:
        img = await service.read_image(data, decode=False)  # decoded once admitted
        ans = await service.admitted(lambda: service.asker(deployed_id).ask(img.image, question))
        return {"text": ans.text, "path": ans.path, "evidence": json.loads(json.dumps(ans.evidence, default=str))}

    return await service.within_budget(work())


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

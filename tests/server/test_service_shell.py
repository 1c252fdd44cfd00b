"""The service's structure as a client sees it: one error mapping for library errors, the
lifespan that stops the batcher, and the one bounded cache of deployed models."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from screenstate.errors import (
    InvalidImageError,
    ModelNotAvailableError,
    ScreenstateError,
    SpecError,
    UnknownNameError,
)
from screenstate.server import ServiceLimits, create_app
from screenstate.server.errors import status_of

CLASSIFIER = {"classifier_configs": [{"name": "red", "examples_to_include": ["a red screen"]}]}


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 0, 0)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidImageError("x"), 422),
        (SpecError("x"), 422),
        (ModelNotAvailableError("x"), 503),
        (UnknownNameError("encoder", "y", ["a"]), 500),
        (ScreenstateError("x"), 500),
    ],
)
def test_library_errors_map_to_one_status_each(error, status):
    assert status_of(error) == status


class _OfflineVLM:
    def answer(self, img, question):
        raise ModelNotAvailableError("cannot load VLM from tiny/vlm: offline; run screenstate models pull --vlm")


def test_a_model_that_cannot_load_is_a_503_naming_the_fix(tmp_path, tiny_clip_encoder):
    c = TestClient(create_app(store=tmp_path / "s.db", encoder=tiny_clip_encoder, vlm=_OfflineVLM()))
    r = c.post("/ask", data={"question": "which file is selected?"}, files={"data": ("a.png", _png(), "image/png")})
    assert r.status_code == 503
    assert r.json() == {
        "status_code": 503,
        "message": "cannot load VLM from tiny/vlm: offline; run screenstate models pull --vlm",
        "data": None,
    }


def test_lifespan_stops_the_batcher(tmp_path, tiny_clip_encoder):
    app = create_app(store=tmp_path / "s.db", encoder=tiny_clip_encoder)
    with TestClient(app) as c:
        did = c.post("/deploy_classifier", json=CLASSIFIER).json()["deployed_id"]
        assert c.post(f"/classify?deployed_id={did}", files={"data": ("a.png", _png(), "image/png")}).status_code == 200
        lanes = list(app.state.service.batcher._lanes.values())
        assert len(lanes) == 1 and not lanes[0].task.done()
    assert lanes[0].task.cancelled() and len(app.state.service.batcher._lanes) == 0


def test_one_bounded_cache_holds_classifiers_detectors_and_askers(tmp_path, text_encoder):
    c = TestClient(create_app(store=tmp_path / "s.db", encoder=text_encoder, limits=ServiceLimits(max_loaded=2)))
    did = c.post("/deploy_classifier", json=CLASSIFIER).json()["deployed_id"]
    det = c.post("/deploy_detector", json={"detector_configs": [{"name": "ok", "examples_to_include": ["OK"]}]})
    upload = {"data": ("a.png", _png(), "image/png")}
    assert c.post(f"/classify?deployed_id={did}", files=upload).status_code == 200
    assert c.post(f"/detect?deployed_id={det.json()['deployed_id']}", files=upload).status_code == 200
    loaded = c.app.state.service.loaded
    assert len(loaded) == 2 and loaded.builds == 2
    # redeploying the classifier drops what was built from it, and only that
    c.post("/deploy_classifier", json={**CLASSIFIER, "deployed_id": did})
    assert len(loaded) == 1

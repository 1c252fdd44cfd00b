"""The HTTP service with FastAPI's TestClient: endpoints, error shapes, persistence, concurrency."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from screenstate.server import create_app

CLASSIFIER = {
    "classifier_configs": [
        {"name": "red", "examples_to_include": ["a red screen"]},
        {"name": "green", "examples_to_include": ["a green screen"], "examples_to_exclude": ["a red screen"]},
    ]
}
DETECTOR = {
    "detector_configs": [{"name": "sign_in", "examples_to_include": ["Sign In button"], "detection_threshold": 0.5}]
}


def _png(color=(255, 0, 0), size=(80, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def client(tmp_path, tiny_clip_encoder):
    return TestClient(create_app(store=tmp_path / "s.db", encoder=tiny_clip_encoder))


def _deploy(client, body=CLASSIFIER, path="/deploy_classifier"):
    r = client.post(path, json=body)
    assert r.status_code == 200, r.text
    return r.json()["deployed_id"]


def test_deploy_classify_and_model_config(client):
    r = client.post("/deploy_classifier", json=CLASSIFIER)
    assert r.json()["message"] == "New model deployed."
    did = r.json()["deployed_id"]
    r = client.post(f"/classify?deployed_id={did}", files={"data": ("a.png", _png(), "image/png")})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"scores", "pred", "raw_scores"} and body["pred"] in ("red", "green")
    assert sum(body["scores"].values()) == pytest.approx(1.0, abs=1e-4)
    cfg = client.get(f"/model_config?deployed_id={did}").json()
    assert cfg["deployed_id"] == did and cfg["classifier_configs"][0]["name"] == "red"
    # update in place, and an unknown id gets a new one with the reference message
    r = client.post("/deploy_classifier", json={**CLASSIFIER, "deployed_id": did})
    assert r.json() == {"deployed_id": did, "message": "Model updated."}
    r = client.post("/deploy_classifier", json={**CLASSIFIER, "deployed_id": "nope"})
    assert r.json()["message"] == "nope model not found. Generated new model." and r.json()["deployed_id"] != "nope"


def test_classify_matches_python_api(client, tiny_clip_encoder):
    from screenstate import ClassSpec, ScreenClassifier

    did = _deploy(client)
    r = client.post(f"/classify?deployed_id={did}", files={"data": ("a.png", _png((0, 200, 0)), "image/png")}).json()
    local = ScreenClassifier(ClassSpec.from_dict(CLASSIFIER), encoder=tiny_clip_encoder).classify(_png((0, 200, 0)))
    assert r["pred"] == local.pred and r["raw_scores"] == pytest.approx(local.raw_scores, abs=1e-5)


def test_same_screen_again_is_answered_from_memory(client, tiny_clip_encoder):
    did = _deploy(client)
    memory = client.app.state.memory
    img = _png((3, 4, 5))
    first = client.post(f"/classify?deployed_id={did}", files={"data": ("a.png", img, "image/png")}).json()
    assert memory.hits == 0 and len(memory) == 1
    # another classifier over the same encoder reuses the features too
    other = _deploy(client, {"classifier_configs": [{"name": "dark", "examples_to_include": ["a dark screen"]}]})
    again = client.post(f"/classify?deployed_id={did}", files={"data": ("a.png", img, "image/png")}).json()
    dark = client.post(f"/classify?deployed_id={other}", files={"data": ("b.png", img, "image/png")}).json()
    assert memory.hits == 2 and len(memory) == 1
    assert again == first and dark["pred"] == "dark"


@pytest.mark.parametrize(
    "data, status, message",
    [
        (b"", 422, "Invalid image received, unable to open."),
        (_png()[:50], 422, "Invalid image received, unable to open."),
        (b"GIF89a not really", 422, "Invalid image received, unable to open."),
        (b"hello world", 422, "Invalid image received, unable to open."),
    ],
)
def test_bad_uploads(client, data, status, message):
    did = _deploy(client)
    r = client.post(f"/classify?deployed_id={did}", files={"data": ("x.png", data, "image/png")})
    assert r.status_code == status and r.json() == {"status_code": status, "message": message, "data": None}
    assert client.get("/healthz").status_code == 200  # still serving


def test_huge_dimensions_and_upload_limit(tmp_path, tiny_clip_encoder):
    app = create_app(store=tmp_path / "s.db", encoder=tiny_clip_encoder, max_upload_bytes=20_000)
    c = TestClient(app)
    did = _deploy(c)
    big = io.BytesIO()
    Image.new("1", (9000, 9000)).save(big, "PNG")  # 81 Mpx, over the 40 Mpx pixel limit, in ~10 KB
    assert len(big.getvalue()) < 20_000  # passes the upload limit: the pixel limit must catch it
    r = c.post(f"/classify?deployed_id={did}", files={"data": ("b.png", big.getvalue(), "image/png")})
    assert r.status_code == 413 and r.json()["message"] == (
        "image is 9000x9000; the service accepts at most 16384 px a side (SCREENSTATE_MAX_SIDE) "
        "and 40000000 pixels (SCREENSTATE_MAX_IMAGE_PIXELS)"
    )
    r = c.post(f"/classify?deployed_id={did}", files={"data": ("c.png", b"x" * 20_001, "image/png")})
    assert r.status_code == 413 and "larger than 20000 bytes" in r.json()["message"]
    r = c.post(f"/classify?deployed_id={did}", files={"data": ("d.png", _png(), "image/png")})
    assert r.status_code == 200  # still serving


@pytest.mark.parametrize(
    "path, kwargs, status, message",
    [
        (
            "/deploy_classifier",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            "not valid JSON",
        ),
        (
            "/deploy_classifier",
            {"json": {"classifier_configs": []}},
            422,
            "classifier_configs: at least one item is required",
        ),
        (
            "/deploy_classifier",
            {"json": {"classifier_configs": [{"name": "a", "examples_to_include": []}]}},
            422,
            "classifier_configs[0].examples_to_include: at least one example is required",
        ),
        (
            "/deploy_classifier",
            {"json": {"classifier_configs": [{"examples_to_include": ["x"]}]}},
            422,
            "classifier_configs[0].name: field is required",
        ),
        (
            "/deploy_detector",
            {"json": {"detector_configs": [{"name": "b"}]}},
            422,
            "examples_to_include: field is required",
        ),
        ("/deploy_classifier", {"json": [1, 2]}, 422, "must be a JSON object"),
    ],
)
def test_bad_json_and_missing_fields(client, path, kwargs, status, message):
    r = client.post(path, **kwargs)
    assert r.status_code == status and message in r.json()["message"] and r.json()["data"] is None


def test_unknown_deployed_id_and_missing_upload(client):
    r = client.post("/classify?deployed_id=nope", files={"data": ("a.png", _png(), "image/png")})
    assert r.status_code == 400 and "not found" in r.json()["message"]
    assert client.get("/model_config?deployed_id=nope").status_code == 400
    did = _deploy(client)
    r = client.post(f"/classify?deployed_id={did}")
    assert r.status_code == 422 and "data" in r.json()["message"]
    r = client.post("/classify", files={"data": ("a.png", _png(), "image/png")})
    assert r.status_code == 422 and "deployed_id" in r.json()["message"]


def test_configs_survive_restart(tmp_path, tiny_clip_encoder):
    db = tmp_path / "persist.db"
    did = _deploy(TestClient(create_app(store=db, encoder=tiny_clip_encoder)))
    fresh = TestClient(create_app(store=db, encoder=tiny_clip_encoder))
    assert fresh.get(f"/model_config?deployed_id={did}").json()["classifier_configs"][1]["name"] == "green"
    r = fresh.post(f"/classify?deployed_id={did}", files={"data": ("a.png", _png(), "image/png")})
    assert r.status_code == 200


def test_concurrent_deploys_and_classifies(client):
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: _deploy(client, {**CLASSIFIER, "augment_examples": bool(i % 2)}), range(16)))
    assert len(set(ids)) == 16
    for did in ids:
        assert client.get(f"/model_config?deployed_id={did}").status_code == 200
    with ThreadPoolExecutor(8) as pool:
        codes = list(
            pool.map(
                lambda did: (
                    client.post(
                        f"/classify?deployed_id={did}", files={"data": ("a.png", _png(), "image/png")}
                    ).status_code
                ),
                ids,
            )
        )
    assert codes == [200] * 16


def test_api_key_guards_every_endpoint(tmp_path, tiny_clip_encoder):
    c = TestClient(create_app(store=tmp_path / "k.db", encoder=tiny_clip_encoder, api_key="s3cret"))
    good = {"X-API-Key": "s3cret"}
    did = c.post("/deploy_classifier", json=CLASSIFIER, headers=good).json()["deployed_id"]
    det = c.post("/deploy_detector", json=DETECTOR, headers=good).json()["deployed_id"]
    upload = {"data": ("a.png", _png(), "image/png")}
    calls = [
        ("post", "/deploy_classifier", {"json": CLASSIFIER}),
        ("post", "/deploy_detector", {"json": DETECTOR}),
        ("post", f"/classify?deployed_id={did}", {"files": upload}),
        ("post", f"/detect?deployed_id={det}", {"files": upload}),
        ("get", f"/model_config?deployed_id={did}", {}),
        ("post", "/ask", {"data": {"question": "is it red?"}, "files": upload}),
    ]
    for method, path, kwargs in calls:
        for headers in ({}, {"X-API-Key": "wrong"}, {"X-API-Key": "s3cret "}, {"X-API-Key": ""}):
            r = getattr(c, method)(path, headers=headers, **kwargs)
            assert r.status_code == 401, (path, headers, r.status_code)
            assert r.json() == {"status_code": 401, "message": "missing or wrong X-API-Key header", "data": None}
    assert c.post(f"/classify?deployed_id={did}", files=upload, headers=good).status_code == 200
    assert c.get(f"/model_config?deployed_id={did}", headers=good).json()["deployed_id"] == did
    assert c.get("/healthz").status_code == 200


def test_detect_and_ask_with_text_channel(tmp_path, text_encoder, data_dir):
    c = TestClient(create_app(store=tmp_path / "d.db", encoder=text_encoder))
    did = _deploy(c, DETECTOR, "/deploy_detector")
    img = (data_dir / "login_page.png").read_bytes()
    r = c.post(f"/detect?deployed_id={did}", files={"data": ("l.png", img, "image/png")})
    assert r.status_code == 200
    dets = r.json()[0]
    assert dets and dets[0]["class"] == "sign_in" and len(dets[0]["tlbr"]) == 4
    r = c.post(f"/classify?deployed_id={did}", files={"data": ("l.png", img, "image/png")})
    assert r.status_code == 400 and "is a detector" in r.json()["message"]
    r = c.post("/ask", data={"question": "where is the Sign In button?"}, files={"data": ("l.png", img, "image/png")})
    assert r.status_code == 200 and r.json()["path"] == "detector"


def test_openapi_lists_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/deploy_classifier": "post",
        "/classify": "post",
        "/deploy_detector": "post",
        "/detect": "post",
        "/model_config": "get",
        "/ask": "post",
        "/healthz": "get",
    }
    assert {p: set(paths[p]) for p in expected} == {p: {m} for p, m in expected.items()}
    params = {p["name"] for p in paths["/classify"]["post"]["parameters"]}
    assert params == {"deployed_id"}

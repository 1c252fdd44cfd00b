"""The service as a hostile or unlucky client meets it: limits, error shapes, path probes,
API keys, slow images, and models built once per process."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from screenstate.embeddings.encoder import Encoder
from screenstate.errors import ScreenstateError
from screenstate.server import create_app
from screenstate.server.limits import ServiceLimits

CLASSIFIER = {
    "classifier_configs": [
        {"name": "red", "examples_to_include": ["a red screen"]},
        {"name": "green", "examples_to_include": ["a green screen"]},
    ]
}


def _png(color=(255, 0, 0), size=(80, 60), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, "PNG")
    return buf.getvalue()


def _is_error(r, status: int, contains: str = "") -> bool:
    body = r.json()
    assert set(body) == {"status_code", "message", "data"}, body
    assert body["status_code"] == status and body["data"] is None, body
    assert contains in body["message"], body["message"]
    return r.status_code == status


@pytest.fixture()
def client(tmp_path, tiny_clip_encoder):
    return TestClient(create_app(store=tmp_path / "s.db", encoder=tiny_clip_encoder), raise_server_exceptions=False)


def _deploy(c, body=CLASSIFIER):
    r = c.post("/deploy_classifier", json=body)
    assert r.status_code == 200, r.text
    return r.json()["deployed_id"]


def _configs(n_classes, examples_each=1, text="a screen"):
    return {
        "classifier_configs": [
            {"name": f"c{i}", "examples_to_include": [f"{text} {i} {j}" for j in range(examples_each)]}
            for i in range(n_classes)
        ]
    }


# -- item 5: limits on what a deploy may hold ------------------------------------------
@pytest.mark.parametrize(
    "body, contains",
    [
        (_configs(201), "classifier_configs: 201 entries; at most 200 (SCREENSTATE_MAX_CLASSES)"),
        (_configs(100, 11), "1100 examples in classifier_configs; at most 1000"),
        (
            {"classifier_configs": [{"name": "a", "examples_to_include": ["x" * 1001]}]},
            "classifier_configs[0].examples_to_include[0]: 1001 characters; at most 1000",
        ),
    ],
)
def test_oversize_deploys_are_refused_and_nothing_is_stored(client, body, contains):
    r = client.post("/deploy_classifier", json=body)
    assert _is_error(r, 413, contains)
    assert client.app.state.store._conn().execute("SELECT COUNT(*) FROM configs").fetchone()[0] == 0


def test_body_over_the_limit_is_refused(client):
    big = _configs(10)
    big["classifier_configs"][0]["examples_to_include"] = ["word " * 150] * 1500  # ~1.1 MB
    r = client.post("/deploy_classifier", content=json.dumps(big), headers={"content-type": "application/json"})
    assert _is_error(r, 413, "request body is larger than 1048576 bytes")


def test_limits_come_from_the_environment(tmp_path, tiny_clip_encoder, monkeypatch):
    monkeypatch.setenv("SCREENSTATE_MAX_CLASSES", "3")
    c = TestClient(create_app(store=tmp_path / "s.db", encoder=tiny_clip_encoder))
    assert _is_error(c.post("/deploy_classifier", json=_configs(4)), 413, "at most 3")
    assert c.post("/deploy_classifier", json=_configs(3)).status_code == 200
    with pytest.raises(ValueError, match="SCREENSTATE_MAX_SIDE='big': must be a number"):
        ServiceLimits.from_env({"SCREENSTATE_MAX_SIDE": "big"})


def test_text_example_weights_are_sparse(text_encoder):
    """Memory of a deployed classifier must not grow as examples x vocabulary."""
    from screenstate.embeddings.sparse import SparseRows
    from screenstate.schema import ClassSpec

    spec = ClassSpec.from_dict(
        {"classifier_configs": [{"name": f"c{i}", "examples_to_include": [f"w{i}a w{i}b"]} for i in range(300)]}
    )
    text = text_encoder.text
    ex = text.encode_examples(spec.columns(), augment=False)
    weights = ex.weights
    assert isinstance(weights, SparseRows) and weights.shape[1] >= 300
    assert len(weights.vals) <= 2 * 300  # a few entries per example, not 300 x vocabulary


# -- items 6 and 7: images, upload size, time budget, slow requests --------------------
def test_strip_image_is_refused_from_its_header_before_decoding(tmp_path, tiny_clip_encoder):
    calls = []

    class Counting(Encoder):
        def prepare(self, img):
            calls.append(img.size)
            return super().prepare(img)

    enc = Counting(tiny_clip_encoder.name, tiny_clip_encoder.channels, tiny_clip_encoder.weights)
    c = TestClient(create_app(store=tmp_path / "s.db", encoder=enc))
    did = _deploy(c)
    strip = _png(255, (64000, 1000), mode="L")
    assert len(strip) < 400_000  # small file, huge picture
    r = c.post(f"/classify?deployed_id={did}", files={"data": ("strip.png", strip, "image/png")})
    assert _is_error(r, 413, "image is 64000x1000; the service accepts at most 16384 px a side")
    assert calls == []  # never decoded or encoded
    r = c.post(f"/classify?deployed_id={did}", files={"data": ("ok.png", _png(), "image/png")})
    assert r.status_code == 200 and calls == [(80, 60)]


class _Gate(Encoder):
    """Encodes a wide image only once ``release`` is set (a stand-in for a minute of OCR)."""

    release: threading.Event
    started: threading.Event

    def prepare(self, img):
        if img.size[0] > 2000:
            self.started.set()
            self.release.wait(30)
        return super().prepare(img)


def _gate(tiny_clip_encoder) -> _Gate:
    enc = _Gate(tiny_clip_encoder.name, tiny_clip_encoder.channels, tiny_clip_encoder.weights)
    enc.release, enc.started = threading.Event(), threading.Event()
    return enc


def test_slow_image_does_not_block_other_requests(tmp_path, tiny_clip_encoder):
    enc = _gate(tiny_clip_encoder)
    app = create_app(store=tmp_path / "s.db", encoder=enc)
    with TestClient(app) as c:  # one event loop for both requests, as in a real server
        did = _deploy(c)
        order = []

        def slow():
            r = c.post(f"/classify?deployed_id={did}", files={"data": ("w.png", _png(size=(4000, 1200)), "image/png")})
            order.append(("slow", r.status_code))

        def normal():
            assert enc.started.wait(30)
            r = c.post(f"/classify?deployed_id={did}", files={"data": ("n.png", _png((0, 255, 0)), "image/png")})
            order.append(("normal", r.status_code))
            enc.release.set()  # the slow one may finish only after the normal one was answered

        with ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(slow), pool.submit(normal)]:
                f.result(60)
    assert order == [("normal", 200), ("slow", 200)]


def test_request_over_the_time_budget_gets_503_and_the_service_keeps_serving(tmp_path, tiny_clip_encoder):
    enc = _gate(tiny_clip_encoder)
    limits = ServiceLimits(request_timeout_s=0.5)
    with TestClient(create_app(store=tmp_path / "s.db", encoder=enc, limits=limits)) as c:
        did = _deploy(c)
        r = c.post(f"/classify?deployed_id={did}", files={"data": ("w.png", _png(size=(4000, 1200)), "image/png")})
        assert _is_error(r, 503, "longer than the 0.5 s time budget (SCREENSTATE_REQUEST_TIMEOUT_S)")
        enc.release.set()
        assert c.post(f"/classify?deployed_id={did}", files={"data": ("n.png", _png(), "image/png")}).status_code == 200


def _asgi_post(app, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]):
    """Drive the ASGI app directly; returns (status, body, how many chunks it read)."""
    read = []
    sent: list[dict] = []

    async def receive():
        if len(read) < len(chunks):
            read.append(1)
            return {"type": "http.request", "body": chunks[len(read) - 1], "more_body": len(read) < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(msg):
        sent.append(msg)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), len(read)


def test_content_length_over_the_limit_is_refused_before_reading(client):
    headers = [(b"content-type", b"application/json"), (b"content-length", str(50 * 2**20).encode())]
    status, body, read = _asgi_post(client.app, "/deploy_classifier", headers, [b"{" * 1000] * 100)
    assert status == 413 and body["message"].startswith("request body is larger than 1048576 bytes")
    assert read == 0  # not one byte of the body was read
    headers = [(b"content-type", b"multipart/form-data; boundary=x"), (b"content-length", str(2**30).encode())]
    status, body, read = _asgi_post(client.app, "/classify", headers, [b"x" * 1000])
    assert status == 413 and read == 0


def test_body_without_length_is_cut_off_at_the_limit(client):
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    chunks = [b" " * 65536] * 1000  # 64 MB offered, chunked
    status, body, read = _asgi_post(client.app, "/deploy_classifier", headers, chunks)
    assert status == 413 and body["status_code"] == 413
    assert read <= 17  # stopped just past 1 MiB


# -- item 8: every error is the JSON shape ----------------------------------------------
def test_deeply_nested_json_is_a_422_in_the_json_shape(client):
    deep = "[" * 100_000 + "]" * 100_000
    r = client.post("/deploy_classifier", content=deep, headers={"content-type": "application/json"})
    assert _is_error(r, 422, "nested too deeply")
    deep_obj = '{"classifier_configs": ' + "[" * 50_000 + "]" * 50_000 + "}"
    r = client.post("/deploy_classifier", content=deep_obj, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["status_code"] == 422


def test_routing_and_internal_errors_are_json(client, monkeypatch):
    assert _is_error(client.get("/no_such_endpoint"), 404, "Not Found")
    assert _is_error(client.get("/deploy_classifier"), 405, "Method Not Allowed")
    monkeypatch.setattr(client.app.state.store, "get", lambda key: 1 / 0)
    r = client.get("/model_config?deployed_id=x")
    assert _is_error(r, 500, "internal error (ZeroDivisionError)")


# -- item 9: no filesystem probing through deployed configs -----------------------------
PROBES = [
    {"image": "/etc/passwd"},
    {"image": "/no/such/file.png"},
    {"image": "../../../../etc/shadow"},
    {"exemplars": "/etc"},
    {"exemplars": "/no/such/dir"},
]


def test_image_examples_get_one_answer_whatever_the_path(client, monkeypatch):
    def touched(*a, **k):
        raise AssertionError("the service looked at its filesystem for a client's config")

    bodies = []
    for probe in PROBES:
        bodies.append(("/deploy_classifier", {"classifier_configs": [{"name": "a", "examples_to_include": [probe]}]}))
        bodies.append(
            (
                "/deploy_classifier",
                {"classifier_configs": [{"name": "a", "examples_to_include": ["t"], "examples_to_exclude": [probe]}]},
            )
        )
        bodies.append(("/deploy_detector", {"detector_configs": [{"name": "a", "examples_to_include": [probe]}]}))
        if isinstance(probe, dict) and "image" in probe:  # a pin names a file too
            pin = {"image": probe["image"], "state": "a"}
            bodies.append(
                (
                    "/deploy_classifier",
                    {"classifier_configs": [{"name": "a", "examples_to_include": ["t"]}], "pins": [pin]},
                )
            )
    with monkeypatch.context() as m:  # any look at the filesystem fails the request
        for name in ("exists", "is_file", "is_dir", "stat", "resolve", "iterdir", "rglob"):
            m.setattr(Path, name, touched)
        responses = [client.post(path, json=body) for path, body in bodies]
    assert [r.status_code for r in responses] == [422] * len(bodies)
    answers = {r.text for r in responses}
    assert len(answers) == 1 and "text examples only" in answers.pop()


# -- item 10: API keys -------------------------------------------------------------------
def test_empty_api_key_is_refused(tmp_path, tiny_clip_encoder, monkeypatch):
    with pytest.raises(ScreenstateError, match="API key is empty"):
        create_app(store=tmp_path / "a.db", encoder=tiny_clip_encoder, api_key="")
    monkeypatch.setenv("SCREENSTATE_API_KEY", "  ")
    with pytest.raises(ScreenstateError, match="API key is empty"):
        create_app(store=tmp_path / "b.db", encoder=tiny_clip_encoder)


def test_serve_command_refuses_an_empty_key(monkeypatch):
    from typer.testing import CliRunner

    from screenstate.cli import app

    r = CliRunner().invoke(app, ["serve", "--encoder", "text"], env={"SCREENSTATE_API_KEY": ""})
    assert r.exit_code == 2 and "API key is empty" in r.output


def test_api_key_is_compared_in_constant_time(tmp_path, tiny_clip_encoder, monkeypatch):
    import hmac

    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    c = TestClient(create_app(store=tmp_path / "k.db", encoder=tiny_clip_encoder, api_key="s3cret"))
    for key, status in [(None, 401), ("s3creT", 401), ("s3cret-and-more", 401), ("s3cret", 200)]:
        headers = {} if key is None else {"X-API-Key": key}
        r = c.post("/deploy_classifier", json=CLASSIFIER, headers=headers)
        assert r.status_code == status
        if status == 401:
            assert _is_error(r, 401, "X-API-Key")
    assert len(compared) == 4 and compared[-1] == (b"s3cret", b"s3cret")


# -- item 11: built once per process, bounded ------------------------------------------
class _FakeVLM:
    def __init__(self):
        self.questions = []

    def answer(self, img, question):
        from screenstate.vlm import VlmAnswer

        self.questions.append(question)
        return VlmAnswer("a fake answer", 0.0, 1)


def test_ask_builds_its_checker_once_and_shares_one_vlm(tmp_path, tiny_clip_encoder, monkeypatch):
    import screenstate.checker

    built = []
    real_init = screenstate.checker.StateChecker.__init__

    def counting_init(self, *a, **k):
        built.append(1)
        real_init(self, *a, **k)

    monkeypatch.setattr(screenstate.checker.StateChecker, "__init__", counting_init)
    vlm = _FakeVLM()
    c = TestClient(create_app(store=tmp_path / "s.db", encoder=tiny_clip_encoder, vlm=vlm))
    did = _deploy(c)
    for i in range(3):
        r = c.post(
            f"/ask?deployed_id={did}",
            data={"question": "which screen is this?"},
            files={"data": ("a.png", _png((i, 0, 0)), "image/png")},
        )
        assert r.status_code == 200 and r.json()["path"] == "classifier"
        r = c.post("/ask", data={"question": "which file is selected?"}, files={"data": ("a.png", _png(), "image/png")})
        assert r.status_code == 200 and r.json() == {
            "text": "a fake answer",
            "path": "vlm",
            "evidence": {"seconds": 0.0, "new_tokens": 1, "routed": "vlm", "runtime": "torch"},
        }
    assert len(built) == 1 and len(vlm.questions) == 3
    assert c.app.state.loaded.builds == 2  # one with the deployed classifier, one without


def test_deployed_models_are_kept_in_a_bounded_lru(tmp_path, tiny_clip_encoder):
    limits = ServiceLimits(max_loaded=2)
    c = TestClient(create_app(store=tmp_path / "s.db", encoder=tiny_clip_encoder, limits=limits))
    ids = [_deploy(c, _configs(2, text=f"screen {k}")) for k in range(4)]
    for did in ids + ids[:1]:
        assert c.post(f"/classify?deployed_id={did}", files={"data": ("a.png", _png(), "image/png")}).status_code == 200
    loaded = c.app.state.loaded  # one cache for every model built from a deployed config
    assert len(loaded) == 2 and loaded.builds == 5  # the first one was dropped and built again

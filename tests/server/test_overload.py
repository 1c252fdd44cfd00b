"""The service under more requests than it can encode: a bounded line served in arrival
order, 429 with Retry-After beyond it, requests that time out leave the line and never
encode, one encode for concurrent requests of the same screen, a feature memory bounded
in bytes, and JSON 4xx for malformed ids."""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from screenstate.embeddings.encoder import Encoder
from screenstate.server import create_app
from screenstate.server.limits import ServiceLimits

CLASSIFIER = {
    "classifier_configs": [
        {"name": "red", "examples_to_include": ["a red screen"]},
        {"name": "green", "examples_to_include": ["a green screen"]},
    ]
}


class _Held(Encoder):
    """Records which screen it starts on and waits for ``hold`` (a stand-in for OCR time)."""

    hold: threading.Event
    order: list[tuple[int, int, int]]

    def prepare(self, img):
        self.order.append(img.getpixel((0, 0)))
        self.hold.wait(30)
        return super().prepare(img)


def _held(tiny_clip_encoder) -> _Held:
    enc = _Held(tiny_clip_encoder.name, tiny_clip_encoder.channels, tiny_clip_encoder.weights)
    enc.hold, enc.order = threading.Event(), []
    return enc


def _png(k: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), (k, 255 - k, 7)).save(buf, "PNG")
    return buf.getvalue()


def _until(cond, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.01)


def _app(tmp_path, enc, **limits):
    return create_app(store=tmp_path / "s.db", encoder=enc, batching=False, limits=ServiceLimits(**limits))


def test_bounded_line_in_arrival_order_and_429_with_retry_after(tmp_path, tiny_clip_encoder):
    enc = _held(tiny_clip_encoder)
    app = _app(tmp_path, enc, workers=1, max_queue=2)
    adm = app.state.service.admission
    with TestClient(app) as c:
        did = c.post("/deploy_classifier", json=CLASSIFIER).json()["deployed_id"]

        def post(k):
            return c.post(f"/classify?deployed_id={did}", files={"data": ("s.png", _png(k), "image/png")})

        with ThreadPoolExecutor(3) as pool:
            first = pool.submit(post, 10)
            _until(lambda: len(enc.order) == 1)  # encoding
            second = pool.submit(post, 20)
            _until(lambda: adm.waiting == 1)
            third = pool.submit(post, 30)
            _until(lambda: adm.waiting == 2)
            r = post(40)  # the line is full
            assert r.status_code == 429
            assert int(r.headers["retry-after"]) >= 1
            body = r.json()
            assert body["status_code"] == 429 and "SCREENSTATE_MAX_QUEUE" in body["message"]
            enc.hold.set()
            assert [f.result(60).status_code for f in (first, second, third)] == [200, 200, 200]
        assert [o[0] for o in enc.order] == [10, 20, 30]  # first come, first served
        assert post(40).status_code == 200  # room again


def test_timed_out_requests_leave_the_line_and_never_encode(tmp_path, tiny_clip_encoder):
    enc = _held(tiny_clip_encoder)
    app = _app(tmp_path, enc, workers=1, max_queue=4, request_timeout_s=2.0)
    with TestClient(app) as c:
        did = c.post("/deploy_classifier", json=CLASSIFIER).json()["deployed_id"]

        def post(k):
            return c.post(f"/classify?deployed_id={did}", files={"data": ("s.png", _png(k), "image/png")})

        with ThreadPoolExecutor(4) as pool:
            rs = list(pool.map(post, [1, 2, 3, 4]))
        assert [r.status_code for r in rs] == [503] * 4
        assert all("retry-after" in r.headers and "time budget" in r.json()["message"] for r in rs)
        assert len(enc.order) == 1  # only the one already encoding started
        enc.hold.set()
        time.sleep(0.5)
        assert len(enc.order) == 1  # the three that waited in line never start: no CPU after the 503s
        assert app.state.service.admission.active == 0 and app.state.service.admission.waiting == 0
        assert post(5).status_code == 200


def test_concurrent_requests_for_one_screen_share_one_encode(tmp_path, tiny_clip_encoder):
    enc = _held(tiny_clip_encoder)
    app = _app(tmp_path, enc, workers=1, max_queue=1)
    with TestClient(app) as c:
        did = c.post("/deploy_classifier", json=CLASSIFIER).json()["deployed_id"]

        def post(_):
            return c.post(f"/classify?deployed_id={did}", files={"data": ("s.png", _png(99), "image/png")})

        with ThreadPoolExecutor(6) as pool:
            futs = [pool.submit(post, i) for i in range(6)]
            _until(lambda: len(enc.order) == 1)
            time.sleep(0.3)
            enc.hold.set()
            codes = [f.result(60).status_code for f in futs]
    assert codes == [200] * 6 and len(enc.order) == 1


def test_feature_memory_is_bounded_in_bytes(tmp_path, tiny_clip_encoder):
    enc = _held(tiny_clip_encoder)
    enc.hold.set()
    app = _app(tmp_path, enc)
    mem = app.state.service.memory
    assert mem.max_bytes == ServiceLimits().max_cache_bytes  # bounded by default
    with TestClient(app) as c:
        did = c.post("/deploy_classifier", json=CLASSIFIER).json()["deployed_id"]

        def post(k):
            assert (
                c.post(f"/classify?deployed_id={did}", files={"data": ("s.png", _png(k), "image/png")}).status_code
                == 200
            )

        post(0)
        per_screen = mem.bytes
        assert per_screen > 100  # the features' arrays are counted
        mem.max_bytes = 3 * per_screen + 10
        for k in range(1, 12):
            post(k)
            assert mem.bytes <= mem.max_bytes
    assert len(mem) == 3


def test_malformed_ids_are_json_4xx(tmp_path, tiny_clip_encoder):
    with TestClient(create_app(store=tmp_path / "s.db", encoder=tiny_clip_encoder)) as c:
        for bad in (["a"], {"x": 1}, 3):
            r = c.post("/deploy_classifier", json={**CLASSIFIER, "deployed_id": bad})
            assert r.status_code == 422, r.text
            assert r.json()["status_code"] == 422 and "deployed_id: must be a string" in r.json()["message"]
        r = c.post("/classify?deployed_id=nope", files={"data": ("s.png", _png(1), "image/png")})
        assert r.status_code == 400 and r.json()["status_code"] == 400


@pytest.mark.parametrize(("limits", "burst"), [({}, 8), ({"workers": 1, "max_queue": 5}, 6)])
def test_a_burst_of_clients_within_the_line_gets_no_429(tmp_path, tiny_clip_encoder, limits, burst):
    """The default line admits a burst of 8 parallel clients (and a configured one of
    ``workers + max_queue``): every request is answered, none refused."""
    enc = _held(tiny_clip_encoder)
    app = create_app(store=tmp_path / "s.db", encoder=enc, limits=ServiceLimits(**limits))
    adm = app.state.service.admission
    with TestClient(app) as c:
        did = c.post("/deploy_classifier", json=CLASSIFIER).json()["deployed_id"]

        def post(k):
            return c.post(f"/classify?deployed_id={did}", files={"data": ("s.png", _png(k), "image/png")})

        with ThreadPoolExecutor(burst) as pool:
            futs = [pool.submit(post, 10 + k) for k in range(burst)]
            _until(lambda: adm.active + adm.waiting == burst)  # all in: encoding or in line
            enc.hold.set()
            codes = [f.result(60).status_code for f in futs]
    assert codes == [200] * burst and adm.rejected == 0


class _HeldVLM:
    """A VLM that answers once ``hold`` is set (a stand-in for a slow free-form answer)."""

    def __init__(self):
        self.hold, self.started = threading.Event(), []

    def answer(self, img, question):
        from screenstate.vlm import VlmAnswer

        self.started.append(question)
        self.hold.wait(30)
        return VlmAnswer("an answer", 0.0, 1)


def test_detect_and_ask_take_their_turn_in_the_same_line(tmp_path, text_encoder):
    """/detect and /ask wait in the line in front of the encoders like /classify: past it
    all three answer 429 with Retry-After, and nothing past it starts."""
    vlm = _HeldVLM()
    app = create_app(
        store=tmp_path / "s.db", encoder=text_encoder, vlm=vlm, limits=ServiceLimits(workers=1, max_queue=1)
    )
    adm = app.state.service.admission
    with TestClient(app) as c:
        did = c.post("/deploy_classifier", json=CLASSIFIER).json()["deployed_id"]
        det = c.post("/deploy_detector", json={"detector_configs": [{"name": "ok", "examples_to_include": ["OK"]}]})
        det_id = det.json()["deployed_id"]
        # the classifier built and the models loaded first: refusals below are at once
        assert (
            c.post(f"/classify?deployed_id={did}", files={"data": ("s.png", _png(0), "image/png")}).status_code == 200
        )

        def ask(k):
            files = {"data": ("s.png", _png(k), "image/png")}
            return c.post("/ask", data={"question": "which file is selected?"}, files=files)

        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(ask, 1)
            _until(lambda: len(vlm.started) == 1)  # answering: the one worker is taken
            second = pool.submit(ask, 2)
            _until(lambda: adm.waiting == 1)  # in line: the line is full
            refused = [
                ask(3),
                c.post(f"/detect?deployed_id={det_id}", files={"data": ("s.png", _png(4), "image/png")}),
                c.post(f"/classify?deployed_id={did}", files={"data": ("s.png", _png(5), "image/png")}),
            ]
            for r in refused:
                assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
                assert "SCREENSTATE_MAX_QUEUE" in r.json()["message"]
            vlm.hold.set()
            assert [f.result(60).status_code for f in (first, second)] == [200, 200]
        assert len(vlm.started) == 2  # the refused question never reached the VLM
        r = c.post(f"/detect?deployed_id={det_id}", files={"data": ("s.png", _png(4), "image/png")})
        assert r.status_code == 200
        assert adm.active == 0 and adm.waiting == 0


def test_the_service_ocr_reads_one_screen_per_worker_at_once():
    from dataclasses import replace

    from screenstate.embeddings.factory import EncoderOptions
    from screenstate.embeddings.ocr import OcrOptions
    from screenstate.server.service import parallel_ocr

    assert parallel_ocr(EncoderOptions(), 2).text.ocr.parallel == 2
    assert parallel_ocr(EncoderOptions(), 1).text.ocr.parallel == 1
    chosen = EncoderOptions(text=replace(EncoderOptions().text, ocr=OcrOptions(parallel=3)))
    assert parallel_ocr(chosen, 2).text.ocr.parallel == 3  # the caller's choice stands


def test_serve_caps_malloc_arenas_on_glibc():
    """`screenstate serve` caps glibc's malloc arenas before its threads start (RSS after a
    burst stays near the warm server's); the call is accepted by glibc and harmless elsewhere."""
    import platform
    import subprocess
    import sys

    code = "from screenstate.server.admission import cap_malloc_arenas as c; print(c(2), c(0))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    expected = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert out == [str(expected), str(expected)]

"""The review page's question box: answers about the frame on screen with the route taken,
the evidence and boxes for detector and OCR answers; the session token and the limits hold."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from screenstate.review.questions import MAX_QUESTION


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory):
    from screenstate.vlm import tiny_blip_vlm

    return tiny_blip_vlm(tmp_path_factory.mktemp("blip"))


@pytest.fixture
def app(review_session, tiny_vlm):
    from screenstate.review.app import create_review_app

    return create_review_app(review_session, vlm=tiny_vlm)


@pytest.fixture
def client(app):
    with TestClient(app, headers={"Authorization": f"Bearer {app.state.token}"}) as c:
        yield c


def _ask(client, index, question):
    return client.post(f"/api/frames/{index}/ask", json={"question": question})


def test_without_the_token_the_question_box_is_401(app):
    with TestClient(app) as anon:
        r = _ask(anon, 2, "where is the Sign In button?")
    assert r.status_code == 401 and "token" in r.text and "Sign In" not in r.text


def test_from_another_origin_it_is_403(app):
    with TestClient(app, headers={"Authorization": f"Bearer {app.state.token}"}) as c:
        r = c.post(
            "/api/frames/2/ask", json={"question": "what is the title?"}, headers={"Origin": "http://evil.example"}
        )
    assert r.status_code == 403


def test_detector_answer_has_a_box_on_the_frame(client):
    a = _ask(client, 2, "where is the Sign In button?").json()  # frame_002 = login page
    assert a["route"] == "detector" and "Sign In" in a["answer"]
    (box,) = a["boxes"]
    w, h = a["size"]
    x0, y0, x1, y1 = box["box"]
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and "Sign In" in box["label"]


def test_ocr_answer_reads_and_boxes_the_line(client):
    a = _ask(client, 0, "what does the error message say?").json()  # frame_000 = error dialog
    assert a["route"] == "ocr" and "permission denied" in a["answer"].lower()
    assert len(a["boxes"]) == 1 and a["evidence"]["lines"]


def test_state_question_answers_from_the_pages_own_classification(client):
    frame = client.get("/api/frames/1").json()
    a = _ask(client, 1, "which screen is this?").json()
    assert a["route"] == "classifier" and a["evidence"]["state"] == frame["state"] and a["boxes"] == []


def test_free_form_question_goes_to_the_vlm(client):
    a = _ask(client, 1, "which file is selected?").json()
    assert a["route"] == "vlm" and a["boxes"] == [] and a["evidence"]["runtime"] == "torch"


@pytest.mark.parametrize(
    ("index", "question", "status"),
    [
        (0, "", 422),
        (0, "x" * (MAX_QUESTION + 1), 422),
        (99, "what is the title?", 404),
        (-1, "what is the title?", 404),
    ],
)
def test_limits(client, index, question, status):
    assert _ask(client, index, question).status_code == status


def test_one_question_at_a_time(client, app):
    from screenstate.review import questions

    route = next(r for r in app.routes if getattr(r, "path", "") == "/api/frames/{index}/ask")
    owner = route.endpoint.__closure__  # the FrameQuestions instance the route answers with
    fq = next(c.cell_contents for c in owner if isinstance(c.cell_contents, questions.FrameQuestions))
    with fq._lock:
        r = _ask(client, 0, "what is the title?")
    assert r.status_code == 429 and "another question" in r.json()["error"]


def test_question_box_in_a_real_browser_draws_the_answer_box(review_session, tiny_vlm):
    """Type a question in the page, see the route and the answer, and a box on the frame."""
    from test_review_browser import CHROMIUM, CHROMIUM_ARGS, _page

    from screenstate.review.app import create_review_app, serve_in_thread

    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is missing")
    from pathlib import Path

    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    app = create_review_app(review_session, vlm=tiny_vlm)
    with sync_api.sync_playwright() as pw, serve_in_thread(app) as url:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page, problems = _page(browser, url)
        page.goto(f"{url}/?token={app.state.token}#frame=2")
        page.wait_for_selector("body[data-ready='1']")
        page.get_by_test_id("ask-question").fill("where is the Sign In button?")
        page.get_by_test_id("ask-submit").click()
        page.wait_for_selector("[data-testid=ask-route]", timeout=60_000)
        assert page.get_by_test_id("ask-route").inner_text().strip() == "[detector]"
        assert "Sign In" in page.get_by_test_id("ask-answer").inner_text()
        box = page.get_by_test_id("ask-box")
        assert box.count() == 1 and "Sign In" in box.inner_text()
        b, img = box.bounding_box(), page.locator("#frame-img").bounding_box()
        assert img["x"] <= b["x"] and b["x"] + b["width"] <= img["x"] + img["width"] + 1
        page.locator("#frame-title").click()  # focus out of the question box: arrow keys move frames
        page.keyboard.press("ArrowLeft")
        sync_api.expect(page.get_by_test_id("ask-box")).to_have_count(0)  # another frame: its boxes go
        browser.close()
        assert not problems, problems

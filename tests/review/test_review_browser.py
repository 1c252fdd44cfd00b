"""The review page in a real browser: Playwright's Python package driving Debian's
Chromium (never a downloaded browser), all traffic to other hosts blocked. A user opens a
recording with one wrongly classified frame, corrects it through the page's controls, and
the class file gains the exemplar and the recording is re-scored.

Skipped, with the reason shown in the summary (``-ra``), where Playwright's package or
Chromium is missing; ``make test`` installs Chromium (the ``sysdeps`` target).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("SCREENSTATE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="Playwright's Python package is missing: pip install -e '.[dev]'"
    )
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (make sysdeps) or set SCREENSTATE_CHROMIUM")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def mistaken(review_dirs, review_cache, text_encoder):
    """A session whose class file describes login pages badly: the login frame (2) is
    predicted as error_dialog; the recording's labels.csv knows the truth."""
    from screenstate.review.session import ReviewSession

    rec, classes = review_dirs
    (rec / "labels.csv").write_text(
        "frame,state\nframe_000.png,error_dialog\nframe_001.png,file_chooser\nframe_002.png,login_page\n"
    )
    data = json.loads(classes.read_text())
    data["classifier_configs"][2]["examples_to_include"] = ["a dialog window with a message"]
    classes.write_text(json.dumps(data, indent=2))
    session = ReviewSession(rec, classes, encoder=text_encoder, cache=review_cache)
    assert [f.state_label for f in session.frames] == ["error_dialog", "file_chooser", "error_dialog"]
    return session


def _page(browser, url: str):
    """A page that may only talk to ``url``'s host; console errors and blocked requests
    are collected."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    own = urlparse(url).netloc

    def route(r):
        if urlparse(r.request.url).netloc == own or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            problems.append(f"blocked request to {r.request.url}")
            r.abort()

    page.route("**/*", route)
    return page, problems


def test_review_page_correct_a_frame(browser, mistaken):
    from playwright.sync_api import expect

    from screenstate.review.app import create_review_app, serve_in_thread

    classes = mistaken.classfile.path
    app = create_review_app(mistaken)
    with serve_in_thread(app) as url:
        page, problems = _page(browser, url)
        page.goto(f"{url}/?token={app.state.token}#frame=1")
        page.wait_for_selector("body[data-ready='1']")

        # timeline: one tick per frame, coloured by state; one card per segment
        ticks = page.locator("[data-testid=timeline] .tick")
        assert ticks.count() == 3
        assert [ticks.nth(i).get_attribute("data-state") for i in range(3)] == [
            "error_dialog",
            "file_chooser",
            "error_dialog",
        ]
        assert page.get_by_test_id("segment").count() == 3
        assert "accuracy vs labels: 2/3" in page.get_by_test_id("summary").inner_text()

        # #frame=1 opened frame 1; the keyboard moves by frame and by segment
        viewer = page.get_by_test_id("frame-viewer")
        assert viewer.get_attribute("data-index") == "1"
        assert page.get_by_test_id("scores").locator("tbody tr").count() == 3
        assert page.get_by_test_id("evidence-card").count() == 2
        page.keyboard.press("ArrowRight")
        page.wait_for_selector("[data-testid=frame-viewer][data-index='2']")
        page.keyboard.press("ArrowUp")
        page.wait_for_selector("[data-testid=frame-viewer][data-index='1']")
        page.locator("[data-testid=timeline] .tick").nth(2).click()
        page.wait_for_selector("[data-testid=frame-viewer][data-index='2']")
        assert page.get_by_test_id("state-select").input_value() == "error_dialog"

        # correct frame 2: it is a login page (and not an error dialog)
        page.get_by_test_id("state-select").select_option("login_page")
        page.get_by_test_id("negative").check()
        page.get_by_test_id("save-label").click()
        expect(page.get_by_test_id("message")).to_contain_text("re-scored", timeout=30_000)

        data = json.loads(classes.read_text())
        login = next(c for c in data["classifier_configs"] if c["name"] == "login_page")
        assert {"image": "exemplars/login_page/frame_002.png"} in login["examples_to_include"]
        assert (classes.parent / "exemplars" / "login_page" / "frame_002.png").is_file()
        assert "pins" not in data  # an explicit encoder without the visual channel: no pins, the exemplar alone
        assert page.locator("[data-testid=timeline] .tick").nth(2).get_attribute("data-state") == "login_page"
        assert viewer.get_attribute("data-state") == "login_page"
        summary = page.get_by_test_id("summary").inner_text()
        assert "accuracy vs labels: 3/3 (1.000); named states 3/3" in summary  # updated after the correction

        assert problems == []  # no console errors, no requests to other hosts

        # a class file edited into invalid JSON is refused with the message; nothing written
        before = classes.read_text()
        page.get_by_test_id("open-classes").click()
        page.get_by_test_id("classes-text").fill('{"classifier_configs": [')
        page.get_by_test_id("classes-save").click()
        expect(page.get_by_test_id("classes-error")).to_contain_text("invalid JSON at line 1")
        assert classes.read_text() == before
        page.get_by_role("button", name="Close").first.click()

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review_page.png"), full_page=True)
        assert (ARTIFACTS / "review_page.png").stat().st_size > 10_000
        # the refused save is the only failed request (Chromium logs any 4xx to the console)
        assert problems == [
            "console error: Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
        ]
        page.close()


ATTACKER_PAGE = """<!doctype html><html><body>
<form id="f" method="post" action="{target}/api/undo" target="sink"><input name="x" value="1"></form>
<iframe name="sink"></iframe>
<script>
fetch("{target}/api/undo", {{method: "POST", mode: "no-cors", credentials: "include"}})
  .catch(() => null)
  .finally(() => {{ document.getElementById("f").submit(); document.title = "sent"; }});
</script></body></html>"""


def test_cross_site_undo_from_another_origin_is_refused(browser, mistaken):
    """A page on another origin (another port of 127.0.0.1: the same *site*, so the
    SameSite cookie goes along) tries a body-less fetch and a form post to /api/undo
    while the user has the review page open: both refused, nothing undone."""
    import http.server
    import threading

    from screenstate.review.app import create_review_app, serve_in_thread

    classes = mistaken.classfile.path
    app = create_review_app(mistaken)
    with serve_in_thread(app) as url:
        ctx = browser.new_context()  # one browser profile: the review cookie is there for both pages
        page = ctx.new_page()
        page.goto(f"{url}/?token={app.state.token}#frame=2")
        page.wait_for_selector("body[data-ready='1']")
        assert "token=" not in page.url  # the token went into the cookie
        # the user's correction, through the page's own request
        saved = page.evaluate(
            """async () => (await fetch('/api/label', {method: 'POST', headers: {'content-type': 'application/json'},
                 body: JSON.stringify({index: 2, state: 'login_page', negative: false})})).status"""
        )
        assert saved == 200
        labelled = classes.read_text()
        exemplar = classes.parent / "exemplars" / "login_page" / "frame_002.png"
        assert exemplar.is_file()

        html = ATTACKER_PAGE.format(target=url).encode()

        class Evil(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.end_headers()
                self.wfile.write(html)

            def log_message(self, *a):
                pass

        evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Evil)
        threading.Thread(target=evil.serve_forever, daemon=True).start()
        try:
            other = ctx.new_page()
            statuses: list[int] = []
            other.on("response", lambda r: statuses.append(r.status) if "/api/undo" in r.url else None)
            other.goto(f"http://127.0.0.1:{evil.server_address[1]}/")
            other.wait_for_function("document.title === 'sent'")
            other.wait_for_timeout(1500)
            assert statuses and set(statuses) == {403}, statuses  # the fetch and the form post reached it: refused
            other.close()
        finally:
            evil.shutdown()
        assert classes.read_text() == labelled and exemplar.is_file()
        assert mistaken.frames[2].corrected
        # the page itself can still undo
        undone = page.evaluate("async () => (await fetch('/api/undo', {method: 'POST'})).status")
        assert undone == 200 and not exemplar.exists()
        ctx.close()

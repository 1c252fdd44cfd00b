"""Regenerate docs/review.png: the review page on the bundled example recording, in
Debian's headless Chromium (Playwright's Python package; no browser download).

    python docs/review_screenshot.py [--frame N] [--encoder text]

It only looks: the class file is not changed. The frame shown defaults to the least
certain one (the top of the page's review queue).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from screenstate.review.app import create_review_app, serve_in_thread
from screenstate.review.session import ReviewSession

REPO = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=REPO / "examples/recording")
    ap.add_argument("--classes", type=Path, default=REPO / "configs/demo_states.json")
    ap.add_argument("--cache", type=Path, default=REPO / "demo_out/cache")
    ap.add_argument("--encoder", default="auto")
    ap.add_argument("--frame", type=int, default=None)
    ap.add_argument("--out", type=Path, default=REPO / "docs/review.png")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    a = ap.parse_args()
    session = ReviewSession(a.root, a.classes, encoder=a.encoder, cache=a.cache)
    frame = a.frame if a.frame is not None else session.queue(1)[0].index
    app = create_review_app(session)
    with serve_in_thread(app) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=a.chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 980})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(url) else r.abort())
        page.goto(f"{url}/?token={app.state.token}#frame={frame}")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(a.out))
        browser.close()
    print(f"wrote {a.out} (frame {frame})")


if __name__ == "__main__":
    main()

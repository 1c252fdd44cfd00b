"""Render the held-out set ``web-sbadmin-gentelella``: pages of two admin templates from
npm that the dev set does not use (Start Bootstrap SB Admin 2 4.1.4, Bootstrap 4 + jQuery;
Gentelella 4.2.0, vanilla JS + Vite build), labeled with the dev web states they show.

    apt-get install -y chromium fonts-dejavu fonts-liberation optipng   # + npm, playwright (dev extra)
    python benchmarks/render_heldout_web.py benchmarks/heldout/web-sbadmin-gentelella

Headless Debian chromium driven by playwright; SB Admin 2 from file://, Gentelella's built
``dist/`` from a local http server (its scripts use absolute paths). Every request that is
not local is aborted (CDN fonts fall back to local fonts). Seeded variations: viewport
1024x768 ... 1920x1080, device scale 1 / 1.25, Gentelella's own dark theme on every third
shot, SB Admin 2's dark sidebar variant or collapsed sidebar, scroll offsets.
"""

from __future__ import annotations

import functools
import http.server
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGES = ("startbootstrap-sb-admin-2@4.1.4", "gentelella@4.2.0")

#: state -> [(template, page)], cycled to 10 screens per state
PAGES: dict[str, list[tuple[str, str]]] = {
    "dashboard": [
        ("sb", "index.html"),
        ("gt", "index.html"),
        ("gt", "index2.html"),
        ("gt", "index3.html"),
        ("gt", "index4.html"),
    ],
    "login_page": [("sb", "login.html"), ("gt", "login.html")],
    "register_page": [("sb", "register.html"), ("gt", "register.html")],
    "error_404_page": [("sb", "404.html"), ("gt", "page_404.html")],
    "data_table": [("sb", "tables.html"), ("gt", "tables.html"), ("sb", "tables.html"), ("gt", "tables_dynamic.html")],
    "mailbox_inbox": [("gt", "inbox.html")],
    "user_profile": [("gt", "profile.html")],
    "invoice": [("gt", "invoice.html")],
}
VIEWPORTS = [(1280, 800), (1920, 1080), (1366, 768), (1440, 900), (1024, 768), (1600, 900)]


def fetch_templates(scratch: Path) -> dict[str, Path]:
    """npm pack both templates into ``scratch`` and unpack them; returns their roots."""
    if shutil.which("npm") is None:
        raise SystemExit("npm not found; install: apt-get install -y npm")
    scratch.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "pack", "--silent", *PACKAGES], cwd=scratch, check=True, stdout=subprocess.DEVNULL)
    roots = {}
    for key, pkg in zip(("sb", "gt"), PACKAGES):
        name, version = pkg.rsplit("@", 1)
        dest = scratch / key
        with tarfile.open(scratch / f"{name}-{version}.tgz") as tar:
            tar.extractall(dest, filter="data")
        roots[key] = dest / "package" if key == "sb" else dest / "package" / "dist"
    return roots


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def render(out: Path, seed: int = 23, per_state: int = 10) -> int:
    from playwright.sync_api import sync_playwright

    if not Path("/usr/bin/chromium").exists():
        raise SystemExit("chromium not found; install: apt-get install -y chromium")
    rng = random.Random(seed)
    scratch = Path(tempfile.mkdtemp(prefix="heldout-web-"))
    roots = fetch_templates(scratch)
    srv, gt_url = _serve(roots["gt"])
    local = ("file://", gt_url)
    n = 0
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            for state, pages in PAGES.items():
                (out / state).mkdir(parents=True, exist_ok=True)
                for i in range(per_state):
                    tpl, page_name = pages[i % len(pages)]
                    w, h = VIEWPORTS[(i + len(state)) % len(VIEWPORTS)]
                    dark = tpl == "gt" and i % 3 == 2
                    ctx = browser.new_context(
                        viewport={"width": w, "height": h},
                        device_scale_factor=rng.choice([1, 1, 1.25]),
                        color_scheme="dark" if dark else "light",
                        service_workers="block",
                    )
                    ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(local) else r.abort())
                    page = ctx.new_page()
                    url = (roots["sb"] / page_name).as_uri() if tpl == "sb" else f"{gt_url}/production/{page_name}"
                    page.goto(url, wait_until="load")
                    page.wait_for_timeout(1200)
                    if dark:
                        page.evaluate("document.documentElement.setAttribute('data-theme', 'dark')")
                    if tpl == "sb":
                        variant = rng.choice(["plain", "dark-sidebar", "collapsed"])
                        if variant == "dark-sidebar":
                            page.evaluate(
                                "document.querySelectorAll('.bg-gradient-primary.sidebar').forEach(e => {"
                                "e.classList.remove('bg-gradient-primary'); e.classList.add('bg-gradient-dark')})"
                            )
                        elif variant == "collapsed":
                            page.evaluate(
                                "document.body.classList.add('sidebar-toggled');"
                                "document.querySelectorAll('.sidebar').forEach(e => e.classList.add('toggled'))"
                            )
                    if rng.random() < 0.3:
                        page.evaluate(f"window.scrollTo(0, {rng.choice([120, 240, 400])})")
                    page.wait_for_timeout(500)
                    page.screenshot(path=str(out / state / f"{tpl}_{Path(page_name).stem}_{i + 1:02d}.png"))
                    ctx.close()
                    n += 1
            browser.close()
    finally:
        srv.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)
    return n


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "heldout" / "web-sbadmin-gentelella"
    print(f"rendered {render(target)} screenshots under {target}")

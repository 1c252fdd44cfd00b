"""The review page's JSON API without a browser (TestClient): frames, corrections that
become exemplars and re-score from held features, undo, class edits that are validated
before anything is written, concurrent saves, exports and "try a screenshot"."""

from __future__ import annotations

import csv
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image


def _classes(client) -> dict:
    return json.loads(Path(client.get("/api/session").json()["classes_path"]).read_text())


def _cfg(data: dict, name: str) -> dict:
    return next(c for c in data["classifier_configs"] if c["name"] == name)


def test_frames_list_every_frame_with_scores(review_client):
    rows = review_client.get("/api/frames").json()
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert [Path(r["path"]).name for r in rows] == ["frame_000.png", "frame_001.png", "frame_002.png"]
    assert all(r["time_s"] is None for r in rows)  # image folders have frame numbers, not seconds
    assert [r["pred"] for r in rows] == ["error_dialog", "file_chooser", "login_page"]
    for r in rows:
        assert set(r["scores"]) == {"error_dialog", "file_chooser", "login_page"}
        assert r["state"] == r["pred"]  # no min_score in this class file
        top = sorted(r["raw_scores"].values(), reverse=True)
        assert r["margin"] == pytest.approx(top[0] - top[1])


def test_frame_detail_explains_winner_and_runner_up(review_client):
    f = review_client.get("/api/frames/0").json()
    ev = f["evidence"]
    ranked = sorted(f["raw_scores"], key=lambda n: -f["raw_scores"][n])
    assert [e["class"] for e in ev] == ranked[:2]
    for e in ev:
        assert e["raw_score"] == pytest.approx(f["raw_scores"][e["class"]], abs=1e-5)
        assert e["text"] and e["json_path"].startswith("classifier_configs[")
    # the error dialog's winning example is matched by the dialog's own "Error" line
    assert any("Error" in ln["text"] for ln in ev[0]["lines"])
    assert review_client.get("/api/frames/7").status_code == 404


def test_label_writes_exemplar_backup_and_rescores_without_encoding(review_client, review_session):
    classes = review_session.classfile.path
    before = classes.read_text()
    ocr_before = review_session.clf.encoder.channels[0].ocr_calls
    r = review_client.post("/api/label", json={"index": 0, "state": "file_chooser", "negative": True})
    assert r.status_code == 200, r.text
    body = r.json()
    ex = Path(body["exemplar"])
    assert ex.is_file() and ex.parent == classes.parent / "exemplars" / "file_chooser"
    assert ex.read_bytes() == (review_session.root / "frame_000.png").read_bytes()
    data = _classes(review_client)
    assert {"image": "exemplars/file_chooser/frame_000.png"} in _cfg(data, "file_chooser")["examples_to_include"]
    assert {"image": "exemplars/_negative/error_dialog/frame_000.png"} in _cfg(data, "error_dialog")[
        "examples_to_exclude"
    ]
    assert (classes.with_name("classes.json.bak")).read_text() == before
    # re-scored: the corrected frame now matches its own exemplar
    assert body["changed_frames"] == [0]
    rows = review_client.get("/api/frames").json()
    assert rows[0]["pred"] == "file_chooser" and rows[0]["corrected"] is True
    assert review_session.clf.encoder.channels[0].ocr_calls == ocr_before  # nothing was read again


def test_undo_restores_class_file_and_removes_exemplar(review_client, review_session):
    classes = review_session.classfile.path
    before = classes.read_text()
    ex = Path(review_client.post("/api/label", json={"index": 1, "state": "login_page"}).json()["exemplar"])
    assert ex.is_file() and review_client.get("/api/frames").json()[1]["pred"] == "login_page"
    r = review_client.post("/api/undo")
    assert r.status_code == 200 and r.json()["undone"] == "label frame_001.png"
    assert classes.read_text() == before
    assert not ex.exists()
    row = review_client.get("/api/frames").json()[1]
    assert row["pred"] == "file_chooser" and row["corrected"] is False
    assert review_client.post("/api/undo").status_code == 409  # nothing left to undo


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"classifier_configs": [', "invalid JSON at line 1"),
        ('{"classifier_configs": [{"name": "a"}]}', "classifier_configs[0].examples_to_include: field is required"),
        ('{"classifier_configs": [{"name": "a", "examples_to_include": ["x"], "colour": 1}]}', "unknown field"),
        ('{"classifier_configs": [{"name": "a", "examples_to_include": [{"image": "missing.png"}]}]}', "not found"),
    ],
)
def test_invalid_class_edit_is_refused_and_nothing_written(review_client, review_session, text, message):
    classes = review_session.classfile.path
    before = classes.read_bytes()
    r = review_client.put("/api/classes", json={"text": text})
    assert r.status_code == 422
    assert message in r.json()["error"]
    assert classes.read_bytes() == before
    assert not classes.with_name("classes.json.bak").exists()
    assert review_client.get("/api/session").json()["can_undo"] is False


def test_valid_class_edit_is_saved_and_rescored(review_client, review_session):
    data = _classes(review_client)
    # make "login_page" describe file choosers: the file chooser frame changes state
    _cfg(data, "login_page")["examples_to_include"] = ["the GTK file picker with places and a list of files"]
    _cfg(data, "file_chooser")["examples_to_include"] = ["a spreadsheet full of numbers"]
    r = review_client.put("/api/classes", json={"text": json.dumps(data, indent=2)})
    assert r.status_code == 200, r.text
    assert _classes(review_client) == data
    assert review_client.get("/api/frames").json()[1]["pred"] == "login_page"


def test_concurrent_label_saves_keep_every_exemplar(review_client, review_session):
    """Saves from several tabs at once: every exemplar lands and the file stays valid."""
    reqs = [
        {"index": 0, "state": "file_chooser", "negative": True},
        {"index": 1, "state": "login_page", "negative": True},
        {"index": 2, "state": "error_dialog", "negative": True},
    ] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(lambda body: review_client.post("/api/label", json=body).status_code, reqs))
    assert codes == [200] * len(reqs)
    data = _classes(review_client)
    for name, frame in (("file_chooser", 0), ("login_page", 1), ("error_dialog", 2)):
        assert _cfg(data, name)["examples_to_include"].count({"image": f"exemplars/{name}/frame_{frame:03d}.png"}) == 1


def test_two_class_file_writers_never_lose_an_edit(tmp_path, data_dir):
    """Two ClassFile objects (two servers on one file) adding 24 exemplars concurrently:
    the lock makes each read-modify-write whole, so all 24 are in the final file."""
    from screenstate.review.classfile import ClassFile

    classes = tmp_path / "classes.json"
    classes.write_text((data_dir / "classes_small.json").read_text())
    frames = []
    for i in range(24):
        p = tmp_path / "rec" / f"f{i:02d}.png"
        p.parent.mkdir(exist_ok=True)
        Image.new("RGB", (8, 8), (i * 10, 0, 0)).save(p)
        frames.append(p)
    a, b = ClassFile(classes), ClassFile(classes)
    start = threading.Barrier(8)

    def work(k: int) -> None:
        start.wait()
        for p in frames[k::8]:
            (a if k % 2 else b).add_label(p, "login_page")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))
    got = _cfg(json.loads(classes.read_text()), "login_page")["examples_to_include"]
    assert sorted(e["image"] for e in got if isinstance(e, dict)) == [
        f"exemplars/login_page/f{i:02d}.png" for i in range(24)
    ]


def test_none_of_the_above_needs_negative(review_client, review_session):
    r = review_client.post("/api/label", json={"index": 0, "state": None, "negative": False})
    assert r.status_code == 409 and "negative" in r.json()["error"]
    r = review_client.post("/api/label", json={"index": 0, "state": None, "negative": True})
    assert r.status_code == 200 and r.json()["exemplar"] is None and r.json()["negative_of"] == "error_dialog"
    r = review_client.post("/api/label", json={"index": 0, "state": "nope"})
    assert r.status_code == 422 and "valid choices" in r.json()["error"]


def test_exports(review_client):
    review_client.post("/api/label", json={"index": 2, "state": "error_dialog"})
    labels = list(csv.DictReader(io.StringIO(review_client.get("/api/export/labels.csv").text)))
    assert [(r["frame"], r["state"], r["source"]) for r in labels] == [
        ("frame_000.png", "error_dialog", "predicted"),
        ("frame_001.png", "file_chooser", "predicted"),
        ("frame_002.png", "error_dialog", "corrected"),
    ]
    segs = list(csv.DictReader(io.StringIO(review_client.get("/api/export/segments.csv").text)))
    assert [(s["start_frame"], s["end_frame"], s["state"]) for s in segs] == [
        ("0", "0", "error_dialog"),
        ("1", "1", "file_chooser"),
        ("2", "2", "error_dialog"),
    ]


def test_queue_orders_by_margin(review_client):
    frames = review_client.get("/api/frames").json()
    q = review_client.get("/api/queue?n=2").json()
    assert [e["index"] for e in q] == sorted(range(3), key=lambda i: frames[i]["margin"])[:2]


def test_try_a_screenshot(review_client, data_dir):
    png = (data_dir / "login_page.png").read_bytes()
    r = review_client.post("/api/try", files={"file": ("shot.png", png, "image/png")})
    assert r.status_code == 200 and r.json()["pred"] == "login_page"
    r = review_client.post("/api/try", files={"file": ("bad.png", b"not an image", "image/png")})
    assert r.status_code == 422


def test_page_and_assets_are_served_offline(review_client):
    page = review_client.get("/")
    assert page.status_code == 200 and "Content-Security-Policy" in page.headers
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for asset in ("/static/review.js", "/static/review.css"):
        r = review_client.get(asset)
        assert r.status_code == 200 and "https://" not in r.text
    assert review_client.get("/api/frames/0/image?thumb=120").headers["content-type"] == "image/jpeg"


def test_review_cli_refuses_bad_root(tmp_path, data_dir):
    from typer.testing import CliRunner

    from screenstate.cli import app

    r = CliRunner().invoke(
        app, ["review", "--root", str(tmp_path / "nope"), "--classes", str(data_dir / "classes_small.json")]
    )
    assert r.exit_code == 2 and "not a directory" in r.output


def test_review_command_serves_the_page(review_dirs, review_cache):
    """The real command: classifies (from the warm cache), prints its URL, serves the API."""
    import os
    import socket
    import subprocess
    import sys
    import urllib.request

    rec, classes = review_dirs
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "screenstate", "review", "--root", str(rec), "--classes", str(classes)]
    cmd += ["--cache", str(review_cache), "--encoder", "text", "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "review page:" in line:
                break
        url = f"http://127.0.0.1:{port}/"
        assert f"3 frames classified; review page: {url}?token=" in "".join(lines), "".join(lines)
        token = "".join(lines).split("?token=")[1].split()[0]
        for _ in range(100):  # the URL is printed just before uvicorn binds
            try:
                req = urllib.request.Request(url + "api/frames", headers={"Authorization": f"Bearer {token}"})
                frames = json.load(urllib.request.urlopen(req, timeout=5))
                break
            except OSError:
                import time

                time.sleep(0.1)
        assert [f["pred"] for f in frames] == ["error_dialog", "file_chooser", "login_page"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_accuracy_against_labels_csv_in_the_session_and_after_a_correction(review_dirs, review_cache, text_encoder):
    """With ``labels.csv`` the header shows accuracy split into named states and none of the
    above (``unknown`` is right only without a state), and a correction updates it."""
    from fastapi.testclient import TestClient

    from screenstate.review.app import create_review_app
    from screenstate.review.session import ReviewSession

    rec, classes = review_dirs
    # frame 2 (a login page) is labeled "unknown": right only if it gets no state
    (rec / "labels.csv").write_text(
        "frame,state\nframe_000.png,file_chooser\nframe_001.png,file_chooser\nframe_002.png,unknown\n"
    )
    session = ReviewSession(rec, classes, encoder=text_encoder, cache=review_cache)
    assert [f.state_label for f in session.frames] == ["error_dialog", "file_chooser", "login_page"]
    app = create_review_app(session)
    with TestClient(app, headers={"Authorization": f"Bearer {app.state.token}"}) as client:
        acc = client.get("/api/session").json()["accuracy"]
        assert (acc["correct"], acc["n"], acc["named_correct"], acc["named"]) == (1, 3, 1, 2)
        assert (acc["unknown_correct"], acc["unknown"]) == (0, 1)
        assert acc["wrong"] == [
            ["frame_000.png", "file_chooser", "error_dialog"],
            ["frame_002.png", "unknown", "login_page"],
        ]
        assert acc["text"] == "accuracy vs labels: 1/3 (0.333); named states 1/2, none of the above 0/1"
        r = client.post("/api/label", json={"index": 0, "state": "file_chooser", "negative": True})
        assert r.status_code == 200, r.text
        after = client.get("/api/session").json()["accuracy"]
        assert after["named_correct"] == 2 and after["correct"] >= 2  # the corrected frame is right, none worse

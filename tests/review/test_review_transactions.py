"""Class-file changes as transactions: names that are paths refused everywhere, a rejected
edit writes nothing, undo never loses a change made elsewhere, the CLI and the page share
one lock, a SIGKILL leaves every listed exemplar whole, and the first correction on a
text-only class file with ``--encoder auto`` works."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def _listed(classes: Path) -> list[Path]:
    data = json.loads(classes.read_text())
    return [
        classes.parent / e["image"]
        for c in data["classifier_configs"]
        for key in ("examples_to_include", "examples_to_exclude")
        for e in c.get(key, [])
        if isinstance(e, dict) and "image" in e
    ]


@pytest.mark.parametrize("name", ["../../../x", "/tmp/ss-abs-class", "a/b"])
def test_class_names_that_are_paths_are_refused_by_page_cli_and_service(review_client, review_session, name, tmp_path):
    classes = review_session.classfile.path
    before, tree = classes.read_text(), _tree(tmp_path.parent)
    data = json.loads(before)
    data["classifier_configs"].append({"name": name, "examples_to_include": ["x"]})
    r = review_client.put("/api/classes", json={"text": json.dumps(data)})
    assert r.status_code == 422 and "is a path" in r.json()["error"]

    from typer.testing import CliRunner

    from screenstate.cli import app
    from screenstate.exemplars import ensure_class

    frame = review_session.root / "frame_000.png"
    res = CliRunner().invoke(app, ["label", "--classes", str(classes), "--class", name, str(frame)])
    assert res.exit_code != 0 and "is a path" in res.output, res.output
    with pytest.raises(Exception, match="is a path"):
        ensure_class(classes, name, frame)  # what `label --cluster` does for a new class
    assert classes.read_text() == before
    # nothing written anywhere, not even a folder (an earlier case's SQLite sidecar files may vanish meanwhile)
    assert _tree(tmp_path.parent) - tree == set()
    assert not Path("/tmp/ss-abs-class").exists()

    from fastapi.testclient import TestClient

    from screenstate.server import create_app

    with TestClient(create_app(store=tmp_path / "s.db", encoder=review_session.clf.encoder)) as c:
        r = c.post("/deploy_classifier", json={"classifier_configs": [{"name": name, "examples_to_include": ["x"]}]})
        assert r.status_code == 422 and "is a path" in r.json()["message"]


def test_a_rejected_edit_writes_nothing(review_client, review_session):
    """An exemplar that exists but is not an image: 422, the class file and its .bak untouched,
    and the next valid edit works."""
    classes = review_session.classfile.path
    before = classes.read_text()
    (classes.parent / "notes.png").write_text("not an image")
    data = json.loads(before)
    data["classifier_configs"][0]["examples_to_include"].append({"image": "notes.png"})
    for _ in range(2):
        r = review_client.put("/api/classes", json={"text": json.dumps(data)})
        assert r.status_code == 422, r.text
    assert classes.read_text() == before and not classes.with_name("classes.json.bak").exists()
    assert review_client.get("/api/session").json()["can_undo"] is False
    r = review_client.post("/api/label", json={"index": 0, "state": "file_chooser"})
    assert r.status_code == 200 and review_client.get("/api/frames/1").status_code == 200


def test_undo_refuses_when_the_cli_changed_the_file_since(review_client, review_session, data_dir):
    from screenstate.exemplars import add_exemplar

    classes = review_session.classfile.path
    r = review_client.post("/api/label", json={"index": 1, "state": "login_page"})
    assert r.status_code == 200
    page_ex = Path(r.json()["exemplar"])
    cli_ex = add_exemplar(classes, data_dir / "error_dialog.png", "error_dialog")  # what `screenstate label` does
    after_cli = classes.read_text()
    r = review_client.post("/api/undo")
    assert r.status_code == 409 and "changed on disk" in r.json()["error"]
    assert classes.read_text() == after_cli  # both changes kept
    assert page_ex.is_file() and cli_ex.is_file()
    assert {page_ex, cli_ex} <= set(_listed(classes))


def test_undo_reverts_only_the_pages_own_change_on_top_of_the_cli(review_client, review_session, data_dir):
    from screenstate.exemplars import add_exemplar

    classes = review_session.classfile.path
    cli_ex = add_exemplar(classes, data_dir / "error_dialog.png", "error_dialog")
    with_cli = classes.read_text()
    r = review_client.post("/api/label", json={"index": 1, "state": "login_page"})
    page_ex = Path(r.json()["exemplar"])
    assert review_client.post("/api/undo").status_code == 200
    assert classes.read_text() == with_cli and cli_ex.is_file() and not page_ex.exists()
    assert review_client.post("/api/undo").status_code == 409  # the CLI's change is not the page's


def test_cli_and_page_share_one_lock(review_session, data_dir):
    from screenstate.exemplars import add_exemplar

    classes = review_session.classfile.path
    done = threading.Event()

    def cli():
        add_exemplar(classes, data_dir / "error_dialog.png", "error_dialog")
        done.set()

    with review_session.classfile.locked():
        t = threading.Thread(target=cli)
        t.start()
        assert not done.wait(0.5)  # the CLI waits for the page's transaction
    t.join(10)
    assert done.is_set()
    # across processes: a process holding the page's lock holds the CLI back
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; from screenstate.atomic import file_lock\n"
            f"with file_lock({str(classes)!r}):\n print('held', flush=True); time.sleep(1.5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert holder.stdout.readline().strip() == "held"  # type: ignore[union-attr]
    t0 = time.monotonic()
    add_exemplar(classes, data_dir / "login_page.png", "login_page")
    assert time.monotonic() - t0 > 0.5
    holder.wait(10)


KILL_LOOP = """
import sys, itertools
from pathlib import Path
from screenstate.exemplars import add_exemplar
from screenstate.review.classfile import ClassFile
classes, frames = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
cf = ClassFile(classes)
print("ready", flush=True)
for i in itertools.count():
    f = frames[i % len(frames)]
    if i % 2:
        cf.add_label(f, "login_page", negative_of="error_dialog")   # the page's writer
    else:
        add_exemplar(classes, f, "file_chooser")                  # the CLI's writer
"""


def test_sigkill_while_labelling_leaves_every_listed_exemplar_whole(tmp_path, data_dir):
    """A real writer process (alternating the page's and the CLI's writes of distinct
    1-2 MB frames) killed at 8 different moments: every exemplar the class file lists is
    there, whole; the next start removes the temporary files."""
    import numpy as np
    from PIL import Image

    from screenstate.review.classfile import ClassFile

    classes = tmp_path / "classes.json"
    classes.write_text((data_dir / "classes_small.json").read_text())
    rng = np.random.default_rng(0)
    frames = []
    for i in range(12):
        p = tmp_path / "rec" / f"frame_{i:03d}.png"
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (600, 800, 3), dtype=np.uint8)).save(p, compress_level=0)
        frames.append(p)
    source = {p.name: p.read_bytes() for p in frames}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for k in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_LOOP, str(classes), *map(str, frames)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert proc.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
        time.sleep(0.05 + 0.13 * k)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        listed = _listed(classes)
        for ex in listed:
            assert ex.is_file(), f"kill {k}: {ex} listed but missing"
            assert ex.read_bytes() == source[ex.name], f"kill {k}: {ex} truncated"
        json.loads(classes.read_text())  # the class file itself is whole
        ClassFile(classes)  # the next start
        leftovers = list(tmp_path.rglob(".*.tmp"))
        assert leftovers == [], leftovers
    assert len(_listed(classes)) > 0
    # a temp file planted as a killed writer would leave it is removed at the next start
    stale = classes.parent / "exemplars" / "file_chooser" / ".frame_000.png.abc123.tmp"
    stale.write_bytes(b"half")
    (classes.parent / ".classes.json.xyz.tmp").write_text("{")
    ClassFile(classes)
    assert not stale.exists() and not (classes.parent / ".classes.json.xyz.tmp").exists()


def test_first_correction_on_a_text_only_file_with_encoder_auto(review_dirs, review_cache):
    """``auto`` adds the visual channel once a screenshot exemplar exists; the session's
    frames get that channel's features, so the correction answers 200 and every later
    request works (it answered 500 after writing the files)."""
    from fastapi.testclient import TestClient

    from screenstate.embeddings.factory import EncoderOptions
    from screenstate.review.app import create_review_app
    from screenstate.review.session import ReviewSession

    rec, classes = review_dirs
    session = ReviewSession(rec, classes, encoder="auto", options=EncoderOptions(device="cpu"), cache=review_cache)
    before = list(session.clf.encoder.channel_names)
    assert "visual" not in before  # text-only class file (and no CLIP weights offline)
    app = create_review_app(session)
    with TestClient(app, headers={"Authorization": f"Bearer {app.state.token}"}) as c:
        r = c.post("/api/label", json={"index": 0, "state": "file_chooser", "negative": True})
        assert r.status_code == 200, r.text
        assert "visual" in c.get("/api/session").json()["channels"]
        for i in range(3):
            f = c.get(f"/api/frames/{i}")
            assert f.status_code == 200 and f.json()["pred"] is not None
        assert c.get("/api/frames").json()[0]["pred"] == "file_chooser"
        # and back: undo returns to the text-only class file and still scores every frame
        assert c.post("/api/undo").status_code == 200
        assert all(row["pred"] for row in c.get("/api/frames").json())

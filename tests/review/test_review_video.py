"""The review page over a video: frames in seconds, images of what was classified, and a
correction that copies the frame into the exemplars."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

pytest.importorskip("av")

from screenstate.batch.video_write import draw_cursor, write_video  # noqa: E402


def test_review_session_over_a_video(tmp_path, data_dir, tiny_clip_encoder):
    from fastapi.testclient import TestClient

    from screenstate.review.app import create_review_app
    from screenstate.review.session import ReviewSession

    frames = []
    for k, name in enumerate(["login_page.png", "error_dialog.png"]):
        base = Image.open(data_dir / name).convert("RGB").resize((320, 180))
        frames += [(draw_cursor(base, 20 + 8 * i, 40), k * 2.0 + i * 0.5) for i in range(4)]
    video = write_video(tmp_path / "rec.mp4", frames)
    classes = tmp_path / "classes.json"
    shutil.copyfile(data_dir / "classes_small.json", classes)
    session = ReviewSession(video, classes, encoder=tiny_clip_encoder, cache=tmp_path / "cache")
    assert session.layout == "video" and len(session.frames) == 8
    assert [f.time_s for f in session.frames] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert len({f.path for f in session.frames}) == 2  # the cursor moved, the screens were read once each
    app = create_review_app(session)
    with TestClient(app, headers={"Authorization": f"Bearer {app.state.token}"}) as client:
        got = client.get("/api/frames").json()
        assert got[5]["time_s"] == 2.5
        img = client.get("/api/frames/5/image")
        assert img.status_code == 200 and img.content[:8] == b"\x89PNG\r\n\x1a\n"
        res = client.post("/api/label", json={"index": 5, "state": "error_dialog", "negative": False})
        assert res.status_code == 200, res.text
    spec = json.loads(classes.read_text())
    added = [e for c in spec["classifier_configs"] if c["name"] == "error_dialog" for e in c["examples_to_include"]]
    assert any(isinstance(e, dict) and "image" in e for e in added)


@pytest.mark.parametrize("variant", ["png", "mp4_box"])
def test_review_session_over_an_openadapt_capture_shows_its_actions(variant, tmp_path, data_dir, tiny_clip_encoder):
    from pathlib import Path

    from fastapi.testclient import TestClient

    from screenstate.review.app import create_review_app
    from screenstate.review.session import ReviewSession

    captures = Path(__file__).resolve().parents[1] / "data" / "captures"
    want = json.loads((captures / "png.expected.json").read_text())
    ordinals = [f["source_ordinal"] for f in want["frames"]]
    classes = tmp_path / "classes.json"
    shutil.copyfile(data_dir / "classes_small.json", classes)
    session = ReviewSession(captures / variant, classes, encoder=tiny_clip_encoder, cache=tmp_path / "cache")
    assert session.layout == "capture" and len(session.frames) == len(ordinals)
    assert session.frames[1].time_s == pytest.approx(0.9)
    app = create_review_app(session)
    with TestClient(app, headers={"Authorization": f"Bearer {app.state.token}"}) as client:
        assert client.get("/api/actions", headers={"Authorization": "Bearer wrong"}).status_code == 401
        acts = client.get("/api/actions").json()
        img = client.get("/api/frames/3/image")
        assert img.status_code == 200 and img.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(acts) == len(want["actions"]) == 10
    for a, w in zip(acts, want["actions"]):  # each action on the frames the capture binds it to
        assert ordinals[a["before"]] == w["screenshot_source_ordinal"]
        assert ordinals[a["after"]] == w["after_screenshot_source_ordinal"]
        assert a["time_s"] == pytest.approx(w["timestamp"] - want["frames"][0]["timestamp"])
    assert [a["kind"] for a in acts][:2] == ["click", "typed text"]

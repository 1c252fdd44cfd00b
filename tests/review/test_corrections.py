"""Corrections only help: one correction in the review page (``POST /api/label``) on the
bundled example recording, which has a ``labels.csv``, makes the corrected frame right and
leaves every other frame at least as accurate, with class files of text descriptions only,
of one screenshot for some classes, and of two for some (the few-shot rule), the other
classes keeping text only. Each case is undone through the API afterwards (undo restores
the states). Cases that do not hold yet are strict xfails naming what goes wrong, so they
turn into failures to remove the marker from once the decision rule handles them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from screenstate.batch.metrics import score_labels
from screenstate.errors import ScreenstateError

ROOT = Path(__file__).resolve().parents[2]
REC = ROOT / "examples" / "recording"
#: variant -> (frame file, class) exemplars added to configs/demo_states.json (text for all 12)
ONE = [("frame_00020.png", "login_page"), ("frame_00012.png", "error_dialog")]
ONE += [("frame_00005.png", "file_chooser"), ("frame_00029.png", "dashboard")]
#: a second exemplar of each: login's from this recording, the others from the same session's
#: full recording in screens-dev (the example is 13 of its frames)
TWO = [("frame_00024.png", "login_page"), ("dev:frame_00013.png", "error_dialog")]
TWO += [("dev:frame_00006.png", "file_chooser"), ("dev:frame_00030.png", "dashboard")]
VARIANTS = {"text": [], "one": ONE, "two": ONE + TWO}
#: frames to correct (all of a named state; most are wrong in at least one variant)
FRAMES = ["frame_00037.png", "frame_00043.png", "frame_00047.png", "frame_00051.png", "frame_00057.png"]
FRAMES += ["frame_00060.png"]
#: cases that do not hold yet: (variant, frame) -> why (none now: corrections that would
#: spill onto other frames are kept to the frame and its near-duplicates, review/reach.py)
XFAIL: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory, request):
    """variant -> a review session over the example recording (class file in a tmp dir)."""
    from screenstate.exemplars import add_exemplar
    from screenstate.review.session import ReviewSession

    made = {}

    def get(variant: str) -> ReviewSession:
        if variant not in made:
            d = tmp_path_factory.mktemp(f"corrections-{variant}")
            classes = d / "classes.json"
            shutil.copyfile(ROOT / "configs" / "demo_states.json", classes)
            for frame, cls in VARIANTS[variant]:
                if frame.startswith("dev:"):
                    dev = request.getfixturevalue("screens_dev")
                    add_exemplar(classes, dev / "recording" / frame.removeprefix("dev:"), cls)
                else:
                    add_exemplar(classes, REC / frame, cls)
            made[variant] = ReviewSession(REC, classes)
        return made[variant]

    return get


def _right(session) -> list[bool | None]:
    """Per frame: whether its state matches labels.csv (None where it has no label)."""
    out = []
    for f in session.frames:
        a = score_labels([f.truth], [f.result.state if f.result else None], unreadable=[f.result is None])
        out.append(None if a is None else a.correct == 1)
    return out


def _client(session):
    from fastapi.testclient import TestClient

    from screenstate.review.app import create_review_app

    app = create_review_app(session)
    return TestClient(app, headers={"Authorization": f"Bearer {app.state.token}"})


@pytest.mark.parametrize(
    "variant,frame",
    [
        pytest.param(v, f, marks=[pytest.mark.xfail(strict=True, reason=XFAIL[v, f])] if (v, f) in XFAIL else [])
        for v in VARIANTS
        for f in FRAMES
    ],
)
def test_one_correction_never_makes_another_frame_worse(sessions, variant, frame):
    session = sessions(variant)
    k = next(f.index for f in session.frames if f.path.name == frame)
    truth = session.frames[k].truth
    before_states = [f.state_label for f in session.frames]
    before = _right(session)
    with _client(session) as client:
        r = client.post("/api/label", json={"index": k, "state": truth, "negative": True})
        assert r.status_code == 200, r.text
        acc = client.get("/api/session").json()["accuracy"]
        after = _right(session)
        try:
            assert after[k], f"{frame} still {session.frames[k].state_label}, labeled {truth}"
            worse = [session.frames[i].path.name for i, (b, a) in enumerate(zip(before, after)) if b and not a]
            assert not worse, f"correcting {frame} made {worse} wrong"
            assert acc["correct"] >= sum(bool(b) for b in before)
        finally:
            assert client.post("/api/undo").status_code == 200
    assert [f.state_label for f in session.frames] == before_states  # undone


@pytest.mark.xfail(
    strict=True,
    reason="with two screenshots for 4 classes the few-shot rule fills each exemplar source's score of "
    "the 8 text-only classes with a typical other-class match (ABSENT, 0.5), and the exemplar classes' weak "
    "matches (0.52-0.62) beat them: 7/13 against 10/13 with text only. Without the fill 9/13, but label_once's "
    "session A falls from 1.0 to 0.67 (text-only classes win on the plain desktop); kept text negatives "
    "and learned thresholds per exemplar class alone leave 7/13",
)
def test_screenshots_of_some_classes_do_not_hurt_the_text_only_classes(sessions):
    text_only = {n for n in sessions("text").names} - {c for _, c in VARIANTS["two"]}
    for variant in ("one", "two"):
        for f_text, f_more in zip(sessions("text").frames, sessions(variant).frames):
            if f_text.truth in text_only and f_text.state_label == f_text.truth:
                assert f_more.state_label == f_text.truth, f"{variant}: {f_more.path.name} -> {f_more.state_label}"


def test_none_of_the_above_correction_gives_no_state_with_one_exemplar_per_class(tmp_path):
    """The README walkthrough's class file (a screenshot per state, login's two): correcting
    a desktop frame as none of the above leaves it, and its duplicate, with no state."""
    from screenstate.exemplars import ensure_class
    from screenstate.review.session import ReviewSession

    classes = tmp_path / "my_states.json"
    for frame, cls in (
        ONE
        + TWO[:1]
        + [
            ("frame_00047.png", "question_dialog"),
            ("frame_00051.png", "progress_dialog"),
            ("frame_00057.png", "info_dialog"),
            ("frame_00037.png", "mailbox_inbox"),
            ("frame_00043.png", "user_profile"),
            ("frame_00060.png", "error_404_page"),
        ]
    ):
        if not ensure_class(classes, cls, REC / frame):
            from screenstate.exemplars import add_exemplar

            add_exemplar(classes, REC / frame, cls)
    session = ReviewSession(REC, classes)
    desk = [f.index for f in session.frames if f.truth == "unknown"]
    with _client(session) as client:
        r = client.post("/api/label", json={"index": desk[0], "state": None, "negative": True})
        assert r.status_code == 200, r.text
    assert [session.frames[i].result.state for i in desk] == [None, None]
    assert all(ok for i, ok in enumerate(_right(session)) if i not in desk and ok is not None)


def test_a_correction_that_would_spill_is_kept_to_the_screen_unless_asked(tmp_path):
    """Text-only class file: the progress dialog on the desktop, as an exemplar, would also
    turn the plain desktop frames into progress dialogs. ``auto`` pins the frame, writes no
    exemplar and names the frames it would have changed; ``everywhere`` writes it, and they
    change; ``screen`` writes the pin alone."""
    from screenstate.review.session import ReviewSession

    classes = tmp_path / "classes.json"
    shutil.copyfile(ROOT / "configs" / "demo_states.json", classes)
    session = ReviewSession(REC, classes)
    k = next(f.index for f in session.frames if f.path.name == "frame_00051.png")
    desk = [f.index for f in session.frames if f.truth == "unknown"]
    with _client(session) as client:
        r = client.post("/api/label", json={"index": k, "state": "progress_dialog", "negative": True}).json()
        assert r["exemplar"] is None and r["negative_exemplar"] is None and r["pin"].endswith("frame_00051.png")
        assert set(desk) <= set(r["spill"]), r["spill"]
        assert session.frames[k].state_label == "progress_dialog"
        assert [session.frames[i].result.state for i in desk] == [None, None]
        data = json.loads(classes.read_text())
        assert data["pins"] == [{"image": "exemplars/_pinned/frame_00051.png", "state": "progress_dialog"}]
        assert client.post("/api/undo").status_code == 200
        assert "pins" not in json.loads(classes.read_text()) or not json.loads(classes.read_text())["pins"]

        r = client.post(
            "/api/label", json={"index": k, "state": "progress_dialog", "negative": True, "scope": "everywhere"}
        ).json()
        assert r["exemplar"] is not None and r["spill"] == []
        assert set(desk) <= set(r["changed_frames"])  # what auto warned about
        assert client.post("/api/undo").status_code == 200

        r = client.post("/api/label", json={"index": k, "state": "progress_dialog", "scope": "screen"}).json()
        assert (r["exemplar"], r["spill"]) == (None, [])
        assert r["changed_frames"] == [k]
        bad = client.post("/api/label", json={"index": k, "state": "progress_dialog", "scope": "nearby"})
        assert bad.status_code == 422


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_corrections_never_write_inside_the_recording(tmp_path):
    """Every reach writes beside the class file only: the recording folder is byte-identical
    after corrections and undos; a class file inside the recording is refused up front."""
    from screenstate.review.session import ReviewSession

    rec = tmp_path / "rec"
    shutil.copytree(REC, rec)
    before = _tree(rec)
    classes = tmp_path / "classes.json"
    shutil.copyfile(ROOT / "configs" / "demo_states.json", classes)
    session = ReviewSession(rec, classes)
    k = next(f.index for f in session.frames if f.path.name == "frame_00051.png")
    with _client(session) as client:
        for scope in ("auto", "everywhere", "screen"):
            r = client.post(
                "/api/label", json={"index": k, "state": "progress_dialog", "negative": True, "scope": scope}
            )
            assert r.status_code == 200, r.text
        for _ in range(3):
            assert client.post("/api/undo").status_code == 200
    assert _tree(rec) == before
    inside = rec / "classes.json"
    shutil.copyfile(ROOT / "configs" / "demo_states.json", inside)
    with pytest.raises(ScreenstateError, match="lies inside the recording"):
        ReviewSession(rec, inside)


def test_a_pinning_correction_is_refused_without_the_token_from_another_page_and_with_hostile_values(tmp_path):
    from fastapi.testclient import TestClient

    from screenstate.review.app import create_review_app
    from screenstate.review.session import ReviewSession

    classes = tmp_path / "classes.json"
    shutil.copyfile(ROOT / "configs" / "demo_states.json", classes)
    before = classes.read_text()
    app = create_review_app(ReviewSession(REC, classes))
    body = {"index": 10, "state": "progress_dialog", "scope": "screen"}
    with TestClient(app) as anon:
        assert anon.post("/api/label", json=body).status_code == 401
    with TestClient(app, headers={"Authorization": f"Bearer {app.state.token}"}) as client:
        cross = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
        assert client.post("/api/label", json=body, headers=cross).status_code == 403
        for hostile in (
            body | {"state": "../../etc/passwd"},
            body | {"state": "x" * 100_000},
            body | {"index": -1},
            body | {"index": 10**12},
            body | {"scope": "s" * 100_000},
            body | {"scope": None},
        ):
            r = client.post("/api/label", json=hostile)
            assert 400 <= r.status_code < 500, (str(hostile)[:80], r.status_code)
            assert "error" in r.json() or "detail" in r.json()
    assert classes.read_text() == before and not (tmp_path / "exemplars").exists()

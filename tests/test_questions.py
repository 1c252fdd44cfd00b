"""A question list over a recording: one row per (frame, question) with its route; repeats
copied; unreadable frames reported; interrupted runs resumed; the recording never written."""

from __future__ import annotations

import csv
import shutil

import pytest
from PIL import Image
from typer.testing import CliRunner

from screenstate.asking import Answer, Asker
from screenstate.errors import ScreenstateError
from screenstate.questions import COLUMNS, ask_recording, check_output, read_questions, recording_frames

QUESTIONS = ["what does the error message say?", "where is the Sign In button?", "which file is selected?"]


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0].keys()) == list(COLUMNS) if rows else True
    return rows


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory):
    from screenstate.vlm import tiny_blip_vlm

    return tiny_blip_vlm(tmp_path_factory.mktemp("blip"))


@pytest.fixture
def recording(data_dir, tmp_path):
    """login, login (same pixels), error dialog, an unreadable file, file chooser, login again."""
    root = tmp_path / "rec"
    root.mkdir()
    for i, name in enumerate(["login_page", "login_page", "error_dialog", None, "file_chooser", "login_page"]):
        dst = root / f"frame_{i:03d}.png"
        if name is None:
            dst.write_bytes(b"not a png")
        else:
            shutil.copy(data_dir / f"{name}.png", dst)
    return root


class CountingAsker:
    """Answers by the question's route without models; counts the screens it was asked about."""

    def __init__(self) -> None:
        self.screens = 0

    def ask_all(self, image, questions):
        from screenstate.asking import route

        self.screens += 1
        return [(q, Answer(f"{image.size[0]}px", route(q)), 0.01, "") for q in questions]


def test_read_questions(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text(
        "# state questions\nwhere is the OK button?\n\n  what does the title say?  \nwhere is the OK button?\n"
    )
    assert read_questions(p) == ["where is the OK button?", "what does the title say?"]
    p.write_text("# nothing\n\n")
    with pytest.raises(ScreenstateError, match="one question per line"):
        read_questions(p)


def test_every_frame_and_question_gets_a_row_with_its_route(recording, tmp_path, tiny_vlm):
    out = tmp_path / "answers.csv"
    asker = Asker(vlm=tiny_vlm)
    frames = recording_frames(recording)
    summary = ask_recording(asker, frames, QUESTIONS, out)
    rows = _rows(out)
    assert len(rows) == 6 * len(QUESTIONS) == summary.rows_written
    assert [(r["frame"], r["question"]) for r in rows] == [
        (f"frame_{i:03d}.png", q) for i in range(6) for q in QUESTIONS
    ]
    by = {(int(r["frame_index"]), r["question"]): r for r in rows}
    assert by[(0, QUESTIONS[1])]["route"] == "detector" and "Sign In" in by[(0, QUESTIONS[1])]["answer"]
    assert by[(2, QUESTIONS[0])]["route"] == "ocr" and "permission denied" in by[(2, QUESTIONS[0])]["answer"].lower()
    assert by[(4, QUESTIONS[2])]["route"] == "vlm" and '"runtime"' in by[(4, QUESTIONS[2])]["evidence"]
    # repeats (same pixels, next to it or later) are copied from the first, not asked again
    for i in (1, 5):
        for q in QUESTIONS:
            assert by[(i, q)]["copied_from"] == "0" and by[(i, q)]["answer"] == by[(0, q)]["answer"]
    # the unreadable file: a row per question with the reason, nothing dropped
    assert all(by[(3, q)]["error"] and not by[(3, q)]["answer"] for q in QUESTIONS)
    assert (summary.frames, summary.asked, summary.copied, summary.failed) == (6, 3, 2, 1)


def test_interrupted_run_resumes_without_asking_again(recording, tmp_path):
    out = tmp_path / "answers.csv"
    first = CountingAsker()
    ask_recording(first, recording_frames(recording), QUESTIONS, out, gate=False)
    full = out.read_text()
    lines = full.splitlines(keepends=True)
    # cut after frame 2's rows, in the middle of frame 3's first row (a torn write)
    cut = "".join(lines[: 1 + 3 * 3]) + lines[1 + 3 * 3][:7]
    out.write_text(cut)
    again = CountingAsker()
    summary = ask_recording(again, recording_frames(recording), QUESTIONS, out, gate=False)
    assert summary.resumed == 3 and again.screens == 2  # frame 3 is unreadable: reported, not asked
    assert out.read_text() == full


def test_output_inside_the_recording_is_refused(recording):
    with pytest.raises(ScreenstateError, match="never writes to"):
        check_output(recording, recording / "answers.csv")
    check_output(recording, recording.parent / "answers.csv")


def test_a_foreign_csv_is_not_overwritten(recording, tmp_path):
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n")
    with pytest.raises(ScreenstateError, match="not a questions CSV"):
        ask_recording(CountingAsker(), recording_frames(recording), QUESTIONS, out)
    assert out.read_text() == "a,b\n1,2\n"


def test_video_repeats_within_codec_noise_are_copied(data_dir, tmp_path):
    from screenstate.batch.video_write import write_video

    login = Image.open(data_dir / "login_page.png").convert("RGB")
    err = Image.open(data_dir / "error_dialog.png").convert("RGB").resize(login.size)
    video = write_video(tmp_path / "rec.mp4", [(login, 0.0), (login, 0.5), (err, 1.0), (err, 1.5)])
    out = tmp_path / "answers.csv"
    asker = CountingAsker()
    frames = recording_frames(video)
    assert frames.video
    summary = ask_recording(asker, frames, QUESTIONS[:1], out, video=True)
    rows = _rows(out)
    assert [r["copied_from"] for r in rows] == ["", "0", "", "2"] and asker.screens == 2
    assert rows[1]["frame"].endswith("rec.mp4") and rows[1]["time_s"] == "0.500" and summary.copied == 2


def test_cli_asks_a_question_list_over_a_recording(recording, tmp_path, data_dir):
    from screenstate.cli import app

    qs = tmp_path / "questions.txt"
    qs.write_text("what is the title?\nwhere is the Sign In button?\n")
    out = tmp_path / "answers.csv"
    args = ["ask", "--root", str(recording), "--questions", str(qs), "--output", str(out), "--vlm-model", "nope/nope"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code in (0, 2), res.output
    if res.exit_code == 2:  # a frame needed the VLM: one clear line, and what was answered stays
        assert "nope/nope" in res.output
    rows = _rows(out)
    assert rows and rows[0]["route"] == "ocr" and rows[1]["route"] == "detector"
    res = CliRunner().invoke(app, ["ask", "--root", str(recording), "--output", str(out)])
    assert res.exit_code == 2 and "--questions" in res.output


@pytest.mark.parametrize("name", ["png", "mp4_box"])
def test_openadapt_capture_frames_are_asked_and_the_capture_is_untouched(data_dir, tmp_path, name):
    import hashlib

    pytest.importorskip("av")
    capture = data_dir / "captures" / name
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(capture.rglob("*")) if p.is_file()}
    frames = recording_frames(capture)
    out = tmp_path / "answers.csv"
    summary = ask_recording(CountingAsker(), frames, QUESTIONS[:2], out, video=frames.video)
    rows = _rows(out)
    n = summary.frames
    assert n > 1 and len(rows) == 2 * n and not any(r["error"] for r in rows)
    assert [int(r["frame_index"]) for r in rows] == [i for i in range(n) for _ in range(2)]
    assert before == {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(capture.rglob("*")) if p.is_file()}

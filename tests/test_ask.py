"""Question routing, the fast paths, and the VLM fallback with a tiny BLIP built from a config."""

from __future__ import annotations

import pytest
from PIL import Image

from screenstate.asking import Answer, Asker, route
from screenstate.errors import ModelNotAvailableError
from screenstate.vlm import VLM

STATES = ["login_page", "error_dialog", "file_chooser"]


@pytest.mark.parametrize(
    "question, path",
    [
        ("where is the Sign In button?", "detector"),
        ("Where's the password field", "detector"),
        ("where are the search results", "detector"),
        ("find the Register link", "detector"),
        ("locate the OK button", "detector"),
        ("give me the bounding box of the logo", "detector"),
        ("what does the error message say?", "ocr"),
        ("What does the title say", "ocr"),
        ("what is the title of the dialog?", "ocr"),
        ("what's the error message?", "ocr"),
        ("read the warning text", "ocr"),
        ("what is written on the button", "ocr"),
        ("is the login page showing?", "classifier"),
        ("Is the error dialog open?", "classifier"),
        ("is the file chooser visible", "classifier"),
        ("which screen is this?", "classifier"),
        ("what page am I on?", "classifier"),
        ("which dialog is shown", "classifier"),
        ("are we on the login page?", "classifier"),
        ("which file is selected?", "vlm"),
        ("how many emails are unread?", "vlm"),
        ("is the dark theme enabled?", "vlm"),
        ("describe this screen", "vlm"),
        ("what color is the header?", "vlm"),
    ],
)
def test_routing_table(question, path):
    assert route(question, STATES) == path


def test_state_questions_need_a_class_file():
    assert route("which screen is this?", []) == "vlm"


@pytest.fixture(scope="module")
def unloadable_vlm():
    return VLM(model="no-such-org/no-such-vlm", allow_download=False)


@pytest.fixture(scope="module")
def asker(small_spec, text_encoder, unloadable_vlm):
    from screenstate import StateChecker

    return Asker(checker=StateChecker(small_spec, encoder=text_encoder), vlm=unloadable_vlm)


@pytest.mark.parametrize(
    "question, path, contains",
    [
        ("is the login page showing?", "classifier", "yes"),
        ("is the file chooser open?", "classifier", "no"),
        ("which screen is this?", "classifier", "login_page"),
        ("where is the Sign In button?", "detector", "Sign In"),
        ("what is the title of the dialog?", "ocr", "AdminLTE"),
    ],
)
def test_fast_paths_never_load_the_vlm(asker, data_dir, question, path, contains):
    ans = asker.ask(data_dir / "login_page.png", question)
    assert isinstance(ans, Answer) and ans.path == path and contains in ans.text
    assert not asker.vlm_loaded


def test_detector_answer_has_a_box(asker, data_dir):
    ans = asker.ask(data_dir / "login_page.png", "where is the Sign In button?")
    x0, y0, x1, y1 = ans.evidence["box"]
    assert 0 <= x0 < x1 <= 1366 and 0 <= y0 < y1 <= 768


def test_ocr_reads_the_error_message(asker, data_dir):
    ans = asker.ask(data_dir / "error_dialog.png", "what does the error message say?")
    assert ans.path == "ocr" and "permission denied" in ans.text.lower()


def test_unanswerable_question_needs_the_vlm_and_fails_fast(asker, data_dir):
    with pytest.raises(ModelNotAvailableError, match="no-such-vlm"):
        asker.ask(data_dir / "login_page.png", "which file is selected?")


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory):
    from screenstate.vlm import tiny_blip_vlm

    return tiny_blip_vlm(tmp_path_factory.mktemp("blip"))


def test_vlm_path_end_to_end_offline(tiny_blip, data_dir):
    asker = Asker(text_channel=None, vlm=tiny_blip)
    ans = asker.ask(Image.open(data_dir / "error_dialog.png"), "which file is selected?")
    assert ans.path == "vlm" and isinstance(ans.text, str)
    assert 1 <= ans.evidence["new_tokens"] <= 5 and ans.evidence["seconds"] < 60


def test_missing_default_vlm_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError, match="screenstate models pull --vlm"):
        VLM().answer(Image.new("RGB", (10, 10)), "hi")

"""Review-page fixtures: three small real screens, the offline text channel, and a feature
cache warmed once per test session, so every test gets a fresh recording + class file
(it writes to them) without running OCR again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FRAMES = ("error_dialog.png", "file_chooser.png", "login_page.png")


@pytest.fixture(scope="session")
def review_cache(tmp_path_factory, data_dir, text_encoder) -> Path:
    """A feature cache holding the three frames' text features."""
    from screenstate.classify import ScreenClassifier

    cache = tmp_path_factory.mktemp("review-cache")
    clf = ScreenClassifier(data_dir / "classes_small.json", encoder=text_encoder, cache=cache)
    clf.features([clf.load(data_dir / f) for f in FRAMES])
    return cache


@pytest.fixture
def review_dirs(tmp_path, data_dir) -> tuple[Path, Path]:
    """(recording dir, class file) copied into this test's tmp dir."""
    rec = tmp_path / "rec"
    rec.mkdir()
    for i, f in enumerate(FRAMES):
        shutil.copyfile(data_dir / f, rec / f"frame_{i:03d}.png")
    classes = tmp_path / "classes.json"
    shutil.copyfile(data_dir / "classes_small.json", classes)
    return rec, classes


@pytest.fixture
def review_session(review_dirs, review_cache, text_encoder):
    from screenstate.review.session import ReviewSession

    rec, classes = review_dirs
    return ReviewSession(rec, classes, encoder=text_encoder, cache=review_cache)


@pytest.fixture
def review_client(review_session):
    from fastapi.testclient import TestClient

    from screenstate.review.app import create_review_app

    app = create_review_app(review_session)
    with TestClient(app, headers={"Authorization": f"Bearer {app.state.token}"}) as client:
        yield client

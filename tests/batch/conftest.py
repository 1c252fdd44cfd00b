"""Video fixtures: tiny screen recordings encoded in the tests with PyAV (H.264)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("av")

from screenstate.batch.video_write import write_video  # noqa: E402


@pytest.fixture()
def make_video(tmp_path) -> Callable[..., Path]:
    """``make_video(name, [(image, time_s), ...], options=None)`` -> path under tmp_path."""

    def make(name: str, frames: Sequence[tuple[Image.Image, float]], **kw) -> Path:
        return write_video(tmp_path / name, frames, **kw)

    return make

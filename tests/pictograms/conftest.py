"""Shared synthetic screen for the pictogram tests."""

from __future__ import annotations

import pytest
from icon_screens import dialog  # tests/pictograms/icon_screens.py
from PIL import Image


@pytest.fixture
def dialog_screen() -> Image.Image:
    """An 800x600 screen: an editor window and a dialog over it with a warning sign and a message."""
    return dialog()[0]

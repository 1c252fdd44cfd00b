"""Prompt templates for the CLIP channel.

``screen`` (default) is written for screenshots; ``photo`` is the reference server's
ensemble (OpenAI's ImageNet prompt list, as open_clip ships it in
``open_clip.zero_shot_metadata``); ``none`` uses the example text as is.
"""

from __future__ import annotations

from collections.abc import Callable

from screenstate.errors import UnknownNameError

SCREEN_TEMPLATES = (
    "{}",
    "a screenshot of {}.",
    "a screenshot of a computer screen showing {}.",
    "a user interface showing {}.",
    "a desktop screen capture of {}.",
    "a web page screenshot: {}.",
    "an application window: {}.",
)


def photo_templates() -> tuple[str, ...]:
    """open_clip's copy of OpenAI's 80 ImageNet prompts, as format strings (read when asked
    for: importing open_clip takes seconds)."""
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    return tuple(t("{}") for t in OPENAI_IMAGENET_TEMPLATES)


TEMPLATE_SETS: dict[str, Callable[[], tuple[str, ...]]] = {
    "screen": lambda: SCREEN_TEMPLATES,
    "photo": photo_templates,
    "none": lambda: ("{}",),
}


def get_templates(name: str) -> tuple[str, ...]:
    """Template set by name (``screen``, ``photo``, ``none``)."""
    try:
        return TEMPLATE_SETS[name]()
    except KeyError as e:
        raise UnknownNameError("template set", name, list(TEMPLATE_SETS)) from e

"""Prompt templates for the CLIP channel.

``screen`` (default) is written for screenshots; ``photo`` is the reference server's
ensemble (OpenAI's ImageNet prompt list, public in the CLIP repository); ``none`` uses
the example text as is.
"""

from __future__ import annotations

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

_PHOTO = (
    "a bad photo of a {}.|a photo of many {}.|a sculpture of a {}.|a photo of the hard to see {}.|"
    "a low resolution photo of the {}.|a rendering of a {}.|graffiti of a {}.|a bad photo of the {}.|"
    "a cropped photo of the {}.|a tattoo of a {}.|the embroidered {}.|a photo of a hard to see {}.|"
    "a bright photo of a {}.|a photo of a clean {}.|a photo of a dirty {}.|a dark photo of the {}.|"
    "a drawing of a {}.|a photo of my {}.|the plastic {}.|a photo of the cool {}.|"
    "a close-up photo of a {}.|a black and white photo of the {}.|a painting of the {}.|"
    "a painting of a {}.|a pixelated photo of the {}.|a sculpture of the {}.|a bright photo of the {}.|"
    "a cropped photo of a {}.|a plastic {}.|a photo of the dirty {}.|a jpeg corrupted photo of a {}.|"
    "a blurry photo of the {}.|a photo of the {}.|a good photo of the {}.|a rendering of the {}.|"
    "a {} in a video game.|a photo of one {}.|a doodle of a {}.|a close-up photo of the {}.|"
    "a photo of a {}.|the origami {}.|the {} in a video game.|a sketch of a {}.|a doodle of the {}.|"
    "a origami {}.|a low resolution photo of a {}.|the toy {}.|a rendition of the {}.|"
    "a photo of the clean {}.|a photo of a large {}.|a rendition of a {}.|a photo of a nice {}.|"
    "a photo of a weird {}.|a blurry photo of a {}.|a cartoon {}.|art of a {}.|a sketch of the {}.|"
    "a embroidered {}.|a pixelated photo of a {}.|itap of the {}.|a jpeg corrupted photo of the {}.|"
    "a good photo of a {}.|a plushie {}.|a photo of the nice {}.|a photo of the small {}.|"
    "a photo of the weird {}.|the cartoon {}.|art of the {}.|a drawing of the {}.|"
    "a photo of the large {}.|a black and white photo of a {}.|the plushie {}.|a dark photo of a {}.|"
    "itap of a {}.|graffiti of the {}.|a toy {}.|itap of my {}.|a photo of a cool {}.|"
    "a photo of a small {}.|a tattoo of the {}."
)
PHOTO_TEMPLATES = tuple(_PHOTO.split("|"))

TEMPLATE_SETS: dict[str, tuple[str, ...]] = {
    "screen": SCREEN_TEMPLATES,
    "photo": PHOTO_TEMPLATES,
    "none": ("{}",),
}


def get_templates(name: str) -> tuple[str, ...]:
    """Template set by name (``screen``, ``photo``, ``none``)."""
    try:
        return TEMPLATE_SETS[name]
    except KeyError as e:
        raise UnknownNameError("template set", name, list(TEMPLATE_SETS)) from e

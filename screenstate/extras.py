"""Optional parts of the install: CLIP, OWL and the VLM come with ``screenstate[clip]``
(open_clip_torch, torchvision, timm), so the offline default (``text`` and ``visual``
channels, the service) installs without them. :func:`require` imports such a module or
says exactly what to install.

>>> require("json", "clip", "CLIP").__name__
'json'
>>> require("no_such_module_xyz", "clip", "CLIP")
Traceback (most recent call last):
...
screenstate.errors.MissingExtraError: CLIP needs the optional package no_such_module_xyz: pip install 'screenstate[clip]'
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from screenstate.errors import MissingExtraError

#: the packages each extra brings, by import name
EXTRAS = {"clip": ("open_clip", "torchvision", "timm")}


def install_line(extra: str) -> str:
    return f"pip install 'screenstate[{extra}]'"


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError, AttributeError):
        return False


def require(module: str, extra: str, what: str) -> ModuleType:
    """``import module``, or MissingExtraError naming ``what`` needs it and the install line."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        missing = (e.name or module).split(".")[0]
        raise MissingExtraError(f"{what} needs the optional package {missing}: {install_line(extra)}") from e

"""screenstate: zero-shot screen-state classification for process automation.

    from screenstate import ClassSpec, ScreenClassifier
    clf = ScreenClassifier(ClassSpec.from_json("configs/demo_states.json"))
    clf.classify("frame.png").pred

Heavy modules (torch, models) load on first use, so ``import screenstate`` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from screenstate.errors import (
    InvalidImageError,
    ModelNotAvailableError,
    ScreenstateError,
    SpecError,
    StateTimeoutError,
    UnknownNameError,
)
from screenstate.schema import ClassSpec, DetectorSpec

__version__ = "0.1.0"

_LAZY = {
    "ScreenClassifier": "screenstate.classify",
    "ClassificationResult": "screenstate.results",
    "EncoderOptions": "screenstate.embeddings.factory",
    "create_encoder": "screenstate.embeddings.factory",
    "list_encoders": "screenstate.embeddings.factory",
    "StateChecker": "screenstate.checker",
    "StateResult": "screenstate.checker",
    "ScreenDetector": "screenstate.detect",
    "Detection": "screenstate.detect",
    "ask": "screenstate.asking",
    "Answer": "screenstate.asking",
}

if TYPE_CHECKING:
    from screenstate.asking import Answer, ask
    from screenstate.checker import StateChecker, StateResult
    from screenstate.classify import ScreenClassifier
    from screenstate.detect import Detection, ScreenDetector
    from screenstate.embeddings.factory import EncoderOptions, create_encoder, list_encoders
    from screenstate.results import ClassificationResult


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'screenstate' has no attribute {name!r}")


__all__ = [
    "Answer",
    "ClassSpec",
    "Detection",
    "ScreenDetector",
    "StateChecker",
    "StateResult",
    "ask",
    "ClassificationResult",
    "DetectorSpec",
    "EncoderOptions",
    "InvalidImageError",
    "ModelNotAvailableError",
    "ScreenClassifier",
    "ScreenstateError",
    "SpecError",
    "StateTimeoutError",
    "UnknownNameError",
    "create_encoder",
    "list_encoders",
]

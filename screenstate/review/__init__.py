"""Review page: look at a classified recording, correct it, and the corrections become
exemplars (``screenstate review --root REC --classes C.json``)."""

from __future__ import annotations

from screenstate.review.classfile import ClassFile, LabelChange, NothingToUndoError
from screenstate.review.session import ReviewFrame, ReviewSession, Segment

__all__ = ["ClassFile", "LabelChange", "NothingToUndoError", "ReviewFrame", "ReviewSession", "Segment"]

"""Read a screen's pictograms as words: candidate crops -> ONNX encoder -> the nearest icon name.

The shipped encoder (``weights/pictograms.onnx``, trained by :mod:`train`) maps a 32x32 crop
into the sentence space of all-MiniLM-L6-v2; ``weights/labels.npz`` holds the training
icons' names with their sentence embeddings and a learned "not an icon" vector. A crop is
read as the name with the highest cosine; it counts when the softmax over all names and
"none" (temperature :data:`~screenstate.pictograms.train.TAU`) gives "none" less than
:data:`MAX_NONE` and the best name at least :data:`MIN_COS`. The result is a text line
``"icon: dialog warning"`` with the icon's box, so the text channel scores it against
class descriptions like any line it read. Runs with onnxruntime (already installed with
rapidocr); no torch needed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from screenstate.embeddings.ocr import TextLine
from screenstate.errors import ModelNotAvailableError
from screenstate.pictograms.candidates import find_candidates
from screenstate.screen.windows import Box

#: how an icon line starts ("icon: dialog warning"); a format marker, not a word on the
#: screen, so the text channel leaves it out of the screen's words
PREFIX = "icon: "

WEIGHTS = Path(__file__).with_name("weights")
#: softmax temperature the encoder was trained with
TAU = 0.05
#: a crop is an icon when "none" gets less than this share of the softmax
MAX_NONE = 0.5
#: and its best name at least this cosine
MIN_COS = 0.5
#: at most this many icon lines per screen, the most confident first
MAX_LINES = 8


@dataclass(frozen=True)
class Pictogram:
    """A pictogram read on a screen: box in pixels, name, cosine to the name, P(icon)."""

    box: tuple[int, int, int, int]
    name: str
    similarity: float
    p_icon: float

    def line(self) -> TextLine:
        """The text line the text channel reads: ``icon: <name>`` with the icon's box."""
        x0, y0, x1, y1 = self.box
        return TextLine((float(x0), float(y0), float(x1), float(y1)), PREFIX + self.name, round(self.p_icon, 4))


class PictogramReader:
    """Finds and names the pictograms of a screen (see the module docstring)."""

    def __init__(self, weights: Path = WEIGHTS, threads: int = 1) -> None:
        onnx, labels = weights / "pictograms.onnx", weights / "labels.npz"
        if not onnx.is_file() or not labels.is_file():
            raise ModelNotAvailableError(
                f"pictogram encoder not found under {weights}: expected pictograms.onnx and labels.npz "
                "(they ship with screenstate; retrain with python -m screenstate.pictograms.train)"
            )
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx), opts, providers=["CPUExecutionProvider"])
        z = np.load(labels)
        self.names: list[str] = z["labels"].tolist()
        self.protos = np.concatenate([z["embeddings"].astype(np.float32), z["none"][None].astype(np.float32)])

    @property
    def model_id(self) -> str:
        return f"pictograms:{_digest(WEIGHTS)}:{MAX_NONE}:{MIN_COS}:{MAX_LINES}"

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """[n, 32, 32, 3] uint8 -> [n, D] unit vectors, one batch."""
        x = crops.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        return self.session.run(None, {"crops": x})[0]

    def read(self, image: Image.Image, text_lines: list[TextLine], window: Box | None = None) -> list[Pictogram]:
        """Confident pictograms of ``image``, best first (at most :data:`MAX_LINES`)."""
        from screenstate.embeddings.textnorm import is_text

        cands = find_candidates(image, [ln.box for ln in text_lines if is_text(ln.text)], window)
        if not cands:
            return []
        emb = self.embed(np.stack([c.crop for c in cands]))
        sims = emb @ self.protos.T  # [n, L + 1]
        z = sims / TAU
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        best = sims[:, :-1].argmax(1)
        out = []
        for c, b, s, pn in zip(cands, best.tolist(), sims[np.arange(len(cands)), best].tolist(), p[:, -1].tolist()):
            if pn < MAX_NONE and s >= MIN_COS:
                out.append(Pictogram(c.box, self.names[b], round(float(s), 4), 1.0 - float(pn)))
        out.sort(key=lambda q: -q.similarity)
        return out[:MAX_LINES]

    def lines(self, image: Image.Image, text_lines: list[TextLine], window: Box | None = None) -> list[TextLine]:
        """:meth:`read` as text lines for the text channel."""
        return [q.line() for q in self.read(image, text_lines, window)]


@functools.lru_cache(maxsize=4)
def _digest(weights: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    for name in ("pictograms.onnx", "labels.npz"):
        f = weights / name
        h.update(f.read_bytes() if f.is_file() else b"")
    return h.hexdigest()[:12]

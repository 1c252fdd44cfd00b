"""Screen OCR on rapidocr's ONNX models (they ship inside the ``rapidocr_onnxruntime`` wheel).

We drive rapidocr's detector and recogniser ourselves because screens differ from the
photos its defaults are tuned for (measured in ``benchmarks/run.py text_channel_latency``):

- detection runs on a copy downscaled to ``det_max_side`` (UI text is dense, horizontal
  and high-contrast; the detector finds it at ~1280 px as well as at full size);
- recognition crops come from the *full-resolution* image, so small text stays sharp;
- text is horizontal on screens, so the angle classifier is skipped and crops are plain
  axis-aligned slices (no perspective warp);
- crops narrower than ``min_rec_width`` are padded only to that width instead of
  rapidocr's 320 px, and batches group crops of similar width, which is where most of
  the recogniser's time went.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class TextLine:
    """One recognised line: pixel box (x0, y0, x1, y1) in the original image, text, confidence."""

    box: tuple[float, float, float, float]
    text: str
    confidence: float


@dataclass(frozen=True)
class OcrOptions:
    """OCR settings; the defaults are the measured speed/accuracy trade-off."""

    det_max_side: int = 1280
    min_rec_width: int = 96
    rec_batch: int = 8
    min_confidence: float = 0.5
    min_box_height: int = 6
    threads: int = 0  # 0 = onnxruntime default (all cores)


class ScreenOCR:
    """Detect and recognise text lines on a screenshot (thread-safe, lazily loaded)."""

    def __init__(self, options: OcrOptions | None = None) -> None:
        self.options = options or OcrOptions()
        self._lock = threading.Lock()
        self._det: Any = None
        self._rec: Any = None

    def _load(self) -> None:
        if self._det is not None:
            return
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as e:  # pragma: no cover - dependency is required
            raise ImportError("the text channel needs rapidocr: pip install rapidocr_onnxruntime") from e
        o = self.options
        kw: dict[str, Any] = {
            "use_cls": False,
            "rec_batch_num": o.rec_batch,
            "rec_img_shape": [3, 48, o.min_rec_width],
            "det_limit_type": "max",
            "det_limit_side_len": o.det_max_side,
        }
        if o.threads:
            kw["intra_op_num_threads"] = o.threads
        engine = RapidOCR(**kw)
        self._det, self._rec = engine.text_det, engine.text_rec

    def __call__(self, img: Image.Image) -> list[TextLine]:
        """Text lines of an RGB image, top-to-bottom then left-to-right."""
        with self._lock:
            self._load()
            return self._run(img)

    def _run(self, img: Image.Image) -> list[TextLine]:
        o = self.options
        full = np.asarray(img, dtype=np.uint8)[:, :, ::-1]  # RGB -> BGR, as the models expect
        h, w = full.shape[:2]
        scale = min(1.0, o.det_max_side / max(w, h))
        if scale < 1.0:
            small = img.resize((max(32, round(w * scale)), max(32, round(h * scale))), Image.Resampling.BILINEAR)
            det_in = np.asarray(small, dtype=np.uint8)[:, :, ::-1]
        else:
            det_in = full
        sx, sy = w / det_in.shape[1], h / det_in.shape[0]
        boxes, _ = self._det(np.ascontiguousarray(det_in))
        if boxes is None or len(boxes) == 0:
            return []
        rects: list[tuple[int, int, int, int]] = []
        crops: list[np.ndarray] = []
        for quad in boxes:
            x0 = int(max(0, np.floor(quad[:, 0].min() * sx)))
            x1 = int(min(w, np.ceil(quad[:, 0].max() * sx)))
            y0 = int(max(0, np.floor(quad[:, 1].min() * sy)))
            y1 = int(min(h, np.ceil(quad[:, 1].max() * sy)))
            if y1 - y0 < o.min_box_height or x1 - x0 < 4:
                continue
            rects.append((x0, y0, x1, y1))
            crops.append(np.ascontiguousarray(full[y0:y1, x0:x1]))
        if not crops:
            return []
        results, _ = self._rec(crops)
        lines = [
            TextLine(tuple(float(v) for v in r), str(text).strip(), float(conf))  # type: ignore[arg-type]
            for r, (text, conf, *_) in zip(rects, results)
            if str(text).strip() and float(conf) >= o.min_confidence
        ]
        lines.sort(key=lambda ln: (round(ln.box[1] / 8), ln.box[0]))
        return lines

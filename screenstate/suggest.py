"""States suggested from a recording: cluster its frames by how they look and what they say.

    s = suggest_states("recording/", max_states=12)      # frames -> clusters
    write_suggestions(s, "recording.states/")             # per cluster: frames, thumbnail, words
    label_cluster("states.json", "recording.states/cluster_03", "login_page")   # name one

Two frames are alike by the mean of their ``visual`` similarity (appearance of the screen
and its foreground window, calibrated so unrelated screens score 0) and their ``text``
similarity (OCR lines compared as the text channel compares exemplars). Frames are
grouped by average-linkage agglomerative clustering on ``1 - similarity``, cut where
clusters stop being alike (an optional ``threshold``) or at ``max_states`` clusters,
whichever gives fewer; without a threshold, the number of clusters with the best silhouette (how much
closer frames are to their own cluster than to the next) up to ``max_states``. Identical
frames are one point. Each cluster keeps a representative (the frame
most like the others), a few diverse exemplars (farthest-first) and the words its frames
show far more often than the rest of the recording (tf-idf over clusters).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from screenstate.embeddings.features import ScreenFeatures
from screenstate.errors import ScreenstateError

if TYPE_CHECKING:
    from screenstate.embeddings.text import TextFeatures
    from screenstate.embeddings.visual import VisualFeatures

#: most clusters tried when no ``max_states`` is given
MAX_STATES = 40
#: exemplars kept per cluster (the representative first, then the most different frames)
EXEMPLARS = 3
#: distinctive words listed per cluster
WORDS = 8
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)


@dataclass(frozen=True)
class Cluster:
    """One suggested state: its frames (recording order), representative and words."""

    id: int
    frames: tuple[Path, ...]
    representative: Path
    exemplars: tuple[Path, ...]
    words: tuple[str, ...]


@dataclass(frozen=True)
class Suggestions:
    """Clusters of a recording, largest first."""

    root: Path
    clusters: tuple[Cluster, ...]

    def labels(self) -> dict[Path, int]:
        """Cluster id of every frame."""
        return {f: c.id for c in self.clusters for f in c.frames}


def _visual(f: ScreenFeatures) -> VisualFeatures:
    if f.visual is None:
        raise ValueError("frame_similarity: features lack the visual channel; encode with a visual+text encoder")
    return f.visual


def _text(f: ScreenFeatures) -> TextFeatures:
    if f.text is None:
        raise ValueError("frame_similarity: features lack the text channel; encode with a visual+text encoder")
    return f.text


def frame_similarity(features: list[ScreenFeatures]) -> np.ndarray:
    """Pairwise similarity of frames in [0, 1], float [n, n]: mean of calibrated visual
    cosine and the text channel's screen similarity (frames without text compare by looks)."""
    from screenstate.embeddings.text import TextChannel
    from screenstate.embeddings.visual import FLOOR

    n = len(features)
    vec = np.stack([_visual(f).vector for f in features])
    vis = np.clip((vec @ vec.T - FLOOR) / (1.0 - FLOOR), 0.0, 1.0)
    txt = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(i, n):
            a, b = _text(features[i]), _text(features[j])
            if a.lines and b.lines:
                s = 0.5 * (TextChannel._screen_similarity(a, b) + TextChannel._screen_similarity(b, a))
                txt[i, j] = txt[j, i] = s
    sim = np.where(np.isnan(txt), vis, 0.5 * (vis + np.nan_to_num(txt)))
    np.fill_diagonal(sim, 1.0)
    return sim


def cluster_similarity(sim: np.ndarray, max_states: int | None = None, threshold: float | None = None) -> np.ndarray:
    """Cluster labels (0..k-1) by average linkage on ``1 - sim``. With ``threshold``, cut
    where clusters are less alike than that (at most ``max_states`` clusters); without,
    take the number of clusters from 2 to ``max_states`` (default ``MAX_STATES``) with
    the best silhouette, a cut that needs no similarity scale."""
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import silhouette_score

    n = sim.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    dist = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(dist, 0.0)
    cap = min(n, max_states or MAX_STATES)

    def cut(k: int) -> np.ndarray:
        return AgglomerativeClustering(n_clusters=k, metric="precomputed", linkage="average").fit_predict(dist)

    if threshold is not None:
        labels = AgglomerativeClustering(
            n_clusters=None, metric="precomputed", linkage="average", distance_threshold=1.0 - threshold
        ).fit_predict(dist)
        return (labels if labels.max() + 1 <= cap else cut(cap)).astype(np.int64)
    if cap < 3 or n < 4:
        return cut(cap).astype(np.int64)
    best, best_score = cut(2), -2.0
    for k in range(2, min(cap, n - 1) + 1):
        labels = cut(k)
        score = float(silhouette_score(dist, labels, metric="precomputed"))
        if score > best_score + 1e-9:
            best, best_score = labels, score
    return best.astype(np.int64)


def _farthest_first(sim: np.ndarray, members: list[int], k: int) -> list[int]:
    """The member most like the others, then members least like those already chosen."""
    sub = sim[np.ix_(members, members)]
    chosen = [int(sub.mean(1).argmax())]
    while len(chosen) < min(k, len(members)):
        nearest = sub[:, chosen].max(1)
        nearest[chosen] = np.inf
        nxt = int(nearest.argmin())
        if nearest[nxt] >= 0.999:  # the rest are duplicates
            break
        chosen.append(nxt)
    return [members[c] for c in chosen]


def _distinctive_words(texts: list[str], labels: np.ndarray, k: int) -> dict[int, tuple[str, ...]]:
    """Per cluster, words in most of its frames and in few other clusters (tf-idf)."""
    n_cl = int(labels.max()) + 1
    frame_words = [set(w.lower() for w in _WORD.findall(t)) for t in texts]
    per_cluster = [Counter(w for i in np.flatnonzero(labels == c) for w in frame_words[i]) for c in range(n_cl)]
    df = Counter(w for cnt in per_cluster for w in cnt)
    out = {}
    for c, cnt in enumerate(per_cluster):
        size = int((labels == c).sum())
        score = {w: (m / size) * math.log((n_cl + 1) / df[w]) for w, m in cnt.items() if m / size >= 0.5}
        out[c] = tuple(sorted(score, key=lambda w: (-score[w], w))[:k])
    return out


def suggest_states(
    root: str | Path,
    max_states: int | None = None,
    threshold: float | None = None,
    cache: str | Path | None = None,
) -> Suggestions:
    """Cluster the frames under ``root`` (a flat recording or a labeled layout) into
    candidate states with the offline ``visual+text`` encoder."""
    from screenstate.embeddings.factory import EncoderOptions, create_encoder
    from screenstate.embeddings.store import FeatureStore, load_with_hash
    from screenstate.recordings import open_recording

    if max_states is not None and max_states < 1:
        raise ScreenstateError(f"--max-states: must be at least 1, got {max_states}")
    root = Path(root)
    source = open_recording(root)
    if source.kind not in ("folder", "flow"):  # clustering reads frame files
        raise ScreenstateError(f"{root}: suggest reads image folders; this is a {source.kind} recording")
    frames = list(source.frames())
    if not frames:
        raise ScreenstateError(f"{root}: no frames found (expected image files, or <state>/ folders of them)")
    paths = [f.path for f in frames if f.path is not None]
    store = FeatureStore(create_encoder("visual+text", EncoderOptions()), disk=cache)
    loaded = [load_with_hash(p, lazy=True) for p in paths]
    distinct: dict[str, int] = {}
    for li in loaded:
        distinct.setdefault(li.content_hash, len(distinct))
    firsts = {h: next(li for li in loaded if li.content_hash == h) for h in distinct}
    feats = store.features(list(firsts.values()))
    sim = frame_similarity(feats)
    point_labels = cluster_similarity(sim, max_states, threshold)
    labels = np.array([point_labels[distinct[li.content_hash]] for li in loaded])
    point_of = np.array([distinct[li.content_hash] for li in loaded])
    texts = [_text(feats[p]).text for p in point_of]
    words = _distinctive_words(texts, labels, WORDS)
    clusters = []
    for c in range(int(labels.max()) + 1):
        members = [int(i) for i in np.flatnonzero(labels == c)]
        points = sorted({int(point_of[i]) for i in members})
        picks = _farthest_first(sim, points, EXEMPLARS)
        first_frame = {int(point_of[i]): paths[i] for i in reversed(members)}
        exemplars = tuple(first_frame[p] for p in picks)
        clusters.append(Cluster(0, tuple(paths[i] for i in members), exemplars[0], exemplars, words[c]))
    clusters.sort(key=lambda c: (-len(c.frames), str(c.frames[0])))
    return Suggestions(root, tuple(Cluster(i, *_fields(c)) for i, c in enumerate(clusters)))


def _fields(c: Cluster) -> tuple:  # type: ignore[type-arg]
    return (c.frames, c.representative, c.exemplars, c.words)


def write_suggestions(s: Suggestions, out: str | Path, thumb_side: int = 480) -> Path:
    """Write ``out/cluster_NN/`` (its frames, ``thumbnail.png``, ``cluster.json``) and
    ``out/suggestions.json``; returns the summary file."""
    from PIL import Image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = []
    for c in s.clusters:
        d = out / f"cluster_{c.id:02d}"
        if d.exists():
            shutil.rmtree(d)
        (d / "frames").mkdir(parents=True)
        for f in c.frames:
            shutil.copyfile(f, d / "frames" / _flat_name(f, s.root))
        with Image.open(c.representative) as im:
            thumb = im.convert("RGB")
            thumb.thumbnail((thumb_side, thumb_side))
            thumb.save(d / "thumbnail.png")
        meta = {
            "id": c.id,
            "frames": [str(f) for f in c.frames],
            "representative": str(c.representative),
            "exemplars": [str(f) for f in c.exemplars],
            "words": list(c.words),
        }
        (d / "cluster.json").write_text(json.dumps(meta, indent=1) + "\n")
        summary.append({**meta, "dir": d.name, "size": len(c.frames)})
    path = out / "suggestions.json"
    path.write_text(json.dumps({"root": str(s.root), "clusters": summary}, indent=1) + "\n")
    return path


def _flat_name(f: Path, root: Path) -> str:
    try:
        return "__".join(f.relative_to(root).parts)
    except ValueError:
        return f.name


def load_cluster(directory: str | Path) -> Cluster:
    """A cluster written by :func:`write_suggestions` (its ``cluster.json``)."""
    p = Path(directory) / "cluster.json"
    try:
        meta = json.loads(p.read_text())
        return Cluster(
            int(meta["id"]),
            tuple(Path(f) for f in meta["frames"]),
            Path(meta["representative"]),
            tuple(Path(f) for f in meta["exemplars"]),
            tuple(meta["words"]),
        )
    except FileNotFoundError as e:
        raise ScreenstateError(
            f"{directory}: not a suggested cluster (no cluster.json); run `screenstate suggest` first"
        ) from e
    except (ValueError, KeyError, TypeError) as e:
        raise ScreenstateError(f"{p}: unreadable cluster file ({e}); run `screenstate suggest` again") from e


def label_cluster(
    classes: str | Path, cluster_dir: str | Path, class_name: str, negative: bool = False, describe: str | None = None
) -> list[Path]:
    """Name a suggested cluster: its exemplars become image examples of ``class_name``
    (the class and the class file are created when missing; ``describe`` adds a text
    example). Returns the exemplar files copied next to the class file."""
    from screenstate.exemplars import add_exemplar, ensure_class

    cluster = load_cluster(cluster_dir)
    missing = [f for f in cluster.exemplars if not f.is_file()]
    if missing:
        raise ScreenstateError(f"{cluster_dir}: exemplar frames are gone: {', '.join(map(str, missing))}")
    ensure_class(classes, class_name, cluster.exemplars[0], describe)
    return [add_exemplar(classes, f, class_name, negative=negative) for f in cluster.exemplars]

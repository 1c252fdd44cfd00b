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

import functools
import hashlib
import json
import math
import os
import re
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from screenstate.atomic import atomic_write
from screenstate.embeddings.features import ScreenFeatures
from screenstate.errors import ScreenstateError

if TYPE_CHECKING:
    from screenstate.embeddings.feature_store import FeatureStore, LoadedImage
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
    """Clusters of a recording, largest first; ``skipped``: frames that could not be read
    (path, why), reported and left out of every cluster."""

    root: Path
    clusters: tuple[Cluster, ...]
    skipped: tuple[tuple[Path, str], ...] = ()

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
    from screenstate.embeddings.feature_store import FeatureStore
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
    store = FeatureStore(create_encoder("visual+text", EncoderOptions()), disk=cache)
    paths, loaded, skipped = _readable(store, [f.path for f in frames if f.path is not None])
    if not paths:
        why = "; ".join(f"{p}: {e}" for p, e in skipped[:3])
        raise ScreenstateError(f"{root}: none of its {len(skipped)} frames can be read ({why})")
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
    return Suggestions(root, tuple(Cluster(i, *_fields(c)) for i, c in enumerate(clusters)), tuple(skipped))


def _readable(store: FeatureStore, paths: list[Path]) -> tuple[list[Path], list[LoadedImage], list[tuple[Path, str]]]:
    """Frames that can be read and decoded (a frame whose features are cached is not
    decoded again), and the others with the reason."""
    from screenstate.embeddings.feature_store import load_with_hash

    ok: list[Path] = []
    loaded: list[LoadedImage] = []
    skipped: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for p in paths:
        try:
            li = load_with_hash(p, lazy=True)
            if li.content_hash not in seen and store.cached(li.content_hash) is None:
                li.image  # noqa: B018 - decode now: an unreadable frame is skipped here, not mid-encode
        except (ScreenstateError, OSError) as e:
            skipped.append((p, str(e)))
            continue
        seen.add(li.content_hash)
        ok.append(p)
        loaded.append(li)
    return ok, loaded, skipped


def _fields(c: Cluster) -> tuple:
    return (c.frames, c.representative, c.exemplars, c.words)


#: the summary file ``write_suggestions`` writes; it also lists every file a run wrote
SUMMARY = "suggestions.json"


def write_suggestions(s: Suggestions, out: str | Path, thumb_side: int = 480) -> Path:
    """Write ``out/cluster_NN/`` (its frames, ``thumbnail.png``, ``cluster.json``) and
    ``out/suggestions.json``; returns the summary file.

    A re-run into the same ``out`` replaces the clusters of the previous run (the files it
    wrote, listed in its summary; anything else in ``out`` stays), so no cluster of an
    earlier run is left to label. A ``cluster_NN`` folder that no run wrote is never
    touched: the run stops before writing anything. Paths in ``cluster.json`` are relative
    to the cluster folder (the folder and its recording can move together)."""
    from PIL import Image

    out = Path(out)
    if _inside(out, s.root):
        raise ScreenstateError(
            f"--out {out}: inside the recording {s.root}, which screenstate never writes into; choose a folder outside it"
        )
    previous = _previous_files(out)
    names = [f"cluster_{c.id:02d}" for c in s.clusters]
    foreign = [n for n in names if (out / n).exists() and n not in previous]
    if foreign:
        raise ScreenstateError(
            f"{out}: {', '.join(foreign)} not written by `screenstate suggest` (no {SUMMARY} lists it); "
            "nothing was written: move it away or give another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name, files in previous.items():
        _remove_own(out / name, files)
    run = hashlib.blake2b(f"{time.time_ns()} {out.resolve()}".encode(), digest_size=8).hexdigest()
    summary = []
    for c in s.clusters:
        d = out / f"cluster_{c.id:02d}"
        (d / "frames").mkdir(parents=True, exist_ok=True)
        copies = [f"frames/{_flat_name(f, s.root)}" for f in c.frames]
        for f, copy in zip(c.frames, copies):
            shutil.copyfile(f, d / copy)
        with Image.open(c.representative) as im:
            thumb = im.convert("RGB")
            thumb.thumbnail((thumb_side, thumb_side))
            thumb.save(d / "thumbnail.png")
        rel = functools.partial(_relative, d)
        meta = {
            "id": c.id,
            "run": run,
            "frames": [rel(f) for f in c.frames],
            "representative": rel(c.representative),
            "exemplars": [rel(f) for f in c.exemplars],
            "words": list(c.words),
        }
        atomic_write(d / "cluster.json", json.dumps(meta, indent=1) + "\n")
        files = ["cluster.json", "thumbnail.png", *copies]
        summary.append({**meta, "dir": d.name, "size": len(c.frames), "files": files})
    path = out / SUMMARY
    skipped = [{"frame": str(f), "error": e} for f, e in s.skipped]
    data = {"root": str(s.root), "run": run, "clusters": summary, "skipped": skipped}
    atomic_write(path, json.dumps(data, indent=1) + "\n")
    return path


def _inside(path: Path, root: Path) -> bool:
    a, b = path.resolve(), root.resolve()
    return a == b or b in a.parents


def _relative(directory: Path, f: Path) -> str:
    return Path(os.path.relpath(f.absolute(), directory.absolute())).as_posix()


def _previous_files(out: Path) -> dict[str, list[str]]:
    """cluster folder -> files the previous run wrote there (from its summary); an ``out``
    with a summary file that is not ours is refused."""
    p = out / SUMMARY
    if not p.is_file():
        return {}
    try:
        data = json.loads(p.read_text())
        root = Path(data["root"])
        return {
            c["dir"]: c.get("files")
            or ["cluster.json", "thumbnail.png", *(f"frames/{_flat_name(Path(f), root)}" for f in c["frames"])]
            for c in data["clusters"]
        }
    except (ValueError, KeyError, TypeError) as e:
        raise ScreenstateError(f"{p}: not a summary written by `screenstate suggest` ({e}); give another --out") from e


def _remove_own(d: Path, files: list[str]) -> None:
    """Delete the listed files of a previous run (and the folders they leave empty); only
    names a run writes (``cluster.json``, ``thumbnail.png``, ``frames/NAME``) are touched."""
    for f in files:
        parts = Path(f).parts
        if parts in (("cluster.json",), ("thumbnail.png",)) or (
            len(parts) == 2 and parts[0] == "frames" and parts[1] not in (".", "..")
        ):
            (d / f).unlink(missing_ok=True)
    for sub in (d / "frames", d):
        try:
            sub.rmdir()
        except OSError:
            pass  # not empty (files that are not ours) or already gone


def _flat_name(f: Path, root: Path) -> str:
    try:
        return "__".join(f.relative_to(root).parts)
    except ValueError:
        return f.name


def load_cluster(directory: str | Path) -> Cluster:
    """A cluster written by :func:`write_suggestions` (its ``cluster.json``; paths relative
    to the cluster folder). A cluster of an earlier run than its folder's summary is refused."""
    d = Path(directory)
    p = d / "cluster.json"

    def path(f: str) -> Path:
        return Path(os.path.normpath(d / f))

    try:
        meta = json.loads(p.read_text())
        cluster = Cluster(
            int(meta["id"]),
            tuple(path(f) for f in meta["frames"]),
            path(meta["representative"]),
            tuple(path(f) for f in meta["exemplars"]),
            tuple(meta["words"]),
        )
        summary = d.parent / SUMMARY
        run = json.loads(summary.read_text()).get("run") if summary.is_file() else None
    except FileNotFoundError as e:
        raise ScreenstateError(
            f"{directory}: not a suggested cluster (no cluster.json); run `screenstate suggest` first"
        ) from e
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ScreenstateError(f"{p}: unreadable cluster file ({e}); run `screenstate suggest` again") from e
    if run is not None and meta.get("run") != run:
        raise ScreenstateError(
            f"{directory}: a cluster of an earlier `screenstate suggest` run; use the current clusters"
        )
    return cluster


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

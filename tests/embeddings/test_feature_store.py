"""The feature store: content hash -> memory -> disk -> encode (only what is missing)."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from screenstate.embeddings.encoder import Encoder
from screenstate.embeddings.feature_store import FeatureStore, channel_model_ids, dumps_features, load_with_hash
from screenstate.embeddings.features import ScreenFeatures
from screenstate.embeddings.visual import VisualChannel


def _png(color, size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def _counting(monkeypatch, channel):
    """Count the images each call to ``channel.encode`` gets."""
    calls: list[int] = []
    real = channel.encode

    def encode(prepared):
        calls.append(len(prepared))
        return real(prepared)

    monkeypatch.setattr(channel, "encode", encode)
    return calls


def _same(a: ScreenFeatures, b: ScreenFeatures) -> None:
    assert a.names == b.names
    assert a.clip is not None and b.clip is not None
    torch.testing.assert_close(a.clip.views, b.clip.views, atol=2e-3, rtol=0)  # disk keeps float16


def test_memory_hit_encodes_once_and_needs_no_disk(tiny_clip_encoder, monkeypatch):
    store = FeatureStore(tiny_clip_encoder, disk=None, memory=4)
    calls = _counting(monkeypatch, tiny_clip_encoder.channels[0])
    img = _png((1, 2, 3))
    first = store.features([load_with_hash(img, lazy=True)])[0]
    again = store.features([load_with_hash(img, lazy=True), load_with_hash(img, lazy=True)])
    assert calls == [1] and store.encodes == 1 and store.memory.hits >= 2
    assert again[0] is first and again[1] is first


def test_disk_hit_in_a_new_store_encodes_nothing_and_never_decodes(tiny_clip_encoder, tmp_path, monkeypatch):
    img = _png((4, 5, 6))
    want = FeatureStore(tiny_clip_encoder, disk=tmp_path).features([load_with_hash(img)])[0]
    calls = _counting(monkeypatch, tiny_clip_encoder.channels[0])
    fresh = FeatureStore(tiny_clip_encoder, disk=tmp_path)
    li = load_with_hash(img, lazy=True)
    got = fresh.features([li])[0]
    assert calls == [] and fresh.encodes == 0 and fresh.disk is not None and fresh.disk.hits == 1
    assert li._image is None  # stored features: the upload is never decoded
    _same(got, want)


def test_partial_channel_miss_encodes_only_the_missing_channel(tiny_clip_encoder, tmp_path, monkeypatch):
    clip = tiny_clip_encoder.channels[0]
    img = _png((7, 8, 9))
    only_clip = FeatureStore(tiny_clip_encoder, disk=tmp_path).features([load_with_hash(img)])[0]
    visual = VisualChannel()
    both = Encoder("clip+visual", [clip, visual])
    clip_calls, visual_calls = _counting(monkeypatch, clip), _counting(monkeypatch, visual)
    store = FeatureStore(both, disk=tmp_path)
    got = store.features([load_with_hash(img, lazy=True)])[0]
    assert clip_calls == [] and visual_calls == [1]  # the visual channel joined: CLIP is not re-run
    assert got.names == ("clip", "visual")
    torch.testing.assert_close(got.clip.views, only_clip.clip.views, atol=2e-3, rtol=0)
    # both channels are stored now: a third store encodes nothing
    third = FeatureStore(both, disk=tmp_path)
    assert third.cached(load_with_hash(img).content_hash) is not None and third.encodes == 0


def test_damaged_entry_heals(tiny_clip_encoder, tmp_path):
    img = _png((10, 11, 12))
    li = load_with_hash(img)
    want = FeatureStore(tiny_clip_encoder, disk=tmp_path).features([li])[0]
    (entry,) = tmp_path.rglob(f"{li.content_hash}.bin")
    entry.write_bytes(entry.read_bytes()[:10])  # a truncated copy
    healing = FeatureStore(tiny_clip_encoder, disk=tmp_path)
    got = healing.features([load_with_hash(img)])[0]
    assert healing.encodes == 1 and healing.disk is not None and healing.disk.healed == 1
    _same(got, want)
    healed = FeatureStore(tiny_clip_encoder, disk=tmp_path)
    assert healed.cached(li.content_hash) is not None and healed.disk is not None and healed.disk.healed == 0


def test_a_changed_file_is_not_served_stale(tiny_clip_encoder, tmp_path):
    frame = tmp_path / "frame.png"
    store = FeatureStore(tiny_clip_encoder, disk=tmp_path / "cache")
    frame.write_bytes(_png((250, 0, 0)))
    red = store.features([load_with_hash(frame, lazy=True)])[0]
    frame.write_bytes(_png((0, 0, 250)))  # same path, new content
    blue = store.features([load_with_hash(frame, lazy=True)])[0]
    assert store.encodes == 2
    assert not torch.allclose(red.clip.views, blue.clip.views, atol=1e-3)
    want = FeatureStore(tiny_clip_encoder).features([load_with_hash(_png((0, 0, 250)))])[0]
    _same(blue, want)


def test_features_cross_processes_as_bytes(tiny_clip_encoder, tmp_path):
    """What a Ray actor returns (bytes per channel) is stored by the driver and decodes
    to the features a local encode gives."""
    img = _png((13, 14, 15))
    local = FeatureStore(tiny_clip_encoder).features([load_with_hash(img)])[0]
    blobs = dumps_features(tiny_clip_encoder, local)
    driver = FeatureStore(tiny_clip_encoder, disk=tmp_path)
    h = load_with_hash(img).content_hash
    _same(driver.put_serialized(h, blobs), local)
    assert channel_model_ids(tiny_clip_encoder) == tiny_clip_encoder.channels[0].model_id
    _same(FeatureStore(tiny_clip_encoder, disk=tmp_path).cached(h), local)
    with pytest.raises(ValueError, match="expected 1 feature blobs"):
        driver.put_serialized(h, blobs * 2)


def test_classifiers_can_share_one_store(tiny_clip_encoder):
    from screenstate import ScreenClassifier

    store = FeatureStore(tiny_clip_encoder)
    spec = {"classifier_configs": [{"name": "a", "examples_to_include": ["a dark screen"]}]}
    one = ScreenClassifier(spec, store=store)
    two = ScreenClassifier({"classifier_configs": [{"name": "b", "examples_to_include": ["x"]}]}, store=store)
    one.classify(_png((20, 20, 20)))
    two.classify(_png((20, 20, 20)))
    assert one.store is two.store is store and store.encodes == 1


def test_example_text_embeddings_persist_on_disk(tiny_clip_encoder, tmp_path, monkeypatch):
    """CLIP's prompt-ensembled example embeddings go to the disk cache and a fresh process
    (an empty in-memory LRU) reads them back instead of running the text model."""
    from screenstate.schema import Column

    clip = tiny_clip_encoder.clip
    cols = [Column(0, False, "a login page", None, "p0"), Column(1, False, "an error dialog", None, "p1")]
    clip.text_embeddings.clear()
    want = FeatureStore(tiny_clip_encoder, disk=tmp_path).encode_examples(cols, augment=True)
    clip.text_embeddings.clear()  # as in a new process
    runs: list[int] = []
    real = clip._encode_tokens
    monkeypatch.setattr(clip, "_encode_tokens", lambda tokens: runs.append(len(tokens)) or real(tokens))
    got = FeatureStore(tiny_clip_encoder, disk=tmp_path).encode_examples(cols, augment=True)
    assert runs == []  # read from disk, not re-encoded
    torch.testing.assert_close(got.clip.text, want.clip.text, atol=2e-3, rtol=0)  # disk keeps float16
    assert got.clip.image is None and bool(got.clip.is_text.all())

"""The on-disk feature cache heals: a damaged entry is a miss, deleted and encoded again."""

from __future__ import annotations

import io
import logging
import stat

import pytest
from PIL import Image

from screenstate import ClassSpec, ScreenClassifier
from screenstate.embeddings.cache import FeatureCache

SPEC = {
    "classifier_configs": [
        {"name": "red", "examples_to_include": ["a red screen"]},
        {"name": "blue", "examples_to_include": ["a blue screen"]},
    ]
}


def _png(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buf, "PNG")
    return buf.getvalue()


def _entries(root):
    return sorted(p for p in root.rglob("*.bin"))


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage"])
def test_damaged_entry_is_a_miss_deleted_reencoded_and_logged_once(tmp_path, tiny_clip_encoder, caplog, damage):
    img_a, img_b = _png((200, 0, 0)), _png((0, 0, 200))
    first = ScreenClassifier(ClassSpec.from_dict(SPEC), encoder=tiny_clip_encoder, cache=tmp_path, memory_cache=0)
    want = [first.classify(img_a), first.classify(img_b)]
    for p in _entries(tmp_path):
        data = p.read_bytes()
        p.write_bytes({"truncate": data[: len(data) // 2], "empty": b"", "garbage": b"PK\x03\x04junk"}[damage])
    assert len(_entries(tmp_path)) >= 2
    again = ScreenClassifier(ClassSpec.from_dict(SPEC), encoder=tiny_clip_encoder, cache=tmp_path, memory_cache=0)
    with caplog.at_level(logging.WARNING, logger="screenstate"):
        got = [again.classify(img_a), again.classify(img_b)]
    assert [g.raw_scores for g in got] == [pytest.approx(w.raw_scores, abs=1e-5) for w in want]
    assert again.image_encodes == 2  # both re-encoded instead of crashing with BadZipFile
    assert again.cache.healed >= 2
    warnings = [r for r in caplog.records if "damaged entry" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not once per entry
    # healed: a third classifier reads the rewritten entries without encoding
    third = ScreenClassifier(ClassSpec.from_dict(SPEC), encoder=tiny_clip_encoder, cache=tmp_path, memory_cache=0)
    third.classify(img_a)
    assert third.image_encodes == 0 and third.cache.healed == 0


def test_entries_are_world_readable_and_complete(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.put("model", "ab" * 16, b"x" * 1000)
    (entry,) = _entries(tmp_path)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o644
    assert entry.read_bytes() == b"x" * 1000
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_load_of_missing_entry_is_a_plain_miss(tmp_path):
    cache = FeatureCache(tmp_path)
    assert cache.load("model", "cd" * 16, lambda b: b) is None
    assert cache.misses == 1 and cache.healed == 0

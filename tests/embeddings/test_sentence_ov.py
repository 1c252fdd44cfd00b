"""The sentence model as an OpenVINO graph built from its safetensors (``sentence_ov``): the
vectors of sentence-transformers without torch or transformers, built once per machine, and
calls from several threads at once that give the vectors of one call at a time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from screenstate.embeddings import sentence_ov
from screenstate.embeddings.cache import set_cache_root
from screenstate.embeddings.sentence import SentenceEncoder, resolve_sentence_model

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "Sign in", "Forgot your password?", "File  Edit  View  Help", "OK", "", "  ", "warning " * 400,
    "An error occurred while saving C:\\Users\\ann\\report.docx", "12:45 PM", "Ünïcödé café naïve",
    "日本語のテキスト", "Cancel | Apply | Close", "https://example.com/login?next=%2Fhome", "x" * 300,
    "Are you sure you want to delete 3 files?", "404 - Page not found",
]  # fmt: skip


@pytest.fixture
def model_dir(tmp_path):
    set_cache_root(tmp_path)
    return resolve_sentence_model("all-MiniLM-L6-v2")


def test_the_graph_gives_sentence_transformers_vectors(model_dir):
    st = pytest.importorskip("sentence_transformers")  # the dev extra: the reference, not the runtime
    got = sentence_ov.OpenVinoSentence(model_dir, 256).encode(TEXTS, batch_size=5)
    ref_model = st.SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    ref_model.max_seq_length = 256
    ref = ref_model.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=True)
    assert got.shape == (len(TEXTS), 384) and got.dtype == np.float32
    cos = (got * ref).sum(axis=1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
    assert float(cos.min()) >= 0.9999
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)


def test_built_once_per_machine(model_dir, monkeypatch):
    first = sentence_ov.OpenVinoSentence(model_dir, 256).encode(TEXTS[:4])
    assert sentence_ov.ir_path(model_dir).is_file()
    monkeypatch.setattr(sentence_ov, "build", lambda *a: (_ for _ in ()).throw(AssertionError("built again")))
    assert np.array_equal(sentence_ov.OpenVinoSentence(model_dir, 256).encode(TEXTS[:4]), first)


NO_TORCH = """
import json, sys
class Block:  # imports fail as where the package is not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "sentence_transformers"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
from screenstate.embeddings import sentence_ov
from screenstate.embeddings.cache import set_cache_root
from screenstate.embeddings.sentence import resolve_sentence_model
set_cache_root(sys.argv[1])
path = resolve_sentence_model("all-MiniLM-L6-v2")
assert sentence_ov.supported(path)
vec = sentence_ov.OpenVinoSentence(path, 256).encode(sys.argv[2:])
print(json.dumps({"vec": vec.tolist(), "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def test_built_and_run_without_torch_or_transformers(model_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    cache = str(tmp_path / "fresh")
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, cache, *TEXTS[:3]], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not {"torch", "transformers", "sentence_transformers"} & set(out["modules"])
    assert (tmp_path / "fresh" / "sentence").is_dir()  # it built the IR there itself
    here = sentence_ov.OpenVinoSentence(model_dir, 256).encode(TEXTS[:3])
    assert np.allclose(np.array(out["vec"], dtype=np.float32), here, atol=1e-6)


def test_only_models_the_graph_reproduces_are_supported(model_dir, tmp_path):
    assert sentence_ov.supported(model_dir)
    for name, change in [
        ("config.json", {"model_type": "roberta"}),
        ("config.json", {"hidden_act": "gelu_new"}),
        ("config.json", {"position_embedding_type": "relative_key"}),
        ("1_Pooling/config.json", {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}),
    ]:
        dst = tmp_path / "copy"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(model_dir, dst, ignore=shutil.ignore_patterns("model.safetensors"))
        (dst / "model.safetensors").symlink_to(model_dir / "model.safetensors")
        assert sentence_ov.supported(dst)
        cfg = json.loads((dst / name).read_text())
        (dst / name).write_text(json.dumps({**cfg, **change}))
        assert not sentence_ov.supported(dst), change
    (dst / "model.safetensors").unlink()  # pytorch_model.bin alone would need torch to read
    assert not sentence_ov.supported(dst)


class _Meeting:
    """Infer requests whose calls must meet a second call inside ``infer``: a call that had
    to wait for the other's turn would break the barrier."""

    def __init__(self, request, barrier: threading.Barrier) -> None:
        self.request, self.barrier = request, barrier

    def infer(self, feeds):
        self.barrier.wait()
        return self.request.infer(feeds)


def _meeting(model: sentence_ov.OpenVinoSentence, timeout: float = 20) -> None:
    barrier = threading.Barrier(2, timeout=timeout)
    requests = [model._idle.get() for _ in range(model.lanes)]
    for r in requests:
        model._idle.put(_Meeting(r, barrier))


def _in_two_threads(fn, items: list[list[str]]) -> list:
    out: list = [None] * len(items)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            out[i] = fn(items[i])
        except BaseException as e:  # reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(items))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return out


def test_two_lanes_run_at_once_with_the_vectors_of_one_at_a_time(model_dir):
    one = sentence_ov.OpenVinoSentence(model_dir, 256, lanes=1)
    alone = [one.encode(TEXTS[:8]), one.encode(TEXTS[8:])]
    two = sentence_ov.OpenVinoSentence(model_dir, 256, lanes=2)
    _meeting(two)
    together = _in_two_threads(two.encode, [TEXTS[:8], TEXTS[8:]])
    assert all(np.array_equal(a, b) for a, b in zip(alone, together))


def test_one_lane_takes_turns(model_dir):
    one = sentence_ov.OpenVinoSentence(model_dir, 256, lanes=1)
    _meeting(one, timeout=2)  # one request: the second call waits for the first, which waits at the barrier
    with pytest.raises(AssertionError, match="BrokenBarrierError"):
        _in_two_threads(one.encode, [TEXTS[:2], TEXTS[2:4]])


def test_the_encoder_lets_two_requests_reach_the_model_at_once(model_dir):
    """What the service relies on (#29): the encoder's cache lock is not held while the model runs."""
    enc = SentenceEncoder()
    enc._load()
    assert isinstance(enc._model, sentence_ov.OpenVinoSentence) and enc._model.lanes >= 2
    _meeting(enc._model)
    together = _in_two_threads(enc.encode, [TEXTS[:8], TEXTS[8:]])
    alone = SentenceEncoder()  # a fresh cache: computes again, one call at a time
    for texts, got in zip([TEXTS[:8], TEXTS[8:]], together):
        assert np.array_equal(np.asarray(got), np.asarray(alone.encode(texts)))

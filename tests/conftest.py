"""Shared fixtures: tiny CLIP from a config, the real offline text channel, Ray once."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# caches (features, precision calibrations) go to a fresh directory, never the user's: the
# library's default root (set_cache_root, below), and SCREENSTATE_CACHE for the CLI and subprocesses
TEST_CACHE = tempfile.mkdtemp(prefix="screenstate-test-cache-")
os.environ["SCREENSTATE_CACHE"] = TEST_CACHE
atexit.register(shutil.rmtree, TEST_CACHE, ignore_errors=True)  # model exports: hundreds of MB

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# pyproject turns on --doctest-modules (screenstate's docstring examples run as tests); the
# conftest files here share one basename and hold no doctests, so they are not searched
collect_ignore_glob = ["conftest.py", "*/conftest.py"]

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def _test_cache_root():
    """Every test starts (and leaves) the library's default cache root at the test cache."""
    from screenstate.embeddings.cache import set_cache_root

    set_cache_root(TEST_CACHE)
    yield
    set_cache_root(TEST_CACHE)


TINY_CLIP = str(DATA / "tiny-clip.json")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def tiny_options():
    from screenstate.embeddings.factory import EncoderOptions

    return EncoderOptions(clip_model=TINY_CLIP, clip_pretrained="random", device="cpu", precision="fp32")


@pytest.fixture(scope="session")
def tiny_clip_encoder(tiny_options):
    from screenstate.embeddings.factory import create_encoder

    return create_encoder("clip", tiny_options)


@pytest.fixture(scope="session")
def text_encoder():
    from screenstate.embeddings.factory import EncoderOptions, create_encoder

    return create_encoder("text", EncoderOptions(device="cpu"))


@pytest.fixture(scope="session")
def small_spec(data_dir):
    from screenstate.schema import ClassSpec

    return ClassSpec.from_json(data_dir / "classes_small.json")


@pytest.fixture(scope="session")
def ray_session():
    import ray

    from screenstate.batch.ray_setup import init_ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    init_ray()
    yield
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_owl_model():
    """A tiny random OWL-ViT built from a config (no download)."""
    import torch
    from transformers import OwlViTConfig, OwlViTForObjectDetection

    layers = {"intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    cfg = OwlViTConfig(
        text_config={"vocab_size": 49408, "hidden_size": 32, "max_position_embeddings": 16, **layers},
        vision_config={"hidden_size": 32, "image_size": 64, "patch_size": 16, **layers},
        projection_dim=32,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return OwlViTForObjectDetection(cfg)


@pytest.fixture
def tiny_owl(tiny_owl_model):
    """OWL regions (top 10 patches) over the tiny model; a fresh one per test (it counts calls)."""
    from screenstate.embeddings.owl import OwlRegions

    return OwlRegions(model_obj=tiny_owl_model, device="cpu", top_k=10)


@pytest.fixture(scope="session")
def screens_dev() -> Path:
    """The dev set (tests/devset.py is the one place that says where), or skip naming where it looked."""
    from devset import MISSING, SCREENS_DEV

    if not SCREENS_DEV.is_dir():
        pytest.skip(MISSING)
    return SCREENS_DEV

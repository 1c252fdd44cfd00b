"""The service as users run it: ``screenstate serve`` as a real process on a free port, and
the Redis config store against a real ``redis-server`` started by the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLASSIFIER = {
    "classifier_configs": [
        {"name": "login_page", "examples_to_include": ["a login form with email and password fields"]},
        {"name": "error_dialog", "examples_to_include": ["an error message box with an OK button"]},
    ]
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(ok, timeout: float, proc: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if ok():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready after {timeout} s")


def stop(proc: subprocess.Popen) -> int:
    proc.terminate()
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def test_serve_as_a_process(tmp_path, data_dir):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "SCREENSTATE_API_KEY": "k1"}
    cmd = [sys.executable, "-m", "screenstate", "serve", "--port", str(port), "--encoder", "text"]
    proc = subprocess.Popen(
        [*cmd, "--store", str(tmp_path / "s.db")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200, 60, proc)
        key = {"X-API-Key": "k1"}  # from the environment variable the CLI documents
        assert httpx.post(f"{base}/deploy_classifier", json=CLASSIFIER).status_code == 401
        did = httpx.post(f"{base}/deploy_classifier", json=CLASSIFIER, headers=key).json()["deployed_id"]
        for name in ("login_page", "error_dialog"):
            r = httpx.post(
                f"{base}/classify?deployed_id={did}",
                files={"data": (f"{name}.png", (data_dir / f"{name}.png").read_bytes(), "image/png")},
                headers=key,
                timeout=120,
            )
            assert r.status_code == 200, r.text
            assert r.json()["pred"] == name
    finally:
        code = stop(proc)
    # SIGTERM: uvicorn shuts down cleanly, then re-raises the signal (exit -15)
    assert code in (0, -15) and "Finished server process" in (proc.stdout.read() if proc.stdout else "")
    # the deployed config outlives the process (started elsewhere: only --store can find it)
    (tmp_path / "elsewhere").mkdir()
    proc = subprocess.Popen(
        [*cmd, "--store", str(tmp_path / "s.db")],
        cwd=tmp_path / "elsewhere",
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: httpx.get(f"{base}/healthz").status_code == 200, 60, proc)
        r = httpx.get(f"{base}/model_config?deployed_id={did}", headers={"X-API-Key": "k1"})
        assert r.json()["classifier_configs"][0]["name"] == "login_page"
    finally:
        stop(proc)


@pytest.fixture
def redis_url(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed (Debian package redis-server; `make sysdeps` installs it)")
    pytest.importorskip("redis", reason="the redis client is missing: pip install redis")
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    try:
        wait_until(up, 20, proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)


def test_redis_store_keeps_configs_across_app_restarts(redis_url, tiny_clip_encoder):
    import redis
    from fastapi.testclient import TestClient

    from screenstate.server import create_app
    from screenstate.server.config_store import RedisStore, open_store

    assert isinstance(open_store(redis_url), RedisStore)
    c = TestClient(create_app(store=redis_url, encoder=tiny_clip_encoder))
    did = c.post("/deploy_classifier", json=CLASSIFIER).json()["deployed_id"]
    raw = redis.Redis.from_url(redis_url, decode_responses=True).get(f"screenstate:{did}")
    assert raw is not None and "login_page" in raw  # really in Redis, not in the process
    png = {"data": ("a.png", (Path(__file__).parents[1] / "data" / "login_page.png").read_bytes(), "image/png")}
    first = c.post(f"/classify?deployed_id={did}", files=png).json()
    # a new app (another process in production) sees the config and answers the same
    again = TestClient(create_app(store=redis_url, encoder=tiny_clip_encoder))
    assert again.get(f"/model_config?deployed_id={did}").json()["classifier_configs"][1]["name"] == "error_dialog"
    assert again.post(f"/classify?deployed_id={did}", files=png).json() == first
    # update in place through the second app; the first sees the update
    edited = {**CLASSIFIER, "deployed_id": did, "augment_examples": False}
    assert again.post("/deploy_classifier", json=edited).json() == {"deployed_id": did, "message": "Model updated."}
    assert c.get(f"/model_config?deployed_id={did}").json()["augment_examples"] is False
    assert c.get("/model_config?deployed_id=nope").status_code == 400

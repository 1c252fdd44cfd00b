"""server_load: a real uvicorn on 127.0.0.1 (bounded request count and time): requests/s
and p50/p95 latency of /classify with 1, 8 and 32 concurrent clients, with request
batching on and off (same run; ViT-B-32 random weights, fp32 so that every response can be
checked exactly: in bf16, batches of different sizes differ in the low bits). Every
response is checked against the Python API's raw scores (within 1e-4); errors are counted."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time

from common import DEV, dev_files, p
from PIL import Image
from run import result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(app):
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.05)
    return server, t, f"http://127.0.0.1:{port}"


async def _load(base: str, did: str, images: list[bytes], expected: list[str], clients: int, n: int):
    import httpx

    lat, errors, wrong = [], 0, 0
    sem = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(timeout=60) as http:

        async def one(i: int) -> None:
            nonlocal errors, wrong
            async with sem:
                t = time.perf_counter()
                try:
                    r = await http.post(
                        f"{base}/classify",
                        params={"deployed_id": did},
                        files={"data": ("f.png", images[i % len(images)], "image/png")},
                    )
                    lat.append(time.perf_counter() - t)
                    if r.status_code != 200:
                        errors += 1
                    else:
                        want = expected[i % len(images)]
                        got = r.json()["raw_scores"]
                        if max(abs(got[k] - want[k]) for k in want) > 1e-4:
                            wrong += 1
                except httpx.HTTPError:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), timeout=300)
        wall = time.perf_counter() - t0
    return n / wall, lat, errors, wrong


def run(quick: bool) -> dict:
    import json

    from screenstate import ClassSpec, EncoderOptions, ScreenClassifier
    from screenstate.embeddings.factory import create_encoder
    from screenstate.server import create_app

    enc = create_encoder("clip", EncoderOptions(clip_pretrained="random", precision="fp32", device="cpu"))
    files = dev_files(16)
    images = []
    for f in files:  # 1280-wide PNGs, as a replay worker would upload
        buf = io.BytesIO()
        im = Image.open(f).convert("RGB")
        im.thumbnail((1280, 1280))
        im.save(buf, "PNG", compress_level=1)
        images.append(buf.getvalue())
    spec = json.loads((DEV / "classes.json").read_text())
    expected = [r.raw_scores for r in ScreenClassifier(ClassSpec.from_dict(spec), encoder=enc).classify_batch(images)]
    rows = []
    import tempfile

    for batching in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            app = create_app(store=f"{tmp}/s.db", encoder=enc, batching=batching, memory_cache=0)  # measure encoding
            server, thread, base = _serve(app)
            try:
                import httpx

                did = httpx.post(f"{base}/deploy_classifier", json=spec, timeout=60).json()["deployed_id"]
                for clients in (1, 8, 32):
                    n = (16 if quick else 48) if clients == 1 else (32 if quick else 128)
                    rps, lat, errors, wrong = asyncio.run(_load(base, did, images, expected, clients, n))
                    rows.append(
                        {
                            "batching": batching,
                            "clients": clients,
                            "requests": n,
                            "req_per_s": rps,
                            "p50_ms": 1000 * p(lat, 50),
                            "p95_ms": 1000 * p(lat, 95),
                            "errors": errors,
                            "wrong": wrong,
                        }
                    )
            finally:
                server.should_exit = True
                thread.join(timeout=10)
    on = next(r for r in rows if r["batching"] and r["clients"] == 32)
    off = next(r for r in rows if not r["batching"] and r["clients"] == 32)
    out = result(
        "server_load",
        "requests/s (/classify, 32 clients, batching on)",
        on["req_per_s"],
        "batching off, 32 clients",
        off["req_per_s"],
        model="ViT-B-32 random weights, fp32",
        total_errors=sum(r["errors"] for r in rows),
        total_wrong=sum(r["wrong"] for r in rows),
    )
    out["table"] = rows
    return out

"""The review page's FastAPI app: static page + a small JSON API over a ReviewSession.

Every request but the static files needs the session token, and every change the page's
own origin (:mod:`screenstate.review.guard`: 401 without the token, 403 from another
origin); a new route is covered by the guard without doing anything.

API (JSON; errors are ``{"error": message}`` with a 4xx status):

- ``GET  /api/session``            names, colours, channels, counts, accuracy, undo state
- ``GET  /api/frames``             per frame: index, path, time_s, pred, state, scores, raw_scores, margin, ...
- ``GET  /api/frames/{i}``         one frame plus evidence for the winner and the runner-up
- ``GET  /api/frames/{i}/image``   the frame (``?thumb=240`` for a JPEG thumbnail)
- ``GET  /api/examples/{col}/image`` an image exemplar named by evidence (``column``)
- ``GET  /api/segments``, ``GET /api/queue?n=20``
- ``POST /api/label``              ``{"index", "state", "negative", "scope"}``: pin + exemplar + re-score
- ``POST /api/undo``               undo the last class-file change + re-score
- ``GET  /api/classes``, ``PUT /api/classes`` ``{"text"}``: edit the class file (validated)
- ``POST /api/try``                multipart ``file``: scores of any screenshot
- ``POST /api/frames/{i}/ask``     ``{"question"}``: answer, route, evidence, boxes (``review/questions.py``)
- ``GET  /api/export/labels.csv``, ``GET /api/export/segments.csv``
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import socket
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from screenstate.batch.report import _colors
from screenstate.errors import InvalidImageError, ScreenstateError, SpecError, UnknownNameError
from screenstate.evidence import ClassEvidence
from screenstate.results import ClassificationResult
from screenstate.review.classfile import NothingToUndoError
from screenstate.review.guard import install_guard, new_token
from screenstate.review.questions import MAX_QUESTION, FrameQuestions, QuestionBusyError
from screenstate.review.session import NONE_LABEL, ReviewFrame, ReviewSession

STATIC = resources.files("screenstate.review") / "static"
MAX_UPLOAD = 32 * 1024 * 1024
#: the page loads nothing from other hosts (no CDN); the browser enforces it too
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)


class LabelRequest(BaseModel):
    """``POST /api/label``: the true state of a frame (None = none of the above)."""

    model_config = ConfigDict(extra="forbid")
    index: int
    state: str | None
    negative: bool = False
    #: how far the correction reaches (``review/reach.py``): auto, everywhere or screen
    scope: Literal["auto", "everywhere", "screen"] = "auto"


class AskRequest(BaseModel):
    """``POST /api/frames/{i}/ask``: a free-form question about the frame."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION)


class ClassesRequest(BaseModel):
    """``PUT /api/classes``: the full text of the class file."""

    model_config = ConfigDict(extra="forbid")
    text: str


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message})


def _result_json(r: ClassificationResult | None) -> dict[str, Any]:
    if r is None:
        return {"pred": None, "state": None, "scores": None, "raw_scores": None}
    return {"pred": r.pred, "state": r.state, "scores": r.scores, "raw_scores": r.raw_scores}


def frame_json(f: ReviewFrame) -> dict[str, Any]:
    """The ``GET /api/frames`` row of one frame."""
    return {
        "index": f.index,
        "path": str(f.path),
        "name": f.path.name,
        "time_s": f.time_s,
        **_result_json(f.result),
        "label": f.state_label,
        "margin": f.margin,
        "truth": f.truth,
        "correction": f.correction,
        "corrected": f.corrected,
        "error": f.error,
    }


def evidence_json(e: ClassEvidence) -> dict[str, Any]:
    return {
        "class": e.class_name,
        "raw_score": e.raw_score,
        "column": e.column,
        "json_path": e.json_path,
        "negative": e.negative,
        "text": e.example_text,
        "image": None if e.example_image is None else str(e.example_image),
        "image_url": None if e.example_image is None else f"/api/examples/{e.column}/image",
        "relevance": e.relevance,
        "channels": e.channel_relevance,
        "lines": [{"text": ln.text, "box": list(ln.box), "similarity": ln.similarity} for ln in e.lines],
        "window": e.window,
    }


@functools.lru_cache(maxsize=2048)
def _thumbnail(path: str, mtime: float, width: int) -> bytes:
    with Image.open(path) as src:
        im = src.convert("RGB")
    im.thumbnail((width, width))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=75)
    return buf.getvalue()


def create_review_app(
    session: ReviewSession, allowed_hosts: list[str] | None = None, token: str | None = None, vlm: Any = None
) -> FastAPI:
    """The page and its API for one session (one recording, one class file).
    ``allowed_hosts`` rejects other Host headers (a web page cannot reach a loopback
    server through DNS rebinding); None accepts any. ``token``: the session token every
    request needs (default: a new random one, in ``app.state.token``); ``vlm``: the model
    for free-form questions (default: the default VLM, loaded on the first such question)."""
    app = FastAPI(title="screenstate review", docs_url="/docs", redoc_url=None)
    app.state.session = session
    app.state.token = token or new_token()

    @app.middleware("http")
    async def _csp(request: Request, call_next: Any) -> Any:
        resp = await call_next(request)
        if not request.url.path.startswith("/docs"):
            resp.headers["Content-Security-Policy"] = CSP
        return resp

    install_guard(app, app.state.token, allowed_hosts)  # added last: runs first

    @app.exception_handler(ScreenstateError)
    async def _screenstate_error(_: Request, e: ScreenstateError) -> JSONResponse:
        return _error(422 if isinstance(e, (SpecError, UnknownNameError, InvalidImageError)) else 409, str(e))

    @app.exception_handler(QuestionBusyError)
    async def _busy(_: Request, e: QuestionBusyError) -> JSONResponse:
        return _error(429, str(e))

    @app.exception_handler(IndexError)
    async def _index_error(_: Request, e: IndexError) -> JSONResponse:
        return _error(404, str(e))

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return Response((STATIC / "index.html").read_bytes(), media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/api/session")
    def get_session() -> dict[str, Any]:
        acc = session.accuracy()
        return {
            "root": str(session.root),
            "classes_path": str(session.classfile.path),
            "names": session.names,
            "none_label": NONE_LABEL,
            "colors": _colors(session.names),
            "channels": list(session.clf.encoder.channel_names),
            "layout": session.layout,
            "n_frames": len(session.frames),
            "time_unit": "s" if any(f.time_s is not None for f in session.frames) else "frame",
            "accuracy": None if acc is None else {**acc.as_dict(), "known": acc.n, "text": acc.describe()},
            "can_undo": session.classfile.can_undo,
            "version": session.version,
        }

    @app.get("/api/frames")
    def get_frames() -> list[dict[str, Any]]:
        return [frame_json(f) for f in session.frames]

    @app.get("/api/actions")
    def get_actions() -> list[dict[str, Any]]:
        return [dataclasses.asdict(a) for a in session.actions()]

    @app.get("/api/frames/{index}")
    def get_frame(index: int) -> dict[str, Any]:
        f = session.frame(index)
        return {**frame_json(f), "evidence": [evidence_json(e) for e in session.evidence(index)]}

    @app.get("/api/frames/{index}/image")
    def get_frame_image(index: int, thumb: int = 0) -> Response:
        f = session.frame(index)
        if not f.path.is_file():
            return _error(404, f"{f.path}: file not found")
        if thumb:
            try:
                data = _thumbnail(str(f.path), f.path.stat().st_mtime, max(32, min(thumb, 640)))
            except OSError as e:
                return _error(422, f"{f.path}: cannot make a thumbnail ({e})")
            return Response(data, media_type="image/jpeg")
        return FileResponse(f.path)

    @app.get("/api/examples/{column}/image")
    def get_example_image(column: int) -> Response:
        cols = session.clf.columns
        if not 0 <= column < len(cols) or cols[column].image is None:
            return _error(404, f"example column {column} is not an image exemplar of the current class file")
        path = Path(str(cols[column].image))
        try:
            data = _thumbnail(str(path), path.stat().st_mtime, 320)
        except OSError:
            return _error(404, f"example column {column}: its image cannot be read")
        return Response(data, media_type="image/jpeg")

    @app.get("/api/segments")
    def get_segments() -> list[dict[str, Any]]:
        return [
            {
                "index": s.index,
                "start": s.start,
                "end": s.end,
                "n_frames": s.n_frames,
                "start_s": s.start_s,
                "end_s": s.end_s,
                "state": s.state,
            }
            for s in session.segments()
        ]

    @app.get("/api/queue")
    def get_queue(n: int = 20) -> list[dict[str, Any]]:
        return [
            {"index": f.index, "name": f.path.name, "label": f.state_label, "margin": f.margin}
            for f in session.queue(n)
        ]

    @app.post("/api/label")
    def post_label(req: LabelRequest) -> dict[str, Any]:
        out = session.label(req.index, req.state or None, req.negative, req.scope)
        ch = out.change
        return {
            "exemplar": None if ch.exemplar is None else str(ch.exemplar),
            "pin": None if ch.pin is None else str(ch.pin),
            "spill": list(out.spill),
            "negative_of": ch.negative_of,
            "negative_exemplar": None if ch.negative_exemplar is None else str(ch.negative_exemplar),
            "changed_frames": list(out.changed_frames),
            "version": session.version,
        }

    @app.post("/api/undo")
    def post_undo() -> Response:
        try:
            what = session.undo()
        except NothingToUndoError as e:
            return _error(409, str(e))
        return JSONResponse({"undone": what, "version": session.version})

    questions = FrameQuestions(session, vlm)

    @app.post("/api/frames/{index}/ask")
    def post_ask(index: int, req: AskRequest) -> dict[str, Any]:
        return questions.ask(index, req.question).to_json()

    @app.get("/api/classes")
    def get_classes() -> dict[str, Any]:
        return {"path": str(session.classfile.path), "text": session.classfile.read_text()}

    @app.put("/api/classes")
    def put_classes(req: ClassesRequest) -> dict[str, Any]:
        session.replace_classes(req.text)
        return {"saved": True, "version": session.version}

    @app.post("/api/try", response_model=None)
    async def post_try(file: UploadFile = File(...)) -> dict[str, Any] | JSONResponse:
        data = await file.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            return _error(413, f"{file.filename}: larger than {MAX_UPLOAD // 2**20} MiB")
        res, ev = session.try_image(data)
        return {**_result_json(res), "evidence": [evidence_json(e) for e in ev]}

    @app.get("/api/export/labels.csv")
    def export_labels() -> Response:
        return _csv_response(session.labels_csv(), "labels.csv")

    @app.get("/api/export/segments.csv")
    def export_segments() -> Response:
        return _csv_response(session.segments_csv(), "segments.csv")

    return app


def _csv_response(text: str, name: str) -> Response:
    return Response(
        text, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields its base URL (a free port
    when ``port`` is 0) and stops the server on exit. For tests and screenshots."""
    import uvicorn

    if port == 0:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="review-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"review server did not start on {host}:{port}")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

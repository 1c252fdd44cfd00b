"""Commands that serve pages and endpoints: serve (the HTTP service) and review."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from screenstate.cli.common import CacheOpt, ClassesOpt, EncoderOpt, _fail, app


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.")] = 8000,
    encoder: EncoderOpt = "auto",
    store: Annotated[
        str,
        typer.Option("--store", help="SQLite file or redis:// URL for deployed configs.", envvar="SCREENSTATE_STORE"),
    ] = "screenstate.db",
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Require this X-API-Key header.", envvar="SCREENSTATE_API_KEY")
    ] = None,
) -> None:
    """Run the HTTP service (reference-server compatible endpoints + /ask, /healthz, /docs).
    Request limits come from SCREENSTATE_MAX_* variables (README: "Service limits")."""
    from screenstate.server.admission import cap_malloc_arenas

    cap_malloc_arenas(max(2, os.cpu_count() or 2))  # before any worker thread allocates
    import uvicorn

    from screenstate.server import create_app

    try:
        app_ = create_app(store=store, encoder=encoder, api_key=api_key)
    except ValueError as e:  # a malformed SCREENSTATE_MAX_* limit
        _fail(e)
    if host not in ("127.0.0.1", "localhost", "::1") and not (api_key or os.environ.get("SCREENSTATE_API_KEY")):
        typer.echo(f"warning: serving on {host} without an API key; anyone who can reach it can use it", err=True)
    uvicorn.run(app_, host=host, port=port)


@app.command()
def review(
    root: Annotated[
        Path,
        typer.Option(
            "--root", help="Recording: a directory (flat or ROOT/<label>/*) or a video (or a directory holding one)."
        ),
    ],
    classes: ClassesOpt,
    cache: CacheOpt = None,
    encoder: EncoderOpt = "auto",
    host: Annotated[str, typer.Option("--host", help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.")] = 8765,
    min_score: Annotated[float | None, typer.Option("--min-score", help="Default min raw score.")] = None,
) -> None:
    """Open a classified recording in a browser page: see why, correct, re-score.
    The printed URL carries the session's token (``?token=...``); the page needs it
    (SCREENSTATE_REVIEW_TOKEN sets a fixed one)."""
    import uvicorn

    from screenstate.review.app import create_review_app
    from screenstate.review.guard import LOOPBACK_HOSTS, new_token, page_url, served_hosts
    from screenstate.review.session import ReviewSession

    session = ReviewSession(root, classes, encoder=encoder, cache=cache, min_score=min_score)
    token = os.environ.get("SCREENSTATE_REVIEW_TOKEN") or new_token()
    hosts = served_hosts(host)
    if host not in LOOPBACK_HOSTS:
        typer.echo(
            f"warning: serving on {host}: the review page (your frames and class file) is reachable from other "
            "machines by anyone who has its URL and token; use --host 127.0.0.1 unless you need that",
            err=True,
        )
    shown = ["127.0.0.1", *[h for h in hosts if h not in LOOPBACK_HOSTS][:2]] if host in ("0.0.0.0", "::") else [host]
    urls = "  ".join(page_url(h, port, token) for h in shown)
    typer.echo(f"{len(session.frames)} frames classified; review page: {urls}  (Ctrl+C to stop)")
    uvicorn.run(create_review_app(session, allowed_hosts=hosts, token=token), host=host, port=port, log_level="warning")

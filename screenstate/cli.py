"""Command line: a thin shell over the Python API. Heavy imports happen inside commands,
so ``screenstate --help`` is instant."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from screenstate.embeddings.defaults import DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED, DEFAULT_VLM
from screenstate.errors import ScreenstateError

if TYPE_CHECKING:
    from screenstate.embeddings.factory import EncoderOptions
    from screenstate.results import ClassificationResult


def _fail(e: Exception) -> NoReturn:
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(2)


class _OneLineErrors(TyperGroup):
    """Every command's :class:`ScreenstateError` (bad input, a missing model, a bad class
    file) ends as one ``error: ...`` line on stderr and exit code 2, not a traceback."""

    def invoke(self, ctx: Any) -> Any:  # ctx: the click Context typer vendors privately
        try:
            return super().invoke(ctx)
        except ScreenstateError as e:
            _fail(e)


app = typer.Typer(
    name="screenstate",
    cls=_OneLineErrors,
    help="Zero-shot screen-state classification: classes for recordings, fast state checks, UI boxes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="List or fetch model weights.", no_args_is_help=True)
app.add_typer(models_app, name="models")

ClassesOpt = Annotated[Path, typer.Option("--classes", "-c", help="Class JSON file.", envvar="SCREENSTATE_CLASSES")]
EncoderOpt = Annotated[
    str,
    typer.Option(
        "--encoder",
        "-e",
        help="auto | clip | text | visual | clip+text | visual+text | clip+visual+text",
        envvar="SCREENSTATE_ENCODER",
    ),
]
ViewsOpt = Annotated[str, typer.Option("--views", help="CLIP views: squash | letterbox | tiles")]
ClipModelOpt = Annotated[str, typer.Option("--clip-model", help="open_clip architecture name.")]
ClipPretrainedOpt = Annotated[
    str,
    typer.Option(
        "--clip-pretrained",
        help="open_clip pretrained tag, a local checkpoint file, or 'random'.",
        envvar="SCREENSTATE_CLIP_PRETRAINED",
    ),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto | cpu | cuda", envvar="SCREENSTATE_DEVICE")]
PrecisionOpt = Annotated[str, typer.Option("--precision", help="auto | fp32 | bf16 | fp16")]


def _options(device: str, precision: str, views: str, clip_model: str, clip_pretrained: str) -> EncoderOptions:
    from screenstate.embeddings.factory import EncoderOptions

    return EncoderOptions(
        device=device, precision=precision, views=views, clip_model=clip_model, clip_pretrained=clip_pretrained
    )


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s")


@app.command()
def classify(
    images: Annotated[list[Path], typer.Argument(help="Image files.")],
    classes: ClassesOpt,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")] = False,
    encoder: EncoderOpt = "auto",
    views: ViewsOpt = "letterbox",
    clip_model: ClipModelOpt = DEFAULT_CLIP_MODEL,
    clip_pretrained: ClipPretrainedOpt = DEFAULT_CLIP_PRETRAINED,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    min_score: Annotated[
        float | None, typer.Option("--min-score", help="Default min raw score for every class.")
    ] = None,
) -> None:
    """Classify screenshots into the states of a class file."""
    from screenstate.classify import ScreenClassifier

    clf = ScreenClassifier(
        classes,
        encoder=encoder,
        options=_options(device, precision, views, clip_model, clip_pretrained),
        min_score=min_score,
    )
    failed = 0
    rows: list[tuple[str, ClassificationResult | None, str]] = []
    for img in images:
        try:
            rows.append((str(img), clf.classify(img), ""))
        except ScreenstateError as e:
            failed += 1
            rows.append((str(img), None, str(e)))
    if as_json:
        for path, r, err in rows:
            typer.echo(json.dumps({"path": path, **(r.to_dict() if r else {}), "error": err or None}))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"screenstate ({'+'.join(clf.encoder.channel_names)})")
        for col in ("image", "pred", "state", "top scores (raw)", "error"):
            table.add_column(col)
        for path, r, err in rows:
            if r is None:
                table.add_row(path, "", "", "", err)
            else:
                top = ", ".join(f"{n} {v:.3f}" for n, v in r.top(3))
                table.add_row(path, r.pred, r.state or "none of the above", top, "")
        Console().print(table)
    if failed:
        raise typer.Exit(1)


@app.command("classify-directory")
def classify_directory_cmd(
    root: Annotated[
        str,
        typer.Option(
            "--root",
            help="Recording: a directory (flat or ROOT/<label>/*), a video file, a directory holding one "
            "(OpenAdapt: oa_recording-*.mp4), or a URI every Ray node can read (s3://..., gs://..., "
            "file:// on a shared mount).",
        ),
    ],
    classes: Annotated[Path, typer.Option("--classes", "--classifier_json_file", "-c", help="Class JSON file.")],
    output: Annotated[
        Path | None, typer.Option("--output", "--output_file", "-o", help="CSV output (path,pred[,label,is_correct]).")
    ] = None,
    eval_only: Annotated[
        bool, typer.Option("--eval_only", "--eval-only", help="Labeled layout: print metrics.")
    ] = False,
    scores_file: Annotated[
        Path | None, typer.Option("--scores", help="Also write every class score (.jsonl or .parquet).")
    ] = None,
    metrics_json: Annotated[
        Path | None, typer.Option("--metrics_json", "--metrics-json", help="Write metrics JSON.")
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write a self-contained HTML report.")] = None,
    cache: Annotated[
        Path | None, typer.Option("--cache", help="Embedding cache directory.", envvar="SCREENSTATE_CACHE")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run.")] = False,
    ray_address: Annotated[
        str | None, typer.Option("--ray-address", help="Existing Ray cluster.", envvar="RAY_ADDRESS")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per encoder batch.")] = 32,
    cpus_per_actor: Annotated[
        int,
        typer.Option(
            "--cpus-per-actor", min=1, help="Cluster: CPUs per encoding actor on CPU nodes (GPU nodes: one per GPU)."
        ),
    ] = 4,
    encoder: EncoderOpt = "auto",
    views: ViewsOpt = "letterbox",
    clip_model: ClipModelOpt = DEFAULT_CLIP_MODEL,
    clip_pretrained: ClipPretrainedOpt = DEFAULT_CLIP_PRETRAINED,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    min_score: Annotated[float | None, typer.Option("--min-score", help="Default min raw score.")] = None,
    fps: Annotated[
        float | None, typer.Option("--fps", help="Videos: classify at most N frames per second (default: every frame).")
    ] = None,
    segments: Annotated[
        Path | None,
        typer.Option("--segments", help="Write state segments CSV (state,start_s,end_s,start_frame,end_frame,...)."),
    ] = None,
    gate: Annotated[
        str,
        typer.Option(
            "--gate", help="Change gating: auto (videos) | on (videos and flat folders) | off (read every frame)."
        ),
    ] = "auto",
    min_segment_s: Annotated[
        float, typer.Option("--min-segment-s", help="Segments: absorb shorter runs between two runs of one state.")
    ] = 0.0,
    video_ranges: Annotated[
        int, typer.Option("--video-ranges", help="Split a video into N keyframe-aligned ranges on Ray (0: auto).")
    ] = 0,
) -> None:
    """Classify every frame of a recording (on Ray), with optional evaluation and report."""
    from screenstate.batch.job import BatchJob, JobConfig
    from screenstate.batch.sequence import SequenceOptions

    if output is None and not eval_only:
        _fail(ValueError("--output is required unless --eval_only is given"))
    job = BatchJob(
        JobConfig(
            root=root,
            classes=classes,
            output=output,
            scores_file=scores_file,
            metrics_json=metrics_json,
            report=report,
            cache_dir=cache,
            resume=resume,
            ray_address=ray_address,
            batch_size=batch_size,
            cpus_per_actor=cpus_per_actor,
            encoder=encoder,
            options=_options(device, precision, views, clip_model, clip_pretrained),
            min_score=min_score,
            eval_only=eval_only,
            sequence=SequenceOptions(
                gate=gate, fps=fps, segments=segments, min_segment_s=min_segment_s, video_ranges=video_ranges
            ),
        )
    )
    summary = job.run()
    typer.echo(summary.describe())


def classify_directory_main() -> None:
    """Console script `classify_directory` with the reference server's flags."""
    sys.argv = [sys.argv[0], "classify-directory", *sys.argv[1:]]
    main()


@app.command()
def detect(
    image: Annotated[Path, typer.Argument(help="Screenshot.")],
    classes: Annotated[Path, typer.Option("--classes", "-c", help="Detector JSON file (detector_configs).")],
    draw: Annotated[Path | None, typer.Option("--draw", help="Write the image with boxes drawn.")] = None,
    regions: Annotated[str, typer.Option("--regions", help="auto | text | owl | owl+text")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (reference detection shape).")] = False,
) -> None:
    """Find UI elements: boxes, scores and classes."""
    from screenstate.detect import ScreenDetector, draw_detections

    dets = ScreenDetector(classes, regions=regions).detect(image)
    if as_json:
        typer.echo(json.dumps([d.to_dict() for d in dets]))
    else:
        for d in dets:
            box = ", ".join(f"{v:.0f}" for v in d.box)
            typer.echo(f"{d.class_:24s} {d.score:.3f}  [{box}]  {d.label}")
        if not dets:
            typer.echo("no detections")
    if draw is not None:
        draw_detections(image, dets).save(draw)
        typer.echo(f"wrote {draw}")


@app.command()
def ask(
    image: Annotated[Path, typer.Argument(help="Screenshot.")],
    question: Annotated[str, typer.Argument(help="A question about the screen.")],
    classes: Annotated[Path | None, typer.Option("--classes", "-c", help="Class JSON (for state questions).")] = None,
    encoder: EncoderOpt = "auto",
    vlm_model: Annotated[
        str, typer.Option("--vlm-model", help="VLM name or local path (free-form questions).")
    ] = DEFAULT_VLM,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Answer a question: from the classifier, the detector, OCR text, or (only if needed) a small VLM."""
    from screenstate.asking import Asker
    from screenstate.vlm import VLM

    ans = Asker(str(classes) if classes else None, encoder=encoder, vlm=VLM(vlm_model)).ask(image, question)
    if as_json:
        typer.echo(json.dumps({"text": ans.text, "path": ans.path, "evidence": ans.evidence}, default=str))
    else:
        typer.echo(f"[{ans.path}] {ans.text}")


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
    cache: Annotated[
        Path | None, typer.Option("--cache", help="Embedding cache directory.", envvar="SCREENSTATE_CACHE")
    ] = None,
    encoder: EncoderOpt = "auto",
    host: Annotated[str, typer.Option("--host", help="Bind address (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port.")] = 8765,
    min_score: Annotated[float | None, typer.Option("--min-score", help="Default min raw score.")] = None,
) -> None:
    """Open a classified recording in a browser page: see why, correct, re-score."""
    import uvicorn

    from screenstate.review.app import create_review_app
    from screenstate.review.session import ReviewSession

    session = ReviewSession(root, classes, encoder=encoder, cache=cache, min_score=min_score)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    typer.echo(f"{len(session.frames)} frames classified; review page: http://{shown}:{port}/  (Ctrl+C to stop)")
    hosts = None if host in ("0.0.0.0", "::") else [host, "127.0.0.1", "localhost"]
    uvicorn.run(create_review_app(session, allowed_hosts=hosts), host=host, port=port, log_level="warning")


index_app = typer.Typer(help="Exemplar index next to a class file.", no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("build")
def index_build(
    classes: ClassesOpt,
    encoder: EncoderOpt = "auto",
    cache: Annotated[
        Path | None, typer.Option("--cache", help="Embedding cache directory.", envvar="SCREENSTATE_CACHE")
    ] = None,
) -> None:
    """Encode every image exemplar (into the cache) and save the exemplar index."""
    from screenstate.classify import ScreenClassifier
    from screenstate.embeddings.cache import FeatureCache
    from screenstate.exemplars import build_exemplar_index

    clf = ScreenClassifier(classes, encoder=encoder, cache=FeatureCache(cache))
    rep = build_exemplar_index(clf, classes)
    state = "rebuilt" if rep.rebuilt else "up to date"
    typer.echo(f"{rep.exemplars} exemplars, channels {'+'.join(rep.channels)}: {state} in {rep.directory}")


@app.command()
def label(
    classes: ClassesOpt,
    class_name: Annotated[str, typer.Option("--class", help="Class it is an example of.")],
    frame: Annotated[Path | None, typer.Argument(help="Frame to add as an exemplar.")] = None,
    cluster: Annotated[
        Path | None,
        typer.Option(
            "--cluster", help="A cluster folder from `screenstate suggest`: add its exemplars (creates the class)."
        ),
    ] = None,
    describe: Annotated[
        str | None, typer.Option("--describe", help="With --cluster: also add this text example to a new class.")
    ] = None,
    negative: Annotated[bool, typer.Option("--negative", help="Add to examples_to_exclude.")] = False,
    encoder: EncoderOpt = "auto",
) -> None:
    """Copy a frame (or a suggested cluster's exemplars) next to the class file as
    exemplars, update the JSON and the index."""
    from screenstate.classify import ScreenClassifier
    from screenstate.embeddings.cache import FeatureCache
    from screenstate.exemplars import add_exemplar, build_exemplar_index
    from screenstate.suggest import label_cluster

    if (frame is None) == (cluster is None):
        _fail(ValueError("give either a FRAME or --cluster DIR (one of them)"))
    if cluster is not None:
        dests = label_cluster(classes, cluster, class_name, negative=negative, describe=describe)
    else:
        dests = [add_exemplar(classes, frame, class_name, negative)]  # type: ignore[arg-type]
    rep = build_exemplar_index(ScreenClassifier(classes, encoder=encoder, cache=FeatureCache()), classes)
    kind = "negative" if negative else "positive"
    what = dests[0] if len(dests) == 1 else f"{len(dests)} frames of {cluster}"
    typer.echo(f"added {what} as {kind} exemplar(s) of {class_name}; index: {rep.exemplars} exemplars")


@app.command()
def suggest(
    root: Annotated[Path, typer.Option("--root", help="Recording: a folder of frames (or <state>/ folders).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Where to write the clusters (default: ROOT.states next to ROOT)."),
    ] = None,
    max_states: Annotated[int | None, typer.Option("--max-states", help="At most this many clusters.")] = None,
    cache: Annotated[
        Path | None, typer.Option("--cache", help="Embedding cache directory.", envvar="SCREENSTATE_CACHE")
    ] = None,
) -> None:
    """Cluster a recording's frames into candidate states (looks + on-screen text) and write
    each cluster's frames, a thumbnail and its distinctive words, ready for `label --cluster`."""
    from screenstate.suggest import suggest_states, write_suggestions

    s = suggest_states(root, max_states=max_states, cache=cache)
    dest = out or root.with_name(root.name + ".states")
    summary = write_suggestions(s, dest)
    typer.echo(f"{sum(len(c.frames) for c in s.clusters)} frames -> {len(s.clusters)} suggested states in {dest}")
    for c in s.clusters:
        typer.echo(f"  cluster_{c.id:02d}  {len(c.frames):4d} frames  {' '.join(c.words)}")
    typer.echo(
        f"summary: {summary}; name one with: screenstate label --cluster {dest}/cluster_00 --class NAME -c CLASSES.json"
    )


@app.command()
def schema(
    kind: Annotated[str, typer.Option("--kind", help="classes | detectors")] = "classes",
) -> None:
    """Print the JSON Schema of class (or detector) files, for editor validation."""
    from screenstate.schema import json_schema

    typer.echo(json.dumps(json_schema(kind), indent=2))


@models_app.command("list")
def models_list(
    clip_model: ClipModelOpt = DEFAULT_CLIP_MODEL,
    clip_pretrained: ClipPretrainedOpt = DEFAULT_CLIP_PRETRAINED,
) -> None:
    """Show which models are available offline."""
    from screenstate.embeddings.clip import cached_clip_weights
    from screenstate.embeddings.factory import list_encoders
    from screenstate.embeddings.sentence import DEFAULT_SENTENCE_MODEL, resolve_sentence_model
    from screenstate.errors import ModelNotAvailableError

    clip = cached_clip_weights(clip_model, clip_pretrained)
    typer.echo(f"encoders: {', '.join(list_encoders())}")
    typer.echo(f"clip {clip_model}/{clip_pretrained}: {clip if clip else 'missing (screenstate models pull)'}")
    try:
        typer.echo(f"sentence {DEFAULT_SENTENCE_MODEL}: {resolve_sentence_model(DEFAULT_SENTENCE_MODEL)}")
    except ModelNotAvailableError as e:
        typer.echo(f"sentence {DEFAULT_SENTENCE_MODEL}: {e}")
    try:
        import rapidocr_onnxruntime

        from screenstate.embeddings.ocr import ScreenOCR

        engine = ScreenOCR().engine  # its precision is measured on first use, not here
        typer.echo(f"ocr rapidocr PP-OCRv4 on {engine}: {Path(rapidocr_onnxruntime.__file__).parent / 'models'}")
    except ImportError:
        typer.echo("ocr rapidocr: missing (pip install rapidocr_onnxruntime)")
    from screenstate.embeddings.calibrate import cached_choices, calibration_dir, cpu_signature, thread_budget

    choices = cached_choices()
    typer.echo(f"precision (auto) on {cpu_signature()}, {thread_budget()} threads, cached in {calibration_dir()}:")
    for key, choice in choices:
        typer.echo(f"  {key.model} ({key.runtime}, budget {key.threads} threads): {choice.describe()}")
    if not choices:
        typer.echo("  none measured yet (each model measures on first use with --precision auto)")


@models_app.command("pull")
def models_pull(
    clip_model: ClipModelOpt = DEFAULT_CLIP_MODEL,
    clip_pretrained: ClipPretrainedOpt = DEFAULT_CLIP_PRETRAINED,
    owl: Annotated[bool, typer.Option("--owl", help="Also fetch the OWLv2 detector.")] = False,
    vlm: Annotated[bool, typer.Option("--vlm", help="Also fetch the small VLM.")] = False,
) -> None:
    """Download weights into the local cache (run on a connected machine, then copy the
    Hugging Face cache, ~/.cache/huggingface, to offline machines)."""
    from screenstate.embeddings.clip import ClipChannel, ClipOptions
    from screenstate.embeddings.hub import hub_reachable
    from screenstate.embeddings.owl import DEFAULT_OWL_MODEL
    from screenstate.errors import ModelNotAvailableError
    from screenstate.vlm import DEFAULT_VLM

    ch = ClipChannel(ClipOptions(model=clip_model, pretrained=clip_pretrained, device="cpu", precision="fp32"))
    typer.echo(f"ready: {ch.model_id}")
    extra = ([DEFAULT_OWL_MODEL] if owl else []) + ([DEFAULT_VLM] if vlm else [])
    if extra and not hub_reachable():
        raise ModelNotAvailableError("the model hub is unreachable; run this on a connected machine")
    for repo in extra:
        from huggingface_hub import snapshot_download

        typer.echo(f"ready: {snapshot_download(repo)}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

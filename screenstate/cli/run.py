"""Commands that answer about screens: classify, classify-directory, detect, ask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from screenstate.cli.common import (
    CacheOpt,
    ClassesOpt,
    ClipModelOpt,
    ClipPretrainedOpt,
    DeviceOpt,
    EncoderOpt,
    MaxPixelsOpt,
    PrecisionOpt,
    ViewsOpt,
    _fail,
    _options,
    app,
)
from screenstate.embeddings.defaults import (
    DEFAULT_CLIP_MODEL,
    DEFAULT_CLIP_PRETRAINED,
    DEFAULT_MAX_PIXELS,
    DEFAULT_VLM,
)
from screenstate.errors import ScreenstateError

if TYPE_CHECKING:
    from screenstate.results import ClassificationResult


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
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
) -> None:
    """Classify screenshots into the states of a class file."""
    from screenstate.schema import ClassSpec

    spec = ClassSpec.from_json(classes)  # a bad class file fails here, before torch (a second) and the models load
    from screenstate.classify import ScreenClassifier

    clf = ScreenClassifier(
        spec,
        encoder=encoder,
        options=_options(device, precision, views, clip_model, clip_pretrained),
        min_score=min_score,
        max_pixels=max_pixels,
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
        Path | None,
        typer.Option(
            "--scores",
            help="Also write every class score (.jsonl or .parquet); with labels (ROOT/labels.csv), "
            "each row's label and whether it is correct.",
        ),
    ] = None,
    metrics_json: Annotated[
        Path | None, typer.Option("--metrics_json", "--metrics-json", help="Write metrics JSON.")
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write a self-contained HTML report.")] = None,
    actions: Annotated[
        Path | None,
        typer.Option(
            "--actions",
            help="OpenAdapt captures and openadapt-flow recordings: write one CSV row per user action "
            "(kind, position, text, before/after/settled state).",
        ),
    ] = None,
    cache: CacheOpt = None,
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
    max_pixels: MaxPixelsOpt = DEFAULT_MAX_PIXELS,
) -> None:
    """Classify every frame of a recording (on Ray), with optional evaluation and report."""
    if output is None and not eval_only:
        _fail(ValueError("--output is required unless --eval_only is given"))
    if "://" not in root and not Path(root).exists():
        _fail(ScreenstateError(f"--root {root}: not found"))  # before the imports below (torch: seconds)
    if eval_only:
        _check_labeled(root)  # before the imports below (torch: seconds) and any model load
    from screenstate.batch.job import BatchJob, JobConfig
    from screenstate.batch.sequence import SequenceOptions
    from screenstate.cli.logs import progress_enabled

    job = BatchJob(
        JobConfig(
            root=root,
            classes=classes,
            output=output,
            scores_file=scores_file,
            metrics_json=metrics_json,
            report=report,
            actions=actions,
            cache_dir=cache,
            resume=resume,
            ray_address=ray_address,
            batch_size=batch_size,
            cpus_per_actor=cpus_per_actor,
            encoder=encoder,
            options=_options(device, precision, views, clip_model, clip_pretrained),
            min_score=min_score,
            eval_only=eval_only,
            max_pixels=max_pixels,
            progress=progress_enabled(),
            sequence=SequenceOptions(
                gate=gate, fps=fps, segments=segments, min_segment_s=min_segment_s, video_ranges=video_ranges
            ),
        )
    )
    summary = job.run()
    typer.echo(summary.describe())


def _check_labeled(root: str) -> None:
    """--eval_only needs ROOT/<label>/*: a local flat folder or a file fails here, in milliseconds."""
    import logging

    from screenstate.recordings.folder import scan_root

    path = Path(root)
    if "://" in root or not path.exists():
        return  # a URI, or a missing root: the job says what is wrong
    if path.is_file():
        _fail(ScreenstateError(f"--eval_only needs the labeled layout ROOT/<label>/*; {root} is a file"))
    quiet = logging.getLogger("screenstate")
    was, quiet.disabled = quiet.disabled, True  # the job lists ROOT again and names any skips then
    try:
        layout = scan_root(root).layout
    except ScreenstateError:
        return  # no frames etc.: the job says so
    finally:
        quiet.disabled = was
    if layout != "labeled":
        _fail(ScreenstateError(f"--eval_only needs the labeled layout ROOT/<label>/*; {root} is {layout}"))


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
    image: Annotated[Path | None, typer.Argument(help="Screenshot (or use --root for a recording).")] = None,
    question: Annotated[str | None, typer.Argument(help="A question about the screen.")] = None,
    classes: Annotated[Path | None, typer.Option("--classes", "-c", help="Class JSON (for state questions).")] = None,
    encoder: EncoderOpt = "auto",
    vlm_model: Annotated[
        str, typer.Option("--vlm-model", help="VLM name or local path (free-form questions).")
    ] = DEFAULT_VLM,
    vlm_runtime: Annotated[
        str, typer.Option("--vlm-runtime", help="auto (OpenVINO on CPU where it can) | torch | openvino")
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    root: Annotated[
        Path | None, typer.Option("--root", help="A recording (image folder, video, capture): ask every frame.")
    ] = None,
    questions: Annotated[
        Path | None, typer.Option("--questions", "-q", help="Text file, one question per line (with --root).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Answers CSV (with --root); an existing one is resumed.")
    ] = None,
    gate: Annotated[
        bool, typer.Option("--gate/--no-gate", help="Ask distinct frames only; repeats get copied answers.")
    ] = True,
) -> None:
    """Answer a question: from the classifier, the detector, OCR text, or (only if needed) a small VLM.
    With --root, --questions and --output: every question for every frame of a recording."""
    from screenstate.asking import Asker
    from screenstate.vlm import VLM

    asker = Asker(str(classes) if classes else None, encoder=encoder, vlm=VLM(vlm_model, runtime=vlm_runtime))
    if root is not None:
        if image is not None or question is not None:
            raise ScreenstateError("give either IMAGE QUESTION or --root with --questions, not both")
        _ask_recording(asker, root, questions, output, gate)
        return
    if image is None or question is None:
        raise ScreenstateError("give IMAGE and QUESTION, or --root RECORDING --questions FILE --output CSV")
    ans = asker.ask(image, question)
    if as_json:
        typer.echo(json.dumps({"text": ans.text, "path": ans.path, "evidence": ans.evidence}, default=str))
    else:
        typer.echo(f"[{ans.path}] {ans.text}")


def _ask_recording(asker: object, root: Path, questions: Path | None, output: Path | None, gate: bool) -> None:
    from screenstate.questions import RunSummary, ask_recording, check_output, read_questions, recording_frames

    if questions is None or output is None:
        raise ScreenstateError("--root needs --questions FILE (one question per line) and --output answers.csv")
    qs = read_questions(questions)
    check_output(root, output)
    frames = recording_frames(root)
    if output.exists():
        typer.echo(f"resuming {output}: frames already answered are not asked again", err=True)

    def progress(index: int, summary: RunSummary) -> None:
        typer.echo(
            f"\rframe {index + 1}: asked {summary.asked}, copied {summary.copied}, "
            f"resumed {summary.resumed}, unreadable {summary.failed}",
            err=True,
            nl=False,
        )

    s = ask_recording(asker, frames, qs, output, video=frames.video, gate=gate, progress=progress)
    routes = ", ".join(f"{k} {v}" for k, v in sorted(s.routes.items())) or "none"
    typer.echo("", err=True)
    typer.echo(
        f"{s.frames} frames x {len(qs)} questions: {s.rows_written} rows written to {output} "
        f"({s.asked} frames asked, {s.copied} copied, {s.resumed} resumed, {s.failed} unreadable; "
        f"routes: {routes}; {s.seconds:.1f} s)"
    )

"""Commands that grow a class file: index build, label, suggest."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from screenstate.cli.common import CacheOpt, ClassesOpt, EncoderOpt, _fail, app

index_app = typer.Typer(help="Exemplar index next to a class file.", no_args_is_help=True)
app.add_typer(index_app, name="index")


@index_app.command("build")
def index_build(
    classes: ClassesOpt,
    encoder: EncoderOpt = "auto",
    cache: CacheOpt = None,
) -> None:
    """Encode every image exemplar (into the cache) and save the exemplar index."""
    from screenstate.classify import ScreenClassifier
    from screenstate.embeddings.cache import FeatureCache
    from screenstate.exemplars import build_exemplar_index

    clf = ScreenClassifier(classes, encoder=encoder, cache=FeatureCache(cache))
    rep = build_exemplar_index(clf, classes)
    state = "rebuilt" if rep.rebuilt else "up to date"
    typer.echo(f"{rep.exemplars} exemplars, channels {'+'.join(rep.channels)}: {state} in {rep.directory}")
    if clf.rule.min_score is not None:  # the proposal: a class's own min_score overrides it
        typer.echo(
            f"none of the above below raw score {clf.rule.min_score:.3f} (learned from the exemplars); "
            "a class's min_score in the JSON overrides it"
        )
    if clf.replay is not None:
        typer.echo(
            "the exemplars all show one session: screens of that session (a replay) are decided by the rule "
            "learned on it"
            + (
                f", none of the above below raw score {clf.replay.rule.min_score:.3f}"
                if clf.replay.rule.min_score is not None
                else ""
            )
            + "; screens of other sessions by the two-stage rule (add screenshots of another session to learn from both)"
        )
    windowed = [n for n, w in zip(clf.names, clf.window_sizes.windowed()) if w] if clf.window_sizes is not None else []
    if windowed:
        typer.echo(
            f"none of the above by window size for {len(windowed)} classes ({', '.join(windowed)}): their screenshots "
            "show a window in front, so a screen whose foreground window is far from their sizes gets no state"
        )


@app.command()
def label(
    classes: ClassesOpt,
    class_names: Annotated[
        list[str] | None,
        typer.Option("--class", help="Class it is an example of (with several --cluster: one for all, or one each)."),
    ] = None,
    frame: Annotated[
        Path | None, typer.Argument(help="Frame to add as an exemplar (a new --class is created).")
    ] = None,
    cluster: Annotated[
        list[Path] | None,
        typer.Option(
            "--cluster",
            help="A cluster folder from `screenstate suggest`: add its exemplars (creates the class). Repeatable.",
        ),
    ] = None,
    describe: Annotated[
        str | None, typer.Option("--describe", help="Also add this text example to a class this call creates.")
    ] = None,
    negative: Annotated[bool, typer.Option("--negative", help="Add to examples_to_exclude.")] = False,
    min_scores: Annotated[
        Path | None,
        typer.Option(
            "--min-scores",
            help="A `screenstate suggest` folder: propose each class's min_score from its frames as you "
            "named them (unnamed frames: none of the above) and write them into the class file.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --min-scores: print, do not write.")] = False,
    pin: Annotated[
        bool,
        typer.Option(
            "--pin",
            help="Pin FRAME to --class (without --class: none of the above): it and its near-duplicates get "
            "that state, no other screen changes (the class file's pins; needs the visual channel).",
        ),
    ] = False,
    encoder: EncoderOpt = "auto",
) -> None:
    """Copy a frame (or suggested clusters' exemplars) next to the class file as
    exemplars and update the JSON; an existing exemplar index is kept current (no model is
    loaded when there is none: `screenstate index build` makes one). With --min-scores
    (after naming), propose a min_score per class from the recording and write it."""
    from screenstate.exemplars import add_exemplar, ensure_class, index_dir
    from screenstate.schema import ClassSpec
    from screenstate.suggest import label_cluster

    clusters = cluster or []
    class_names = class_names or []
    if frame is None and not clusters and min_scores is not None:
        return _propose(classes, min_scores, dry_run, encoder)
    if pin:
        return _pin(classes, frame, class_names, bool(clusters or negative or min_scores))
    if (frame is None) == (not clusters):
        _fail(ValueError("give either a FRAME or --cluster DIR (one of them), or --min-scores DIR"))
    if not class_names:
        _fail(ValueError("give --class NAME: the class the frame or cluster is an example of"))
    if len(class_names) not in ({1, len(clusters)} if clusters else {1}):
        _fail(ValueError(f"give one --class, or one per --cluster ({len(clusters)}), got {len(class_names)}"))
    names = class_names * len(clusters) if len(class_names) == 1 else class_names
    kind = "negative" if negative else "positive"
    if frame is not None and not negative and ensure_class(classes, class_names[0], frame, describe):
        names_now = ", ".join(ClassSpec.from_json(classes).names)
        typer.echo(f"created class {class_names[0]} with {frame} as its first exemplar (classes: {names_now})")
    elif frame is not None:
        dest = add_exemplar(classes, frame, class_names[0], negative)
        typer.echo(f"added {dest} as {kind} exemplar of {class_names[0]}")
    for d, name in zip(clusters, names):
        dests = label_cluster(classes, d, name, negative=negative, describe=describe)
        typer.echo(f"added {len(dests)} frames of {d} as {kind} exemplar(s) of {name}")
    if index_dir(classes).is_dir():
        from screenstate.classify import ScreenClassifier
        from screenstate.embeddings.cache import FeatureCache
        from screenstate.exemplars import build_exemplar_index

        rep = build_exemplar_index(ScreenClassifier(classes, encoder=encoder, cache=FeatureCache()), classes)
        typer.echo(f"index: {rep.exemplars} exemplars")
    if min_scores is not None:
        _propose(classes, min_scores, dry_run, encoder)


def _pin(classes: Path, frame: Path | None, class_names: list[str], other: bool) -> None:
    """``label --pin``: FRAME pinned to its class (none: none of the above)."""
    from screenstate.errors import ScreenstateError
    from screenstate.review.classfile import ClassFile

    if frame is None or other or len(class_names) > 1:
        _fail(ValueError("--pin takes one FRAME and at most one --class (no --cluster, --negative or --min-scores)"))
    state = class_names[0] if class_names else None
    try:
        ClassFile(classes).add_label(frame, state, exemplar=False, pin=True)
    except ScreenstateError as e:
        _fail(e)
    typer.echo(f"pinned {frame} to {state or 'none of the above'}: it and its near-duplicates get that state")


def _propose(classes: Path, states: Path, dry_run: bool, encoder: str) -> None:
    """Print the proposed min_score per class (screenstate/min_scores.py) and write them."""
    from screenstate.min_scores import propose_min_scores, write_min_scores

    proposals = propose_min_scores(classes, states, encoder=encoder)
    for p in proposals:
        typer.echo(f"  {p.line()}")
    if dry_run:
        typer.echo("--dry-run: nothing written")
        return
    written = write_min_scores(classes, proposals)
    typer.echo(f"min_score written for {len(written)} of {len(proposals)} classes in {classes}")


@app.command()
def suggest(
    root: Annotated[Path, typer.Option("--root", help="Recording: a folder of frames (or <state>/ folders).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Where to write the clusters (default: ROOT.states next to ROOT)."),
    ] = None,
    max_states: Annotated[int | None, typer.Option("--max-states", help="At most this many clusters.")] = None,
    cache: CacheOpt = None,
) -> None:
    """Cluster a recording's frames into candidate states (looks + on-screen text) and write
    each cluster's frames, a thumbnail and its distinctive words, ready for `label --cluster`."""
    from screenstate.suggest import suggest_states, write_suggestions

    s = suggest_states(root, max_states=max_states, cache=cache)
    dest = out or root.with_name(root.name + ".states")
    summary = write_suggestions(s, dest)
    skipped = f" ({len(s.skipped)} unreadable frames skipped)" if s.skipped else ""
    typer.echo(
        f"{sum(len(c.frames) for c in s.clusters)} frames -> {len(s.clusters)} suggested states in {dest}{skipped}"
    )
    for c in s.clusters:
        typer.echo(f"  cluster_{c.id:02d}  {len(c.frames):4d} frames  {' '.join(c.words)}")
    for f, why in s.skipped:
        typer.echo(f"  skipped {f}: {why}")
    typer.echo(
        f"summary: {summary}; name clusters with: screenstate label --cluster {dest}/cluster_00 "
        f"[--cluster {dest}/cluster_01 ...] --class NAME [--class NAME2 ...] -c CLASSES.json; "
        f"then (none of the above for what you left unnamed): screenstate label -c CLASSES.json --min-scores {dest}"
    )

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
    cache: CacheOpt = None,
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

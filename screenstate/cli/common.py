"""What every command shares: the app, the one-line error wrapper, and the common options.
Defaults come from :mod:`screenstate.embeddings.defaults`, the one place that names models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from screenstate.errors import ScreenstateError

if TYPE_CHECKING:
    from screenstate.embeddings.factory import EncoderOptions


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

ClassesOpt = Annotated[Path, typer.Option("--classes", "-c", help="Class JSON file.", envvar="SCREENSTATE_CLASSES")]
EncoderOpt = Annotated[
    str,
    typer.Option(
        "--encoder",
        "-e",
        help="auto | clip | text | visual | clip+text | visual+text | clip+visual+text "
        "(or registered channels joined by +)",
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
    from screenstate.embeddings.clip_features import ClipOptions
    from screenstate.embeddings.factory import EncoderOptions

    clip = ClipOptions(model=clip_model, pretrained=clip_pretrained, views=views)
    return EncoderOptions(device=device, precision=precision, clip=clip)


@app.callback()
def _main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log more: every notice, and other libraries' warnings.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Errors only: no notices, no progress bar.")] = False,
    cache_root: Annotated[
        Path | None,
        typer.Option(
            "--cache-root",
            help="Default cache directory (features, precision calibrations); each command's --cache overrides it.",
            envvar="SCREENSTATE_CACHE",
        ),
    ] = None,
) -> None:
    from screenstate.cli.logs import configure
    from screenstate.embeddings.cache import set_cache_root

    configure(verbose=verbose, quiet=quiet)
    set_cache_root(cache_root)


MaxPixelsOpt = Annotated[
    int,
    typer.Option(
        "--max-pixels",
        min=1,
        help="Refuse images with more decoded pixels (bomb guard).",
        envvar="SCREENSTATE_MAX_PIXELS",
    ),
]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache", help="Embedding cache directory.", envvar="SCREENSTATE_CACHE")
]

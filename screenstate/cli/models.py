"""Commands about models and formats: models list, models pull, schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from screenstate.cli.common import ClipModelOpt, ClipPretrainedOpt, app
from screenstate.embeddings.defaults import (
    DEFAULT_CLIP_MODEL,
    DEFAULT_CLIP_PRETRAINED,
    DEFAULT_OWL_MODEL,
    DEFAULT_SENTENCE_MODEL,
    DEFAULT_VLM,
)

models_app = typer.Typer(help="List or fetch model weights.", no_args_is_help=True)
app.add_typer(models_app, name="models")


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
    # nothing here imports torch (a second): the CLIP module only when a checkpoint could be on disk
    from screenstate.embeddings.hub import clip_weights_on_disk
    from screenstate.embeddings.registry import encoder_configs
    from screenstate.embeddings.sentence import resolve_sentence_model
    from screenstate.errors import ModelNotAvailableError
    from screenstate.extras import install_line, installed

    typer.echo(f"encoders: {', '.join(['auto', *encoder_configs()])}")  # factory.list_encoders() imports torch
    if not installed("open_clip"):
        typer.echo(f"clip: not installed ({install_line('clip')})")
    else:  # open_clip (seconds to import) only when some checkpoint could be there
        clip = None
        if clip_weights_on_disk():
            from screenstate.embeddings.clip_weights import cached_clip_weights

            clip = cached_clip_weights(clip_model, clip_pretrained)
        typer.echo(f"clip {clip_model}/{clip_pretrained}: {clip if clip else 'missing (screenstate models pull)'}")
    try:
        typer.echo(f"sentence {DEFAULT_SENTENCE_MODEL}: {resolve_sentence_model(DEFAULT_SENTENCE_MODEL)}")
    except ModelNotAvailableError as e:
        typer.echo(f"sentence {DEFAULT_SENTENCE_MODEL}: {e}")
    from importlib.util import find_spec

    rapidocr = find_spec("rapidocr_onnxruntime")  # where its models are, without importing it (and onnxruntime)
    if rapidocr is not None and rapidocr.origin:
        from screenstate.embeddings.ocr import ScreenOCR

        engine = ScreenOCR().engine  # its precision is measured on first use, not here
        typer.echo(f"ocr rapidocr PP-OCRv4 on {engine}: {Path(rapidocr.origin).parent / 'models'}")
    else:
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
    from screenstate.errors import ModelNotAvailableError

    ch = ClipChannel(ClipOptions(model=clip_model, pretrained=clip_pretrained, device="cpu", precision="fp32"))
    typer.echo(f"ready: {ch.model_id}")
    extra = ([DEFAULT_OWL_MODEL] if owl else []) + ([DEFAULT_VLM] if vlm else [])
    if extra and not hub_reachable():
        raise ModelNotAvailableError("the model hub is unreachable; run this on a connected machine")
    for repo in extra:
        from huggingface_hub import snapshot_download

        typer.echo(f"ready: {snapshot_download(repo)}")

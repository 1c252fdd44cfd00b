"""Pydantic validation errors of class and detector files as ``json.path: message`` lines
(what :class:`~screenstate.errors.SpecError` says)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


_FRIENDLY = {
    "missing": "field is required",
    "too_short": "at least one item is required",
    "list_type": "must be a JSON list",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "float_type": "must be a number",
    "model_type": "must be a JSON object",
}


def _json_repr(value: Any) -> str:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_validation_error(e: ValidationError, title: str = "spec") -> str:
    """Turn a pydantic error into lines of ``json.path: message``."""
    lines = []
    for err in e.errors():
        loc = _format_loc(tuple(err["loc"]))
        typ = err["type"]
        if typ == "extra_forbidden":
            msg = "unknown field (check its spelling; `screenstate schema` lists valid fields)"
        elif typ == "value_error":
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
        elif typ == "too_short" and loc.endswith("examples_to_include"):
            msg = "at least one example is required"
        elif typ in ("bool_type", "float_type", "string_type"):
            msg = f"{_FRIENDLY[typ]}, got {_json_repr(err.get('input'))}"
        else:
            msg = _FRIENDLY.get(typ, err["msg"])
        # duplicate-name errors carry their own path
        if msg.startswith(("classifier_configs[", "detector_configs[", "pins[")):
            lines.append(msg)
        else:
            lines.append(f"{loc}: {msg}")
    return "; ".join(lines)

"""Feature versions derived from what features depend on, instead of numbers bumped by hand.

A channel's cache key (``model_id``) must change whenever its stored image features would
differ: settings (a frozen dataclass), the stored field layout, or the code that computes
them. :func:`feature_digest` hashes all three; comments, docstrings and line numbers do
not count, so only a real change makes old disk-cache entries misses.

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class S:
    ...     side: int = 8
    >>> feature_digest(S()) == feature_digest(S()) != feature_digest(S(side=9))
    True
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import inspect
import textwrap
from collections.abc import Callable, Sequence
from typing import Any


def canonical(value: Any) -> Any:
    """A deterministic, repr-able form of settings: dataclasses as (name, fields), sets sorted
    (a frozenset's iteration order changes with the interpreter's hash seed)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple((f.name, canonical(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(repr(canonical(v)) for v in value))
    if isinstance(value, dict):
        return tuple(sorted((repr(canonical(k)), canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    return value


def _without_docstrings(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def code_text(fn: Callable[..., Any]) -> str:
    """The function's syntax tree without its name, docstrings, comments or positions; its
    bytecode when the source is not available."""
    try:
        src = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        code = fn.__code__
        return code.co_code.hex() + repr(code.co_consts) + repr(code.co_names)
    tree = _without_docstrings(ast.parse(src))
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.name = ""  # a renamed function computes the same features
    return ast.dump(tree)


def feature_digest(*settings: Any, code: Sequence[Callable[..., Any]] = ()) -> str:
    """A short hex digest of ``settings`` (dataclasses, field layouts, constants) and the
    code of the functions that compute or store the features."""
    h = hashlib.blake2b(digest_size=6)
    for s in settings:
        h.update(repr(canonical(s)).encode())
    for fn in code:
        h.update(code_text(fn).encode())
    return h.hexdigest()

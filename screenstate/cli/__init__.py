"""Command line: a thin shell over the Python API, one module per command group
(:mod:`.run`, :mod:`.serve`, :mod:`.exemplars`, :mod:`.models`). Heavy imports happen
inside commands, so ``screenstate --help`` is instant."""

from __future__ import annotations

import importlib
import sys

from screenstate.cli.common import app

#: importing a group's module registers its commands; this order is the order of --help
GROUPS = ("run", "serve", "exemplars", "models")
for _group in GROUPS:
    importlib.import_module(f"screenstate.cli.{_group}")

__all__ = ["app", "classify_directory_main", "main"]


def main() -> None:
    app()


def classify_directory_main() -> None:
    """Console script `classify_directory` with the reference server's flags."""
    sys.argv = [sys.argv[0], "classify-directory", *sys.argv[1:]]
    main()

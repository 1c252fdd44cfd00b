"""What a command prints on stderr besides its errors: screenstate's own one-line notices
(``WARNING: ...``), and nothing from third-party libraries unless it is an error.

``--verbose`` shows INFO from screenstate and warnings from other libraries (their logger's
name first) and Python warnings; ``--quiet`` shows errors only, for scripts."""

from __future__ import annotations

import logging


class _OwnOrSevere(logging.Filter):
    """screenstate's records at the chosen level; other libraries' at ``other_level``."""

    def __init__(self, own_level: int, other_level: int) -> None:
        super().__init__()
        self.own_level, self.other_level = own_level, other_level

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name == "screenstate" or record.name.startswith("screenstate.")
        return record.levelno >= (self.own_level if own else self.other_level)


class _OwnHandler(logging.StreamHandler):
    """Our stderr handler: ``configure`` replaces it instead of adding a second one."""


class _Formatter(logging.Formatter):
    """``LEVEL: message`` for screenstate, ``name: LEVEL: message`` for anything else."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname}: {record.getMessage()}"
        if not (record.name == "screenstate" or record.name.startswith("screenstate.")):
            line = f"{record.name}: {line}"
        if record.exc_info and logging.getLogger("screenstate").isEnabledFor(logging.INFO):
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(verbose: bool = False, quiet: bool = False) -> None:
    """One stderr handler on the root logger; called once per command by the CLI."""
    own = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    other = logging.WARNING if verbose else logging.ERROR
    handler = _OwnHandler()
    handler.setFormatter(_Formatter())
    handler.addFilter(_OwnOrSevere(own, other))
    root = logging.getLogger()
    for h in [h for h in root.handlers if isinstance(h, _OwnHandler)]:
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(min(own, other))
    logging.getLogger("screenstate").setLevel(own)
    logging.captureWarnings(True)  # Python warnings (py.warnings) go through the filter above


def progress_enabled() -> bool:
    """Progress bars are drawn unless ``--quiet``."""
    return logging.getLogger("screenstate").isEnabledFor(logging.WARNING)

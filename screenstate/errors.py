"""Typed errors. Every message names what is wrong and how to fix it."""

from __future__ import annotations


class ScreenstateError(Exception):
    """Base class for all errors raised by screenstate."""


class SpecError(ScreenstateError, ValueError):
    """A class/detector JSON file is invalid; the message names the JSON path."""


class InvalidImageError(ScreenstateError, ValueError):
    """An image could not be decoded or is unsafe to decode."""

    #: the reference server's message for unreadable uploads
    REFERENCE_MESSAGE = "Invalid image received, unable to open."


class ModelNotAvailableError(ScreenstateError, RuntimeError):
    """Model weights are missing locally and cannot be fetched (offline)."""


class MissingExtraError(ModelNotAvailableError):
    """An optional part of the install is missing; the message gives the ``pip install`` line."""


class UnknownNameError(ScreenstateError, ValueError):
    """A name (encoder, mode, class, ...) is not one of the valid choices."""

    def __init__(self, what: str, got: object, choices: list[str] | tuple[str, ...]) -> None:
        self.what, self.got, self.choices = what, got, list(choices)
        super().__init__(f"unknown {what} {got!r}; valid choices: {', '.join(map(str, choices))}")


class StateTimeoutError(ScreenstateError, TimeoutError):
    """wait_for gave up; the message says what was seen instead."""

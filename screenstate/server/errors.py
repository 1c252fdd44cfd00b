"""The one mapping from exceptions to the reference server's error shape
``{"status_code", "message", "data": null}``, for every error the service returns."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from screenstate.errors import InvalidImageError, ModelNotAvailableError, ScreenstateError, SpecError

log = logging.getLogger("screenstate")

#: library errors as HTTP statuses; the first matching class wins, anything else is a 500
STATUS: tuple[tuple[type[ScreenstateError], int], ...] = (
    (InvalidImageError, 422),  # answered with the reference server's own message
    (SpecError, 422),
    (ModelNotAvailableError, 503),  # the service runs, a model it needs does not load
    (ScreenstateError, 500),
)


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"status_code": status, "message": message, "data": None}, headers=headers
    )


def status_of(exc: ScreenstateError) -> int:
    return next(code for cls, code in STATUS if isinstance(exc, cls))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
    return error_response(422, "; ".join(parts))


async def _http(request: Request, exc: Exception) -> JSONResponse:  # also 404/405 from routing
    assert isinstance(exc, HTTPException)
    return error_response(exc.status_code, str(exc.detail), exc.headers)  # e.g. Retry-After of a 429/503


async def _library(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ScreenstateError)
    if isinstance(exc, InvalidImageError):
        return error_response(422, InvalidImageError.REFERENCE_MESSAGE)
    return error_response(status_of(exc), str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s", request.url.path)
    return error_response(500, f"internal error ({type(exc).__name__}); the service log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(ScreenstateError, _library)
    app.add_exception_handler(Exception, _unexpected)

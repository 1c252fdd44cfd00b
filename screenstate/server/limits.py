"""What one request may cost the service, checked before the work starts.

Defaults (each set by an environment variable, or ``create_app(limits=ServiceLimits(...))``):

| limit | default | variable |
| --- | --- | --- |
| JSON request body | 1 MiB | ``SCREENSTATE_MAX_BODY_BYTES`` |
| image upload | 32 MiB | ``SCREENSTATE_MAX_UPLOAD_BYTES`` |
| classes (or detector elements) per config | 200 | ``SCREENSTATE_MAX_CLASSES`` |
| examples per config (positive + negative) | 1000 | ``SCREENSTATE_MAX_EXAMPLES`` |
| characters per text example | 1000 | ``SCREENSTATE_MAX_EXAMPLE_CHARS`` |
| image side | 16384 px | ``SCREENSTATE_MAX_SIDE`` |
| image pixels | 40,000,000 | ``SCREENSTATE_MAX_IMAGE_PIXELS`` |
| time budget per request | 60 s | ``SCREENSTATE_REQUEST_TIMEOUT_S`` |
| deployed models kept in memory | 64 | ``SCREENSTATE_MAX_LOADED`` |
| requests encoding at once | 2 | ``SCREENSTATE_WORKERS`` |
| requests waiting for an encoder (more: 429) | 16 | ``SCREENSTATE_MAX_QUEUE`` |
| memory of recent screens' features | 64 MiB | ``SCREENSTATE_MAX_CACHE_BYTES`` |

Bodies are refused from their ``Content-Length`` before anything is read, and a body
without one (chunked) is cut off at the limit (:class:`BodyLimitMiddleware`).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, fields
from typing import Any

from PIL import Image
from starlette.exceptions import HTTPException

_ENV = {
    "max_body_bytes": "SCREENSTATE_MAX_BODY_BYTES",
    "max_upload_bytes": "SCREENSTATE_MAX_UPLOAD_BYTES",
    "max_classes": "SCREENSTATE_MAX_CLASSES",
    "max_examples": "SCREENSTATE_MAX_EXAMPLES",
    "max_example_chars": "SCREENSTATE_MAX_EXAMPLE_CHARS",
    "max_side": "SCREENSTATE_MAX_SIDE",
    "max_pixels": "SCREENSTATE_MAX_IMAGE_PIXELS",
    "request_timeout_s": "SCREENSTATE_REQUEST_TIMEOUT_S",
    "max_loaded": "SCREENSTATE_MAX_LOADED",
    "workers": "SCREENSTATE_WORKERS",
    "max_queue": "SCREENSTATE_MAX_QUEUE",
    "max_cache_bytes": "SCREENSTATE_MAX_CACHE_BYTES",
}

#: room for multipart boundaries and headers around an uploaded file
MULTIPART_SLACK = 64 * 1024


@dataclass(frozen=True)
class ServiceLimits:
    """Per-request limits of ``screenstate serve`` (see the module docstring for defaults)."""

    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 32 * 1024 * 1024
    max_classes: int = 200
    max_examples: int = 1000
    max_example_chars: int = 1000
    max_side: int = 16384
    max_pixels: int = 40_000_000
    request_timeout_s: float = 60.0
    max_loaded: int = 64
    workers: int = 2
    #: a burst of clients (8, or 16 more than the workers) waits its turn instead of being
    #: refused: at ~0.5 s a screen and 2 workers the 16th waits ~4 s, far inside the time budget
    max_queue: int = 16
    max_cache_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            if not getattr(self, f.name) > 0:
                raise ValueError(f"{f.name} ({_ENV[f.name]}): must be > 0, got {getattr(self, f.name)}")

    @classmethod
    def from_env(cls, environ: MutableMapping[str, str] | None = None, **overrides: Any) -> ServiceLimits:
        """Defaults, then ``SCREENSTATE_MAX_*`` variables, then ``overrides`` (not None)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(_ENV[f.name])
            if raw:
                try:
                    values[f.name] = float(raw) if f.name == "request_timeout_s" else int(raw)
                except ValueError as e:
                    raise ValueError(f"{_ENV[f.name]}={raw!r}: must be a number") from e
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    # -- checks (raise HTTPException with the service's status codes) ----------------
    def check_config(self, payload: dict[str, Any], configs_field: str) -> None:
        """Refuse a deploy whose size would make the first request slow and memory-hungry."""
        configs = payload.get(configs_field)
        if not isinstance(configs, list):
            return  # the schema reports it
        if len(configs) > self.max_classes:
            raise HTTPException(
                413, f"{configs_field}: {len(configs)} entries; at most {self.max_classes} ({_ENV['max_classes']})"
            )
        n = 0
        for i, c in enumerate(configs):
            if not isinstance(c, dict):
                continue
            for key in ("examples_to_include", "examples_to_exclude"):
                examples = c.get(key)
                if not isinstance(examples, list):
                    continue
                n += len(examples)
                for j, ex in enumerate(examples):
                    if isinstance(ex, str) and len(ex) > self.max_example_chars:
                        raise HTTPException(
                            413,
                            f"{configs_field}[{i}].{key}[{j}]: {len(ex)} characters; at most "
                            f"{self.max_example_chars} ({_ENV['max_example_chars']})",
                        )
        if n > self.max_examples:
            raise HTTPException(
                413, f"{n} examples in {configs_field}; at most {self.max_examples} ({_ENV['max_examples']})"
            )

    def check_image_header(self, raw: bytes) -> None:
        """Refuse an image whose header announces more pixels than allowed, before decoding it.
        Bytes that are not an image are left to the decoder (the reference 422 message)."""
        try:
            with Image.open(io.BytesIO(raw)) as im:
                w, h = im.size
        except Exception:  # noqa: BLE001 - not an image: the decoder reports it
            return
        if max(w, h) > self.max_side or w * h > self.max_pixels:
            raise HTTPException(
                413,
                f"image is {w}x{h}; the service accepts at most {self.max_side} px a side "
                f"({_ENV['max_side']}) and {self.max_pixels} pixels ({_ENV['max_pixels']})",
            )

    def body_limit(self, path: str) -> int:
        """Largest body accepted on ``path`` (uploads get the upload limit)."""
        if path in ("/classify", "/detect", "/ask"):
            return self.max_upload_bytes + MULTIPART_SLACK
        return self.max_body_bytes


class BodyTooLarge(HTTPException):
    """Raised while reading a body past its limit (FastAPI re-raises HTTPExceptions)."""


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"status_code": status, "message": message, "data": None}).encode()


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BodyLimitMiddleware:
    """ASGI middleware: refuse a body by its ``Content-Length`` before reading it, and stop
    reading one without a length (chunked) at the limit. Answers 413 in the JSON error shape."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limits: ServiceLimits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.body_limit(scope.get("path", ""))
        message = f"request body is larger than {limit} bytes (see the service limits: SCREENSTATE_MAX_*_BYTES)"
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                await send_error(send, 400, "Content-Length header is not a number")
                return
            if int(length) > limit:
                await send_error(send, 413, message)
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(413, message)
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await send_error(send, 413, message)


async def send_error(send: Send, status: int, message: str) -> None:
    body = error_body(status, message)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""API keys: with a key set, every request but ``/healthz`` and the docs needs a matching
``X-API-Key`` header, checked before the body is read."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from screenstate.errors import ScreenstateError
from screenstate.server.limits import Receive, Scope, Send, send_error

OPEN_PATHS = frozenset({"/healthz", "/docs", "/openapi.json"})


def checked_api_key(api_key: str | None) -> str | None:
    """``api_key`` unless it is blank: an empty key would accept every request."""
    if api_key is not None and not api_key.strip():
        raise ScreenstateError(
            "the API key is empty (--api-key or SCREENSTATE_API_KEY): an empty key would accept every "
            "request; set a real key, or unset the variable to serve without one on a trusted host"
        )
    return api_key


class ApiKeyMiddleware:
    """ASGI middleware answering 401 in the JSON error shape on a missing or wrong key."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], api_key: str) -> None:
        self.app, self.key = app, api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "") not in OPEN_PATHS:
            given = dict(scope.get("headers") or []).get(b"x-api-key", b"")
            if not hmac.compare_digest(given, self.key):  # constant time: no key guessing by timing
                await send_error(send, 401, "missing or wrong X-API-Key header")
                return
        await self.app(scope, receive, send)

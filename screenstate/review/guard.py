"""Who may use a review server: a per-session token (as Jupyter's), a same-origin check for
every change, and a Host check.

The review page reads every frame and rewrites the user's class file, and any local
process or any web page open in the user's browser can send it requests. So:

- **token**: every request except the page's static files (``PUBLIC_PREFIXES``) needs the
  session's token, from ``Authorization: Bearer TOKEN``, from ``?token=TOKEN``, or from the
  cookie that opening the printed ``http://HOST:PORT/?token=TOKEN`` URL sets (HttpOnly,
  SameSite=Strict; its name carries a digest of the token, so two review servers on one
  host keep their own). Without it: 401, reads included.
- **same origin**: a request that may change something (any method but GET/HEAD/OPTIONS)
  and every ``/api/`` request are refused with 403 when the browser says it comes from
  another origin: ``Sec-Fetch-Site`` other than ``same-origin``/``none``, or an ``Origin``
  that is not this server's own. This covers body-less POSTs (``/api/undo``) and HTML form
  posts, which a JSON content-type check does not, and pages on another port of
  ``localhost`` (same *site*, so a SameSite cookie alone would go along).
- **Host**: a request whose ``Host`` is not one of the addresses the server serves is
  refused (400), so a web page cannot reach a loopback server through DNS rebinding.

A new endpoint is protected by adding it to the app: the guard is one app-wide middleware
and everything outside ``PUBLIC_PREFIXES`` needs the token (and, for non-GET methods, the
same origin). Do not add data-bearing paths to ``PUBLIC_PREFIXES``.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

#: served without the token: the page's own code and styles, nothing of the user's
PUBLIC_PREFIXES = ("/static/", "/favicon.ico")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Sec-Fetch-Site values of the page's own requests (``none``: typed or opened URL)
OWN_FETCH_SITES = frozenset({"same-origin", "none"})
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
NO_TOKEN = (
    "this review server needs its session token: open the URL that `screenstate review` printed "
    "(it ends with ?token=...), or send the header 'Authorization: Bearer TOKEN'"
)
CROSS_SITE = "refused: this request comes from another web page (origin {origin}); only the review page may send it"


def new_token() -> str:
    """A fresh random session token (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


def cookie_name(token: str) -> str:
    """The cookie holding ``token``: one per review server, even on one host."""
    return "screenstate-review-" + hashlib.sha256(token.encode()).hexdigest()[:12]


def page_url(host: str, port: int, token: str) -> str:
    """The URL to open: ``http://HOST:PORT/?token=TOKEN`` (IPv6 literals bracketed)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def served_hosts(bind: str) -> list[str]:
    """The ``Host`` names a server bound to ``bind`` answers: the loopback names, ``bind``
    itself, and for a wildcard bind (``0.0.0.0``, ``::``) this machine's names and addresses."""
    hosts = [*LOOPBACK_HOSTS]
    if bind not in ("0.0.0.0", "::"):
        return list(dict.fromkeys([bind, *hosts]))
    names = {socket.gethostname(), socket.getfqdn()}
    for name in list(names):
        with contextlib.suppress(OSError):
            names |= {str(info[4][0]) for info in socket.getaddrinfo(name, None)}
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # picks the outgoing interface; sends nothing
        names.add(s.getsockname()[0])
    return list(dict.fromkeys([*hosts, *sorted(n for n in names if n)]))


def _host_name(host_header: str) -> str:
    """The host part of a ``Host`` header (``[::1]:8765`` -> ``::1``)."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": message})


class Guard:
    """The checks of one review server (see the module docstring)."""

    def __init__(self, token: str, allowed_hosts: Iterable[str] | None = None) -> None:
        if len(token) < 16:
            raise ValueError("a review token needs at least 16 characters")
        self.token = token
        self.cookie = cookie_name(token)
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    def _has_token(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        given = [
            auth[7:].strip() if auth[:7].lower() == "bearer " else "",
            request.cookies.get(self.cookie, ""),
            request.query_params.get("token", ""),
        ]
        return any(g and secrets.compare_digest(g.encode(), self.token.encode()) for g in given)

    def cross_site(self, request: Request) -> str | None:
        """Where a request from another origin came from, or None when it is the page's own
        (or not from a browser: no ``Origin`` and no ``Sec-Fetch-Site``)."""
        site = request.headers.get("sec-fetch-site")
        origin = request.headers.get("origin")
        if origin is not None:
            own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
            parts = urlsplit(origin)
            if origin == "null" or f"{parts.scheme}://{parts.netloc}".lower() != own:
                return origin
        if site is not None and site not in OWN_FETCH_SITES:
            return origin or site
        return None

    async def __call__(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path
        if self.allowed_hosts is not None:
            host = _host_name(request.headers.get("host", "")).lower()
            if host not in self.allowed_hosts:
                return _error(400, f"Host {host!r} is not an address this review server serves")
        if path.startswith(PUBLIC_PREFIXES):
            return await call_next(request)
        if request.method not in SAFE_METHODS or path.startswith("/api/"):
            where = self.cross_site(request)
            if where is not None:
                return _error(403, CROSS_SITE.format(origin=where))
        if not self._has_token(request):
            if path == "/" and request.method in SAFE_METHODS:
                return Response(NO_TOKEN + "\n", status_code=401, media_type="text/plain; charset=utf-8")
            return _error(401, NO_TOKEN)
        if path == "/" and "token" in request.query_params:
            # keep the token in an HttpOnly cookie and out of the address bar and history
            resp: Response = RedirectResponse("/", status_code=303)
            resp.set_cookie(self.cookie, self.token, httponly=True, samesite="strict", path="/")
            return resp
        return await call_next(request)


def install_guard(app: FastAPI, token: str, allowed_hosts: Iterable[str] | None = None) -> Guard:
    """Put the guard in front of every route of ``app`` (added last: it runs first)."""
    guard = Guard(token, allowed_hosts)
    app.middleware("http")(guard)
    app.state.guard = guard
    return guard

"""HTTP service compatible with the reference server (FastAPI)."""

from screenstate.server.app import create_app

__all__ = ["create_app"]

"""Deployed-config stores: SQLite (default; survives restarts, safe for concurrent
writers through SQLite's own locking in WAL mode) and Redis (``redis://...``)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol


class ConfigStore(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, kind: str, value: str) -> None: ...
    def exists(self, key: str) -> bool: ...


class SQLiteStore:
    """One table ``configs(id, kind, body, updated)`` in a SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.execute(
                "CREATE TABLE IF NOT EXISTS configs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                "body TEXT NOT NULL, updated REAL NOT NULL)"
            )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> str | None:
        row = self._conn().execute("SELECT body FROM configs WHERE id = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set(self, key: str, kind: str, value: str) -> None:
        self._conn().execute(
            "INSERT INTO configs (id, kind, body, updated) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, body = excluded.body, updated = excluded.updated",
            (key, kind, value, time.time()),
        )

    def exists(self, key: str) -> bool:
        return self.get(key) is not None


class RedisStore:
    """Configs as Redis strings (``--store redis://host:6379/0``)."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError as e:
            raise ImportError("the Redis store needs the redis client: pip install redis") from e
        self._r = redis.Redis.from_url(url, decode_responses=True)

    def get(self, key: str) -> str | None:
        v = self._r.get(f"screenstate:{key}")
        return None if v is None else str(v)

    def set(self, key: str, kind: str, value: str) -> None:
        self._r.set(f"screenstate:{key}", value)

    def exists(self, key: str) -> bool:
        return bool(self._r.exists(f"screenstate:{key}"))


def open_store(spec: str | Path) -> ConfigStore:
    """``redis://...`` -> RedisStore, anything else is a SQLite file path."""
    s = str(spec)
    if s.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(s)
    return SQLiteStore(s)

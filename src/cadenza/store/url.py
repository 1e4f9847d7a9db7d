"""Where the store lives: the default SQLite file, and URLs normalised to async drivers."""

from __future__ import annotations

import os
from pathlib import Path

DATABASE_URL_ENV = "CADENZA_DATABASE_URL"


def data_dir() -> Path:
    """The user's Cadenza data directory: ``$CADENZA_HOME``, else ``$XDG_DATA_HOME/cadenza``."""
    home = os.environ.get("CADENZA_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "cadenza"


def default_database_url() -> str:
    """``$CADENZA_DATABASE_URL``, else a SQLite file in the data directory (no set-up needed)."""
    url = os.environ.get(DATABASE_URL_ENV)
    if url:
        return url
    return f"sqlite:///{data_dir() / 'cadenza.db'}"


def async_url(url: str) -> str:
    """The same URL with its async driver: ``sqlite`` -> aiosqlite, ``postgresql`` -> asyncpg."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        # A bare path is a SQLite file.
        return f"sqlite+aiosqlite:///{Path(url).expanduser()}"
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    return url


def is_sqlite(url: str) -> bool:
    return async_url(url).startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for an in-memory database)."""
    rest = async_url(url).split("://", 1)[1]
    path = rest[1:] if rest.startswith("/") else rest
    path = path.split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def redact(url: str) -> str:
    """The URL without its password, safe to show in messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url

"""Durable-run fixtures: the store fixtures (a fresh SQLite file / PostgreSQL database per test)."""

from tests.store.conftest import postgres_url, sqlite_url, store, store_url

__all__ = ["postgres_url", "sqlite_url", "store", "store_url"]

"""Fixtures every test may need. Service URLs come from the environment (see scripts/services.sh).

With CI=true, PostgreSQL and Redis are required: a test that needs one fails instead of skipping.
"""

from __future__ import annotations

import os
import tempfile

import pytest

PG_URL = os.environ.get("CADENZA_TEST_PG_URL", "postgresql://postgres:postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CADENZA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    """Keep the suite out of the user's own Cadenza data: runs stored by default go to a temp home.

    Set before any test (and inherited by every subprocess a test starts) unless the caller
    chose a home explicitly.
    """
    if "CADENZA_HOME" not in os.environ:
        os.environ["CADENZA_HOME"] = tempfile.mkdtemp(prefix="cadenza-test-home-")


def service_unavailable(what: str, reason: str) -> None:
    """Skip locally, fail in CI, when a service a test needs is not running."""
    message = f"{what} is not reachable ({reason}); run scripts/services.sh"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def pg_url() -> str:
    return PG_URL


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL

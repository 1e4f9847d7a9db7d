"""Abuse limits: per-key rate limits, login throttling, request timeouts, page caps."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.api.conftest import ApiServer, start_server


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """A server with low limits: 5 requests of burst per key, 3 per address unauthenticated."""
    path = tmp_path_factory.mktemp("strict") / "cadenza.db"
    server = start_server(
        f"sqlite:///{path}",
        rate_limit_per_second=0.5,
        rate_limit_burst=5,
        anonymous_rate_per_second=0.1,
        anonymous_rate_burst=3,
        max_page_size=3,
    )
    yield server
    server.stop()


def test_each_key_has_its_own_rate_limit(strict: ApiServer) -> None:
    with strict.client("viewer") as viewer, strict.client("operator") as operator:
        statuses = [viewer.get("/v1/workflows").status_code for _ in range(7)]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
        limited = viewer.get("/v1/workflows")
        assert limited.json()["error"]["type"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert operator.get("/v1/workflows").status_code == 200  # another key is not affected


def test_failed_logins_are_throttled_per_address(strict: ApiServer) -> None:
    codes = [
        httpx.post(
            f"{strict.base_url}/v1/auth/token", data={"username": "x", "password": "wrong pass"}
        ).status_code
        for _ in range(5)
    ]
    assert codes[:3] == [401] * 3 and codes[3:] == [429, 429]


def test_page_size_is_capped_by_the_server_setting(strict: ApiServer) -> None:
    with strict.client("admin") as admin:
        page = admin.get("/v1/users", params={"limit": 50}).json()
    assert page["limit"] == 3 and len(page["items"]) == 3 and page["next_offset"] == 3


def test_slow_requests_time_out_with_504(tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("timeout") / "cadenza.db"
    server = start_server(f"sqlite:///{path}", request_timeout_seconds=1e-6)
    try:
        with server.client(None) as client:
            response = client.get("/v1/ready")  # awaits the database: longer than a microsecond
            assert client.get("/v1/health").status_code == 200  # awaits nothing
    finally:
        server.stop()
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "timeout"

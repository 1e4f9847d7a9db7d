"""The search-backend protocol and the HTTP plumbing the web backends share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cadenza.errors import SearchError, SSRFError
from cadenza.tools.net import AddressRefused, NetworkPolicy, pooled_guarded_client

if TYPE_CHECKING:
    from cadenza.tools.search.results import SearchResult

USER_AGENT = "cadenza-search/0.1"


@runtime_checkable
class SearchBackend(Protocol):
    """Anything with a ``name`` and ``async search(query, limit)`` returning ranked results."""

    name: str

    async def search(self, query: str, limit: int) -> list[SearchResult]: ...


class HTTPBackend:
    """A web search API behind the SSRF guard (a self-hosted one may need ``policy`` to allow it)."""

    name = "http"

    def __init__(self, base_url: str, *, policy: NetworkPolicy | None = None, timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or NetworkPolicy()
        self.timeout = timeout

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send a request; returns the response (status checked), raising ``SearchError``."""
        import httpx2

        client = pooled_guarded_client(self.policy, self.timeout, USER_AGENT)
        url = f"{self.base_url}{path}"
        try:
            response = await client.request(method, url, params=params, json=json, data=data, headers=headers)
        except AddressRefused as refused:
            raise SSRFError("web_search", url, refused.address, refused.reason) from None
        except httpx2.TimeoutException:
            raise SearchError(self.name, f"timed out after {self.timeout} s") from None
        except httpx2.HTTPError as exc:
            raise SearchError(self.name, f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 400:
            raise SearchError(self.name, _status_message(response.status_code), response.status_code)
        return response

    async def get_json(self, path: str, **options: Any) -> Any:
        response = await self.request("GET", path, **options)
        return _json(self.name, response)

    async def post_json(self, path: str, **options: Any) -> Any:
        response = await self.request("POST", path, **options)
        return _json(self.name, response)


def _json(backend: str, response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        raise SearchError(backend, "the response is not JSON", response.status_code) from None


def _status_message(status: int) -> str:
    if status in (401, 403):
        return f"HTTP {status}: the API key is missing, wrong or not allowed to search"
    if status == 429:
        return "HTTP 429: rate limited, try again later"
    return f"HTTP {status}"


def require(data: Any, backend: str, *path: str) -> Any:
    """Walk ``path`` into a JSON response, with a ``SearchError`` naming what is missing."""
    current = data
    for key in path:
        if not isinstance(current, dict) or key not in current:
            raise SearchError(backend, f"unexpected response: no {'.'.join(path)!r}")
        current = current[key]
    return current

"""The network guard for tools that fetch URLs the model chose: no SSRF.

The model is outside the trust boundary, so a URL it hands a tool may point at the cloud's
metadata service, a database on the private network or a port on localhost. The guard sits in
the HTTP client's connection layer: every new connection resolves its host (through a resolver
hook or the system's DNS), refuses it if *any* address is loopback, private, link-local,
multicast, reserved or otherwise not public, and then connects to the vetted address itself, so
a second DNS answer (rebinding) cannot swap the target. Redirects open new connections and are
checked the same way. ``NetworkPolicy`` says what to allow (loopback for tests and local
services, whole networks for an intranet deployment).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx2

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(Exception):
    """Raised in the connection layer; fetching tools turn it into ``SSRFError`` with the URL."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        super().__init__(f"{host}: address {address} is {reason}")


@dataclass(frozen=True)
class NetworkPolicy:
    """Which addresses a fetching tool may connect to. The default allows public addresses only.

    ``allowed_networks`` (CIDR strings) are allowed whatever their kind, ``blocked_networks``
    refused whatever the flags say. ``resolver`` replaces DNS: an async ``(host, port) ->
    addresses`` function (custom DNS, service discovery, and tests that make a name resolve to a
    private address).
    """

    allow_loopback: bool = False
    allow_private: bool = False
    allow_link_local: bool = False
    allowed_networks: tuple[str, ...] = ()
    blocked_networks: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] | None = None
    resolver: Resolver | None = None

    @classmethod
    def local(cls, **options: Any) -> NetworkPolicy:
        """A policy that also allows this machine (loopback): tests, a local SearXNG, a dev box."""
        return cls(allow_loopback=True, **options)

    @cached_property
    def _allowed(self) -> list[IPNetwork]:
        return [ipaddress.ip_network(n, strict=False) for n in self.allowed_networks]

    @cached_property
    def _blocked(self) -> list[IPNetwork]:
        return [ipaddress.ip_network(n, strict=False) for n in self.blocked_networks]

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached, or ``None`` when it may."""
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            address = mapped
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            # 6to4, Teredo and NAT64 addresses lead to an IPv4 address: judge that one too.
            reason = self.refusal(embedded)
            if reason is not None:
                return f"{reason}: {embedded}, embedded in {address}"
        for network in self._blocked:
            if address in network:
                return f"in the blocked network {network}"
        for network in self._allowed:
            if address in network:
                return None
        return self._kind_refusal(address)

    def _kind_refusal(self, address: IPAddress) -> str | None:
        if address.is_unspecified:
            return "unspecified (0.0.0.0 or ::), which reaches this machine"
        if address.is_loopback:
            return None if self.allow_loopback else "a loopback address (this machine)"
        if address.is_link_local:
            return None if self.allow_link_local else "link-local (where cloud metadata services live)"
        if address.is_multicast:
            return "a multicast address"
        if address.is_private or address in _SHARED:
            return None if self.allow_private else "a private-network address"
        if address.is_reserved:
            return "a reserved address"
        if not address.is_global:
            return "not a public address"
        return None

    def check_port(self, host: str, port: int) -> None:
        if self.allowed_ports is not None and port not in self.allowed_ports:
            raise AddressRefused(host, f"port {port}", f"not an allowed port ({self.allowed_ports})")

    async def vet(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and return its addresses if every one of them is allowed."""
        self.check_port(host, port)
        literal = _ip_literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            addresses = await self._resolve(host, port)
            if not addresses:
                raise AddressRefused(host, host, "a name that does not resolve")
        for text in addresses:
            address = ipaddress.ip_address(text)
            reason = self.refusal(address)
            if reason is not None:
                mapped = getattr(address, "ipv4_mapped", None)
                raise AddressRefused(host, str(mapped or address), reason)
        return addresses

    async def _resolve(self, host: str, port: int) -> list[str]:
        if self.resolver is not None:
            return list(await self.resolver(host, port))
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise AddressRefused(host, host, f"a name that does not resolve ({exc.strerror})") from None
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: private in practice
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _guarded_backend(policy: NetworkPolicy) -> Any:
    """An httpcore network backend that vets every connection and connects to the vetted IP."""
    import httpcore2

    class GuardedBackend(httpcore2.AsyncNetworkBackend):
        def __init__(self) -> None:
            self.inner = httpcore2.AnyIOBackend()  # the backend httpx uses under asyncio

        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> httpcore2.AsyncNetworkStream:
            addresses = await policy.vet(host, port)
            last: Exception | None = None
            for address in addresses:
                try:
                    return await self.inner.connect_tcp(
                        address,
                        port,
                        timeout=timeout,
                        local_address=local_address,
                        socket_options=socket_options,
                    )
                except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                    last = exc
            assert last is not None
            raise last

        async def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
        ) -> httpcore2.AsyncNetworkStream:
            raise AddressRefused(path, path, "a unix socket")

        async def sleep(self, seconds: float) -> None:
            await self.inner.sleep(seconds)

    return GuardedBackend()


def guarded_client(policy: NetworkPolicy, timeout: float, user_agent: str) -> httpx2.AsyncClient:
    """An HTTP client whose every connection goes through ``policy``; it never follows redirects
    by itself (callers follow them hop by hop) and ignores proxy settings from the environment,
    since a proxy would hide the real destination from the guard.
    """
    import httpcore2
    import httpx2

    transport = httpx2.AsyncHTTPTransport(trust_env=False)
    # The documented transport has no network-backend option; swap in a pool that has one.
    transport._pool = httpcore2.AsyncConnectionPool(
        ssl_context=httpx2.create_ssl_context(trust_env=False),
        network_backend=_guarded_backend(policy),
        max_connections=50,
        max_keepalive_connections=10,
    )
    return httpx2.AsyncClient(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx2.Timeout(timeout),
        headers={"User-Agent": user_agent},
    )


def pooled_guarded_client(policy: NetworkPolicy, timeout: float, user_agent: str) -> httpx2.AsyncClient:
    """One guarded client per policy and event loop (connection pools are per loop)."""
    from cadenza.models._clients import pooled_client

    return pooled_client(
        ("cadenza.tools.net", policy, timeout, user_agent),
        lambda: guarded_client(policy, timeout, user_agent),
    )

"""``fetch_url`` against real local HTTP servers: extraction, limits, and SSRF refusals.

No test sends traffic anywhere but loopback: refusals happen before a connection is opened.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from tests.tools._http import Reply, Request, Server, html, serve
from tests.tools._models import calls_tool

from cadenza import Agent
from cadenza.errors import FetchError, SSRFError, ToolError
from cadenza.tools import fetch_url
from cadenza.tools.fetch import FetchSettings, fetch_page, make_fetch_tool
from cadenza.tools.net import NetworkPolicy
from cadenza.types.events import ToolCalled

ARTICLE = """<!doctype html><html><head><title>Tidal power in Brittany</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About</a> | <a href="/shop">Shop</a></nav>
<article><h1>Tidal power in Brittany</h1>
<p>The Rance tidal power station has produced electricity since 1966. Its 24 turbines have a peak
output of 240 megawatts, and it generates about 500 gigawatt-hours a year.</p>
<p>Engineers chose the Rance estuary because its tidal range reaches 13.5 metres, among the largest
in the world, which makes the barrage unusually productive for its size.</p>
<p>Critics point to the silting of the estuary and the changes to its ecosystem during the
construction years, although species returned within a decade.</p>
</article>
<footer>Copyright 2024 Example Media. Cookie settings. Subscribe to our newsletter.</footer>
</body></html>"""

LOCAL = FetchSettings(policy=NetworkPolicy.local(), timeout=5)


def _redirect(location: str) -> object:
    def handler(request: Request) -> Reply:
        return 302, {"Location": location}, b""

    return handler


def _slow(request: Request) -> Reply:
    time.sleep(2)
    return html("<p>late</p>")


@pytest.fixture
def site() -> Iterator[Server]:
    routes = {
        "/article": lambda r: html(ARTICLE),
        "/plain": lambda r: (200, {"Content-Type": "text/plain; charset=utf-8"}, "café au lait".encode()),
        "/image": lambda r: (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n"),
        "/big": lambda r: (200, {"Content-Type": "text/plain"}, b"x" * 200_000),
        "/missing": lambda r: (404, {"Content-Type": "text/plain"}, b"nope"),
        "/hop": _redirect("/article"),
        "/loop": _redirect("/loop"),
        "/slow": _slow,
    }
    with serve(routes) as server:  # type: ignore[arg-type]
        yield server


async def test_extracts_the_main_content_without_boilerplate(site: Server) -> None:
    page = await fetch_page(site.url("/article"), LOCAL)
    assert page.title == "Tidal power in Brittany"
    assert "240 megawatts" in page.text and "13.5 metres" in page.text
    assert "Cookie settings" not in page.text and "Shop" not in page.text
    assert page.status == 200 and page.content_type == "text/html"


async def test_plain_text_is_decoded_with_its_charset(site: Server) -> None:
    page = await fetch_page(site.url("/plain"), LOCAL)
    assert page.text == "café au lait"


async def test_redirects_are_followed_and_recorded(site: Server) -> None:
    page = await fetch_page(site.url("/hop"), LOCAL)
    assert page.final_url == site.url("/article")
    assert page.redirects == [site.url("/hop")]


@pytest.mark.parametrize(
    ("path", "settings", "message"),
    [
        ("/image", LOCAL, "content type 'image/png' is not text or HTML"),
        ("/big", FetchSettings(policy=NetworkPolicy.local(), max_bytes=50_000), "50000-byte limit"),
        ("/missing", LOCAL, "HTTP 404"),
        ("/loop", LOCAL, "more than 5 redirects"),
        ("/slow", FetchSettings(policy=NetworkPolicy.local(), timeout=0.5), "timed out after 0.5 s"),
    ],
)
async def test_limits_and_failures_raise_fetch_error(
    site: Server, path: str, settings: FetchSettings, message: str
) -> None:
    with pytest.raises(FetchError) as caught:
        await fetch_page(site.url(path), settings)
    assert message in str(caught.value)


async def test_non_http_schemes_are_refused() -> None:
    with pytest.raises(FetchError, match="only http and https"):
        await fetch_url("file:///etc/passwd")


# --- SSRF: every refusal names the address and why ---


@pytest.mark.parametrize(
    ("url", "address", "reason"),
    [
        ("http://10.0.0.7/admin", "10.0.0.7", "private-network"),
        ("http://192.168.1.1/", "192.168.1.1", "private-network"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"),
        ("http://127.0.0.1:9/", "127.0.0.1", "loopback"),
        ("http://[::1]:9/", "::1", "loopback"),
        ("http://[::ffff:10.1.1.1]/", "10.1.1.1", "private-network"),
        ("http://0.0.0.0:9/", "0.0.0.0", "unspecified"),
        ("http://100.64.0.1/", "100.64.0.1", "private-network"),
        ("http://localhost:9/", "127.0.0.1", "loopback"),
        # other spellings of 127.0.0.1, resolved by the system's resolver, then refused
        ("http://2130706433:9/", "127.0.0.1", "loopback"),
        ("http://0x7f000001:9/", "127.0.0.1", "loopback"),
        ("http://017700000001:9/", "127.0.0.1", "loopback"),
        ("http://127.1:9/", "127.0.0.1", "loopback"),
        # IPv6 addresses that lead to a private IPv4 address: 6to4, NAT64, Teredo
        ("http://[2002:a00:1::1]/", "2002:a00:1::1", "private-network address: 10.0.0.1, embedded in"),
        ("http://[64:ff9b::a00:1]/", "64:ff9b::a00:1", "private-network address: 10.0.0.1, embedded in"),
        (
            "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/",
            "2001:0:4136:e378:8000:63bf:f5ff:fffe",
            "10.0.0.1",
        ),
    ],
)
async def test_private_addresses_are_refused_by_a_direct_call(url: str, address: str, reason: str) -> None:
    with pytest.raises(SSRFError) as caught:
        await fetch_url(url)
    error = caught.value
    assert error.address == address
    assert reason in error.reason
    assert address in str(error) and isinstance(error, ToolError)


async def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return {
            "intranet.example.com": ["10.20.30.40"],
            "mixed.example.com": ["93.184.215.14", "192.168.0.9"],
        }[host]

    settings = FetchSettings(policy=NetworkPolicy(resolver=resolver))
    with pytest.raises(SSRFError, match=r"address 10\.20\.30\.40 is a private-network address"):
        await fetch_page("http://intranet.example.com/", settings)
    # one bad address among good ones is enough to refuse (no DNS-rebinding lottery)
    with pytest.raises(SSRFError, match=r"192\.168\.0\.9"):
        await fetch_page("https://mixed.example.com/", settings)


async def test_a_redirect_to_loopback_or_private_is_refused() -> None:
    """The first hop is allowed (an explicitly allowed network); the redirect target is not."""
    routes = {
        "/to-loopback": _redirect("http://127.0.0.1:1/secret"),
        "/to-localhost": _redirect("http://localhost:1/secret"),
        "/to-metadata": _redirect("http://169.254.169.254/latest/meta-data/"),
        "/to-file": _redirect("file:///etc/passwd"),
        "/article": lambda r: html(ARTICLE),
    }
    with serve(routes, host="127.0.0.2") as server:  # type: ignore[arg-type]
        settings = FetchSettings(policy=NetworkPolicy(allowed_networks=("127.0.0.2/32",)))
        assert "240 megawatts" in (await fetch_page(server.url("/article"), settings)).text
        for path, address in [("/to-loopback", "127.0.0.1"), ("/to-localhost", "127.0.0.1")]:
            with pytest.raises(SSRFError) as caught:
                await fetch_page(server.url(path), settings)
            assert caught.value.address == address and "loopback" in caught.value.reason
        with pytest.raises(SSRFError, match=r"169\.254\.169\.254 is link-local"):
            await fetch_page(server.url("/to-metadata"), settings)
        with pytest.raises(
            FetchError, match="only http and https URLs can be fetched, not 'file:///etc/passwd'"
        ):
            await fetch_page(server.url("/to-file"), settings)


async def test_blocked_networks_override_allowances(site: Server) -> None:
    settings = FetchSettings(policy=NetworkPolicy.local(blocked_networks=("127.0.0.0/8",)))
    with pytest.raises(SSRFError, match=r"blocked network 127\.0\.0\.0/8"):
        await fetch_page(site.url("/article"), settings)


async def test_in_a_run_a_refused_fetch_goes_back_to_the_model_as_a_tool_error() -> None:
    agent = Agent("researcher", model=calls_tool("fetch_url", url="http://10.0.0.7/admin"), tools=[fetch_url])
    result = await agent.run("Fetch the admin page")
    (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
    assert call.output is None and call.error is not None
    assert "address 10.0.0.7 is a private-network address" in call.error


async def test_a_configured_fetch_tool_reads_a_local_page_in_a_run(site: Server) -> None:
    model = calls_tool("fetch_url", url=site.url("/article"))
    agent = Agent("researcher", model=model, tools=[make_fetch_tool(LOCAL)])
    result = await agent.run("Fetch the article and summarise it")
    (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
    assert call.error is None and call.output is not None
    assert call.output.startswith("Title: Tidal power in Brittany")
    assert "240 megawatts" in result.output

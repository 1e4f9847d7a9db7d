"""``web_search``: each backend against a local server speaking its documented response format,
the local corpus over SQLite FTS5 and PostgreSQL, and merging, ranking and failures."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import service_unavailable
from tests.tools._http import Reply, Request, Server, html, json_reply, serve

from cadenza import Agent
from cadenza.errors import ConfigurationError, SearchError, SSRFError
from cadenza.tools.net import NetworkPolicy
from cadenza.tools.search import (
    SearchResult,
    make_search_tool,
    merge,
    normalize_url,
    reliability_note,
    search,
)
from cadenza.tools.search.brave import Brave
from cadenza.tools.search.duckduckgo import DuckDuckGo
from cadenza.tools.search.local import LocalCorpus
from cadenza.tools.search.searxng import SearXNG
from cadenza.tools.search.tavily import Tavily
from cadenza.types.events import ToolCalled

LOCAL = NetworkPolicy.local()

# --- each backend's documented response format ---


def _searxng(request: Request) -> Reply:
    if request.query.get("format") != ["json"]:
        return 403, {}, b"Forbidden"  # what SearXNG does when JSON output is disabled
    q = request.query["q"][0]
    return json_reply(
        {
            "query": q,
            "number_of_results": 0,
            "results": [
                {
                    "url": "https://en.wikipedia.org/wiki/Rance_Tidal_Power_Station",
                    "title": "Rance Tidal Power Station - Wikipedia",
                    "content": "The Rance Tidal Power Station is a tidal power station in Brittany.",
                    "engine": "wikipedia",
                    "engines": ["wikipedia", "bing"],
                    "positions": [1],
                    "score": 4.5,
                    "category": "general",
                    "publishedDate": None,
                },
                {
                    "url": "https://www.edf.fr/en/rance?utm_source=searx",
                    "title": "La Rance tidal power plant",
                    "content": "EDF operates the plant with 24 turbines.",
                    "engine": "bing",
                    "engines": ["bing"],
                    "positions": [2],
                    "score": 1.0,
                    "category": "general",
                },
            ],
            "answers": [],
            "corrections": [],
            "infoboxes": [],
            "suggestions": ["rance barrage"],
            "unresponsive_engines": [],
        }
    )


def _brave(request: Request) -> Reply:
    if request.headers.get("x-subscription-token") != "brave-key":
        return json_reply({"type": "ErrorResponse", "error": {"code": "SUBSCRIPTION_TOKEN_INVALID"}}, 401)
    count = int(request.query["count"][0])
    results = [
        {
            "type": "search_result",
            "title": "The <strong>Rance</strong> barrage",
            "url": "https://edf.fr/en/rance",
            "description": "Operating since 1966, the <strong>Rance</strong> plant produces 500&nbsp;GWh.",
            "page_age": "2023-04-01T00:00:00",
            "language": "en",
            "meta_url": {"scheme": "https", "netloc": "edf.fr", "hostname": "edf.fr", "path": "› en › rance"},
        },
        {
            "type": "search_result",
            "title": "Tidal power discussion",
            "url": "https://www.reddit.com/r/energy/comments/abc/tidal/",
            "description": "Anyone visited <strong>La Rance</strong>?",
            "language": "en",
        },
    ]
    return json_reply(
        {
            "type": "search",
            "query": {"original": request.query["q"][0]},
            "web": {"type": "search", "results": results[:count]},
        }
    )


def _tavily(request: Request) -> Reply:
    if request.headers.get("authorization") != "Bearer tvly-key":
        return json_reply({"detail": {"error": "Unauthorized: missing or invalid API key."}}, 401)
    body = request.json()
    return json_reply(
        {
            "query": body["query"],
            "answer": None,
            "images": [],
            "results": [
                {
                    "title": "Tidal power - energy.gov",
                    "url": "https://www.energy.gov/eere/water/tidal-power",
                    "content": "Tidal energy is produced by the surge of ocean waters.",
                    "score": 0.91,
                    "raw_content": None,
                }
            ][: body["max_results"]],
            "response_time": 1.05,
        }
    )


DDG_PAGE = """<html><body><div id="links" class="results">
<div class="result results_links results_links_deep result--ad">
 <h2 class="result__title"><a class="result__a" href="https://ads.example.com/buy">Buy turbines</a></h2>
 <a class="result__snippet">Sponsored</a></div>
<div class="result results_links results_links_deep web-result">
 <div class="links_main links_deep result__body">
  <h2 class="result__title"><a rel="nofollow" class="result__a"
   href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fen.wikipedia.org%2Fwiki%2FTidal_power&amp;rut=abc"
   >Tidal <b>power</b> - Wikipedia</a></h2>
  <a class="result__snippet" href="//duckduckgo.com/l/?uddg=x"
   >Tidal <b>power</b> or tidal energy is harnessed by converting energy from tides.</a>
 </div></div>
<div class="result results_links results_links_deep web-result">
 <h2 class="result__title"><a class="result__a"
   href="//duckduckgo.com/l/?uddg=http%3A%2F%2Fexample-blog.net%2Ftides&amp;rut=def"
   >A blog about tides</a></h2>
 <a class="result__snippet">Personal notes.</a></div>
</div></body></html>"""


def _ddg(request: Request) -> Reply:
    assert request.method == "POST" and b"q=" in request.body
    return html(DDG_PAGE)


@pytest.fixture
def apis() -> Iterator[Server]:
    routes = {
        "/search": lambda r: _tavily(r) if r.method == "POST" else _searxng(r),
        "/res/v1/web/search": _brave,
        "/html/": _ddg,
        "/broken/search": lambda r: (500, {}, b"oops"),
        "/notjson/search": lambda r: html("<p>hello</p>"),
    }
    with serve(routes) as server:  # type: ignore[arg-type]
        yield server


async def test_searxng(apis: Server) -> None:
    results = await SearXNG(apis.url(""), policy=LOCAL).search("rance tidal", 5)
    assert [r.url for r in results] == [
        "https://en.wikipedia.org/wiki/Rance_Tidal_Power_Station",
        "https://www.edf.fr/en/rance?utm_source=searx",
    ]
    assert results[0].snippet.startswith("The Rance Tidal Power Station")
    assert apis.requests[-1].query["q"] == ["rance tidal"]


async def test_brave_strips_markup_and_sends_the_key(apis: Server) -> None:
    results = await Brave("brave-key", base_url=apis.url(""), policy=LOCAL).search("rance", 1)
    assert len(results) == 1
    assert results[0].title == "The Rance barrage"
    assert results[0].snippet == "Operating since 1966, the Rance plant produces 500\xa0GWh."
    with pytest.raises(SearchError, match="HTTP 401: the API key is missing, wrong"):
        await Brave("wrong", base_url=apis.url(""), policy=LOCAL).search("rance", 1)


def test_brave_and_tavily_need_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRAVE_API_KEY", raising=False)
    monkeypatch.delenv("TAVILY_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="BRAVE_API_KEY"):
        Brave()
    with pytest.raises(ConfigurationError, match="TAVILY_API_KEY"):
        Tavily()


async def test_tavily(apis: Server) -> None:
    results = await Tavily("tvly-key", base_url=apis.url(""), policy=LOCAL).search("tidal", 3)
    assert [(r.title, r.source) for r in results] == [("Tidal power - energy.gov", "tavily")]
    assert apis.requests[-1].json() == {"query": "tidal", "max_results": 3, "search_depth": "basic"}


async def test_duckduckgo_parses_results_skips_ads_and_unwraps_links(apis: Server) -> None:
    results = await DuckDuckGo(base_url=apis.url(""), policy=LOCAL).search("tidal power", 5)
    assert [r.url for r in results] == [
        "https://en.wikipedia.org/wiki/Tidal_power",
        "http://example-blog.net/tides",
    ]
    assert results[0].title == "Tidal power - Wikipedia"
    assert results[0].snippet.startswith("Tidal power or tidal energy")


async def test_backend_failures_are_search_errors(apis: Server) -> None:
    with pytest.raises(SearchError, match="searxng: HTTP 500"):
        await SearXNG(apis.url("/broken"), policy=LOCAL).search("x", 3)
    with pytest.raises(SearchError, match="not JSON"):
        await SearXNG(apis.url("/notjson"), policy=LOCAL).search("x", 3)


async def test_a_backend_on_a_private_address_needs_an_explicit_policy(apis: Server) -> None:
    with pytest.raises(SSRFError, match=r"127\.0\.0\.1 is a loopback address"):
        await SearXNG(apis.url("")).search("x", 3)


# --- merging, ranking, reliability ---


async def test_search_merges_backends_dedupes_and_ranks(apis: Server) -> None:
    backends = [
        SearXNG(apis.url(""), policy=LOCAL),
        Brave("brave-key", base_url=apis.url(""), policy=LOCAL),
        DuckDuckGo(base_url=apis.url(""), policy=LOCAL),
    ]
    answer = await search(backends, "rance tidal power", 10)
    results = answer["results"]
    urls = [normalize_url(r["url"]) for r in results]
    assert len(urls) == len(set(urls)), "duplicates were merged"
    # edf.fr is found by SearXNG (www., utm_source) and Brave: it is merged and ranks first
    assert results[0]["url"] == "https://www.edf.fr/en/rance?utm_source=searx"
    assert results[0]["sources"] == ["searxng", "brave"]
    assert "found by 2 backends" in results[0]["reliability"]
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1))
    assert "warnings" not in answer


def test_reliability_notes() -> None:
    assert "encyclopedia" in reliability_note("https://en.wikipedia.org/wiki/X", "searxng")
    assert "government" in reliability_note("https://www.energy.gov/x", "tavily")
    assert "user-generated" in reliability_note("https://www.reddit.com/r/x", "brave")
    assert "not served over HTTPS" in reliability_note("http://example-blog.net/x", "duckduckgo")
    assert reliability_note("file:///docs/a.md", "local") == "from the local document collection"


def test_normalize_url_ignores_noise_but_not_content() -> None:
    assert normalize_url("https://www.Example.com/a/?utm_source=x&id=3#top") == normalize_url(
        "http://example.com/a?id=3"
    )
    assert normalize_url("https://example.com/a?id=3") != normalize_url("https://example.com/a?id=4")


def test_merge_caps_and_keeps_the_longer_snippet() -> None:
    a = [SearchResult("A", "https://a.org/x", "short", "one"), SearchResult("B", "https://b.org", "b", "one")]
    b = [SearchResult("A", "https://a.org/x/", "a much longer snippet", "two")]
    merged = merge([a, b], 1)
    assert len(merged) == 1 and merged[0].snippet == "a much longer snippet"


async def test_one_failed_backend_becomes_a_warning_all_failed_an_error(apis: Server) -> None:
    answer = await search(
        [SearXNG(apis.url(""), policy=LOCAL), SearXNG(apis.url("/broken"), policy=LOCAL)], "q", 5
    )
    assert answer["results"] and answer["warnings"] == ["searxng: HTTP 500"]
    with pytest.raises(SearchError, match="all backends: searxng: HTTP 500; searxng: HTTP 500"):
        await search([SearXNG(apis.url("/broken"), policy=LOCAL)] * 2, "q", 5)


# --- the local corpus ---

DOCS = {
    "tidal.md": "# Tidal power in Brittany\n\nThe Rance barrage produces 500 GWh a year from the tides.\n",
    "wind.txt": "Offshore wind farms in the North Sea keep growing.\n\nTurbines are getting larger.",
    "notes/solar.html": "<html><head><title>Solar notes</title></head><body><article><p>Photovoltaic "
    "panels convert sunlight into electricity; their efficiency keeps improving every year.</p></article>"
    "</body></html>",
}


@pytest.fixture
def corpus_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    for name, text in DOCS.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


async def _exercise_corpus(corpus: LocalCorpus, folder: Path) -> int:
    """Search, update and re-index a corpus, asserting each step; returns the searches made."""
    results = await corpus.search("tidal barrage", 5)
    assert results[0].title == "Tidal power in Brittany"
    assert results[0].url.startswith((folder / "tidal.md").as_uri())
    assert "[barrage]" in results[0].snippet
    solar = await corpus.search("photovoltaic sunlight", 5)
    assert [r.title for r in solar] == ["Solar notes"]
    # edit a file, delete another: the next search sees both changes
    (folder / "wind.txt").write_text("Geothermal plants in Iceland heat Reykjavik.")
    (folder / "tidal.md").unlink()
    assert await corpus.search("tidal barrage", 5) == []
    assert (await corpus.search("geothermal", 5))[0].snippet.startswith("[Geothermal]")
    assert await corpus.search("offshore turbines", 5) == []
    assert await corpus.refresh() == 0, "nothing changed since the last search"
    return 6


async def test_local_corpus_on_sqlite_fts5(corpus_folder: Path, tmp_path: Path) -> None:
    corpus = LocalCorpus(corpus_folder, index_url=str(tmp_path / "index.db"))
    try:
        assert await _exercise_corpus(corpus, corpus_folder) == 6
    finally:
        await corpus.close()
    # the index persists: a new corpus object over the same file has nothing to re-index
    again = LocalCorpus(corpus_folder, index_url=str(tmp_path / "index.db"))
    try:
        assert await again.refresh() == 0
    finally:
        await again.close()


async def test_local_corpus_on_postgresql(corpus_folder: Path, pg_url: str) -> None:
    import asyncpg

    try:
        conn = await asyncpg.connect(pg_url, timeout=3)
        await conn.close()
    except (OSError, asyncpg.PostgresError) as exc:
        service_unavailable("PostgreSQL", str(exc))
    corpus = LocalCorpus(corpus_folder, index_url=pg_url)
    corpus.namespace = f"corpus:test-{uuid.uuid4().hex}"
    try:
        assert await _exercise_corpus(corpus, corpus_folder) == 6
    finally:
        index = await corpus.index()
        await index.delete(corpus.namespace)
        await index.delete(corpus.namespace + ":files")
        await corpus.close()


def test_a_corpus_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is not a folder"):
        LocalCorpus(tmp_path / "missing")


async def test_web_search_in_a_run_on_the_offline_model(corpus_folder: Path, tmp_path: Path) -> None:
    corpus = LocalCorpus(corpus_folder, index_url=str(tmp_path / "index.db"))
    agent = Agent("researcher", tools=[make_search_tool([corpus])])
    try:
        result = await agent.run("Search for the tidal barrage")
    finally:
        await corpus.close()
    (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
    assert call.error is None and call.output is not None
    answer = json.loads(call.output)
    assert answer["results"][0]["title"] == "Tidal power in Brittany"
    assert answer["results"][0]["reliability"] == "from the local document collection"


def test_the_default_tool_reads_its_backends_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, corpus_folder: Path
) -> None:
    from cadenza.tools.search.tool import backends_from_environment

    for name in ("SEARXNG_URL", "BRAVE_API_KEY", "TAVILY_API_KEY", "CADENZA_SEARCH_CORPUS"):
        monkeypatch.delenv(name, raising=False)
    assert [b.name for b in backends_from_environment()] == ["duckduckgo"]
    monkeypatch.setenv("SEARXNG_URL", "http://searx.internal:8080")
    monkeypatch.setenv("BRAVE_API_KEY", "k")
    monkeypatch.setenv("CADENZA_SEARCH_CORPUS", os.fspath(corpus_folder))
    assert [b.name for b in backends_from_environment()] == ["searxng", "brave", "local"]


async def test_a_failing_search_in_a_run_goes_back_to_the_model_as_a_tool_error(apis: Server) -> None:
    tool = make_search_tool([Brave("wrong-key", base_url=apis.url(""), policy=LOCAL)])
    agent = Agent("researcher", tools=[tool])
    result = await agent.run("Search for the tidal barrage")
    (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
    assert call.output is None
    assert call.error == "brave: HTTP 401: the API key is missing, wrong or not allowed to search"

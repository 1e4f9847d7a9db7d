"""``cadenza demo`` searches the example's own corpus with web_search, offline.

The network is switched off for these tests (any TCP/UDP connect or DNS lookup raises), so a
passing demo proves the search ran on the local corpus and nothing else.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest
from typer.testing import CliRunner

from cadenza.cli.app import app

CORPUS = Path(__file__).resolve().parents[2] / "examples" / "market_analysis" / "corpus"
runner = CliRunner()


class NetworkUsed(AssertionError):
    pass


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A fresh home (a new store and corpus index) and no network at all."""
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CADENZA_DATABASE_URL", raising=False)
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise NetworkUsed(f"the demo opened a network connection to {address}")
        real_connect(self, address)

    def no_dns(*args: Any, **kwargs: Any) -> Any:
        raise NetworkUsed(f"the demo looked up {args[:1]}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)


def heading(document: Path) -> str:
    return document.read_text(encoding="utf-8").splitlines()[0].removeprefix("# ")


def test_the_demo_run_calls_web_search_over_the_shipped_corpus() -> None:
    ran = runner.invoke(app, ["demo", "--json"])
    assert ran.exit_code == 0, ran.output
    run_id = json.loads(ran.stdout)["run_id"]
    shown = runner.invoke(app, ["runs", "show", run_id, "--json", "--events"])
    assert shown.exit_code == 0, shown.output
    events = json.loads(shown.stdout)["events"]
    searches = [e for e in events if e["type"] == "tool_call" and e["tool"] == "web_search"]
    assert len(searches) == 2  # one per researcher
    assert {e["path"].split("/")[2].split(":")[1] for e in searches} == {
        "market_researcher",
        "competitor_researcher",
    }
    cited: dict[str, str] = {}
    for event in searches:
        assert event["error"] is None
        answer = json.loads(event["output"])
        assert answer["results"] and "warnings" not in answer
        for result in answer["results"]:
            assert result["source"] == "local"
            document = Path(unquote(urlparse(result["url"]).path))
            assert document.parent == CORPUS and document.is_file()
            assert result["title"] == heading(document)  # a real document of the corpus, cited
            cited[document.name] = result["title"]
    assert {"market_size.md", "competitors.md"} <= set(cited)


def test_the_demo_explains_what_the_search_found() -> None:
    ran = runner.invoke(app, ["demo"])
    assert ran.exit_code == 0, ran.output
    text = " ".join(ran.stderr.replace("│", " ").split())  # unwrap the panel
    assert "called web_search 2 time(s) over the research notes in corpus/" in text
    assert "no network" in text
    for name in ("market_size.md", "competitors.md"):
        assert heading(CORPUS / name) in text and f"(corpus/{name})" in text


def test_the_corpus_says_it_is_illustrative() -> None:
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert "illustrative" in readme.lower() and "fictional" in readme
    assert len([p for p in CORPUS.glob("*.md") if p.name != "README.md"]) >= 4

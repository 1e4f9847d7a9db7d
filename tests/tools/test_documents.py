"""``read_document`` on real sample files of every type, chunking, and key points with an agent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.tools._http import serve
from tests.tools._models import calls_tool
from tests.tools._samples import PARAGRAPHS, write_all, write_pdf

from cadenza import Agent, FunctionModel
from cadenza.errors import DocumentError, FetchError, SSRFError, ToolError
from cadenza.models.base import ModelRequest
from cadenza.tools.documents import (
    DocumentSettings,
    chunk_text,
    clean_text,
    load_document,
    make_document_tool,
    read_document,
)
from cadenza.tools.fetch import FetchSettings
from cadenza.tools.keypoints import KeyPointExtractor, KeyPoints, extract_key_points
from cadenza.tools.net import NetworkPolicy
from cadenza.types.events import ToolCalled
from cadenza.types.messages import Message

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_all(tmp_path_factory.mktemp("docs"))


@pytest.mark.parametrize(
    ("kind", "title", "must_contain", "metadata"),
    [
        (
            "pdf",
            "Rance report",
            ["## Page 2", "240 megawatts", "12 percent"],
            {"pages": 2, "author": "Operations"},
        ),
        (
            "docx",
            "Rance annual report",
            ["# Rance annual report", "## Costs", "| 2023 | 498 |", "- Refurbish turbines"],
            {"author": "Operations team", "tables": 1},
        ),
        (
            "xlsx",
            "Rance figures",
            ["## Sheet: Output", "| 2023 | 498 |", "=B2+B3", "## Sheet: Costs", "| Turbines | 1200000 |"],
            {"sheets": 2, "author": "Finance"},
        ),
        (
            "pptx",
            "Rance briefing",
            ["## Slide 1: Overview", "## Slide 2: Costs", "Notes: Mention the 1966 opening."],
            {"slides": 2},
        ),
        ("html", "Rance page", [PARAGRAPHS[0], PARAGRAPHS[2]], {}),
        ("markdown", "Rance notes", ["# Notes", PARAGRAPHS[1]], {"author": "Field team"}),
        ("text", None, ["Tidal range facts.", "A hyphenated word."], {}),
    ],
)
def test_each_format_becomes_clean_text_with_metadata(
    samples: dict[str, Path],
    kind: str,
    title: str | None,
    must_contain: list[str],
    metadata: dict[str, object],
) -> None:
    document = load_document(samples[kind])
    assert document.format == kind
    assert document.title == title
    for fragment in must_contain:
        assert fragment in document.text, fragment
    for key, value in metadata.items():
        assert document.metadata[key] == value
    assert "\n\n\n" not in document.text


def test_html_boilerplate_is_dropped(samples: dict[str, Path]) -> None:
    text = load_document(samples["html"]).text
    assert "Cookie settings" not in text and "Shop" not in text


def test_shipped_samples_read_too() -> None:
    document = load_document(DATA / "quarterly_report.md")
    assert document.title == "Quarterly report"
    assert "revenue" in document.text.lower()


def test_bytes_with_a_name(samples: dict[str, Path]) -> None:
    document = load_document(samples["docx"].read_bytes(), name="upload.docx")
    assert document.title == "Rance annual report"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.pdf", "no such file"),
        (lambda p: _write(p / "image.png", b"\x89PNG"), "unsupported file type '.png'"),
        (lambda p: _write(p / "broken.pdf", b"%PDF-1.4 this is not a pdf"), "cannot read it as pdf"),
        (lambda p: _write(p / "broken.docx", b"PK\x03\x04 not a zip"), "cannot read it as docx"),
    ],
)
def test_unreadable_documents_raise_document_error(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ToolError)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_pdf_without_a_text_layer_says_so(tmp_path: Path) -> None:
    document = load_document(write_pdf(tmp_path / "scan.pdf", [[]], "Scan", "Scanner"))
    assert document.text == ""
    assert "OCR" in document.metadata["note"]


def test_clean_text() -> None:
    assert clean_text("a  b\t c \r\n\n\n\nhy-\nphen\x00") == "a b c\n\nhyphen"


# --- the tool: allowed folders only ---


async def test_read_document_tool_reads_under_its_roots_only(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    folder = samples["pdf"].parent
    tool = make_document_tool(DocumentSettings(roots=(str(folder),)))
    text = await tool("report.pdf")
    assert text.startswith("Title: Rance report\nFormat: pdf\nAuthor: Operations")
    assert "240 megawatts" in text
    with pytest.raises(DocumentError, match="outside the folders this tool may read"):
        await tool("/etc/passwd")
    with pytest.raises(DocumentError, match="outside the folders"):
        await tool("../../../../etc/hostname")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    link = folder / "link.txt"
    if not link.exists():
        os.symlink(outside, link)
    with pytest.raises(DocumentError, match="outside the folders"):
        await tool("link.txt")


async def test_read_document_from_a_url_through_the_ssrf_guard(samples: dict[str, Path]) -> None:
    docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    routes = {
        "/report.pdf": lambda r: (200, {"Content-Type": "application/pdf"}, samples["pdf"].read_bytes()),
        "/download": lambda r: (200, {"Content-Type": docx_type}, samples["docx"].read_bytes()),
        "/files/figures.xlsx": lambda r: (
            200,
            {"Content-Type": "application/octet-stream"},
            samples["xlsx"].read_bytes(),
        ),
        "/photo": lambda r: (200, {"Content-Type": "image/jpeg"}, b"\xff\xd8"),
    }
    with serve(routes) as server:  # type: ignore[arg-type]
        local = make_document_tool(DocumentSettings(fetch=FetchSettings(policy=NetworkPolicy.local())))
        assert "240 megawatts" in await local(server.url("/report.pdf"))
        assert (await local(server.url("/download"))).startswith("Title: Rance annual report\nFormat: docx")
        assert "| 2023 | 498 |" in await local(server.url("/files/figures.xlsx"))
        with pytest.raises(FetchError, match="content type 'image/jpeg' is not a supported type"):
            await local(server.url("/photo"))
        # the default tool refuses loopback, like fetch_url
        with pytest.raises(SSRFError, match=r"127\.0\.0\.1 is a loopback address"):
            await read_document(server.url("/report.pdf"))
    offline = make_document_tool(DocumentSettings(fetch=None))
    with pytest.raises(DocumentError, match="reads local files only"):
        await offline("https://example.com/report.pdf")


async def test_read_document_in_a_run(samples: dict[str, Path]) -> None:
    folder = samples["pdf"].parent
    tool = make_document_tool(DocumentSettings(roots=(str(folder),)))
    agent = Agent("reader", model=calls_tool("read_document", path="figures.xlsx"), tools=[tool])
    result = await agent.run("Read the figures")
    (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
    assert call.error is None and call.output is not None and "| 2023 | 498 |" in call.output
    agent = Agent("reader", model=calls_tool("read_document", path="/etc/shadow"), tools=[tool])
    result = await agent.run("Read the secrets")
    (call,) = [e for e in result.events if isinstance(e, ToolCalled)]
    assert call.error is not None and "outside the folders" in call.error


# --- chunking ---


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=st.sampled_from("abc de.\n"), min_size=0, max_size=3000),
    st.integers(min_value=100, max_value=800),
    st.integers(min_value=0, max_value=49),
)
def test_chunks_cover_the_text_within_the_size_limit(text: str, max_chars: int, overlap: int) -> None:
    chunks = chunk_text(text, max_chars, overlap)
    for chunk in chunks:
        assert len(chunk.text) <= max_chars
        assert chunk.text == text[chunk.start : chunk.end].strip()
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_chunks_break_at_paragraphs() -> None:
    text = "\n\n".join(f"Paragraph {n} " + "word " * 30 for n in range(10))
    chunks = chunk_text(text, 400, 0)
    assert all(c.text.startswith("Paragraph") for c in chunks)


def test_chunk_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        chunk_text("x", 10)
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("x", 200, 150)


# --- key points with an agent ---


def _first_sentence_model() -> FunctionModel:
    """A model that answers a key-point request with the first sentence of the text it got."""

    def reply(messages: list[Message], request: ModelRequest) -> str:
        text = messages[-1].content.split("Text:\n", 1)[1]
        sentence = " ".join(text.split()).split(". ")[0].rstrip(".") + "."
        return json.dumps({"points": [sentence, sentence.upper()]})

    return FunctionModel(reply)


async def test_key_points_map_over_chunks_and_merge(samples: dict[str, Path]) -> None:
    document = load_document(samples["pdf"])
    points = await extract_key_points(
        document, Agent("summariser", model=_first_sentence_model()), chunk_chars=120
    )
    assert (
        points[0]
        == "## Page 1 The Rance tidal power station opened in 1966 and has a peak output of 240 megawatts."
    )
    assert len(points) == len({p.lower() for p in points}), "near-duplicates were merged"
    assert len(points) >= 3


async def test_key_points_as_a_step_with_the_offline_model(samples: dict[str, Path]) -> None:
    extractor = KeyPointExtractor(Agent("summariser"), max_points=3, chunk_chars=200)
    result = await extractor.run("Key points", state={})
    assert isinstance(result.output, KeyPoints)
    paths = {e.path for e in result.events if getattr(e, "type", "") == "step_started"}
    assert "keypoints" in paths
    document = load_document(samples["docx"])
    points = await extract_key_points(document, Agent("summariser"), max_points=2)
    assert 1 <= len(points) <= 2 and all(isinstance(p, str) and p for p in points)

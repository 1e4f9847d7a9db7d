"""Documents to clean text: PDF, DOCX, XLSX, PPTX, HTML, Markdown and plain text.

``load_document`` turns a file (or bytes) into a ``Document``: its title, clean text (headings
kept as Markdown ``#`` lines, tables as ``|`` rows, one section per page, sheet or slide) and
metadata (author, dates, pages...). ``chunk_text`` splits text for models with small contexts,
and ``KeyPoints`` extraction (in ``cadenza.tools.keypoints``) maps an agent over the chunks.
The ``read_document`` tool reads files under allowed folders only: the model chooses the path,
and it must not read ``/etc/passwd`` or ``~/.ssh``.

Format libraries (pypdf, python-docx, openpyxl, python-pptx, trafilatura) come with the
``tools`` extra and are imported on first use.
"""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cadenza.errors import DocumentError, MissingExtraError
from cadenza.tools.base import Tool

if TYPE_CHECKING:
    from cadenza.tools.fetch import FetchSettings

FORMATS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".pptx": "pptx",
    ".html": "html",
    ".htm": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".csv": "text",
    ".rst": "text",
    ".json": "text",
}
MAX_BYTES = 50_000_000


@dataclass(slots=True)
class Document:
    """A document as text: ``sections`` are its pages, sheets or slides (one for flat formats)."""

    title: str | None
    text: str
    format: str
    metadata: dict[str, Any] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)

    def render(self, max_chars: int) -> str:
        """The document as a model reads it: a metadata header, then the text within ``max_chars``."""
        header = [f"Title: {self.title}"] if self.title else []
        header.append(f"Format: {self.format}")
        header.extend(f"{k.replace('_', ' ').capitalize()}: {v}" for k, v in self.metadata.items() if v)
        text = self.text
        if len(text) > max_chars:
            text = f"{text[:max_chars]}\n[truncated: {len(self.text) - max_chars} more characters]"
        return "\n".join(header) + "\n\n" + text


def detect_format(name: str) -> str:
    """The format of a file name by its extension; ``DocumentError`` lists the supported ones."""
    suffix = Path(name).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        known = ", ".join(sorted(set(FORMATS)))
        raise DocumentError(
            name, f"unsupported file type {suffix or '(none)'!r}; supported: {known}"
        ) from None


def load_document(
    source: str | Path | bytes, *, name: str | None = None, format: str | None = None
) -> Document:
    """Read a document from a path, or from ``bytes`` with its file ``name`` or ``format``."""
    if isinstance(source, bytes):
        label = name or f"document.{format or 'bin'}"
        data = source
    else:
        path = Path(source)
        label = str(path)
        if not path.is_file():
            raise DocumentError(label, "no such file")
        if path.stat().st_size > MAX_BYTES:
            raise DocumentError(label, f"larger than {MAX_BYTES} bytes")
        data = path.read_bytes()
    kind = format or detect_format(name or label)
    reader = _READERS.get(kind)
    if reader is None:
        raise DocumentError(label, f"unsupported format {kind!r}")
    try:
        document = reader(data, label)
    except (DocumentError, MissingExtraError):
        raise
    except Exception as exc:
        raise DocumentError(label, f"cannot read it as {kind}: {type(exc).__name__}: {exc}") from exc
    document.text = clean_text(document.text)
    return document


def clean_text(text: str) -> str:
    """Normalise extracted text: join words hyphenated across lines, trim spaces, at most one
    blank line in a row, no control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    text = re.sub(r"[^\S\n]+", " ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _require(module: str, package: str, label: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"reading {label}", "tools", package) from None


def _read_pdf(data: bytes, label: str) -> Document:
    pypdf = _require("pypdf", "pypdf", label)
    reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            reader.decrypt("")
        except Exception:
            raise DocumentError(label, "the PDF is encrypted") from None
    pages = [page.extract_text() or "" for page in reader.pages]
    info = reader.metadata or {}
    title = (info.get("/Title") or "").strip() or None
    metadata = {
        "author": (info.get("/Author") or "").strip() or None,
        "created": _pdf_date(info.get("/CreationDate")),
        "pages": len(pages),
    }
    text = "\n\n".join(f"## Page {n}\n\n{page.strip()}" for n, page in enumerate(pages, 1) if page.strip())
    if not text.strip():
        metadata["note"] = "no text layer (a scanned PDF needs OCR)"
    return Document(title or _first_heading(text), text, "pdf", metadata, pages)


def _pdf_date(value: Any) -> str | None:
    match = re.match(r"D:(\d{4})(\d{2})?(\d{2})?", str(value or ""))
    if not match:
        return None
    return "-".join(part for part in match.groups() if part)


def _read_docx(data: bytes, label: str) -> Document:
    docx = _require("docx", "python-docx", label)
    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    body = document.element.body
    paragraphs = {id(p._p): p for p in document.paragraphs}
    tables = {id(t._tbl): t for t in document.tables}
    for child in body.iterchildren():
        if id(child) in paragraphs:
            lines.append(_docx_paragraph(paragraphs[id(child)]))
        elif id(child) in tables:
            lines.extend(_table_rows([[cell.text for cell in row.cells] for row in tables[id(child)].rows]))
            lines.append("")
    props = document.core_properties
    text = "\n".join(lines)
    metadata = {
        "author": props.author or None,
        "created": props.created.date().isoformat() if props.created else None,
        "paragraphs": len(document.paragraphs),
        "tables": len(document.tables),
    }
    return Document(props.title or _first_heading(text), text, "docx", metadata, [text])


def _docx_paragraph(paragraph: Any) -> str:
    text = str(paragraph.text).strip()
    style = str((paragraph.style.name if paragraph.style is not None else "") or "")
    level = re.match(r"Heading (\d)", style)
    if text and level:
        return "\n" + "#" * int(level.group(1)) + " " + text + "\n"
    if text and style == "Title":
        return f"# {text}\n"
    if text and style.startswith("List"):
        return f"- {text}"
    return text + "\n" if text else ""


def _table_rows(rows: list[list[Any]]) -> list[str]:
    cleaned = [["" if c is None else str(c).strip() for c in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    return ["| " + " | ".join(row) + " |" for row in cleaned]


def _read_xlsx(data: bytes, label: str) -> Document:
    openpyxl = _require("openpyxl", "openpyxl", label)
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    # Values are what a reader sees; a formula with no cached value (a file never opened in a
    # spreadsheet app) shows as its formula rather than as an empty cell.
    formulas = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    sections = []
    try:
        for sheet, formula_sheet in zip(workbook.worksheets, formulas.worksheets, strict=True):
            values = sheet.iter_rows(values_only=True)
            sources = formula_sheet.iter_rows(values_only=True)
            rows = _table_rows(
                [
                    [v if v is not None else f for v, f in zip(value_row, source_row, strict=False)]
                    for value_row, source_row in zip(values, sources, strict=False)
                ]
            )
            sections.append(f"## Sheet: {sheet.title}\n\n" + "\n".join(rows))
        props = workbook.properties
        metadata = {
            "author": props.creator or None,
            "sheets": len(workbook.worksheets),
            "sheet_names": ", ".join(ws.title for ws in workbook.worksheets),
        }
        title = props.title or None
    finally:
        workbook.close()
        formulas.close()
    return Document(title, "\n\n".join(sections), "xlsx", metadata, sections)


def _read_pptx(data: bytes, label: str) -> Document:
    pptx = _require("pptx", "python-pptx", label)
    presentation = pptx.Presentation(io.BytesIO(data))
    sections = []
    first_title = None
    for number, slide in enumerate(presentation.slides, 1):
        title_shape = slide.shapes.title
        title = title_shape.text_frame.text.strip() if title_shape is not None else ""
        title_id = title_shape.shape_id if title_shape is not None else None
        first_title = first_title or title or None
        lines = [f"## Slide {number}" + (f": {title}" if title else "")]
        for shape in slide.shapes:
            if shape.shape_id == title_id:
                continue
            if shape.has_text_frame:
                lines.extend(p.text for p in shape.text_frame.paragraphs if p.text.strip())
            if getattr(shape, "has_table", False) and shape.has_table:
                lines.extend(_table_rows([[c.text for c in row.cells] for row in shape.table.rows]))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame.text.strip():
            lines.append(f"Notes: {slide.notes_slide.notes_text_frame.text.strip()}")
        sections.append("\n".join(lines))
    props = presentation.core_properties
    metadata = {"author": props.author or None, "slides": len(sections)}
    return Document(props.title or first_title, "\n\n".join(sections), "pptx", metadata, sections)


def _read_html(data: bytes, label: str) -> Document:
    from cadenza.tools.extract import extract_html

    page = extract_html(data, feature=f"reading {label}")
    metadata = {"author": page.author, "date": page.date, "language": page.language}
    return Document(page.title, page.text, "html", metadata, [page.text])


def _read_markdown(data: bytes, label: str) -> Document:
    text = _decode(data)
    front: dict[str, Any] = {}
    match = re.match(r"^---\n(.*?)\n---\n", text, re.DOTALL)
    if match:
        for line in match.group(1).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                front[key.strip().lower()] = value.strip().strip("\"'")
        text = text[match.end() :]
    title = front.pop("title", None) or _first_heading(text)
    return Document(title, text, "markdown", front, [text])


def _read_text(data: bytes, label: str) -> Document:
    text = _decode(data)
    return Document(None, text, "text", {}, [text])


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        return str(best) if best is not None else data.decode("latin-1")


def _first_heading(text: str) -> str | None:
    for line in text.splitlines()[:40]:
        match = re.match(r"^#\s+(.+)", line.strip())
        if match and not match.group(1).startswith(("Page ", "Sheet:", "Slide ")):
            return match.group(1).strip()
    return None


_READERS = {
    "pdf": _read_pdf,
    "docx": _read_docx,
    "xlsx": _read_xlsx,
    "pptx": _read_pptx,
    "html": _read_html,
    "markdown": _read_markdown,
    "text": _read_text,
}


@dataclass(slots=True)
class Chunk:
    """A piece of a document's text; ``start``/``end`` are character offsets into the text."""

    index: int
    text: str
    start: int
    end: int


def chunk_text(text: str, max_chars: int = 4000, overlap: int = 200) -> list[Chunk]:
    """Split ``text`` into chunks of at most ``max_chars``, on paragraph, then sentence, then word
    boundaries, each starting ``overlap`` characters before the previous one ended."""
    if max_chars < 100:
        raise ValueError(f"max_chars must be at least 100, got {max_chars}")
    if not 0 <= overlap < max_chars // 2:
        raise ValueError(f"overlap must be between 0 and max_chars/2, got {overlap}")
    chunks: list[Chunk] = []
    start = 0
    length = len(text)
    while start < length:
        end = min(start + max_chars, length)
        if end < length:
            end = _break_point(text, start, end)
        piece = text[start:end].strip()
        if piece:
            chunks.append(Chunk(len(chunks), piece, start, end))
        if end >= length:
            break
        start = max(end - overlap, start + 1)
        # begin the overlap at a word boundary
        space = text.find(" ", start, end)
        if overlap and 0 <= space < end:
            start = space + 1
    return chunks


def _break_point(text: str, start: int, end: int) -> int:
    window = text[start:end]
    floor = len(window) // 2
    for pattern in ("\n\n", "\n", ". ", "? ", "! ", "; ", " "):
        position = window.rfind(pattern)
        if position >= floor:
            return start + position + len(pattern)
    return end


MIME_FORMATS = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/plain": "text",
    "text/csv": "text",
    "application/json": "text",
}


@dataclass(frozen=True)
class DocumentSettings:
    """Where ``read_document`` may read: files under ``roots`` (default: the working directory),
    and http(s) URLs through the SSRF-guarded fetcher with ``fetch``'s limits (``None``: no URLs).
    """

    roots: tuple[str, ...] = (".",)
    max_chars: int = 20_000
    fetch: FetchSettings | None = field(default_factory=lambda: _default_fetch_settings())


def _default_fetch_settings() -> FetchSettings:
    from cadenza.tools.fetch import FetchSettings

    return FetchSettings(max_bytes=MAX_BYTES, timeout=60.0)


async def load_url(url: str, settings: FetchSettings, *, tool: str = "read_document") -> Document:
    """Download a document (PDF, Office, HTML, text) through the SSRF guard and read it."""
    from urllib.parse import urlsplit

    from cadenza.tools.fetch import download

    got = await download(url, settings, tool=tool, content_types=(*MIME_FORMATS, "application/octet-stream"))
    kind = MIME_FORMATS.get(got.content_type)
    name = Path(urlsplit(got.final_url).path).name or "document"
    if kind is None:
        kind = detect_format(name)  # an unlabelled body: trust the file name in the URL
    return await asyncio.to_thread(load_document, got.body, name=name, format=kind)


def make_document_tool(
    settings: DocumentSettings | None = None, *, name: str = "read_document"
) -> Tool[..., Any]:
    """A ``read_document`` tool limited to ``settings.roots``."""
    config = settings or DocumentSettings()

    async def read_document(path: str) -> str:
        """Read a PDF, Word, Excel, PowerPoint, HTML, Markdown or text file (a path, or an http
        or https URL) and return its text with its title and metadata.

        Args:
            path: the file's path or URL.
        """
        if path.startswith(("http://", "https://")):
            if config.fetch is None:
                raise DocumentError(path, "this tool reads local files only")
            document = await load_url(path, config.fetch, tool=name)
        else:
            document = await asyncio.to_thread(load_document, _allowed_path(path, config.roots))
        return document.render(config.max_chars)

    timeout = 60.0 + (config.fetch.timeout if config.fetch is not None else 0.0)
    return Tool(read_document, name=name, timeout=timeout, max_output_chars=config.max_chars + 1000)


def _allowed_path(path: str, roots: tuple[str, ...]) -> Path:
    """Resolve ``path`` (relative to the first root) and check it lies under an allowed root."""
    resolved_roots = [Path(root).expanduser().resolve() for root in roots]
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = resolved_roots[0] / candidate
    resolved = candidate.resolve()  # follows symlinks, so a link cannot point outside a root
    if not any(resolved == root or root in resolved.parents for root in resolved_roots):
        allowed = ", ".join(str(r) for r in resolved_roots)
        raise DocumentError(path, f"outside the folders this tool may read ({allowed})")
    return resolved


read_document = make_document_tool()

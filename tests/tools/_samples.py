"""Real sample documents of every supported type, written by the format's own library (or, for
PDF, by hand: a minimal but complete PDF 1.4 file with a text layer and an info dictionary)."""

from __future__ import annotations

from pathlib import Path

PARAGRAPHS = [
    "The Rance tidal power station opened in 1966 and has a peak output of 240 megawatts.",
    "It produces about 500 gigawatt-hours a year from a tidal range of up to 13.5 metres.",
    "Maintenance costs rose by 12 percent in 2023, mostly for turbine refurbishment.",
]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(path: Path, pages: list[list[str]], title: str, author: str) -> Path:
    objects: list[bytes] = []
    page_ids = [3 + 2 * i for i in range(len(pages))]
    font_id = 3 + 2 * len(pages)
    info_id = font_id + 1
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{pid} 0 R" for pid in page_ids)
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    for i, lines in enumerate(pages):
        content = (
            "BT /F1 12 Tf 72 720 Td 16 TL " + " ".join(f"({_escape(line)}) Tj T*" for line in lines) + " ET"
        )
        stream = content.encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {page_ids[i] + 1} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    objects.append(
        f"<< /Title ({_escape(title)}) /Author ({_escape(author)}) "
        "/CreationDate (D:20240115120000Z) >>".encode()
    )
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n"
    out += f"{trailer}startxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


def write_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.core_properties.title = "Rance annual report"
    document.core_properties.author = "Operations team"
    document.add_heading("Rance annual report", level=1)
    document.add_paragraph(PARAGRAPHS[0])
    document.add_heading("Costs", level=2)
    document.add_paragraph(PARAGRAPHS[2])
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Year", "Output (GWh)"
    table.cell(1, 0).text, table.cell(1, 1).text = "2023", "498"
    document.add_paragraph("Refurbish turbines", style="List Bullet")
    document.save(str(path))
    return path


def write_xlsx(path: Path) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Output"
    sheet.append(["Year", "GWh"])
    sheet.append([2022, 512])
    sheet.append([2023, 498])
    sheet["D1"] = "Total"
    sheet["D2"] = "=B2+B3"  # a formula: read_only/data_only shows no cached value for new files
    costs = workbook.create_sheet("Costs")
    costs.append(["Item", "EUR"])
    costs.append(["Turbines", 1_200_000])
    workbook.properties.creator = "Finance"
    workbook.properties.title = "Rance figures"
    workbook.save(str(path))
    return path


def write_pptx(path: Path) -> Path:
    from pptx import Presentation

    presentation = Presentation()
    presentation.core_properties.title = "Rance briefing"
    presentation.core_properties.author = "Comms"
    slide = presentation.slides.add_slide(presentation.slide_layouts[1])
    slide.shapes.title.text = "Overview"
    slide.placeholders[1].text = PARAGRAPHS[0]
    slide.notes_slide.notes_text_frame.text = "Mention the 1966 opening."
    second = presentation.slides.add_slide(presentation.slide_layouts[1])
    second.shapes.title.text = "Costs"
    second.placeholders[1].text = PARAGRAPHS[2]
    presentation.save(str(path))
    return path


def write_all(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    html = (
        "<html><head><title>Rance page</title></head><body><nav>Home | Shop</nav><article>"
        + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
        + "</article><footer>Cookie settings</footer></body></html>"
    )
    (folder / "page.html").write_text(html)
    (folder / "notes.md").write_text(
        "---\ntitle: Rance notes\nauthor: Field team\n---\n# Notes\n\n" + "\n\n".join(PARAGRAPHS)
    )
    (folder / "plain.txt").write_text(
        "Tidal range facts.\n\n\n\n" + PARAGRAPHS[1] + "\nA hyphen-\nated word."
    )
    return {
        "pdf": write_pdf(
            folder / "report.pdf", [PARAGRAPHS[:2], PARAGRAPHS[2:]], "Rance report", "Operations"
        ),
        "docx": write_docx(folder / "report.docx"),
        "xlsx": write_xlsx(folder / "figures.xlsx"),
        "pptx": write_pptx(folder / "briefing.pptx"),
        "html": folder / "page.html",
        "markdown": folder / "notes.md",
        "text": folder / "plain.txt",
    }

"""``tools: {web_search: {corpus: FOLDER}}``: web_search over documents next to the workflow file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cadenza.workflows import WorkflowFileError, load_workflow

FLOW = """\
name: t
tools:
  web_search:
    corpus: {corpus}
    max_results: 2
    description: Search the team's tea notes.
agents:
  researcher: {{instructions: Research tea., tools: [web_search]}}
workflow: researcher
"""


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path / "home"))


def write_flow(folder: Path, corpus: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / "flow.yaml"
    file.write_text(FLOW.format(corpus=corpus))
    return file


async def test_the_corpus_is_found_relative_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "project" / "notes"
    notes.mkdir(parents=True)
    (notes / "oolong.md").write_text("# Oolong harvests\n\nTaiwan oolong is picked in spring and winter.\n")
    (notes / "matcha.md").write_text("# Matcha grades\n\nCeremonial matcha is ground from shaded leaves.\n")
    file = write_flow(tmp_path / "project", "notes")
    monkeypatch.chdir(tmp_path)  # not the file's folder: the path is relative to the file
    workflow = load_workflow(file)
    tool = workflow.step.tools["web_search"]  # type: ignore[attr-defined]
    assert tool.description == "Search the team's tea notes."
    answer = await tool.fn("matcha ceremonial")
    assert [r["title"] for r in answer["results"]] == ["Matcha grades"]
    assert answer["results"][0]["url"].startswith((notes / "matcha.md").as_uri())
    both = await tool.fn("oolong matcha")
    assert len(both["results"]) == 2


def test_a_missing_corpus_folder_is_a_positioned_error(tmp_path: Path) -> None:
    file = write_flow(tmp_path, "no-such-folder")
    with pytest.raises(WorkflowFileError) as info:
        load_workflow(file)
    [problem] = info.value.problems
    assert problem.key == "tools.web_search.corpus" and (problem.line, problem.column) == (4, 13)
    assert "is not a folder" in problem.message and "no-such-folder" in problem.message


def test_a_bad_search_tool_mapping_is_a_positioned_error(tmp_path: Path) -> None:
    file = tmp_path / "flow.yaml"
    file.write_text(
        textwrap.dedent("""\
            name: t
            tools:
              web_search: {corpsu: notes, max_results: 50}
            agents:
              researcher: {instructions: Research., tools: [web_search]}
            workflow: researcher
            """)
    )
    with pytest.raises(WorkflowFileError) as info:
        load_workflow(file)
    keys = {p.key: p for p in info.value.problems}
    assert "did you mean 'corpus'" in keys["tools.web_search.corpsu"].message
    assert keys["tools.web_search.corpsu"].line == 3
    assert "less than or equal to 20" in keys["tools.web_search.max_results"].message
    assert "missing required key 'corpus'" in keys["tools.web_search"].message

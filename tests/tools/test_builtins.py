"""Built-in tools: importable from ``cadenza.tools``, resolvable by name for workflow files, and
not loaded by ``import cadenza``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cadenza.tools import Tool
from cadenza.tools.registry import get_tool, tool_names

BUILTINS = ["calculate", "fetch_url", "web_search", "read_document"]


@pytest.mark.parametrize("name", BUILTINS)
def test_each_builtin_is_a_tool_importable_and_registered(name: str) -> None:
    import importlib

    import cadenza.tools as tools

    # importing the module that defines a tool must not shadow the tool on the package
    importlib.import_module(tools._BUILTINS[name])

    exported = getattr(tools, name)
    assert isinstance(exported, Tool) and exported.name == name
    assert get_tool(name) is exported
    assert name in tool_names()
    assert exported.description and exported.definition.parameters["type"] == "object"


def test_import_cadenza_loads_no_builtin_or_its_libraries() -> None:
    code = (
        "import sys, cadenza, cadenza.tools; "
        "heavy = [m for m in ('trafilatura', 'pypdf', 'docx', 'openpyxl', 'pptx', 'mcp', 'sqlalchemy', "
        "'httpx2', 'cadenza.tools.calculator', 'cadenza.tools.fetch', 'cadenza.memory') "
        "if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error() -> None:
    import cadenza.tools as tools

    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        _ = tools.nonexistent

"""JSON Schema of an agent's output -> a pydantic model with the same constraints."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from cadenza.workflows.json_schema import SchemaProblem, model_from_json_schema

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A product review.",
    "properties": {
        "title": {"type": "string", "minLength": 3, "maxLength": 20},
        "stars": {"type": "integer", "minimum": 1, "maximum": 5},
        "price": {"type": ["number", "null"]},
        "verdict": {"enum": ["buy", "skip"]},
        "pros": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "author": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        "note": {"type": "string", "default": "none"},
    },
    "required": ["title", "stars", "verdict", "pros"],
    "additionalProperties": False,
}


def test_valid_data_passes_and_defaults_apply() -> None:
    model = model_from_json_schema(SCHEMA, "review")
    item = model.model_validate(
        {"title": "Great", "stars": 5, "verdict": "buy", "pros": ["fast"], "author": {"name": "Ana"}}
    )
    assert item.stars == 5 and item.author.name == "Ana" and item.note == "none" and item.price is None
    assert model.__name__ == "Review" and model.__doc__ == "A product review."


@pytest.mark.parametrize(
    "data",
    [
        {"title": "Gr", "stars": 5, "verdict": "buy", "pros": ["x"]},
        {"title": "Great", "stars": 6, "verdict": "buy", "pros": ["x"]},
        {"title": "Great", "stars": 5, "verdict": "maybe", "pros": ["x"]},
        {"title": "Great", "stars": 5, "verdict": "buy", "pros": []},
        {"title": "Great", "stars": 5, "verdict": "buy", "pros": ["x"], "extra": 1},
        {"stars": 5, "verdict": "buy", "pros": ["x"]},
    ],
)
def test_constraints_are_enforced(data: dict[str, Any]) -> None:
    model = model_from_json_schema(SCHEMA, "review")
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_non_object_roots() -> None:
    adapter = TypeAdapter(model_from_json_schema({"type": "array", "items": {"type": "integer"}}, "nums"))
    assert adapter.validate_python([1, 2]) == [1, 2]
    with pytest.raises(ValidationError):
        adapter.validate_python(["a"])


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"type": "object", "properties": {"x": {"$ref": "#/x"}}}, ("properties", "x", "$ref")),
        ({"type": "object", "properties": {"x": {"type": "date"}}}, ("properties", "x", "type")),
        ({"type": "object", "properties": {"x": {}}, "required": ["y"]}, ("required",)),
        ({"enum": []}, ("enum",)),
    ],
)
def test_unsupported_schemas_say_where(schema: dict[str, Any], where: tuple[str, ...]) -> None:
    with pytest.raises(SchemaProblem) as info:
        model_from_json_schema(schema, "x")
    assert info.value.path == where

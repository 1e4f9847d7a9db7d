"""Turn the JSON Schema of an agent's output (written in a workflow file) into a pydantic model.

Agents validate structured output with pydantic, so a schema from a file becomes a dynamic model
with the same constraints. The supported subset is what structured outputs need: ``type``
(object, array, string, number, integer, boolean, null, or a list of them), ``properties``,
``required``, ``items``, ``enum``, ``const``, bounds and lengths, ``pattern``, ``description``,
``title`` and ``default``. Anything else is reported, not silently ignored.
"""

from __future__ import annotations

import re
from typing import Any, Literal

_SUPPORTED = frozenset(
    [
        "type",
        "properties",
        "required",
        "items",
        "enum",
        "const",
        "description",
        "title",
        "default",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "additionalProperties",
        "$schema",
        "examples",
        "format",
    ]
)
_SCALARS: dict[str, Any] = {
    "string": str,
    "number": float,
    "integer": int,
    "boolean": bool,
    "null": type(None),
}


class SchemaProblem(ValueError):
    """A schema this converter cannot express; ``path`` is where inside the schema."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        self.path = path
        super().__init__(message)


def model_from_json_schema(schema: dict[str, Any], name: str) -> Any:
    """A type pydantic can validate (usually a model class) for ``schema``."""
    return _type_for(schema, _class_name(name), ())


def _class_name(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p) or "Output"


def _type_for(schema: Any, name: str, path: tuple[str | int, ...]) -> Any:
    if not isinstance(schema, dict):
        raise SchemaProblem(path, f"a schema must be a mapping, got {schema!r}")
    unknown = sorted(set(schema) - _SUPPORTED)
    if unknown:
        raise SchemaProblem(
            (*path, unknown[0]),
            f"unsupported JSON Schema keyword {unknown[0]!r} (supported: {', '.join(sorted(_SUPPORTED))})",
        )
    if "const" in schema:
        return Literal[schema["const"]]
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list) or not values:
            raise SchemaProblem((*path, "enum"), "enum must be a non-empty list")
        return Literal[tuple(values)]
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind is None:
        return Any
    if isinstance(kind, list):
        members = [_type_for({**schema, "type": k}, name, path) for k in kind]
        union = members[0]
        for member in members[1:]:
            union = union | member
        return union
    if kind == "object":
        return _object(schema, str(schema.get("title") or name), path)
    if kind == "array":
        return _array(schema, name, path)
    if kind not in _SCALARS:
        raise SchemaProblem(
            (*path, "type"), f"unknown type {kind!r}; expected one of object, array, {', '.join(_SCALARS)}"
        )
    return _constrained(_SCALARS[kind], schema)


def _constrained(base: Any, schema: dict[str, Any]) -> Any:
    from typing import Annotated

    from pydantic import Field

    limits = {
        "ge": schema.get("minimum"),
        "le": schema.get("maximum"),
        "gt": schema.get("exclusiveMinimum"),
        "lt": schema.get("exclusiveMaximum"),
        "min_length": schema.get("minLength", schema.get("minItems")),
        "max_length": schema.get("maxLength", schema.get("maxItems")),
        "pattern": schema.get("pattern"),
    }
    given = {k: v for k, v in limits.items() if v is not None}
    return Annotated[base, Field(**given)] if given else base


def _array(schema: dict[str, Any], name: str, path: tuple[str | int, ...]) -> Any:
    items = schema.get("items", {})
    item_type = _type_for(items, f"{name}Item", (*path, "items")) if items else Any
    return _constrained(list[item_type], schema)  # type: ignore[valid-type]


def _object(schema: dict[str, Any], name: str, path: tuple[str | int, ...]) -> Any:
    from pydantic import ConfigDict, Field, create_model

    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise SchemaProblem((*path, "properties"), "properties must be a mapping of name to schema")
    if not properties:
        return dict[str, Any]
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise SchemaProblem((*path, "required"), "required must be a list of property names")
    missing = [r for r in required if r not in properties]
    if missing:
        raise SchemaProblem((*path, "required"), f"required names {missing[0]!r}, which is not a property")
    fields: dict[str, Any] = {}
    for prop, sub in properties.items():
        sub_path = (*path, "properties", prop)
        annotation = _type_for(sub, _class_name(f"{name} {prop}"), sub_path)
        description = sub.get("description") if isinstance(sub, dict) else None
        if prop in required:
            fields[prop] = (annotation, Field(..., description=description))
        else:
            default = sub.get("default") if isinstance(sub, dict) else None
            fields[prop] = (
                annotation | None if default is None else annotation,
                Field(default, description=description),
            )
    config = ConfigDict(extra="forbid" if schema.get("additionalProperties") is False else "ignore")
    model = create_model(name, __config__=config, **fields)
    if schema.get("description"):
        model.__doc__ = schema["description"]
    return model

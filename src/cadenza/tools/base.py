"""``@tool``: turn a plain function into something a model can call, safely.

The JSON Schema comes from the type hints and the docstring; arguments from the model are
validated before the function runs; a validation error, an exception, a timeout or oversized
output becomes a ``ToolError`` (which the engine hands back to the model as a tool error). The
decorated object stays callable exactly like the function it wraps.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar, overload

from cadenza.errors import ToolDefinitionError, ToolError, validation_problems
from cadenza.models.base import ToolDefinition

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_OUTPUT_CHARS = 20_000


class Tool(Generic[P, R]):
    """A function with a name, a description and a validated argument schema.

    ``idempotent`` says whether calling it twice with the same arguments is harmless; durable
    runs use it to decide whether a call that was in flight at a crash may be repeated.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        idempotent: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.idempotent = idempotent
        self.timeout = timeout
        self.max_output_chars = max_output_chars
        self.is_async = inspect.iscoroutinefunction(fn)
        summary, param_docs = _parse_docstring(fn)
        self.description = description or summary or self.name
        self._args_model, self.parameters = _build_arguments(fn, self.name, param_docs)
        self.definition = ToolDefinition(self.name, self.description, self.parameters)
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", self.name)
        self.__wrapped__ = fn

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """A direct call runs the plain function, unvalidated, as if it were not a tool."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Check a model's arguments against the schema; ``ToolError`` says which field is wrong."""
        from pydantic import ValidationError

        try:
            model = self._args_model.model_validate(arguments)
        except ValidationError as exc:
            problems = validation_problems(exc, "arguments", limit=None)
            raise ToolError(self.name, f"invalid arguments: {problems}") from None
        fields = type(model).model_fields
        return {info.alias or name: getattr(model, name) for name, info in fields.items()}

    async def invoke(self, arguments: dict[str, Any]) -> str:
        """Validate, run with the timeout, and render the result as text within the size cap."""
        kwargs = self.validate(arguments)
        try:
            async with asyncio.timeout(self.timeout):
                if self.is_async:
                    result = await self.fn(**kwargs)  # type: ignore[misc,call-arg]
                else:
                    result = await asyncio.to_thread(self.fn, **kwargs)  # type: ignore[call-arg]
        except TimeoutError:
            raise ToolError(self.name, f"timed out after {self.timeout} s") from None
        except ToolError:
            raise
        except Exception as exc:
            raise ToolError(self.name, f"{type(exc).__name__}: {exc}") from exc
        return self.render(result)

    def render(self, result: Any) -> str:
        """Text for the model: strings as they are, models and data as JSON, capped in size."""
        if isinstance(result, str):
            text = result
        elif hasattr(result, "model_dump_json"):
            text = result.model_dump_json()
        else:
            text = json.dumps(result, default=str, ensure_ascii=False)
        if len(text) > self.max_output_chars:
            dropped = len(text) - self.max_output_chars
            text = f"{text[: self.max_output_chars]}\n[output truncated: {dropped} more characters]"
        return text


@overload
def tool(fn: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    idempotent: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    idempotent: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT,
    max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a sync or async function a tool; use bare (``@tool``) or with options."""

    def wrap(f: Callable[P, R]) -> Tool[P, R]:
        return Tool(
            f,
            name=name,
            description=description,
            idempotent=idempotent,
            timeout=timeout,
            max_output_chars=max_output_chars,
        )

    return wrap(fn) if fn is not None else wrap


def as_tool(obj: Tool[Any, Any] | Callable[..., Any]) -> Tool[Any, Any]:
    """Accept plain functions wherever tools are expected."""
    return obj if isinstance(obj, Tool) else Tool(obj)


def _parse_docstring(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(fn)
    if not doc:
        return "", {}
    import docstring_parser

    parsed = docstring_parser.parse(doc)
    summary = "\n\n".join(p for p in (parsed.short_description, parsed.long_description) if p)
    params = {p.arg_name: p.description for p in parsed.params if p.description}
    return summary, params


def _build_arguments(
    fn: Callable[..., Any], tool_name: str, param_docs: dict[str, str]
) -> tuple[Any, dict[str, Any]]:
    from pydantic import ConfigDict, Field, PydanticUserError, create_model

    try:
        hints = _type_hints(fn)
    except Exception as exc:
        raise ToolDefinitionError(tool_name, f"cannot resolve its type hints: {exc}") from None
    # Fields get neutral names and the parameter's name as alias, so parameters called
    # ``model_config``, ``json``, ``schema`` or ``_x`` neither clash with pydantic nor vanish.
    fields: dict[str, Any] = {}
    hinted: dict[str, Any] = {}
    for position, param in enumerate(inspect.signature(fn).parameters.values()):
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(
                tool_name, f"parameter {param.name!r}: *args and **kwargs have no schema"
            )
        if param.name not in hints:
            raise ToolDefinitionError(tool_name, f"parameter {param.name!r} has no type hint")
        default = ... if param.default is param.empty else param.default
        hinted[param.name] = hints[param.name]
        fields[f"arg{position}"] = (
            hints[param.name],
            Field(
                default, alias=param.name, title=_title(param.name), description=param_docs.get(param.name)
            ),
        )
    try:
        model = create_model(
            f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields
        )
        schema = model.model_json_schema()
    except (PydanticUserError, TypeError, ValueError) as exc:
        # PydanticUserError covers both "no core schema" and "no JSON Schema" (e.g. a Callable).
        raise ToolDefinitionError(tool_name, _schema_problem(hinted, exc)) from None
    schema.pop("title", None)
    return model, schema


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """The function's evaluated hints, also when they name types local to the defining function.

    With ``from __future__ import annotations`` hints are strings; a type defined inside the
    function that declares the tool is found in the locals of the frames that are calling us.
    """
    try:
        return inspect.get_annotations(fn, eval_str=True)
    except NameError:
        frame = sys._getframe(1)
        for _ in range(8):
            frame = frame.f_back  # type: ignore[assignment]
            if frame is None:
                break
            try:
                return inspect.get_annotations(fn, eval_str=True, locals=frame.f_locals)
            except NameError:
                continue
        raise


def _title(name: str) -> str:
    """The title pydantic would give a field of this name: ``max_items`` -> ``Max Items``."""
    return name.strip("_").replace("_", " ").title() or name


def _schema_problem(hinted: dict[str, Any], exc: Exception) -> str:
    """Name the parameter whose type has no JSON Schema, so the user knows what to change."""
    from pydantic import TypeAdapter

    for name, hint in hinted.items():
        try:
            TypeAdapter(hint).json_schema()
        except Exception:
            type_name = getattr(hint, "__name__", None) or repr(hint)
            return f"parameter {name!r}: its type {type_name} has no JSON Schema"
    first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"its signature has no JSON Schema: {first_line}"

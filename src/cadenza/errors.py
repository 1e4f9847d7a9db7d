"""One small exception hierarchy for everything Cadenza raises at its users.

Each subclass carries the structured facts (model, tool, step path, status, ...) as attributes so
the CLI and the API can render them without parsing messages. Provider SDK exceptions are
translated into these at the provider boundary, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

    from cadenza.types.results import RunResult


class CadenzaError(Exception):
    """Base of every error Cadenza raises on purpose.

    ``step_path`` is the path of the innermost step it failed, set by the engine on the way out.
    """

    step_path: str | None = None


def validation_problems(exc: ValidationError, whole: str = "value", limit: int | None = 5) -> str:
    """A pydantic ``ValidationError`` as ``field.path: message; ...`` (``whole`` names an empty
    path); at most ``limit`` problems."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or whole}: {err['msg']}" for err in exc.errors()[:limit]
    )


class ConfigurationError(CadenzaError):
    """Something the user configured cannot work (unknown provider, missing key, bad option)."""


class UnknownModelError(ConfigurationError):
    """A model string names a provider Cadenza does not know."""

    def __init__(self, model: str, known: list[str]) -> None:
        self.model = model
        self.known = known
        super().__init__(
            f"unknown model provider in {model!r}: expected 'PROVIDER:NAME' with PROVIDER one of "
            f"{', '.join(known)}, or 'offline'"
        )


class ModelError(CadenzaError):
    """A model call failed. ``retryable`` tells the engine whether trying again can help."""

    def __init__(
        self,
        message: str,
        *,
        model: str,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        self.model = model
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        where = f"model {model!r}" + (f" (HTTP {status})" if status is not None else "")
        super().__init__(f"{where}: {message}")


class MissingCredentialsError(ConfigurationError, ModelError):
    """A provider needs an API key that is not set.

    Raised on a model's first call, not when it is built, so a workflow can be loaded (and its
    model overridden) without keys. It is also a non-retryable ``ModelError``, so an agent with a
    fallback list moves on to its next model; ``env_var`` names the variable to set.
    """

    def __init__(self, model: str, env_var: str) -> None:
        self.env_var = env_var
        ModelError.__init__(self, f"needs an API key: set {env_var} or pass api_key=", model=model)


class ModelResponseError(ModelError):
    """The model answered, but with something unusable (malformed JSON, invalid tool call)."""


class OutputValidationError(CadenzaError):
    """An agent's structured output did not match its ``output_type``, even after a repair try."""

    def __init__(self, agent: str, output_type: str, detail: str, raw: str) -> None:
        self.agent = agent
        self.output_type = output_type
        self.detail = detail
        self.raw = raw
        super().__init__(
            f"agent {agent!r}: output does not match {output_type} after a repair attempt: {detail}"
        )


class ToolDefinitionError(CadenzaError):
    """A function cannot be turned into a tool (its signature has no JSON Schema)."""

    def __init__(self, tool: str, detail: str) -> None:
        self.tool = tool
        self.detail = detail
        super().__init__(f"cannot make a tool of {tool!r}: {detail}")


class ToolError(CadenzaError):
    """A tool call failed: bad arguments, an exception inside the tool, a timeout, too much output.

    Inside a run this goes back to the model as a tool error and the run goes on; a direct call of
    a tool raises it.
    """

    def __init__(self, tool: str, detail: str) -> None:
        self.tool = tool
        self.detail = detail
        super().__init__(f"tool {tool!r}: {detail}")


class WorkflowDefinitionError(CadenzaError):
    """A pattern was built with arguments that cannot run (no branches, bad threshold, ...)."""


class StepFailedError(CadenzaError):
    """A step of a run failed; ``path`` says which one."""

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(f"step {path!r} failed: {detail}")


class GateFailedError(StepFailedError):
    """A quality gate kept failing after its retries; the pipeline rolled back and stopped.

    ``last_good_output`` is the output of the last stage that passed (``None`` if none did) and
    ``state`` the working memory as it was then.
    """

    def __init__(
        self,
        path: str,
        gate: str,
        feedback: str,
        attempts: int,
        last_good_output: Any = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.gate = gate
        self.feedback = feedback
        self.attempts = attempts
        self.last_good_output = last_good_output
        self.state = state or {}
        super().__init__(path, f"gate {gate!r} failed {attempts} time(s): {feedback}")


class RoutingError(StepFailedError):
    """A supervisor assigned a subtask to a specialist that does not exist and none fits."""

    def __init__(self, path: str, specialist: str, known: list[str]) -> None:
        self.specialist = specialist
        self.known = known
        super().__init__(
            path,
            f"no specialist named {specialist!r} and none whose capabilities fit; "
            f"known specialists: {', '.join(known)}",
        )


class ParallelError(StepFailedError):
    """Too many branches of a parallel step failed for its failure policy."""

    def __init__(self, path: str, detail: str, errors: dict[int, BaseException]) -> None:
        self.errors = errors
        super().__init__(path, detail)


class BudgetExceeded(CadenzaError):
    """A run stopped because its next model call could cross a budget limit.

    ``result`` holds the partial result (output so far, usage, cost, events).
    """

    def __init__(self, limit: str, detail: str, result: RunResult | None = None) -> None:
        self.limit = limit
        self.detail = detail
        self.result = result
        super().__init__(f"budget exceeded ({limit}): {detail}")


class CalculationError(ToolError):
    """An expression for the calculator is invalid or cannot be computed.

    ``expression`` is the input, ``position`` the 0-based character offset of the problem (when
    there is one), so a caller can point at it.
    """

    def __init__(self, expression: str, detail: str, position: int | None = None) -> None:
        self.expression = expression
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__("calculate", f"{detail}{where} in {expression!r}")


class SSRFError(ToolError):
    """A URL a tool was asked to fetch leads to an address it may not reach.

    ``address`` is the IP address (or host) that was refused and ``reason`` why (private,
    loopback, link-local, ... range), checked on every redirect hop after DNS resolution.
    """

    def __init__(self, tool: str, url: str, address: str, reason: str) -> None:
        self.url = url
        self.address = address
        self.reason = reason
        super().__init__(tool, f"refused to fetch {url!r}: address {address} is {reason}")


class FetchError(ToolError):
    """A fetch failed for a reason other than SSRF: HTTP status, content type, size, timeout."""

    def __init__(self, tool: str, url: str, detail: str, status: int | None = None) -> None:
        self.url = url
        self.status = status
        super().__init__(tool, f"{url}: {detail}")


class MissingExtraError(ConfigurationError):
    """An optional feature needs a package from an extra that is not installed."""

    def __init__(self, feature: str, extra: str, package: str) -> None:
        self.feature = feature
        self.extra = extra
        self.package = package
        super().__init__(f'{feature} needs the {package!r} package: pip install "cadenza[{extra}]"')


class MemoryStoreError(CadenzaError):
    """Long-term memory cannot be opened, read or written (bad URL, unreachable database)."""


class SearchError(ToolError):
    """A search backend failed (HTTP status, malformed response, missing API key)."""

    def __init__(self, backend: str, detail: str, status: int | None = None) -> None:
        self.backend = backend
        self.status = status
        super().__init__("web_search", f"{backend}: {detail}")


class DocumentError(ToolError):
    """A document cannot be read: missing, unsupported type, corrupt, or outside the allowed folders."""

    def __init__(self, document: str, detail: str) -> None:
        self.document = document
        super().__init__("read_document", f"{document}: {detail}")


class MCPConnectionError(ConfigurationError):
    """An MCP server could not be started or reached, or did not speak the protocol."""

    def __init__(self, server: str, detail: str) -> None:
        self.server = server
        self.detail = detail
        super().__init__(f"MCP server {server!r}: {detail}")

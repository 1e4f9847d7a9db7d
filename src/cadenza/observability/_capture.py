"""Whether model message content goes into events (and so into traces). Off by default.

A module-level flag read on every model call: one attribute load on the hot path. Set by
``cadenza.observability.capture_content()`` or, at first import, by the standard variable
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cadenza.models.base import ModelRequest, ModelResponse

ENV_VAR = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

enabled: bool = os.environ.get(ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def content(request: ModelRequest, response: ModelResponse) -> dict[str, Any]:
    """The ``LLMCall`` fields that carry content: a snapshot of the messages and the answer."""
    return {
        "input_messages": [m.to_dict() for m in request.messages],
        "output_text": response.text,
    }

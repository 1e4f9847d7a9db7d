"""Memory from configuration (a workflow file's ``memory:`` block, settings, environment).

memory:
  url: postgresql://...          # default: the store's database
  user: alice                    # extra scopes recalled
  workflow: quarterly-report
  recall: 3                      # relevant memories added to the system message
  lessons: 5                     # lessons added to the system message
  tools: true                    # remember / recall tools
  learn: true                    # reflective loops keep their critic's lessons
  short_term: {max_tokens: 8000} # fit the conversation to this budget
  embeddings: hash               # or openai:<model>, or none
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cadenza.errors import ConfigurationError
from cadenza.memory.agent_memory import AgentMemory
from cadenza.memory.embeddings import Embedder, HashEmbedder, OpenAIEmbedder, WordLlamaEmbedder
from cadenza.memory.long_term import LongTermMemory
from cadenza.memory.short_term import ShortTermMemory

_KEYS = {
    "url",
    "user",
    "workflow",
    "recall",
    "lessons",
    "tools",
    "learn",
    "short_term",
    "embeddings",
    "long_term",
}


def memory_from_config(
    config: Mapping[str, Any] | bool | None, *, where: str = "memory"
) -> AgentMemory | None:
    """An ``AgentMemory`` from a mapping (``True`` means all defaults, ``False``/``None`` none).

    Unknown keys and wrong types raise ``ConfigurationError`` naming ``where`` and the key.
    """
    if config is None or config is False:
        return None
    if config is True:
        config = {}
    if not isinstance(config, Mapping):
        raise ConfigurationError(f"{where}: expected a mapping or true/false, got {type(config).__name__}")
    unknown = sorted(set(config) - _KEYS)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}"
        )
    long_term = None
    if config.get("long_term", True):
        url = _optional(config, "url", str, where)
        long_term = LongTermMemory(url, embedder=_embedder(config.get("embeddings"), where))
    short = config.get("short_term")
    short_term = None
    if short:
        if not isinstance(short, Mapping) or set(short) - {"max_tokens"}:
            raise ConfigurationError(f"{where}.short_term: expected {{max_tokens: N}}, got {short!r}")
        short_term = ShortTermMemory(
            max_tokens=_int(short.get("max_tokens", 8000), f"{where}.short_term.max_tokens")
        )
    return AgentMemory(
        long_term=long_term,
        short_term=short_term,
        user=_optional(config, "user", str, where),
        workflow=_optional(config, "workflow", str, where),
        recall_limit=_int(config.get("recall", 3), f"{where}.recall"),
        lesson_limit=_int(config.get("lessons", 5), f"{where}.lessons"),
        tools=_bool(config.get("tools", True), f"{where}.tools"),
        learn=_bool(config.get("learn", True), f"{where}.learn"),
    )


def _embedder(value: Any, where: str) -> Embedder | None:
    if value in (None, False, "none"):
        return None
    if value == "hash":
        return HashEmbedder()
    if value == "wordllama":
        return WordLlamaEmbedder()
    if isinstance(value, str) and value.startswith("openai:") and len(value) > len("openai:"):
        return OpenAIEmbedder(value.split(":", 1)[1])
    raise ConfigurationError(
        f"{where}.embeddings: expected 'hash', 'wordllama', 'openai:<model>' or 'none', got {value!r}"
    )


def _optional(config: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = config.get(key)
    if value is not None and not isinstance(value, kind):
        raise ConfigurationError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"{where}: expected a whole number >= 0, got {value!r}")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{where}: expected true or false, got {value!r}")
    return value

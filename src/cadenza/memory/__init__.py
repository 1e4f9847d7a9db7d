"""Agent memory: short-term (the conversation, fitted to the context), working (the run's
state shared along a pipeline) and long-term (persistent, scoped, searchable), plus the
lessons a reflective loop learns.

Nothing here is imported by ``import cadenza``; the store's database driver loads on first use.
"""

from __future__ import annotations

from cadenza.memory.agent_memory import AgentMemory, memory_tools
from cadenza.memory.config import memory_from_config
from cadenza.memory.embeddings import Embedder, HashEmbedder, OpenAIEmbedder, WordLlamaEmbedder
from cadenza.memory.index import Entry, Hit, TextIndex
from cadenza.memory.long_term import LongTermMemory, Memory, agent_scope, user_scope, workflow_scope
from cadenza.memory.short_term import ShortTermMemory, estimate_tokens, summarise_with, trim_messages
from cadenza.memory.working import WorkingMemory

__all__ = [
    "AgentMemory",
    "Embedder",
    "Entry",
    "HashEmbedder",
    "Hit",
    "LongTermMemory",
    "Memory",
    "OpenAIEmbedder",
    "ShortTermMemory",
    "TextIndex",
    "WordLlamaEmbedder",
    "WorkingMemory",
    "agent_scope",
    "estimate_tokens",
    "memory_from_config",
    "memory_tools",
    "summarise_with",
    "trim_messages",
    "user_scope",
    "workflow_scope",
]

"""Token usage of model calls, as the provider reported it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Usage:
    """Tokens used by one or more model calls.

    ``input_tokens`` includes cached tokens; ``cache_read_tokens`` and ``cache_write_tokens`` say
    how many of them were read from or written to the provider's prompt cache, so pricing can
    charge them at their own rates. ``requests`` counts the model calls that produced the usage.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    requests: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def add(self, other: Usage) -> None:
        """Add ``other`` into this usage in place (the hot path: no new object)."""
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.requests += other.requests

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.requests + other.requests,
        )

    def __radd__(self, other: int) -> Usage:
        """``sum(usages)`` starts from 0: adding a Usage to 0 gives a copy of it."""
        if other == 0:
            return self.copy()
        return NotImplemented

    def copy(self) -> Usage:
        """An independent copy, for results that must not change after they are returned."""
        return Usage(
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
            self.requests,
        )

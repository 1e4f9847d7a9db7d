"""Embeddings for semantic recall: a protocol, an offline hashing embedder, and any
OpenAI-compatible embeddings endpoint (OpenAI, Azure, Ollama, vLLM, LM Studio, ...)."""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from cadenza.errors import ConfigurationError, MemoryStoreError

_WORD = re.compile(r"\w+", re.UNICODE)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors; similar meanings should give a high cosine similarity."""

    name: str

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 when either is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class HashEmbedder:
    """Feature hashing of words and character trigrams into a fixed-size unit vector.

    Offline, deterministic and dependency-free: it catches shared words and word pieces
    ("turbine" ~ "turbines"), not synonyms. Use a real model's embeddings for meaning.
    """

    def __init__(self, dimensions: int = 512) -> None:
        if dimensions < 16:
            raise ConfigurationError(f"HashEmbedder: dimensions must be at least 16, got {dimensions}")
        self.dimensions = dimensions
        self.name = f"hash-{dimensions}"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_one(text) for text in texts]

    def embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in _WORD.findall(text.lower()):
            features = [f"w:{word}"] + [f"c:{word[i : i + 3]}" for i in range(max(len(word) - 2, 1))]
            for feature in features:
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dimensions
                sign = 1.0 if digest[4] & 1 else -1.0
                vector[bucket] += sign * (2.0 if feature.startswith("w:") else 1.0)
        norm = math.sqrt(sum(v * v for v in vector))
        return [v / norm for v in vector] if norm else vector


class WordLlamaEmbedder:
    """A small sentence-embedding model whose weights ship inside its PyPI package (WordLlama,
    256 dimensions, ~16 MB): semantic recall offline, on a CPU, with nothing downloaded.

    Needs the ``embeddings`` extra (``pip install "cadenza[embeddings]"``). The model loads on
    first use (about half a second) and is shared by every embedder in the process.
    """

    name = "wordllama:l2_supercat_256"
    _model: Any = None

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import asyncio

        return await asyncio.to_thread(self.embed_sync, list(texts))

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        vectors = self._load().embed(texts, norm=True)
        return [[float(x) for x in row] for row in vectors]

    @classmethod
    def _load(cls) -> Any:
        if cls._model is None:
            try:
                import wordllama  # type: ignore[import-untyped]
            except ImportError:
                from cadenza.errors import MissingExtraError

                raise MissingExtraError("offline embeddings", "embeddings", "wordllama") from None
            from pathlib import Path

            # The weights and tokenizer are in the package; pointing the cache at it keeps
            # WordLlama from trying to download the tokenizer.
            cls._model = wordllama.WordLlama.load(
                cache_dir=Path(wordllama.__file__).parent, disable_download=True
            )
        return cls._model


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible ``/embeddings`` endpoint, through the OpenAI SDK.

    ``base_url`` defaults to OpenAI (``$OPENAI_BASE_URL``), ``api_key`` to ``$OPENAI_API_KEY``.
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 64,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.batch_size = batch_size
        self._client: Any = None

    def _sdk(self) -> Any:
        if self._client is None:
            if not self.api_key:
                raise ConfigurationError(
                    f"embeddings model {self.model!r} needs an API key: set OPENAI_API_KEY"
                )
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(api_key=self.api_key, base_url=self.base_url, max_retries=2)
        return self._client

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        client = self._sdk()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = await client.embeddings.create(model=self.model, input=batch)
            except Exception as exc:
                raise MemoryStoreError(
                    f"embeddings from {self.name} failed: {type(exc).__name__}: {exc}"
                ) from exc
            ordered = sorted(response.data, key=lambda item: item.index)
            vectors.extend([list(item.embedding) for item in ordered])
        return vectors

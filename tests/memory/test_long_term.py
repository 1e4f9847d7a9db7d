"""Long-term memory on SQLite and PostgreSQL: scopes, de-duplication, full-text and embedding
recall, and persistence across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from tests.tools._http import Reply, Request, Server, json_reply, serve

from cadenza.errors import MemoryStoreError
from cadenza.memory import (
    HashEmbedder,
    LongTermMemory,
    OpenAIEmbedder,
    WordLlamaEmbedder,
    agent_scope,
    user_scope,
)
from cadenza.memory.embeddings import cosine


async def test_scopes_keep_memories_apart(long_term: LongTermMemory, unique: str) -> None:
    alice, bob, team = agent_scope(f"alice-{unique}"), agent_scope(f"bob-{unique}"), user_scope(unique)
    await long_term.remember("The Lisbon office opens in March.", scope=alice)
    await long_term.remember("Bob prefers tidal energy examples.", scope=bob)
    await long_term.remember("The team's budget for Lisbon is 40k euros.", scope=team)
    found = await long_term.recall("Lisbon office", scopes=[alice])
    assert [m.text for m in found] == ["The Lisbon office opens in March."]
    assert await long_term.recall("tidal energy", scopes=[alice]) == []
    shared = await long_term.recall("Lisbon", scopes=[alice, team])
    assert {m.scope for m in shared} == {alice, team}


async def test_the_same_fact_twice_is_one_memory(long_term: LongTermMemory, unique: str) -> None:
    scope = agent_scope(unique)
    await long_term.remember("Revenue grew 14% in Q3.", scope=scope)
    await long_term.remember("revenue  grew 14% in q3", scope=scope)
    assert await long_term.count(scope) == 1
    assert (await long_term.recent(scope))[0].text == "revenue  grew 14% in q3"


async def test_kinds_recent_and_forget(long_term: LongTermMemory, unique: str) -> None:
    scope = agent_scope(unique)
    for n in range(3):
        await long_term.remember(f"Lesson number {n}: cite sources.", scope=scope, kind="lesson")
    await long_term.remember("A plain fact about sources.", scope=scope)
    assert [m.text for m in await long_term.recent(scope, "lesson", 2)] == [
        "Lesson number 2: cite sources.",
        "Lesson number 1: cite sources.",
    ]
    lessons_only = await long_term.recall("sources", scopes=[scope], kinds=["lesson"], limit=10)
    assert {m.kind for m in lessons_only} == {"lesson"} and len(lessons_only) == 3
    assert await long_term.forget(scope, "lesson") == 3
    assert await long_term.count(scope, "lesson") == 0
    assert await long_term.count(scope, "fact") == 1


async def test_bad_input_is_refused(long_term: LongTermMemory, unique: str) -> None:
    with pytest.raises(ValueError, match="nothing to remember"):
        await long_term.remember("   ", scope=agent_scope(unique))
    with pytest.raises(ValueError, match="unknown memory kind 'secret'"):
        await long_term.remember("x", scope=agent_scope(unique), kind="secret")


async def test_queries_with_search_syntax_are_plain_words(long_term: LongTermMemory, unique: str) -> None:
    scope = agent_scope(unique)
    await long_term.remember("NEAR the harbour (north side) there is a crane.", scope=scope)
    for query in ['harbour" OR 1=1 --', "crane AND (north", "NEAR/2 *", "'); DROP TABLE memory_entries;--"]:
        await long_term.recall(query, scopes=[scope])
    assert len(await long_term.recall("harbour crane", scopes=[scope])) == 1


async def test_embeddings_find_what_full_text_misses(memory_url: str, unique: str) -> None:
    memory = LongTermMemory(memory_url, embedder=HashEmbedder())
    scope = agent_scope(unique)
    try:
        await memory.remember("Refurbishing the turbines cost 1.2 million euros.", scope=scope)
        await memory.remember("The harbour is closed on Sundays.", scope=scope)
        found = await memory.recall("turbnes refurbishmnt", scopes=[scope], limit=1)  # misspelt
        assert [m.text for m in found] == ["Refurbishing the turbines cost 1.2 million euros."]
    finally:
        await memory.close()


async def test_a_shipped_sentence_model_recalls_by_meaning(memory_url: str, unique: str) -> None:
    """WordLlama's weights come inside its wheel: synonyms match with nothing downloaded."""
    memory = LongTermMemory(memory_url, embedder=WordLlamaEmbedder())
    scope = agent_scope(unique)
    try:
        await memory.remember("The car needs new tyres before the trip.", scope=scope)
        await memory.remember("The harbour is closed on Sundays.", scope=scope)
        await memory.remember("Quarterly revenue grew by fourteen percent.", scope=scope)
        without = LongTermMemory(index=await memory.index())
        assert await without.recall("automobile maintenance", scopes=[scope]) == [], "no shared word"
        found = await memory.recall("automobile maintenance", scopes=[scope], limit=1)
        assert [m.text for m in found] == ["The car needs new tyres before the trip."]
        found = await memory.recall("sales went up", scopes=[scope], limit=1)
        assert [m.text for m in found] == ["Quarterly revenue grew by fourteen percent."]
    finally:
        await memory.close()


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    embedder = HashEmbedder(64)
    a, b = embedder.embed_one("tidal turbines"), embedder.embed_one("tidal turbines")
    assert a == b and abs(cosine(a, a) - 1) < 1e-9
    assert cosine(a, embedder.embed_one("tidal turbine")) > cosine(a, embedder.embed_one("harbour closed"))


@pytest.fixture
def embeddings_server() -> Iterator[Server]:
    def embeddings(request: Request) -> Reply:
        if request.headers.get("authorization") != "Bearer sk-test":
            return json_reply(
                {"error": {"message": "Incorrect API key", "type": "invalid_request_error"}}, 401
            )
        body = request.json()
        vectors = [HashEmbedder(32).embed_one(text) for text in body["input"]]
        return json_reply(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": i, "embedding": v}
                    for i, v in reversed(list(enumerate(vectors)))
                ],
                "model": body["model"],
                "usage": {"prompt_tokens": 5, "total_tokens": 5},
            }
        )

    with serve({"/v1/embeddings": embeddings}) as server:
        yield server


async def test_openai_compatible_embeddings_endpoint(embeddings_server: Server) -> None:
    embedder = OpenAIEmbedder("nomic-embed-text", base_url=embeddings_server.url("/v1"), api_key="sk-test")
    vectors = await embedder.embed(["tidal turbines", "harbour"])
    assert vectors == [HashEmbedder(32).embed_one("tidal turbines"), HashEmbedder(32).embed_one("harbour")]
    assert embeddings_server.requests[-1].json()["model"] == "nomic-embed-text"
    wrong = OpenAIEmbedder("m", base_url=embeddings_server.url("/v1"), api_key="nope")
    with pytest.raises(MemoryStoreError, match="embeddings from openai:m failed"):
        await wrong.embed(["x"])


async def test_an_unreachable_database_is_a_memory_store_error() -> None:
    memory = LongTermMemory("postgresql://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(MemoryStoreError) as caught:
        await memory.remember("x", scope="agent:a")
    assert "secret" not in str(caught.value) and "nobody:***@127.0.0.1:1" in str(caught.value)


def _in_new_process(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_memory_survives_a_process_restart(memory_url: str, unique: str) -> None:
    _in_new_process(
        f"""
        import asyncio
        from cadenza.memory import LongTermMemory
        async def main():
            memory = LongTermMemory({memory_url!r})
            await memory.remember("The client's fiscal year ends in June.", scope="user:{unique}")
            await memory.close()
        asyncio.run(main())
        """
    )
    recalled = _in_new_process(
        f"""
        import asyncio
        from cadenza.memory import LongTermMemory
        async def main():
            memory = LongTermMemory({memory_url!r})
            found = await memory.recall("when does the fiscal year end", scopes=["user:{unique}"])
            print(found[0].text)
            await memory.close()
        asyncio.run(main())
        """
    )
    assert recalled == "The client's fiscal year ends in June."

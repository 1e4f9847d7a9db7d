"""The HTTP service: FastAPI app, authentication, RBAC, audit log and run streaming.

Nothing here is imported by ``import cadenza``; ``cadenza serve`` and ``create_app`` load it.

    cadenza users create alice --role admin          # the first user (no default credentials)
    cadenza keys create --name ci --role operator    # prints the key once, as the last line
    cadenza serve --port 8000                        # OpenAPI at /docs and /openapi.json

    curl -X POST :8000/v1/auth/token -d username=alice -d password=...     # -> access + refresh JWTs
    curl -X POST :8000/v1/workflows -H "X-API-Key: $KEY" -H 'content-type: application/json' \\
         -d '{"spec": "name: hello\\nagents: {w: {instructions: Hi.}}\\nworkflow: w\\n"}'
    curl -X POST :8000/v1/runs -H "X-API-Key: $KEY" -H 'content-type: application/json' \\
         -d '{"workflow_id": "...", "input": "..."}'                      # -> 202 + run id
    curl -N :8000/v1/runs/$ID/stream -H "X-API-Key: $KEY"                # SSE (Last-Event-ID resumes)
    curl ':8000/v1/costs?by=agent&since=7d' -H "X-API-Key: $KEY"          # team-scoped cost report

The full guide is docs/api.md.

Layout: ``app`` (factory, lifespan), ``routers/`` (one per resource), ``auth``/``tokens``/
``passwords``/``accounts`` (who is calling), ``roles``/``deps`` (what they may do), ``audit``,
``catalog`` (workflows, agents), ``runner``/``broker``/``sse`` (runs and their live events),
``middleware``/``ratelimit`` (abuse limits), ``errors``/``handlers`` (one error shape);
``routers/observability`` serves ``/metrics``, ``/v1/costs`` and ``/v1/agents/stats``.
"""

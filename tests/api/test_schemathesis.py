"""Property-based conformance: schemathesis drives every operation of the OpenAPI document.

Authenticated as an admin so that every handler is reached. For each generated request the
server must not answer 5xx, the status must be declared for the operation, and the body and
content type must match the declared response. Kept small (few examples per operation) so the
suite stays fast.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks as sc
from tests.api.conftest import ApiServer

CHECKS = [
    sc.not_a_server_error,
    sc.status_code_conformance,
    sc.content_type_conformance,
    sc.response_schema_conformance,
    sc.response_headers_conformance,
    sc.negative_data_rejection,
]


def test_every_operation_conforms_to_its_schema(api: ApiServer) -> None:
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json")
    headers = {"X-API-Key": api.keys["admin"]}
    failures: dict[str, str] = {}
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tested.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def conforms(case: Any) -> None:
            case.call_and_validate(base_url=api.base_url, headers=headers, checks=CHECKS)

        try:
            conforms()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:2000]
    assert len(tested) >= 25, tested
    assert {"GET /metrics", "GET /v1/costs", "GET /v1/agents/stats"} <= set(tested), tested
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())

"""The OpenAPI description names every problem status the API and CDS routes give."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


@pytest.fixture()
def spec(dev_client: TestClient) -> dict[str, Any]:
    return dev_client.get("/openapi.json").json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/cds-services", "get", {401, 431}),
        ("/cds-services/{service_id}", "post", {400, 401, 404, 412, 413, 415, 431}),
        ("/cds-services/{service_id}/feedback", "post", {400, 401, 404, 413, 415}),
        ("/api/v1/assess", "post", {400, 404, 413, 422}),
        ("/api/v1/references/{ref_id}", "get", {404, 422}),
        ("/api/v1/registry/patients", "post", {400, 401, 403, 404, 409, 413, 422}),
    ],
)
def test_problem_statuses_are_documented(
    spec: dict[str, Any], path: str, method: str, statuses: set[int]
) -> None:
    responses = spec["paths"][path][method]["responses"]
    for status in statuses:
        content = responses[str(status)]["content"]
        assert list(content) == [PROBLEM], (path, status)
        assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_no_operation_documents_fastapis_own_error_shape(spec: dict[str, Any]) -> None:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                if status.isdigit() and int(status) >= 400:
                    assert list(response.get("content", {PROBLEM: 0})) == [PROBLEM], (
                        method,
                        path,
                        status,
                    )
    assert "HTTPValidationError" not in spec["components"]["schemas"]

"""Property test of the whole HTTP surface against its own OpenAPI schema: never a 500, and
every answer conforms to the description (its status is documented for the operation, its
content type is the documented one, and its body matches the documented schema: problem
details for every refusal).

Bounded: 25 generated requests per operation, on a --dev app (so CDS endpoints run past
authentication).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ldn_derm.web.app import create_app
from ldn_derm.web.settings import load_settings

_DATA = Path(__import__("tempfile").mkdtemp(prefix="ldn-schemathesis-"))
app = create_app(
    load_settings(
        data_dir=_DATA,
        database_url=f"sqlite:///{_DATA / 'ldn.sqlite3'}",
        dev=True,
        host="127.0.0.1",
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@pytest.mark.timeout(120)
def test_no_server_errors_and_answers_conform(case: schemathesis.Case) -> None:
    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ]
    )

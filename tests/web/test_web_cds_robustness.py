"""Whatever an EHR sends, a CDS service answers with cards or a 4xx, never a 500."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_helpers import naltrexone_order

from ldn_derm.regimen.orders import read_doses, read_draft_orders

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 100)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceType",
                    "entry",
                    "resource",
                    "coding",
                    "code",
                    "text",
                    "dosageInstruction",
                    "doseAndRate",
                    "doseQuantity",
                    "value",
                    "unit",
                    "timing",
                    "repeat",
                    "frequency",
                    "period",
                    "periodUnit",
                    "status",
                    "clinicalStatus",
                    "medicationCodeableConcept",
                    "reasonCode",
                    "id",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(order=json_values)
def test_dose_reader_never_crashes(order: Any) -> None:
    if isinstance(order, dict):
        for step in read_doses(order, None):
            assert (step.mg_per_day is None) == (step.problem is not None)
            assert step.mg_per_day is None or step.mg_per_day > 0
        read_draft_orders({"resourceType": "Bundle", "entry": [{"resource": order}]})


def _daily(order: dict[str, Any]) -> float | None:
    (step,) = read_doses(order, None)
    return None if step.mg_per_day is None else float(step.mg_per_day)


def test_dose_reader_reads_frequency_and_units() -> None:
    assert _daily(naltrexone_order("p", mg=2.25, per_day=2)) == 4.5
    order = naltrexone_order("p", mg=4500)
    order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["code"] = "ug"
    assert _daily(order) == 4.5
    order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["code"] = "tablet"
    assert _daily(order) is None  # a count of tablets of a product of unknown strength


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(prefetch=json_values, draft=json_values, mg=st.floats(0.1, 100))
def test_order_sign_answers_4xx_or_cards(
    dev_client: TestClient, prefetch: Any, draft: Any, mg: float
) -> None:
    order = naltrexone_order("p1", mg=round(mg, 2))
    entries = [{"resource": order}, {"resource": draft}]
    body = {
        "hook": "order-sign",
        "hookInstance": "h",
        "context": {"patientId": "p1", "draftOrders": {"resourceType": "Bundle", "entry": entries}},
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "p1"},
            "conditions": prefetch,
            "medications": None,
        },
    }
    response = dev_client.post("/cds-services/ldn-order-sign", json=body)
    assert response.status_code in {200, 400, 412, 422}, response.text
    if response.status_code == 200:
        for card in response.json()["cards"]:
            assert len(card["summary"]) < 140

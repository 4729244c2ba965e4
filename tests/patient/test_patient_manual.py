"""The manual patient profile (YAML/JSON) and its schema."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ldn_derm.errors import PatientDataError, UnknownConditionError
from ldn_derm.patient import MedStatus, PregnancyStatus, load_patient, profile_from_document

REPO = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 6, 1)


def test_example_profile() -> None:
    data = (REPO / "examples" / "profile-psoriasis.yaml").read_bytes()
    profile = load_patient(data, as_of=AS_OF, name="profile-psoriasis.yaml")
    assert profile.age == 47 and profile.pregnancy is PregnancyStatus.NOT_PREGNANT
    psoriasis = next(c for c in profile.conditions if c.indications)
    assert psoriasis.indications == ("psoriasis",) and psoriasis.ref == "profile:conditions[0]"
    tylenol = next(m for m in profile.medications if "codeine" in m.ingredients)
    assert tylenol.status is MedStatus.PAST and tylenol.end_known
    assert {lab.lab for lab in profile.labs} == {"tsh", "alt", "triglycerides", "egfr"}


def test_plain_strings_and_stated_indication() -> None:
    profile = profile_from_document(
        {
            "age": 50,
            "conditions": ["hypertension", {"indication": "lpp"}],
            "medications": ["Percocet"],
        },
        as_of=AS_OF,
    )
    assert "hypertension" in profile.conditions[0].concepts
    assert profile.conditions[1].indications == ("lichen-planopilaris",)
    assert profile.conditions[1].indication_match == "stated"
    assert "opioid" in profile.medications[0].classes


def test_unknown_stated_indication_lists_the_known_ones() -> None:
    with pytest.raises(UnknownConditionError, match="known conditions"):
        profile_from_document({"conditions": [{"indication": "gout"}]}, as_of=AS_OF)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"sex": "woman"}, "sex"),
        ({"age": 200}, "age"),
        ({"age": 40, "birth_date": "1980-01-01"}, "not both"),
        ({"medications": [{"status": "active"}]}, "name or an rxnorm"),
        ({"medications": [{"name": "x", "status": "taking"}]}, "status"),
        ({"labs": [{"lab": "tsh", "value": 2}]}, "date"),
        ({"labs": [{"lab": "tsh", "date": "2026-01-01"}]}, "value or a result"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
        ({"conditions": [{"name": "x", "onset": "last year"}]}, "onset"),
        ({"labs": [{"lab": "egfr", "date": "2026-01-01", "value": float("nan")}]}, "finite"),
        ({"labs": [{"lab": "alt", "date": "2026-01-01", "value": float("inf")}]}, "finite"),
        ({"labs": [{"lab": "tsh", "date": "2026-01-01", "value": -3}]}, "greater than or equal"),
    ],
)
def test_schema_errors_are_patient_data_errors(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(PatientDataError, match=message):
        profile_from_document(doc, as_of=AS_OF)


def test_unknown_lab_lists_known_ids() -> None:
    with pytest.raises(PatientDataError, match="known lab ids"):
        profile_from_document(
            {"labs": [{"lab": "ferritin", "date": "2026-01-01", "value": 3}]}, as_of=AS_OF
        )


def test_entries_after_the_as_of_date_are_left_out() -> None:
    profile = profile_from_document(
        {"medications": [{"name": "Percocet", "start": "2026-07-01"}]}, as_of=AS_OF
    )
    assert profile.medications == []

"""Property tests: random damage to a valid bundle never raises anything but the documented
errors (PatientDataError / InputError), whether it breaks the JSON or the FHIR inside it."""

from __future__ import annotations

import contextlib
import copy
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ldn_derm.assess import assess
from ldn_derm.errors import InputError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.patient import load_patient

AS_OF = date(2026, 11, 26)


@pytest.fixture(scope="module")
def seed_bundle(synthea_bundles: list[Path]) -> dict[str, Any]:
    """A real Synthea bundle cut down to the resource types the reader uses, plus extras."""
    path = next(p for p in synthea_bundles if p.name.startswith("Eliseo_Cummings"))
    doc = orjson.loads(path.read_bytes())
    keep = {"Patient", "Condition", "MedicationRequest", "AllergyIntolerance", "Observation"}
    entries = [e for e in doc["entry"] if e["resource"]["resourceType"] in keep]
    entries = entries[:1] + [
        e for e in entries[1:] if e["resource"]["resourceType"] != "Observation"
    ]
    observations = [e for e in doc["entry"] if e["resource"]["resourceType"] == "Observation"]
    doc["entry"] = entries + observations[:15]
    doc["entry"].append(
        {
            "resource": {
                "resourceType": "MedicationStatement",
                "id": "ms",
                "status": "completed",
                "subject": {"reference": "Patient/x"},
                "medicationReference": {"reference": "#m"},
                "contained": [
                    {"resourceType": "Medication", "id": "m", "code": {"text": "Suboxone"}}
                ],
                "effectivePeriod": {"start": "2026-11-01", "end": "2026-11-20"},
            }
        }
    )
    return doc


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(
        [
            "2020-02-30",
            "active",
            "stopped",
            "unknown",
            "Patient/x",
            "urn:uuid:x",
            "http://loinc.org",
            "1049221",
            "L40.0",
            "Bundle",
            "Patient",
            "",
            "#m",
        ]
    ),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _mutate(doc: Any, data: st.DataObject) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        paths = _paths(doc)
        path = data.draw(st.sampled_from(paths), label="path")
        action = data.draw(st.sampled_from(["replace", "delete", "insert"]), label="action")
        if not path:
            doc = data.draw(json_value, label="root") if action == "replace" else doc
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        if action == "replace":
            parent[last] = data.draw(json_value, label="value")
        elif action == "delete":
            del parent[last]
        elif isinstance(parent, dict):
            parent[
                data.draw(
                    st.sampled_from(
                        [
                            "status",
                            "id",
                            "subject",
                            "code",
                            "entry",
                            "resource",
                            "resourceType",
                            "birthDate",
                            "valueQuantity",
                            "effectiveDateTime",
                            "authoredOn",
                            "gender",
                            "medicationCodeableConcept",
                            "clinicalStatus",
                            "deceasedDateTime",
                        ]
                    ),
                    label="key",
                )
            ] = data.draw(json_value, label="value")
        else:
            parent.insert(last, data.draw(json_value, label="item"))
    return doc


def _check(raw: bytes) -> None:
    kb = get_knowledge()
    # Anything but InputError (PatientDataError and UnknownConditionError are InputErrors)
    # propagates and fails the test.
    with contextlib.suppress(InputError):
        assess(load_patient(raw, as_of=AS_OF, name="mutated.json", kb=kb), kb)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_bundles_fail_only_with_documented_errors(
    seed_bundle: dict[str, Any], data: st.DataObject
) -> None:
    _check(orjson.dumps(_mutate(seed_bundle, data)))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_bytes_fail_only_with_documented_errors(
    seed_bundle: dict[str, Any], data: st.DataObject
) -> None:
    raw = bytearray(orjson.dumps(seed_bundle))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            raw[at] = data.draw(st.integers(0, 255))
        elif action == "cut":
            del raw[at:]
            if not raw:
                raw = bytearray(b" ")
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    _check(bytes(raw))


@settings(max_examples=150, deadline=None)
@given(
    doc=st.dictionaries(
        st.sampled_from(
            [
                "id",
                "birth_date",
                "age",
                "sex",
                "pregnancy",
                "lactating",
                "conditions",
                "medications",
                "allergies",
                "labs",
            ]
        ),
        json_value,
        max_size=6,
    )
)
def test_random_profiles_fail_only_with_documented_errors(doc: dict[str, Any]) -> None:
    _check(orjson.dumps(doc))

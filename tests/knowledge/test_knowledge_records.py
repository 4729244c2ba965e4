"""Knowledge-base records are plain dataclasses the core reads; they stay immutable after they
are built (validated from YAML, unpickled from the cache, or made with dataclasses.replace)."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from ldn_derm.knowledge import KnowledgeBase, get_knowledge
from ldn_derm.knowledge.loader import validate
from ldn_derm.knowledge.models import DoseRange, Reference, as_data


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return get_knowledge()


def test_records_refuse_assignment_and_deletion(kb: KnowledgeBase) -> None:
    ref = next(iter(kb.references.values()))
    for change in (
        lambda: setattr(ref, "title", "changed"),
        lambda: setattr(ref, "not_a_field", 1),
        lambda: delattr(ref, "title"),
        lambda: setattr(kb.drug.standard_dose, "low", 1.0),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            change()


def test_records_survive_pickle_and_replace_and_read_as_data(kb: KnowledgeBase) -> None:
    ref = next(iter(kb.references.values()))
    again = pickle.loads(pickle.dumps(ref))
    assert isinstance(again, Reference) and as_data(again) == as_data(ref)
    with pytest.raises(dataclasses.FrozenInstanceError):
        again.title = "changed"
    copy = dataclasses.replace(ref, title="Another title")
    assert copy.title == "Another title" and ref.title != copy.title
    assert repr(copy).startswith(f"Reference(id={ref.id!r}, ")


def test_validated_records_are_the_same_classes() -> None:
    dose = validate(DoseRange, {"value": " 4.5 ", "unit": "mg/day"})
    assert type(dose) is DoseRange and dose.low == dose.high == 4.5
    assert as_data(dose) == {"low": 4.5, "high": 4.5, "unit": "mg/day"}

"""Indications (conditions.yaml) matched from SNOMED, ICD-10-CM old and new, and text; and the
candidacy decision built on them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from vignette_fhir import ICD10CM, SNOMED, Bundle, concept, days_ago

from ldn_derm.assess import Assessment, Candidacy
from ldn_derm.knowledge import KnowledgeBase

Run = Callable[..., Assessment]


@pytest.mark.parametrize(
    ("code", "condition", "how"),
    [
        (concept(ICD10CM, "L40.0", "Psoriasis vulgaris"), "psoriasis", "code"),
        (concept(SNOMED, "9014002", "Psoriasis"), "psoriasis", "code"),
        (concept(text="Chronic plaque psoriasis of the scalp"), "psoriasis", "text"),
        (concept(ICD10CM, "L66.1", "Lichen planopilaris"), "lichen-planopilaris", "code"),
        (concept(ICD10CM, "L66.12", "Frontal fibrosing alopecia"), "lichen-planopilaris", "code"),
        (
            concept(ICD10CM, "Q82.8", "Benign familial pemphigus (Hailey-Hailey)"),
            "hailey-hailey-disease",
            "code",
        ),
        (concept(SNOMED, "24079001", "Atopic dermatitis"), "atopic-dermatitis-pruritus", "code"),
    ],
    ids=[
        "icd10",
        "snomed",
        "text",
        "icd10-old-L66.1",
        "icd10-new-L66.12",
        "q82.8-with-text",
        "synthea-atopic",
    ],
)
def test_indication_matching(
    run: Run, kb: KnowledgeBase, code: dict[str, Any], condition: str, how: str
) -> None:
    bundle = Bundle()
    ref = bundle.condition(code)
    result = run(bundle)
    [indication] = result.indications
    assert indication.condition == condition
    assert indication.matched_by == how
    assert indication.matched_from == [ref]
    summary = kb.summarize(condition)
    assert indication.evidence.studies == summary.studies
    assert indication.evidence.positive == summary.positive
    assert indication.references == summary.references


def test_shared_code_without_telling_text_is_not_assessed(run: Run) -> None:
    bundle = Bundle()
    ref = bundle.condition(concept(ICD10CM, "Q82.8", "Other specified congenital malformations"))
    result = run(bundle)
    assert result.indications == []
    [note] = [n for n in result.not_assessed if n.ref == ref]
    assert "hailey-hailey-disease" in note.reason and "darier-disease" in note.reason


@pytest.mark.parametrize(
    "extra",
    [
        {"status": "resolved", "abated": days_ago(100)},
        {"verification": "refuted"},
        {"verification": "entered-in-error"},
    ],
    ids=["resolved", "refuted", "entered-in-error"],
)
def test_inactive_or_void_diagnoses_are_not_indications(run: Run, extra: dict[str, Any]) -> None:
    bundle = Bundle()
    bundle.condition(concept(ICD10CM, "L40.0", "Psoriasis vulgaris"), **extra)
    result = run(bundle)
    assert result.indications == []
    assert result.candidacy is Candidacy.NO_INDICATION


def test_family_history_is_not_an_indication(run: Run) -> None:
    bundle = Bundle()
    bundle.condition(concept(text="Family history of psoriasis"))
    assert run(bundle).indications == []


def test_candidacy_levels(run: Run) -> None:
    plain = Bundle(gender="male")
    plain.condition(concept(ICD10CM, "L40.0", "Psoriasis vulgaris"))
    plain.observation("3016-3", "TSH", value=2.0, unit="mIU/L", interpretation="N")
    assert run(plain).candidacy is Candidacy.CANDIDATE

    cautious = Bundle(gender="male")
    cautious.condition(concept(ICD10CM, "L40.0", "Psoriasis vulgaris"))
    cautious.condition(concept(ICD10CM, "E03.9", "Hypothyroidism, unspecified"))
    assert run(cautious).candidacy is Candidacy.CANDIDATE_WITH_CAUTIONS

    blocked = Bundle(gender="male")
    blocked.condition(concept(ICD10CM, "L40.0", "Psoriasis vulgaris"))
    blocked.request(concept(text="Percocet"))
    assert run(blocked).candidacy is Candidacy.CONTRAINDICATED

    assert run(Bundle(gender="male")).candidacy is Candidacy.NO_INDICATION


def test_condition_without_positive_evidence_is_no_indication(run: Run, kb: KnowledgeBase) -> None:
    bundle = Bundle(gender="male")
    bundle.condition(concept(ICD10CM, "L43.9", "Lichen planus, unspecified"))
    result = run(bundle)
    assert [i.condition for i in result.indications] == ["lichen-planus"]
    assert kb.summarize("lichen-planus").studies == 0
    assert result.finding("indication-without-evidence") is not None
    assert result.candidacy is Candidacy.NO_INDICATION


def test_condition_with_only_negative_evidence(run: Run, kb: KnowledgeBase) -> None:
    summary = kb.summarize("grover-disease")
    assert summary.studies >= 1 and summary.positive == 0
    bundle = Bundle(gender="male")
    bundle.condition(concept(ICD10CM, "L11.1", "Transient acantholytic dermatosis [Grover]"))
    result = run(bundle)
    assert [i.condition for i in result.indications] == ["grover-disease"]
    assert result.finding("indication-evidence-negative") is not None
    assert result.candidacy is Candidacy.NO_INDICATION


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        ("atopic-dermatitis-pruritus", "Atopic dermatitis"),
        ("prurigo-nodularis", "Prurigo nodularis"),
        ("uremic-pruritus", "Uremic pruritus"),
    ],
)
def test_improvement_only_at_higher_doses_does_not_support_ldn(
    run: Run, kb: KnowledgeBase, condition: str, text: str
) -> None:
    """Standard-dose (50 mg) naltrexone trials are evidence for naltrexone, not for LDN."""
    from ldn_derm.knowledge.models import Outcome

    improved = [e for e in kb.evidence_for(condition) if e.outcome is Outcome.IMPROVED]
    if not improved or any(kb.dose_class(e) in {"low", "unknown"} for e in improved):
        pytest.skip(f"{condition} no longer has improvement only at higher doses")
    bundle = Bundle(gender="male")
    bundle.condition(concept(text=text))
    result = run(bundle)
    [indication] = result.indications
    assert indication.condition == condition
    assert indication.evidence.positive > 0 and indication.evidence.positive_possibly_low == 0
    note = result.finding("indication-evidence-higher-dose-only")
    assert note is not None and "50 mg/day" in note.summary and note.references
    assert result.candidacy is Candidacy.NO_INDICATION


def test_low_dose_improvement_still_supports_ldn_beside_higher_doses(run: Run) -> None:
    bundle = Bundle(gender="female")
    bundle.condition(concept(text="Hailey-Hailey disease"))
    result = run(bundle)
    [indication] = result.indications
    assert indication.evidence.positive_possibly_low >= 1
    assert result.finding("indication-evidence-higher-dose-only") is None
    assert result.candidacy in {Candidacy.CANDIDATE, Candidacy.CANDIDATE_WITH_CAUTIONS}

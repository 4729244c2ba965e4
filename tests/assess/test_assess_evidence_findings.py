"""Negative controlled evidence at a low dose becomes a caution for that condition (issue 14):
a frontal fibrosing alopecia patient is never a plain candidate while the only randomised
trial in lichen planopilaris is negative."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from vignette_fhir import AS_OF, ICD10CM, Bundle, concept

from ldn_derm.assess import Assessment, Candidacy, assess
from ldn_derm.knowledge import KnowledgeBase
from ldn_derm.knowledge.models import Outcome
from ldn_derm.patient import profile_from_bundle

Run = Callable[..., Assessment]
CODE = "indication-evidence-negative-controlled"


def _ffa() -> Bundle:
    bundle = Bundle(gender="female", birth="1960-03-01")  # postmenopausal age, no flags
    bundle.condition(concept(ICD10CM, "L66.12", "Frontal fibrosing alopecia"))
    return bundle


def test_ffa_patient_is_not_a_plain_candidate(run: Run) -> None:
    result = run(_ffa())
    [indication] = result.indications
    assert indication.condition == "lichen-planopilaris"
    assert indication.evidence.negative_controlled_low == ["lpp-rct-2020-lichen-planopilaris"]
    finding = result.finding(CODE)
    assert finding is not None and finding.severity.value == "caution"
    assert "lpp-rct-2020" in finding.references
    assert "rct" in finding.detail and "3 mg/day" in finding.detail
    assert "clobetasol" in finding.detail  # the trial was LDN added to clobetasol
    assert finding.triggered_by == indication.matched_from
    assert result.candidacy.value != "candidate"
    assert result.candidacy.value in {"candidate-with-cautions", "needs-review"}


def test_the_negative_trial_is_what_keeps_the_ffa_patient_from_plain_candidacy(
    kb: KnowledgeBase,
) -> None:
    """The same record, with the trial's outcome flipped in a copy of the knowledge base, is a
    plain candidate and has no such finding: the caution comes from the trial, nothing else."""
    trial = kb.evidence["lpp-rct-2020-lichen-planopilaris"]
    flipped = dict(kb.evidence)
    flipped[trial.id] = dataclasses.replace(trial, outcome=Outcome.IMPROVED)
    other = dataclasses.replace(kb, evidence=flipped)
    profile = profile_from_bundle(_ffa().json(), as_of=AS_OF, kb=other)
    result = assess(profile, other)
    assert result.finding(CODE) is None
    assert result.candidacy is Candidacy.CANDIDATE


@pytest.mark.parametrize(
    ("condition", "text", "expected"),
    [
        ("lichen-planopilaris", "Lichen planopilaris", True),  # 3 mg RCT, no benefit
        ("uremic-pruritus", "Uremic pruritus", False),  # negative trials were 50 mg/day
        ("psoriasis", "Psoriasis vulgaris", False),  # no controlled study
        ("hailey-hailey-disease", "Hailey-Hailey disease", False),
        ("darier-disease", "Darier disease", False),  # uncontrolled series, mixed
    ],
)
def test_negative_controlled_finding_per_condition(
    run: Run, kb: KnowledgeBase, condition: str, text: str, expected: bool
) -> None:
    bundle = Bundle(gender="male")
    bundle.condition(concept(text=text))
    result = run(bundle)
    assert [i.condition for i in result.indications] == [condition]
    assert (result.finding(CODE) is not None) is expected
    assert bool(kb.summarize(condition).negative_controlled_low) is expected


def test_every_negative_controlled_low_dose_study_is_controlled_negative_and_possibly_low(
    kb: KnowledgeBase,
) -> None:
    found = []
    for cid in kb.conditions:
        for ident in kb.summarize(cid).negative_controlled_low:
            entry = kb.evidence[ident]
            assert entry.condition == cid
            assert entry.design.is_controlled and entry.outcome.is_negative
            assert kb.possibly_low(entry)
            found.append(ident)
    assert "lpp-rct-2020-lichen-planopilaris" in found
    assert "loratadine-2004-uremic-pruritus" not in found  # 50 mg/day


def test_patient_view_evidence_line_names_the_negative_trial(run: Run) -> None:
    from ldn_derm.assess.evidence import evidence_findings

    [line] = evidence_findings(run(_ffa()))
    assert line.condition == "lichen-planopilaris"
    assert "a controlled trial at a low dose was negative" in line.finding.summary
    assert "J Dermatolog Treat 2020 RCT (rct, n=34)" in line.finding.detail

"""The fail-closed medicine screen: every medicine is classified or listed as unchecked, an
unchecked one never leaves a plain 'candidate', naltrexone already in use and the label's
interacting drugs are named. Table-driven: one row per product as a record may write it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vignette_fhir import AS_OF, ICD10CM, RXNORM, Bundle, concept, days_ago

from ldn_derm.assess import Assessment, Candidacy, Severity, assess
from ldn_derm.knowledge import get_knowledge
from ldn_derm.patient import profile_from_bundle
from ldn_derm.patient.profile import MedStatus

Run = Callable[..., Assessment]
PSORIASIS = concept(ICD10CM, "L40.0", "Psoriasis vulgaris")


def _candidate_bundle() -> Bundle:
    """A 47-year-old man with psoriasis: a plain candidate until a medicine is added."""
    bundle = Bundle(gender="male", birth="1979-03-01")
    bundle.condition(PSORIASIS)
    bundle.observation("3016-3", "TSH", value=2.1, unit="m[IU]/L", high=4.0, when=days_ago(30))
    return bundle


def test_baseline_vignette_is_a_plain_candidate(run: Run) -> None:
    result = run(_candidate_bundle())
    assert result.candidacy is Candidacy.CANDIDATE, result.codes()


# ------------------------------------------------------------------ unknown is not safe


@pytest.mark.parametrize(
    "med",
    [
        concept(text="Fooxol"),
        concept(RXNORM, "99999999", None),
        concept(text="Zzyzx forte tablets"),
        {},
    ],
    ids=["unknown-name", "unknown-code-no-text", "unknown-brand", "empty-concept"],
)
def test_unidentified_medicine_needs_review(run: Run, med: dict[str, Any]) -> None:
    bundle = _candidate_bundle()
    ref = bundle.request(med)
    result = run(bundle)
    assert result.candidacy is Candidacy.NEEDS_REVIEW
    finding = result.finding("medication-unchecked")
    assert finding is not None and finding.severity is Severity.CAUTION
    assert finding.triggered_by == [ref]
    assert "label-naltrexone-oral" in finding.references
    assert any(n.ref == ref for n in result.not_assessed)  # still listed there too


@pytest.mark.parametrize(
    ("status", "end_days_ago", "unchecked"),
    [
        ("active", None, True),
        ("unknown", None, True),
        ("on-hold", None, True),
        ("stopped", 3, True),  # inside the opioid-free window: an opioid would still matter
        ("stopped", 400, False),
        ("completed", 400, False),
        ("entered-in-error", None, False),
    ],
)
def test_which_unidentified_medicines_matter(
    run: Run, status: str, end_days_ago: int | None, unchecked: bool
) -> None:
    bundle = _candidate_bundle()
    extra: dict[str, Any] = {}
    if end_days_ago is not None:
        extra["dispenseRequest"] = {
            "validityPeriod": {"start": days_ago(end_days_ago + 30), "end": days_ago(end_days_ago)}
        }
    bundle.request(concept(text="Fooxol"), status=status, authored=days_ago(500), **extra)
    result = run(bundle)
    assert (result.finding("medication-unchecked") is not None) is unchecked
    expected = Candidacy.NEEDS_REVIEW if unchecked else Candidacy.CANDIDATE
    assert result.candidacy is expected


def test_contraindication_and_no_indication_outrank_needs_review(run: Run) -> None:
    blocked = _candidate_bundle()
    blocked.request(concept(text="Fooxol"))
    blocked.request(concept(RXNORM, "7804", "oxycodone"))
    assert run(blocked).candidacy is Candidacy.CONTRAINDICATED
    plain = Bundle(gender="male")
    plain.request(concept(text="Fooxol"))
    result = run(plain)
    assert result.candidacy is Candidacy.NO_INDICATION
    assert result.finding("medication-unchecked") is not None  # still shown


# ------------------------------------------------------------------ classified, by source


@pytest.mark.parametrize(
    ("med", "finding_code"),
    [
        # CDC OMTK codes (not listed in terminology.yaml): fentanyl patch, buprenorphine injection
        (concept(RXNORM, "197696", None), "opioid-use"),
        (concept(RXNORM, "238129", None), "opioid-agonist-therapy"),
        # opioids and opioid-like drugs outside OMTK
        (concept(text="Sufentanil citrate 30 MCG Sublingual Tablet"), "opioid-use"),
        (concept(text="Dsuvia"), "opioid-use"),
        (concept(text="remifentanil infusion"), "opioid-use"),
        (concept(text="eluxadoline 100 MG Oral Tablet"), "opioid-use"),
        (concept(text="Viberzi"), "opioid-use"),
        (concept(text="Kratom powder"), "opioid-use"),
        (concept(text="mitragynine"), "opioid-use"),
        # label interactions
        (concept(text="Thioridazine 25 MG Oral Tablet"), "naltrexone-interaction"),
        (concept(text="Antabuse"), "naltrexone-interaction"),
        (concept(text="disulfiram 250 mg"), "naltrexone-interaction"),
        # products that already contain naltrexone
        (concept(RXNORM, "1483744", "naltrexone hydrochloride 50 MG Oral Tablet"), None),
        (concept(text="Naltrexone 50 mg tablets"), None),
        (concept(text="Vivitrol"), None),
        (concept(text="Contrave"), None),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_recognised_products_raise_their_rule(
    run: Run, med: dict[str, Any], finding_code: str | None
) -> None:
    bundle = _candidate_bundle()
    ref = bundle.request(med)
    result = run(bundle)
    assert result.finding("medication-unchecked") is None
    if finding_code is None:  # a naltrexone product
        finding = result.finding("naltrexone-duplicate")
        assert finding is not None and finding.triggered_by == [ref]
        assert result.candidacy is Candidacy.CANDIDATE_WITH_CAUTIONS
        return
    finding = result.finding(finding_code)
    assert finding is not None and ref in finding.triggered_by
    assert result.candidacy is not Candidacy.CANDIDATE


def test_embeda_code_is_an_opioid_and_a_naltrexone_product(run: Run) -> None:
    bundle = _candidate_bundle()
    ref = bundle.request(concept(RXNORM, "863845", None))  # the OMTK row names morphine only
    result = run(bundle)
    assert ref in result.finding("opioid-use").triggered_by  # type: ignore[union-attr]
    assert ref in result.finding("naltrexone-duplicate").triggered_by  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    ["methylnaltrexone bromide 12 MG/0.6ML", "Relistor", "naloxegol 25 mg", "Movantik"],
)
def test_other_antagonists_are_not_naltrexone(run: Run, text: str) -> None:
    bundle = _candidate_bundle()
    bundle.request(concept(text=text))
    result = run(bundle)
    assert result.finding("naltrexone-duplicate") is None
    assert result.finding("medication-unchecked") is None
    assert result.candidacy is Candidacy.CANDIDATE


def test_interactions_name_their_label_items(run: Run) -> None:
    bundle = _candidate_bundle()
    bundle.request(concept(text="thioridazine"))
    bundle.request(concept(text="disulfiram"))
    found = [f for f in run(bundle).findings if f.code == "naltrexone-interaction"]
    assert [f.summary.split(" — ")[0] for f in found] == ["Disulfiram", "Thioridazine"]
    assert all("label-revia-interactions" in f.references for f in found)


def test_rxnorm_name_with_unknown_ingredient_is_checked_with_its_caveat(run: Run) -> None:
    bundle = _candidate_bundle()
    ref = bundle.request(concept(text="Fooxol 5 MG Oral Tablet"))
    result = run(bundle)
    assert result.finding("medication-unchecked") is None
    note = result.finding("medication-checked-by-name")
    assert note is not None and note.severity is Severity.INFO and note.triggered_by == [ref]
    assert "2020-10-20" in note.detail and "omtk-2020" in note.references
    assert result.candidacy is Candidacy.CANDIDATE


@pytest.mark.parametrize(
    "text",
    [
        "Fooxol 5 mg tablet",  # not RxNorm's normalised form
        "Fooxol 5 MG",  # no dose form
        "Fooxol 5 MG Magic Tablet",  # not an RxNorm dose form
        "Fooxol / Barbar 5 MG Oral Tablet",  # a component without strength
    ],
)
def test_names_not_in_rxnorm_form_stay_unchecked(run: Run, text: str) -> None:
    bundle = _candidate_bundle()
    bundle.request(concept(text=text))
    assert run(bundle).candidacy is Candidacy.NEEDS_REVIEW


# ------------------------------------------------------------------ nothing disappears


_NAMES = st.sampled_from(
    [
        "Fooxol",
        "oxycodone 5 MG Oral Tablet",
        "Hydrochlorothiazide 25 MG Oral Tablet",
        "Zzyzx 10 MG Oral Capsule",
        "kratom",
        "naltrexone 4.5 mg capsule",
        "methylnaltrexone",
        "thioridazine",
        "aspirin / Fooxol",
        "",
    ]
)
_STATUSES = st.sampled_from(["active", "on-hold", "unknown", "stopped", "completed", "draft"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_NAMES, _STATUSES, st.integers(0, 60)), min_size=1, max_size=6))
def test_no_active_medicine_disappears(meds: list[tuple[str, str, int]]) -> None:
    """Every current or unknown-status medicine is either classified (checked) or named by the
    medication-unchecked finding; and an unchecked one never leaves a plain 'candidate'."""
    kb = get_knowledge()
    bundle = _candidate_bundle()
    for name, status, age in meds:
        bundle.request(concept(text=name) if name else {}, status=status, authored=days_ago(age))
    profile = profile_from_bundle(bundle.json(), as_of=AS_OF, kb=kb)
    result = assess(profile, kb)
    unchecked = result.finding("medication-unchecked")
    listed = set(unchecked.triggered_by) if unchecked else set()
    for med in profile.medications:
        if med.status is MedStatus.PAST:
            continue
        assert med.recognised or med.ref in listed, med
    if listed:
        assert result.candidacy is not Candidacy.CANDIDATE

"""Comparator flags at their real severity (issue 14): acitretin, methotrexate and biologics.

Each row builds a record and names the flags it must raise (with their severity) and the flags
it must not raise (weaker flags superseded by a stronger one, or lookalikes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vignette_fhir import AS_OF, ICD10CM, RXNORM, Bundle, concept, days_ago

from ldn_derm.assess import Assessment, Severity
from ldn_derm.knowledge import KnowledgeBase

Run = Callable[..., Assessment]
C = Severity.CONTRAINDICATED
W = Severity.CAUTION


def raised(result: Assessment) -> dict[str, Severity]:
    return {f.code: f.severity for c in result.comparators for f in c.flags}


def _condition(code: str, display: str) -> Callable[[Bundle], None]:
    def build(bundle: Bundle) -> None:
        bundle.condition(concept(ICD10CM, code, display))

    return build


def _text_condition(text: str) -> Callable[[Bundle], None]:
    def build(bundle: Bundle) -> None:
        bundle.condition(concept(text=text))

    return build


def _medicine(text: str, status: str = "active") -> Callable[[Bundle], None]:
    def build(bundle: Bundle) -> None:
        bundle.statement(concept(text=text), status=status)

    return build


def _lab(
    loinc: str, display: str, value: float, unit: str, interpretation: str | None = None
) -> Callable[[Bundle], None]:
    def build(bundle: Bundle) -> None:
        bundle.observation(loinc, display, value=value, unit=unit, interpretation=interpretation)

    return build


@dataclass
class Case:
    name: str
    build: Callable[[Bundle], None]
    expect: dict[str, Severity]
    absent: set[str] = field(default_factory=set)


CASES = [
    # ------------------------------------------------------------------ acitretin
    Case(
        "hepatic failure",
        _condition("K72.10", "Chronic hepatic failure without coma"),
        {"acitretin-severe-liver": C, "mtx-liver-disease": C},
        {"acitretin-liver-disease"},
    ),
    Case(
        "fatty liver",
        _condition("K76.0", "Fatty (change of) liver, not elsewhere classified"),
        {"acitretin-liver-disease": W, "mtx-liver-disease": C},
        {"acitretin-severe-liver"},
    ),
    Case(
        "CKD stage 4",
        _condition("N18.4", "Chronic kidney disease, stage 4 (severe)"),
        {"acitretin-severe-kidney": C, "mtx-severe-kidney": C, "cyclosporine-ckd": W},
        {"acitretin-ckd", "mtx-ckd"},
    ),
    Case(
        "CKD stage 3b",
        _condition("N18.32", "Chronic kidney disease, stage 3b"),
        {"acitretin-ckd": W, "mtx-ckd": W},
        {"acitretin-severe-kidney", "mtx-severe-kidney"},
    ),
    Case(
        "dialysis by text",
        _text_condition("Dependence on renal dialysis"),
        {"acitretin-severe-kidney": C, "mtx-severe-kidney": C},
    ),
    Case(
        "eGFR 24",
        _lab("33914-3", "eGFR", 24, "mL/min/{1.73_m2}"),
        {"acitretin-severe-kidney": C, "mtx-severe-kidney": C},
        {"acitretin-ckd", "mtx-ckd"},
    ),
    Case(
        "eGFR 41",
        _lab("33914-3", "eGFR", 41, "mL/min/{1.73_m2}"),
        {"acitretin-ckd": W, "mtx-ckd": W},
        {"acitretin-severe-kidney", "mtx-severe-kidney"},
    ),
    Case(
        "hyperlipidaemia",
        _condition("E78.5", "Hyperlipidemia, unspecified"),
        {"acitretin-hyperlipidemia": C},
    ),
    Case(
        "one triglyceride of 162 mg/dL: a caution to confirm, not the label's chronic elevation",
        _lab("2571-8", "Triglycerides", 162, "mg/dL"),
        {"acitretin-hyperlipidemia": W},
    ),
    Case(
        "breastfeeding (methotrexate: absolute contraindication; was never flagged)",
        _condition("Z39.1", "Encounter for care and examination of lactating mother"),
        {"mtx-breastfeeding": C},
    ),
    Case(
        "current methotrexate",
        _medicine("Methotrexate 2.5 MG Oral Tablet"),
        {"acitretin-methotrexate": C},
    ),
    Case(
        "methotrexate brand",
        _medicine("Otrexup 15 mg auto-injector"),
        {"acitretin-methotrexate": C},
    ),
    Case(
        "methotrexate of unknown status",
        _medicine("methotrexate 10 mg weekly", status="unknown"),
        {"acitretin-methotrexate": C},
    ),
    Case(
        "stopped methotrexate",
        _medicine("methotrexate 10 mg weekly", "completed"),
        {},
        {"acitretin-methotrexate"},
    ),
    Case(
        "doxycycline",
        _medicine("Doxycycline hyclate 100 mg capsule"),
        {"acitretin-tetracycline": C},
    ),
    Case("minocycline", _medicine("Minocycline 50 MG Oral Capsule"), {"acitretin-tetracycline": C}),
    Case(
        "tetracaine is not a tetracycline",
        _medicine("Tetracaine 0.5% eye drops"),
        {},
        {"acitretin-tetracycline"},
    ),
    # ------------------------------------------------------------------ methotrexate
    Case(
        "alcohol dependence",
        _condition("F10.20", "Alcohol dependence, uncomplicated"),
        {"mtx-alcohol": C},
    ),
    Case(
        "immunodeficiency",
        _condition("D83.9", "Common variable immunodeficiency, unspecified"),
        {"mtx-immunodeficiency": C},
    ),
    Case(
        "HIV disease",
        _condition("B20", "Human immunodeficiency virus [HIV] disease"),
        {"mtx-immunodeficiency": C},
    ),
    Case(
        "thrombocytopenia",
        _condition("D69.6", "Thrombocytopenia, unspecified"),
        {"mtx-blood-dyscrasia": C},
    ),
    Case(
        "aplastic anaemia by text", _text_condition("Aplastic anemia"), {"mtx-blood-dyscrasia": C}
    ),
    Case(
        "high ALT",
        _lab("1742-6", "Alanine aminotransferase", 140, "U/L", interpretation="H"),
        {"mtx-abnormal-liver-tests": W, "acitretin-abnormal-liver-tests": W},
        {"mtx-liver-disease", "acitretin-liver-disease"},
    ),
    Case(
        "diabetes",
        _condition("E11.9", "Type 2 diabetes mellitus without complications"),
        {"mtx-diabetes": W},
    ),
    # ------------------------------------------------------------------ biologics
    Case(
        "Crohn disease",
        _condition("K50.90", "Crohn's disease, unspecified, without complications"),
        {"tnf-ibd-hstcl": W, "il17-ibd": W},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_flag_fires_at_its_real_severity(run: Run, case: Case) -> None:
    bundle = Bundle(gender="male", birth="1970-01-01")
    case.build(bundle)
    got = raised(run(bundle))
    for code, severity in case.expect.items():
        assert got.get(code) is severity, (code, got)
    assert not case.absent & set(got), case.absent & set(got)


# ------------------------------------------------------------------ child-bearing potential


def _not_pregnant(birth: str) -> Bundle:
    bundle = Bundle(gender="female", birth=birth)
    bundle.observation("2106-3", "hCG urine", coded="Negative", when=days_ago(5))
    return bundle


def test_not_pregnant_woman_of_30_still_cannot_take_acitretin(run: Run) -> None:
    result = run(_not_pregnant("1996-01-01"))
    got = raised(result)
    assert got["acitretin-childbearing-potential"] is C
    assert "acitretin-pregnancy" not in got and "mtx-pregnancy" not in got
    flag = next(
        f
        for c in result.comparators
        for f in c.flags
        if f.code == "acitretin-childbearing-potential"
    )
    assert "recorded as not pregnant" in flag.detail
    assert "Patient/p1" in flag.triggered_by


@pytest.mark.parametrize(
    ("birth", "record", "flagged"),
    [
        (
            "1966-01-01",
            concept(ICD10CM, "N95.1", "Menopausal and female climacteric states"),
            False,
        ),
        ("1981-01-01", concept(ICD10CM, "Z78.0", "Asymptomatic menopausal state"), False),
        ("1981-01-01", concept(text="History of hysterectomy"), False),
        (
            "1981-01-01",
            concept(ICD10CM, "Z90.722", "Acquired absence of ovaries, bilateral"),
            False,
        ),
        # tubal ligation is one of the label's two birth-control methods, not an end to it
        ("1981-01-01", concept(ICD10CM, "Z98.51", "Tubal ligation status"), True),
        # one ovary left: still able to become pregnant
        (
            "1981-01-01",
            concept(ICD10CM, "Z90.721", "Acquired absence of ovaries, unilateral"),
            True,
        ),
        ("1981-01-01", concept(text="Perimenopausal symptoms"), True),
    ],
)
def test_recorded_menopause_or_sterility_ends_the_acitretin_contraindication(
    run: Run, birth: str, record: dict[str, object], flagged: bool
) -> None:
    bundle = Bundle(gender="female", birth=birth)
    bundle.condition(record, status="resolved" if "History" in str(record) else "active")
    got = raised(run(bundle))
    assert ("acitretin-childbearing-potential" in got) is flagged
    if not flagged:  # a recorded end of reproductive potential also excludes pregnancy
        assert "mtx-pregnancy" not in got and "acitretin-pregnancy" not in got


def test_60_year_old_with_recorded_menopause_has_no_pregnancy_flags(run: Run) -> None:
    bundle = Bundle(gender="female", birth="1966-03-01")
    bundle.condition(concept(text="Menopause"))
    got = raised(run(bundle))
    assert not {"acitretin-childbearing-potential", "acitretin-pregnancy", "mtx-pregnancy"} & set(
        got
    )


@pytest.mark.parametrize(("gender", "birth"), [("male", "1996-01-01"), ("female", "2018-01-01")])
def test_men_and_children_are_not_of_childbearing_potential(
    run: Run, gender: str, birth: str
) -> None:
    assert "acitretin-childbearing-potential" not in raised(run(Bundle(gender=gender, birth=birth)))


def test_pregnant_woman_gets_the_pregnancy_flag_not_the_potential_one(run: Run) -> None:
    bundle = Bundle(birth="1995-01-01")
    bundle.condition(concept(ICD10CM, "Z33.1", "Pregnant state, incidental"), onset=days_ago(40))
    got = raised(run(bundle))
    assert got["acitretin-pregnancy"] is C and got["mtx-pregnancy"] is C
    assert "acitretin-childbearing-potential" not in got


def test_methotrexate_and_acitretin_co_medication_by_rxnorm_text(run: Run) -> None:
    bundle = Bundle(gender="male", birth="1970-01-01")
    ref = bundle.request(concept(RXNORM, "105586", "methotrexate 2.5 MG Oral Tablet"))
    result = run(bundle)
    flag = next(
        f for c in result.comparators for f in c.flags if f.code == "acitretin-methotrexate"
    )
    assert flag.severity is C and ref in flag.triggered_by
    assert "methotrexate" in flag.detail.lower()


# ------------------------------------------------------------------ baselines and the LDN row


def test_ldn_row_comes_first_with_its_own_baseline(run: Run) -> None:
    bundle = Bundle(gender="male", birth="1970-01-01")
    bundle.condition(concept(ICD10CM, "L40.0", "Psoriasis vulgaris"))
    result = run(bundle)
    ldn = result.comparators[0]
    assert ldn.therapy == "ldn" and ldn.kind == "ldn"
    assert {b.topic for b in ldn.baseline} == {"evidence", "risk", "screening", "monitoring"}
    evidence = ldn.baseline_of("evidence")[0]
    assert evidence.text.startswith("Psoriasis")
    assert evidence.references and evidence.plain
    # LDN's flags are the assessment's own contraindications and cautions
    assert [f.code for f in ldn.flags] == [
        f.code for f in result.findings if f.severity is not Severity.INFO
    ]


def test_baselines_are_shown_when_nothing_is_flagged(run: Run) -> None:
    result = run(Bundle(gender="male", birth="1960-01-01"))
    assert raised(result) == {}
    for row in result.comparators:
        assert row.flags == [] or row.therapy == "ldn"
        assert row.baseline_of("risk"), row.therapy
        assert row.baseline_of("screening") or row.baseline_of("monitoring"), row.therapy
        for item in row.baseline:
            assert item.references, (row.therapy, item.text)


@pytest.mark.parametrize(
    "therapy", ["tnf-inhibitors", "il17-inhibitors", "il23-inhibitors", "ustekinumab"]
)
def test_every_psoriasis_biologic_start_needs_tb_and_hepatitis_b_screening(
    run: Run, therapy: str
) -> None:
    result = run(Bundle(gender="male", birth="1960-01-01"))  # no history of either
    row = next(c for c in result.comparators if c.therapy == therapy)
    screening = " ".join(b.text for b in row.baseline_of("screening")).lower()
    assert "tb" in screening and "hepatitis b" in screening


def test_tnf_baseline_names_leukaemia_and_hstcl(run: Run) -> None:
    row = next(c for c in run(Bundle(gender="male")).comparators if c.therapy == "tnf-inhibitors")
    risks = " ".join(b.text for b in row.baseline_of("risk")).lower()
    assert "leukaemia" in risks and "hepatosplenic t-cell lymphoma" in risks
    assert any("fda-2009-tnf-blockers" in b.references for b in row.baseline_of("risk"))


def test_methotrexate_has_a_baseline_and_follow_up_schedule(run: Run) -> None:
    row = next(c for c in run(Bundle(gender="male")).comparators if c.therapy == "methotrexate")
    screening = " ".join(b.text for b in row.baseline_of("screening")).lower()
    monitoring = " ".join(b.text for b in row.baseline_of("monitoring")).lower()
    assert "blood count" in screening and "hepatitis b" in screening
    assert "every 1-2 weeks" in monitoring and "every 3-6 months" in monitoring


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    age=st.integers(min_value=1, max_value=90),
    gender=st.sampled_from(["female", "male", "unknown"]),
    status=st.sampled_from(["unknown", "not-pregnant", "pregnant"]),
    ended=st.booleans(),
)
def test_childbearing_potential_rule(
    run: Run, kb: KnowledgeBase, age: int, gender: str, status: str, ended: bool
) -> None:
    bundle = Bundle(gender=gender, birth=f"{AS_OF.year - age}-01-01")  # `age` years on AS_OF
    if status == "pregnant":
        bundle.condition(
            concept(ICD10CM, "Z33.1", "Pregnant state, incidental"), onset=days_ago(30)
        )
    elif status == "not-pregnant":
        bundle.observation("2106-3", "hCG urine", coded="Negative", when=days_ago(5))
    if ended:
        bundle.condition(concept(ICD10CM, "Z78.0", "Asymptomatic menopausal state"))
    got = raised(run(bundle))
    params = {p.id: p.value for p in kb.terminology.parameters}
    low, high = params["childbearing-age-min"], params["childbearing-age-max"]
    expected = gender != "male" and low <= age <= high and status != "pregnant" and not ended
    assert ("acitretin-childbearing-potential" in got) is expected, got

"""The CDS services assess without the comparator table; nothing else may change."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from web_helpers import SYNTHEA, hook_request, naltrexone_order, prefetch_from_bundle

from ldn_derm.assess import assess
from ldn_derm.knowledge import get_knowledge
from ldn_derm.patient import profile_from_bundle
from ldn_derm.web import presenters
from ldn_derm.web.cds import cards
from ldn_derm.web.cds import findings as domain
from ldn_derm.web.cds.prefetch import resources_in
from ldn_derm.web.settings import Settings

# patient records (First_Last_uuid.json), not the hospital/practitioner information bundles
BUNDLES = sorted(p for p in SYNTHEA.glob("*_*.json") if "Information" not in p.name)


def test_synthea_bundles_are_there() -> None:
    if not BUNDLES:
        pytest.skip(f"no Synthea bundles in {SYNTHEA}")
    assert len(BUNDLES) >= 10


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem.split("_")[0])
def test_skipping_comparators_changes_nothing_else(path: Path) -> None:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    profile = profile_from_bundle(bundle, as_of=date(2026, 11, 26))
    full = assess(profile)
    lean = assess(profile, comparators=False)
    assert lean.comparators == []
    assert lean.candidacy == full.candidacy
    assert lean.findings == full.findings
    assert lean.indications == full.indications
    assert lean.patient == full.patient


def test_some_patient_has_comparators_so_the_flag_matters() -> None:
    with_table = 0
    for path in BUNDLES:
        bundle = json.loads(path.read_text(encoding="utf-8"))
        profile = profile_from_bundle(bundle, as_of=date(2026, 11, 26))
        with_table += bool(assess(profile).comparators)
    if not BUNDLES:
        pytest.skip(f"no Synthea bundles in {SYNTHEA}")
    assert with_table > 0


def test_card_source_names_the_first_reference() -> None:
    """The card source (label, link) is looked up once per reference and reused unchanged."""
    path = next(iter(sorted(SYNTHEA.glob("Chet_Thompson*.json"))), None)
    if path is None:
        pytest.skip("Synthea bundle Chet_Thompson* not found")
    patient_id, prefetch = prefetch_from_bundle(json.loads(path.read_text(encoding="utf-8")))
    body = hook_request("order-sign", patient_id, prefetch, [naltrexone_order(patient_id, 50)])
    settings = Settings(public_base_url="https://ldn.example")
    resources = {k: list(resources_in(v)) for k, v in prefetch.items()}
    kb = get_knowledge()
    records = [r for rs in resources.values() for r in rs]
    findings = domain.cds_order_findings(records, body["context"]["draftOrders"])
    assert findings
    for finding in findings:
        first_twice = [cards.render_card(finding, settings)["source"] for _ in range(2)]
        assert first_twice[0] == first_twice[1]
        source = first_twice[0]
        refs = [r for r in finding.get("references", []) if r in kb.references]
        if refs:
            ref = kb.references[refs[0]]
            assert source["label"].endswith(ref.short())
            assert source["url"] == (
                presenters.reference_link(ref) or "https://ldn.example/references"
            )
        else:
            assert source["url"] == "https://ldn.example/references"
        assert kb.meta.version in source["label"]

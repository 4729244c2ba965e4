"""How the fail-closed medicine screen fares on real records (issue 13, item 5).

    .venv/bin/python scripts/terminology_coverage.py [FOLDER_OF_BUNDLES] [--as-of YYYY-MM-DD]

For every FHIR bundle with a Patient in FOLDER (default ../shared/fhir/synthea): the candidacy,
whether it is needs-review, and for every medicine how it was checked (RxNorm code, names,
RxNorm-normalised name) or that it was not. Prints counts, then every unchecked medicine.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import date
from pathlib import Path

from ldn_derm.assess import Candidacy, assess
from ldn_derm.errors import LdnError
from ldn_derm.knowledge import get_knowledge
from ldn_derm.patient import load_patient


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[1].parent / "shared" / "fhir" / "synthea"
    parser.add_argument("folder", nargs="?", type=Path, default=default)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date.today())
    args = parser.parse_args()
    kb = get_knowledge()
    candidacy: Counter[str] = Counter()
    how: Counter[str] = Counter()
    unchecked: Counter[str] = Counter()
    patients = needs_review = with_unchecked = 0
    for path in sorted(args.folder.glob("*.json")):
        try:
            profile = load_patient(path.read_bytes(), as_of=args.as_of, name=path.name, kb=kb)
        except LdnError as exc:
            print(f"skipped {path.name}: {exc}", file=sys.stderr)
            continue
        patients += 1
        result = assess(profile, kb)
        candidacy[result.candidacy.value] += 1
        needs_review += result.candidacy is Candidacy.NEEDS_REVIEW
        with_unchecked += result.finding("medication-unchecked") is not None
        for med in profile.medications:
            how[med.checked_by or "unchecked"] += 1
            if not med.recognised:
                unchecked[med.text] += 1
    print(
        f"patients: {patients}; needs-review: {needs_review}; "
        f"with an unchecked medicine (any candidacy): {with_unchecked}"
    )
    print("candidacy:", dict(sorted(candidacy.items())))
    print("medicine records by how they were checked:", dict(sorted(how.items())))
    codes = Counter(code.table for code in kb.drug_codes.values())
    print(
        f"RxNorm drug codes loaded from code tables: {dict(codes)}; "
        f"terminology.yaml: {len(kb.terminology.ingredients)} ingredients, "
        f"{len(kb.terminology.products)} products"
    )
    for text, n in unchecked.most_common():
        print(f"  unchecked x{n}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The assessment path stays light: no web, plotting, database, scipy or fhir.resources.

(Not a timing test: it checks which modules get imported. Timings are in the benchmark.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("fhir", "fastapi", "starlette", "sqlalchemy", "matplotlib", "weasyprint", "scipy", "pint")

SCRIPT = """
import json, sys
from datetime import date
from pathlib import Path
from ldn_derm.assess import assess
from ldn_derm.patient import load_patient
data = Path(sys.argv[1]).read_bytes()
assess(load_patient(data, as_of=date(2026, 6, 1)))
heavy = {h for h in sys.argv[2:] for m in sys.modules if m == h or m.startswith(h + ".")}
print(json.dumps(sorted(heavy)))
"""


def test_assessing_imports_no_heavy_library() -> None:
    example = REPO / "examples" / "profile-psoriasis.yaml"
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(example), *HEAVY],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(out) == []


def test_cli_module_defers_the_assessment_imports() -> None:
    source = (REPO / "src" / "ldn_derm" / "cli" / "assess.py").read_text(encoding="utf-8")
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [
        line for line in top_level if "ldn_derm.assess" in line or "ldn_derm.patient" in line
    ]


def test_ldn_assess_of_a_bundle_imports_no_pydantic(tmp_path: Path) -> None:
    """With the knowledge-base cache filled, `ldn assess BUNDLE` validates nothing and so never
    imports pydantic (about half of its start-up when it did; see docs/assessment.md)."""
    bundles = sorted((REPO.parent / "shared" / "fhir" / "synthea").glob("Eliseo_Cummings*.json"))
    assert bundles, "the shared Synthea bundles are needed"
    env = {**os.environ, "LDN_CACHE_DIR": str(tmp_path), "LDN_KB_CACHE": "on"}
    command = [sys.executable, "-X", "importtime", "-m", "ldn_derm", "assess", str(bundles[0])]
    command += ["--format", "json", "--as-of", "2026-06-01"]
    first = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    assert "pydantic" in first.stderr  # the first run validated the YAML and filled the cache
    again = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    assert json.loads(again.stdout)["candidacy"] == "contraindicated"
    imported = [line.rsplit("|", 1)[-1].strip() for line in again.stderr.splitlines()]
    heavy = [m for m in imported if m.split(".")[0] in {"pydantic", "pydantic_core"}]
    assert not heavy and "typer._adapters" not in imported

"""Benchmark `ldn assess` on the largest shared Synthea bundle (Fletcher_Hyatt, ~4 MB).

Compares, on the same bytes:
  1. orjson.loads                                   (the floor: parsing alone)
  2. load_patient + assess, knowledge base warm     (what a server or a loop pays)
  3. the same, cold, in a fresh interpreter          (what one `ldn assess` run pays)
  4. fhir.resources R4B Bundle.model_validate        (the obvious alternative: full validation)

Target: (2) within 3x of (1). Run: `python benchmarks/bench_assess.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
SYNTHEA = REPO.parent / "shared" / "fhir" / "synthea"
AS_OF = date(2026, 11, 26)


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(median, min) wall time in milliseconds over `repeat` runs after one warm-up run."""
    fn()
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs), min(runs)


def fhir_resources_validate(data: bytes) -> str:
    """Full R4B model validation of the bundle; returns 'ok' or the error class."""
    from fhir.resources.R4B.bundle import Bundle

    try:
        Bundle.model_validate(orjson.loads(data))
        return "ok"
    except Exception as exc:  # report whatever the library raises
        return f"failed ({type(exc).__name__}, {str(exc).count(chr(10))} lines of errors)"


def cold_run(path: Path) -> float:
    """One `ldn assess --format json` in a fresh interpreter, in milliseconds."""
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from ldn_derm.cli import main; main()",
            "assess",
            str(path),
            "--as-of",
            AS_OF.isoformat(),
            "--format",
            "json",
        ],
        check=True,
        capture_output=True,
    )
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--bundle", default="Fletcher_Hyatt")
    args = parser.parse_args()

    path = next(SYNTHEA.glob(f"{args.bundle}*.json"))
    data = path.read_bytes()

    from ldn_derm.assess import assess
    from ldn_derm.knowledge import get_knowledge
    from ldn_derm.patient import load_patient

    start = time.perf_counter()
    kb = get_knowledge()
    kb_ms = (time.perf_counter() - start) * 1000

    def ours() -> object:
        return assess(load_patient(data, as_of=AS_OF, kb=kb), kb)

    parse_med, parse_min = timed(lambda: orjson.loads(data), args.repeat)
    ours_med, ours_min = timed(ours, args.repeat)

    start = time.perf_counter()
    outcome = fhir_resources_validate(data)  # includes the import of the model package
    fr_first = (time.perf_counter() - start) * 1000
    fr_med, fr_min = timed(lambda: fhir_resources_validate(data), max(3, args.repeat // 10))

    cold = statistics.median(cold_run(path) for _ in range(3))

    print(f"bundle: {path.name} ({len(data) / 1e6:.2f} MB), as-of {AS_OF}, {args.repeat} runs")
    print(f"{'step':<52}{'median ms':>11}{'min ms':>9}{'x parse':>9}")
    rows = [
        ("orjson.loads (floor)", parse_med, parse_min),
        ("load_patient + assess, knowledge base warm", ours_med, ours_min),
        ("fhir.resources R4B Bundle.model_validate", fr_med, fr_min),
    ]
    for name, med, low in rows:
        print(f"{name:<52}{med:>11.1f}{low:>9.1f}{med / parse_med:>9.1f}")
    print(f"{'fhir.resources first call (incl. import)':<52}{fr_first:>11.1f}")
    print(f"{'knowledge base load (once per process)':<52}{kb_ms:>11.1f}")
    print(f"{'ldn assess --format json, fresh process':<52}{cold:>11.1f}")
    print(f"fhir.resources validation outcome: {outcome}")
    ratio = ours_med / parse_med
    verdict = "OK" if ratio <= 3 else "OVER TARGET"
    print(f"assessment / parse = {ratio:.2f}x (target <= 3x): {verdict}")


if __name__ == "__main__":
    main()

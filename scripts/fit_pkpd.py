"""Fit the mechanism simulator's parameters and write or check them in pkpd.yaml.

    uv run python scripts/fit_pkpd.py            # fit, print values and the calibration table
    uv run python scripts/fit_pkpd.py --check    # exit 1 if pkpd.yaml differs from a fresh fit
    uv run python scripts/fit_pkpd.py --write    # store the fitted values in pkpd.yaml
    uv run python scripts/fit_pkpd.py --sensitivity   # refit with other metabolite potencies

The fit itself lives in `ldn_derm.pkpd.fit` (SciPy least squares); this script only reads the
knowledge base, prints, and rewrites the `value:` lines of the fitted parameters.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

from ldn_derm.knowledge import DATA_DIR, load
from ldn_derm.knowledge.models import PkpdParameters
from ldn_derm.pkpd.calibration import blockade_half_time, calibration_table, unit_odds
from ldn_derm.pkpd.fit import FitResult, fit, rounded
from ldn_derm.pkpd.model import occupancy
from ldn_derm.pkpd.parameters import ModelParameters, ParamId

PKPD_YAML = DATA_DIR / "pkpd.yaml"
RELATIVE_TOLERANCE = 1e-3  # --check: shipped vs refitted values


def write_values(path: Path, values: dict[ParamId, float]) -> None:
    """Replace the `value:` line of each parameter id, leaving comments and layout alone."""
    text = path.read_text(encoding="utf-8")
    for ident, value in values.items():
        pattern = re.compile(
            rf"(- id: {re.escape(ident.value)}\n(?:(?!\s*- id:).*\n)*?\s+value: )[^\n]*"
        )
        stored = f"{rounded(value):g}"
        text, count = pattern.subn(rf"\g<1>{stored}", text, count=1)
        if count != 1:
            raise SystemExit(f"{path}: no value line found for parameter '{ident.value}'")
    path.write_text(text, encoding="utf-8")


def differences(pk: PkpdParameters, result: FitResult) -> list[str]:
    problems = []
    for ident, value in result.values.items():
        shipped = pk.value(ident.value)
        if abs(shipped - value) > RELATIVE_TOLERANCE * max(abs(value), 1e-12):
            problems.append(f"{ident.value}: pkpd.yaml has {shipped:g}, the fit gives {value:.6g}")
    return problems


def ldn_predictions(params: ModelParameters) -> str:
    times = np.array([2.0, 12.0, 24.0])
    occ = occupancy(4.5 * unit_odds(params, times))
    return ", ".join(f"{t:g} h {o:.0%}" for t, o in zip(times, occ, strict=True))


def report(pk: PkpdParameters, result: FitResult) -> None:
    print("Fitted and derived parameters")
    for ident, value in result.values.items():
        print(f"  {ident.value:38s} {rounded(value):>10g}   (pkpd.yaml: {pk.value(ident.value):g})")
    print(f"  weighted cost: default {result.cost_default:.4f}, plasma {result.cost_plasma:.4f}")
    print("\nCalibration (typical subject)           default model | plasma-driven bound")
    for row in calibration_table(pk, result.default, result.plasma):
        d_mark = "ok" if row.default_ok else "MISS"
        p_mark = "ok" if row.plasma_ok else "MISS"
        print(f"  {row.measured}\n      {row.default} [{d_mark}] | {row.plasma} [{p_mark}]")
    print("\n4.5 mg single dose, typical subject:")
    print(f"  default model: {ldn_predictions(result.default)}")
    print(f"  plasma bound:  {ldn_predictions(result.plasma)}")


def sensitivity(pk: PkpdParameters) -> None:
    print("Sensitivity to the metabolite's central potency ratio (refit each time)")
    for ratio in (10.0, 71.0, 100.0, 300.0):
        params = [
            p.model_copy(update={"value": ratio}) if p.id == ParamId.NOL_POTENCY_RATIO.value else p
            for p in pk.parameters
        ]
        result = fit(pk.model_copy(update={"parameters": params}))
        ht = blockade_half_time(result.default, 50.0)
        print(
            f"  ratio {ratio:5g}: K {result.default.k_naltrexone:.3g} ng/mL, uptake "
            f"{result.default.uptake_rate:.3g}/h, retention t1/2 "
            f"{result.default.retention_half_life:.3g} h, 50 mg half-time {ht:.0f} h, "
            f"cost {result.cost_default:.3f}; 4.5 mg: {ldn_predictions(result.default)}; "
            f"plasma bound: {ldn_predictions(result.plasma)}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="store the fitted values")
    group.add_argument("--check", action="store_true", help="fail if pkpd.yaml is stale")
    group.add_argument("--sensitivity", action="store_true", help="other potency ratios")
    args = parser.parse_args(argv)

    pk = load(DATA_DIR).pkpd
    if args.sensitivity:
        sensitivity(pk)
        return 0
    result = fit(pk)
    if args.check:
        problems = differences(pk, result)
        for problem in problems:
            print(problem, file=sys.stderr)
        print("pkpd.yaml matches the fit" if not problems else "pkpd.yaml is stale: run --write")
        return 1 if problems else 0
    if args.write:
        write_values(PKPD_YAML, result.values)
        pk = load(DATA_DIR).pkpd
        print(f"wrote {len(result.values)} values to {PKPD_YAML}")
    report(pk, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

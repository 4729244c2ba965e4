"""Derive and fit the model's parameters from the literature values and calibration data.

Two steps, both reproducible by `scripts/fit_pkpd.py`:

1. Derived pharmacokinetics (plain arithmetic and a bisection): the absorption rate that puts
   the naltrexone peak at the reported Tmax given its half-life, and the apparent volumes
   that reproduce the reported mean peaks after 50 mg.
2. Receptor parameters by weighted least squares (scipy.optimize.least_squares, imported
   only here):
   - default model: K(naltrexone), uptake rate and retention half-life, against
     (a) every single-dose PET occupancy, compared over its measurement window (the mean
         squared error over a scan time uniform in 1-8 h), scaled by its tolerance;
     (b) the 50 mg blockade half-time, on a log scale, +-1 at the ends of 72-108 h;
     (c) the label's heroin blockade ends, as deviations from their common occupancy;
   - plasma-driven model: K(naltrexone) against (a) only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ldn_derm.knowledge.models import CalibrationPoint, PkpdParameters
from ldn_derm.pkpd.calibration import (
    blockade_half_time,
    heroin_occupancies,
    unit_odds,
    window_grid,
)
from ldn_derm.pkpd.model import F64, occupancy
from ldn_derm.pkpd.parameters import LN2, ModelParameters, ParamId, Structure, model_parameters

REFERENCE_DOSE_MG = 50.0  # the dose behind the reported mean peak concentrations


def _tmax(ka: float, k: float) -> float:
    return math.log(ka / k) / (ka - k)


def _bateman_peak(ka: float, k: float) -> float:
    t = _tmax(ka, k)
    return ka / (ka - k) * (math.exp(-k * t) - math.exp(-ka * t))


def absorption_rate(tmax_h: float, half_life_h: float) -> float:
    """ka such that a one-compartment oral curve with this half-life peaks at tmax (bisection)."""
    k = LN2 / half_life_h
    if tmax_h >= 1.0 / k:
        raise ValueError("Tmax must be shorter than the elimination time constant")
    lo, hi = k * (1.0 + 1e-9), 1e4 * k
    for _ in range(200):  # _tmax falls as ka rises
        mid = math.sqrt(lo * hi)
        if _tmax(mid, k) > tmax_h:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def apparent_volume(cmax_ng_ml: float, ka: float, half_life_h: float) -> float:
    """V/F (L) giving `cmax` after the reference dose: C = 1000 * dose / V * Bateman."""
    return 1000.0 * REFERENCE_DOSE_MG * _bateman_peak(ka, LN2 / half_life_h) / cmax_ng_ml


@dataclass(frozen=True)
class FitResult:
    values: dict[ParamId, float]  # every parameter the script writes
    cost_default: float
    cost_plasma: float
    default: ModelParameters
    plasma: ModelParameters


def derived_pk(pk: PkpdParameters) -> dict[ParamId, float]:
    ntx_half = pk.value(ParamId.NTX_HALF_LIFE)
    nol_half = pk.value(ParamId.NOL_HALF_LIFE)
    ka = absorption_rate(pk.value(ParamId.NTX_TMAX), ntx_half)
    return {
        ParamId.KA: ka,
        ParamId.NTX_VOLUME: apparent_volume(pk.value(ParamId.NTX_CMAX_50), ka, ntx_half),
        ParamId.NOL_VOLUME: apparent_volume(pk.value(ParamId.NOL_CMAX_50), ka, nol_half),
        ParamId.NOL_PENETRATION: pk.value(ParamId.NOL_POTENCY_RATIO)
        / pk.value(ParamId.NOL_AFFINITY_RATIO),
    }


def _occupancy_residuals(params: ModelParameters, points: list[CalibrationPoint]) -> F64:
    out: list[F64] = []
    for point in points:
        grid = window_grid(point.window_h or (point.time_h or 0.0, point.time_h or 0.0))
        occ = occupancy(point.dose_mg * unit_odds(params, grid))
        tol = point.tolerance or 0.12
        value = point.value if point.value is not None else 0.0
        out.append((occ - value) / tol / math.sqrt(grid.shape[0]))
    return np.concatenate(out)


def _tail_residuals(
    params: ModelParameters, half_time: CalibrationPoint, heroin: list[CalibrationPoint]
) -> F64:
    low, high = half_time.low or 72.0, half_time.high or 108.0
    centre = math.sqrt(low * high)
    ht = blockade_half_time(params, half_time.dose_mg)
    r_half = math.log(min(ht, 1e6) / centre) / math.log(high / centre)
    occ = heroin_occupancies(params, heroin)
    tol = np.array([p.tolerance or 0.025 for p in heroin])
    return np.concatenate([[r_half], (occ - occ.mean()) / tol])


def _with(params: ModelParameters, x: F64, names: tuple[str, ...]) -> ModelParameters:
    changes: dict[str, Any] = {n: float(math.exp(v)) for n, v in zip(names, x, strict=True)}
    return replace(params, **changes)


def fit(pk: PkpdParameters) -> FitResult:
    """Derive the kinetics and fit both receptor models; deterministic (fixed start grid)."""
    from scipy.optimize import least_squares

    derived = derived_pk(pk)
    values = {p.id: p.value for p in pk.parameters}
    values.update({k.value: v for k, v in derived.items()})
    base_pk = replace(pk, parameters=[replace(p, value=values[p.id]) for p in pk.parameters])
    occ_points = [p for p in pk.calibration if p.kind == "occupancy"]
    half = next(p for p in pk.calibration if p.kind == "blockade-half-time")
    heroin = [p for p in pk.calibration if p.kind == "heroin-blockade"]

    default0 = model_parameters(base_pk, Structure.RETENTION)
    names = ("k_naltrexone", "uptake_rate", "retention_half_life")

    def residuals(x: F64) -> F64:
        p = _with(default0, x, names)
        return np.concatenate(
            [_occupancy_residuals(p, occ_points), _tail_residuals(p, half, heroin)]
        )

    lower = np.log([0.01, 1e-4, 1.0])
    upper = np.log([100.0, 10.0, 1000.0])
    best = None
    for uptake in (0.02, 0.1, 0.5):
        for retention in (15.0, 30.0, 60.0):
            start = np.log([1.5, uptake, retention])
            sol = least_squares(
                residuals, start, bounds=(lower, upper), xtol=1e-12, ftol=1e-12, gtol=1e-12
            )
            if best is None or sol.cost < best.cost:
                best = sol
    assert best is not None
    default = _with(default0, best.x, names)

    plasma0 = model_parameters(base_pk, Structure.PLASMA)
    plasma_sol = least_squares(
        lambda x: _occupancy_residuals(_with(plasma0, x, ("k_naltrexone",)), occ_points),
        np.log([1.0]),
        bounds=(np.log([0.01]), np.log([100.0])),
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
    )
    plasma = _with(plasma0, plasma_sol.x, ("k_naltrexone",))

    out = dict(derived)
    out[ParamId.K_NTX] = default.k_naltrexone
    out[ParamId.UPTAKE] = default.uptake_rate
    out[ParamId.RETENTION_HALF_LIFE] = default.retention_half_life
    out[ParamId.K_NTX_PLASMA] = plasma.k_naltrexone
    out[ParamId.HEROIN_THRESHOLD] = float(heroin_occupancies(default, heroin).mean())
    return FitResult(
        values=out,
        cost_default=float(best.cost),
        cost_plasma=float(plasma_sol.cost),
        default=default,
        plasma=plasma,
    )


def rounded(value: float, digits: int = 5) -> float:
    """`value` to `digits` significant digits (what the YAML stores)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))

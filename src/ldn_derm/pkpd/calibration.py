"""The model against its calibration data: occupancy within 8 h, blockade half-time, label.

Everything here uses the typical subject and the single-dose unit response, which by
linearity scales with the dose. Only NumPy is needed (no SciPy), so the CLI can show the
table; `fit.py` minimises the same quantities.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ldn_derm.knowledge.models import CalibrationPoint, PkpdParameters
from ldn_derm.pkpd.model import F64, Output, Subjects, modes, occupancy
from ldn_derm.pkpd.parameters import ModelParameters

WINDOW_STEP_H = 0.25  # grid on which "measured at an unknown time in the window" is compared
PEAK_SEARCH_H = 24.0
HALF_TIME_LIMIT_H = 2000.0


class UnitResponse:
    """Receptor odds of the typical subject after a 1 mg dose at t = 0 (modes computed once)."""

    def __init__(self, params: ModelParameters) -> None:
        m = modes(Subjects.typical(params))
        self.rates = m.rates[0]
        self.coef = m.coef[Output.ODDS][0]

    def __call__(self, times: F64 | float) -> F64:
        t = np.maximum(np.asarray(times, dtype=np.float64), 0.0)
        return np.asarray(np.exp(-np.multiply.outer(t, self.rates)) @ self.coef, np.float64)


def unit_odds(params: ModelParameters, times: F64) -> F64:
    """Receptor odds of the typical subject after a 1 mg dose at t = 0."""
    return UnitResponse(params)(times)


def window_grid(window: tuple[float, float]) -> F64:
    lo, hi = window
    count = max(2, round((hi - lo) / WINDOW_STEP_H) + 1)
    return np.linspace(lo, hi, count)


def window_occupancy(params: ModelParameters, dose_mg: float, window: tuple[float, float]) -> F64:
    """Typical-subject occupancy on the comparison grid of a measurement window."""
    return np.asarray(occupancy(dose_mg * unit_odds(params, window_grid(window))), float)


def _golden_max(
    func: Callable[[float], float], lo: float, hi: float, iterations: int = 50
) -> tuple[float, float]:
    """Maximum of a unimodal function on [lo, hi] (golden-section search)."""
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = lo, hi
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = func(c), func(d)
    for _ in range(iterations):
        if fc > fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = func(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = func(d)
    t = (a + b) / 2.0
    return t, func(t)


def peak(params: ModelParameters, dose_mg: float) -> tuple[float, float]:
    """(time, occupancy) of the single-dose peak of the typical subject."""
    odds = UnitResponse(params)

    def occ(t: float) -> float:
        return float(occupancy(dose_mg * odds(t)))

    grid = np.linspace(0.0, PEAK_SEARCH_H, 2401)
    values = occupancy(dose_mg * odds(grid))
    i = int(np.argmax(values))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.shape[0] - 1)]
    return _golden_max(occ, float(lo), float(hi))


def blockade_half_time(params: ModelParameters, dose_mg: float) -> float:
    """Hours after a single dose until occupancy has fallen to half of its peak."""
    odds = UnitResponse(params)
    t_peak, occ_peak = peak(params, dose_mg)
    # occupancy > half the peak  <=>  odds > the odds of half the peak
    target = (occ_peak / 2.0) / (1.0 - occ_peak / 2.0)
    grid = np.arange(t_peak, HALF_TIME_LIMIT_H, 1.0)
    below = np.flatnonzero(dose_mg * odds(grid) < target)
    if below.size == 0:
        return math.inf
    hi = float(grid[below[0]])
    lo = float(grid[below[0] - 1]) if below[0] > 0 else t_peak
    for _ in range(50):  # bisection: a 1-h bracket to far below a microsecond
        mid = (lo + hi) / 2.0
        if dose_mg * float(odds(mid)) > target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def hours_above(params: ModelParameters, dose_mg: float, level: float, horizon: float) -> float:
    """Hours (0.01-h grid) that a single dose keeps the typical subject above `level`."""
    grid = np.arange(0.0, horizon, 0.01)
    occ = occupancy(dose_mg * unit_odds(params, grid))
    return float(np.count_nonzero(occ >= level) * 0.01)


@dataclass(frozen=True)
class CalibrationRow:
    """One datum against the default model and the plasma-driven bound."""

    point: CalibrationPoint
    measured: str
    default: str
    plasma: str
    default_ok: bool
    plasma_ok: bool


def _occupancy_row(
    point: CalibrationPoint, default: ModelParameters, plasma: ModelParameters
) -> CalibrationRow:
    window = point.window_h or (point.time_h or 0.0, point.time_h or 0.0)
    value = point.value if point.value is not None else math.nan
    tol = point.tolerance if point.tolerance is not None else math.inf

    def show(p: ModelParameters) -> tuple[str, bool]:
        occ = window_occupancy(p, point.dose_mg, window)
        mean = float(occ.mean())
        text = f"{mean:.0%} (range {occ.min():.0%}-{occ.max():.0%})"
        return text, bool(abs(mean - value) <= tol)

    d_text, d_ok = show(default)
    p_text, p_ok = show(plasma)
    when = f"{window[0]:g}-{window[1]:g} h"
    measured = f"{point.dose_mg:g} mg, {when}: {value:.0%} (±{tol * 100:.0f} points)"
    return CalibrationRow(point, measured, d_text, p_text, d_ok, p_ok)


def _half_time_row(
    point: CalibrationPoint, default: ModelParameters, plasma: ModelParameters
) -> CalibrationRow:
    low = point.low if point.low is not None else 0.0
    high = point.high if point.high is not None else math.inf
    d = blockade_half_time(default, point.dose_mg)
    p = blockade_half_time(plasma, point.dose_mg)
    measured = f"{point.dose_mg:g} mg blockade half-time {low:g}-{high:g} h"
    return CalibrationRow(
        point, measured, f"{d:.0f} h", f"{p:.0f} h", low <= d <= high, low <= p <= high
    )


def heroin_occupancies(params: ModelParameters, points: list[CalibrationPoint]) -> F64:
    """Occupancy at the end of each label blockade (dose, time) for the typical subject."""
    times = np.array([p.time_h or 0.0 for p in points])
    doses = np.array([p.dose_mg for p in points])
    return np.asarray(occupancy(doses * unit_odds(params, times)), float)


def _heroin_rows(
    points: list[CalibrationPoint], default: ModelParameters, plasma: ModelParameters
) -> list[CalibrationRow]:
    d_occ = heroin_occupancies(default, points)
    p_occ = heroin_occupancies(plasma, points)
    d_mean, p_mean = float(d_occ.mean()), float(p_occ.mean())
    rows = []
    for point, d, p in zip(points, d_occ, p_occ, strict=True):
        tol = point.tolerance if point.tolerance is not None else math.inf
        measured = (
            f"label: {point.dose_mg:g} mg blocks heroin for {point.time_h:g} h "
            "(one common occupancy)"
        )
        rows.append(
            CalibrationRow(
                point,
                measured,
                f"{d:.0%} (common {d_mean:.0%})",
                f"{p:.0%} (common {p_mean:.0%})",
                bool(abs(d - d_mean) <= tol),
                bool(abs(p - p_mean) <= tol),
            )
        )
    return rows


def calibration_table(
    pk: PkpdParameters, default: ModelParameters, plasma: ModelParameters
) -> list[CalibrationRow]:
    """Every calibration point with both models' values and whether each is within tolerance."""
    rows: list[CalibrationRow] = []
    heroin = [p for p in pk.calibration if p.kind == "heroin-blockade"]
    for point in pk.calibration:
        if point.kind == "occupancy":
            rows.append(_occupancy_row(point, default, plasma))
        elif point.kind == "blockade-half-time":
            rows.append(_half_time_row(point, default, plasma))
    rows.extend(_heroin_rows(heroin, default, plasma))
    return rows

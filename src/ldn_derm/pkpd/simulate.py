"""Run a dosing schedule through both models over a virtual population.

`simulate()` returns a `SimulationResult`: median and 5th-95th percentile occupancy for the
default (brain-retention) model and for the plasma-driven bound, the typical subject's plasma
concentrations, a summary, and labels saying which numbers are measured and which predicted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ldn_derm.errors import SimulationError
from ldn_derm.pkpd.bands import population_quantiles
from ldn_derm.pkpd.model import F64, Output, Subjects, evaluate, modes, occupancy
from ldn_derm.pkpd.parameters import ModelParameters, Structure, model_parameters
from ldn_derm.pkpd.population import check_subjects, sample_subjects
from ldn_derm.pkpd.schedule import DoseSchedule

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase

PROBS = (0.05, 0.5, 0.95)
DEFAULT_SUBJECTS = 2000
DEFAULT_SEED = 1
DEFAULT_STEP_H = 0.1  # 6 minutes
MAX_HOURS = 24.0 * 400
MAX_POINTS = 200_000
LOWEST_MEASURED_MG = 2.0  # lowest dose with a measured occupancy


@dataclass(frozen=True)
class Band:
    """Occupancy quantiles (fractions 0-1) across the virtual subjects at each time point."""

    median: F64
    p5: F64
    p95: F64


@dataclass(frozen=True)
class Summary:
    hours_above_50pct: float
    hours_above_90pct: float
    peak: float
    peak_t_h: float
    trough: float
    trough_t_h: float

    def to_dict(self) -> dict[str, float]:
        return {
            "hours_above_50pct": round(self.hours_above_50pct, 2),
            "hours_above_90pct": round(self.hours_above_90pct, 2),
            "peak": round(self.peak, 4),
            "peak_t_h": round(self.peak_t_h, 2),
            "trough": round(self.trough, 4),
            "trough_t_h": round(self.trough_t_h, 2),
        }


def summarize(times: F64, occ: F64, schedule: DoseSchedule) -> Summary:
    """Summary of a median occupancy curve.

    Hours above a level are counted on the time grid. The trough is the occupancy just before
    the last dose (repeated dosing) or at the end of the simulated time (single dose).
    """
    step = float(times[1] - times[0]) if times.shape[0] > 1 else 0.0
    i_peak = int(np.argmax(occ))
    given = [t for t in schedule.times_h if t <= times[-1]]
    if len(given) > 1:
        i_trough = int(np.searchsorted(times, given[-1], side="right")) - 1
    else:
        i_trough = times.shape[0] - 1
    return Summary(
        hours_above_50pct=float(np.count_nonzero(occ >= 0.5) * step),
        hours_above_90pct=float(np.count_nonzero(occ >= 0.9) * step),
        peak=float(occ[i_peak]),
        peak_t_h=float(times[i_peak]),
        trough=float(occ[i_trough]),
        trough_t_h=float(times[i_trough]),
    )


@dataclass(frozen=True)
class SimulationResult:
    schedule: DoseSchedule
    times_h: F64
    default: Band
    plasma: Band
    naltrexone_ng_ml: F64  # typical subject
    naltrexol_ng_ml: F64  # typical subject
    summary: Summary
    plasma_summary: Summary
    subjects: int
    seed: int
    step_h: float
    knowledge_version: str
    measured: list[dict[str, object]]

    @property
    def below_measured_range(self) -> bool:
        return self.schedule.lowest_dose_mg < LOWEST_MEASURED_MG

    def at(self, t_h: float) -> int:
        """Index of the grid point nearest to `t_h`."""
        return int(np.argmin(np.abs(self.times_h - t_h)))

    def labels(self) -> dict[str, str]:
        n = f"{self.subjects:,} virtual subjects"
        labels = {
            "occupancy": f"predicted: median across {n}, default model (brain retention)",
            "occupancy_p5": "predicted: 5th percentile across the virtual subjects "
            "(between-subject variability in the kinetics only)",
            "occupancy_p95": "predicted: 95th percentile across the virtual subjects",
            "occupancy_plasma_model": "predicted: median, plasma-driven model "
            "(the short-duration bound of the structural uncertainty)",
            "naltrexone_ng_ml": "predicted: typical subject; the kinetics are set from the "
            "measured mean peak and half-life after 50 mg",
            "naltrexol_ng_ml": "predicted: typical subject (6beta-naltrexol)",
            "summary": "computed from the default model's median curve; summary_plasma_model "
            "from the plasma-driven median",
            "measured": "occupancy has been measured only after single doses of 2 to 50 mg "
            "(PET within 8 h) and after 50 mg up to 168 h (blockade half-time); never below "
            "2 mg and never after repeated doses",
        }
        if self.below_measured_range:
            labels["extrapolation"] = (
                "no occupancy has ever been measured below 2 mg: every value for this "
                "schedule is an extrapolation of the calibrated model"
            )
        if len(self.schedule.times_h) > 1:
            labels["repeated_dosing"] = (
                "no occupancy has been measured after repeated doses; accumulation is "
                "a model prediction"
            )
        return labels

    def to_json(self) -> dict[str, object]:
        points = []
        for i, t in enumerate(self.times_h):
            point: dict[str, object] = {
                "t_h": round(float(t), 4),
                "occupancy": round(float(self.default.median[i]), 5),
                "occupancy_p5": round(float(self.default.p5[i]), 5),
                "occupancy_p95": round(float(self.default.p95[i]), 5),
                "occupancy_plasma_model": round(float(self.plasma.median[i]), 5),
                "occupancy_plasma_model_p5": round(float(self.plasma.p5[i]), 5),
                "occupancy_plasma_model_p95": round(float(self.plasma.p95[i]), 5),
                "naltrexone_ng_ml": round(float(self.naltrexone_ng_ml[i]), 5),
                "naltrexol_ng_ml": round(float(self.naltrexol_ng_ml[i]), 5),
            }
            clock = self.schedule.clock_at(float(t))
            if clock is not None:
                point["clock"] = clock
            points.append(point)
        return {
            "regimen": self.schedule.to_dict(),
            "simulation": {
                "subjects": self.subjects,
                "seed": self.seed,
                "step_h": self.step_h,
                "hours": round(float(self.times_h[-1]), 4),
                "dose_unit": "mg naltrexone hydrochloride, by mouth",
                "knowledge_base_version": self.knowledge_version,
            },
            "points": points,
            "summary": self.summary.to_dict(),
            "summary_plasma_model": self.plasma_summary.to_dict(),
            "labels": self.labels(),
            "measured_data": self.measured,
        }


def _grid(hours: float, step_h: float) -> F64:
    for value, what in ((hours, "simulated time (hours)"), (step_h, "time step (hours)")):
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise SimulationError(f"the {what} must be a finite number (got {value!r})")
    if hours <= 0 or hours > MAX_HOURS:
        raise SimulationError(f"simulated time must be more than 0 and at most {MAX_HOURS:g} h")
    if step_h < 1.0 / 60.0 or step_h > 24.0:
        raise SimulationError("the time step must be between 1 minute and 24 hours")
    count = math.floor(hours / step_h + 1e-9) + 1
    if count > MAX_POINTS:
        raise SimulationError(
            f"{count:,} time points is more than {MAX_POINTS:,}: use a larger step or fewer hours"
        )
    return np.arange(count, dtype=np.float64) * step_h


def measured_data(kb: KnowledgeBase) -> list[dict[str, object]]:
    """The calibration data, as measured (or stated) by their sources."""
    out: list[dict[str, object]] = []
    for point in kb.pkpd.calibration:
        refs = [kb.references[r].short() for r in point.refs]
        item: dict[str, object] = {"kind": point.kind, "dose_mg": point.dose_mg, "sources": refs}
        if point.value is not None:
            item["value"] = point.value
        if point.window_h is not None:
            item["window_h"] = list(point.window_h)
        if point.time_h is not None:
            item["time_h"] = point.time_h
        if point.low is not None:
            item["low"] = point.low
        if point.high is not None:
            item["high"] = point.high
        out.append(item)
    return out


def _band(
    params: ModelParameters,
    schedule: DoseSchedule,
    times: F64,
    n: int,
    seed: int,
    workers: int | None,
) -> Band:
    m = modes(sample_subjects(params, n, seed))
    q = population_quantiles(
        m, Output.ODDS, schedule.times_h, schedule.doses_mg, times, PROBS, workers=workers
    )
    occ = occupancy(q)
    return Band(median=occ[1], p5=occ[0], p95=occ[2])


def default_hours(schedule: DoseSchedule) -> float:
    return max(72.0, schedule.last_dose_h + 24.0)


def simulate(
    schedule: DoseSchedule,
    hours: float | None = None,
    subjects: int = DEFAULT_SUBJECTS,
    seed: int = DEFAULT_SEED,
    step_h: float = DEFAULT_STEP_H,
    *,
    workers: int | None = None,
    kb: KnowledgeBase | None = None,
) -> SimulationResult:
    """Simulate `schedule` for `hours` (default: 72 h or 24 h past the last dose)."""
    if kb is None:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
    n = check_subjects(subjects)
    times = _grid(default_hours(schedule) if hours is None else hours, step_h)
    retention = model_parameters(kb.pkpd, Structure.RETENTION)
    plasma = model_parameters(kb.pkpd, Structure.PLASMA)

    default_band = _band(retention, schedule, times, n, seed, workers)
    plasma_band = _band(plasma, schedule, times, n, seed, workers)
    typical = evaluate(
        modes(Subjects.typical(retention)),
        np.asarray(schedule.times_h),
        np.asarray(schedule.doses_mg),
        times,
        (Output.NALTREXONE, Output.NALTREXOL),
    )
    return SimulationResult(
        schedule=schedule,
        times_h=times,
        default=default_band,
        plasma=plasma_band,
        naltrexone_ng_ml=typical[Output.NALTREXONE][0],
        naltrexol_ng_ml=typical[Output.NALTREXOL][0],
        summary=summarize(times, default_band.median, schedule),
        plasma_summary=summarize(times, plasma_band.median, schedule),
        subjects=n,
        seed=int(seed),
        step_h=float(step_h),
        knowledge_version=kb.meta.version,
        measured=measured_data(kb),
    )

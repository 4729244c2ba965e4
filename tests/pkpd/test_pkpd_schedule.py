"""Dosing schedules, the simulation request checks, and the summary."""

from __future__ import annotations

import math
from datetime import time

import numpy as np
import pytest

from ldn_derm.errors import SimulationError
from ldn_derm.pkpd import DoseSchedule, parse_clock, simulate
from ldn_derm.pkpd.model import Output, Subjects, evaluate, modes, occupancy
from ldn_derm.pkpd.parameters import default_parameters
from ldn_derm.pkpd.population import sample_subjects


def test_parse_clock() -> None:
    assert parse_clock("22:00") == time(22, 0)
    assert parse_clock(" 7:05 ") == time(7, 5)


@pytest.mark.parametrize("text", ["25:00", "22:60", "10pm", "", "22", "22:0", "ab:cd"])
def test_unparseable_clock_is_a_simulation_error(text: str) -> None:
    with pytest.raises(SimulationError, match=r"HH:MM|time of day"):
        parse_clock(text)


@pytest.mark.parametrize(
    ("dose", "message"),
    [
        (-1.0, "more than 0"),
        (0.0, "more than 0"),
        (math.nan, "finite"),
        (math.inf, "finite"),
        (1000.0, "above 300"),
    ],
)
def test_bad_doses_are_refused(dose: float, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        DoseSchedule.single(dose)


def test_repeated_schedule_and_clock() -> None:
    s = DoseSchedule.repeated(4.5, 24, 3, parse_clock("22:00"))
    assert s.times_h == (0.0, 24.0, 48.0)
    assert s.doses_mg == (4.5, 4.5, 4.5)
    assert s.clock_at(8.5) == "06:30"
    assert s.to_dict()["doses"][1] == {"t_h": 24.0, "dose_mg": 4.5, "clock": "22:00"}


def test_titration_steps_follow_each_other() -> None:
    s = DoseSchedule.titration([(1.5, 2), (3.0, 2), (4.5, 1)], every_h=24)
    assert s.times_h == (0.0, 24.0, 48.0, 72.0, 96.0)
    assert s.doses_mg == (1.5, 1.5, 3.0, 3.0, 4.5)
    assert s.planned == 5


def test_missed_doses_are_removed_and_recorded() -> None:
    s = DoseSchedule.repeated(4.5, 24, 5, missed=[2, 4])
    assert s.times_h == (0.0, 48.0, 96.0)
    assert s.missed == (2, 4) and "missed" in s.description
    with pytest.raises(SimulationError, match="does not exist"):
        DoseSchedule.repeated(4.5, 24, 3, missed=[4])
    with pytest.raises(SimulationError, match="every dose"):
        DoseSchedule.repeated(4.5, 24, 1, missed=[1])


def test_set_times_start_at_the_first_dose() -> None:
    s = DoseSchedule.at_times(3.0, [30.0, 6.0])
    assert s.times_h == (0.0, 24.0)


@pytest.mark.parametrize("count", [0, -3, 10_000])
def test_bad_counts(count: int) -> None:
    with pytest.raises(SimulationError):
        DoseSchedule.repeated(4.5, 24, count)


@pytest.mark.parametrize("subjects", [0, -1, 10**9])
def test_bad_subject_numbers(subjects: int) -> None:
    with pytest.raises(SimulationError, match="virtual subjects"):
        simulate(DoseSchedule.single(4.5), subjects=subjects)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": math.nan}, "finite"),
        ({"hours": -5.0}, "more than 0"),
        ({"step_h": 0.0}, "between 1 minute"),
        ({"hours": 24.0 * 399, "step_h": 1 / 60}, "time points"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_requests(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        simulate(DoseSchedule.single(4.5), subjects=10, **kwargs)  # type: ignore[arg-type]


def test_simulation_result_bands_and_json() -> None:
    result = simulate(DoseSchedule.single(4.5, parse_clock("22:00")), hours=48, subjects=500)
    d = result.default
    assert np.all(d.p5 <= d.median + 1e-7) and np.all(d.median <= d.p95 + 1e-7)
    data = result.to_json()
    point = data["points"][20]  # type: ignore[index]
    assert set(point) >= {
        "t_h",
        "occupancy",
        "occupancy_p5",
        "occupancy_p95",
        "naltrexone_ng_ml",
        "naltrexol_ng_ml",
        "occupancy_plasma_model",
        "clock",
    }
    assert point["t_h"] == pytest.approx(2.0)
    assert set(data["summary"]) >= {"hours_above_50pct", "hours_above_90pct", "peak", "trough"}  # type: ignore[arg-type]
    assert "extrapolation" not in data["labels"]  # type: ignore[operator]
    low = simulate(DoseSchedule.single(1.5), hours=24, subjects=50).to_json()
    assert "extrapolation" in low["labels"]  # type: ignore[operator]


def test_median_of_the_population_matches_direct_computation() -> None:
    schedule = DoseSchedule.repeated(4.5, 24, 3)
    result = simulate(schedule, hours=72, subjects=300, seed=5, step_h=0.5)
    subjects = sample_subjects(default_parameters(), 300, 5)
    full = evaluate(
        modes(subjects),
        np.array(schedule.times_h),
        np.array(schedule.doses_mg),
        result.times_h,
        (Output.ODDS,),
    )[Output.ODDS]
    np.testing.assert_allclose(result.default.median, occupancy(np.median(full, axis=0)), atol=2e-5)


def test_typical_concentrations_scale_and_summary_trough() -> None:
    params = default_parameters()
    schedule = DoseSchedule.repeated(4.5, 24, 3)
    result = simulate(schedule, hours=72, subjects=20)
    typical = evaluate(
        modes(Subjects.typical(params)),
        np.array(schedule.times_h),
        np.array(schedule.doses_mg),
        result.times_h,
        (Output.NALTREXONE,),
    )
    np.testing.assert_allclose(result.naltrexone_ng_ml, typical[Output.NALTREXONE][0])
    assert result.summary.trough_t_h == pytest.approx(48.0)
    assert result.summary.trough == pytest.approx(result.default.median[result.at(48.0)])
    assert 0 < result.summary.trough < result.summary.peak

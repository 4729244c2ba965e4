"""Closed form against an ODE solver, and the properties a linear model must have."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from ldn_derm.pkpd.model import (
    Modes,
    Output,
    Subjects,
    auc_per_mg,
    evaluate,
    modes,
    occupancy,
    separated_rates,
)
from ldn_derm.pkpd.ode import amount_matrix, solve_reference
from ldn_derm.pkpd.parameters import LN2, default_parameters

SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=60, deadline=None)


def _one(**values: float) -> Subjects:
    def arr(x: float) -> np.ndarray:
        return np.array([x], dtype=np.float64)

    return Subjects(
        ka=arr(values["ka"]),
        k_naltrexone_elim=arr(LN2 / values["t_p"]),
        naltrexone_volume=arr(values["v_p"]),
        k_naltrexol_elim=arr(LN2 / values["t_m"]),
        naltrexol_volume=arr(values["v_m"]),
        k_loss=arr(LN2 / values["t_ret"]),
        k_naltrexone=values["k_p"],
        k_naltrexol=values["k_p"] * values["ratio"],
        uptake=values["uptake"],
    )


def pos(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


subjects_st = st.builds(
    _one,
    ka=pos(0.3, 10.0),
    t_p=pos(1.0, 20.0),
    v_p=pos(100.0, 10_000.0),
    t_m=pos(3.0, 40.0),
    v_m=pos(50.0, 2_000.0),
    t_ret=pos(5.0, 200.0),
    k_p=pos(0.1, 10.0),
    ratio=pos(1.0, 300.0),
    uptake=st.one_of(st.just(0.0), pos(1e-3, 1.0)),
)
doses_st = st.lists(st.tuples(pos(0.0, 96.0), pos(0.1, 300.0)), min_size=1, max_size=5).map(
    lambda pairs: (np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
)

TIMES = np.linspace(0.0, 144.0, 289)


def _tiny(values: np.ndarray) -> float:
    """Rounding floor: where exponential modes cancel (at a dose) only this much is exact."""
    return 1e-12 * max(1.0, float(np.abs(values).max()))


def _outputs(s: Subjects, d_t: np.ndarray, d_mg: np.ndarray, times: np.ndarray = TIMES):
    return evaluate(modes(s), d_t, d_mg, times)


@SLOW
@given(s=subjects_st, doses=doses_st)
def test_closed_form_matches_solve_ivp(s: Subjects, doses: tuple[np.ndarray, np.ndarray]) -> None:
    d_t, d_mg = doses
    note(
        f"rates {separated_rates(s)[0]}, volumes {s.naltrexone_volume}, {s.naltrexol_volume}, "
        f"K {s.k_naltrexone}, {s.k_naltrexol}, uptake {s.uptake}, doses {d_t}, {d_mg}"
    )
    times = np.union1d(TIMES, d_t)
    closed = _outputs(s, d_t, d_mg, times)
    # Tighter than the solver's defaults: with near-equal rates (e.g. 0.0866 vs 0.0869 /h) the
    # default tolerance leaves errors of a few 1e-6 in occupancy, while the closed form is exact.
    ode = solve_reference(s, 0, d_t, d_mg, times, rtol=1e-12, atol=1e-14)
    for out in (Output.NALTREXONE, Output.NALTREXOL):
        scale = max(1.0, float(np.abs(closed[out]).max()))
        np.testing.assert_allclose(ode[out], closed[out][0], rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(
        occupancy(ode[Output.ODDS]), occupancy(closed[Output.ODDS][0]), rtol=0, atol=1e-6
    )


@FAST
@given(s=subjects_st, doses=doses_st, factor=pos(0.01, 50.0))
def test_concentrations_and_odds_scale_with_dose(
    s: Subjects, doses: tuple[np.ndarray, np.ndarray], factor: float
) -> None:
    d_t, d_mg = doses
    base, scaled = _outputs(s, d_t, d_mg), _outputs(s, d_t, d_mg * factor)
    for out in Output:
        np.testing.assert_allclose(
            scaled[out], factor * base[out], rtol=1e-9, atol=_tiny(scaled[out])
        )


@FAST
@given(s=subjects_st, doses=doses_st, factor=pos(1.001, 20.0))
def test_occupancy_is_monotone_in_dose(
    s: Subjects, doses: tuple[np.ndarray, np.ndarray], factor: float
) -> None:
    d_t, d_mg = doses
    low = occupancy(_outputs(s, d_t, d_mg)[Output.ODDS])
    high = occupancy(_outputs(s, d_t, d_mg * factor)[Output.ODDS])
    assert np.all(high >= low - 1e-9)  # rounding where the modes cancel at a dose
    assert np.all((low >= 0) & (high < 1))


@FAST
@given(s=subjects_st, first=doses_st, second=doses_st)
def test_repeated_doses_superpose(
    s: Subjects, first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray]
) -> None:
    both = _outputs(s, np.concatenate([first[0], second[0]]), np.concatenate([first[1], second[1]]))
    a, b = _outputs(s, *first), _outputs(s, *second)
    for out in Output:
        np.testing.assert_allclose(both[out], a[out] + b[out], rtol=1e-9, atol=_tiny(both[out]))


@FAST
@given(s=subjects_st, shift=pos(0.5, 48.0), dose=pos(0.5, 100.0))
def test_a_later_dose_gives_the_same_curve_later(s: Subjects, shift: float, dose: float) -> None:
    times = np.linspace(0.0, 60.0, 121)
    now = _outputs(s, np.array([0.0]), np.array([dose]), times)
    later = _outputs(s, np.array([shift]), np.array([dose]), times + shift)
    for out in Output:
        np.testing.assert_allclose(later[out], now[out], rtol=1e-9, atol=_tiny(now[out]))


@FAST
@given(s=subjects_st)
def test_exposure_equals_dose_over_apparent_clearance(s: Subjects) -> None:
    m = modes(s)
    rates = separated_rates(s)[0]
    ntx = 1000.0 / (s.naltrexone_volume[0] * rates[1])
    nol = 1000.0 / (s.naltrexol_volume[0] * rates[2])
    assert auc_per_mg(m, Output.NALTREXONE)[0] == pytest.approx(ntx, rel=1e-9)
    assert auc_per_mg(m, Output.NALTREXOL)[0] == pytest.approx(nol, rel=1e-9)
    # the retained pool returns what it takes: total odds-exposure is (1 + uptake/k_loss) u
    fast = ntx / s.k_naltrexone + nol / s.k_naltrexol
    gain = 1.0 + s.uptake / rates[3]
    assert auc_per_mg(m, Output.ODDS)[0] == pytest.approx(fast * gain, rel=1e-9)


@SLOW
@given(
    s=subjects_st,
    doses=doses_st,
    f_parent=pos(0.01, 0.6),
    f_metab=pos(0.01, 0.39),
)
def test_mass_balance_of_the_dose(
    s: Subjects, doses: tuple[np.ndarray, np.ndarray], f_parent: float, f_metab: float
) -> None:
    from scipy.integrate import solve_ivp

    d_t, d_mg = doses
    a = amount_matrix(s, 0, f_parent, f_metab)
    order = np.argsort(d_t)
    y, t_prev = np.zeros(6), 0.0
    for t_dose, mg in zip(d_t[order], d_mg[order], strict=True):
        if t_dose > t_prev:
            y = solve_ivp(lambda _t, v: a @ v, (t_prev, t_dose), y, rtol=1e-10, atol=1e-12).y[:, -1]
        y = y.copy()
        y[0] += mg
        t_prev = float(t_dose)
    end = t_prev + 30.0
    sol = solve_ivp(lambda _t, v: a @ v, (t_prev, end), y, rtol=1e-10, atol=1e-12)
    total = float(d_mg.sum())
    assert sol.y.sum(axis=0) == pytest.approx(np.full(sol.y.shape[1], total), rel=1e-8)
    assert np.all(sol.y[:, -1] >= -1e-9 * total)
    # the closed-form concentration is the amount over (fraction x apparent volume)
    closed = _outputs(s, d_t, d_mg, np.array([end]))
    conc = 1000.0 * sol.y[1, -1] / (f_parent * s.naltrexone_volume[0])
    assert conc == pytest.approx(closed[Output.NALTREXONE][0, 0], rel=1e-6, abs=1e-9)


def test_tied_rates_are_pulled_apart_and_stay_finite() -> None:
    s = _one(
        ka=1.0, t_p=LN2, v_p=1000.0, t_m=LN2, v_m=500.0, t_ret=LN2, k_p=1.0, ratio=10.0, uptake=0.1
    )
    m: Modes = modes(s)
    assert np.unique(m.rates).shape[0] == 4
    out = evaluate(m, np.array([0.0]), np.array([10.0]), np.linspace(0, 48, 97))
    assert all(np.isfinite(v).all() for v in out.values())
    ode = solve_reference(s, 0, np.array([0.0]), np.array([10.0]), np.linspace(0, 48, 97))
    np.testing.assert_allclose(ode[Output.ODDS], out[Output.ODDS][0], rtol=1e-6, atol=1e-9)


def test_typical_subject_reproduces_the_label_peak_concentrations() -> None:
    params = default_parameters()
    times = np.linspace(0.0, 6.0, 6001)
    out = evaluate(modes(Subjects.typical(params)), np.array([0.0]), np.array([50.0]), times)
    ntx, nol = out[Output.NALTREXONE][0], out[Output.NALTREXOL][0]
    assert ntx.max() == pytest.approx(13.3, rel=1e-3)
    assert times[ntx.argmax()] == pytest.approx(1.0, abs=0.01)
    assert nol.max() == pytest.approx(108.0, rel=1e-3)

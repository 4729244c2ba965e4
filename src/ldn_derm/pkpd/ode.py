"""The same model as ordinary differential equations, solved per subject with SciPy.

Not used by the simulator: it is the reference the closed form is tested against, and the
per-subject baseline the benchmark compares with. SciPy is imported inside the functions.
"""

from __future__ import annotations

import numpy as np

from ldn_derm.pkpd.model import F64, Output, Subjects, odds_readout, separated_rates, state_matrix

RTOL = 1e-10
ATOL = 1e-12


def solve_reference(
    subjects: Subjects,
    index: int,
    dose_times: F64,
    dose_mg: F64,
    times: F64,
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    method: str = "DOP853",
) -> dict[Output, F64]:
    """Outputs of subject `index` at `times` by integrating dy/dt = A y from dose to dose."""
    from scipy.integrate import solve_ivp

    a = state_matrix(subjects, index)
    times = np.asarray(times, dtype=np.float64)
    order = np.argsort(dose_times, kind="stable")
    d_t = np.asarray(dose_times, dtype=np.float64)[order]
    d_mg = np.asarray(dose_mg, dtype=np.float64)[order]
    end = max(float(times[-1]), float(d_t[-1]))
    states = np.zeros((4, times.shape[0]))  # zero before the first dose
    y = np.zeros(4)
    for k in range(d_t.shape[0]):
        y = y.copy()
        y[0] += d_mg[k]
        t0 = float(d_t[k])
        last = k + 1 == d_t.shape[0]
        t1 = end if last else float(d_t[k + 1])
        if t1 <= t0:
            continue  # another dose at the same moment
        inside = (times >= t0) & ((times <= t1) if last else (times < t1))
        t_eval = times[inside]
        if t_eval.shape[0] == 0 or t_eval[-1] < t1:
            t_eval = np.append(t_eval, t1)
        implicit = {"jac": a} if method in {"Radau", "BDF", "LSODA"} else {}
        sol = solve_ivp(
            lambda _t, v: a @ v,
            (t0, t1),
            y,
            method=method,
            t_eval=t_eval,
            rtol=rtol,
            atol=atol,
            **implicit,
        )
        if not sol.success:
            raise RuntimeError(f"reference solver failed: {sol.message}")
        states[:, inside] = sol.y[:, : int(inside.sum())]
        y = sol.y[:, -1]
    return {
        Output.NALTREXONE: states[1],
        Output.NALTREXOL: states[2],
        Output.ODDS: odds_readout(subjects) @ states,
    }


def amount_matrix(subjects: Subjects, index: int, f_parent: float, f_metabolite: float) -> F64:
    """Mass-balanced form in amounts (mg), for checking conservation of the dose.

    States: gut, naltrexone in the body, 6b-naltrexol in the body, lost in first pass to other
    metabolites, naltrexone eliminated, 6b-naltrexol eliminated. A fraction `f_parent` of the
    absorbed dose reaches the circulation as naltrexone and `f_metabolite` as 6b-naltrexol.
    The concentration is amount / (f * apparent volume), so the fractions cancel out of
    every prediction: only F/V is identifiable from oral data.
    """
    if not (f_parent > 0 and f_metabolite > 0 and f_parent + f_metabolite <= 1):
        raise ValueError("the fractions must be positive and add up to at most 1")
    ka, kp, km, _ = separated_rates(subjects.take(slice(index, index + 1)))[0]
    a = np.zeros((6, 6))
    a[0, 0] = -ka
    a[1, 0], a[1, 1] = f_parent * ka, -kp
    a[2, 0], a[2, 2] = f_metabolite * ka, -km
    a[3, 0] = (1.0 - f_parent - f_metabolite) * ka
    a[4, 1] = kp
    a[5, 2] = km
    return a

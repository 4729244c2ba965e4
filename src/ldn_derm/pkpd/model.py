"""The linear kinetic model in closed form, vectorised over subjects, doses and time.

Per milligram of an oral dose given at time 0 (t in hours):

    gut            g(t)  = e^{-ka t}
    naltrexone     Cp(t) = 1000/Vp * ka/(ka-kp) * (e^{-kp t} - e^{-ka t})      [ng/mL]
    6b-naltrexol   Cm(t) = 1000/Vm * ka/(ka-km) * (e^{-km t} - e^{-ka t})      [ng/mL]
    fast biophase  u(t)  = Cp/Kp + Cm/Km                       (receptor odds, plasma-driven)
    retained pool  dR/dt = k_up * u - k_loss * R                (odds, slow brain pool)
    occupancy odds x(t)  = u + R ,     occupancy = x / (1 + x)

Every output is a sum of four exponentials with rates (ka, kp, km, k_loss), so a regimen is
the superposition over doses of `amount * sum_k c_k e^{-rate_k (t - t_dose)}`. Volumes are
apparent (V/F, litres per mg of naltrexone hydrochloride dosed) because oral data fix only
F/V; the metabolite is taken as formed before it reaches the circulation (first pass).
The plasma-driven model is the special case k_up = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ldn_derm.pkpd.parameters import LN2, ModelParameters

F64 = NDArray[np.float64]

# Rates closer than 0.1 % are moved 0.3 % apart so that the closed form, whose coefficients
# contain 1/(rate_i - rate_j), stays well conditioned (float32 in the population bands). The
# shift is far below any parameter's uncertainty (CVs of 20-70 %); the ODE reference solver
# uses the same separated rates.
RATE_SEPARATION = 1e-3
N_MODES = 4  # absorption, naltrexone elimination, naltrexol elimination, retention loss


class Output(StrEnum):
    NALTREXONE = "naltrexone_ng_ml"
    NALTREXOL = "naltrexol_ng_ml"
    ODDS = "odds"


@dataclass(frozen=True)
class Subjects:
    """Per-subject parameter arrays (shape (n,)); potency and uptake are shared."""

    ka: F64
    k_naltrexone_elim: F64
    naltrexone_volume: F64
    k_naltrexol_elim: F64
    naltrexol_volume: F64
    k_loss: F64
    k_naltrexone: float
    k_naltrexol: float
    uptake: float

    @property
    def n(self) -> int:
        return int(self.ka.shape[0])

    @classmethod
    def typical(cls, params: ModelParameters, n: int = 1) -> Subjects:
        """`n` copies of the typical subject (population parameter values)."""

        def full(value: float) -> F64:
            return np.full(n, value, dtype=np.float64)

        return cls(
            ka=full(params.ka),
            k_naltrexone_elim=full(LN2 / params.naltrexone_half_life),
            naltrexone_volume=full(params.naltrexone_volume),
            k_naltrexol_elim=full(LN2 / params.naltrexol_half_life),
            naltrexol_volume=full(params.naltrexol_volume),
            k_loss=full(LN2 / params.retention_half_life),
            k_naltrexone=params.k_naltrexone,
            k_naltrexol=params.k_naltrexol,
            uptake=params.uptake_rate,
        )

    def take(self, index: NDArray[np.intp] | slice) -> Subjects:
        """A subset of the subjects."""
        return Subjects(
            ka=self.ka[index],
            k_naltrexone_elim=self.k_naltrexone_elim[index],
            naltrexone_volume=self.naltrexone_volume[index],
            k_naltrexol_elim=self.k_naltrexol_elim[index],
            naltrexol_volume=self.naltrexol_volume[index],
            k_loss=self.k_loss[index],
            k_naltrexone=self.k_naltrexone,
            k_naltrexol=self.k_naltrexol,
            uptake=self.uptake,
        )


def separated_rates(subjects: Subjects) -> F64:
    """Rates (n, 4): ka, k_elim naltrexone, k_elim naltrexol, k_loss; near-ties pulled apart."""
    rates = np.stack(
        [subjects.ka, subjects.k_naltrexone_elim, subjects.k_naltrexol_elim, subjects.k_loss],
        axis=1,
    ).astype(np.float64, copy=True)
    for _ in range(2):  # a second sweep catches ties created by the first
        for i in range(N_MODES):
            for j in range(i + 1, N_MODES):
                a, b = rates[:, i], rates[:, j]
                tie = np.abs(a - b) <= RATE_SEPARATION * np.maximum(a, b)
                if tie.any():
                    rates[tie, j] = b[tie] * (1.0 + 3.0 * RATE_SEPARATION)
    return rates


@dataclass(frozen=True)
class Modes:
    """Unit-dose response of each output as sum_k coef[:, k] * exp(-rates[:, k] * t)."""

    rates: F64  # (n, 4), 1/h
    coef: dict[Output, F64]  # each (n, 4), per mg dosed


def modes(subjects: Subjects) -> Modes:
    """Closed-form exponential coefficients of every output, per mg, for every subject."""
    rates = separated_rates(subjects)
    ka, kp, km, kl = (rates[:, i] for i in range(N_MODES))
    zero = np.zeros_like(ka)
    amp_p = 1000.0 * ka / (subjects.naltrexone_volume * (ka - kp))
    amp_m = 1000.0 * ka / (subjects.naltrexol_volume * (ka - km))
    c_parent = np.stack([-amp_p, amp_p, zero, zero], axis=1)
    c_metab = np.stack([-amp_m, zero, amp_m, zero], axis=1)
    c_fast = c_parent / subjects.k_naltrexone + c_metab / subjects.k_naltrexol
    # Convolving e^{-r t} with k_up e^{-kl t} gives k_up (e^{-r t} - e^{-kl t}) / (kl - r).
    c_retained = np.zeros_like(c_fast)
    if subjects.uptake > 0.0:
        gain = subjects.uptake / (kl[:, None] - rates[:, :3])
        c_retained[:, :3] = c_fast[:, :3] * gain
        c_retained[:, 3] = -c_retained[:, :3].sum(axis=1)
    return Modes(
        rates=rates,
        coef={
            Output.NALTREXONE: c_parent,
            Output.NALTREXOL: c_metab,
            Output.ODDS: c_fast + c_retained,
        },
    )


def auc_per_mg(m: Modes, output: Output) -> F64:
    """Area under the unit-dose curve, 0 to infinity (ng*h/mL per mg, or odds*h per mg)."""
    return np.asarray((m.coef[output] / m.rates).sum(axis=1), dtype=np.float64)


def evaluate(
    m: Modes,
    dose_times: F64,
    dose_mg: F64,
    times: F64,
    outputs: tuple[Output, ...] = tuple(Output),
) -> dict[Output, F64]:
    """Closed-form outputs (n, T) in float64 by superposition over all doses at once.

    Vectorised over subjects and time points (one exponential mode and one dose at a time,
    so memory stays at a few n x T arrays); meant for calibration, fitting, tests and small
    populations. Large populations go through `bands.population_quantiles`.
    """
    times = np.asarray(times, dtype=np.float64)
    n, t_count = m.rates.shape[0], times.shape[0]
    result = {out: np.zeros((n, t_count)) for out in outputs}
    for t_dose, amount in zip(np.asarray(dose_times), np.asarray(dose_mg), strict=True):
        given = times >= float(t_dose)
        if not given.any():
            continue
        lag = times[given] - float(t_dose)
        for k in range(m.rates.shape[1]):
            decay = np.exp(-np.multiply.outer(m.rates[:, k], lag))  # (n, T given)
            for out in outputs:
                c = m.coef[out][:, k]
                if np.any(c != 0.0):
                    result[out][:, given] += (float(amount) * c)[:, None] * decay
    return result


def occupancy(odds: ArrayLike) -> F64:
    """Single-site competitive occupancy from the summed odds x: x / (1 + x)."""
    clipped = np.maximum(np.asarray(odds, dtype=np.float64), 0.0)
    return np.asarray(clipped / (1.0 + clipped), dtype=np.float64)


def odds_for(occ: float) -> float:
    """Inverse of `occupancy` for one value in [0, 1)."""
    if not 0.0 <= occ < 1.0:
        raise ValueError(f"occupancy {occ} is outside [0, 1)")
    return occ / (1.0 - occ)


def state_matrix(subjects: Subjects, index: int = 0) -> F64:
    """The same model as a linear ODE dy/dt = A y for one subject (for reference solvers).

    States: gut amount (mg), naltrexone (ng/mL), 6b-naltrexol (ng/mL), retained odds R.
    A dose adds its mg to the gut state. Odds = Cp/Kp + Cm/Km + R (see `odds_readout`).
    Uses the same separated rates as the closed form.
    """
    rates = separated_rates(subjects.take(slice(index, index + 1)))[0]
    ka, kp, km, kl = (float(r) for r in rates)
    vp = float(subjects.naltrexone_volume[index])
    vm = float(subjects.naltrexol_volume[index])
    up = subjects.uptake
    a = np.zeros((4, 4))
    a[0, 0] = -ka
    a[1, 0], a[1, 1] = 1000.0 * ka / vp, -kp
    a[2, 0], a[2, 2] = 1000.0 * ka / vm, -km
    a[3, 1], a[3, 2], a[3, 3] = up / subjects.k_naltrexone, up / subjects.k_naltrexol, -kl
    return a


def odds_readout(subjects: Subjects) -> F64:
    """Row vector turning the `state_matrix` states into occupancy odds."""
    return np.array([0.0, 1.0 / subjects.k_naltrexone, 1.0 / subjects.k_naltrexol, 1.0])

"""The streamed population quantiles equal NumPy's quantiles of the full matrix."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldn_derm.pkpd.bands import population_quantiles, rank_plan
from ldn_derm.pkpd.model import Output, evaluate, modes
from ldn_derm.pkpd.parameters import Structure, default_parameters
from ldn_derm.pkpd.population import sample_subjects

PROBS = (0.05, 0.5, 0.95)


def _compare(
    n: int,
    seed: int,
    d_t: np.ndarray,
    d_mg: np.ndarray,
    times: np.ndarray,
    output: Output,
    workers: int,
    block: int,
    structure: Structure = Structure.RETENTION,
) -> None:
    m = modes(sample_subjects(default_parameters(structure), n, seed))
    fast = population_quantiles(m, output, d_t, d_mg, times, PROBS, workers=workers, block=block)
    full = evaluate(m, d_t, d_mg, times, (output,))[output]
    exact = np.quantile(full, PROBS, axis=0)
    # float32 streaming: agreement to a few float32 roundings of the output's magnitude
    # (just after a dose the exponential modes cancel, so the scale is not the local value)
    scale = max(float(np.abs(full).max()), 1e-300)
    assert np.all(np.abs(fast - exact) <= 2e-5 * scale)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 400),
    seed=st.integers(0, 2**31),
    doses=st.lists(
        st.tuples(st.floats(0, 60, allow_nan=False), st.floats(0.1, 150, allow_nan=False)),
        min_size=1,
        max_size=4,
    ),
    step=st.sampled_from([0.1, 0.25, 0.37, 1.0]),
    workers=st.sampled_from([1, 2, 3]),
    block=st.sampled_from([1, 7, 240]),
    output=st.sampled_from(list(Output)),
)
def test_streamed_quantiles_equal_numpy_quantiles(
    n: int,
    seed: int,
    doses: list[tuple[float, float]],
    step: float,
    workers: int,
    block: int,
    output: Output,
) -> None:
    d_t = np.array([d[0] for d in doses])
    d_mg = np.array([d[1] for d in doses])
    times = np.arange(0, int(96 / step) + 1) * step
    _compare(n, seed, d_t, d_mg, times, output, workers, block)


def test_plasma_model_and_doses_between_grid_points() -> None:
    d_t = np.array([0.0, 23.95, 48.03])
    d_mg = np.array([4.5, 4.5, 4.5])
    times = np.arange(0, 721) * 0.1
    _compare(3000, 7, d_t, d_mg, times, Output.ODDS, 2, 240, Structure.PLASMA)


def test_rank_plan_matches_numpy_linear_quantiles() -> None:
    values = np.random.default_rng(3).random(1001)
    ranks, plan = rank_plan(values.shape[0], PROBS)
    ordered = np.sort(values)
    for (lo, hi, frac), p in zip(plan, PROBS, strict=True):
        assert lo in ranks and hi in ranks
        assert ordered[lo] + frac * (ordered[hi] - ordered[lo]) == pytest.approx(
            np.quantile(values, p)
        )


def test_uneven_grid_is_refused() -> None:
    m = modes(sample_subjects(default_parameters(), 10, 1))
    with pytest.raises(ValueError, match="evenly spaced"):
        population_quantiles(m, Output.ODDS, [0.0], [1.0], np.array([0.0, 1.0, 3.0]), PROBS)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 3000),
    seed=st.integers(0, 2**31),
    jumps=st.lists(st.floats(-3.0, 3.0, allow_nan=False), min_size=3, max_size=12),
)
def test_row_selector_is_exact_on_smooth_and_jumping_rows(
    n: int, seed: int, jumps: list[float]
) -> None:
    from ldn_derm.pkpd.bands import _Selector

    rng = np.random.default_rng(seed)
    base = rng.lognormal(0.0, 0.7, n)
    drift = rng.normal(0.0, 0.01, n)
    ranks, _ = rank_plan(n, PROBS)
    select = _Selector(n, ranks)
    level = 0.0
    for step, jump in enumerate(jumps):
        level += jump if step % 3 == 2 else 0.002  # mostly smooth, sometimes a jump
        row = (base * np.exp(level + drift * step)).astype(np.float32)
        row[: n // 50] = 0.0  # ties at zero, as before absorption
        expected = np.sort(row)[ranks]
        np.testing.assert_array_equal(select(row.copy()), expected.astype(np.float64))
    assert select.fallbacks >= 2  # the first two rows always use the histogram

"""Quantile bands over a large virtual population, streamed row by row in bounded memory.

The full (subjects x time points) matrix is never stored: 100,000 subjects x 1,681 points
would be 1.3 GB in float64. Instead each output is carried as four exponential-mode
amplitudes per subject, which the exact step propagator exp(-rate * step) (the
matrix exponential of the linear system, diagonalised) moves from one time point to the
next. Each time point is one vectorised operation over all subjects, followed by an exact
selection of the requested order statistics:

1. a histogram over the top 16 bits of the float32 values (for non-negative IEEE floats the
   bit pattern sorts like the value; 16 bits give bins 0.8 % wide), which finds the bin
   holding each wanted rank in one pass;
2. `np.partition` on the few hundred values in that bin only.

The float32 amplitudes are re-anchored from a float64 chain every `block` points, so
rounding cannot accumulate. Time is split into contiguous chunks run on separate threads
(NumPy releases the GIL inside its loops).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import NDArray

from ldn_derm.pkpd.model import F64, Modes, Output

F32 = NDArray[np.float32]
SHIFT = 16  # float32 bits kept for the histogram: sign, exponent, 7 mantissa bits
PARALLEL_MIN_WORK = 2_000_000  # subjects x points below which threads are not worth it


def rank_plan(
    n: int, probs: Sequence[float]
) -> tuple[NDArray[np.int64], list[tuple[int, int, float]]]:
    """Order statistics needed for NumPy's default ('linear') quantiles of n values."""
    wanted: set[int] = set()
    plan = []
    for p in probs:
        h = float(p) * (n - 1)
        lo = math.floor(h)
        hi = min(lo + 1, n - 1)
        plan.append((lo, hi, h - lo))
        wanted.update((lo, hi))
    return np.array(sorted(wanted), dtype=np.int64), plan


class _Selector:
    """Exact order statistics of successive float32 rows of one time chunk.

    Fast path: bracket each wanted rank around its extrapolation from the two previous rows,
    count the values below the bracket and partition the few inside it. When a rank falls
    outside its bracket (just after a dose, or on the first rows), the exact histogram
    selection runs instead. Both give the same order statistics.
    """

    def __init__(self, n: int, ranks: NDArray[np.int64]) -> None:
        self.codes = np.empty(n, dtype=np.intp)
        self.below = np.empty(n, dtype=np.bool_)
        self.inside = np.empty(n, dtype=np.bool_)
        self.any_inside = np.empty(n, dtype=np.bool_)
        self.ranks = ranks
        # ranks close together (the two neighbours of one quantile) share a bracket
        cuts = np.flatnonzero(np.diff(ranks) > 16) + 1
        self.groups = [g.tolist() for g in np.split(np.arange(ranks.shape[0]), cuts)]
        self.group_ranks = [[int(ranks[i]) for i in g] for g in self.groups]
        self.prev: F64 | None = None
        self.prev2: F64 | None = None
        self.fallbacks = 0

    def __call__(self, x: F32) -> F64:
        values = self._bracketed(x) if self.prev2 is not None else None
        if values is None:
            self.fallbacks += 1
            values = self._histogram(x)
        self.prev2, self.prev = self.prev, values
        return values

    def _bracketed(self, x: F32) -> F64 | None:
        assert self.prev is not None and self.prev2 is not None
        change = self.prev - self.prev2
        half = 2.0 * np.abs(change) + 1e-3 * np.abs(self.prev) + 1e-30
        lows = (self.prev + change - half).tolist()
        highs = (self.prev + change + half).tolist()
        brackets = []
        for g, (idx, ranks) in enumerate(zip(self.groups, self.group_ranks, strict=True)):
            lower = np.float32(min(lows[i] for i in idx))
            upper = np.float32(max(highs[i] for i in idx))
            if not upper > lower:
                upper = np.nextafter(lower, np.float32(np.inf))
            np.less(x, lower, out=self.below)
            n_below = int(np.count_nonzero(self.below))
            if ranks[0] < n_below:
                return None
            target = self.any_inside if g == 0 else self.inside
            np.less(x, upper, out=target)
            np.logical_xor(target, self.below, out=target)  # lower <= x < upper
            if g > 0:
                np.logical_or(self.any_inside, target, out=self.any_inside)
            brackets.append((lower, upper, n_below))
        candidates = x[self.any_inside]  # one gather for all brackets
        values = np.empty(self.ranks.shape[0])
        for (lower, upper, n_below), idx, ranks in zip(
            brackets, self.groups, self.group_ranks, strict=True
        ):
            members = candidates[(candidates >= lower) & (candidates < upper)]
            local = [r - n_below for r in ranks]
            if local[-1] >= members.shape[0]:
                return None
            values[idx] = np.partition(members, local)[local]
        return values

    def _histogram(self, x: F32) -> F64:
        np.right_shift(x.view(np.int32), SHIFT, out=self.codes, casting="unsafe")
        try:
            counts = np.bincount(self.codes)
        except ValueError:
            # Negative values (rounding just after a dose) and -0.0 have the sign bit set:
            # put them in bin 0, where the partition below still orders them by value.
            np.maximum(self.codes, 0, out=self.codes)
            counts = np.bincount(self.codes)
        cum = np.cumsum(counts)
        bins = np.searchsorted(cum, self.ranks, side="right")
        below = cum[bins] - counts[bins]
        values = np.empty(self.ranks.shape[0])
        for b in np.unique(bins):
            here = bins == b
            members = x[self.codes == b]
            local = self.ranks[here] - below[here]
            values[here] = np.partition(members, local)[local]
        return values


def _sum_rows(amp: F32, out: F32) -> None:
    """out = amp.sum(axis=0), by in-place adds (faster than a strided reduction)."""
    if amp.shape[0] == 1:
        out[:] = amp[0]
        return
    np.add(amp[0], amp[1], out=out)
    for k in range(2, amp.shape[0]):
        out += amp[k]


def _amplitudes_at(
    rates: F64, coef: F64, dose_t: F64, dose_mg: F64, t: float, after: float = -math.inf
) -> F64:
    """Mode amplitudes (n, K) at time t from the doses given in (after, t]."""
    amp = np.zeros_like(coef)
    given = (dose_t > after) & (dose_t <= t)
    for td, mg in zip(dose_t[given], dose_mg[given], strict=True):
        amp += mg * coef * np.exp(-rates * (t - td))
    return amp


def _run_chunk(
    rates: F64,
    coef: F64,
    dose_t: F64,
    dose_mg: F64,
    times: F64,
    ranks: NDArray[np.int64],
    block: int,
) -> F64:
    """Order statistics (len(ranks), len(times)) for one contiguous run of time points."""
    n, _ = rates.shape
    step = float(times[1] - times[0]) if times.shape[0] > 1 else 0.0
    out = np.empty((ranks.shape[0], times.shape[0]))
    select = _Selector(n, ranks)
    d32 = np.ascontiguousarray(np.exp(-rates * step).T, dtype=np.float32)
    amp64 = _amplitudes_at(rates, coef, dose_t, dose_mg, float(times[0]))
    row_sum = np.empty(n, dtype=np.float32)
    taken = np.searchsorted(dose_t, times, side="right")  # doses given by each time point
    start = 0
    while start < times.shape[0]:
        stop = min(start + block, times.shape[0])
        amp32 = np.ascontiguousarray(amp64.T, dtype=np.float32)
        for r in range(start, stop):
            if r > start:
                amp32 *= d32
                for j in range(taken[r - 1], taken[r]):  # doses since the previous point
                    late = float(times[r]) - float(dose_t[j])
                    amp32 += (dose_mg[j] * coef * np.exp(-rates * late)).T.astype(np.float32)
            _sum_rows(amp32, row_sum)
            out[:, r] = select(row_sum)
        if stop < times.shape[0]:  # exact float64 anchor for the next block
            t0, t1 = float(times[start]), float(times[stop])
            amp64 = amp64 * np.exp(-rates * (t1 - t0))
            amp64 += _amplitudes_at(rates, coef, dose_t, dose_mg, t1, after=t0)
        start = stop
    return out


def population_quantiles(
    m: Modes,
    output: Output,
    dose_times: Sequence[float] | F64,
    dose_mg: Sequence[float] | F64,
    times: F64,
    probs: Sequence[float],
    *,
    workers: int | None = None,
    block: int = 240,
) -> F64:
    """Quantiles `probs` of `output` across subjects at each of `times` (uniform grid).

    Returns an array (len(probs), len(times)), equal to
    `np.quantile(values, probs, axis=0)` on the full matrix up to float32 rounding.
    """
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.shape[0] == 0:
        raise ValueError("times must be a non-empty 1-D grid")
    if times.shape[0] > 1:
        steps = np.diff(times)
        if not np.allclose(steps, steps[0], rtol=1e-9, atol=1e-12) or steps[0] <= 0:
            raise ValueError("times must be an increasing, evenly spaced grid")
    coef_all = m.coef[output]
    active = np.flatnonzero(np.any(coef_all != 0.0, axis=0))
    rates = np.ascontiguousarray(m.rates[:, active])
    coef = np.ascontiguousarray(coef_all[:, active])
    order = np.argsort(np.asarray(dose_times, dtype=np.float64), kind="stable")
    d_t = np.asarray(dose_times, dtype=np.float64)[order]
    d_mg = np.asarray(dose_mg, dtype=np.float64)[order]
    n = rates.shape[0]
    ranks, plan = rank_plan(n, probs)

    if workers is None:  # automatic: threads only when the work is worth it
        workers = os.cpu_count() or 1
        if n * times.shape[0] < PARALLEL_MIN_WORK:
            workers = 1
    workers = max(1, min(workers, times.shape[0]))
    bounds = np.linspace(0, times.shape[0], workers + 1).round().astype(int)
    pieces = [times[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    if len(pieces) == 1:
        stats = _run_chunk(rates, coef, d_t, d_mg, pieces[0], ranks, block)
    else:
        with ThreadPoolExecutor(max_workers=len(pieces)) as pool:
            parts = list(
                pool.map(lambda ts: _run_chunk(rates, coef, d_t, d_mg, ts, ranks, block), pieces)
            )
        stats = np.concatenate(parts, axis=1)

    index = {int(r): i for i, r in enumerate(ranks)}
    result = np.empty((len(plan), times.shape[0]))
    for i, (lo, hi, frac) in enumerate(plan):
        a, b = stats[index[lo]], stats[index[hi]]
        result[i] = a + frac * (b - a)
    return result

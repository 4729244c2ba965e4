"""Benchmark of the mechanism simulator (run by `make bench`; not a test).

Workload: 100,000 virtual subjects x 7 days at 6-minute resolution (1,681 time points),
4.5 mg every 24 h, default model; output: 5th/50th/95th percentile occupancy bands.

Targets (from the issue): at most 1 s on this 2-core machine, at least 100x faster than
the same model solved per subject with scipy.integrate.solve_ivp, agreement within 1e-6.

    uv run python benchmarks/bench_pkpd.py [--subjects N] [--baseline-subjects M]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from ldn_derm.pkpd import DoseSchedule, parse_clock, simulate
from ldn_derm.pkpd.bands import population_quantiles
from ldn_derm.pkpd.model import Output, evaluate, modes, occupancy
from ldn_derm.pkpd.ode import solve_reference
from ldn_derm.pkpd.parameters import Structure, default_parameters
from ldn_derm.pkpd.population import sample_subjects

PROBS = (0.05, 0.5, 0.95)
TARGET_SECONDS = 1.0
TARGET_SPEEDUP = 100.0
TARGET_AGREEMENT = 1e-6


def timed(func: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """(best, median) wall time over `repeats` runs, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--baseline-subjects", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    n = args.subjects
    schedule = DoseSchedule.repeated(4.5, 24.0, 7, parse_clock("22:00"))
    times = (np.arange(7 * 240 + 1) * 0.1).astype(np.float64)  # 7 days in 6 min: 1,681 points
    d_t, d_mg = np.array(schedule.times_h), np.array(schedule.doses_mg)
    params = default_parameters(Structure.RETENTION)

    def fast(workers: int | None) -> np.ndarray:
        m = modes(sample_subjects(params, n, seed=1))
        q = population_quantiles(m, Output.ODDS, d_t, d_mg, times, PROBS, workers=workers)
        return occupancy(q)

    fast(None)  # warm-up (imports, page faults)
    best2, med2, bands = timed(lambda: fast(None), args.repeats)
    best1, med1, _ = timed(lambda: fast(1), max(1, args.repeats // 2))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    best_cli, med_cli, _ = timed(
        lambda: simulate(schedule, hours=168.0, subjects=n, seed=1), max(1, args.repeats // 2)
    )

    # Naive vectorised NumPy: the whole (subjects x time) matrix in float64, then np.quantile.
    naive_n = min(n, 10_000)
    naive_m = modes(sample_subjects(params, naive_n, seed=1))

    def naive() -> np.ndarray:
        full = evaluate(naive_m, d_t, d_mg, times, (Output.ODDS,))[Output.ODDS]
        return occupancy(np.quantile(full, PROBS, axis=0))

    naive_best, _, _ = timed(naive, 1)
    naive_scaled = naive_best * n / naive_n

    # Baseline: solve_ivp per subject on a subset, extrapolated per subject.
    subjects = sample_subjects(params, n, seed=1)
    m_all = modes(subjects)
    pick = np.linspace(0, n - 1, args.baseline_subjects).astype(int)
    solve_reference(subjects, 0, d_t, d_mg, times[:3])  # import SciPy outside the timing
    start = time.perf_counter()
    ode = [solve_reference(subjects, int(i), d_t, d_mg, times) for i in pick]
    per_subject = (time.perf_counter() - start) / len(pick)
    baseline = per_subject * n
    closed = evaluate(modes(subjects.take(pick)), d_t, d_mg, times)
    occ_diff = max(
        float(np.abs(occupancy(o[Output.ODDS]) - occupancy(closed[Output.ODDS][j])).max())
        for j, o in enumerate(ode)
    )
    conc_diff = max(
        float(np.abs(o[out] - closed[out][j]).max() / np.abs(closed[out][j]).max())
        for j, o in enumerate(ode)
        for out in (Output.NALTREXONE, Output.NALTREXOL)
    )

    # Streamed float32 bands against exact float64 quantiles over all subjects (40 rows).
    rows = np.linspace(0, times.shape[0] - 1, 40).astype(int)
    exact_rows = np.concatenate(
        [
            evaluate(m_all, d_t, d_mg, times[chunk], (Output.ODDS,))[Output.ODDS]
            for chunk in np.array_split(rows, 8)
        ],
        axis=1,
    )
    exact = occupancy(np.quantile(exact_rows, PROBS, axis=0))
    band_diff = float(np.abs(exact - np.asarray(bands)[:, rows]).max())

    speedup = baseline / best2
    line = "-" * 78
    print(
        f"Mechanism simulator benchmark: {n:,} subjects x {times.shape[0]:,} time points "
        f"(7 days, 6 min), 4.5 mg daily"
    )
    print(line)
    print(f"{'method':44s} {'seconds':>10s} {'vs baseline':>12s}  note")
    print(line)
    print(
        f"{'solve_ivp per subject (DOP853, baseline)':44s} {baseline:10.1f} {1.0:11.0f}x  "
        f"extrapolated from {len(pick)} subjects, {per_subject * 1e3:.0f} ms each"
    )
    print(
        f"{'naive NumPy: full float64 matrix + quantile':44s} {naive_scaled:10.2f} "
        f"{baseline / naive_scaled:11.0f}x  extrapolated from {naive_n:,} subjects "
        f"({n * times.shape[0] * 8 / 1e9:.1f} GB matrix)"
    )
    print(
        f"{'streamed bands, 1 thread':44s} {best1:10.3f} {baseline / best1:11.0f}x  "
        f"median {med1:.3f} s"
    )
    print(
        f"{'streamed bands, all cores (the simulator)':44s} {best2:10.3f} {speedup:11.0f}x  "
        f"median {med2:.3f} s, peak RSS {rss_mb:.0f} MB"
    )
    print(
        f"{'simulate(): both models + typical PK':44s} {best_cli:10.3f} "
        f"{baseline / best_cli:11.0f}x  median {med_cli:.3f} s (what the CLI runs)"
    )
    print(line)
    print(
        f"closed form vs solve_ivp: occupancy max |diff| {occ_diff:.1e}, concentrations "
        f"max |diff|/peak {conc_diff:.1e}"
    )
    print(
        f"streamed float32 bands vs float64 np.quantile (all subjects, 40 time points): "
        f"max |diff| {band_diff:.1e}"
    )
    checks = {
        f"<= {TARGET_SECONDS:g} s": best2 <= TARGET_SECONDS,
        f">= {TARGET_SPEEDUP:g}x faster than solve_ivp": speedup >= TARGET_SPEEDUP,
        f"closed form agrees with solve_ivp to {TARGET_AGREEMENT:g}": max(occ_diff, conc_diff)
        <= TARGET_AGREEMENT,
        "bands agree with exact quantiles to 1e-5": band_diff <= 1e-5,
    }
    for name, ok in checks.items():
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Small statistics written out so they can be checked: Wilson score interval, KM median."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True)
class Proportion:
    events: int
    total: int
    low: float
    high: float

    @property
    def estimate(self) -> float:
        return self.events / self.total if self.total else math.nan

    def label(self) -> str:
        if not self.total:
            return "—"
        return (
            f"{self.events}/{self.total} ({100 * self.estimate:.0f}%; "
            f"95% CI {100 * self.low:.0f}–{100 * self.high:.0f}%)"
        )


def wilson_interval(events: int, total: int, confidence: float = 0.95) -> Proportion:
    """Wilson score interval for a binomial proportion (no continuity correction).

    centre = (p + z²/2n) / (1 + z²/n),  half-width = z·sqrt(p(1-p)/n + z²/4n²) / (1 + z²/n).
    With no observations the interval is the whole [0, 1].
    """
    if total < 0 or events < 0 or events > total:
        raise ValueError(f"impossible proportion {events}/{total}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    if total == 0:
        return Proportion(0, 0, 0.0, 1.0)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    n = float(total)
    p = events / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp rounding noise: the interval always contains 0 when events == 0 and 1 when all.
    low = 0.0 if events == 0 else max(0.0, centre - half)
    high = 1.0 if events == total else min(1.0, centre + half)
    return Proportion(events, total, low, high)


@dataclass(frozen=True)
class MedianTime:
    """Kaplan–Meier median time to an event, in days, with its 95% interval (None = not
    reached, i.e. fewer than half had the event within follow-up)."""

    n: int
    events: int
    median: float | None
    low: float | None
    high: float | None

    def label(self) -> str:
        if self.n == 0:
            return "—"
        if self.median is None:
            return f"not reached ({self.events}/{self.n} responded)"
        ci_low = "?" if self.low is None else f"{self.low:.0f}"
        ci_high = "not reached" if self.high is None else f"{self.high:.0f}"
        return f"{self.median:.0f} days (95% CI {ci_low}–{ci_high}; {self.events}/{self.n})"


def _finite(x: float) -> float | None:
    return None if x is None or math.isinf(x) or math.isnan(x) else float(x)


def km_median(durations: list[float], observed: list[bool]) -> MedianTime:
    """Median time to event with lifelines' KaplanMeierFitter (right-censored data)."""
    if len(durations) != len(observed):
        raise ValueError("durations and observed differ in length")
    if not durations:
        return MedianTime(0, 0, None, None, None)
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    kmf = KaplanMeierFitter()
    kmf.fit(durations, event_observed=observed)
    median = _finite(kmf.median_survival_time_)
    ci = median_survival_times(kmf.confidence_interval_)
    low = _finite(float(ci.iloc[0, 0]))
    high = _finite(float(ci.iloc[0, 1]))
    return MedianTime(len(durations), sum(observed), median, low, high)


def km_survival(durations: list[float], observed: list[bool]) -> list[tuple[float, float]]:
    """The Kaplan–Meier step function as (time, S(t)) pairs (for tests and plots)."""
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter()
    kmf.fit(durations, event_observed=observed)
    sf = kmf.survival_function_
    return [(float(t), float(s)) for t, s in zip(sf.index, sf.iloc[:, 0], strict=True)]

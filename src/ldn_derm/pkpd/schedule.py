"""Dosing schedules for the simulator: when each oral dose is taken and how much.

Times are hours from the first dose (t = 0). A clock time, when given, anchors t = 0 to a
time of day so that nights can be marked. Missed doses are removed from the schedule but
kept in the record, so a report can say which ones were skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import time

from ldn_derm.errors import SimulationError

MAX_DOSE_MG = 300.0  # twice the highest dose in the calibration data (150 mg)
MAX_DOSES = 5000
MAX_SPAN_H = 24.0 * 366


def parse_clock(text: str) -> time:
    """'22:00' or '7:30' -> time; anything else is a SimulationError."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text or "")
    if not match:
        raise SimulationError(f"cannot read the clock time '{text}': use HH:MM, e.g. 22:00")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise SimulationError(f"'{text}' is not a time of day (00:00 to 23:59)")
    return time(hour, minute)


def check_dose(dose_mg: float, what: str = "dose") -> float:
    value = _finite(dose_mg, what)
    if value <= 0:
        raise SimulationError(f"{what} must be more than 0 mg (got {value:g} mg)")
    if value > MAX_DOSE_MG:
        raise SimulationError(
            f"{what} {value:g} mg is above {MAX_DOSE_MG:g} mg; the model is calibrated on "
            "single doses up to 150 mg"
        )
    return value


def _finite(value: float, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SimulationError(f"{what} must be a number (got {value!r})") from None
    if not math.isfinite(number):
        raise SimulationError(f"{what} must be a finite number (got {value!r})")
    return number


@dataclass(frozen=True)
class DoseSchedule:
    """Oral doses (mg naltrexone hydrochloride) at hours after the first dose."""

    times_h: tuple[float, ...]
    doses_mg: tuple[float, ...]
    description: str
    clock: time | None = None  # clock time of the first dose
    missed: tuple[int, ...] = ()  # 1-based numbers of the planned doses that were skipped
    planned: int = 0  # number of planned doses, including missed ones
    missed_times_h: tuple[float, ...] = ()  # when the skipped doses were due

    # ---------------------------------------------------------------- builders
    @classmethod
    def single(cls, dose_mg: float, clock: time | None = None) -> DoseSchedule:
        dose = check_dose(dose_mg)
        return cls._build([(0.0, dose)], f"single {dose:g} mg dose", clock, ())

    @classmethod
    def repeated(
        cls,
        dose_mg: float,
        every_h: float,
        count: int,
        clock: time | None = None,
        missed: Iterable[int] = (),
    ) -> DoseSchedule:
        dose = check_dose(dose_mg)
        every = _interval(every_h)
        count = _count(count)
        pairs = [(i * every, dose) for i in range(count)]
        label = f"{dose:g} mg every {every:g} h, {count} doses"
        return cls._build(pairs, label, clock, missed)

    @classmethod
    def at_times(
        cls,
        dose_mg: float,
        times_h: Sequence[float],
        clock: time | None = None,
        missed: Iterable[int] = (),
    ) -> DoseSchedule:
        dose = check_dose(dose_mg)
        pairs = [(_finite(t, "dose time"), dose) for t in times_h]
        return cls._build(pairs, f"{dose:g} mg at {len(pairs)} set times", clock, missed)

    @classmethod
    def from_pairs(
        cls,
        pairs: Sequence[tuple[float, float]],
        clock: time | None = None,
        missed: Iterable[int] = (),
        description: str | None = None,
    ) -> DoseSchedule:
        checked = [(_finite(t, "dose time"), check_dose(d)) for t, d in pairs]
        label = description or f"{len(checked)} doses from a schedule"
        return cls._build(checked, label, clock, missed)

    @classmethod
    def titration(
        cls,
        steps: Sequence[tuple[float, int]],
        every_h: float = 24.0,
        clock: time | None = None,
        missed: Iterable[int] = (),
    ) -> DoseSchedule:
        """Steps of (dose mg, number of doses), one dose every `every_h` hours."""
        if not steps:
            raise SimulationError("a titration needs at least one step (dose:days)")
        every = _interval(every_h)
        pairs: list[tuple[float, float]] = []
        for dose_mg, n in steps:
            dose = check_dose(dose_mg, "titration dose")
            if int(n) != n or n < 1:
                raise SimulationError(f"a titration step needs a whole number of doses (got {n})")
            first = len(pairs)
            if first + int(n) > MAX_DOSES:  # check before building: n may be huge
                raise SimulationError(f"a schedule can have at most {MAX_DOSES} doses")
            pairs.extend(((first + i) * every, dose) for i in range(int(n)))
            if len(pairs) > MAX_DOSES:
                raise SimulationError(f"a schedule can have at most {MAX_DOSES} doses")
        label = " then ".join(f"{d:g} mg x {int(n)}" for d, n in steps)
        return cls._build(pairs, f"titration: {label} (every {every:g} h)", clock, missed)

    @classmethod
    def _build(
        cls,
        pairs: list[tuple[float, float]],
        description: str,
        clock: time | None,
        missed: Iterable[int],
    ) -> DoseSchedule:
        if not pairs:
            raise SimulationError("the schedule has no doses")
        if len(pairs) > MAX_DOSES:
            raise SimulationError(f"a schedule can have at most {MAX_DOSES} doses")
        pairs = sorted(pairs)
        if any(t < 0 for t, _ in pairs):
            raise SimulationError("dose times must be 0 or later (hours after the first dose)")
        start = pairs[0][0]
        pairs = [(t - start, d) for t, d in pairs]
        if pairs[-1][0] > MAX_SPAN_H:
            raise SimulationError(f"the schedule spans more than {MAX_SPAN_H:g} hours")
        skipped = sorted({int(m) for m in missed})
        for number in skipped:
            if not 1 <= number <= len(pairs):
                raise SimulationError(
                    f"missed dose {number} does not exist (doses are numbered 1 to {len(pairs)})"
                )
        kept = [p for i, p in enumerate(pairs, start=1) if i not in skipped]
        if not kept:
            raise SimulationError("every dose is marked as missed; nothing to simulate")
        if skipped:
            description += f", dose{'s' if len(skipped) > 1 else ''} "
            description += ", ".join(str(s) for s in skipped) + " missed"
        return cls(
            times_h=tuple(t for t, _ in kept),
            doses_mg=tuple(d for _, d in kept),
            description=description,
            clock=clock,
            missed=tuple(skipped),
            planned=len(pairs),
            missed_times_h=tuple(pairs[i - 1][0] for i in skipped),
        )

    # ---------------------------------------------------------------- queries
    @property
    def last_dose_h(self) -> float:
        return self.times_h[-1]

    @property
    def lowest_dose_mg(self) -> float:
        return min(self.doses_mg)

    def scaled_to(self, dose_mg: float) -> DoseSchedule:
        """The same timing with every dose replaced by `dose_mg` (for dose comparisons)."""
        dose = check_dose(dose_mg)
        label = re.sub(r"^[\d.]+ mg", f"{dose:g} mg", self.description)
        if label == self.description:
            label = f"{dose:g} mg, {self.description}"
        return DoseSchedule(
            times_h=self.times_h,
            doses_mg=tuple(dose for _ in self.times_h),
            description=label,
            clock=self.clock,
            missed=self.missed,
            planned=self.planned,
            missed_times_h=self.missed_times_h,
        )

    def clock_at(self, t_h: float) -> str | None:
        """Clock time (HH:MM) at `t_h` hours after the first dose, when a clock was given."""
        if self.clock is None:
            return None
        minutes = round(self.clock.hour * 60 + self.clock.minute + t_h * 60) % (24 * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    def to_dict(self) -> dict[str, object]:
        return {
            "description": self.description,
            "first_dose_clock": self.clock.strftime("%H:%M") if self.clock else None,
            "doses": [
                {"t_h": t, "dose_mg": d, **({"clock": self.clock_at(t)} if self.clock else {})}
                for t, d in zip(self.times_h, self.doses_mg, strict=True)
            ],
            "missed": list(self.missed),
            "missed_t_h": list(self.missed_times_h),
        }


def _interval(every_h: float) -> float:
    every = _finite(every_h, "dosing interval")
    if every <= 0:
        raise SimulationError(f"the dosing interval must be more than 0 hours (got {every:g})")
    if every > 24 * 60:
        raise SimulationError("the dosing interval must be at most 60 days")
    return every


def _count(count: int) -> int:
    if int(count) != count or count < 1:
        raise SimulationError(f"the number of doses must be a whole number of at least 1 ({count})")
    if count > MAX_DOSES:
        raise SimulationError(f"a schedule can have at most {MAX_DOSES} doses (got {count})")
    return int(count)

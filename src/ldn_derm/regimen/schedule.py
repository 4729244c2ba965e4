"""Titration schedules: a start dose, steps at an interval, up to a target, for N days.

Presets come from the knowledge base (`protocols.yaml`); anything a published protocol does
not report must be supplied by the prescriber, and every default this module fills in is
recorded in `Regimen.assumptions` so that nothing is silently invented.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ldn_derm.errors import DoseError, InputError
from ldn_derm.regimen.dose import Dose, fmt_mg, validate_dose

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.knowledge.models import TitrationProtocol

MAX_DAYS = 365
MAX_INTERVAL_DAYS = 180


class DoseTime(StrEnum):
    BEDTIME = "bedtime"
    MORNING = "morning"

    @property
    def fhir_when(self) -> str:
        """HL7 EventTiming code: HS (before sleep) or MORN (morning)."""
        return "HS" if self is DoseTime.BEDTIME else "MORN"

    @property
    def phrase(self) -> str:
        return "at bedtime" if self is DoseTime.BEDTIME else "in the morning"


@dataclass(frozen=True)
class Step:
    """One dose level: `dose_mg` once daily from `start_day` (1-based) for `days` days."""

    dose_mg: Decimal
    start_day: int
    days: int

    @property
    def end_day(self) -> int:
        return self.start_day + self.days - 1

    @property
    def total_mg(self) -> Decimal:
        return self.dose_mg * self.days


TIMING_ASSUMPTION = "Time of day not given"  # how the default-time assumption begins


@dataclass(frozen=True)
class Regimen:
    steps: tuple[Step, ...]
    time: DoseTime
    days: int
    target_mg: Decimal
    protocol_id: str | None = None
    protocol_name: str | None = None
    refs: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    start_date: date | None = None
    timing_refs: tuple[str, ...] = ()  # sources of the default time of day, when it was assumed
    standard_dose_allowed: bool = False
    notes: tuple[str, ...] = field(default=())
    above_low_dose_allowed: bool = False
    # titration steps below the low-dose range (accepted from the cited floor up), with the
    # sources of that floor
    below_range_steps: tuple[Decimal, ...] = ()
    below_range_refs: tuple[str, ...] = ()

    @property
    def total_mg(self) -> Decimal:
        return sum((s.total_mg for s in self.steps), Decimal(0))

    @property
    def reaches_target(self) -> bool:
        return self.steps[-1].dose_mg == self.target_mg

    def dose_on(self, day: int) -> Decimal:
        for step in self.steps:
            if step.start_day <= day <= step.end_day:
                return step.dose_mg
        raise InputError(f"day {day} is outside the {self.days}-day schedule")

    def step_dates(self, step: Step) -> tuple[date, date] | None:
        if self.start_date is None:
            return None
        first = self.start_date + timedelta(days=step.start_day - 1)
        return first, first + timedelta(days=step.days - 1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready schedule (schedule.json); doses as numbers in mg."""
        rows = []
        for i, step in enumerate(self.steps, start=1):
            row: dict[str, Any] = {
                "step": i,
                "dose_mg": float(step.dose_mg),
                "start_day": step.start_day,
                "end_day": step.end_day,
                "days": step.days,
            }
            dates = self.step_dates(step)
            if dates:
                row["start_date"], row["end_date"] = (d.isoformat() for d in dates)
            rows.append(row)
        return {
            "protocol": self.protocol_id,
            "protocol_name": self.protocol_name,
            "time_of_day": self.time.value,
            "days": self.days,
            "start_date": self.start_date.isoformat() if self.start_date else None,
            "target_mg": float(self.target_mg),
            "reaches_target": self.reaches_target,
            "total_mg": float(self.total_mg),
            "steps": rows,
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
            "below_range_steps_mg": [float(d) for d in self.below_range_steps],
            "references": list(self.refs),
            "timing_references": list(self.timing_refs),
        }

    def assumption_refs(self, assumption: str) -> tuple[str, ...]:
        """The references behind one of the assumptions (the default time of day has some)."""
        return self.timing_refs if assumption.startswith(TIMING_ASSUMPTION) else ()

    def describe_step(self, step: Step) -> str:
        return f"{fmt_mg(step.dose_mg)} mg once daily {self.time.phrase}"


def find_protocol(name: str, kb: KnowledgeBase) -> TitrationProtocol:
    wanted = name.strip().lower()
    for proto in kb.protocols.protocols:
        if proto.id == wanted:
            return proto
    known = ", ".join(p.id for p in kb.protocols.protocols)
    raise InputError(f"unknown preset '{name}'; known presets: {known}")


def _positive_int(value: int | None, what: str, upper: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{what} must be a whole number of days")
    if not 1 <= value <= upper:
        raise InputError(f"{what} must be between 1 and {upper} days (got {value})")
    return value


@dataclass(frozen=True)
class _Allow:
    standard: bool
    above_low: bool


def _dose(
    value: str | int | float | Decimal | Dose,
    allow: _Allow,
    kb: KnowledgeBase,
    *,
    step: bool = False,
) -> Decimal:
    """A target (`step=False`) must lie in the range; a titration step may start lower."""
    return validate_dose(
        value,
        allow_standard_dose=allow.standard,
        allow_above_low_dose=allow.above_low,
        titration_step=step,
        kb=kb,
    ).mg


def _below_range(
    levels: Sequence[Decimal], kb: KnowledgeBase, notes: list[str]
) -> tuple[tuple[Decimal, ...], tuple[str, ...]]:
    """The titration steps below the low-dose range, with a note and the floor's sources."""
    low = Decimal(str(kb.drug.canonical_low_dose.low))
    below = tuple(dict.fromkeys(d for d in levels if d < low))
    if not below:
        return (), ()
    floor = kb.protocols.dose_rules.titration_floor_mg
    listed = ", ".join(f"{fmt_mg(d)} mg" for d in below)
    notes.append(
        f"Titration step(s) below the low-dose range ({kb.drug.canonical_low_dose.label()}): "
        f"{listed}. Accepted as starting steps only: {floor.basis.strip()}"
    )
    return below, tuple(floor.refs)


def _step_size(value: str | int | float | Decimal | Dose) -> Decimal:
    """A titration increment: positive and in mg, but not itself a dose in the LDN range."""
    if isinstance(value, Dose):
        return value.mg
    if isinstance(value, str):
        from ldn_derm.regimen.dose import parse_quantity

        magnitude, kind = parse_quantity(value)
        if kind == "none":
            raise DoseError(f"step '{value}' has no unit: write it as '{value} mg'")
        if kind != "mass":
            raise DoseError(f"step '{value}' must be a mass (mg or mcg)")
        step = Decimal(f"{magnitude:.10g}")
    else:
        step = Decimal(f"{float(value):.10g}") if isinstance(value, float) else Decimal(value)
    if not step.is_finite() or step <= 0:
        raise DoseError(f"titration step '{value}' must be above zero")
    return step.normalize()


START_DATE_RANGE = (date(1900, 1, 1), date(2200, 12, 31))


def check_start_date(day: date) -> None:
    """Refuse first days no prescription can sensibly have (and date-arithmetic overflow)."""
    low, high = START_DATE_RANGE
    if not low <= day <= high:
        raise InputError(
            f"start date {day.isoformat()} must lie between {low.year} and {high.year}"
        )


def build_regimen(
    *,
    target_mg: str | int | float | Decimal | Dose | None = None,
    start_mg: str | int | float | Decimal | Dose | None = None,
    step_mg: str | int | float | Decimal | Dose | None = None,
    interval_days: int | None = None,
    days: int = 90,
    time: DoseTime | str | None = None,
    preset: str | None = None,
    steps: Sequence[tuple[str | int | float | Decimal | Dose, int]] | None = None,
    start_date: date | None = None,
    allow_standard_dose: bool = False,
    allow_above_low_dose: bool = False,
    kb: KnowledgeBase | None = None,
) -> Regimen:
    """Build a once-daily schedule from a preset, explicit titration, or custom steps.

    - `preset`: a protocol id from the knowledge base; explicit arguments override it, and
      any parameter the source leaves unreported must be given (else InputError).
    - titration: start at `start_mg` (default: the target), add `step_mg` every
      `interval_days` until `target_mg`; the last level runs to day `days`.
    - `steps`: a custom schedule as (dose, days) pairs; `days` is then their sum.
    Numbers are mg; strings may carry units ('4500 mcg'). The target must lie in the low-dose
    range; earlier steps may start at the cited titration floor (0.5 mg). Doses above the range
    need `allow_above_low_dose` (below 50 mg) or `allow_standard_dose` (50-100 mg).
    """
    allow = _Allow(standard=allow_standard_dose, above_low=allow_above_low_dose)
    if start_date is not None:
        check_start_date(start_date)
    if kb is None:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
    assumptions: list[str] = []
    notes: list[str] = []
    refs: list[str] = []
    proto: TitrationProtocol | None = None

    if steps is not None:
        if preset is not None or start_mg is not None or step_mg is not None:
            raise InputError("give either custom steps or a preset/titration, not both")
        if interval_days is not None:
            raise InputError("custom steps carry their own durations: leave out the interval")
        return _custom(steps, target_mg, time, start_date, allow, kb, assumptions)

    if preset is not None:
        proto = find_protocol(preset, kb)
        refs.extend(proto.refs)
        target_mg = proto.target_mg if target_mg is None else target_mg
        start_mg = proto.start_mg if start_mg is None else start_mg
        if step_mg is None and proto.step_mg is not None:
            step_mg = proto.step_mg
        if interval_days is None:
            if proto.interval_days is not None:
                interval_days = proto.interval_days
            elif "interval_days" in proto.missing and _dose(
                start_mg, allow, kb, step=True
            ) != _dose(target_mg, allow, kb):  # (either may be text with a unit: "3 mg")
                raise InputError(
                    f"preset '{proto.id}' does not report the titration interval: "
                    "give the interval in days"
                )
        if time is None and proto.time is not None:
            time = proto.time
        if proto.note:
            notes.append(proto.note)

    if target_mg is None:
        raise InputError("give a target dose (mg/day) or a preset")
    target = _dose(target_mg, allow, kb)
    start = target if start_mg is None else _dose(start_mg, allow, kb, step=True)
    if start > target:
        raise DoseError(f"start dose {fmt_mg(start)} mg is above the target {fmt_mg(target)} mg")
    total_days = _positive_int(days, "duration", MAX_DAYS)
    assert total_days is not None
    dose_time, timing_refs = _dose_time(time, assumptions, proto, kb)

    levels = [start]
    interval: int | None = None
    if start < target:
        if step_mg is None:
            step = start
            assumptions.append(
                f"Step size not given: steps of {fmt_mg(step)} mg (the start dose) are used."
            )
        else:
            step = _step_size(step_mg)
        interval = _positive_int(interval_days, "titration interval", MAX_INTERVAL_DAYS)
        if interval is None:  # no peer-reviewed interval is known: never guess one
            raise InputError(
                f"titrating from {fmt_mg(start)} mg to {fmt_mg(target)} mg needs an interval "
                "in days between steps"
            )
        while levels[-1] < target:
            levels.append(min(levels[-1] + step, target))
        for level in levels:
            _dose(level, allow, kb, step=True)
    elif step_mg is not None or interval_days is not None:
        notes.append("Fixed dose: the step and interval given were not needed.")

    out: list[Step] = []
    for i, level in enumerate(levels):
        begin = 1 + i * (interval or 0)
        if begin > total_days:
            break
        out.append(Step(dose_mg=level, start_day=begin, days=0))
    final: list[Step] = []
    for i, s in enumerate(out):
        end = out[i + 1].start_day - 1 if i + 1 < len(out) else total_days
        final.append(Step(dose_mg=s.dose_mg, start_day=s.start_day, days=end - s.start_day + 1))
    below, below_refs = _below_range([s.dose_mg for s in final], kb, notes)
    if final[-1].dose_mg != target:
        notes.append(
            f"The target of {fmt_mg(target)} mg is not reached within {total_days} days; "
            f"the schedule ends at {fmt_mg(final[-1].dose_mg)} mg."
        )
    return Regimen(
        steps=tuple(final),
        time=dose_time,
        days=total_days,
        target_mg=target,
        protocol_id=proto.id if proto else None,
        protocol_name=proto.name if proto else None,
        refs=tuple(dict.fromkeys(refs)),
        assumptions=tuple(assumptions),
        start_date=start_date,
        timing_refs=timing_refs,
        standard_dose_allowed=allow_standard_dose,
        notes=tuple(notes),
        above_low_dose_allowed=allow_above_low_dose,
        below_range_steps=below,
        below_range_refs=below_refs,
    )


def _dose_time(
    time: DoseTime | str | None,
    assumptions: list[str],
    proto: TitrationProtocol | None,
    kb: KnowledgeBase,
) -> tuple[DoseTime, tuple[str, ...]]:
    """The time of day, and the references behind it when it is the cited default."""
    if time is None:
        source = f" ({proto.id} does not say)" if proto else ""
        basis = kb.drug.statement("bedtime-dosing")
        cited = "; ".join(kb.references[r].short() for r in basis.refs)
        assumptions.append(
            f"{TIMING_ASSUMPTION}{source}: bedtime. {basis.text.strip().rstrip('.')} ({cited})."
        )
        return DoseTime.BEDTIME, tuple(basis.refs)
    try:
        return DoseTime(str(time).strip().lower()), ()
    except ValueError:
        raise InputError(f"time of day must be 'bedtime' or 'morning' (got '{time}')") from None


def _custom(
    steps: Sequence[tuple[str | int | float | Decimal | Dose, int]],
    target_mg: str | int | float | Decimal | Dose | None,
    time: DoseTime | str | None,
    start_date: date | None,
    allow: _Allow,
    kb: KnowledgeBase,
    assumptions: list[str],
) -> Regimen:
    if not steps:
        raise InputError("a custom schedule needs at least one step")
    out: list[Step] = []
    day = 1
    for dose_value, length in steps:
        dose = _dose(dose_value, allow, kb, step=True)
        n = _positive_int(length, "step duration", MAX_DAYS)
        assert n is not None
        out.append(Step(dose_mg=dose, start_day=day, days=n))
        day += n
    total = day - 1
    if total > MAX_DAYS:
        raise InputError(f"the custom schedule lasts {total} days; the limit is {MAX_DAYS}")
    highest = max(s.dose_mg for s in out)
    target = _dose(highest if target_mg is None else target_mg, allow, kb)
    if highest > target:
        raise DoseError(
            f"a custom step of {fmt_mg(highest)} mg is above the target {fmt_mg(target)} mg"
        )
    merged: list[Step] = []
    for s in out:  # adjacent steps at the same dose are one level
        if merged and merged[-1].dose_mg == s.dose_mg:
            last = merged.pop()
            s = Step(dose_mg=s.dose_mg, start_day=last.start_day, days=last.days + s.days)
        merged.append(s)
    dose_time, timing_refs = _dose_time(time, assumptions, None, kb)
    notes: list[str] = []
    below, below_refs = _below_range([s.dose_mg for s in merged], kb, notes)
    return Regimen(
        steps=tuple(merged),
        time=dose_time,
        days=total,
        target_mg=target,
        assumptions=tuple(assumptions),
        start_date=start_date,
        timing_refs=timing_refs,
        standard_dose_allowed=allow.standard,
        notes=tuple(notes),
        above_low_dose_allowed=allow.above_low,
        below_range_steps=below,
        below_range_refs=below_refs,
    )

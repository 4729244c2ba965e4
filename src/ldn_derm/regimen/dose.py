"""Dose parsing and validation: units through pint, and the slips that turn 4.5 mg into 450.

Doses are kept as `Decimal` milligrams so that schedule totals, capsule counts and liquid
volumes add up exactly. pint is imported lazily (it takes about half a second) so that
`ldn assess` never pays for it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ldn_derm.errors import DoseError

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase

MICROGRAM = Decimal("0.001")  # the finest dose resolution accepted, in mg


@lru_cache(maxsize=1)
def unit_registry() -> Any:
    """The process-wide pint UnitRegistry, created on first use."""
    import pint

    return pint.UnitRegistry()


@dataclass(frozen=True)
class Dose:
    """A validated single oral dose in mg, with the text the prescriber wrote."""

    mg: Decimal
    written: str

    def label(self) -> str:
        return f"{fmt_mg(self.mg)} mg"


def fmt_mg(value: Decimal | float) -> str:
    """`4.5`, `3`, `0.75`: no trailing zeros, no exponent."""
    d = Decimal(str(value)) if not isinstance(value, Decimal) else value
    if d.is_finite() and d != 0 and not Decimal("0.0001") <= abs(d) < Decimal("1e7"):
        return format(d, ".3g")  # an absurd magnitude: 1e-300, not three hundred zeros
    return format(d.normalize(), "f")


def _to_decimal(value: float, written: str) -> Decimal:
    if not math.isfinite(value):
        raise DoseError(f"dose '{written}' is not a number")
    try:
        return Decimal(f"{value:.10g}")  # drop binary noise from unit conversion
    except InvalidOperation:
        raise DoseError(f"dose '{written}' is not a number") from None


# Dose units written in capitals (UCUM's case-insensitive forms, and MCG): read as the units
# they name, not as pint's megagauss (MG) or megalitre (ML). "Mg" (megagram) is not among them.
CAPITAL_UNITS = {"MG": "mg", "MCG": "mcg", "UG": "ug", "G": "g", "ML": "mL", "L": "L"}


def parse_quantity(text: str) -> tuple[float, str]:
    """Parse '4.5 mg', '4500 mcg', '1.5 mL', '4.5' into (magnitude, dimension kind)."""
    if "," in text:
        raise DoseError(
            f"dose '{text}' contains a comma: write decimals with a point (4.5 mg, not 4,5 mg) "
            "and give one dose at a time"
        )
    cleaned = text.strip().replace("μ", "µ")
    if not cleaned:
        raise DoseError("no dose given")
    if not re.match(r"^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*[a-zA-Zµ/ ]*$", cleaned):
        raise DoseError(f"dose '{text}' is not a number followed by a unit (e.g. '4.5 mg')")
    unit = re.sub(r"^[+-]?[\d.]+(e[+-]?\d+)?\s*", "", cleaned)
    if unit in CAPITAL_UNITS:  # "4.5 MG" as labels and some systems print it
        cleaned = cleaned[: len(cleaned) - len(unit)] + CAPITAL_UNITS[unit]
    ureg = unit_registry()
    try:
        qty = ureg.Quantity(cleaned)
    except Exception:  # pint raises several types for unknown units
        raise DoseError(
            f"dose '{text}': unknown unit (use mg, mcg/µg, g, or mL with a concentration)"
        ) from None
    if qty.dimensionless:
        return float(qty.magnitude), "none"
    if qty.check("[mass]"):
        return float(qty.to("mg").magnitude), "mass"
    if qty.check("[volume]"):
        return float(qty.to("mL").magnitude), "volume"
    raise DoseError(f"dose '{text}' is not a mass or a volume (use mg, mcg, g, or mL)")


def parse_concentration(text: str) -> Decimal:
    """A liquid concentration such as '1 mg/mL' or '500 mcg/mL', in mg/mL."""
    if "," in text:
        raise DoseError(f"concentration '{text}' contains a comma: use a decimal point")
    ureg = unit_registry()
    try:
        qty = ureg.Quantity(text.strip().replace("μ", "µ"))
    except Exception:
        raise DoseError(f"concentration '{text}' is not understood (e.g. '1 mg/mL')") from None
    if qty.dimensionless or not qty.check("[mass] / [volume]"):
        raise DoseError(f"concentration '{text}' must be a mass per volume (e.g. '1 mg/mL')")
    value = _to_decimal(float(qty.to("mg/mL").magnitude), text)
    if value <= 0:
        raise DoseError(f"concentration '{text}' must be above zero")
    return value.quantize(MICROGRAM).normalize()


def _slip_hint(mg: Decimal, low: Decimal, high: Decimal) -> str | None:
    """Name the likely slip when the dose is a power of ten away from the low-dose range."""
    for factor in (1000, 100, 10):
        f = Decimal(factor)
        up, down = mg * f, mg / f
        if low <= up <= high:
            meant = fmt_mg(up)
            if factor == 1000:
                return (
                    f"{fmt_mg(mg)} mg looks like {meant} mg written in the wrong unit "
                    f"({meant} mcg is {fmt_mg(mg)} mg; a g→mg or mcg/mg confusion)"
                )
            return f"{fmt_mg(mg)} mg is 1/{factor} of {meant} mg (a misplaced decimal point?)"
        if low <= down <= high:
            meant = fmt_mg(down)
            why = "a mg/mcg unit confusion" if factor == 1000 else "a misplaced decimal point"
            return f"{fmt_mg(mg)} mg is {factor}× {meant} mg ({why}?)"
    return None


def slip_hint(mg: Decimal, kb: KnowledgeBase | None = None) -> str | None:
    """The likely slip (unit or decimal point) when `mg` is a power of ten away from the
    knowledge base's low-dose range, else None (the hint `validate_dose` appends)."""
    if kb is None:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
    low = Decimal(str(kb.drug.canonical_low_dose.low))
    high = Decimal(str(kb.drug.canonical_low_dose.high))
    return _slip_hint(mg, low, high) if mg > 0 else None


def validate_dose(
    value: str | int | float | Decimal | Dose,
    *,
    concentration: str | Decimal | None = None,
    allow_standard_dose: bool = False,
    allow_above_low_dose: bool = False,
    titration_step: bool = False,
    kb: KnowledgeBase | None = None,
) -> Dose:
    """Check one daily dose and return it in mg, or raise DoseError naming the likely slip.

    `value` is text with a unit ('4.5 mg', '4500 mcg', '4.5 mL' with `concentration`) or a
    number already in mg. Doses must lie in the knowledge base's low-dose range, except:
    - `titration_step`: a step on the way to the target may start lower, down to the cited
      titration floor (protocols.yaml `dose_rules.titration_floor_mg`, 0.5 mg);
    - `allow_above_low_dose`: a dose above the range but below the standard dose (6 mg, say);
    - `allow_standard_dose`: the standard dose only (drug.yaml `standard_dose`, 50-100 mg).
    Nothing above the standard maximum is ever accepted.
    """
    if isinstance(value, Dose):
        written, mg_value = value.written, value.mg
    elif isinstance(value, bool):
        raise DoseError(f"dose '{value}' is not a number")
    elif isinstance(value, int | float | Decimal):
        written = f"{value} mg"
        mg_value = _to_decimal(value, written) if isinstance(value, float) else Decimal(value)
        if not mg_value.is_finite():
            raise DoseError(f"dose '{value}' is not a number")
    else:
        written = str(value).strip()
        magnitude, kind = parse_quantity(written)
        if kind == "none":
            raise DoseError(
                f"dose '{written}' has no unit: write it as '{written} mg' "
                "(or mcg, or mL with a stated concentration)"
            )
        if kind == "volume":
            if concentration is None:
                raise DoseError(
                    f"dose '{written}' is a volume: give the liquid's concentration "
                    "(e.g. 1 mg/mL) so it can be checked in mg"
                )
            conc = (
                concentration
                if isinstance(concentration, Decimal)
                else parse_concentration(concentration)
            )
            mg_value = _to_decimal(magnitude, written) * conc
        else:
            mg_value = _to_decimal(magnitude, written)
    return _check_range(
        mg_value,
        written,
        DosePermissions(
            standard=allow_standard_dose,
            above_low=allow_above_low_dose,
            titration_step=titration_step,
        ),
        kb,
    )


@dataclass(frozen=True)
class DosePermissions:
    """Which doses outside the low-dose range a check accepts (each one explicitly)."""

    standard: bool = False  # the standard dose, 50-100 mg
    above_low: bool = False  # above the low-dose range, below the standard dose
    titration_step: bool = False  # from the titration floor up to the range, as a step


def titration_floor(kb: KnowledgeBase) -> Decimal:
    return Decimal(str(kb.protocols.dose_rules.titration_floor_mg.value))


def _check_range(
    mg: Decimal, written: str, allow: DosePermissions, kb: KnowledgeBase | None
) -> Dose:
    if kb is None:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
    low = Decimal(str(kb.drug.canonical_low_dose.low))
    high = Decimal(str(kb.drug.canonical_low_dose.high))
    std_low = Decimal(str(kb.drug.standard_dose.low))
    std_high = Decimal(str(kb.drug.standard_dose.high))
    floor = titration_floor(kb)
    range_text = kb.drug.canonical_low_dose.label()
    plain = written.replace(" ", "") == f"{fmt_mg(mg)}mg"
    shown = written if plain else f"'{written}' ({fmt_mg(mg)} mg)"

    if mg == 0:
        raise DoseError(f"dose {shown} is zero")
    if mg < 0:
        raise DoseError(f"dose {shown} is negative")
    hint = _slip_hint(mg, low, high)
    suffix = f"; {hint}" if hint else ""
    if mg > std_high:
        raise DoseError(
            f"dose {shown} is above even the standard naltrexone dose "
            f"({kb.drug.standard_dose.label()}){suffix}"
        )
    if mg >= std_low and not allow.standard:
        tablet = " — 50 mg is the commercial tablet strength" if mg == std_low else ""
        raise DoseError(
            f"dose {shown} is not a low dose: {fmt_mg(std_low)} mg or more is the standard "
            f"(addiction) dose{tablet}; LDN is {range_text}{suffix}. "
            "Allow standard dosing explicitly if this is really intended"
        )
    if mg < low:
        if allow.titration_step and mg >= floor:
            pass  # a cited starting step below the range (checked against the target elsewhere)
        elif allow.titration_step:
            raise DoseError(
                f"dose {shown} is below even the lowest titration step this program accepts "
                f"({fmt_mg(floor)} mg, as cited pharmacy protocols start){suffix}"
            )
        else:
            step_note = (
                f" ({fmt_mg(floor)} mg up to {fmt_mg(low)} mg is accepted only as a titration "
                "step toward a target inside the range)"
                if mg >= floor
                else ""
            )
            raise DoseError(
                f"dose {shown} is below the low-dose range this program uses ({range_text})"
                f"{step_note}{suffix}"
            )
    if high < mg < std_low and not allow.above_low:
        std_note = "; allowing the standard dose does not cover it" if allow.standard else ""
        raise DoseError(
            f"dose {shown} is above the low-dose range this program uses ({range_text}) and "
            f"below the standard dose{suffix}. A dose between {fmt_mg(high)} and "
            f"{fmt_mg(std_low)} mg needs its own override (above-low-dose) with a recorded "
            f"reason{std_note}"
        )
    exact = mg.quantize(MICROGRAM)
    if exact != mg:
        raise DoseError(f"dose {shown} is more precise than 1 microgram (0.001 mg)")
    return Dose(mg=exact.normalize(), written=written)

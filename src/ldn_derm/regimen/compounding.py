"""Compounding arithmetic: capsule counts, liquid volumes, salt/base figures, beyond-use dates.

Every count and volume is computed from the schedule with exact decimals, so the package adds
up to the schedule to the capsule and to the 0.1 mL. Beyond-use dates are stated only where a
cited stability finding matches the preparation; otherwise the text says none is supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from ldn_derm.errors import DoseError, InputError
from ldn_derm.regimen.dose import fmt_mg, parse_concentration
from ldn_derm.regimen.schedule import Regimen

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.knowledge.models import StabilityFinding

AVICEL = "microcrystalline cellulose (Avicel)"
CONCENTRATION_ASSUMPTION = "Concentration not given"  # how that assumption begins
DEFAULT_CONCENTRATION = Decimal("1")  # mg/mL; an assumption, see LiquidPlan.assumptions
DEFAULT_GRADUATION = Decimal("0.1")  # mL; an assumption about the syringe supplied
MAX_DOSE_DEVIATION = Decimal("0.05")  # refuse a liquid dose the syringe can't measure within 5%


class Form(StrEnum):
    CAPSULE = "capsule"
    LIQUID = "liquid"


class Storage(StrEnum):
    """How a liquid is stored: the cited stability (and so the fill length) depends on it."""

    REFRIGERATED = "refrigerated"
    ROOM_TEMPERATURE = "room-temperature"


class SaltBasis(StrEnum):
    """What the written mg figure weighs: the hydrochloride salt or the free base."""

    HCL = "hcl"
    BASE = "base"

    @property
    def label(self) -> str:
        return "naltrexone hydrochloride (HCl)" if self is SaltBasis.HCL else "naltrexone base"

    @property
    def short(self) -> str:
        return "naltrexone HCl" if self is SaltBasis.HCL else "naltrexone base"


@dataclass(frozen=True)
class SaltFigures:
    """The same amount written both ways (derived from the cited molar masses)."""

    hcl_mg: Decimal
    base_mg: Decimal

    def text(self) -> str:
        return f"{fmt_mg(self.hcl_mg)} mg naltrexone HCl = {fmt_mg(self.base_mg)} mg base"


@dataclass(frozen=True)
class CapsuleLine:
    strength_mg: Decimal
    count: int
    figures: SaltFigures


@dataclass(frozen=True)
class LiquidLine:
    step: int
    dose_mg: Decimal
    volume_ml: Decimal  # per dose, as measured on the syringe
    delivered_mg: Decimal  # volume × concentration
    days: int

    @property
    def total_ml(self) -> Decimal:
        return self.volume_ml * self.days


@dataclass(frozen=True)
class StabilityNote:
    days: int | None
    text: str
    refs: tuple[str, ...]


@dataclass(frozen=True)
class Fill:
    """One dispense: the days it covers and what it holds (capsules per strength, or mL)."""

    number: int  # 1 = the first dispense; 2.. = refills
    start_day: int
    days: int
    quantity: Decimal  # capsules or mL
    capsules: tuple[tuple[Decimal, int], ...] = ()  # (strength mg, count) for capsules

    @property
    def end_day(self) -> int:
        return self.start_day + self.days - 1


@dataclass(frozen=True)
class FillPlan:
    """The supply split so that no fill outlasts its beyond-use date (or the stated limit)."""

    fills: tuple[Fill, ...]
    limit_days: int
    basis: str  # why fills are at most `limit_days` long
    refs: tuple[str, ...]
    cited_bud: bool  # True: the limit is a cited beyond-use date for this preparation

    @property
    def refills(self) -> int:
        return len(self.fills) - 1


@dataclass(frozen=True)
class CompoundingPlan:
    form: Form
    salt: SaltBasis
    days: int
    instructions: tuple[str, ...]
    stability: tuple[StabilityNote, ...]
    assumptions: tuple[str, ...]
    refs: tuple[str, ...]
    salt_statement: str
    total_drug_mg: Decimal  # in the stated salt basis
    capsules: tuple[CapsuleLine, ...] = ()
    filler: str | None = None
    liquid: tuple[LiquidLine, ...] = ()
    concentration_mg_per_ml: Decimal | None = None
    syringe_graduation_ml: Decimal | None = None
    instruction_refs: tuple[str, ...] = ()  # sources of the instructions (fillers, liquid form)
    concentration_refs: tuple[str, ...] = ()  # sources of the default concentration, if used
    fill_plan: FillPlan | None = None
    storage: Storage | None = None  # liquids
    vehicle: str | None = None  # liquids: the vehicle of the cited stability study
    vehicle_refs: tuple[str, ...] = ()
    container: str | None = None

    @property
    def fills(self) -> tuple[Fill, ...]:
        return self.fill_plan.fills if self.fill_plan else ()

    def assumption_refs(self, assumption: str) -> tuple[str, ...]:
        """The references behind one of the assumptions (the default concentration has some)."""
        return self.concentration_refs if assumption.startswith(CONCENTRATION_ASSUMPTION) else ()

    @property
    def total_capsules(self) -> int:
        return sum(line.count for line in self.capsules)

    @property
    def total_volume_ml(self) -> Decimal:
        return sum((line.total_ml for line in self.liquid), Decimal(0))

    @property
    def dispense_quantity(self) -> tuple[Decimal, str]:
        """(total value, UCUM unit) of the whole supply, all fills together."""
        if self.form is Form.CAPSULE:
            return Decimal(self.total_capsules), "{capsule}"
        return self.total_volume_ml, "mL"

    @property
    def unit(self) -> str:
        return "{capsule}" if self.form is Form.CAPSULE else "mL"

    def fill_text(self, fill: Fill) -> str:
        """'60 mL (days 1-45)' or '3 mg × 14; 4.5 mg × 31 (45 capsules, days 1-45)'."""
        days = f"days {fill.start_day}-{fill.end_day}"
        if self.form is Form.CAPSULE:
            parts = "; ".join(f"{fmt_mg(mg)} mg × {n}" for mg, n in fill.capsules)
            return f"{parts} ({fmt_mg(fill.quantity)} capsules, {days})"
        return f"{fmt_mg(fill.quantity)} mL ({days})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "form": self.form.value,
            "salt_basis": self.salt.value,
            "salt_statement": self.salt_statement,
            "days": self.days,
            "total_drug_mg": float(self.total_drug_mg),
            "instructions": list(self.instructions),
            "stability": [
                {"days": s.days, "text": s.text, "references": list(s.refs)} for s in self.stability
            ],
            "assumptions": list(self.assumptions),
            "references": list(self.refs),
        }
        if self.fill_plan is not None:
            out["fills"] = [
                {
                    "fill": f.number,
                    "start_day": f.start_day,
                    "end_day": f.end_day,
                    "days": f.days,
                    "quantity": float(f.quantity),
                    "unit": self.unit,
                    **(
                        {"capsules": [{"strength_mg": float(m), "count": n} for m, n in f.capsules]}
                        if self.form is Form.CAPSULE
                        else {}
                    ),
                }
                for f in self.fill_plan.fills
            ]
            out["refills"] = self.fill_plan.refills
            out["fill_limit_days"] = self.fill_plan.limit_days
            out["fill_limit_basis"] = self.fill_plan.basis
        if self.form is Form.CAPSULE:
            out["filler"] = self.filler
            out["total_capsules"] = self.total_capsules
            out["capsules"] = [
                {
                    "strength_mg": float(c.strength_mg),
                    "count": c.count,
                    "hcl_mg": float(c.figures.hcl_mg),
                    "base_mg": float(c.figures.base_mg),
                }
                for c in self.capsules
            ]
        else:
            assert self.concentration_mg_per_ml is not None
            assert self.syringe_graduation_ml is not None
            out["concentration_mg_per_ml"] = float(self.concentration_mg_per_ml)
            out["storage"] = self.storage.value if self.storage else None
            out["vehicle"] = self.vehicle
            out["container"] = self.container
            out["syringe_graduation_ml"] = float(self.syringe_graduation_ml)
            out["total_volume_ml"] = float(self.total_volume_ml)
            out["liquid"] = [
                {
                    "step": line.step,
                    "dose_mg": float(line.dose_mg),
                    "volume_ml": float(line.volume_ml),
                    "delivered_mg": float(line.delivered_mg),
                    "days": line.days,
                    "total_ml": float(line.total_ml),
                }
                for line in self.liquid
            ]
        return out


def salt_figures(mg: Decimal, salt: SaltBasis, kb: KnowledgeBase) -> SaltFigures:
    """Convert between salt and base with the cited molar masses (rounded to 0.01 mg)."""
    base = Decimal(str(kb.protocols.compounding.molar_mass_base))
    hcl = Decimal(str(kb.protocols.compounding.molar_mass_hcl))
    cent = Decimal("0.01")
    if salt is SaltBasis.HCL:
        return SaltFigures(hcl_mg=mg, base_mg=(mg * base / hcl).quantize(cent, ROUND_HALF_UP))
    return SaltFigures(hcl_mg=(mg * hcl / base).quantize(cent, ROUND_HALF_UP), base_mg=mg)


def _salt_statement(salt: SaltBasis, kb: KnowledgeBase) -> str:
    c = kb.protocols.compounding
    other = "naltrexone base" if salt is SaltBasis.HCL else "naltrexone hydrochloride"
    return (
        f"Every dose on this prescription is written as mg of {salt.label}. "
        f"The {other} equivalent is shown beside it (molar masses: base {c.molar_mass_base:g}, "
        f"HCl {c.molar_mass_hcl:g} g/mol). No cited source says which form compounded LDN doses "
        "are conventionally written in, so confirm the basis with the pharmacy."
    )


def _stability(
    form: Form,
    kb: KnowledgeBase,
    filler: str | None,
    concentration: Decimal | None,
    storage: Storage | None,
) -> list[StabilityFinding]:
    """The cited stability findings that match this preparation (and storage, for liquids)."""
    found: list[StabilityFinding] = []
    for s in kb.protocols.compounding.stability:
        if s.form != form.value:
            continue
        if form is Form.CAPSULE and s.filler and filler and s.filler.lower() != filler.lower():
            continue
        if form is Form.LIQUID:
            if (
                s.concentration_mg_per_ml is not None
                and concentration is not None
                and Decimal(str(s.concentration_mg_per_ml)) != concentration
            ):
                continue
            if storage is not None and s.storage_id != storage.value:
                continue
        found.append(s)
    return found


def _stability_notes(
    form: Form,
    found: list[StabilityFinding],
    fills: FillPlan,
    filler: str | None,
    concentration: Decimal | None,
) -> tuple[list[StabilityNote], list[str]]:
    notes: list[StabilityNote] = []
    refs: list[str] = []
    for s in found:
        text = (
            f"Cited stability: {s.days} days, {s.storage} ({s.preparation}). "
            f"A beyond-use date up to {s.days} days is supported for this preparation only."
        )
        if s.caveat:
            text += f" Caveat: {s.caveat.strip()}"
        notes.append(StabilityNote(days=s.days, text=text, refs=tuple(s.refs)))
        refs.extend(s.refs)
    if not found:
        what = (
            f"with filler {filler}"
            if form is Form.CAPSULE
            else (f"at {fmt_mg(concentration or Decimal(0))} mg/mL")
        )
        notes.append(
            StabilityNote(
                days=None,
                text=(
                    f"No beyond-use date is supported by a cited source for a {form.value} "
                    f"{what}; the pharmacy sets it."
                ),
                refs=(),
            )
        )
    if fills.refills:
        notes.append(
            StabilityNote(
                days=fills.limit_days,
                text=(
                    f"The supply is split into {len(fills.fills)} fills of at most "
                    f"{fills.limit_days} days ({fills.basis.strip()})."
                ),
                refs=fills.refs,
            )
        )
    return notes, refs


def _fill_plan(
    regimen: Regimen,
    form: Form,
    found: list[StabilityFinding],
    kb: KnowledgeBase,
    per_day: dict[Decimal, Decimal],
) -> FillPlan:
    """Split the schedule into equal fills, none longer than the cited beyond-use date.

    `per_day` maps a step's dose to what one day of it takes (1 capsule, or mL).
    """
    if found:
        best = min(found, key=lambda s: s.days)
        limit, refs, cited = best.days, tuple(best.refs), True
        basis = f"the cited beyond-use date: {best.days} days, {best.storage}"
    else:
        rule = kb.protocols.dose_rules.fill_days_without_bud[form.value]
        limit, refs, cited = int(rule.value), tuple(rule.refs), False
        basis = rule.basis.strip().rstrip(".")
    count = -(-regimen.days // limit)  # ceil
    base, extra = divmod(regimen.days, count)
    fills: list[Fill] = []
    day = 1
    for i in range(count):
        length = base + (1 if i < extra else 0)
        last = day + length - 1
        by_strength: dict[Decimal, int] = {}
        quantity = Decimal(0)
        for step in regimen.steps:
            overlap = min(last, step.end_day) - max(day, step.start_day) + 1
            if overlap > 0:
                by_strength[step.dose_mg] = by_strength.get(step.dose_mg, 0) + overlap
                quantity += per_day[step.dose_mg] * overlap
        fills.append(
            Fill(
                number=i + 1,
                start_day=day,
                days=length,
                quantity=quantity.normalize() if quantity else quantity,
                capsules=tuple(by_strength.items()) if form is Form.CAPSULE else (),
            )
        )
        day = last + 1
    return FillPlan(fills=tuple(fills), limit_days=limit, basis=basis, refs=refs, cited_bud=cited)


def _statement_refs(kb: KnowledgeBase, section_id: str) -> list[str]:
    for section in kb.protocols.compounding.statements:
        if section.id == section_id:
            return [r for st in section.statements for r in st.refs]
    return []


def compound(
    regimen: Regimen,
    form: Form | str,
    *,
    salt: SaltBasis | str = SaltBasis.HCL,
    filler: str = AVICEL,
    concentration: str | Decimal | None = None,
    syringe_graduation_ml: str | Decimal | None = None,
    storage: Storage | str | None = None,
    kb: KnowledgeBase | None = None,
) -> CompoundingPlan:
    """How much to compound for the whole regimen, in fills within the beyond-use date, and
    how to label and store it. A liquid is stored refrigerated unless `storage` says otherwise
    (the cited stability, and so the fill length, depends on it)."""
    if kb is None:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
    try:
        form = Form(str(form).strip().lower())
    except ValueError:
        raise InputError(f"form must be 'capsule' or 'liquid' (got '{form}')") from None
    try:
        salt = SaltBasis(str(salt).strip().lower())
    except ValueError:
        raise InputError(f"salt basis must be 'hcl' or 'base' (got '{salt}')") from None

    refs = _statement_refs(kb, "source-product") + list(kb.protocols.compounding.molar_mass_refs)
    total = regimen.total_mg
    salt_text = _salt_statement(salt, kb)
    if form is Form.CAPSULE:
        if storage is not None:
            raise InputError("storage applies only to liquids (capsules: room temperature)")
        return _capsules(regimen, salt, filler, kb, refs, total, salt_text)
    try:
        chosen = Storage(str(storage or Storage.REFRIGERATED).strip().lower())
    except ValueError:
        raise InputError(
            f"storage must be 'refrigerated' or 'room-temperature' (got '{storage}')"
        ) from None
    return _liquid(
        regimen, salt, concentration, syringe_graduation_ml, chosen, kb, refs, total, salt_text
    )


def _capsules(
    regimen: Regimen,
    salt: SaltBasis,
    filler: str,
    kb: KnowledgeBase,
    refs: list[str],
    total: Decimal,
    salt_text: str,
) -> CompoundingPlan:
    counts: dict[Decimal, int] = {}
    for step in regimen.steps:  # one capsule per daily dose
        counts[step.dose_mg] = counts.get(step.dose_mg, 0) + step.days
    lines = tuple(
        CapsuleLine(strength_mg=mg, count=n, figures=salt_figures(mg, salt, kb))
        for mg, n in counts.items()
    )
    filler = filler.strip() or AVICEL
    found = _stability(Form.CAPSULE, kb, filler, None, None)
    fills = _fill_plan(regimen, Form.CAPSULE, found, kb, {mg: Decimal(1) for mg in counts})
    stability, stab_refs = _stability_notes(Form.CAPSULE, found, fills, filler, None)
    filler_refs = _statement_refs(kb, "fillers")
    refs += filler_refs + stab_refs + list(fills.refs)
    listing = "; ".join(
        f"{fmt_mg(c.strength_mg)} mg × {c.count} ({c.figures.text()})" for c in lines
    )
    instructions = [
        f"Compound {salt.short} immediate-release capsules, one capsule per dose: {listing}. "
        f"Total {sum(c.count for c in lines)} capsules for {regimen.days} days.",
        f"Filler: {filler}. No calcium carbonate filler; no slow-release formulation.",
    ]
    if len(lines) > 1:
        instructions.append(
            "Dispense each strength in its own container, labelled with its strength and the "
            "days it is for."
        )
    if len(fills.fills) > 1:
        listing = "; ".join(
            f"fill {f.number}: {_capsule_listing(f)} for days {f.start_day}-{f.end_day}"
            for f in fills.fills
        )
        instructions.append(f"Prepare each fill separately: {listing}.")
    return CompoundingPlan(
        form=Form.CAPSULE,
        salt=salt,
        days=regimen.days,
        instructions=tuple(instructions),
        stability=tuple(stability),
        assumptions=(),
        refs=tuple(dict.fromkeys(refs)),
        salt_statement=salt_text,
        total_drug_mg=total,
        capsules=lines,
        filler=filler,
        instruction_refs=tuple(dict.fromkeys(filler_refs)),
        fill_plan=fills,
    )


def _liquid(
    regimen: Regimen,
    salt: SaltBasis,
    concentration: str | Decimal | None,
    graduation: str | Decimal | None,
    storage: Storage,
    kb: KnowledgeBase,
    refs: list[str],
    total: Decimal,
    salt_text: str,
) -> CompoundingPlan:
    assumptions: list[str] = []
    concentration_refs: tuple[str, ...] = ()
    if concentration is None:
        conc = DEFAULT_CONCENTRATION
        assumptions.append(
            f"{CONCENTRATION_ASSUMPTION}: {fmt_mg(conc)} mg/mL is used (the strength described "
            "for liquids made from 50-mg tablets)."
        )
        concentration_refs = tuple(
            r
            for f in kb.protocols.compounding.stability
            if f.concentration_mg_per_ml is not None
            and Decimal(str(f.concentration_mg_per_ml)) == conc
            for r in f.refs
        )
    elif isinstance(concentration, Decimal):
        conc = concentration
    else:
        conc = parse_concentration(concentration)
    if conc <= 0:
        raise DoseError("the liquid concentration must be above zero")
    _check_concentration(conc, concentration, regimen, kb)
    if graduation is None:
        grad = DEFAULT_GRADUATION
    else:
        grad = graduation if isinstance(graduation, Decimal) else _parse_ml(graduation)
    largest = max(s.dose_mg for s in regimen.steps) / conc
    assumptions.append(
        f"Assumed: an oral syringe marked every {fmt_mg(grad)} mL that holds at least "
        f"{fmt_mg(largest.quantize(grad, ROUND_HALF_UP))} mL (an assumption about the device, "
        "not a sourced fact: check the syringe dispensed)."
    )
    lines: list[LiquidLine] = []
    for i, step in enumerate(regimen.steps, start=1):
        exact = step.dose_mg / conc
        volume = (exact / grad).quantize(Decimal(1), ROUND_HALF_UP) * grad
        delivered = volume * conc
        if volume <= 0 or abs(delivered - step.dose_mg) > MAX_DOSE_DEVIATION * step.dose_mg:
            raise DoseError(
                f"{fmt_mg(step.dose_mg)} mg cannot be measured at {fmt_mg(conc)} mg/mL with a "
                f"syringe marked every {fmt_mg(grad)} mL (nearest mark: {fmt_mg(volume)} mL = "
                f"{fmt_mg(delivered)} mg); choose another concentration"
            )
        if delivered != step.dose_mg:
            assumptions.append(
                f"Step {i}: {fmt_mg(step.dose_mg)} mg is measured as {fmt_mg(volume)} mL, which "
                f"delivers {fmt_mg(delivered)} mg."
            )
        lines.append(
            LiquidLine(
                step=i,
                dose_mg=step.dose_mg,
                volume_ml=volume.normalize(),
                delivered_mg=delivered.normalize(),
                days=step.days,
            )
        )
    total_ml = sum((line.total_ml for line in lines), Decimal(0))
    found = _stability(Form.LIQUID, kb, None, conc, storage)
    per_day = {line.dose_mg: line.volume_ml for line in lines}
    fills = _fill_plan(regimen, Form.LIQUID, found, kb, per_day)
    stability, stab_refs = _stability_notes(Form.LIQUID, found, fills, None, conc)
    liquid_refs = _statement_refs(kb, "liquid-form")
    vehicle_source = next((f for f in found if f.vehicle), None)
    vehicle_refs = list(vehicle_source.vehicle_refs) if vehicle_source else []
    refs += liquid_refs + stab_refs + list(fills.refs) + vehicle_refs
    per_step = "; ".join(
        f"{fmt_mg(line.dose_mg)} mg = {fmt_mg(line.volume_ml)} mL daily × {line.days} days"
        for line in lines
    )
    figures = salt_figures(conc, salt, kb)
    instructions = [
        f"Compound {salt.short} oral liquid {fmt_mg(conc)} mg/mL "
        f"({figures.text()} per mL). Total volume {fmt_mg(total_ml)} mL for "
        f"{regimen.days} days ({per_step}).",
    ]
    if vehicle_source is not None and vehicle_source.vehicle:
        container = (
            f" Dispense in an {vehicle_source.container}." if vehicle_source.container else ""
        )
        instructions.append(
            f"Vehicle (the formula of the cited stability study): "
            f"{' '.join(vehicle_source.vehicle.split())}.{container} "
            f"Store {vehicle_source.storage}."
        )
    else:
        instructions.append(
            f"No cited stability study covers a {fmt_mg(conc)} mg/mL liquid, so no vehicle is "
            "cited: the pharmacy chooses the vehicle and the beyond-use date."
        )
    if len(fills.fills) > 1:
        listing = "; ".join(
            f"fill {f.number}: {fmt_mg(f.quantity)} mL for days {f.start_day}-{f.end_day}"
            for f in fills.fills
        )
        instructions.append(f"Prepare each fill fresh: {listing}.")
    instructions.append(f"Dispense with an oral syringe marked every {fmt_mg(grad)} mL.")
    return CompoundingPlan(
        form=Form.LIQUID,
        salt=salt,
        days=regimen.days,
        instructions=tuple(instructions),
        stability=tuple(stability),
        assumptions=tuple(assumptions),
        refs=tuple(dict.fromkeys(refs)),
        salt_statement=salt_text,
        total_drug_mg=total,
        liquid=tuple(lines),
        concentration_mg_per_ml=conc,
        syringe_graduation_ml=grad,
        concentration_refs=tuple(dict.fromkeys(concentration_refs)),
        instruction_refs=tuple(dict.fromkeys(liquid_refs + vehicle_refs)),
        fill_plan=fills,
        storage=storage,
        vehicle=" ".join(vehicle_source.vehicle.split())
        if vehicle_source and vehicle_source.vehicle
        else None,
        vehicle_refs=tuple(vehicle_refs),
        container=vehicle_source.container if vehicle_source else None,
    )


def _check_concentration(
    conc: Decimal, written: str | Decimal | None, regimen: Regimen, kb: KnowledgeBase
) -> None:
    """Sanity bounds on the concentration and on the volume of one dose (data: dose_rules)."""
    rules = kb.protocols.dose_rules
    low = Decimal(str(rules.concentration_low_mg_per_ml.value))
    high = Decimal(str(rules.concentration_high_mg_per_ml.value))
    shown = f"{fmt_mg(conc)} mg/mL" + (
        f" ('{written}')" if isinstance(written, str) and written.strip() else ""
    )
    largest = max(s.dose_mg for s in regimen.steps)
    volume = (largest / conc).quantize(Decimal("0.01"), ROUND_HALF_UP)
    if conc < low:
        raise DoseError(
            f"concentration {shown} is below the lowest this program accepts "
            f"({fmt_mg(low)} mg/mL: {_basis(rules.concentration_low_mg_per_ml.basis)}): "
            f"a {fmt_mg(largest)} mg dose would be {fmt_mg(volume)} mL and the supply "
            f"{fmt_mg((regimen.total_mg / conc).quantize(Decimal('0.1'), ROUND_HALF_UP))} mL. "
            "Was mg/mL meant?"
        )
    if conc > high:
        raise DoseError(
            f"concentration {shown} is above the highest this program accepts "
            f"({fmt_mg(high)} mg/mL: {_basis(rules.concentration_high_mg_per_ml.basis)})"
        )
    max_ml = Decimal(str(rules.max_dose_volume_ml.value))
    if volume > max_ml:
        raise DoseError(
            f"a {fmt_mg(largest)} mg dose at {fmt_mg(conc)} mg/mL is {fmt_mg(volume)} mL, more "
            f"than {fmt_mg(max_ml)} mL ({_basis(rules.max_dose_volume_ml.basis)}); choose a "
            "stronger liquid"
        )


def _basis(text: str) -> str:
    """A data file's basis text inside a sentence: one line, no closing full stop."""
    return " ".join(text.split()).rstrip(".")


def _capsule_listing(fill: Fill) -> str:
    return ", ".join(f"{fmt_mg(mg)} mg × {n}" for mg, n in fill.capsules)


def _parse_ml(text: str) -> Decimal:
    from ldn_derm.regimen.dose import parse_quantity

    magnitude, kind = parse_quantity(text)
    if kind != "volume" or magnitude <= 0:
        raise InputError(f"syringe graduation '{text}' must be a volume such as '0.1 mL'")
    return Decimal(f"{magnitude:.10g}").normalize()

"""`ldn prescribe` and `ldn handout`: a decision turned into a prescription package on disk.

Everything is built and checked in memory first; the files are then written to a temporary
folder next to --out and moved into place, so bad input never leaves a half-written folder.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ldn_derm.cli.app import app, console
from ldn_derm.cli.common import FORMAT_OPTION, OutputFormat, emit_json
from ldn_derm.errors import InputError, PatientDataError

if TYPE_CHECKING:
    from ldn_derm.regimen import PatientContext, Prescription


# Option choices mirror ldn_derm.regimen's Form, DoseTime and SaltBasis (same values), kept
# here so that `ldn --help` does not import the knowledge base (about 250 ms).
class FormChoice(StrEnum):
    capsule = "capsule"
    liquid = "liquid"


class TimeChoice(StrEnum):
    bedtime = "bedtime"
    morning = "morning"


class PaperChoice(StrEnum):
    a4 = "a4"
    letter = "letter"


class SaltChoice(StrEnum):
    hcl = "hcl"
    base = "base"


class StorageChoice(StrEnum):
    refrigerated = "refrigerated"
    room_temperature = "room-temperature"


def _mg(value: str | None) -> str | None:
    """Options named --*-mg take bare numbers as mg; text with a unit is passed through."""
    if value is None:
        return None
    text = value.strip()
    return f"{text} mg" if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", text) else text


def _start_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InputError(f"start date '{value}' is not a date (use YYYY-MM-DD)") from None
    from ldn_derm.regimen.schedule import check_start_date

    check_start_date(day)  # before the patient is read at this date
    return day


def _out_folder(text: str) -> Path:
    """The --out folder; an empty value (an unset shell variable, say) is refused, not '.'."""
    if not text.strip():
        raise InputError("--out is empty: name the folder to write the package into")
    out = Path(text)
    _check_out(out)
    return out


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a folder")


def _patient(path: Path | None, start: date | None) -> PatientContext | None:
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PatientDataError(f"patient file {path} does not exist") from None
    except OSError as exc:
        raise PatientDataError(f"patient file {path} cannot be read ({exc.strerror})") from None
    from ldn_derm.regimen.assessment import patient_context, screening_day

    return patient_context(data, as_of=screening_day(start, date.today()), name=path.name)


def _build(
    *,
    condition: str,
    target_mg: str | None,
    start_mg: str | None,
    step_mg: str | None,
    interval_days: int | None,
    preset: str | None,
    time: TimeChoice | None,
    form: FormChoice,
    days: int,
    salt: SaltChoice,
    concentration: str | None,
    syringe_ml: str | None,
    filler: str | None,
    start_date: str | None,
    patient: Path | None,
    allow_standard_dose: bool,
    override_reason: str | None,
    overrides: list[str] | None = None,
    storage: StorageChoice | None = None,
) -> Prescription:
    from ldn_derm.knowledge import get_knowledge
    from ldn_derm.regimen.overrides import parse_override
    from ldn_derm.regimen.pipeline import PrescriptionRequest, prescribe

    start = _start_date(start_date)
    if form is FormChoice.capsule and (concentration or syringe_ml or storage):
        raise InputError("--concentration, --syringe-ml and --storage apply only to --form liquid")
    parsed = [parse_override(text, get_knowledge()) for text in overrides or ()]
    ctx = _patient(patient, start)
    request = PrescriptionRequest(
        condition=condition,
        target_mg=_mg(target_mg),
        start_mg=_mg(start_mg),
        step_mg=_mg(step_mg),
        interval_days=interval_days,
        days=days,
        time=time.value if time else None,
        preset=preset,
        form=form.value,
        salt=salt.value,
        concentration=concentration,
        syringe_graduation_ml=f"{syringe_ml} mL"
        if syringe_ml and _is_number(syringe_ml)
        else syringe_ml,
        filler=filler,
        storage=storage.value if storage else None,
        start_date=start,
        allow_standard_dose=allow_standard_dose,
        override_reason=override_reason,
        overrides=parsed,
    )
    return prescribe(request, ctx)


def _is_number(text: str) -> bool:
    return re.fullmatch(r"\d+\.?\d*|\.\d+", text.strip()) is not None


def write_atomically(out: Path, files: dict[str, bytes]) -> None:
    """Write `files` into a temporary folder beside `out`, then move them into `out`."""
    _check_out(out)
    try:
        _write_atomically(out, files)
    except OSError as exc:
        raise InputError(
            f"cannot write the package to --out {out} ({exc.strerror or type(exc).__name__})"
        ) from None


def _write_atomically(out: Path, files: dict[str, bytes]) -> None:
    # An existing folder gets its temporary folder inside it (same file system, so the
    # moves are renames); a new one gets it beside it.
    parent = out.resolve() if out.is_dir() else out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name or 'out'}.", suffix=".tmp", dir=parent))
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the package is an ordinary folder
        for name, content in files.items():
            (tmp / name).write_bytes(content)
        if not out.exists():
            os.rename(tmp, out)  # atomic: the folder appears complete or not at all
            return
        # existing folder: replace each file atomically, once it is certain that every one can
        # be (a folder where a file goes would stop the renames halfway: a mixed package)
        blocked = [name for name in files if (out / name).is_dir()]
        if blocked:
            raise InputError(
                f"--out {out}: {', '.join(blocked)} is a folder, not a file; nothing was changed"
            )
        for name in files:
            os.replace(tmp / name, out / name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _render(rx: Prescription, paper: PaperChoice, *, full: bool) -> dict[str, bytes]:
    import orjson

    from ldn_derm.knowledge import get_knowledge
    from ldn_derm.reports.handout import render_handout_html, render_handout_pdf

    kb = get_knowledge()
    html = render_handout_html(rx, paper=paper.value, kb=kb)
    files: dict[str, bytes] = {}
    if full:
        opts = orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE
        files["prescription.txt"] = rx.text.encode()
        files["medication-request.json"] = orjson.dumps(rx.medication_request, option=opts)
        files["schedule.json"] = orjson.dumps(rx.schedule, option=opts)
        files["monitoring.md"] = rx.monitoring.markdown(kb).encode()
    files["handout.html"] = html.encode()
    files["handout.pdf"] = render_handout_pdf(rx, paper=paper.value, kb=kb, html=html)
    return files


def _report(rx: Prescription, out: Path, files: dict[str, bytes], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json:
        data: dict[str, Any] = {
            "summary": rx.summary(),
            "dose_basis": rx.compounding.salt.value,
            "out": str(out),
            "files": sorted(files),
            "warnings": list(rx.warnings),
            "evidence": {"level": rx.evidence.level.value, "text": rx.evidence.text}
            if rx.evidence
            else None,
            "overrides": [{"option": o.option.value, "reason": o.reason} for o in rx.overrides],
            "fills": len(rx.compounding.fills),
            "assumptions": [*rx.regimen.assumptions, *rx.compounding.assumptions],
            "schedule": rx.schedule,
        }
        emit_json(data)
        return
    console.print(rx.summary(), highlight=False, markup=False, soft_wrap=True)
    other = "base" if rx.compounding.salt.value == "hcl" else "hcl"
    console.print(
        f"  dose basis: mg of {rx.compounding.salt.label} (--salt {other} to change)",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    for line in (*rx.regimen.assumptions, *rx.compounding.assumptions):
        console.print(f"  assumption: {line}", highlight=False, markup=False, soft_wrap=True)
    for line in rx.warnings:
        console.print(f"  note: {line}", highlight=False, markup=False, soft_wrap=True)
    if rx.evidence:
        console.print(
            f"  evidence ({rx.evidence.level.value}): {rx.evidence.text}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    for o in rx.overrides:
        console.print(
            f"  override '{o.option.value}': {o.reason}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
    console.print(
        f"wrote {', '.join(sorted(files))} to {out}", highlight=False, markup=False, soft_wrap=True
    )


CONDITION = typer.Option(..., "--condition", "-c", help="Condition (id, name or code).")
TARGET = typer.Option(None, "--target-mg", help="Target daily dose, mg (e.g. 4.5).")
START = typer.Option(None, "--start-mg", help="Starting daily dose, mg (default: the target).")
STEP = typer.Option(None, "--step-mg", help="Increase per titration step, mg.")
INTERVAL = typer.Option(None, "--interval-days", help="Days between titration steps.")
PRESET = typer.Option(None, "--preset", help="Published protocol id (see docs/prescribing.md).")
TIME = typer.Option(None, "--time", help="Time of day (default bedtime).")
FORM = typer.Option(..., "--form", help="Compounded form.")
DAYS = typer.Option(90, "--days", help="Days of supply.")
SALT = typer.Option(SaltChoice.hcl, "--salt", help="What the mg figures weigh: HCl salt or base.")
CONC = typer.Option(None, "--concentration", help="Liquid strength (default '1 mg/mL').")
SYRINGE = typer.Option(None, "--syringe-ml", help="Oral syringe graduation, mL (default 0.1).")
FILLER = typer.Option(None, "--filler", help="Capsule filler (default Avicel).")
START_DATE = typer.Option(None, "--start-date", help="First day, YYYY-MM-DD (default today).")
PATIENT = typer.Option(None, "--patient", help="FHIR R4 bundle (JSON) to assess first.")
ALLOW_STD = typer.Option(
    False, "--allow-standard-dose", help="Accept the standard dose (50-100 mg) only."
)
OVERRIDE = typer.Option(
    None,
    "--override-reason",
    help="Prescribe despite a contraindication (same as --override 'contraindication: TEXT').",
)
OVERRIDES = typer.Option(
    None,
    "--override",
    help="'OPTION: reason' (repeatable). Options: contraindication, opioid-free-interval, "
    "above-low-dose, evidence. The reason must say why in a few words.",
)
STORAGE = typer.Option(
    None, "--storage", help="Liquid storage (default refrigerated): sets the fill length."
)
PAPER = typer.Option(PaperChoice.a4, "--paper", help="Handout page size.")
OUT = typer.Option(..., "--out", help="Folder to write the package into.", metavar="<path>")


def _command(full: bool) -> Callable[..., None]:
    def command(
        condition: str = CONDITION,
        target_mg: str | None = TARGET,
        start_mg: str | None = START,
        step_mg: str | None = STEP,
        interval_days: int | None = INTERVAL,
        preset: str | None = PRESET,
        time: TimeChoice | None = TIME,
        form: FormChoice = FORM,
        days: int = DAYS,
        salt: SaltChoice = SALT,
        concentration: str | None = CONC,
        syringe_ml: str | None = SYRINGE,
        filler: str | None = FILLER,
        start_date: str | None = START_DATE,
        patient: Path | None = PATIENT,
        allow_standard_dose: bool = ALLOW_STD,
        override_reason: str | None = OVERRIDE,
        override: list[str] | None = OVERRIDES,
        storage: StorageChoice | None = STORAGE,
        paper: PaperChoice = PAPER,
        out_text: str = OUT,  # text, not Path: Path("") would silently mean "."
        fmt: OutputFormat = FORMAT_OPTION,
    ) -> None:
        out = _out_folder(out_text)
        rx = _build(
            condition=condition,
            target_mg=target_mg,
            start_mg=start_mg,
            step_mg=step_mg,
            interval_days=interval_days,
            preset=preset,
            time=time,
            form=form,
            days=days,
            salt=salt,
            concentration=concentration,
            syringe_ml=syringe_ml,
            filler=filler,
            start_date=start_date,
            patient=patient,
            allow_standard_dose=allow_standard_dose,
            override_reason=override_reason,
            overrides=override,
            storage=storage,
        )
        files = _render(rx, paper, full=full)
        write_atomically(out, files)
        _report(rx, out, files, fmt)

    return command


app.command(
    "prescribe",
    help="Build a complete LDN prescription package (prescription text, FHIR "
    "MedicationRequest, schedule, monitoring plan, patient handout) into --out.",
)(_command(full=True))
app.command("handout", help="Write only the patient handout (HTML and PDF) into --out.")(
    _command(full=False)
)

"""Occupancy-over-time figure for a slide: doses compared, bands, nights, measured data.

matplotlib is imported inside `plot_occupancy` (Agg backend), so importing this module is
cheap and the CLI stays fast when no figure is asked for.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ldn_derm.errors import InputError

if TYPE_CHECKING:
    from ldn_derm.knowledge import KnowledgeBase
    from ldn_derm.pkpd import SimulationResult

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#E69F00", "#000000")
NIGHT = (22, 6)  # shaded from 22:00 to 06:00


# figure size, panel ratios (plot : legend and note), font sizes (pt) and wrapping per layout
LAYOUTS: dict[str, dict[str, Any]] = {
    "wide": {
        "figsize": (11, 8.2), "ratios": (4.6, 1.0), "title": 13, "label": 10, "tick": 9,
        "legend": 9, "small": 8, "ncol": 3, "wrap_title": 90, "wrap_note": 170,
    },
    "compact": {
        "figsize": (4.8, 9.0), "ratios": (2.3, 1.7), "title": 11, "label": 10, "tick": 9.5,
        "legend": 9, "small": 8.5, "ncol": 1, "wrap_title": 40, "wrap_note": 62,
    },
}  # fmt: skip


def _nights(result: SimulationResult, horizon: float) -> list[tuple[float, float]]:
    clock = result.schedule.clock
    if clock is None:
        return []
    start_of_day = -(clock.hour + clock.minute / 60.0)  # t of the midnight before the first dose
    spans = []
    day = start_of_day - 24.0
    while day < horizon:
        a, b = day + NIGHT[0], day + 24.0 + NIGHT[1]
        if b > 0 and a < horizon:
            spans.append((max(a, 0.0), min(b, horizon)))
        day += 24.0
    return spans


def _measured_overlay(
    ax: Any,
    kb: KnowledgeBase,
    colours: dict[float, str],
    horizon: float,
    show_half_time: bool,
    fontsize: float = 8,
) -> None:
    points = [p for p in kb.pkpd.calibration if p.kind == "occupancy" and p.window_h]
    first = True
    for p in points:
        lo, hi = p.window_h or (0.0, 0.0)
        if lo > horizon:
            continue
        colour = colours.get(p.dose_mg, "#444444")
        mid = (lo + min(hi, horizon)) / 2.0
        ax.errorbar(
            mid,
            p.value,
            xerr=[[mid - lo], [min(hi, horizon) - mid]],
            fmt="D",
            color=colour,
            markeredgecolor="black",
            markersize=6,
            elinewidth=1.0,
            capsize=3,
            zorder=5,
            label="PET, single dose, scan within 8 h (Rabiner 2011)" if first else None,
        )
        first = False
    labelled: set[float] = set()
    for p in points:
        if p.dose_mg in labelled or (p.window_h or (0.0, 0.0))[0] > horizon:
            continue
        labelled.add(p.dose_mg)
        top = max(q.value or 0.0 for q in points if q.dose_mg == p.dose_mg)
        ax.annotate(
            f"{p.dose_mg:g} mg",
            xy=(8.4, top),
            fontsize=fontsize,
            color="#333333",
            va="center",
            zorder=6,
        )
    half = next((p for p in kb.pkpd.calibration if p.kind == "blockade-half-time"), None)
    if show_half_time and half is not None and half.low is not None and half.low < horizon:
        hi = min(half.high or horizon, horizon)
        ax.plot([half.low, hi], [0.475, 0.475], color="#333333", lw=2.5, solid_capstyle="butt")
        for end in (half.low, hi):
            ax.plot([end, end], [0.445, 0.505], color="#333333", lw=1.5)
        ax.annotate(
            f"{half.dose_mg:g} mg: blockade halves\nat {half.low:g}–{half.high:g} h (Lee 1988)",
            xy=(half.low, 0.52),
            fontsize=fontsize,
            ha="right" if half.low > horizon * 0.7 else "left",
            color="#333333",
        )


def plot_occupancy(
    results: Sequence[SimulationResult],
    path: Path,
    *,
    kb: KnowledgeBase | None = None,
    title: str | None = None,
    layout: str = "wide",
) -> Path:
    """Draw median occupancy with 5th-95th percentile bands for each result; write png/svg.

    `layout` "wide" (11 x 8.2 in) suits a page or a screen; "compact" (4.8 x 9 in) suits a
    phone, where it is shown about 360 px wide: its text is then at least about 9 px high.
    The legend and the footnote sit below the axes, so they never cover a curve.
    """
    if layout not in LAYOUTS:
        raise InputError(f"plot layout '{layout}' is not one of: {', '.join(LAYOUTS)}")
    look = LAYOUTS[layout]
    if not results:
        raise InputError("nothing to plot")
    suffix = path.suffix.lower()
    if suffix not in {".png", ".svg"}:
        raise InputError(f"the figure file '{path.name}' must end in .png or .svg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MultipleLocator, PercentFormatter

    if kb is None:
        from ldn_derm.knowledge import get_knowledge

        kb = get_knowledge()
    horizon = float(max(r.times_h[-1] for r in results))
    fig, (ax, below) = plt.subplots(
        2,
        1,
        figsize=look["figsize"],
        dpi=150,
        gridspec_kw={"height_ratios": look["ratios"]},
    )
    below.axis("off")
    for a, b in _nights(results[0], horizon):
        ax.axvspan(a, b, color="#1f2a44", alpha=0.08, lw=0)
    if _nights(results[0], horizon):
        ax.fill_between([], [], color="#1f2a44", alpha=0.15, label="night (22:00–06:00)")

    colours: dict[float, str] = {}
    ordered = sorted(results, key=lambda r: r.schedule.doses_mg[0])
    for i, r in enumerate(ordered):
        colour = PALETTE[i % len(PALETTE)]
        dose = r.schedule.doses_mg[0]
        colours[dose] = colour
        label = f"{dose:g} mg" if len(set(r.schedule.doses_mg)) == 1 else r.schedule.description
        ax.fill_between(r.times_h, r.default.p5, r.default.p95, color=colour, alpha=0.10, lw=0)
        for edge in (r.default.p5, r.default.p95):
            ax.plot(r.times_h, edge, color=colour, lw=0.6, alpha=0.55)
        ax.plot(r.times_h, r.default.median, color=colour, lw=2.4, label=f"{label}, default model")
        ax.plot(r.times_h, r.plasma.median, color=colour, lw=1.4, ls=(0, (4, 3)), alpha=0.9)
    ax.plot([], [], color="#555555", lw=1.4, ls=(0, (4, 3)), label="plasma-driven bound (median)")
    ax.fill_between([], [], color="#555555", alpha=0.16, label="5th–95th percentile, default model")
    ax.axhline(0.5, color="#888888", lw=0.8, ls=":", zorder=1)

    schedule = results[0].schedule
    if len(schedule.times_h) > 1 or schedule.missed_times_h:
        doses = schedule.times_h
        ax.plot(doses, [0.015] * len(doses), "^", color="#333333", ms=6, label="doses")
    if schedule.missed_times_h:
        missed = schedule.missed_times_h
        ax.plot(
            missed, [0.015] * len(missed), "x", color="#B00020", ms=8, mew=2, label="missed dose"
        )
    single_50 = any(r.schedule.doses_mg == (50.0,) for r in results)
    _measured_overlay(ax, kb, colours, horizon, show_half_time=single_50, fontsize=look["small"])

    ax.set_xlim(0, horizon)
    ax.set_ylim(0, 1.0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_locator(MultipleLocator(12 if horizon <= 96 else 24))
    ax.set_xlabel("hours after the first dose", fontsize=look["label"])
    ax.set_ylabel("µ-opioid receptor occupancy", fontsize=look["label"])
    ax.tick_params(labelsize=look["tick"])
    ax.grid(True, color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    clock = results[0].schedule.clock
    if clock is not None:
        top = ax.secondary_xaxis("top")
        top.set_xticks(ax.get_xticks())
        top.set_xticklabels(
            [results[0].schedule.clock_at(float(t)) or "" for t in ax.get_xticks()],
            fontsize=look["tick"],
        )
        top.set_xlabel(f"clock time (first dose {clock.strftime('%H:%M')})", fontsize=look["label"])
    default_title = "Oral naltrexone: predicted µ-opioid receptor occupancy"
    ax.set_title(
        textwrap.fill(title or default_title, look["wrap_title"]),
        loc="left",
        fontsize=look["title"],
        fontweight="bold",
        pad=28 if clock is not None else 12,
    )
    n = results[0].subjects
    note = (
        f"Lines and bands are model predictions ({n:,} virtual subjects); diamonds are "
        "measurements. No occupancy has been measured below 2 mg or after repeated low doses. "
        "Solid: default model (slow brain retention, calibrated to the 50 mg tail). Dashed: "
        "plasma-driven model, the short-duration bound. Doses: mg naltrexone HCl by mouth."
    )
    handles, labels = ax.get_legend_handles_labels()
    below.legend(
        handles,
        labels,
        loc="upper left",
        fontsize=look["legend"],
        ncol=look["ncol"],
        frameon=False,
        borderaxespad=0.0,
    )
    below.text(
        0.0,
        0.0,
        textwrap.fill(note, look["wrap_note"]),
        fontsize=look["small"],
        color="#444444",
        va="bottom",
        transform=below.transAxes,
    )
    fig.tight_layout()
    _save(fig, path, suffix.lstrip("."))
    plt.close(fig)
    return path


def _save(fig: Any, path: Path, fmt: str) -> None:
    """Write via a temporary file beside `path`, so a failure leaves no half-written figure."""
    import os
    import tempfile

    tmp: str | None = None
    try:
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(handle, "wb") as stream:
            fig.savefig(stream, format=fmt)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise InputError(
            f"cannot write the figure to {path} ({exc.strerror or type(exc).__name__})"
        ) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)

"""PNG plots: one course's outcome trajectories with dose changes marked; the cohort's response
rates with Wilson intervals.

matplotlib is imported inside the functions, through `Figure` (no pyplot): no global state, so
plots can be drawn from several server threads at once, and always with the Agg renderer.
Plots are titled with the pseudonym only, never a name.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import TYPE_CHECKING

from ldn_derm.registry.analytics.cohort import ResponseCell
from ldn_derm.registry.views import CourseView
from ldn_derm.registry.vocab import MEASURES, Measure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INK = "#1a1a1a"
DOSE = "#0b5394"
CHANGE = "#7f6000"
THRESHOLD = "#b45f06"
MORNING_MARK = "^"
BEDTIME_MARK = "o"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def measures_recorded(course: CourseView) -> list[Measure]:
    present = [m for m in Measure if any(v.value(m) is not None for v in course.visits)]
    present.sort(key=lambda m: m is not course.primary_measure)  # primary first
    return present


def dose_changes(course: CourseView) -> list[tuple[int, str]]:
    """(day since start, label) for each visit whose dose or time of day differs from the last."""
    out = []
    for prev, cur in zip(course.visits, course.visits[1:], strict=False):
        parts = []
        if cur.dose_mg != prev.dose_mg:
            parts.append(f"{cur.dose_mg:g} mg")
        if cur.dose_time != prev.dose_time:
            parts.append(cur.dose_time)
        if parts:
            out.append((cur.day, "→ " + ", ".join(parts)))
    return out


def trajectory_png(course: CourseView) -> bytes:
    """Dose (top) and each recorded outcome over days since the course started."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    measures = measures_recorded(course)
    rows = 1 + max(1, len(measures))
    fig = Figure(figsize=(7.5, 1.7 + 1.75 * rows), layout="constrained")
    axes: list[Axes] = list(fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0])
    days = [v.day for v in course.visits]
    # a researcher's course has no calendar dates: day 0 is the course start
    since = course.start_date.isoformat() if course.start_date else "day 0"
    fig.suptitle(
        f"{course.patient} · {course.condition_name} · LDN from {since}",
        fontsize=11,
        color=INK,
    )

    ax = axes[0]
    if course.visits:
        doses = [v.dose_mg for v in course.visits]
        ax.step(days, doses, where="post", color=DOSE, linewidth=1.8)
        for d, v in zip(days, course.visits, strict=True):
            mark = MORNING_MARK if v.dose_time == "morning" else BEDTIME_MARK
            ax.plot([d], [v.dose_mg], marker=mark, color=DOSE, markersize=7, linestyle="none")
        ax.set_ylim(0, max(doses) * 1.35 + 0.5)
    ax.set_ylabel("dose\nmg/day", color=INK)
    ax.legend(
        handles=[
            Line2D([], [], marker=BEDTIME_MARK, color=DOSE, linestyle="none", label="bedtime"),
            Line2D([], [], marker=MORNING_MARK, color=DOSE, linestyle="none", label="morning"),
        ],
        loc="lower right",
        fontsize=8,
        frameon=False,
        ncols=2,
    )
    changes = dose_changes(course)
    dose_at = {v.day: v.dose_mg for v in course.visits}
    for d, label in changes:
        ax.annotate(
            label,
            (d, dose_at.get(d, 0.0)),
            xytext=(4, 6),
            textcoords="offset points",
            fontsize=8,
            color=CHANGE,
        )

    if not measures:
        axes[1].text(
            0.5,
            0.5,
            "no outcome recorded yet",
            ha="center",
            va="center",
            transform=axes[1].transAxes,
            color=INK,
        )
        axes[1].set_yticks([])
    for ax, measure in zip(axes[1:], measures, strict=False):
        spec = MEASURES[measure]
        pts = [(d, v.value(measure)) for d, v in zip(days, course.visits, strict=True)]
        xs = [d for d, val in pts if val is not None]
        ys = [float(val) for d, val in pts if val is not None]
        ax.plot(xs, ys, marker="o", color=INK, linewidth=1.6)
        top = min(spec.high, max(ys) * 1.25 + 1) if ys else spec.high
        ax.set_ylim(0, top)
        label = spec.short + (" (primary)" if measure is course.primary_measure else "")
        ax.set_ylabel(label, color=INK)
        rule = spec.response
        if measure is course.primary_measure and ys and ys[0] >= rule.min_baseline:
            level = (
                ys[0] * (1 - rule.min_relative_drop) if rule.min_relative_drop else rule.max_value
            )
            if level is not None:
                ax.axhline(level, color=THRESHOLD, linestyle="--", linewidth=1)
                ax.annotate(
                    "response threshold (registry definition)",
                    (0, level),
                    xytext=(2, 3),
                    textcoords="offset points",
                    fontsize=7,
                    color=THRESHOLD,
                )
    for ax in axes:
        for d, _ in changes:
            ax.axvline(d, color=CHANGE, linestyle=":", linewidth=1)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        ax.tick_params(colors=INK)
    axes[-1].set_xlabel("days since the course started", color=INK)
    return _png(fig)


def response_png(cells: list[ResponseCell]) -> bytes:
    """Response rate (point) and Wilson 95% interval (bar) per condition and dose band."""
    from matplotlib.figure import Figure

    rows = [c for c in cells if c.rate.total > 0]
    bands_per_condition = Counter(c.condition_id for c in rows if c.band != "all doses")
    rows = [
        c for c in rows if c.band != "all doses" or bands_per_condition[c.condition_id] > 1
    ]  # an "all doses" row repeats the only band row of its condition
    fig = Figure(figsize=(8.5, 1.2 + 0.38 * max(1, len(rows))), layout="constrained")
    ax = fig.subplots()
    if not rows:
        ax.text(0.5, 0.5, "no evaluable courses yet", ha="center", va="center", color=INK)
        ax.set_axis_off()
        return _png(fig)
    labels = [f"{c.condition_name.split(' (')[0]} · {c.band}" for c in rows]
    ys = list(range(len(rows)))[::-1]
    for y, c in zip(ys, rows, strict=True):
        bold = c.band == "all doses"
        colour = INK if bold else DOSE
        ax.plot([100 * c.rate.low, 100 * c.rate.high], [y, y], color=colour, linewidth=2)
        ax.plot([100 * c.rate.estimate], [y], marker="D" if bold else "o", color=colour)
        ax.annotate(
            f"{c.rate.events}/{c.rate.total}",
            (100, y),
            xytext=(6, -3),
            textcoords="offset points",
            fontsize=8,
            color=INK,
            annotation_clip=False,
        )
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("responders, % (Wilson 95% interval; the registry's response definition)")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    return _png(fig)

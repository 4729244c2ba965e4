"""The occupancy figure: PNG and SVG, nights marked, measured data overlaid."""

from __future__ import annotations

from pathlib import Path

import pytest

from ldn_derm.errors import InputError
from ldn_derm.pkpd import DoseSchedule, SimulationResult, parse_clock, simulate
from ldn_derm.reports.occupancy_plot import _nights, plot_occupancy


@pytest.fixture(scope="module")
def results() -> list[SimulationResult]:
    base = DoseSchedule.single(4.5, parse_clock("22:00"))
    return [simulate(base.scaled_to(d), hours=72, subjects=100) for d in (1.5, 4.5, 50.0)]


def test_png_and_svg(results: list[SimulationResult], tmp_path: Path) -> None:
    png = plot_occupancy(results, tmp_path / "fig.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    with pytest.raises(InputError, match="No such file or directory"):  # no folder is created
        plot_occupancy(results, tmp_path / "sub" / "fig.svg")
    assert not (tmp_path / "sub").exists()
    svg = plot_occupancy(results, tmp_path / "fig.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "Rabiner 2011" in svg and "plasma-driven bound" in svg and "night" in svg


def test_nights_follow_the_clock(results: list[SimulationResult]) -> None:
    # first dose at 22:00: nights are 0-8 h, 24-32 h, 48-56 h
    assert _nights(results[0], 72.0) == [(0.0, 8.0), (24.0, 32.0), (48.0, 56.0)]
    no_clock = simulate(DoseSchedule.single(4.5), hours=24, subjects=10)
    assert _nights(no_clock, 24.0) == []


def test_bad_suffix(results: list[SimulationResult], tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.png or \.svg"):
        plot_occupancy(results, tmp_path / "fig.jpg")


def test_compact_layout_for_phones(results: list[SimulationResult], tmp_path: Path) -> None:
    """The phone layout is a portrait figure (shown about 360 px wide, its text stays about
    9 px or more); both layouts keep the legend off the axes."""
    import re

    compact = plot_occupancy(results, tmp_path / "c.svg", layout="compact").read_text()
    wide = plot_occupancy(results, tmp_path / "w.svg").read_text()

    def size(svg: str) -> tuple[float, float]:
        found = re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', svg)
        assert found is not None
        return float(found.group(1)), float(found.group(2))

    cw, ch = size(compact)
    ww, wh = size(wide)
    assert ch > cw and ww > wh
    assert cw <= 360  # 8.5 pt text at least 8.5 px high when shown 360 px wide
    with pytest.raises(InputError, match="layout"):
        plot_occupancy(results, tmp_path / "x.svg", layout="poster")

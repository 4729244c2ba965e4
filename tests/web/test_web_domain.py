"""Page view models built in ldn_derm.web.domain."""

from __future__ import annotations

from ldn_derm.web.api.schemas import SimulateIn
from ldn_derm.web.domain import simulation_view


def test_simulation_notes_say_what_was_measured_in_plain_words() -> None:
    view = simulation_view(SimulateIn(doses_mg=[1.5, 4.5], days=2, subjects=50))
    notes = view["notes"]
    # only the curve below the measured range is called an extrapolation
    assert any("the 1.5 mg curves are extrapolations" in n for n in notes)
    assert not any("4.5 mg curves" in n for n in notes)
    assert any("after repeated doses" in n for n in notes)
    # the JSON-only labels (percentiles, field names) stay out of the page
    assert not any("percentile" in n or "measured_data" in n for n in notes)


def test_a_single_dose_in_the_measured_range_has_no_extrapolation_note() -> None:
    notes = simulation_view(SimulateIn(doses_mg=[4.5], days=1, subjects=50))["notes"]
    assert notes == []  # one dose, in the measured range: the page's cited statement says it all

"""A titration step with an absurd number of doses is refused before it is built."""

from __future__ import annotations

import pytest

from ldn_derm.errors import SimulationError
from ldn_derm.pkpd.schedule import MAX_DOSES, DoseSchedule


@pytest.mark.timeout(10)
def test_huge_titration_step_is_refused_without_building_it() -> None:
    with pytest.raises(SimulationError, match="at most"):
        DoseSchedule.titration([(1.5, 7), (3.0, 10**12)])


def test_titration_at_the_limit_is_still_accepted() -> None:
    sched = DoseSchedule.titration([(1.5, MAX_DOSES - 1), (3.0, 1)], every_h=1.0)
    assert len(sched.times_h) == MAX_DOSES

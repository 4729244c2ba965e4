"""Start dates outside 1900-2200 are refused as input errors (no date-arithmetic overflow)."""

from __future__ import annotations

from datetime import date

import pytest

from ldn_derm.errors import InputError
from ldn_derm.regimen import build_regimen


@pytest.mark.parametrize("day", [date(9999, 12, 31), date(1, 1, 1), date(2201, 1, 1)])
def test_far_start_dates_are_refused(day: date) -> None:
    with pytest.raises(InputError, match="start date"):
        build_regimen(target_mg=4.5, days=365, start_date=day)


def test_edge_of_the_range_is_accepted() -> None:
    reg = build_regimen(target_mg=4.5, days=365, start_date=date(2200, 12, 31))
    assert reg.start_date == date(2200, 12, 31)

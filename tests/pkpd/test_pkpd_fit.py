"""The fit reproduces the shipped parameters; the script's YAML writer edits only value lines."""

from __future__ import annotations

import importlib.util
import math
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ldn_derm.knowledge import DATA_DIR, get_knowledge, load
from ldn_derm.pkpd.fit import FitResult, absorption_rate, apparent_volume, fit
from ldn_derm.pkpd.parameters import LN2, ParamId

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fitted() -> FitResult:
    return fit(get_knowledge().pkpd)


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fit_pkpd", REPO / "scripts" / "fit_pkpd.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fit_pkpd"] = module
    spec.loader.exec_module(module)
    return module


def test_fit_reproduces_every_shipped_fitted_value(fitted: FitResult) -> None:
    pk = get_knowledge().pkpd
    for ident, value in fitted.values.items():
        assert pk.value(ident.value) == pytest.approx(value, rel=1e-3), ident.value


def test_every_parameter_marked_fitted_is_written_by_the_fit(fitted: FitResult) -> None:
    marked = {p.id for p in get_knowledge().pkpd.parameters if p.fitted}
    written = {k.value for k in fitted.values} - {ParamId.NOL_PENETRATION.value}
    assert marked == written


def test_derived_absorption_puts_the_peak_at_tmax() -> None:
    ka = absorption_rate(1.0, 4.0)
    k = LN2 / 4.0
    assert math.log(ka / k) / (ka - k) == pytest.approx(1.0, rel=1e-9)


def test_apparent_volume_reproduces_the_peak_concentration() -> None:
    ka = absorption_rate(1.0, 4.0)
    volume = apparent_volume(13.3, ka, 4.0)
    k = LN2 / 4.0
    t = math.log(ka / k) / (ka - k)
    peak = 1000.0 * 50.0 / volume * ka / (ka - k) * (math.exp(-k * t) - math.exp(-ka * t))
    assert peak == pytest.approx(13.3, rel=1e-9)


def test_script_check_passes_on_the_shipped_file(
    script: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert script.main(["--check"]) == 0
    assert "matches" in capsys.readouterr().out


def test_script_writer_changes_only_the_fitted_values(
    script: ModuleType, fitted: FitResult, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    original = (data / "pkpd.yaml").read_text(encoding="utf-8")
    script.write_values(data / "pkpd.yaml", {ParamId.UPTAKE: 0.5, ParamId.K_NTX: 2.25})
    changed = (data / "pkpd.yaml").read_text(encoding="utf-8")
    diff = [
        (a, b) for a, b in zip(original.splitlines(), changed.splitlines(), strict=True) if a != b
    ]
    assert [b.strip() for _, b in diff] == ["value: 2.25", "value: 0.5"]
    pk = load(data).pkpd
    assert pk.value(ParamId.UPTAKE.value) == 0.5
    problems = script.differences(pk, fitted)
    assert any("retention-uptake-rate" in p for p in problems)

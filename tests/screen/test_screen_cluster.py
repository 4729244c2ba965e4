"""The cluster path: the same screen on a Dask LocalCluster of several worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from screen_exports import condition, encounter, med_request, patient, write_export

from ldn_derm.cli import run
from ldn_derm.screen import screen_export

AS_OF = date(2024, 8, 1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    population: list[dict[str, Any]] = []
    for i in range(40):
        pid = f"p{i:03d}"
        population.append(patient(pid, gender="female" if i % 2 else "male"))
        if i % 3 == 0:
            population.append(med_request(f"r{i}", pid, "oxycodone 5 MG Oral Tablet"))
        if i % 4 == 0:
            population.append(condition(f"c{i}", pid, "Hailey-Hailey disease"))
        if i % 5 == 0:  # naltrexone: set aside until the Encounter scan (follow-up check)
            population.append(med_request(f"n{i}", pid, "naltrexone 50 MG Oral Tablet"))
        population.append(encounter(f"e{i}", pid, "2024-07-01" if i % 10 else "2022-01-01"))
    population.append(condition("lost", "ghost", "Psoriasis"))
    return write_export(tmp_path_factory.mktemp("export"), population)


def _local(export: Path, tmp_path: Path) -> list[Any]:
    out = tmp_path / "local.json"
    screen_export(export, as_of=AS_OF, out=out, fmt="json", workers=1)
    return list(orjson.loads(out.read_bytes()))


def test_cluster_gives_the_local_worklist(cluster: Any, export: Path, tmp_path: Path) -> None:
    out = tmp_path / "cluster.json"
    result = screen_export(export, as_of=AS_OF, out=out, fmt="json", scheduler=cluster)
    assert result.engine == "dask" and result.workers == 2
    assert result.patients == 40 and result.orphan_patients == 1
    rows = orjson.loads(out.read_bytes())
    assert rows == _local(export, tmp_path)
    lost = {r["patient"] for r in rows if r["code"] == "screen-no-follow-up"}
    assert lost == {"p000", "p010", "p020", "p030"}


def test_cli_scheduler_option_runs_on_the_cluster(
    cluster: Any, export: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cli.json"
    argv = ["screen", str(export), "--as-of", "2024-08-01", "--format", "json", "--out", str(out),
            "--scheduler", cluster.scheduler_address, "--quiet"]  # fmt: skip
    assert run(argv) == 0
    assert orjson.loads(out.read_bytes()) == _local(export, tmp_path)


def test_unreachable_scheduler_is_a_clear_error(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["screen", str(export), "--scheduler", "tcp://127.0.0.1:9", "--quiet",
            "--out", str(tmp_path / "w.csv")]  # fmt: skip
    assert run(argv) == 2
    assert "Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "w.csv").exists()

"""The loader rejects broken data with a message naming file, entry and problem."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ldn_derm.errors import KnowledgeError
from ldn_derm.knowledge import DATA_DIR, get_knowledge, load


@pytest.fixture()
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def test_shipped_knowledge_loads_and_is_cached() -> None:
    assert get_knowledge() is get_knowledge()
    assert get_knowledge().meta.version


def test_unused_reference_is_reported(data_copy: Path) -> None:
    extra = data_copy / "references" / "zz-extra.yaml"
    extra.write_text(
        "references:\n  - id: orphan-ref\n    title: Nobody cites me\n    certainty: recalled\n"
    )
    with pytest.raises(KnowledgeError, match="'orphan-ref' is never cited"):
        load(data_copy)


def test_duplicate_reference_names_both_files(data_copy: Path) -> None:
    extra = data_copy / "references" / "zz-dup.yaml"
    extra.write_text(
        "references:\n  - id: cutis-lowdown\n    title: Duplicate\n    certainty: recalled\n"
    )
    with pytest.raises(KnowledgeError, match=r"zz-dup\.yaml.*'cutis-lowdown'.*core\.yaml"):
        load(data_copy)


def test_invalid_yaml_names_file_and_line(data_copy: Path) -> None:
    (data_copy / "safety.yaml").write_text("safety:\n  - id: x\n   kind: [unclosed\n")
    with pytest.raises(KnowledgeError, match=r"safety\.yaml: line \d+ is not valid YAML"):
        load(data_copy)


def test_missing_file_is_reported(data_copy: Path) -> None:
    (data_copy / "drug.yaml").unlink()
    with pytest.raises(KnowledgeError, match=r"drug\.yaml: file is missing"):
        load(data_copy)


def test_canonical_low_dose_must_sit_inside_a_cited_range(data_copy: Path) -> None:
    drug = data_copy / "drug.yaml"
    text = drug.read_text()
    assert "canonical_low_dose:" in text
    lines = [
        "canonical_low_dose: {low: 1.5, high: 45, unit: mg/day}"
        if line.startswith("canonical_low_dose:")
        else line
        for line in text.splitlines()
    ]
    drug.write_text("\n".join(lines) + "\n")
    with pytest.raises(KnowledgeError, match="outside every cited low-dose range"):
        load(data_copy)


@pytest.mark.parametrize(
    ("file", "statement_id"), [("drug.yaml", "bedtime-dosing"), ("pkpd.yaml", "occupancy-measured")]
)
def test_statements_the_program_quotes_must_exist(
    data_copy: Path, file: str, statement_id: str
) -> None:
    path = data_copy / file
    text = path.read_text()
    assert f"id: {statement_id}" in text
    path.write_text(text.replace(f"id: {statement_id}", f"id: {statement_id}-renamed"))
    with pytest.raises(KnowledgeError, match=rf"{file}: no statement has id '{statement_id}'"):
        load(data_copy)


def test_statement_ids_are_unique(data_copy: Path) -> None:
    drug = data_copy / "drug.yaml"
    text = drug.read_text()
    drug.write_text(text.replace("id: off-label-use", "id: approved-use"))
    with pytest.raises(KnowledgeError, match=r"drug\.yaml.*approved-use"):
        load(data_copy)


def test_short_labels_flag_recalled_authors_or_years() -> None:
    refs = get_knowledge().references
    assert refs["albers-2017"].short() == "Albers 2017, JAMA Dermatol"  # seen in full
    recalled = refs["hhd-partners-cases"]
    assert {"authors", "year"} & set(recalled.unverified)
    assert recalled.short().startswith("Cao 2018 (unverified)")

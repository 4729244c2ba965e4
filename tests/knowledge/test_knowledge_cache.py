"""The validated knowledge base is kept between processes; a stale, damaged or unwritable cache
is never a problem."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ldn_derm.knowledge import DATA_DIR, load
from ldn_derm.knowledge.cache import fingerprint, load_cached
from ldn_derm.knowledge.models import as_data


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("LDN_CACHE_DIR", str(folder))
    monkeypatch.delenv("LDN_KB_CACHE", raising=False)
    return folder


def test_second_load_comes_from_the_cache_and_equals_the_files(cache: Path) -> None:
    first = load_cached(DATA_DIR)
    files = list(cache.glob("kb-*.pickle"))
    assert len(files) == 1 and files[0].stat().st_mode & 0o077 == 0
    assert cache.stat().st_mode & 0o077 == 0
    second = load_cached(DATA_DIR)
    assert second is not first  # unpickled, not the same object
    fresh = load(DATA_DIR)
    assert as_data(second.meta) == as_data(fresh.meta)
    assert as_data(second.references) == as_data(fresh.references)
    assert second.drug_codes == fresh.drug_codes
    assert as_data(second.terminology) == as_data(fresh.terminology)


def test_an_edited_data_file_gives_a_new_cache(tmp_path: Path, cache: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    before = fingerprint(data)
    meta = data / "meta.yaml"
    meta.write_text(meta.read_text().replace("reviewers:", "# edited\nreviewers:"))
    os.utime(meta, ns=(meta.stat().st_atime_ns, meta.stat().st_mtime_ns + 10**9))
    assert fingerprint(data) != before


def test_a_damaged_cache_is_ignored_and_replaced(cache: Path) -> None:
    load_cached(DATA_DIR)
    (path,) = cache.glob("kb-*.pickle")
    path.write_bytes(b"not a pickle")
    kb = load_cached(DATA_DIR)
    assert kb.meta.version and path.read_bytes() != b"not a pickle"


def test_cache_off_or_unwritable_still_loads(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LDN_KB_CACHE", "off")
    assert load_cached(DATA_DIR).meta.version
    assert not cache.exists()
    monkeypatch.delenv("LDN_KB_CACHE")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("LDN_CACHE_DIR", str(blocker / "sub"))
    assert load_cached(DATA_DIR).meta.version

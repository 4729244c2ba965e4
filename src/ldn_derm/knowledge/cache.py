"""A validated copy of the knowledge base, kept between processes so commands start fast.

Reading and validating the YAML files costs about 70 ms a process (pydantic and PyYAML);
unpickling the result costs a few. The cache file's name is a SHA-256 of everything the result
depends on: every data file's path, size and modification time, the same for the model and
loader source, and the versions of Python, pydantic and ldn-derm. Any edit gives a new name,
so a stale cache is never read.

The cache is an optimisation only: a cache that cannot be read or written is ignored and the
files are loaded as usual. `LDN_KB_CACHE=off` turns it off; `LDN_CACHE_DIR` moves it (default
`$XDG_CACHE_HOME/ldn-derm` or `~/.cache/ldn-derm`). The folder is created owner-only and the
file is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ldn_derm.knowledge.base import KnowledgeBase

_CODE = ("models.py", "base.py", "loader.py", "cache.py")


def cache_dir() -> Path | None:
    setting = os.environ.get("LDN_KB_CACHE", "").strip().lower()
    if setting in {"off", "0", "no", "false"}:
        return None
    explicit = os.environ.get("LDN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ldn-derm"


def fingerprint(data_dir: Path) -> str:
    """SHA-256 over the data files, the code that builds the result, and the validating
    library (by size and modification time: reading every file would cost more than it saves;
    the library's installed files stand for its version, which importlib.metadata would take
    longer to find than the whole cached load)."""
    from importlib.util import find_spec

    from ldn_derm import __version__

    digest = hashlib.sha256()
    digest.update(repr((sys.version, __version__)).encode())
    here = Path(__file__).parent
    files = [here / name for name in _CODE]
    for library in ("pydantic", "pydantic_core"):
        spec = find_spec(library)
        if spec is not None and spec.origin:
            files.append(Path(spec.origin))
    files += sorted(p for p in data_dir.rglob("*") if p.is_file())
    for path in files:  # size and modification time: any edit or checkout changes them
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def load_cached(data_dir: Path) -> KnowledgeBase:
    """The knowledge base in `data_dir`, from the cache when a current one exists."""
    from ldn_derm.knowledge.base import KnowledgeBase

    folder = cache_dir()
    if folder is None:
        return _load(data_dir)
    try:
        path = folder / f"kb-{fingerprint(data_dir)}.pickle"
    except OSError:
        return _load(data_dir)
    try:
        with path.open("rb") as handle:
            kb = pickle.load(handle)  # our own file, in an owner-only folder (see module doc)
        if isinstance(kb, KnowledgeBase):
            return kb
    except FileNotFoundError:
        pass
    except Exception:
        pass
    kb = _load(data_dir)
    _write(folder, path, kb)
    return kb


def _load(data_dir: Path) -> KnowledgeBase:
    from ldn_derm.knowledge.loader import load

    return load(data_dir)


def _write(folder: Path, path: Path, kb: KnowledgeBase) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".kb-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(kb, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for old in folder.glob("kb-*.pickle"):  # keep only the current one
            if old != path:
                old.unlink(missing_ok=True)
    except (OSError, pickle.PicklingError):
        return  # read-only home, full disk...: the next process loads the files again

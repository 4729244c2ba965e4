"""Dependencies point inward (shared/DESIGN.md, "Packages"): the core imports no adapter, and
each adapter imports only what the table allows. Every `import` in every module counts,
including those inside functions and under TYPE_CHECKING."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ldn_derm"

CORE = {"knowledge", "patient", "assess", "regimen", "pkpd"}
BASE = {"errors", "config", "__init__", "__main__", "__version__"}  # importable from anywhere
# package -> the ldn_derm packages it may import (besides itself and BASE)
ALLOWED: dict[str, set[str]] = {
    "knowledge": set(),
    "patient": {"knowledge"},
    "assess": {"knowledge", "patient"},
    "regimen": {"knowledge", "patient", "assess"},
    "pkpd": {"knowledge"},
    "reports": CORE,
    "registry": CORE,
    "screen": CORE,
    "web": CORE | {"reports", "registry"},
    "cli": CORE | {"reports", "registry", "web", "screen"},
}
# third-party libraries that must never be imported by the core (they belong to adapters)
ADAPTER_ONLY = {
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "matplotlib",
    "weasyprint",
    "jinja2",
    "typer",
    "rich",
    "httpx",
    "dask",
    "distributed",
    "authlib",
}


def _imports(path: Path, src: Path) -> set[str]:
    """Top-level names of every module `path` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = path.relative_to(src.parent).with_suffix("").parts
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level]
                module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            if module == "ldn_derm":  # `from ldn_derm import web` names a package
                found |= {f"ldn_derm.{alias.name}" for alias in node.names}
    return found


def violations(path: Path, src: Path = SRC) -> list[str]:
    rel = path.relative_to(src)
    package = rel.parts[0] if len(rel.parts) > 1 else rel.stem
    if package in BASE:
        return []
    if package not in ALLOWED:
        return [f"{package}/ is not in the architecture table: add it"]
    allowed = ALLOWED[package] | {package} | BASE
    imports = _imports(path, src)
    out = [
        f"{rel} ({package}) imports {module}"
        for module in sorted(imports)
        if module.startswith("ldn_derm.") and module.split(".")[1] not in allowed
    ]
    if package in CORE:
        out += [
            f"core module {rel} imports adapter library {module}"
            for module in sorted(imports)
            if module.split(".")[0] in ADAPTER_ONLY
        ]
    return out


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_inward(path: Path) -> None:
    assert violations(path) == []


def test_the_checker_reports_wrong_imports(tmp_path: Path) -> None:
    src = tmp_path / "ldn_derm"
    probe = src / "assess" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "import fastapi\n"
        "def f():\n    from ldn_derm.web import app\n    from ..registry import db\n"
        "    from . import models\n    from ldn_derm.patient import profile\n"
    )
    assert violations(probe, src) == [
        "assess/probe.py (assess) imports ldn_derm.registry",
        "assess/probe.py (assess) imports ldn_derm.web",
        "core module assess/probe.py imports adapter library fastapi",
    ]

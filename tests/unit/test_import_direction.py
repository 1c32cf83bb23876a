"""Imports go one way: the product, the sandbox, the benchmarks and the collection never import
from tests/, and nothing outside the suite puts tests/ on the path."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
OUTSIDE = ("service", "sandbox", "bench", "plugins", "extensions")


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_nothing_outside_tests_imports_from_tests() -> None:
    suite = {p.stem for p in (REPO / "tests").glob("*.py")}
    suite |= {p.name for p in (REPO / "tests").iterdir() if p.is_dir() and p.name[0] != "_"}
    assert "sandbox" not in suite, "the sandbox is a package of its own (sandbox/)"
    found = {
        f"{path.relative_to(REPO)}: {name}"
        for top in OUTSIDE
        for path in (REPO / top).rglob("*.py")
        if "vendor" not in path.parts
        for name in _top_level_imports(path) & suite
    }
    assert not found, sorted(found)


def test_nothing_outside_the_suite_puts_tests_on_the_path() -> None:
    texts = [REPO / "Makefile", REPO / "README.md", *(REPO / "hack").iterdir()]
    texts += [*(REPO / "docs").glob("*.md"), *(REPO / "sandbox").rglob("*.md")]
    found = [str(p.relative_to(REPO)) for p in texts if "PYTHONPATH=tests" in p.read_text()]
    assert not found, found

"""The shape of the codebase: what `lint-imports` cannot see."""

from __future__ import annotations

import ast

import pytest

from .conftest import REPO

LONG_MODULE = 300  # lines; a longer module says at its top why it is one module
REASON = "Longer than 300 lines because"


def _imported(path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((REPO / "benchmarks").glob("*.py")), ids=lambda p: p.name)
def test_benchmarks_import_nothing_from_the_tests(path):
    assert not {n for n in _imported(path) if n == "tests" or n.startswith("tests.")}


@pytest.mark.parametrize(
    "path",
    sorted([*(REPO / "api").glob("*.py"), *(REPO / "src" / "classifier").glob("*.py")]),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_long_modules_say_why(path):
    text = path.read_text("utf-8")
    lines = text.count("\n")
    docstring = ast.get_docstring(ast.parse(text)) or ""
    assert lines <= LONG_MODULE or REASON in docstring, (
        f"{path.name} has {lines} lines: split it, or say at its top "
        f"'{REASON} …' (the one noun it is about)"
    )

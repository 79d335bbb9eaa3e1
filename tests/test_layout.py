"""The product's packages never import the benchmarks or the tests.

A harness may import the product, not the other way round: an installed service has neither
folder, and a runtime module that reached into one would fail there (or only in the demo).
Every module of the runtime packages is parsed, not imported, so the check takes well under a
second and sees imports inside functions too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from tests.paths import REPO

RUNTIME_PACKAGES = ("common", "ingest", "detect", "dashboard", "matthan")
HARNESSES = ("benchmarks", "tests")


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) of every absolute import in ``tree``, wherever it sits."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def harness_imports(source: str) -> list[tuple[int, str]]:
    """The imports of ``source`` that name a harness package or one of its modules."""
    found = imported_modules(ast.parse(source))
    return sorted((line, module) for line, module in found if module.split(".")[0] in HARNESSES)


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "import benchmarks.farm\n"
        "from tests.paths import REPO\n"
        "def f():\n"
        "    from benchmarks import machine\n"
        "import benchmarking, testsuite\n"
        "from . import tests\n"
    )
    assert harness_imports(source) == [
        (1, "benchmarks.farm"),
        (2, "tests.paths"),
        (4, "benchmarks"),
    ]


def test_runtime_packages_import_no_benchmarks_or_tests() -> None:
    modules = [path for package in RUNTIME_PACKAGES for path in (REPO / package).rglob("*.py")]
    assert len(modules) > 50, "the runtime packages were not found"
    offenders = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in modules
        for line, module in harness_imports(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "runtime code imports a harness:\n" + "\n".join(offenders)

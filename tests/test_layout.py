"""The code's layout: the product never imports the benchmarks or the tests, the dashboard
holds no SQL and keeps its routes, schemas and services apart.

A harness may import the product, not the other way round: an installed service has neither
folder, and a runtime module that reached into one would fail there (or only in the demo).
Every module of the runtime packages is parsed, not imported, so the check takes well under a
second and sees imports inside functions too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

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


SQL = re.compile(
    r"\s*(SELECT\b.*\bFROM\b|INSERT\s+(OR\s+\w+\s+)?INTO\b|UPDATE\s+\w+\s+SET\b"
    r"|DELETE\s+FROM\b|CREATE\s+(UNIQUE\s+)?(TABLE|INDEX|TRIGGER)\b|ALTER\s+TABLE\b|PRAGMA\s)",
    re.DOTALL,
)
"""SQL statements as this code base writes them (keywords in capitals)."""
STORE_CALLS = ("read", "execute", "executemany", "transaction")


def sql_in(source: str) -> list[tuple[int, str]]:
    """(line, what) of each SQL string and each direct store or connection call in ``source``:
    the dashboard asks the store's modules in ``common`` instead."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if SQL.match(node.value):
                found.append((node.lineno, node.value.strip().split("\n")[0][:40]))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in STORE_CALLS
            and isinstance(node.func.value, (ast.Name, ast.Attribute))
            and "store" in ast.unparse(node.func.value).lower()
        ):
            found.append((node.lineno, ast.unparse(node.func)))
    return found


def test_the_sql_check_sees_queries_and_store_calls() -> None:
    source = (
        'rows = state.store.read("SELECT id FROM alerts")\n'
        "with store.transaction() as db:\n"
        '    db.execute("UPDATE alerts SET state = ?", ("x",))\n'
        'note = "Select the camera from the list. Delete from here"\n'
        'f("INSERT INTO reviews (a) VALUES (?)")\n'
    )
    assert sorted(line for line, _ in sql_in(source)) == [1, 1, 2, 3, 5]


def test_the_dashboard_holds_no_sql() -> None:
    modules = sorted((REPO / "dashboard").rglob("*.py"))
    assert len(modules) > 30
    offenders = [
        f"{path.relative_to(REPO)}:{line}: {what}"
        for path in modules
        for line, what in sql_in(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "SQL in the dashboard (put it in a common module):\n" + "\n".join(
        offenders
    )


# The dashboard's Python layout: routes, schemas and services each in their package, so that a
# change to one resource touches one module of each, and the app's plumbing stays small.
DASHBOARD_PLUMBING = {
    "__init__",
    "app",  # the app factory and its lifespan
    "auth",  # sessions, roles and CSRF as dependencies
    "certificate",  # the demo's self-signed certificate
    "health_access",  # who may read the machine-facing health routes
    "hosts",  # the Host header guard
    "metrics",  # the dashboard's Prometheus metrics
    "no_store",  # the no-caching middleware for pictures and footage
    "refusals",  # errors a page can translate
    "server",  # the process: uvicorn until stopped
    "sockets",  # what every WebSocket shares
    "state",  # the lifespan's resources
    "tls",  # HTTPS options and HSTS
}


def layout_offences(package: str, module: str, source: str) -> list[str]:
    """What ``source`` (module ``module`` of ``dashboard/<package>``, package "" for the top
    level) does against the layout: a router outside ``routes``, a pydantic model outside
    ``schemas``, a route module importing another, computing methods on the state."""
    tree = ast.parse(source)
    found = []
    routers = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "APIRouter"
    ]
    if routers and package != "routes":
        found.append("makes an APIRouter outside dashboard/routes")
    if package == "routes" and module != "__init__" and not routers:
        found.append("is in dashboard/routes but makes no router")
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {getattr(base, "id", getattr(base, "attr", "")) for base in node.bases}
            if "BaseModel" in bases and package != "schemas":
                found.append(f"defines the pydantic model {node.name} outside dashboard/schemas")
            if node.name == "DashboardState" and any(
                isinstance(item, ast.FunctionDef) for item in node.body
            ):
                found.append("DashboardState computes things (a method); it holds resources")
    if package == "routes" and module != "__init__":
        found += [
            f"route module imports {name}"
            for _, name in imported_modules(tree)
            if name.startswith("dashboard.routes")
        ]
    if package == "" and module not in DASHBOARD_PLUMBING:
        found.append("sits at the dashboard's top level: put it in routes, schemas or services")
    return found


def test_the_layout_check_sees_each_offence() -> None:
    assert layout_offences("services", "x", "router = APIRouter()") == [
        "makes an APIRouter outside dashboard/routes"
    ]
    assert layout_offences("routes", "x", "from dashboard.routes.alerts import f\nr = APIRouter()")
    assert layout_offences("routes", "x", "x = 1") == ["is in dashboard/routes but makes no router"]
    assert layout_offences("routes", "x", "r = APIRouter()\nclass A(BaseModel): pass")
    state = "class DashboardState:\n    store: int\n    def visible(self) -> int: return 1"
    assert layout_offences("", "state", state)
    assert layout_offences("", "helpers", "x = 1")
    assert layout_offences("schemas", "x", "class A(pydantic.BaseModel): pass") == []
    assert (
        layout_offences("routes", "x", "from dashboard.services.y import f\nr = APIRouter()") == []
    )


def test_the_dashboard_keeps_routes_schemas_and_services_apart() -> None:
    from dashboard.routes import ROUTERS

    root = REPO / "dashboard"
    modules = sorted(path for path in root.rglob("*.py") if "static" not in path.parts)
    offences = []
    for path in modules:
        package = "" if path.parent == root else path.parent.name
        offences += [
            f"{path.relative_to(REPO)}: {what}"
            for what in layout_offences(package, path.stem, path.read_text(encoding="utf-8"))
        ]
    assert not offences, "\n".join(offences)
    route_modules = {path.stem for path in (root / "routes").glob("*.py")} - {"__init__"}
    assert len(ROUTERS) == len(route_modules) >= 20  # every route module's router is included


# The dashboard's static side: ES modules in static/lib (shared) and static/pages (one entry
# module per page), nothing global but the one inspection handle, and one shared <head>.
STATIC_JS_HOMES = ("lib", "pages")
CLASSIC_WORKER = "sw.js"  # a service worker, served at /sw.js: a classic script by design
INSPECTION_MODULE = "lib/inspect.js"
WINDOW_ASSIGNMENT = re.compile(
    r"\b(?:window|globalThis|self)\s*(?:\.\s*[\w$]+|\[[^\]]*\])"  # window.x, window["x"]
    r"[\w$.\[\]\"' ]*?\s*(?:[-+*/%&|^]|\?\?|<<|>>)?=(?!=)"  # .y[z] then =, += ... (not ==)
)
"""An assignment to a property of the global object (``window.x = ...``, ``window["x"] += 1``)."""
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
HEAD_MARKS = re.compile(r"<head\b|<meta\s+charset|<!doctype", re.IGNORECASE)


def misplaced_scripts(paths: list[str]) -> list[str]:
    """The ``.js`` files (paths relative to ``dashboard/static``) outside lib/ and pages/."""
    return [
        path
        for path in paths
        if path.endswith(".js")
        and path != CLASSIC_WORKER
        and path.split("/")[0] not in STATIC_JS_HOMES
    ]


def global_assignments(path: str, source: str) -> list[str]:
    """``path:line`` of each assignment to the global object in a module but the inspection one."""
    if path == INSPECTION_MODULE:
        return []
    return [
        f"{path}:{number}: {line.strip()}"
        for number, line in enumerate(source.splitlines(), start=1)
        if not line.lstrip().startswith("//") and WINDOW_ASSIGNMENT.search(line)
    ]


def script_offences(page: str, html: str) -> list[str]:
    """What a whole page's HTML does against "exactly one module script, nothing classic"."""
    tags = SCRIPT_TAG.findall(html)
    found = [
        f"{page}: a classic script <script{attrs}>"
        for attrs in tags
        if 'type="module"' not in attrs
    ]
    if len(tags) != 1:
        found.append(f"{page}: {len(tags)} scripts (one module per page)")
    return found


def repeated_heads(name: str, html: str) -> list[str]:
    """A page file (not the shell) holding a head of its own: <head>, <meta charset>, doctype."""
    return [f"{name}: {mark.group(0)}" for mark in HEAD_MARKS.finditer(html)]


def test_the_static_checks_see_each_offence() -> None:
    assert misplaced_scripts(["sw.js", "lib/dom.js", "pages/alerts.js", "icon.svg"]) == []
    assert misplaced_scripts(["common.js", "css/x.js"]) == ["common.js", "css/x.js"]
    bad = [
        "window.MATTHAN_STRINGS = {",
        '  window["x"] = 1;',
        "  window.matthanWall.count += 1;",
        "globalThis.api = api;",
    ]
    assert len(global_assignments("pages/x.js", "\n".join(bad))) == 4
    fine = [
        "if (window.matthan === undefined) return;",
        "const ratio = window.devicePixelRatio || 1;",
        'window.addEventListener("pagehide", stop);',
        "// window.x = 1 in a comment",
        "if (!window.confirm(t(key))) return;",
    ]
    assert global_assignments("pages/x.js", "\n".join(fine)) == []
    assert global_assignments(INSPECTION_MODULE, "window.matthan = {};") == []
    one = '<script type="module" src="/static/pages/a.js"></script>'
    assert script_offences("a", one) == []
    assert len(script_offences("a", one + '<script src="/static/x.js" defer></script>')) == 2
    assert len(script_offences("a", one + one)) == 1
    assert script_offences("a", "<body></body>") == ["a: 0 scripts (one module per page)"]
    assert repeated_heads("a.html", '<body data-page="page_a"><main></main></body>') == []
    assert len(repeated_heads("a.html", '<head>\n<meta charset="utf-8"></head><body>')) == 2


def test_the_static_side_is_es_modules_with_one_shared_head() -> None:
    from dashboard.services.page_shell import PAGES, SHELL, STATIC, assembled

    files = sorted(path for path in STATIC.rglob("*") if path.is_file())
    relative = [path.relative_to(STATIC).as_posix() for path in files]
    assert not misplaced_scripts(relative), "move these into static/lib or static/pages"
    offences = [
        offence
        for path, name in zip(files, relative, strict=True)
        if name.endswith(".js") and name != CLASSIC_WORKER
        for offence in global_assignments(name, path.read_text(encoding="utf-8"))
    ]
    assert not offences, "share through imports (tests: lib/inspect.js):\n" + "\n".join(offences)
    modules = {name.removeprefix("pages/").removesuffix(".js") for name in relative}
    bodies = {name.removeprefix("pages/").removesuffix(".html") for name in relative}
    assert (
        set(PAGES)
        == {m for m in modules if f"pages/{m}.js" in relative}
        == {b for b in bodies if f"pages/{b}.html" in relative}
    ), "every page is pages/<name>.html + pages/<name>.js + an entry of PAGES"
    for name in PAGES:
        assert not script_offences(name, assembled(name))
        assert assembled(name).count("<head>") == 1
    html_files = sorted((REPO / "dashboard").rglob("*.html"))
    assert SHELL in html_files
    heads = [
        offence
        for path in html_files
        if path != SHELL
        for offence in repeated_heads(path.relative_to(REPO).as_posix(), path.read_text("utf-8"))
    ]
    heads += [
        f"{path}: a script"
        for path in html_files
        if path != SHELL and "<script" in path.read_text("utf-8")
    ]
    assert not heads, "the <head> is written once, in static/shell.html:\n" + "\n".join(heads)


def test_the_store_connection_knows_no_table(tmp_path: Path) -> None:
    """``common/db.py`` is the bottom layer: the table modules and the migrations build on it,
    never the other way round (issue 15, store layering); and opening a store makes every
    table a module of ``common`` declares, and the audit log's triggers."""
    from common.store import Store

    tree = ast.parse((REPO / "common" / "db.py").read_text(encoding="utf-8"))
    ours = sorted(name for _, name in imported_modules(tree) if name.split(".")[0] == "common")
    assert ours == ["common.store_retry"], ours
    declared = {
        name
        for path in (REPO / "common").glob("*.py")
        if path.stem != "alert_outbox"  # a node's outbox makes its table when it first runs
        for name in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", path.read_text("utf-8"))
    }
    store = Store(tmp_path / "layers.db")
    made = {row[0] for row in store.read("SELECT name FROM sqlite_master WHERE type='table'")}
    triggers = {row[0] for row in store.read("SELECT name FROM sqlite_master WHERE type='trigger'")}
    store.close()
    assert declared <= made, f"tables no migration makes: {sorted(declared - made)}"
    assert {"audit_log_no_update", "audit_log_no_delete"} <= triggers


def test_each_table_is_one_module_and_the_store_holds_no_query() -> None:
    """One module per table (issue 15, store layering): each table is declared by exactly one
    module of ``common``, and ``common/store.py`` (the connection brought up to date) runs no
    SQL of its own: the alerts' queries are :mod:`common.alert_rows`, the camera states'
    :mod:`common.camera_states`."""
    declared: dict[str, list[str]] = {}
    for path in sorted((REPO / "common").glob("*.py")):
        for name in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", path.read_text("utf-8")):
            declared.setdefault(name, []).append(path.stem)
    twice = {name: modules for name, modules in declared.items() if len(modules) > 1}
    assert not twice, f"tables declared in several modules: {twice}"
    assert declared["alerts"] == declared["alert_images"] == ["alert_rows"]
    assert declared["camera_events"] == declared["camera_decode"] == ["camera_states"]
    store = (REPO / "common" / "store.py").read_text("utf-8")
    assert not re.search(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", store), "SQL in common/store.py"


def test_migrations_split_whole_statements_and_come_in_order() -> None:
    from common.migrations import AUDIT_GUARDS, MIGRATIONS, SCHEMA_VERSION, statements

    guards = statements(AUDIT_GUARDS)
    assert len(guards) == 4, guards
    assert all(guard.endswith("END;") for guard in guards), guards  # not cut at the inner ;
    assert statements("CREATE TABLE a (x);\n\nCREATE TABLE b (y)") == [
        "CREATE TABLE a (x);",
        "CREATE TABLE b (y)",
    ]
    versions = [migration.version for migration in MIGRATIONS]
    assert versions == sorted(set(versions))
    assert versions[-1] == SCHEMA_VERSION

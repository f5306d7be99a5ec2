"""The layering rule of docs/architecture.md: a module imports only from its own tier or below,
the package's import graph has no cycles, and Twisted/threads/sockets appear only at the edges."""

import ast
import pathlib
import re

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "hiddenprimary"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"


def _tier_table() -> dict[str, int]:
    """The tier of every module, read from the one place it is written: the "Modules and tiers"
    table of docs/architecture.md (`| 3 | `zone.store`, `reload.plan` |`)."""
    text = ARCHITECTURE.read_text()
    section = text[text.index("## Modules and tiers"):]
    tiers = {}
    for tier, modules_cell in re.findall(r"^\| (\d+) \| (.+) \|$", section, re.MULTILINE):
        for name in re.findall(r"`([\w.]+)`", modules_cell):
            tiers[name] = int(tier)
    return tiers


TIERS = _tier_table()
EDGE_ONLY = ("twisted", "zope", "socket", "threading", "signal")
EDGE_TIER = 5
# Libraries that only one part may use: processes for signing, the AWS SDK for Route 53,
# dnspython's blocking client for `hpctl check` (everything else speaks through Twisted).
ONLY_IN = {
    "multiprocessing": {"dnssec.parallel"},
    "concurrent.futures": {"dnssec.parallel"},
    "boto3": {"providers.route53"},
    "botocore": {"providers.route53"},
    "dns.query": {"transfer.consistency"},
}
# Reading the time: only clock.py does; everything else takes a Clock (or, for reactor timers,
# the reactor's own `seconds`), so tests can move time.
TIME_READS = {("time", "time"), ("time", "time_ns"), ("time", "monotonic"), ("time", "monotonic_ns"),
              ("time", "perf_counter"), ("time", "perf_counter_ns"), ("datetime", "now"),
              ("datetime", "utcnow"), ("datetime", "today"), ("date", "today")}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        if parts and _has_code(path):  # package markers (a docstring at most) have nothing to check
            yield ".".join(parts), path


def _has_code(path) -> bool:
    body = ast.parse(path.read_text()).body
    return any(not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) for node in body)


def imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            package = PACKAGE.joinpath(*node.module.split(".")[1:])
            if node.module.startswith("hiddenprimary") and package.is_dir():
                # `from hiddenprimary.zone import serial` imports the module zone.serial;
                # `from hiddenprimary.config import Config` imports the package's __init__
                for a in node.names:
                    sub = package / a.name
                    is_module = sub.is_dir() or sub.with_suffix(".py").is_file()
                    yield f"{node.module}.{a.name}" if is_module else node.module
            else:
                yield node.module


def test_every_module_has_a_tier():
    missing = [name for name, _ in modules() if name not in TIERS]
    assert not missing, f"add these modules to TIERS: {missing}"


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda x: str(x) if isinstance(x, str) else "")
def test_imports_respect_the_layers(name, path):
    tier = TIERS[name]
    for imported in imports(path):
        if imported.startswith("hiddenprimary."):
            target = imported[len("hiddenprimary."):]
            assert target in TIERS, f"{name} imports unknown module {imported}"
            assert TIERS[target] <= tier, f"{name} (tier {tier}) imports {target} (tier {TIERS[target]})"
        elif imported.split(".")[0] in EDGE_ONLY:
            assert tier >= EDGE_TIER, f"{name} (tier {tier}) imports {imported}: only edges may"


def test_no_import_cycles():
    graph = {name: {i[len("hiddenprimary."):] for i in imports(path) if i.startswith("hiddenprimary.")}
             for name, path in modules()}
    state: dict[str, str] = {}

    def visit(node, trail):
        if state.get(node) == "done":
            return
        assert state.get(node) != "active", f"import cycle: {' -> '.join(trail + [node])}"
        state[node] = "active"
        for nxt in graph.get(node, ()):
            visit(nxt, trail + [node])
        state[node] = "done"

    for node in graph:
        visit(node, [])


def test_the_tier_table_names_only_modules_that_exist():
    names = {name for name, _ in modules()}
    stale = sorted(set(TIERS) - names)
    assert not stale, f"docs/architecture.md names modules that do not exist: {stale}"


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda x: str(x) if isinstance(x, str) else "")
def test_some_libraries_only_where_they_belong(name, path):
    for imported in imports(path):
        for library, allowed in ONLY_IN.items():
            if imported == library or imported.startswith(library + "."):
                assert name in allowed, f"{name} imports {imported}: only {sorted(allowed)} may"


@pytest.mark.parametrize("name,path", list(modules()), ids=lambda x: str(x) if isinstance(x, str) else "")
def test_only_clock_reads_the_time(name, path):
    if name == "clock":
        return
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute)):
            owner = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
            assert (owner, node.attr) not in TIME_READS, \
                f"{name}:{node.lineno} reads the time ({owner}.{node.attr}): take a Clock (hiddenprimary.clock)"
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "datetime"):
            read = [a.name for a in node.names if (node.module, a.name) in TIME_READS]
            assert not read, f"{name}:{node.lineno} imports {read} from {node.module}: take a Clock"


def test_the_time_rule_catches_a_reader():
    """The rule above can fail: a module reading time.monotonic() is caught."""
    tree = ast.parse("import time\ndeadline = time.monotonic() + 5\n")
    reads = [(n.value.id, n.attr) for n in ast.walk(tree) if isinstance(n, ast.Attribute)]
    assert ("time", "monotonic") in TIME_READS and ("time", "monotonic") in reads

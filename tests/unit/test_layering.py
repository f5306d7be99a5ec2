"""The layering rule of docs/architecture.md: a module imports only from its own tier or below,
the package's import graph has no cycles, and Twisted/threads/sockets appear only at the edges."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "hiddenprimary"

TIERS = {
    "errors": 0, "clock": 0, "logs": 0,
    "reload": 0, "serve": 0, "transfer": 0, "control": 0,  # package docstrings
    "config": 1, "zone.serial": 1,
    "zone.version": 2, "zone.codec": 2, "zone.load": 2, "zone.reader": 2, "zone.records": 2, "zone.rdata_parser": 2, "zone.record_tokens": 2, "zone.rrsets": 2, "zone.memo": 2, "zone.problems": 2, "zone.checks": 2, "zone.scan": 2, "zone.source": 2, "zone.limits": 2, "zone.diff": 2, "reload.journal": 2, "reload.served_serials": 2, "reload.zone_state": 2, "transfer.activity": 2, "state_db": 2, "fd_budget": 2, "data_dir": 2,
    "dnssec.keys": 2, "dnssec.nsec": 2, "dnssec.sign": 2, "dnssec.nsec3": 2,
    "dnssec.zone_signer": 2, "dnssec.parallel": 2, "dnssec.denial": 2,
    "providers.base": 3, "providers.route53": 3, "providers.incremental": 3, "providers.registry": 3,
    "providers.api_state": 2, "providers.api_report": 4, "providers.api_sync": 5,
    "zone.store": 3, "reload.plan": 3, "reload.commit": 3, "transfer.tsig": 3, "transfer.acl": 3, "serve.request": 3,
    "serve.query": 4, "transfer.xfr": 4, "transfer.transfers": 4, "transfer.consistency": 4, "serve.answer_cache": 4, "serve.responder": 4,
    "reload.events": 5, "net.udp": 5, "net.tcp": 5, "net.accept_errors": 5, "net.pools": 5, "transfer.notify": 5, "control.server": 5, "control.client": 5, "metrics": 5,
    "daemon": 6, "cli": 6, "__main__": 7,
}
EDGE_ONLY = ("twisted", "zope", "socket", "threading", "signal")
EDGE_TIER = 5


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        if parts and path.read_text().strip():  # empty package markers have nothing to check
            yield ".".join(parts), path


def imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            package = PACKAGE.joinpath(*node.module.split(".")[1:])
            if node.module.startswith("hiddenprimary") and package.is_dir():
                # `from hiddenprimary.zone import serial` imports the module zone.serial
                yield from (f"{node.module}.{a.name}" for a in node.names)
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

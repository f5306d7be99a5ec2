"""The zone files in tests/data/zones, one problem each, and the `; expect: code line [file]`
comments in them that say what the loader or the checks must report, and where."""

import pathlib

import dns.name

from tests.helpers import ROOT

DATA = ROOT / "tests" / "data" / "zones"
EXAMPLE = dns.name.from_text("example.")
# The codes zone.checks reports (the others come from the loader).
CHECK_CODES = {
    "no-soa", "multiple-soa", "soa-not-at-apex", "no-apex-ns", "cname-and-other-data",
    "multiple-cname", "multiple-dname", "multiple-nsec", "dname-children", "missing-glue",
    "ns-target-no-address",
    "ns-is-cname", "occluded-data",
}  # fmt: skip


def expectations(path: pathlib.Path) -> set[tuple[str, str, int]]:
    """The `; expect: code line [file]` comments of a data file, as (code, file, line)."""
    found = set()
    for line in path.read_text().splitlines():
        if line.startswith("; expect:"):
            code, number, *where = line.split()[2:]
            found.add((code, where[0] if where else path.name, int(number)))
    return found

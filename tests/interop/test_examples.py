"""The operator examples in conf/examples/ are valid, and are the ones the interop tests run.

- every conf/examples/*.yaml passes `hiddenprimary --check-config`;
- the secondary-side templates conf/examples/named.conf (BIND 9.18) and knot.conf (Knot 3.2),
  rendered with an operator's values (no test additions) and with the values of their YAML
  partner (bind.yaml, knot.yaml), pass `named-checkconf` and `knotc conf-check`;
- the legend at the top of each template names exactly the placeholders it uses.

The interop tests (test_our_secondaries.py, test_harness_selfcheck.py) start named and knotd with
these same templates: tests/interop/peers.py renders them for BindSecondary and KnotSecondary and
only adds pid files, control channels and logging. The last tests here check that it does.
"""

from __future__ import annotations

import base64
import ipaddress
import pathlib
import re
import subprocess

import pytest

from hiddenprimary.config import load_config
from tests.helpers import BIN, require_tool
from tests.interop.peers import (
    BIND_KEYLESS,
    BIND_TEMPLATE,
    BIND_ZONE_BLOCK,
    EXAMPLES,
    KNOT_KEYLESS,
    KNOT_TEMPLATE,
    KNOT_ZONE_BLOCK,
    BindSecondary,
    KnotSecondary,
    new_key,
    render_template,
)

YAMLS = sorted(EXAMPLES.glob("*.yaml"))
PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")

# What an operator would put in (documentation addresses, the standard port and directories).
OPERATOR = {"PRIMARY_ADDRESS": "192.0.2.53", "PRIMARY_PORT": 53, "KEY_NAME": "xfr.example.com",
            "KEY_ALGORITHM": "hmac-sha256", "KEY_SECRET": "j2d4ieKdfRndWrYG1Yb7oFgH4kPUI6ad4yCVbD7FDEs=",
            "SOURCE": "198.51.100.53", "LISTEN": "198.51.100.53", "PORT": 53}


def named_checkconf(path: pathlib.Path) -> subprocess.CompletedProcess:
    r = subprocess.run([require_tool("named-checkconf"), str(path)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, f"named-checkconf {path}:\n{r.stdout}{r.stderr}\n{path.read_text()}"
    # Warnings are allowed (9.18 calls use-alt-transfer-source deprecated), errors are not.
    assert "error" not in (r.stdout + r.stderr).lower(), r.stdout + r.stderr
    return r


def knotc_conf_check(path: pathlib.Path) -> subprocess.CompletedProcess:
    r = subprocess.run([require_tool("knotc"), "-c", str(path), "conf-check"], capture_output=True, text=True, check=False)
    assert r.returncode == 0, f"knotc conf-check {path}:\n{r.stdout}{r.stderr}\n{path.read_text()}"
    assert "Configuration is valid" in r.stdout
    return r


def render_bind(values: dict, zones: list[str], keyed: bool = True) -> str:
    return render_template(BIND_TEMPLATE.read_text(), values, zones, BIND_ZONE_BLOCK,
                           () if keyed else BIND_KEYLESS, source=str(BIND_TEMPLATE))


def render_knot(values: dict, zones: list[str], keyed: bool = True) -> str:
    return render_template(KNOT_TEMPLATE.read_text(), values, zones, KNOT_ZONE_BLOCK,
                           () if keyed else KNOT_KEYLESS, source=str(KNOT_TEMPLATE))


# -- the hiddenprimary side ----------------------------------------------------------------------

def test_there_is_an_example_per_secondary_kind():
    assert {p.stem for p in YAMLS} >= {"ns1", "cloudflare", "bind", "knot", "route53"}
    assert BIND_TEMPLATE.is_file() and KNOT_TEMPLATE.is_file()


@pytest.mark.parametrize("path", YAMLS, ids=[p.name for p in YAMLS])
def test_example_passes_check_config(path):
    r = subprocess.run([str(BIN / "hiddenprimary"), "--check-config", "-c", str(path)],
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok" in r.stdout + r.stderr


@pytest.mark.parametrize("path", YAMLS, ids=[p.name for p in YAMLS])
def test_example_keeps_its_state_apart_and_serves_the_repo_zone(path):
    cfg = load_config(str(path))
    var = (EXAMPLES / ".." / ".." / "var").resolve()
    assert pathlib.Path(cfg.data_dir) == var / f"examples-{path.stem}"
    assert pathlib.Path(cfg.control).parent == var / f"examples-{path.stem}"
    for zone in cfg.zones.values():
        assert pathlib.Path(zone.file).is_file(), zone.file
        assert zone.secondaries, f"{path.name}: {zone.name} feeds no secondary"
    for sec in cfg.secondaries.values():  # API secondaries (Route 53) take no transfers: no TSIG
        assert sec.key is not None or sec.api is not None, f"{path.name}: secondary {sec.name} without TSIG"


# -- the secondary side: the templates as an operator renders them --------------------------------

@pytest.mark.parametrize("template", [BIND_TEMPLATE, KNOT_TEMPLATE], ids=["named.conf", "knot.conf"])
def test_the_legend_names_exactly_the_placeholders_used(template):
    lines = template.read_text().splitlines()
    comment = "//" if lines[0].startswith("//") else "#"
    n = next(i for i, line in enumerate(lines) if not line.startswith(comment))
    legend, body = "\n".join(lines[:n]), "\n".join(lines[n:])
    assert set(PLACEHOLDER.findall(body)) == set(PLACEHOLDER.findall(legend)), template


@pytest.mark.parametrize("zones", [["example.com"], ["example.com", "example.net"]])
@pytest.mark.parametrize("keyed", [True, False], ids=["tsig", "no-tsig"])
def test_named_conf_rendered_for_an_operator_passes_named_checkconf(tmp_path, zones, keyed):
    text = render_bind({**OPERATOR, "DIR": tmp_path}, zones, keyed)
    assert not PLACEHOLDER.search(text)
    assert text.count('type secondary;') == len(zones)
    conf = tmp_path / "named.conf"
    conf.write_text(text)
    named_checkconf(conf)


@pytest.mark.parametrize("zones", [["example.com"], ["example.com", "example.net"]])
@pytest.mark.parametrize("keyed", [True, False], ids=["tsig", "no-tsig"])
def test_knot_conf_rendered_for_an_operator_passes_knotc_conf_check(tmp_path, zones, keyed):
    values = {**OPERATOR, "SOURCE": "203.0.113.53", "LISTEN": "203.0.113.53", "DIR": tmp_path}
    text = render_knot(values, zones, keyed)
    assert not PLACEHOLDER.search(text)
    assert "address: 192.0.2.53@53" in text and "listen: 203.0.113.53@53" in text
    assert text.count("master: hiddenprimary") == len(zones)
    conf = tmp_path / "knot.conf"
    conf.write_text(text)
    knotc_conf_check(conf)


@pytest.mark.parametrize("template", [BIND_TEMPLATE, KNOT_TEMPLATE], ids=["named.conf", "knot.conf"])
def test_plain_substitution_as_in_the_docs_works_too(tmp_path, template):
    """docs/providers.md fills the templates in with sed (legend kept, one zone): that passes too."""
    values = {**OPERATOR, "DIR": tmp_path, "ZONE": "example.com"}
    if template == KNOT_TEMPLATE:
        values.update(SOURCE="203.0.113.53", LISTEN="203.0.113.53")
    text = template.read_text()
    for name, value in values.items():
        text = text.replace(f"@{name}@", str(value))
    assert not PLACEHOLDER.search(text)
    conf = tmp_path / template.name
    conf.write_text(text)
    (named_checkconf if template == BIND_TEMPLATE else knotc_conf_check)(conf)


def _partner_values(yaml_name: str, tmp_path: pathlib.Path) -> tuple[dict, list[str]]:
    """Template values taken from a hiddenprimary example, so the two sides agree: the primary
    is where it listens, the secondary's source is its allow prefix, and it listens where the
    primary sends NOTIFY, with the same key."""
    cfg = load_config(str(EXAMPLES / yaml_name))
    sec = cfg.secondaries[yaml_name.removesuffix(".yaml")]
    key = cfg.tsig[sec.key]
    (allow,) = sec.allow
    assert allow.num_addresses == 1, f"{yaml_name}: one secondary address expected, not {allow}"
    (notify_host, notify_port), = sec.notify
    primary_host, primary_port = cfg.listen[0]
    assert cfg.notify_source in (None, primary_host)  # the secondary's NOTIFY ACL names this address
    values = {"PRIMARY_ADDRESS": primary_host, "PRIMARY_PORT": primary_port, "KEY_NAME": key.name,
              "KEY_ALGORITHM": key.algorithm.rstrip("."), "KEY_SECRET": base64.b64encode(key.secret).decode(),
              "SOURCE": str(allow.network_address), "LISTEN": notify_host, "PORT": notify_port, "DIR": tmp_path}
    assert ipaddress.ip_address(notify_host) == allow.network_address
    return values, [z.to_text(omit_final_dot=True) for z in cfg.zones]


def test_named_conf_matches_bind_yaml(tmp_path):
    values, zones = _partner_values("bind.yaml", tmp_path)
    conf = tmp_path / "named.conf"
    conf.write_text(render_bind(values, zones))
    named_checkconf(conf)


def test_knot_conf_matches_knot_yaml(tmp_path):
    values, zones = _partner_values("knot.yaml", tmp_path)
    conf = tmp_path / "knot.conf"
    conf.write_text(render_knot(values, zones))
    knotc_conf_check(conf)


# -- ... and as the interop harness renders them ---------------------------------------------------

@pytest.mark.parametrize("key", [True, False], ids=["tsig", "no-tsig"])
def test_the_bind_secondary_of_the_interop_tests_runs_the_example(tmp_path, key):
    sec = BindSecondary(tmp_path / "bind", ["example.com", "example.net"], 5300, key=new_key() if key else None)
    sec.write_config()
    text = sec.conf.read_text()
    assert text.startswith(f"// Rendered from {BIND_TEMPLATE} by tests/interop/peers.py.")
    assert text.count("primaries { hiddenprimary; };") == 2
    assert f"transfer-source {sec.address};" in text
    named_checkconf(sec.conf)


@pytest.mark.parametrize("notify_key", [True, False])
@pytest.mark.parametrize("key", [True, False], ids=["tsig", "no-tsig"])
def test_the_knot_secondary_of_the_interop_tests_runs_the_example(tmp_path, key, notify_key):
    sec = KnotSecondary(tmp_path / "knot", ["example.com", "example.net"], 5300, key=new_key() if key else None,
                        notify_key=notify_key)
    sec.write_config()
    text = sec.conf.read_text()
    assert text.startswith(f"# Rendered from {KNOT_TEMPLATE} by tests/interop/peers.py.")
    assert text.count("master: hiddenprimary") == 2
    assert f"via: {sec.address}" in text
    knotc_conf_check(sec.conf)

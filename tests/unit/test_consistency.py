"""The consistency monitor (`hpctl check`): format_report and exit_status on hand-built reports,
and check_zone against tiny in-process DNS responders (UDP + TCP, in a thread) on 127.0.0.x:
one serving our serial, one an older one, one silent, and others that misbehave on purpose."""

from __future__ import annotations

import json
import socketserver
import struct
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.zone
import pytest

from hiddenprimary.clock import FixedClock, SystemClock
from hiddenprimary.config import parse_config
from hiddenprimary.transfer import consistency
from hiddenprimary.transfer.tsig import keyring_from_config
from hiddenprimary.zone.version import ZoneVersion
from tests.helpers import free_port
from tests.zones import version_from_text, zone_text

ORIGIN = dns.name.from_text("example.com.")
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
FAST = {"timeout": 0.3, "tries": 2}


def dns_zone(text: str) -> dns.zone.Zone:
    return dns.zone.from_text(text, origin=ORIGIN, relativize=False, check_origin=False)


def version_of(text: str) -> ZoneVersion:
    return version_from_text(text, ORIGIN.to_text(), check_origin=False)


# ---------------------------------------------------------------------------------------------
# A tiny authoritative server


class Responder:
    """Answers from a dns.zone.Zone on host:port over UDP and TCP, in threads.

    silent: read and drop everything. rcode: answer every query with it. axfr: allow AXFR (over
    TCP). udp_limit: answers bigger than this over UDP are truncated (TC). keyring: verify TSIG
    and sign answers (a request that does not verify is answered REFUSED, unsigned). wrong_key:
    sign answers with this key instead. authoritative=False: leave AA clear. empty: NOERROR with
    an empty answer section."""

    def __init__(self, text: str, host: str, *, silent=False, rcode=None, axfr=True, udp_limit=65535,
                 keyring=None, wrong_key=None, authoritative=True, empty=False):
        self.zone = dns_zone(text)
        self.host = host
        self.port = free_port(host)
        self.silent, self.rcode, self.axfr, self.udp_limit = silent, rcode, axfr, udp_limit
        self.keyring, self.wrong_key, self.authoritative = keyring, wrong_key, authoritative
        self.empty = empty
        self.queries: list[tuple[str, str, bool, bool]] = []  # (qname, qtype, tcp, signed)
        responder = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                for wire in responder.answer(data, tcp=False):
                    sock.sendto(wire, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self):
                try:
                    while True:
                        head = self._read(2)
                        wire = self._read(struct.unpack("!H", head)[0])
                        for out in responder.answer(wire, tcp=True):
                            self.request.sendall(struct.pack("!H", len(out)) + out)
                except (EOFError, OSError):
                    pass

            def _read(self, n):
                data = b""
                while len(data) < n:
                    chunk = self.request.recv(n - len(data))
                    if not chunk:
                        raise EOFError
                    data += chunk
                return data

        socketserver.ThreadingUDPServer.allow_reuse_address = True
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.servers = [socketserver.ThreadingUDPServer((host, self.port), Udp),
                        socketserver.ThreadingTCPServer((host, self.port), Tcp)]
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()

    def answer(self, wire: bytes, tcp: bool) -> list[bytes]:
        if self.silent:
            return []
        try:
            q = dns.message.from_wire(wire, keyring=self.keyring if self.keyring is not None else False)
        except dns.exception.DNSException:
            q = dns.message.from_wire(wire, keyring=False)
            r = dns.message.make_response(q)
            r.keyring = None  # answer unsigned
            r.set_rcode(dns.rcode.REFUSED)
            return [r.to_wire()]
        question = q.question[0]
        self.queries.append((question.name.to_text(), dns.rdatatype.to_text(question.rdtype), tcp, q.had_tsig))
        r = dns.message.make_response(q)
        if self.wrong_key is not None:
            r.use_tsig(self.wrong_key)
        if self.authoritative:
            r.flags |= dns.flags.AA
        if self.rcode is not None:
            r.set_rcode(self.rcode)
            return [r.to_wire()]
        if question.rdtype == dns.rdatatype.AXFR:
            if not tcp or not self.axfr:
                r.set_rcode(dns.rcode.REFUSED)
                return [r.to_wire()]
            soa = self.zone.find_rrset(ORIGIN, "SOA")
            r.answer.append(soa)
            for name, node in self.zone.nodes.items():
                for rds in node:
                    if rds.rdtype != dns.rdatatype.SOA:
                        rrset = dns.rrset.RRset(name, rds.rdclass, rds.rdtype, rds.covers)
                        rrset.update(rds)
                        r.answer.append(rrset)
            r.answer.append(soa)
            return [r.to_wire()]
        self._fill(r, question.name, question.rdtype)
        if self.empty:
            r.answer.clear()
        out = r.to_wire()
        if not tcp and len(out) > self.udp_limit:
            r.answer.clear()
            r.authority.clear()
            r.flags |= dns.flags.TC
            out = r.to_wire()
        return [out]

    def _fill(self, r: dns.message.Message, qname: dns.name.Name, rdtype: int) -> None:
        cut = next((n for n in (qname, *_ancestors(qname)) if n != ORIGIN and n.is_subdomain(ORIGIN)
                    and self.zone.get_rdataset(n, "NS") is not None), None)
        if cut is not None and not (cut == qname and rdtype == dns.rdatatype.DS):
            r.flags &= ~dns.flags.AA  # a referral
            ns = self.zone.find_rrset(cut, "NS")
            r.authority.append(ns)
            for target in ns:
                glue = self.zone.get_rrset(target.target, "A")
                if glue is not None:
                    r.additional.append(glue)
            return
        node = self.zone.get_node(qname)
        if node is None:
            r.set_rcode(dns.rcode.NXDOMAIN)
        else:
            rrset = self.zone.get_rrset(qname, rdtype)
            if rrset is not None:
                r.answer.append(rrset)
                return
        r.authority.append(self.zone.find_rrset(ORIGIN, "SOA"))


def _ancestors(name: dns.name.Name):
    while len(name) > 1:
        name = name.parent()
        yield name


@pytest.fixture
def responders():
    made: list[Responder] = []

    def make(*args, **kw) -> Responder:
        responder = Responder(*args, **kw)
        made.append(responder)
        return responder

    yield make
    for responder in made:
        responder.stop()


def config_for(tmp_path, secondaries: dict[str, tuple[list[str], bool]]):
    """A config whose example.com has these secondaries: name -> (notify targets, signed)."""
    lines = [f'tsig:\n  xfr-key: {{algorithm: hmac-sha256, secret: "{SECRET}"}}\n', "secondaries:\n"]
    for name, (targets, signed) in secondaries.items():
        key = ", key: xfr-key" if signed else ""
        notify = ", ".join(f"'{t}'" for t in targets)
        lines.append(f"  {name}: {{allow: [127.0.0.0/8], notify: [{notify}]{key}}}\n")
    names = ", ".join(secondaries)
    text = ('listen: ["127.0.0.1:5300"]\n' + "".join(lines)
            + f"zones:\n  example.com:\n    file: z\n    secondaries: [{names}]\n")
    return parse_config(text, str(tmp_path / "hp.yaml"))


def check(config, version, deep=False, **kw):
    report = consistency.check_zone(config, ORIGIN, version, keyring_from_config(config), SystemClock(), deep,
                                    **{**FAST, **kw})
    json.dumps(report)  # always JSON-serialisable
    return report


def by_name(report):
    return {t["secondary"]: t for t in report["targets"]}


# ---------------------------------------------------------------------------------------------
# Serials


def test_in_sync_behind_and_silent_targets(tmp_path, responders):
    ours = version_of(zone_text(10))
    same = responders(zone_text(10), "127.0.0.11")
    old = responders(zone_text(9), "127.0.0.12")
    silent = responders(zone_text(10), "127.0.0.13", silent=True)
    config = config_for(tmp_path, {"a": ([same.endpoint], False), "b": ([old.endpoint], False),
                                   "c": ([silent.endpoint], False)})
    report = check(config, ours)
    rows = by_name(report)
    assert report["zone"] == "example.com" and report["serial"] == 10
    assert (rows["a"]["state"], rows["a"]["serial"], rows["a"]["lag"], rows["a"]["error"]) == ("in-sync", 10, 0, None)
    assert rows["a"]["target"] == same.endpoint and rows["a"]["time_ms"] >= 0 and rows["a"]["tcp"] is False
    assert (rows["b"]["state"], rows["b"]["serial"], rows["b"]["lag"]) == ("behind", 9, 1)
    assert (rows["c"]["state"], rows["c"]["serial"], rows["c"]["lag"]) == ("unreachable", None, None)
    assert rows["c"]["error"] == "timeout (2 x 0.3 s)" and rows["c"]["time_ms"] is None
    assert report["exit"] == 2
    assert [q[:2] for q in same.queries] == [("example.com.", "SOA")]
    assert len(silent.queries) == 0


def test_exit_1_when_only_behind_0_when_all_in_sync(tmp_path, responders):
    ours = version_of(zone_text(10))
    same = responders(zone_text(10), "127.0.0.11")
    old = responders(zone_text(7), "127.0.0.12")
    assert check(config_for(tmp_path, {"a": ([same.endpoint], False)}), ours)["exit"] == 0
    report = check(config_for(tmp_path, {"a": ([same.endpoint], False), "b": ([old.endpoint], False)}), ours)
    assert report["exit"] == 1 and by_name(report)["b"]["lag"] == 3


def test_lag_wraps_around_and_ahead_or_incomparable_is_drifted(tmp_path, responders):
    ours = version_of(zone_text(2))
    wrapped = responders(zone_text(2**32 - 3), "127.0.0.11")  # 4 behind across the wrap
    ahead = responders(zone_text(5), "127.0.0.12")
    incomparable = responders(zone_text(2 + 2**31), "127.0.0.13")
    config = config_for(tmp_path, {"w": ([wrapped.endpoint], False), "a": ([ahead.endpoint], False),
                                   "i": ([incomparable.endpoint], False)})
    rows = by_name(report := check(config, ours))
    assert (rows["w"]["state"], rows["w"]["lag"]) == ("behind", 5)
    assert (rows["a"]["state"], rows["a"]["lag"], rows["a"]["error"]) == ("drifted", -3, "ahead of ours by 3")
    assert (rows["i"]["state"], rows["i"]["lag"]) == ("drifted", None)
    assert "incomparable" in rows["i"]["error"]
    assert report["exit"] == 1


def test_every_target_of_every_secondary_in_config_order(tmp_path, responders):
    ours = version_of(zone_text(1))
    r1, r2, r3 = (responders(zone_text(1), f"127.0.0.{20 + i}") for i in range(3))
    config = config_for(tmp_path, {"x": ([r1.endpoint, r2.endpoint], False), "y": ([r3.endpoint], False)})
    report = check(config, ours)
    assert [(t["secondary"], t["target"]) for t in report["targets"]] == [
        ("x", r1.endpoint), ("x", r2.endpoint), ("y", r3.endpoint)]
    assert report["exit"] == 0


def test_tsig_signed_query_and_signed_answer(tmp_path, responders):
    config = config_for(tmp_path, {"k": (["127.0.0.1:1"], True)})  # for the keyring only
    keyring = keyring_from_config(config)
    signed = responders(zone_text(4), "127.0.0.11", keyring=keyring)
    config = config_for(tmp_path, {"k": ([signed.endpoint], True)})
    row = check(config, version_of(zone_text(4)))["targets"][0]
    assert (row["state"], row["signed"]) == ("in-sync", True)
    assert signed.queries[0][3] is True  # the responder saw a TSIG that verified


def test_tsig_failures_are_named(tmp_path, responders):
    config = config_for(tmp_path, {"k": (["127.0.0.1:1"], True)})
    key = next(iter(keyring_from_config(config).values()))
    other = dns.tsig.Key(key.name, "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==", key.algorithm)
    refusing = responders(zone_text(4), "127.0.0.11", keyring={key.name: other})  # cannot verify ours
    wrong = responders(zone_text(4), "127.0.0.12", wrong_key=other)  # signs with another secret
    unsigned = responders(zone_text(4), "127.0.0.13")  # answers a signed query unsigned
    config = config_for(tmp_path, {"r": ([refusing.endpoint], True), "w": ([wrong.endpoint], True),
                                   "u": ([unsigned.endpoint], True)})
    rows = by_name(report := check(config, version_of(zone_text(4))))
    assert rows["r"]["error"] == "TSIG: unsigned REFUSED answer to our signed query"
    assert rows["w"]["error"] == "TSIG: the answer's signature does not verify"
    assert rows["u"]["error"] == "TSIG: unsigned NOERROR answer to our signed query"
    assert {t["state"] for t in report["targets"]} == {"unreachable"} and report["exit"] == 2


def test_error_rcodes_and_bad_answers(tmp_path, responders):
    servfail = responders(zone_text(4), "127.0.0.11", rcode=dns.rcode.SERVFAIL)
    refused = responders(zone_text(4), "127.0.0.12", rcode=dns.rcode.REFUSED)
    not_aa = responders(zone_text(4), "127.0.0.13", authoritative=False)
    empty = responders(zone_text(4), "127.0.0.14", empty=True)
    config = config_for(tmp_path, {"s": ([servfail.endpoint], False), "r": ([refused.endpoint], False),
                                   "n": ([not_aa.endpoint], False), "e": ([empty.endpoint], False)})
    rows = by_name(check(config, version_of(zone_text(4))))
    assert rows["s"]["error"].startswith("SERVFAIL")
    assert rows["r"]["error"].startswith("REFUSED")
    assert rows["n"]["error"] == "bad answer: not authoritative (AA not set)"
    assert rows["e"]["error"] == "bad answer: no SOA for example.com in the answer"
    assert {t["state"] for t in rows.values()} == {"unreachable"}


def test_truncated_answer_is_retried_over_tcp(tmp_path, responders):
    tiny = responders(zone_text(4), "127.0.0.11", udp_limit=40)
    row = check(config_for(tmp_path, {"t": ([tiny.endpoint], False)}), version_of(zone_text(4)))["targets"][0]
    assert (row["state"], row["tcp"]) == ("in-sync", True)
    assert [q[2] for q in tiny.queries] == [False, True]


def test_a_closed_port_is_unreachable(tmp_path):
    port = free_port("127.0.0.11")
    row = check(config_for(tmp_path, {"c": ([f"127.0.0.11:{port}"], False)}), version_of(zone_text(1)))["targets"][0]
    assert row["state"] == "unreachable" and row["error"]


def test_no_notify_targets_is_exit_0_with_a_note(tmp_path):
    text = ('listen: ["127.0.0.1:5300"]\nsecondaries:\n  s: {allow: [127.0.0.2/32]}\n'
            "zones:\n  example.com: {file: z, secondaries: [s]}\n  example.net: {file: z}\n")
    config = parse_config(text, str(tmp_path / "hp.yaml"))
    for zone in ("example.com.", "example.net."):
        report = consistency.check_zone(config, dns.name.from_text(zone), version_of(zone_text(1)), {},
                                        FixedClock(), True)
        assert report["targets"] == [] and report["exit"] == 0
        assert "no notify targets" in report["notes"][0]
        assert "no notify targets" in consistency.format_report(report)


def test_zone_not_loaded_here_reports_their_serials_and_exit_2(tmp_path, responders):
    same = responders(zone_text(3), "127.0.0.11")
    report = check(config_for(tmp_path, {"a": ([same.endpoint], False)}), None, deep=True)
    row = report["targets"][0]
    assert report["serial"] is None and (row["state"], row["serial"], row["lag"]) == ("unknown", 3, None)
    assert report["exit"] == 2 and "not loaded" in report["notes"][0]
    assert "deep" not in row


# ---------------------------------------------------------------------------------------------
# Deep


def test_deep_by_axfr_finds_the_changed_record_and_the_extra_one(tmp_path, responders):
    ours = version_of(zone_text(5))
    same = responders(zone_text(5), "127.0.0.11")
    edited = responders(zone_text(5, www="192.0.2.99", extra="new TXT \"only there\"\n"), "127.0.0.12")
    config = config_for(tmp_path, {"same": ([same.endpoint], False), "edited": ([edited.endpoint], False)})
    rows = by_name(report := check(config, ours, deep=True))
    assert rows["same"]["state"] == "in-sync"
    assert rows["same"]["deep"]["method"] == "axfr" and rows["same"]["deep"]["differing"] == 0
    assert rows["same"]["deep"]["checked"] == len(list(ours.iter_rdatasets()))
    deep = rows["edited"]["deep"]
    assert rows["edited"]["state"] == "drifted" and rows["edited"]["serial"] == 5
    assert rows["edited"]["error"] == "same serial, 2 RRsets differ"
    assert deep["differences"] == [
        {"name": "www.example.com", "type": "A", "ours": ["300 192.0.2.10"], "theirs": ["300 192.0.2.99"]},
        {"name": "new.example.com", "type": "TXT", "ours": [], "theirs": ['300 "only there"']},
    ]
    assert report["exit"] == 1
    text = consistency.format_report(report)
    assert "www.example.com A: ours 300 192.0.2.10 | theirs 300 192.0.2.99" in text


def test_deep_ignores_the_soa_serial_but_not_the_rest_of_the_soa(tmp_path, responders):
    ours = version_of(zone_text(6))
    behind = responders(zone_text(5), "127.0.0.11")
    other_soa = responders(zone_text(6).replace("3600 600 86400 300", "7200 600 86400 300"), "127.0.0.12")
    config = config_for(tmp_path, {"b": ([behind.endpoint], False), "o": ([other_soa.endpoint], False)})
    rows = by_name(check(config, ours, deep=True))
    assert rows["b"]["state"] == "behind" and rows["b"]["deep"]["differing"] == 0
    assert [d["type"] for d in rows["o"]["deep"]["differences"]] == ["SOA"]


def test_deep_falls_back_to_one_query_per_rrset_when_axfr_is_refused(tmp_path, responders):
    ours = version_of(zone_text(5, extra="gone A 192.0.2.7\n"))
    edited = responders(zone_text(5, www="192.0.2.99").replace("txt TXT", "txt 60 TXT"), "127.0.0.12",
                        axfr=False)
    config = config_for(tmp_path, {"e": ([edited.endpoint], False)})
    row = check(config, ours, deep=True)["targets"][0]
    deep = row["deep"]
    assert deep["method"] == "queries" and deep["axfr_error"] == "REFUSED"
    assert row["state"] == "drifted" and deep["error"] is None
    assert sorted((d["name"], d["type"], tuple(d["ours"]), tuple(d["theirs"])) for d in deep["differences"]) == [
        ("gone.example.com", "A", ("300 192.0.2.7",), ()),
        ("txt.example.com", "TXT", ('300 "hello world"',), ('60 "hello world"',)),
        ("www.example.com", "A", ("300 192.0.2.10",), ("300 192.0.2.99",)),
    ]
    asked = {(q[0], q[1]) for q in edited.queries}
    assert ("sub.example.com.", "NS") in asked and ("ns.sub.example.com.", "A") in asked
    assert deep["checked"] == len(list(ours.iter_rdatasets()))


def test_deep_by_queries_compares_the_delegation_and_glue(tmp_path, responders):
    ours = version_of(zone_text(5))
    edited = responders(zone_text(5).replace("ns.sub A 192.0.2.53", "ns.sub A 192.0.2.54"), "127.0.0.12",
                        axfr=False)
    row = check(config_for(tmp_path, {"e": ([edited.endpoint], False)}), ours, deep=True)["targets"][0]
    assert [(d["name"], d["type"], d["theirs"]) for d in row["deep"]["differences"]] == [
        ("ns.sub.example.com", "A", ["300 192.0.2.54"])]


def test_deep_lists_at_most_50_differences_and_counts_them_all(tmp_path, responders):
    hosts = "".join(f"h{i} A 10.0.0.{i}\n" for i in range(60))
    changed = "".join(f"h{i} A 10.0.1.{i}\n" for i in range(60))
    ours = version_of(zone_text(5, extra=hosts))
    edited = responders(zone_text(5, extra=changed), "127.0.0.12")
    report = check(config_for(tmp_path, {"e": ([edited.endpoint], False)}), ours, deep=True)
    deep = report["targets"][0]["deep"]
    assert deep["differing"] == 60 and len(deep["differences"]) == consistency.MAX_DIFFERENCES == 50
    assert "... and 10 more" in consistency.format_report(report)


def test_deep_on_a_target_that_stops_answering_gives_up(tmp_path, responders):
    ours = version_of(zone_text(5))
    flaky = responders(zone_text(5), "127.0.0.12", axfr=False)
    real_answer = flaky.answer
    flaky.answer = lambda wire, tcp: real_answer(wire, tcp) if not flaky.queries else (
        flaky.queries.append(("", "", tcp, False)) or [])
    row = check(config_for(tmp_path, {"e": ([flaky.endpoint], False)}), ours, deep=True)["targets"][0]
    assert row["serial"] == 5 and row["state"] == "unreachable"
    assert row["error"].startswith("deep check: gave up after 3 failed queries in a row")


# ---------------------------------------------------------------------------------------------
# format_report and exit_status on hand-built reports


def target(secondary, state, serial=None, lag=None, time_ms=None, error=None, deep=None):
    row = {"secondary": secondary, "target": f"127.0.0.{len(secondary)}:5301", "serial": serial, "lag": lag,
           "time_ms": time_ms, "tcp": False, "signed": True, "state": state, "error": error}
    if deep is not None:
        row["deep"] = deep
    return row


def test_format_report_is_a_table():
    report = {"zone": "example.com", "serial": 7, "deep": False, "exit": 2, "notes": [], "targets": [
        target("bind", "in-sync", 7, 0, 1.234),
        target("knot", "behind", 6, 1, 0.5),
        target("gone", "unreachable", error="timeout (2 x 2 s)"),
    ]}
    lines = consistency.format_report(report).splitlines()
    assert lines[0] == "example.com: serial 7: 1 in-sync, 1 behind, 1 unreachable"
    assert lines[1].split() == ["SECONDARY", "TARGET", "SERIAL", "LAG", "TIME", "STATE/ERROR"]
    assert lines[2].split() == ["bind", "127.0.0.4:5301", "7", "0", "1.2", "ms", "in-sync"]
    assert lines[3].split() == ["knot", "127.0.0.4:5301", "6", "1", "0.5", "ms", "behind"]
    assert lines[4].split()[:5] == ["gone", "127.0.0.4:5301", "-", "-", "-"]
    assert lines[4].endswith("unreachable: timeout (2 x 2 s)")
    assert len({line.index("TARGET") if "TARGET" in line else line.index("127.") for line in lines[1:]}) == 1


def test_format_report_lists_differences_under_their_target():
    deep = {"method": "queries", "axfr_error": "REFUSED", "checked": 9, "differing": 52, "skipped": 1,
            "error": None, "differences": [
                {"name": "www.example.com", "type": "A", "ours": ["300 192.0.2.10"], "theirs": []},
                {"name": "txt.example.com", "type": "TXT", "ours": ['300 "a"'], "theirs": [],
                 "error": "REFUSED"}]}
    report = {"zone": "example.com", "serial": 7, "deep": True, "exit": 1, "notes": ["a note"], "targets": [
        target("edit", "drifted", 7, 0, 2.0, "same serial, 52 RRsets differ", deep)]}
    text = consistency.format_report(report)
    lines = text.splitlines()
    assert lines[0] == "example.com: serial 7 (deep): 1 drifted"
    assert lines[2].endswith("drifted: same serial, 52 RRsets differ")
    assert "by query per RRset (AXFR: REFUSED): 9 RRsets checked, 52 differ" in lines[3]
    assert lines[4] == "    www.example.com A: ours 300 192.0.2.10 | theirs (none)"
    assert lines[5] == '    txt.example.com TXT: ours 300 "a" | theirs REFUSED'
    assert lines[6] == "    ... and 50 more"
    assert lines[7] == "  note: a note"


def test_format_report_of_a_zone_not_loaded():
    text = consistency.format_report({"zone": "example.net", "serial": None, "targets": [], "exit": 0})
    assert text.splitlines()[0] == "example.net: serial -: no targets"


def test_exit_status_is_the_worst_zone():
    assert consistency.exit_status([]) == 0
    assert consistency.exit_status([{"exit": 0}, {"exit": 0}]) == 0
    assert consistency.exit_status([{"exit": 0}, {"exit": 1}]) == 1
    assert consistency.exit_status([{"exit": 2}, {"exit": 1}, {"exit": 0}]) == 2

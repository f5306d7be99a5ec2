"""Route 53 as an API secondary, end to end: the real daemon (subprocess) pushes to moto's Route 53
(server mode, loopback) through boto3, via a fault proxy that counts the API calls and injects
Route 53 errors. Every check reads what moto holds, directly (not through the proxy), and compares
it with what our zone file says Route 53 must hold: everything but the apex SOA and NS (Route 53's
own), DNSSEC records and types Route 53 does not take."""

from __future__ import annotations

import random
import re
import threading
import time
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")


from tests.helpers import free_port, wait_for
from tests.integration.harness import Daemon, control, scrape
from tests.integration.route53 import (
    Model,
    api_status,
    expected,
    normal,
    render,
    wait_synced,
)
from tests.r53_peer import ENV, FaultProxy, client, create_hosted_zone


@pytest.fixture
def proxy(moto_url):
    p = FaultProxy(moto_url)
    yield p
    p.close()


# -- the zone, as a model we edit and render -------------------------------------------------------

def base_model(n: int, seed: int = 1) -> Model:
    rng = random.Random(seed)
    m: Model = {
        ("@", "MX"): (300, ["10 mail"]),
        ("@", "TXT"): (300, ['"v=spf1 mx -all"']),
        ("@", "CAA"): (300, ['0 issue "letsencrypt.org"']),
        ("@", "DNSKEY"): (3600, ["257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="]),
        ("mail", "A"): (300, ["192.0.2.25"]),
        ("*", "A"): (300, ["192.0.2.250"]),
        ("loc", "LOC"): (300, ["52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m"]),
        ("sub", "NS"): (300, ["ns.sub"]),
        ("ns.sub", "A"): (300, ["192.0.2.53"]),
    }
    # Round-robin pools and multi-valued RRsets, as real zones have: ~2.5 records per RRset.
    count, i = 0, 0
    while count < n:
        host, kind = f"h{i}", rng.random()
        if kind < 0.5:
            key, values = (host, "A"), [f"198.51.{i % 250}.{k + 1}" for k in range(rng.randint(1, 6))]
        elif kind < 0.65:
            key, values = (host, "AAAA"), [f"2001:db8::{i:x}:{k}" for k in range(rng.randint(1, 3))]
        elif kind < 0.75:
            key, values = (host, "TXT"), [f'"token={i}-{k}" "second string"' for k in range(rng.randint(1, 2))]
        elif kind < 0.83:
            key, values = (host, "CNAME"), [f"h{max(i - 1, 0)}"]
        elif kind < 0.92:
            key, values = (host, "MX"), [f"{k * 10} mx{(i + k) % 7}.example.net." for k in range(2)]
        else:
            key, values = (f"_sip._tcp.{host}", "SRV"), [f"10 60 5060 sip{(i + k) % 9}" for k in range(rng.randint(1, 3))]
        m[key] = (300, values)
        count += len(values)
        i += 1
    return m


EDITABLE = re.compile(r"^(h\d+|n\d+|_sip\._tcp\.h\d+)$")


def random_edits(m: Model, rng: random.Random) -> Model:
    """Deletes, TTL changes, changed and added records, new names; only on h*/n* names."""
    m = dict(m)
    for _ in range(rng.randint(10, 60)):
        keys = [k for k in m if EDITABLE.match(k[0])]  # never the apex, glue or the fixed names
        key = rng.choice(keys)
        ttl, values = m[key]
        op = rng.random()
        if op < 0.25:
            del m[key]
        elif op < 0.45:
            m[key] = (rng.choice([60, 120, 600, 86400]), values)
        elif op < 0.7 and key[1] in ("A", "TXT"):
            new = f"192.0.2.{rng.randint(1, 254)}" if key[1] == "A" else f'"edit {rng.randint(0, 10**9)}"'
            m[key] = (ttl, sorted(set(values) | {new}))
        elif op < 0.85 and key[1] == "A":
            m[key] = (ttl, [f"192.0.2.{rng.randint(1, 254)}"])  # changed value
        else:
            m[(f"n{rng.randint(0, 10**9)}", "TXT")] = (300, [f'"new {rng.randint(0, 10**9)}"'])
    return m


def held(r53, zone_id: str, origin: str) -> dict:
    """What moto's Route 53 holds, minus its own apex SOA and NS; one page (moto allows it)."""
    page = r53.list_resource_record_sets(HostedZoneId=zone_id, MaxItems="100000")
    assert not page["IsTruncated"]
    out = {}
    for rr in page["ResourceRecordSets"]:
        name = rr["Name"].replace("\\052", "*").lower()
        if name == origin and rr["Type"] in ("SOA", "NS"):
            continue
        values = sorted(normal(rr["Type"], r["Value"], ".") for r in rr["ResourceRecords"])
        out[(name, rr["Type"])] = (int(rr["TTL"]), values)
    return out


# -- the daemon -------------------------------------------------------------------------------------


def start_daemon(tmp_path, origin: str, text: str, endpoint: str, zone_options: dict | None = None,
                 secondary: str = "", extra: str = "") -> Daemon:
    zone = origin.rstrip(".")
    options = {"secondaries": "[r53]", "serial": "increment", **(zone_options or {})}
    d = Daemon(tmp_path, {zone: text}, extra_zone_config={zone: options},
               extra_config=(f"secondaries:\n  r53:\n    api: route53\n    endpoint_url: {endpoint}\n"
                             f"    retry_s: [0.3, 0.6]\n{secondary}{extra}"))
    d.start(wait_zones=[zone], env=ENV)
    return d


def wait_error(d: Daemon, zone: str, timeout: float = 30) -> dict:
    """Until the API secondary's last sync failed; returns its status."""
    return wait_for(lambda: api_status(d, zone)[1], timeout,
                    until=lambda s: s["error"] is not None and not s["syncing"])


def reload(d: Daemon, zone: str, text: str) -> int:
    d.write_zone(zone, text)
    [r] = control(d, "reload", [zone])["zones"]
    assert r["ok"] and r["changed"], r
    return r["new_serial"]


def change_batches(proxy: FaultProxy) -> list[tuple[int, int, list[str]]]:
    """(records, characters, actions) of every ChangeResourceRecordSets request the proxy passed."""
    out = []
    for body in proxy.change_bodies:
        root = ET.fromstring(body)
        ns = {"r": root.tag.split("}")[0].strip("{")}
        records = chars = 0
        actions = []
        for change in root.iterfind(".//r:Change", ns):
            action = change.find("r:Action", ns).text
            values = [v.text for v in change.iterfind(".//r:ResourceRecord/r:Value", ns)]
            factor = 2 if action == "UPSERT" else 1
            records += factor * len(values)
            chars += factor * sum(len(v) for v in values)
            actions.append(action)
        out.append((records, chars, actions))
    return out


# -- the tests --------------------------------------------------------------------------------------


def test_first_sync_of_5k_records_then_20_random_reloads(tmp_path, moto_url, proxy):
    origin, zone = "big.example.", "big.example"
    r53 = client(moto_url)
    zone_id = create_hosted_zone(r53, origin)
    model = base_model(5000)
    text = render(origin, model)
    started = time.monotonic()
    d = start_daemon(tmp_path, origin, text, proxy.url, zone_options={"serial": "keep"})
    try:
        s = wait_synced(d, zone, timeout=120)
        first = proxy.snapshot()
        assert held(r53, zone_id, origin) == expected(origin, model)
        z, _ = api_status(d, zone)
        assert z["records"] >= 5000 and s["last_sync"]["mode"] == "full" and s["last_sync"]["creates"] > 1500
        assert first["change_resource_record_sets"] >= 5  # 5k records: at least 5 requests of <= 1,000
        assert s["skipped"]["counts"] == {"dnssec": 1, "provider-owned": 2, "unsupported-type": 1}
        print(f"\nfirst sync: {z['records']} records in {s['last_sync']['creates']} RRsets, {dict(first)} "
              f"({sum(first.values())} API requests), {time.monotonic() - started:.1f}s")

        # Each round's check reads moto while the next round reloads: the proxy holds the daemon's
        # next change until the read is done, so the read sees exactly the round it checks.
        rng = random.Random(7)
        pending = None  # (round, model, reader thread, result)
        for round_ in range(21):
            if round_ < 20:
                before, t0 = proxy.snapshot(), time.monotonic()
                model = random_edits(model, rng)
                text = render(origin, model, serial=round_ + 2)
                proxy.gate.clear()
            if pending is not None:
                pending[2].start()
            if round_ < 20:
                serial = reload(d, zone, text)
            if pending is not None:
                pending[2].join(60)
                assert pending[3] and pending[3][0] == expected(origin, pending[1]), f"round {pending[0]}"
            if round_ == 20:
                break
            t1 = time.monotonic()
            proxy.gate.set()
            s = wait_synced(d, zone)
            assert s["serial"] == serial
            used = proxy.snapshot() - before
            assert s["last_sync"]["mode"] == "incremental"
            assert used["list_resource_record_sets"] == 0  # from the journal: no read of the hosted zone
            last = s["last_sync"]
            print(f"round {round_:2}: serial {serial}, -{last['deletes']} ~{last['upserts']} +{last['creates']} "
                  f"RRsets, {sum(used.values())} API requests {dict(used)}; reload {t1 - t0:.1f}s, "
                  f"sync {last['seconds']:.2f}s")
            result: list = []
            reader = threading.Thread(target=lambda out=result: out.append(held(r53, zone_id, origin)))
            pending = (round_, dict(model), reader, result)
        print(f"20 rounds, each checked against moto: {time.monotonic() - started:.1f}s in all")
        # What Route 53 owns or refuses was reported once, not at every sync.
        assert d.log().count("api.skipped") == 3, [x for x in d.log().splitlines() if "api.skipped" in x]
    finally:
        d.stop()


def test_a_change_over_one_requests_limits_is_split(tmp_path, moto_url, proxy):
    origin, zone = "split.example.", "split.example"
    r53 = client(moto_url)
    zone_id = create_hosted_zone(r53, origin)
    model: Model = {("www", "A"): (300, ["192.0.2.1"]), ("old", "TXT"): (300, ['"x"'])}
    d = start_daemon(tmp_path, origin, render(origin, model), proxy.url)
    try:
        wait_synced(d, zone)
        proxy.change_bodies.clear()
        # 1,500 records in 3 RRsets (over 1,000 records) and 100 TXT of 500 characters (over 32,000)
        big = dict(model)
        del big[("old", "TXT")]
        big[("www", "A")] = (60, ["192.0.2.2"])  # an UPSERT (counts twice)
        for j in range(3):
            big[(f"r{j}", "A")] = (300, [f"10.{j}.{i // 250}.{i % 250}" for i in range(500)])
        for i in range(100):
            big[(f"t{i}", "TXT")] = (300, [f'"{"x" * 250}" "{"y" * 250}"'])
        text = render(origin, big)
        reload(d, zone, text)
        s = wait_synced(d, zone)
        assert held(r53, zone_id, origin) == expected(origin, big)
        sent = change_batches(proxy)
        assert len(sent) == s["last_sync"]["requests"] >= 3
        assert all(records <= 1000 and chars <= 32000 for records, chars, _ in sent), sent
        actions = [a for _, _, batch in sent for a in batch]
        assert actions == sorted(actions, key=["DELETE", "UPSERT", "CREATE"].index)  # deletes first
        print(f"\nsplit: {[(r, c) for r, c, _ in sent]} (records, characters) per request")
    finally:
        d.stop()


def test_throttling_is_retried_and_a_rejection_shows_behind_until_it_clears(tmp_path, moto_url, proxy):
    origin, zone = "faults.example.", "faults.example"
    r53 = client(moto_url)
    zone_id = create_hosted_zone(r53, origin)
    model: Model = {("www", "A"): (300, ["192.0.2.1"])}
    mport = free_port()
    d = start_daemon(tmp_path, origin, render(origin, model), proxy.url, extra=f'metrics: "127.0.0.1:{mport}"\n')
    labels = (("secondary", "r53"), ("zone", zone))
    try:
        wait_synced(d, zone)
        # Throttled twice: retried inside the same sync, which succeeds.
        proxy.fail("change_resource_record_sets", "Throttling", "Rate exceeded", times=2)
        model[("api", "A")] = (300, ["192.0.2.2"])
        text = render(origin, model)
        reload(d, zone, text)
        s = wait_synced(d, zone)
        assert proxy.failed[("change_resource_record_sets", "Throttling")] == 2
        assert s["last_sync"]["attempts"] == 3 and s["error"] is None
        assert held(r53, zone_id, origin) == expected(origin, model)

        # PENDING twice: the sync is not done (nor its serial recorded) until Route 53 says INSYNC.
        polls = proxy.counts["get_change"]
        proxy.pending_polls = 2
        model[("api", "A")] = (300, ["192.0.2.3"])
        serial = reload(d, zone, render(origin, model))
        time.sleep(0.3)
        _, s = api_status(d, zone)
        assert s["syncing"] and s["serial"] == serial - 1 and s["behind"]
        s = wait_synced(d, zone)
        assert proxy.counts["get_change"] - polls == 3 and proxy.pending_polls == 0

        # Rejected until the cause goes: behind, with Route 53's message and the RRsets.
        message = "RRSet with DNS name bad.faults.example. is not permitted in zone faults.example."
        proxy.fail("change_resource_record_sets", "InvalidChangeBatch", message, times=None)
        good_model = dict(model)
        model[("bad", "TXT")] = (300, ['"refused"'])
        text = render(origin, model)
        serial = reload(d, zone, text)
        s = wait_error(d, zone)
        assert s["behind"] is True and s["serial"] == serial - 1
        assert s["error"]["code"] == "InvalidChangeBatch" and message in s["error"]["message"]
        assert ["bad.faults.example.", "TXT", "CREATE"] in s["error"]["rrsets"]
        assert held(r53, zone_id, origin) == expected(origin, good_model)  # nothing half-applied
        out = d.hpctl("status", zone)
        assert out.returncode == 0
        line = next(x for x in out.stdout.splitlines() if "<- r53" in x)
        assert "behind" in line and "ERROR" in line and message in line and "bad.faults.example. TXT" in line
        check = d.hpctl("check", zone)
        assert check.returncode == 1, check.stdout + check.stderr  # behind
        assert "behind" in check.stdout
        time.sleep(1.5)  # retried with backoff meanwhile, still refused
        _, s = api_status(d, zone)
        assert s["failures"] >= 2 and s["behind"]
        m = scrape(mport)
        assert m[("hiddenprimary_api_serial", labels)] == serial - 1
        assert m[("hiddenprimary_api_lag", labels)] == 1
        assert m[("hiddenprimary_api_failures", labels)] >= 2
        assert m[("hiddenprimary_api_errors_total", (("code", "InvalidChangeBatch"),) + labels)] >= 2
        calls = m[("hiddenprimary_api_requests_total", (("operation", "change_resource_record_sets"),
                                                          ("secondary", "r53")))]
        assert calls == proxy.counts["change_resource_record_sets"]  # every call we made reached Route 53

        proxy.clear()  # the cause goes: the next retry (no reload needed) catches up
        s = wait_synced(d, zone)
        assert s["serial"] == serial and s["error"] is None and s["last_sync"]["mode"] == "full"
        assert held(r53, zone_id, origin) == expected(origin, model)
        assert "api.sync.failed" in d.log() and "InvalidChangeBatch" in d.log()
        m = scrape(mport)
        assert (m[("hiddenprimary_api_lag", labels)], m[("hiddenprimary_api_failures", labels)]) == (0, 0)
    finally:
        d.stop()


def test_a_stuck_sync_never_blocks_reloads_and_the_newest_version_wins(tmp_path, moto_url, proxy):
    origin, zone = "coalesce.example.", "coalesce.example"
    r53 = client(moto_url)
    zone_id = create_hosted_zone(r53, origin)
    model: Model = {("www", "A"): (300, ["192.0.2.1"])}
    d = start_daemon(tmp_path, origin, render(origin, model), proxy.url)
    try:
        first = wait_synced(d, zone)["serial"]
        proxy.gate.clear()  # Route 53 hangs: the next change request waits in the proxy
        serials = []
        for i in range(3):
            model[(f"n{i}", "TXT")] = (300, [f'"{i}"'])
            t0 = time.monotonic()
            serials.append(reload(d, zone, render(origin, model)))
            assert time.monotonic() - t0 < 5  # reloads go on while the sync is stuck
            assert d.query(f"n{i}.{zone}", "TXT").answer  # and the new version is served
        _, s = api_status(d, zone)
        assert s["syncing"] and s["serial"] == first
        proxy.gate.set()
        s = wait_synced(d, zone)
        assert held(r53, zone_id, origin) == expected(origin, model)
        # The stuck sync took the first reload; one more sync folded the other two into one plan.
        oks = [line for line in d.log().splitlines() if "api.sync.ok" in line]
        assert [re.search(r"serial=(\S+)", line).group(1) for line in oks[-2:]] == [
            f"{first}->{serials[0]}", f"{serials[0]}->{serials[2]}"]
        assert s["last_sync"]["creates"] == 2 and s["last_sync"]["requests"] == 1
    finally:
        proxy.gate.set()
        d.stop()


def test_restart_catches_up_from_the_journal_or_replans(tmp_path, moto_url, proxy):
    origin, zone = "restart.example.", "restart.example"
    r53 = client(moto_url)
    zone_id = create_hosted_zone(r53, origin)
    model: Model = {("www", "A"): (300, ["192.0.2.1"]), ("a", "TXT"): (300, ['"a"'])}
    d = start_daemon(tmp_path, origin, render(origin, model), proxy.url,
                     zone_options={"journal": "{max_entries: 2}"})
    try:
        first = wait_synced(d, zone)["serial"]
        d.stop()
        # Edited while down: at start the file is a reload, a journal diff; the sync takes it from there.
        model[("www", "A")] = (300, ["192.0.2.99"])
        model[("new", "A")] = (300, ["192.0.2.7"])
        text = render(origin, model)
        d.write_zone(zone, text)
        before = proxy.snapshot()
        d.start(wait_zones=[zone], env=ENV)
        s = wait_synced(d, zone)
        assert s["serial"] == first + 1 and s["last_sync"]["mode"] == "incremental"
        assert (proxy.snapshot() - before)["list_resource_record_sets"] == 0  # no read: the journal sufficed
        assert held(r53, zone_id, origin) == expected(origin, model)
        d.stop()

        # Three reloads while the API secondary is not fed; the journal keeps 2 diffs, so it no
        # longer reaches back to the serial Route 53 holds: the next start re-plans from a read.
        config = d.config.read_text()
        d.config.write_text(config.replace("secondaries: [r53]", "secondaries: []"))
        d.start(wait_zones=[zone], env=ENV)
        for i in range(3):
            model[(f"gap{i}", "A")] = (300, [f"192.0.2.{10 + i}"])
            reload(d, zone, render(origin, model))
        d.stop()
        d.config.write_text(config)
        text = render(origin, model)
        d.start(wait_zones=[zone], env=ENV)
        s = wait_synced(d, zone)
        assert s["last_sync"]["mode"] == "full"
        assert f"no longer reaches back to serial {first + 1}" in s["last_sync"]["why"]
        assert held(r53, zone_id, origin) == expected(origin, model)
    finally:
        d.stop()


def test_plan_and_check_against_route53(tmp_path, moto_url, proxy):
    origin, zone = "plan.example.", "plan.example"
    r53 = client(moto_url)
    zone_id = create_hosted_zone(r53, origin)
    model: Model = {("www", "A"): (300, ["192.0.2.1"]), ("mail", "A"): (300, ["192.0.2.25"])}
    text = render(origin, model)
    d = start_daemon(tmp_path, origin, text, proxy.url)
    try:
        wait_synced(d, zone)
        r = d.hpctl("check", zone)
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.search(r"r53\s+route53:\S+\s+\d+\s+0\s+.*in-sync", r.stdout), r.stdout
        r = d.hpctl("plan", zone)
        assert r.returncode == 0 and "in sync: nothing to change" in r.stdout, r.stdout + r.stderr

        # Someone edits the hosted zone behind our back.
        r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
            {"Action": "CREATE", "ResourceRecordSet": {"Name": f"rogue.{origin}", "Type": "A", "TTL": 60,
                                                        "ResourceRecords": [{"Value": "192.0.2.66"}]}},
            {"Action": "UPSERT", "ResourceRecordSet": {"Name": f"www.{origin}", "Type": "A", "TTL": 300,
                                                        "ResourceRecords": [{"Value": "192.0.2.2"}]}}]})
        r = d.hpctl("check", zone)
        assert r.returncode == 1, r.stdout + r.stderr
        assert "drifted" in r.stdout and "2 RRsets differ" in r.stdout
        assert "rogue.plan.example A: ours (none) | theirs 60 192.0.2.66" in r.stdout
        r = d.hpctl("plan", zone, "--secondary", "r53")
        assert r.returncode == 0, r.stderr
        print("\n" + r.stdout)
        assert "1 to delete, 1 to update, 0 to create, 2 skipped" in r.stdout
        assert "- rogue.plan.example. A 60 192.0.2.66" in r.stdout
        assert "~ www.plan.example. A 300 192.0.2.1 (was: 300 192.0.2.2)" in r.stdout
        assert "= plan.example. SOA: skipped" in r.stdout
        assert ("rogue.plan.example.", "A") in held(r53, zone_id, origin)  # a plan applies nothing
        # A reload makes a sync, which fixes only what it touches; the plan above still holds.

        proxy.fail("list_resource_record_sets", "ServiceUnavailable", "try later", times=None)
        r = d.hpctl("check", zone)
        assert r.returncode == 2 and "unreachable" in r.stdout and "ServiceUnavailable" in r.stdout, r.stdout
        r = d.hpctl("plan", zone)
        assert r.returncode == 1 and "cannot read the hosted zone" in r.stderr, r.stderr
        proxy.clear()
        r = d.hpctl("plan", zone, "--secondary", "nope")
        assert r.returncode == 2 and "not an API secondary" in r.stderr
    finally:
        d.stop()

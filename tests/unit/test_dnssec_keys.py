"""DNSSEC keys: created once with private permissions, loaded unchanged afterwards, never
regenerated when a stored key is lost (reliability checklist J1), and DS/CDS/CDNSKEY that agree
with dnspython and BIND."""

import json
import os
import shutil
import stat
import subprocess

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import pytest

from hiddenprimary.config import Dnssec
from hiddenprimary.dnssec import keys as keysmod
from hiddenprimary.dnssec.keys import (
    DnssecKeyError,
    cdnskey_rdataset,
    cds_rdataset,
    dnskey_rdataset,
    ds_records,
    key_directory,
    load_or_create_keys,
)
from hiddenprimary.errors import HiddenPrimaryError

ZONE = dns.name.from_text("example.com.")
NOW = 1_700_000_000.0
CSK = Dnssec()
SPLIT = Dnssec(ksk_zsk=True)
ED = Dnssec(algorithm="ED25519")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def files(directory):
    return sorted(os.listdir(directory))


def key_files(directory):
    return [f for f in files(directory) if f.endswith(".pem")]


def sign_and_validate(key, keys):
    rrset = dns.rrset.from_text(ZONE, 300, "IN", "A", "192.0.2.1", "192.0.2.2")
    rrsig = dns.dnssec.sign(
        rrset,
        key.private_key,
        ZONE,
        key.dnskey,
        inception=NOW - 3600,
        expiration=NOW + 86400,
    )
    sigs = dns.rrset.from_rdata_list(ZONE, 300, [rrsig])
    dns.dnssec.validate(
        rrset, sigs, {ZONE: dnskey_rdataset(keys, 3600)}, now=NOW
    )  # raises if bad


def test_first_use_creates_one_csk_with_private_permissions(tmp_path):
    keys = load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    assert len(keys) == 1
    (csk,) = keys
    assert csk.role == "csk" and csk.signs_keys and csk.signs_zone
    assert csk.dnskey.flags == 257 and csk.algorithm == 13 and csk.zone == ZONE
    directory = key_directory(str(tmp_path), ZONE)
    assert directory == str(tmp_path / "keys" / "example.com.")
    assert mode(directory) == 0o700 and mode(tmp_path / "keys") == 0o700
    assert files(directory) == [
        f"csk-{csk.key_tag:05d}.pem",
        "state.json",
    ]  # no temp files left
    for f in files(directory):
        assert mode(os.path.join(directory, f)) == 0o600
    assert not [
        f for f in files(tmp_path / "keys") if f.startswith(".")
    ]  # staging dir gone
    state = json.loads((tmp_path / "keys" / "example.com." / "state.json").read_text())
    assert state["keys"][0]["key_tag"] == csk.key_tag
    assert state["keys"][0]["role"] == "csk" and state["keys"][0]["created"] == NOW
    assert state["keys"][0]["algorithm"] == "ECDSAP256SHA256"
    sign_and_validate(csk, keys)
    assert "PRIVATE" not in repr(csk) and "private_key" not in repr(csk)


def test_second_use_loads_the_same_keys(tmp_path):
    first = load_or_create_keys(str(tmp_path), ZONE, SPLIT, NOW)
    before = files(key_directory(str(tmp_path), ZONE))
    second = load_or_create_keys(str(tmp_path), ZONE, SPLIT, NOW + 86400)
    assert [k.key_tag for k in second] == [k.key_tag for k in first]
    assert [k.dnskey for k in second] == [k.dnskey for k in first]
    assert [(k.signs_keys, k.signs_zone) for k in second] == [
        (k.signs_keys, k.signs_zone) for k in first
    ]
    assert files(key_directory(str(tmp_path), ZONE)) == before
    for k in second:
        sign_and_validate(k, first)  # the loaded private key matches the first DNSKEY


def test_ksk_zsk_gives_two_keys_with_the_right_flags_and_roles(tmp_path):
    ksk, zsk = load_or_create_keys(str(tmp_path), ZONE, SPLIT, NOW)
    assert (ksk.role, ksk.dnskey.flags, ksk.signs_keys, ksk.signs_zone) == (
        "ksk",
        257,
        True,
        False,
    )
    assert (zsk.role, zsk.dnskey.flags, zsk.signs_keys, zsk.signs_zone) == (
        "zsk",
        256,
        False,
        True,
    )
    assert ksk.key_tag != zsk.key_tag
    assert len(key_files(key_directory(str(tmp_path), ZONE))) == 2
    sign_and_validate(ksk, [ksk, zsk])
    sign_and_validate(zsk, [ksk, zsk])


@pytest.mark.parametrize("cfg", [ED, Dnssec(algorithm="ED25519", ksk_zsk=True)])
def test_ed25519(tmp_path, cfg):
    keys = load_or_create_keys(str(tmp_path), ZONE, cfg, NOW)
    assert {k.algorithm for k in keys} == {15}
    again = load_or_create_keys(str(tmp_path), ZONE, cfg, NOW)
    assert [k.dnskey for k in again] == [k.dnskey for k in keys]
    for k in again:
        sign_and_validate(k, keys)


def test_zones_get_separate_directories(tmp_path):
    a = load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    b = load_or_create_keys(str(tmp_path), dns.name.from_text("Example.NET."), CSK, NOW)
    assert a[0].dnskey != b[0].dnskey
    assert sorted(os.listdir(tmp_path / "keys")) == ["example.com.", "example.net."]
    assert key_directory("/d", dns.name.root) == "/d/keys/root-zone"
    assert (
        key_directory("/d", dns.name.from_text(r"a\/b.example."))
        == "/d/keys/a%2Fb.example."
    )


@pytest.mark.parametrize("cfg", [CSK, SPLIT])
def test_deleted_key_file_raises_and_no_key_is_generated(tmp_path, cfg):
    load_or_create_keys(str(tmp_path), ZONE, cfg, NOW)
    directory = key_directory(str(tmp_path), ZONE)
    victim = os.path.join(directory, key_files(directory)[-1])
    os.unlink(victim)
    before = files(directory)
    with pytest.raises(DnssecKeyError) as e:
        load_or_create_keys(str(tmp_path), ZONE, cfg, NOW)
    assert e.value.path == victim
    assert str(e.value).startswith(victim + ": ") and "\n" not in str(e.value)
    assert "missing" in str(e.value)
    assert isinstance(e.value, HiddenPrimaryError)
    assert files(directory) == before


@pytest.mark.parametrize(
    "garbage",
    [
        b"",
        b"not a key at all\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        os.urandom(300),
    ],
)
def test_garbage_key_file_raises_naming_the_file(tmp_path, garbage):
    load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    directory = key_directory(str(tmp_path), ZONE)
    victim = os.path.join(directory, key_files(directory)[0])
    with open(victim, "wb") as f:
        f.write(garbage)
    before = files(directory)
    with pytest.raises(DnssecKeyError) as e:
        load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    assert e.value.path == victim and "not a valid" in e.value.reason
    assert files(directory) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file")
def test_unreadable_key_file_raises(tmp_path):
    load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    directory = key_directory(str(tmp_path), ZONE)
    victim = os.path.join(directory, key_files(directory)[0])
    os.chmod(victim, 0)
    with pytest.raises(DnssecKeyError, match="unreadable") as e:
        load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    assert e.value.path == victim


def test_key_file_swapped_for_another_valid_key_raises(tmp_path):
    load_or_create_keys(str(tmp_path), ZONE, SPLIT, NOW)
    directory = key_directory(str(tmp_path), ZONE)
    ksk_file, zsk_file = sorted(key_files(directory))  # "ksk-..." < "zsk-..."
    shutil.copyfile(
        os.path.join(directory, zsk_file), os.path.join(directory, ksk_file)
    )
    with pytest.raises(DnssecKeyError, match="does not match") as e:
        load_or_create_keys(str(tmp_path), ZONE, SPLIT, NOW)
    assert e.value.path == os.path.join(directory, ksk_file)


def test_key_of_the_wrong_algorithm_raises(tmp_path):
    load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    other = load_or_create_keys(str(tmp_path / "other"), ZONE, ED, NOW)
    directory = key_directory(str(tmp_path), ZONE)
    src = os.path.join(
        key_directory(str(tmp_path / "other"), ZONE),
        key_files(key_directory(str(tmp_path / "other"), ZONE))[0],
    )
    shutil.copyfile(src, os.path.join(directory, key_files(directory)[0]))
    assert other
    with pytest.raises(DnssecKeyError, match="not a ECDSAP256SHA256 key"):
        load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"[]", b'{"format": 1, "zone": "example.com.", "keys": []}'],
)
def test_corrupt_state_file_raises(tmp_path, content):
    load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    state = os.path.join(key_directory(str(tmp_path), ZONE), "state.json")
    with open(state, "wb") as f:
        f.write(content)
    before = files(os.path.dirname(state))
    with pytest.raises(DnssecKeyError, match="corrupt") as e:
        load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    assert e.value.path == state
    assert files(os.path.dirname(state)) == before


def test_deleted_state_file_with_keys_left_raises(tmp_path):
    load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    directory = key_directory(str(tmp_path), ZONE)
    os.unlink(os.path.join(directory, "state.json"))
    before = files(directory)
    with pytest.raises(DnssecKeyError, match="state file missing"):
        load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    assert files(directory) == before


def test_empty_key_directory_is_a_first_use(tmp_path):
    directory = key_directory(str(tmp_path), ZONE)
    os.makedirs(directory)
    (key,) = load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    assert files(directory) == [f"csk-{key.key_tag:05d}.pem", "state.json"]


def test_algorithm_change_raises_and_keeps_the_keys(tmp_path):
    (csk,) = load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    directory = key_directory(str(tmp_path), ZONE)
    before = files(directory)
    with pytest.raises(
        DnssecKeyError, match="algorithm rollover is not supported"
    ) as e:
        load_or_create_keys(str(tmp_path), ZONE, ED, NOW)
    assert e.value.path == os.path.join(directory, "state.json")
    assert "ECDSAP256SHA256" in str(e.value) and "ED25519" in str(e.value)
    assert files(directory) == before
    assert load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)[0].dnskey == csk.dnskey


def test_key_layout_change_raises(tmp_path):
    load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    with pytest.raises(DnssecKeyError, match="rollover is not supported"):
        load_or_create_keys(str(tmp_path), ZONE, SPLIT, NOW)
    load_or_create_keys(str(tmp_path / "b"), ZONE, SPLIT, NOW)
    with pytest.raises(DnssecKeyError, match="rollover is not supported"):
        load_or_create_keys(str(tmp_path / "b"), ZONE, CSK, NOW)


def test_unknown_algorithm_is_refused(tmp_path):
    with pytest.raises(ValueError):
        load_or_create_keys(str(tmp_path), ZONE, Dnssec(algorithm="RSASHA1"), NOW)
    assert not (tmp_path / "keys").exists()


def test_failed_creation_leaves_nothing_behind(tmp_path, monkeypatch):
    def boom(path, data, mode=0o600):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keysmod, "_write_atomic", boom)
    with pytest.raises(OSError):
        load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    assert os.listdir(tmp_path / "keys") == []
    monkeypatch.undo()
    assert len(load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)) == 1


# --- records -----------------------------------------------------------------------------------


def test_records_for_a_csk(tmp_path):
    keys = load_or_create_keys(str(tmp_path), ZONE, CSK, NOW)
    dnskeys = dnskey_rdataset(keys, 3600)
    assert (
        dnskeys.rdtype == dns.rdatatype.DNSKEY
        and dnskeys.ttl == 3600
        and list(dnskeys) == [keys[0].dnskey]
    )
    (ds,) = ds_records(keys)
    assert ds == dns.dnssec.make_ds(ZONE, keys[0].dnskey, "SHA256")
    assert ds.key_tag == keys[0].key_tag and ds.digest_type == 2 and ds.algorithm == 13
    cds = cds_rdataset(keys, 3600)
    assert cds.rdtype == dns.rdatatype.CDS and cds.ttl == 3600
    assert [r.to_text() for r in cds] == [ds.to_text()]
    cdnskey = cdnskey_rdataset(keys, 3600)
    assert cdnskey.rdtype == dns.rdatatype.CDNSKEY
    assert [r.to_text() for r in cdnskey] == [keys[0].dnskey.to_text()]
    assert cdnskey == dns.rdataset.from_rdata(
        3600, dns.dnssec.make_cdnskey(keys[0].private_key.public_key(), 13, 257)
    )


def test_records_for_ksk_zsk_cover_only_the_ksk(tmp_path):
    ksk, zsk = keys = load_or_create_keys(str(tmp_path), ZONE, SPLIT, NOW)
    assert sorted(r.to_text() for r in dnskey_rdataset(keys, 60)) == sorted(
        [ksk.dnskey.to_text(), zsk.dnskey.to_text()]
    )
    assert ds_records(keys) == [dns.dnssec.make_ds(ZONE, ksk.dnskey, "SHA256")]
    assert ds_records(keys, "SHA384") == [
        dns.dnssec.make_ds(ZONE, ksk.dnskey, "SHA384")
    ]
    assert [r.key_tag for r in cds_rdataset(keys, 60)] == [ksk.key_tag]
    assert [r.flags for r in cdnskey_rdataset(keys, 60)] == [257]


@pytest.mark.skipif(
    shutil.which("dnssec-dsfromkey") is None,
    reason="BIND dnssec-dsfromkey not installed",
)
@pytest.mark.parametrize("cfg", [CSK, ED, SPLIT])
def test_ds_matches_bind_dnssec_dsfromkey(tmp_path, cfg):
    keys = load_or_create_keys(str(tmp_path), ZONE, cfg, NOW)
    zonefile = tmp_path / "dnskey.zone"
    zonefile.write_text(
        "".join(
            f"{ZONE} 3600 IN DNSKEY {r.to_text()}\n"
            for r in dnskey_rdataset(keys, 3600)
        )
    )
    out = subprocess.run(
        ["dnssec-dsfromkey", "-2", "-f", str(zonefile), str(ZONE)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    bind = []
    for line in out.splitlines():
        fields = line.split()
        assert dns.name.from_text(fields[0]) == ZONE
        i = fields.index("DS")
        bind.append(
            dns.rdata.from_text(
                dns.rdataclass.IN, dns.rdatatype.DS, " ".join(fields[i + 1 :])
            )
        )
    assert bind == ds_records(keys)  # BIND prints DS only for SEP keys, like ds_records

"""DNSSEC signing keys: the shape every signer uses, their storage in data_dir, and the
DNSKEY/DS/CDS/CDNSKEY records built from them (issue 5).

Storage: `data_dir/keys/<zone>/` (mode 0700) holds one PEM (PKCS#8, unencrypted) private key per
key (mode 0600) and `state.json`, which lists every key: file, key tag, algorithm, role
(csk | ksk | zsk), flags, created, and the DNSKEY as text (so a key file swapped for another
key is detected). The first use creates the whole directory in a temporary sibling and renames
it into place, so a crash leaves either no keys or a complete set.

Once the state file exists, keys are only ever loaded, never generated: a missing, unreadable or
corrupt key file raises `DnssecKeyError` (a new key would break the DS chain at the parent,
reliability checklist J1). Tier 2: stdlib, dns, cryptography, hiddenprimary.errors/config only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterable

import dns.dnssec
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.CDNSKEY
import dns.rdtypes.ANY.CDS
import dns.rdtypes.ANY.DNSKEY
import dns.rdtypes.ANY.DS
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from hiddenprimary import data_dir as paths
from hiddenprimary.errors import HiddenPrimaryError

ZONE_FLAG = 0x0100  # RFC 4034 2.1.1
SEP_FLAG = 0x0001  # KSK / CSK (RFC 4034 2.1.1, RFC 3757)

KSK_FLAGS = ZONE_FLAG | SEP_FLAG  # 257
ZSK_FLAGS = ZONE_FLAG  # 256

ROLE_CSK = "csk"
ROLE_KSK = "ksk"
ROLE_ZSK = "zsk"
ROLES = (ROLE_CSK, ROLE_KSK, ROLE_ZSK)

# config name -> DNSSEC algorithm number (RFC 8624)
ALGORITHMS = {"ECDSAP256SHA256": 13, "ED25519": 15}

KEYS_DIR = paths.KEYS_DIR
STATE_FILE = "state.json"
STATE_FORMAT = 1
DIR_MODE = 0o700
FILE_MODE = 0o600


class DnssecKeyError(HiddenPrimaryError):
    """A zone's keys cannot be loaded or used. `path` names the file (or directory) at fault;
    the message is one line: `path: reason`."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = " ".join(str(reason).split())  # always one line
        super().__init__(f"{path}: {self.reason}")


@dataclasses.dataclass(frozen=True)
class SigningKey:
    """One key of a zone. `private_key` is a `cryptography` private key object (never logged)."""

    zone: dns.name.Name
    dnskey: dns.rdtypes.ANY.DNSKEY.DNSKEY
    private_key: object = dataclasses.field(repr=False)
    signs_keys: bool  # KSK or CSK: signs the DNSKEY RRset (and CDS/CDNSKEY)
    signs_zone: bool  # ZSK or CSK: signs every other RRset

    @property
    def algorithm(self) -> int:
        return int(self.dnskey.algorithm)

    @property
    def key_tag(self) -> int:
        return dns.dnssec.key_id(self.dnskey)

    @property
    def role(self) -> str:
        """`csk`, `ksk` or `zsk`."""
        if self.signs_keys and self.signs_zone:
            return ROLE_CSK
        return ROLE_KSK if self.signs_keys else ROLE_ZSK


# ---------------------------------------------------------------------------------------------
# Records built from keys


def dnskey_rdataset(
    keys: Iterable[SigningKey], ttl: int, existing: dns.rdataset.Rdataset | None = None
) -> dns.rdataset.Rdataset:
    """The apex DNSKEY RRset: every key's DNSKEY, plus those already in the zone (`existing`:
    pre-published or foreign keys the operator put in the zone file)."""
    rds = dns.rdataset.Rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    rds.update_ttl(ttl)
    for rd in existing or ():
        rds.add(rd)
    for key in keys:
        rds.add(key.dnskey)
    return rds


def ds_records(
    keys: Iterable[SigningKey], digest: str = "SHA256"
) -> list[dns.rdtypes.ANY.DS.DS]:
    """DS records for the parent: one per key that signs keys (KSK/CSK), in key order."""
    return [dns.dnssec.make_ds(k.zone, k.dnskey, digest) for k in keys if k.signs_keys]


def cds_rdataset(
    keys: Iterable[SigningKey], ttl: int, digest: str = "SHA256"
) -> dns.rdataset.Rdataset:
    """The apex CDS RRset (RFC 7344/8078): the DS the parent should hold, for the KSK/CSK."""
    rds = dns.rdataset.Rdataset(dns.rdataclass.IN, dns.rdatatype.CDS)
    rds.update_ttl(ttl)
    for key in keys:
        if key.signs_keys:
            rds.add(dns.dnssec.make_cds(key.zone, key.dnskey, digest))
    return rds


def cdnskey_rdataset(keys: Iterable[SigningKey], ttl: int) -> dns.rdataset.Rdataset:
    """The apex CDNSKEY RRset (RFC 7344/8078): the KSK/CSK DNSKEYs, as CDNSKEY."""
    rds = dns.rdataset.Rdataset(dns.rdataclass.IN, dns.rdatatype.CDNSKEY)
    rds.update_ttl(ttl)
    for key in keys:
        if key.signs_keys:
            k = key.dnskey
            rds.add(
                dns.rdtypes.ANY.CDNSKEY.CDNSKEY(
                    dns.rdataclass.IN,
                    dns.rdatatype.CDNSKEY,
                    k.flags,
                    k.protocol,
                    k.algorithm,
                    k.key,
                )
            )
    return rds


# ---------------------------------------------------------------------------------------------
# Storage


key_directory = paths.key_directory  # `data_dir/keys/<zone>/`: the one zone -> file-name rule


def load_or_create_keys(
    data_dir: str, zone: dns.name.Name, dnssec_cfg, now: float, create: bool = True
) -> list[SigningKey]:
    """The zone's signing keys. First use (no key directory, or an empty one): generate one CSK,
    or a KSK + ZSK when `dnssec_cfg.ksk_zsk`, and store them. Later: load exactly the keys the
    state file lists, in its order (KSK before ZSK). Raises DnssecKeyError, never generates, when
    anything listed is missing, unreadable or corrupt, or when the config asks for another
    algorithm or another key layout (CSK vs KSK+ZSK) than the stored keys have (a rollover,
    not supported yet). `now` (epoch seconds) is recorded as the keys' creation time."""
    algorithm = _algorithm_number(dnssec_cfg.algorithm)
    directory = key_directory(data_dir, zone)
    state_path = os.path.join(directory, STATE_FILE)
    if _is_first_use(directory, state_path):
        if not create:
            # The caller knows the zone is already served signed: its DS is at the parent, and
            # keys made now would break the chain of trust. The old keys must come back.
            raise DnssecKeyError(directory, "no keys here, but the zone is already served signed: restore this "
                                            "directory from a backup (new keys would not match the DS at the parent)")
        return _create_keys(
            data_dir, directory, zone, algorithm, bool(dnssec_cfg.ksk_zsk), now
        )
    return _load_keys(
        directory,
        state_path,
        zone,
        dnssec_cfg.algorithm,
        algorithm,
        bool(dnssec_cfg.ksk_zsk),
    )


def _algorithm_number(name: str) -> int:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(
            f"unsupported DNSSEC algorithm {name!r}; expected one of {', '.join(ALGORITHMS)}"
        ) from None


def _algorithm_name(number: int) -> str:
    for name, value in ALGORITHMS.items():
        if value == number:
            return name
    return str(number)


def _is_first_use(directory: str, state_path: str) -> bool:
    """True only when no key was ever stored: the directory is absent or empty. A directory with
    anything in it but no state file is an error (someone deleted the state: keys existed)."""
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return True
    except OSError as e:
        raise DnssecKeyError(
            directory, f"key directory unreadable: {e.strerror or e}"
        ) from None
    if not entries:
        return True
    if STATE_FILE not in entries:
        raise DnssecKeyError(
            state_path,
            f"state file missing but the key directory holds {len(entries)} file(s); "
            "refusing to generate new keys (it would break the DS at the parent)",
        )
    return False


def _generate_private_key(algorithm: int):
    if algorithm == 13:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == 15:
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported DNSSEC algorithm {algorithm}")


def _key_matches_algorithm(private_key, algorithm: int) -> bool:
    if algorithm == 13:
        return isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(
            private_key.curve, ec.SECP256R1
        )
    if algorithm == 15:
        return isinstance(private_key, ed25519.Ed25519PrivateKey)
    return False


def _signing_key(zone: dns.name.Name, dnskey, private_key, role: str) -> SigningKey:
    """A key as the signer uses it: a KSK or CSK signs the DNSKEY RRset, a ZSK or CSK the rest."""
    return SigningKey(zone=zone, dnskey=dnskey, private_key=private_key,
                      signs_keys=role in (ROLE_CSK, ROLE_KSK), signs_zone=role in (ROLE_CSK, ROLE_ZSK))


def _new_key(
    zone: dns.name.Name, algorithm: int, role: str, avoid_tags: set[int]
) -> SigningKey:
    flags = ZSK_FLAGS if role == ROLE_ZSK else KSK_FLAGS
    while (
        True
    ):  # two keys of one zone must not share a key tag (validators would try both)
        private_key = _generate_private_key(algorithm)
        dnskey = dns.dnssec.make_dnskey(private_key.public_key(), algorithm, flags)
        if dns.dnssec.key_id(dnskey) not in avoid_tags:
            break
    return _signing_key(zone, dnskey, private_key, role)


def _create_keys(
    data_dir: str,
    directory: str,
    zone: dns.name.Name,
    algorithm: int,
    ksk_zsk: bool,
    now: float,
) -> list[SigningKey]:
    roles = (ROLE_KSK, ROLE_ZSK) if ksk_zsk else (ROLE_CSK,)
    keys: list[SigningKey] = []
    for role in roles:
        keys.append(_new_key(zone, algorithm, role, {k.key_tag for k in keys}))

    parent = os.path.dirname(directory)
    _make_private_dir(data_dir, parent)
    staging = tempfile.mkdtemp(
        prefix=f".{os.path.basename(directory)}.new-", dir=parent
    )  # mode 0700
    try:
        entries = []
        for key in keys:
            filename = f"{key.role}-{key.key_tag:05d}.pem"
            pem = key.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            _write_atomic(os.path.join(staging, filename), pem)
            entries.append(
                {
                    "file": filename,
                    "key_tag": key.key_tag,
                    "algorithm": _algorithm_name(algorithm),
                    "algorithm_number": algorithm,
                    "role": key.role,
                    "flags": int(key.dnskey.flags),
                    "created": now,
                    "dnskey": key.dnskey.to_text(),
                }
            )
        state = {"format": STATE_FORMAT, "zone": zone.to_text(), "keys": entries}
        _write_atomic(
            os.path.join(staging, STATE_FILE),
            (json.dumps(state, indent=2) + "\n").encode(),
        )
        os.chmod(staging, DIR_MODE)
        _fsync_dir(staging)
        os.rename(
            staging, directory
        )  # replaces an empty directory; fails if someone raced us
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return keys


def _load_keys(
    directory: str,
    state_path: str,
    zone: dns.name.Name,
    algorithm_name: str,
    algorithm: int,
    ksk_zsk: bool,
) -> list[SigningKey]:
    entries = _read_state(state_path, zone)
    stored_algorithms = sorted({e["algorithm_number"] for e in entries})
    if stored_algorithms != [algorithm]:
        stored = ", ".join(_algorithm_name(a) for a in stored_algorithms)
        raise DnssecKeyError(
            state_path,
            f"the zone's keys are {stored} but the config asks for {algorithm_name}: "
            "an algorithm rollover is not supported yet; keep the configured algorithm at "
            f"{stored}",
        )
    roles = {e["role"] for e in entries}
    has_split = ROLE_KSK in roles and ROLE_ZSK in roles
    if ksk_zsk and not has_split:
        raise DnssecKeyError(
            state_path,
            "the config asks for ksk_zsk but the zone has a combined key (CSK): "
            "a CSK to KSK/ZSK rollover is not supported yet; set ksk_zsk: false",
        )
    if not ksk_zsk and ROLE_CSK not in roles:
        raise DnssecKeyError(
            state_path,
            "the config asks for a combined key (CSK) but the zone has a KSK and a ZSK: "
            "a KSK/ZSK to CSK rollover is not supported yet; set ksk_zsk: true",
        )
    return [_load_key(directory, zone, e) for e in entries]


def _read_state(state_path: str, zone: dns.name.Name) -> list[dict]:
    try:
        with open(state_path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise DnssecKeyError(
            state_path, "state file missing; refusing to generate new keys"
        ) from None
    except OSError as e:
        raise DnssecKeyError(
            state_path, f"state file unreadable: {e.strerror or e}"
        ) from None

    def corrupt(why: str) -> DnssecKeyError:
        return DnssecKeyError(
            state_path, f"corrupt key state file: {why}; refusing to generate new keys"
        )

    try:
        state = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise corrupt(f"not valid JSON ({e})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise corrupt(f"expected an object with format {STATE_FORMAT}")
    try:
        stored_zone = dns.name.from_text(state.get("zone", ""))
    except (dns.exception.DNSException, ValueError, TypeError):
        raise corrupt("bad zone name") from None
    if stored_zone != zone:
        raise corrupt(f"it belongs to zone {stored_zone}, not {zone}")
    entries = state.get("keys")
    if not isinstance(entries, list) or not entries:
        raise corrupt("no keys listed")
    files = set()
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise corrupt(f"keys[{i}] is not an object")
        for field, kind in (
            ("file", str),
            ("key_tag", int),
            ("algorithm_number", int),
            ("role", str),
            ("flags", int),
            ("dnskey", str),
        ):
            if not isinstance(e.get(field), kind):
                raise corrupt(f"keys[{i}].{field} missing or not a {kind.__name__}")
        if e["role"] not in ROLES:
            raise corrupt(
                f"keys[{i}].role {e['role']!r} is not one of {', '.join(ROLES)}"
            )
        expected_flags = ZSK_FLAGS if e["role"] == ROLE_ZSK else KSK_FLAGS
        if e["flags"] != expected_flags:
            raise corrupt(
                f"keys[{i}] is a {e['role']} with flags {e['flags']}, expected {expected_flags}"
            )
        name = e["file"]
        if (
            name in (STATE_FILE, "", ".", "..")
            or "/" in name
            or "\0" in name
            or name in files
        ):
            raise corrupt(f"keys[{i}].file {name!r} is not a usable file name")
        files.add(name)
    return entries


def _load_key(directory: str, zone: dns.name.Name, entry: dict) -> SigningKey:
    path = os.path.join(directory, entry["file"])
    tag, role = entry["key_tag"], entry["role"]
    what = f"{role} key {tag}"
    try:
        with open(path, "rb") as f:
            pem = f.read()
    except FileNotFoundError:
        raise DnssecKeyError(
            path,
            f"{what} missing; refusing to generate a new key (it would break the DS chain)",
        ) from None
    except OSError as e:
        raise DnssecKeyError(path, f"{what} unreadable: {e.strerror or e}") from None
    try:
        private_key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise DnssecKeyError(
            path, f"{what} is not a valid unencrypted PEM private key (corrupt?)"
        ) from None
    algorithm = entry["algorithm_number"]
    if not _key_matches_algorithm(private_key, algorithm):
        raise DnssecKeyError(path, f"{what} is not a {_algorithm_name(algorithm)} key")
    dnskey = dns.dnssec.make_dnskey(private_key.public_key(), algorithm, entry["flags"])
    try:
        stored = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.DNSKEY, entry["dnskey"]
        )
    except (dns.exception.DNSException, ValueError, TypeError):
        stored = None
    if stored != dnskey or dns.dnssec.key_id(dnskey) != tag:
        raise DnssecKeyError(
            path, f"private key does not match {what} listed in {STATE_FILE}"
        )
    return _signing_key(zone, dnskey, private_key, role)


def _make_private_dir(data_dir: str, path: str) -> None:
    """Create `path` (and `data_dir/keys`) with mode 0700 if absent."""
    keys_root = os.path.join(data_dir, KEYS_DIR)
    for d in (keys_root, path):
        try:
            os.makedirs(d, mode=DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)  # makedirs' mode is masked by the umask
        _fsync_dir(os.path.dirname(d))


def _write_atomic(path: str, data: bytes, mode: int = FILE_MODE) -> None:
    """Write `data` to `path` via a temp file in the same directory: write, fsync, rename."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""The config sections that say who gets our zones: `tsig` (the keys), `secondaries` (who may
transfer, whom we NOTIFY, or `api:` for a provider we push to), with a secondary's `allow` and
`notify` lists. One function per section or key, reading through a `Reader`."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re

import dns.exception
import dns.name

from hiddenprimary.config.model import (
    API_KINDS,
    MIN_TSIG_SECRET,
    NOTIFY_DEFAULT_PORT,
    TSIG_ALGORITHMS,
    TSIG_DIGEST_SIZES,
    ApiSecondary,
    IPNetwork,
    Secondary,
    TsigKey,
    ZoneConfig,
)
from hiddenprimary.config.reader import Reader, join_key, kind, show
from hiddenprimary.config.yaml_lines import Map

SECONDARY_KEYS = ("allow", "key", "notify", "notify_retries_s")
API_KEYS = ("api", "hosted_zones", "endpoint_url", "region", "retry_s")

_HOSTED_ZONE_ID_RE = re.compile(r"^[A-Z0-9]{1,32}$")

# Each hosted zone an API secondary names, to check once the zones are read:
# (secondary name, zone) -> (key path, line, zone as written).
HostedZoneRefs = dict[tuple[str, dns.name.Name], tuple[str, int, str]]


# ---------------------------------------------------------------------------------------------
# tsig


def tsig_keys(r: Reader, top: Map) -> dict[str, TsigKey]:
    value, line = r.get(top, "tsig")
    if value is None:
        return {}
    keys = r.mapping(value, "tsig", line, "a mapping of key name to {algorithm, secret}")
    r.free_keys(keys, "tsig", "key name")
    result: dict[str, TsigKey] = {}
    first_seen: dict[str, str] = {}
    for raw_name, spec in keys.items():
        key_path = join_key("tsig", raw_name)
        key_line = keys.key_lines[raw_name]
        name = r.dns_name(raw_name, key_path, key_line, "TSIG key name")
        canonical = name.to_text(omit_final_dot=True).lower()
        if canonical in result:
            r.fail(
                key_path,
                key_line,
                f"TSIG key {show(raw_name)} is the same name as {show(first_seen[canonical])}",
            )
        m = r.mapping(spec, key_path, keys.value_lines[raw_name], "a mapping with algorithm and secret")
        r.keys(m, key_path, ("algorithm", "secret"), required=("algorithm", "secret"), owner_line=key_line)
        algorithm, alg_value = _tsig_algorithm(r, m, key_path)
        secret = _tsig_secret(r, m, key_path, algorithm, alg_value)
        result[canonical] = TsigKey(name=canonical, algorithm=algorithm.to_text(), secret=secret)
        first_seen[canonical] = raw_name
    return result


def _tsig_algorithm(r: Reader, m: Map, key_path: str) -> tuple[dns.name.Name, str]:
    """dnspython's name of the key's algorithm, and the algorithm as written."""
    alg_value, alg_line = r.get(m, "algorithm")
    alg_path = f"{key_path}.algorithm"
    if not isinstance(alg_value, str):
        r.fail(
            alg_path,
            alg_line,
            f"must be a TSIG algorithm name like hmac-sha256, not {kind(alg_value)}",
        )
    algorithm = TSIG_ALGORITHMS.get(alg_value.strip().lower().rstrip("."))
    if algorithm is None:
        r.fail(
            alg_path,
            alg_line,
            f"unknown TSIG algorithm {show(alg_value)}; expected one of "
            "hmac-sha256, hmac-sha384, hmac-sha512, hmac-sha224, hmac-sha1, hmac-md5",
        )
    return algorithm, alg_value


def _tsig_secret(r: Reader, m: Map, key_path: str, algorithm: dns.name.Name, alg_value: str) -> bytes:
    secret_value, secret_line = r.get(m, "secret")
    secret_path = f"{key_path}.secret"
    if not isinstance(secret_value, str):
        r.fail(
            secret_path,
            secret_line,
            f"must be a base64 string (in quotes), not {kind(secret_value)}",
        )
    try:
        secret = base64.b64decode(secret_value.strip(), validate=True)
    except (binascii.Error, ValueError):
        r.fail(
            secret_path,
            secret_line,
            "is not valid base64 (e.g. generate one with: openssl rand -base64 32)",
        )
    if not secret:
        r.fail(secret_path, secret_line, "must not be empty")
    _check_secret_size(r, secret, algorithm, alg_value, secret_path, secret_line)
    return secret


def _check_secret_size(r: Reader, secret: bytes, algorithm: dns.name.Name, alg_value: str, key_path: str,
                       line: int) -> None:
    """RFC 8945 6: a secret should be at least as long as the HMAC's output. Under
    MIN_TSIG_SECRET octets is refused, between that and the output size is a warning."""
    wanted = TSIG_DIGEST_SIZES[algorithm]
    alg_name = alg_value.strip().lower().rstrip(".")
    advice = f"make one with: openssl rand -base64 {wanted}"
    if len(secret) < MIN_TSIG_SECRET:
        r.fail(key_path, line, f"is {len(secret)} octets; a TSIG secret must be at least "
               f"{MIN_TSIG_SECRET} (RFC 8945 6 recommends {wanted} for {alg_name}; {advice})")
    if len(secret) < wanted:
        r.warn(key_path, line, f"is {len(secret)} octets, shorter than the {wanted}-octet output of "
               f"{alg_name} (RFC 8945 6 recommends at least that; {advice})")


# ---------------------------------------------------------------------------------------------
# secondaries


def secondaries(r: Reader, top: Map, tsig: dict[str, TsigKey]) -> tuple[dict[str, Secondary], HostedZoneRefs]:
    """The secondaries by name, and the hosted zones their `api` options name (for
    `check_hosted_zones`, once the zones are known)."""
    refs: HostedZoneRefs = {}
    value, line = r.get(top, "secondaries")
    if value is None:
        return {}, refs
    secs = r.mapping(value, "secondaries", line, "a mapping of secondary name to {allow, key, notify}")
    r.free_keys(secs, "secondaries", "secondary name")
    result: dict[str, Secondary] = {}
    for name, spec in secs.items():
        key_path = join_key("secondaries", name)
        m = r.mapping(spec, key_path, secs.value_lines[name], "a mapping with allow, key and notify")
        if "api" in m:
            result[name] = Secondary(name=name, allow=(), key=None, notify=(),
                                     api=api(r, m, key_path, name, refs))
            continue
        r.keys(m, key_path, SECONDARY_KEYS)
        allow = _allow(r, m, key_path)
        notify = _notify(r, m, key_path)
        if not allow and not notify:
            r.fail(
                key_path,
                secs.key_lines[name],
                "a secondary needs 'allow' (who may transfer), 'notify' or both",
            )
        key = _key_ref(r, m, key_path, tsig)
        retries = _notify_retries(r, m, key_path)
        result[name] = Secondary(name=name, allow=allow, key=key, notify=notify, notify_retries_s=retries)
    return result, refs


def _key_ref(r: Reader, m: Map, key_path: str, tsig: dict[str, TsigKey]) -> str | None:
    """The canonical name of the TSIG key a secondary's `key` names; None when not given."""
    key_value, key_line = r.get(m, "key")
    if key_value is None:
        return None
    key_ref_path = f"{key_path}.key"
    text = r.string(key_value, key_ref_path, key_line, "a TSIG key name (a string)")
    try:
        canonical = (
            dns.name.from_text(text.strip(), origin=dns.name.root)
            .to_text(omit_final_dot=True)
            .lower()
        )
    except dns.exception.DNSException:
        canonical = None
    if canonical not in tsig:
        defined = ", ".join(tsig) if tsig else "none"
        r.fail(
            key_ref_path,
            key_line,
            f"TSIG key {show(key_value)} is not defined under 'tsig' (defined: {defined})",
        )
    return canonical


def _notify_retries(r: Reader, m: Map, key_path: str) -> tuple[float, ...]:
    value, line = r.get(m, "notify_retries_s")
    if value is None:
        return Secondary.notify_retries_s
    return r.seconds_list(value, f"{key_path}.notify_retries_s", line, "seconds between tries, like [2, 4, 8]",
                          range(0, 21), "at most 20 retries")


def _allow(r: Reader, m: Map, base: str) -> tuple[IPNetwork, ...]:
    value, line = r.get(m, "allow")
    if value is None:
        return ()
    key_path = f"{base}.allow"
    items = r.seq(value, key_path, line, "address prefixes like 192.0.2.1/32")
    result: list[IPNetwork] = []
    for i, item in enumerate(items):
        item_path, item_line = f"{key_path}[{i}]", items.item_lines[i]
        if not isinstance(item, str):
            r.fail(
                item_path,
                item_line,
                f"must be an address prefix like 192.0.2.0/24 (a string), not {kind(item)}",
            )
        text = item.strip()
        try:
            net = ipaddress.ip_network(text, strict=True)
        except ValueError as e:
            if "host bits set" in str(e):
                fixed = ipaddress.ip_network(text, strict=False)
                host = f"{text.split('/')[0]}/{fixed.max_prefixlen}"
                r.fail(
                    item_path,
                    item_line,
                    f"prefix {show(item)} has host bits set (did you mean {fixed} or {host}?)",
                )
            r.fail(
                item_path,
                item_line,
                f"invalid address prefix {show(item)}; expected e.g. 192.0.2.0/24 or 2001:db8::/32",
            )
        if net in result:
            r.fail(
                item_path,
                item_line,
                f"duplicate prefix {show(item)} (same as {key_path}[{result.index(net)}])",
            )
        result.append(net)
    return tuple(result)


def _notify(r: Reader, m: Map, base: str) -> tuple[tuple[str, int], ...]:
    value, line = r.get(m, "notify")
    if value is None:
        return ()
    key_path = f"{base}.notify"
    items = r.seq(value, key_path, line, "addresses like 192.0.2.1:53")
    result: list[tuple[str, int]] = []
    for i, item in enumerate(items):
        item_path, item_line = f"{key_path}[{i}]", items.item_lines[i]
        target = r.host_port(item, item_path, item_line, NOTIFY_DEFAULT_PORT, 1)
        if target in result:
            r.fail(
                item_path,
                item_line,
                f"duplicate NOTIFY target {show(item)} (same as {key_path}[{result.index(target)}])",
            )
        result.append(target)
    return tuple(result)


# ---------------------------------------------------------------------------------------------
# API secondaries


def api(r: Reader, m: Map, key_path: str, name: str, refs: HostedZoneRefs) -> ApiSecondary:
    """`api: route53` and its options. Such a secondary takes no transfers, so no allow/key/notify."""
    for key in SECONDARY_KEYS:
        if key in m:
            r.fail(f"{key_path}.{key}", m.key_lines[key],
                   f"an API secondary takes no '{key}': the provider gets our zone through its API, "
                   "not by zone transfer or NOTIFY")
    r.keys(m, key_path, API_KEYS)
    value, line = r.get(m, "api")
    provider = r.choice(value, f"{key_path}.api", line, API_KINDS, "API provider")
    hosted = _hosted_zones(r, m, key_path, name, refs)
    endpoint = _endpoint_url(r, m, key_path)
    region = _region(r, m, key_path)
    retry = _retry_s(r, m, key_path)
    return ApiSecondary(kind=provider, hosted_zones=hosted, endpoint_url=endpoint, region=region, retry_s=retry)


def _hosted_zones(r: Reader, m: Map, key_path: str, name: str,
                  refs: HostedZoneRefs) -> tuple[tuple[dns.name.Name, str], ...]:
    value, line = r.get(m, "hosted_zones")
    if value is None:
        return ()
    hosted: list[tuple[dns.name.Name, str]] = []
    hz_path = f"{key_path}.hosted_zones"
    zones = r.mapping(value, hz_path, line, "a mapping of zone name to hosted zone ID")
    r.free_keys(zones, hz_path, "zone name")
    for raw, zone_id in zones.items():
        item_path, item_line = join_key(hz_path, raw), zones.value_lines[raw]
        zone = r.dns_name(raw, item_path, zones.key_lines[raw], "zone name")
        if zone in dict(hosted):
            r.fail(item_path, zones.key_lines[raw], f"zone {show(raw)} is listed twice")
        text = r.string(zone_id, item_path, item_line, "a hosted zone ID like Z0123456789ABC (a string)")
        zid = text.strip().removeprefix("/hostedzone/")
        if not _HOSTED_ZONE_ID_RE.match(zid):
            r.fail(item_path, item_line,
                   f"invalid hosted zone ID {show(zone_id)}; expected e.g. Z0123456789ABC")
        hosted.append((zone, zid))
        refs[(name, zone)] = (item_path, zones.key_lines[raw], raw)
    return tuple(hosted)


def _endpoint_url(r: Reader, m: Map, key_path: str) -> str | None:
    value, line = r.get(m, "endpoint_url")
    if value is None:
        return None
    endpoint = r.string(value, f"{key_path}.endpoint_url", line, "a URL (a string)").strip()
    if not re.match(r"^https?://[^\s/]+(/\S*)?$", endpoint):
        r.fail(f"{key_path}.endpoint_url", line,
               f"invalid URL {show(value)}; expected e.g. https://route53.amazonaws.com")
    return endpoint


def _region(r: Reader, m: Map, key_path: str) -> str | None:
    value, line = r.get(m, "region")
    if value is None:
        return None
    region = r.string(value, f"{key_path}.region", line, "a region name like us-east-1 (a string)").strip()
    if not re.match(r"^[a-z0-9-]+$", region):
        r.fail(f"{key_path}.region", line, f"invalid region {show(value)}; expected e.g. us-east-1")
    return region


def _retry_s(r: Reader, m: Map, key_path: str) -> tuple[float, ...]:
    value, line = r.get(m, "retry_s")
    if value is None:
        return ApiSecondary.retry_s
    return r.seconds_list(value, f"{key_path}.retry_s", line, "seconds between retries, like [10, 30, 300]",
                          range(1, 21), "between 1 and 20 retry intervals")


def check_hosted_zones(r: Reader, refs: HostedZoneRefs, zones: dict[dns.name.Name, ZoneConfig]) -> None:
    """A hosted zone named for a zone that does not feed this secondary is a typo, not a wish."""
    for (sec_name, zone), (item_path, line, raw) in refs.items():
        if zone not in zones or sec_name not in zones[zone].secondaries:
            r.fail(item_path, line,
                   f"zone {show(raw)} does not list secondary {show(sec_name)} under its 'secondaries'")

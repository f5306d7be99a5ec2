"""Who may transfer a zone: the source address must be in the `allow` prefixes of a secondary
listed for the zone and, when that secondary has a `key`, the request must carry a valid TSIG made
with that key. Tier 3, pure: config and a `tsig.TsigVerdict` in, a decision out.

Rules, in order (reliability checklist C1-C3, D1-D4):

1. the source is in no `allow` prefix of the zone's secondaries: REFUSED, whatever the TSIG.
   A stranger's bad TSIG gets REFUSED too, unsigned, so strangers learn nothing about our keys;
   a stranger's valid TSIG gets REFUSED signed with that key (it already has the key);
2. a TSIG error (BADKEY/BADSIG/BADTIME/BADTRUNC) from an allowed source: NOTAUTH with that error
   (answer with `tsig.error_response`); a malformed TSIG: FORMERR;
3. allowed if any matching secondary is satisfied: it has no key (address alone is enough; a
   valid TSIG with any known key is fine and the response is signed with it), or the request is
   signed with exactly its key;
4. otherwise REFUSED: unsigned when the request was unsigned, signed with the request's key when
   it was signed with another known key (C3).
"""

from __future__ import annotations

import dataclasses
import ipaddress

import dns.name
import dns.rcode
import dns.tsig

from hiddenprimary.config import Config, IPNetwork, Secondary, ZoneConfig
from hiddenprimary.transfer.tsig import TsigVerdict

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclasses.dataclass(frozen=True)
class Allow:
    """Serve the transfer. `key`: sign every response message with it (None: unsigned)."""

    secondary: str
    key: dns.tsig.Key | None = dataclasses.field(repr=False)  # repr would show the secret


@dataclasses.dataclass(frozen=True)
class Deny:
    """Refuse. `tsig_error` != 0: reply with `tsig.error_response(request, verdict, now)`
    (NOTAUTH). Otherwise reply `rcode`, signed with `sign_with` when it is not None."""

    rcode: int
    reason: str
    sign_with: dns.tsig.Key | None = dataclasses.field(default=None, repr=False)
    tsig_error: int = 0


Decision = Allow | Deny


def peer_addresses(peer_ip: str) -> tuple[IPAddress, ...]:
    """The address to match, plus the IPv4 address inside an IPv4-mapped IPv6 one (a dual-stack
    socket reports 192.0.2.1 as ::ffff:192.0.2.1). Empty when `peer_ip` is not an address."""
    try:
        addr = ipaddress.ip_address(peer_ip.strip())
    except ValueError:
        return ()
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return (addr, addr.ipv4_mapped)
    return (addr,)


def secondary_prefixes(config: Config) -> tuple[IPNetwork, ...]:
    """Every `allow` prefix of every secondary: the sources TCP keeps reserved slots for."""
    return tuple(dict.fromkeys(net for sec in config.secondaries.values() for net in sec.allow))


def in_prefixes(peer_ip: str, prefixes: tuple[IPNetwork, ...]) -> bool:
    return any(addr in net for addr in peer_addresses(peer_ip) for net in prefixes if addr.version == net.version)


def matching_secondaries(config: Config, zone_cfg: ZoneConfig, peer_ip: str) -> list[Secondary]:
    """The zone's secondaries (config order) with an `allow` prefix holding `peer_ip`."""
    addrs = peer_addresses(peer_ip)
    found = []
    for name in zone_cfg.secondaries:
        sec = config.secondaries.get(name)
        if sec is None:
            continue
        if any(addr in net for net in sec.allow for addr in addrs if addr.version == net.version):
            found.append(sec)
    return found


def _config_key(config: Config, name: str) -> dns.tsig.Key | None:
    tk = config.tsig.get(name)
    if tk is None:
        return None
    return dns.tsig.Key(
        dns.name.from_text(tk.name, origin=dns.name.root),
        tk.secret,
        dns.name.from_text(tk.algorithm, origin=dns.name.root),
    )


def _key_text(name: dns.name.Name | None) -> str:
    return "?" if name is None else name.to_text(omit_final_dot=True)


def decide_transfer(
    config: Config, zone_cfg: ZoneConfig, peer_ip: str, verdict: TsigVerdict
) -> Decision:
    """May `peer_ip` transfer `zone_cfg`'s zone with a request whose TSIG check gave `verdict`?"""
    matching = matching_secondaries(config, zone_cfg, peer_ip)
    if not matching:
        # Rule 1. Sign only what verified: a valid key's holder may check our answer; a bad TSIG
        # gets no TSIG-specific answer at all.
        return Deny(
            dns.rcode.REFUSED,
            f"{peer_ip} is not allowed to transfer (no secondary of the zone matches)",
            sign_with=verdict.key if verdict.ok else None,
        )
    names = ",".join(sec.name for sec in matching)

    # Rule 2
    if verdict.formerr:
        return Deny(dns.rcode.FORMERR, f"malformed TSIG: {verdict.reason}")
    if verdict.error:
        return Deny(
            dns.rcode.NOTAUTH,
            f"TSIG {verdict.error_text} key={_key_text(verdict.key_name)}: {verdict.reason}",
            sign_with=verdict.key,
            tsig_error=verdict.error,
        )

    # Rule 3: a secondary whose own key signed the request first (the more specific match),
    # then one that needs no key.
    if verdict.ok:
        for sec in matching:
            if sec.key is not None and _config_key(config, sec.key) == verdict.key:
                return Allow(sec.name, verdict.key)
    for sec in matching:
        if sec.key is None:
            return Allow(sec.name, verdict.key if verdict.ok else None)

    # Rule 4: every matching secondary needs a key, and not the one used (if any).
    wanted = ",".join(sorted({sec.key for sec in matching if sec.key is not None}))
    if verdict.ok:
        return Deny(
            dns.rcode.REFUSED,
            f"signed with key {_key_text(verdict.key_name)}, secondary {names} requires key {wanted}",
            sign_with=verdict.key,
        )
    return Deny(dns.rcode.REFUSED, f"unsigned request, secondary {names} requires key {wanted}")

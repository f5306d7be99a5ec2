"""The benchmark's zone: `records` records of a realistic mix, deterministic from a seed.

    45% A (a fifth of those names with two addresses), 20% AAAA (half of them on an A name,
    dual-stack), 15% CNAME (to a name of the zone, or outside it), 10% MX (two per mail
    domain, to names of the zone), 10% TXT (SPF or site-verification tokens, half on names of
    their own); a fifth of the names one label deeper (www.shop12, api.eu...).

`text(version)` is the zone file at serial BASE_SERIAL + version: each version changes 10 more
A records than the one before (so a reload from version v to v + 1 changes exactly 10 records
and the serial). `queries()` is one dnsperf line per owner name (with a type it has), shuffled."""

from __future__ import annotations

import random

from bench_servers import ZONE

BASE_SERIAL = 2026010100
CHANGED_PER_VERSION = 10
MIX = (("A", 45), ("AAAA", 20), ("CNAME", 15), ("MX", 10), ("TXT", 10))   # percent of the records
PER_NAME = {"A": 1.2, "MX": 2}   # records one pick adds
WORDS = ("host", "web", "mail", "shop", "api", "cdn", "db", "vpn", "app", "static", "img", "dev",
         "blog", "git", "ftp", "ns", "mx", "portal", "login", "status")
PARENTS = ("eu", "us", "asia", "corp", "lab", "prod", "staging")
B32 = "abcdefghijklmnopqrstuvwxyz234567"


class BenchZone:
    def __init__(self, records: int, seed: int = 13):
        self.records = records
        rng = random.Random(seed * 1_000_003 + records)
        self._rng = rng
        self.lines: list[str] = []          # one record per line, relative owner names
        self.owners: list[tuple[str, str]] = []   # (owner, query type)
        self._a_lines: list[int] = []       # indexes into lines of single A records
        self._a_names: list[str] = []
        types = [t for t, _ in MIX]
        weights = [w / PER_NAME.get(t, 1) for t, w in MIX]
        while len(self.lines) < records:
            kind = rng.choices(types, weights)[0]
            getattr(self, "_add_" + kind)()
        # The last name may have been given one record too many (A or MX pairs): cut it; the
        # name keeps its other record, so its query line stays right.
        del self.lines[records:]
        a_lines = [i for i in self._a_lines if i < records]
        self._changes = random.Random(seed).sample(a_lines, min(len(a_lines), 100 * CHANGED_PER_VERSION))

    def _name(self) -> str:
        label = f"{self._rng.choice(WORDS)}{len(self.lines)}"
        if self._rng.random() < 0.2:
            return f"{self._rng.choice(('www', 'api', 'mail', 'app'))}.{label}.{self._rng.choice(PARENTS)}"
        return label

    def _existing(self) -> str:
        return self._rng.choice(self._a_names) if self._a_names else "ns1"

    def _add_A(self) -> None:
        name = self._name()
        self.owners.append((name, "A"))
        self._a_names.append(name)
        for _ in range(2 if self._rng.random() < 0.2 else 1):
            n = len(self.lines)
            self._a_lines.append(n)
            self.lines.append(f"{name} 300 A 10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}\n")

    def _add_AAAA(self) -> None:
        if self._a_names and self._rng.random() < 0.5:
            name = self._a_names[-1]    # dual-stack: its query line is already there (A)
        else:
            name = self._name()
            self.owners.append((name, "AAAA"))
        n = len(self.lines)
        self.lines.append(f"{name} 300 AAAA 2001:db8:{n >> 16 & 0xffff:x}:{n & 0xffff:x}::1\n")

    def _add_CNAME(self) -> None:
        name = self._name()
        self.owners.append((name, "A"))
        target = self._existing() if self._rng.random() < 0.7 else f"{name.split('.')[0]}.cdn.example.net."
        self.lines.append(f"{name} 3600 CNAME {target}\n")

    def _add_MX(self) -> None:
        name = self._name()
        self.owners.append((name, "MX"))
        for pref in (10, 20):
            self.lines.append(f"{name} 3600 MX {pref} {self._existing()}\n")

    def _add_TXT(self) -> None:
        if self._a_names and self._rng.random() < 0.5:
            name = self._a_names[-1]
        else:
            name = self._name()
            self.owners.append((name, "TXT"))
        n = len(self.lines)   # in the value: no two records of a name alike (a zone would merge them)
        if self._rng.random() < 0.5:
            value = f'"v=spf1 ip4:10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255} include:_spf.example.net ~all"'
        else:
            value = f'"site-verification={n:x}' + "".join(self._rng.choices(B32, k=36)) + '"'
        self.lines.append(f"{name} 300 TXT {value}\n")

    # -- what the benchmark uses ------------------------------------------------------------------

    @staticmethod
    def serial(version: int) -> int:
        return BASE_SERIAL + version

    def record_count(self) -> int:
        """Records an AXFR carries: the body, SOA, NS and the NS's address (SOA counted once)."""
        return self.records + 3

    def text(self, version: int = 0) -> str:
        lines = list(self.lines)
        for v in range(1, version + 1):
            for i in self._changes[(v - 1) * CHANGED_PER_VERSION:v * CHANGED_PER_VERSION]:
                owner = lines[i].split(" ", 1)[0]
                lines[i] = f"{owner} 300 A 198.51.{100 + v % 100}.{i % 250 + 1}\n"
        return (f"$ORIGIN {ZONE}.\n$TTL 300\n"
                f"@ SOA ns1.{ZONE}. hostmaster.{ZONE}. {self.serial(version)} 3600 600 86400 300\n"
                f"@ NS ns1.{ZONE}.\nns1 A 192.0.2.1\n" + "".join(lines))

    def queries(self) -> str:
        """dnsperf's input: every owner name once, with a type it has, shuffled."""
        owners = list(self.owners)
        random.Random(7).shuffle(owners)
        return "".join(f"{name}.{ZONE} {qtype}\n" for name, qtype in owners)

    def probe_names(self, count: int = 1000) -> list[tuple[str, str]]:
        """A sample of (absolute name, type) for the latency probe."""
        sample = random.Random(11).sample(self.owners, min(count, len(self.owners)))
        return [(f"{name}.{ZONE}", qtype) for name, qtype in sample]

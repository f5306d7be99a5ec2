"""What each hpctl command does in the daemon (the control socket's `Commands`): reload, status,
notify, check, ds and plan. Each turns zone names into zones, asks the part that knows, and
returns JSON-able results; none of them changes zone contents except through the Reloader."""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Callable

import dns.name
from twisted.internet import defer, threads

from hiddenprimary.clock import Clock, utc_text
from hiddenprimary.config import Config
from hiddenprimary.config.parse import load_config_bytes
from hiddenprimary.config.change import ConfigChange, config_change
from hiddenprimary.dnssec import zone_signer
from hiddenprimary.errors import ConfigRefused, HiddenPrimaryError, UsageError
from hiddenprimary.logs import event
from hiddenprimary.net.pools import LazyPool
from hiddenprimary.providers.api_sync import ApiSync
from hiddenprimary.reload.runner import Reloader
from hiddenprimary.transfer.notify import Notifier
from hiddenprimary.transfer.secondary_book import SecondaryBook


log = logging.getLogger("hiddenprimary.control")


def _failing(row: dict) -> bool:
    """A status row with a problem: the zone not loaded or its last reload failed, a NOTIFY given
    up, a secondary's last transfer not ok, an API sync in error."""
    if not row["loaded"] or row["last_reload_ok"] is False:
        return True
    for s in row["secondaries"]:
        if s.get("error") or any(n.get("failed") for n in s.get("notify", ())):
            return True
        attempt = s.get("last_attempt")
        if attempt is not None and attempt.get("outcome") != "ok":
            return True
    return False


def _zone_text(zone: dns.name.Name) -> str:
    return zone.to_text(omit_final_dot=True)


class DaemonCommands:
    def __init__(self, config: Config, reactor, clock: Clock, reloader: Reloader, notifier: Notifier,
                 api_sync: ApiSync, book: SecondaryBook, keyring):
        self.config = config
        self.reactor = reactor
        self.clock = clock
        self.reloader = reloader
        self.store = reloader.store
        self.notifier = notifier
        self.api_sync = api_sync
        self.book = book
        self.keyring = keyring
        self._by_text = {_zone_text(z).lower(): z for z in config.zones}
        self._checks = LazyPool(reactor, "hpctl-check", 2)  # checks wait on slow or dead secondaries
        # Set by the daemon: hands a re-read config to every part (the default: to us alone).
        self.apply_config: Callable[[ConfigChange], None] = lambda change: self.reconfigure(change.config)
        self.read_config: Callable[[str], defer.Deferred] = lambda path: threads.deferToThread(self._read_config, path)
        self._config_bytes: bytes | None = None  # of the file the running config came from (None: unknown)
        self._config_lock = defer.DeferredLock()  # one config change at a time

    def _read_config(self, path: str) -> tuple[Config, bytes]:
        """The config file again (worker thread), and its bytes: the running config when they
        are the bytes it came from (a reload of 10,000 zones parses no YAML then), else the file
        parsed and checked."""
        config, raw = load_config_bytes(path, unless=self._config_bytes)
        return (self.config if config is None else config), raw

    def config_read(self, raw: bytes | None) -> None:
        """The bytes the running config was parsed from (at start)."""
        self._config_bytes = raw

    def reconfigure(self, config: Config) -> None:
        self.config = config
        self._by_text = {_zone_text(z).lower(): z for z in config.zones}

    def resolve(self, names: list[str], config: Config | None = None) -> list[dns.name.Name]:
        """Zone names as given to hpctl (any case, final dot or not); none: every zone."""
        config = config or self.config
        if not names:
            return list(config.zones)
        by_text = self._by_text if config is self.config else {_zone_text(z).lower(): z for z in config.zones}
        zones = []
        for name in names:
            zone = by_text.get(name.rstrip(".").lower())
            if zone is None:  # the count, not the list: a config may name thousands (issue 15)
                count = len(by_text)
                raise UsageError(f"unknown zone {name!r} ({count} zone{'' if count == 1 else 's'} configured; "
                                 "`hpctl status` lists them)")
            zones.append(zone)
        return zones

    def reload(self, names: list[str], options: dict | None = None) -> defer.Deferred:
        """`hpctl reload` (and SIGHUP, with no names): re-read the config file and apply it whole
        (or, with any error in it, none of it), then reload the zones named (none: all), the
        zones the file added and those whose settings changed. Fires with {"zones": one result
        dict per zone, "removed": zone names, "restart_needed": lines}."""
        return self._config_lock.run(lambda: self.read_config(self.config.path).addCallbacks(
            lambda read: self._reload_with(*read, names), self._refused))

    def _refused(self, failure):
        failure.trap(HiddenPrimaryError)
        event(log, "config.refused", logging.ERROR, error=failure.value)
        raise ConfigRefused(failure.value)

    def _reload_with(self, new: Config, raw: bytes | None, names: list[str]) -> defer.Deferred:
        if new is self.config:  # the same bytes as last time: nothing to apply
            change = ConfigChange(new, (), (), (), ())
        else:
            change = config_change(self.config, new)
        named = self.resolve(names, change.config)  # an unknown name: nothing applied
        if new is not self.config:
            self.apply_config(change)
        # A file that wants a restart is read again next time, so each reload says so again.
        self._config_bytes = None if change.restart_needed else raw
        for zone in change.added:
            event(log, "config.zone_added", zone=_zone_text(zone))
        for zone in change.removed:
            event(log, "config.zone_removed", zone=_zone_text(zone))
        for line in change.restart_needed:
            event(log, "config.restart_needed", logging.WARNING, problem=line)
        zones = list(dict.fromkeys([*named, *change.added, *change.reconfigured]))
        added = set(change.added)

        def shaped(results: dict) -> dict:
            out = []
            for zone in zones:
                row = results[zone].as_dict()
                if zone in added:
                    row["new_zone"] = True
                out.append(row)
            return {"zones": out, "removed": [_zone_text(z) for z in change.removed],
                    "restart_needed": list(change.restart_needed)}

        # The zones the edit added or changed first, then the catalogs (a secondary told of a new
        # member finds it served); the other zones meanwhile (10,000 stats need not come first).
        catalogs = change.config.catalogs
        first = [z for z in dict.fromkeys([*change.added, *change.reconfigured]) if z not in catalogs]
        last = [z for z in zones if z in catalogs]
        first_set = set(first)
        meanwhile = [z for z in zones if z not in catalogs and z not in first_set]
        results: dict = {}

        def keep(batch: list, done: list) -> None:
            results.update(zip(batch, done))

        changed = self.reloader.reload(first).addCallback(lambda done: keep(first, done))
        changed.addCallback(lambda _: self.reloader.reload(last)).addCallback(lambda done: keep(last, done))
        others = self.reloader.reload(meanwhile).addCallback(lambda done: keep(meanwhile, done))
        both = defer.gatherResults([changed, others], consumeErrors=True)
        return both.addCallback(lambda _: shaped(results))

    def notify(self, names: list[str], options: dict | None = None) -> dict:
        """`hpctl notify`: send NOTIFY for the current serial again, to every target."""
        sent = []
        for zone in self.resolve(names):
            version = self.store.current(zone)
            if version is None:
                sent.append({"zone": _zone_text(zone), "serial": None, "targets": 0})
                continue
            count = self.notifier.zone_changed(zone, version)
            sent.append({"zone": _zone_text(zone), "serial": version.serial, "targets": count})
        return {"zones": sent}

    def check(self, names: list[str], options: dict | None = None) -> defer.Deferred:
        """`hpctl check`: ask every notify target of each zone for its serial (and with `deep`,
        compare content); blocking queries run in a worker thread."""
        from hiddenprimary.transfer import consistency  # loaded on first use: only `hpctl check` needs it

        deep = bool((options or {}).get("deep"))
        jobs = []
        for zone in self.resolve(names):
            version = self.store.current(zone)
            d = threads.deferToThreadPool(self.reactor, self._checks.get(), consistency.check_zone,
                                          self.config, zone, version, self.keyring, self.clock, deep)
            jobs.append(self.api_sync.extend_check(d, zone, version))
        return defer.gatherResults(jobs, consumeErrors=True).addCallback(lambda reports: {"zones": reports})

    def plan(self, names: list[str], options: dict | None = None) -> defer.Deferred:
        """`hpctl plan ZONE --secondary NAME`: what a sync to an API secondary would change."""
        return self.api_sync.plan(self.resolve(names) if names else [], options or {})

    def ds(self, names: list[str], options: dict | None = None) -> dict:
        """`hpctl ds`: the DS records to hand to the parent zone's registrar, per signed zone."""
        out = []
        for zone in self.resolve(names):
            if self.config.zones[zone].dnssec is None:
                raise UsageError(f"zone {_zone_text(zone)} is not signed (no dnssec: in the config)")
            state = self.reloader.zones[zone]
            if state.keys is None:
                raise UsageError(f"zone {_zone_text(zone)} has no keys: {state.key_error or 'not loaded yet'}")
            digests = (options or {}).get("digest") or "SHA256"
            from hiddenprimary.dnssec.keys import ds_records  # cryptography: only when asked

            records = [f"{zone.to_text()} IN DS {ds.to_text()}" for ds in ds_records(state.keys, digests)]
            out.append({"zone": _zone_text(zone), "ds": records})
        return {"zones": out}

    def status(self, names: list[str], options: dict | None = None) -> dict:
        """`hpctl status`: per zone, what is served, the last reload, the journal, the keys and
        where each secondary stands. Options narrow it (10,000 zones): `zone` a glob on the
        zone's name (`*.example.com`), `behind` only zones a secondary is behind on, `failed`
        only zones with a problem (not loaded, last reload failed, a NOTIFY given up, a
        transfer or API sync that failed). `total`: the zones configured."""
        options = options or {}
        zones = self.resolve(names)
        pattern = options.get("zone")
        if pattern:
            pattern = pattern.rstrip(".").lower()
            zones = [z for z in zones if fnmatch.fnmatchcase(_zone_text(z).lower(), pattern)]
        rows = [self._zone_status(zone) for zone in zones]
        if options.get("behind"):
            rows = [row for row in rows if any(s.get("behind") for s in row["secondaries"])]
        if options.get("failed"):
            rows = [row for row in rows if _failing(row)]
        return {"zones": rows, "total": len(self.config.zones)}

    def _zone_status(self, zone: dns.name.Name) -> dict:
        version = self.store.current(zone)
        state = self.reloader.zones[zone]
        last = state.last
        info = state.journal_info
        return {
            "zone": _zone_text(zone),
            "loaded": version is not None,
            "signed": zone_signer.is_signed(version),
            "dnssec": self._dnssec_status(zone),
            "serial": None if version is None else version.serial,
            "records": None if version is None else version.rr_count,
            "last_reload": last.get("when"),
            "last_reload_ok": last.get("ok"),
            "last_error": last.get("error"),
            "journal": None if info is None else {"first_serial": info.first_serial, "last_serial": info.last_serial,
                                                  "entries": info.entries, "bytes": info.size_bytes},
            "secondaries": [self.api_sync.status(zone, name) if self.config.secondaries[name].api is not None
                            else self.book.status(zone, name) for name in self.config.zones[zone].secondaries],
        }

    def _dnssec_status(self, zone: dns.name.Name) -> dict | None:
        dnssec_cfg = self.config.zones[zone].dnssec
        if dnssec_cfg is None:
            return None
        state = self.reloader.zones[zone]
        due = state.resign_at
        return {"algorithm": dnssec_cfg.algorithm, "denial": dnssec_cfg.denial,
                "keys": [{"tag": k.key_tag, "role": k.role, "algorithm": k.algorithm} for k in state.keys or ()],
                "key_error": str(state.key_error) if state.key_error is not None else None,
                "next_resign": None if due is None else utc_text(due)}

"""What a re-read config changes (`hpctl reload`, SIGHUP): zones added, removed and reconfigured,
and the settings only a restart can change. Pure: two Configs in, a `ConfigChange` out."""

from __future__ import annotations

import dataclasses

import dns.name

from hiddenprimary.config.model import Config

# Settings bound at start (sockets, the state folder): a reload keeps the running values and says so.
RESTART_ONLY = ("listen", "control", "data_dir", "metrics", "notify_source")


@dataclasses.dataclass(frozen=True)
class ConfigChange:
    config: Config  # what the daemon runs with from now: the new file, RESTART_ONLY kept as they were
    added: tuple[dns.name.Name, ...]  # zones the new file names and the old did not, in file order
    removed: tuple[dns.name.Name, ...]
    reconfigured: tuple[dns.name.Name, ...]  # zones in both whose settings differ
    restart_needed: tuple[str, ...]  # "listen: needs a restart; still ..." lines


def config_change(old: Config, new: Config) -> ConfigChange:
    """The change from `old` (what runs) to `new` (the file as it is now)."""
    kept = {key: getattr(old, key) for key in RESTART_ONLY if getattr(old, key) != getattr(new, key)}
    restart_needed = tuple(f"{key}: changed in the file; needs a restart (still {_show(key, value)})"
                           for key, value in kept.items())
    effective = dataclasses.replace(new, **kept)
    added = tuple(z for z in new.zones if z not in old.zones)
    removed = tuple(z for z in old.zones if z not in new.zones)
    # A catalog whose members changed is reconfigured too: its next version lists them.
    reconfigured = tuple(z for z, zone_cfg in new.zones.items() if z in old.zones and (
        old.zones[z] != zone_cfg or old.catalogs.get(z) != new.catalogs.get(z)))
    return ConfigChange(effective, added, removed, reconfigured, restart_needed)


def _show(key: str, value: object) -> str:
    if key == "listen":
        return ", ".join(f"{host}:{port}" for host, port in value)  # type: ignore[union-attr]
    if key == "metrics":
        return "off" if value is None else f"{value[0]}:{value[1]}"  # type: ignore[index]
    if value is None:
        return "unset"
    return str(value)

"""The site as the engine sees it: cabinets, their slots, lockers, zones and session policy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo

from lockerkey.core.model import CabinetKind

UNLOCK_MAX_MS = 60_000  # the protocol's longest single unlock
# Re-arm an unlock this long before the controller's dead-man relock would fire.
REARM_MARGIN_S = 5.0


@dataclass(frozen=True)
class ZoneRule:
    """Who may use a zone: member attribute -> accepted values (casefolded); empty = everyone."""

    name: str
    allow: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class LockerSpec:
    """Where a locker's key hangs and what its key tag reads."""

    number: str
    cabinet: int
    slot: int
    key_code: str
    zone: str | None = None


@dataclass(frozen=True)
class CabinetSpec:
    """One controller: its kind and its lockers in slot order 1..N."""

    index: int
    name: str
    kind: CabinetKind
    lockers: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """Session rules taken from the settings."""

    timeout_s: int = 30
    selection: str = "choose"  # choose | auto
    daily_limit: int = 0
    tz: tzinfo | None = None  # None means UTC


class Layout:
    """Lookups between lockers, slots, key codes and zones."""

    def __init__(
        self,
        cabinets: Iterable[CabinetSpec],
        lockers: Iterable[LockerSpec],
        zones: Iterable[ZoneRule],
    ) -> None:
        self.cabinets: tuple[CabinetSpec, ...] = tuple(cabinets)
        self.lockers: dict[str, LockerSpec] = {spec.number: spec for spec in lockers}
        self.zones: dict[str, ZoneRule] = {zone.name: zone for zone in zones}
        self.by_slot: dict[tuple[int, int], str] = {
            (spec.cabinet, spec.slot): spec.number for spec in self.lockers.values()
        }
        self.by_key_code: dict[str, str] = {
            spec.key_code: spec.number for spec in self.lockers.values()
        }

    @property
    def shared_door(self) -> bool:
        """Whether this site's cabinets have a shared door (sites do not mix kinds)."""
        return any(cab.kind is CabinetKind.SHARED_DOOR for cab in self.cabinets)

    def order(self) -> list[str]:
        """Every locker, cabinet by cabinet in slot order."""
        return [number for cab in self.cabinets for number in cab.lockers]

    def lock_slot(self, locker: str) -> tuple[int, int]:
        """The (cabinet, slot) whose lock guards a locker: the shared door is slot 0."""
        spec = self.lockers[locker]
        if self.cabinets[spec.cabinet].kind is CabinetKind.SHARED_DOOR:
            return spec.cabinet, 0
        return spec.cabinet, spec.slot

    @classmethod
    def simple(
        cls,
        cabinets: Iterable[tuple[str, CabinetKind, Iterable[str]]],
        key_template: str = "KEY-{locker}",
        zones: Mapping[str, tuple[Iterable[str], Mapping[str, Iterable[str]]]] | None = None,
    ) -> Layout:
        """Build a layout from (name, kind, lockers) triples and zone -> (lockers, allow)."""
        zone_of: dict[str, str] = {}
        rules: list[ZoneRule] = []
        for name, (members, allow) in (zones or {}).items():
            rules.append(
                ZoneRule(name, {k: frozenset(v.casefold() for v in vs) for k, vs in allow.items()})
            )
            zone_of.update(dict.fromkeys(members, name))
        cab_specs: list[CabinetSpec] = []
        locker_specs: list[LockerSpec] = []
        for index, (name, kind, given) in enumerate(cabinets):
            numbers = tuple(given)
            cab_specs.append(CabinetSpec(index, name, kind, numbers))
            for slot, number in enumerate(numbers, start=1):
                code = key_template.format(locker=number)
                locker_specs.append(LockerSpec(number, index, slot, code, zone_of.get(number)))
        return cls(cab_specs, locker_specs, rules)

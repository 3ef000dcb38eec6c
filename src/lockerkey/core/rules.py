"""Pure decisions: who may rent, which lockers they may use, and local-day arithmetic."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from lockerkey.core.layout import Layout, ZoneRule
from lockerkey.core.messages import Msg
from lockerkey.core.model import Member, MemberStatus

Refusal = tuple[Msg, dict[str, str]]


MAX_CODE = 64


def valid_code(code: str) -> bool:
    """Whether a scanned code may be acted on: 1-64 printable ASCII characters.

    Anything else (control characters above all: keyboard-type readers can be made to type
    keystrokes) is rejected whole.
    """
    return 1 <= len(code) <= MAX_CODE and all(" " <= ch <= "~" for ch in code)


def local_date(at: datetime, tz: tzinfo | None) -> date:
    """The calendar date of an aware instant in the site's time zone."""
    return at.astimezone(tz or UTC).date()


def local_day_start(at: datetime, tz: tzinfo | None) -> datetime:
    """The local midnight that began ``at``'s day, as an aware UTC instant."""
    zone = tz or UTC
    return datetime.combine(local_date(at, zone), time(0), tzinfo=zone).astimezone(UTC)


def next_local_midnight(at: datetime, tz: tzinfo | None) -> datetime:
    """The next local midnight after ``at``, as an aware UTC instant (for the daily reset)."""
    zone = tz or UTC
    tomorrow = local_date(at, zone) + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=zone).astimezone(UTC)


def next_local_time(at: datetime, hour: int, minute: int, tz: tzinfo | None) -> datetime:
    """The next instant after ``at`` when the site's clock reads hour:minute (aware UTC).

    On a day when that local time does not exist or happens twice (a DST change), the
    zone's own folding rules decide; it is still exactly one run that day.
    """
    zone = tz or UTC
    local = at.astimezone(zone)
    day = local.date()
    while True:
        due = datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(UTC)
        if due > at:
            return due
        day += timedelta(days=1)


def effective_daily_count(member: Member, today: date, tz: tzinfo | None) -> int:
    """The member's rentals today: a count from an earlier local day no longer counts."""
    last = member.last_rental_time
    if last is None or local_date(last, tz) != today:
        return 0
    return member.daily_rental_count


def refusal(
    member: Member | None, now: datetime, daily_limit: int, tz: tzinfo | None
) -> Refusal | None:
    """Why a member card must be refused (before anything else happens), or None."""
    if member is None:
        return Msg.UNKNOWN_CARD, {}
    if member.status is MemberStatus.SUSPENDED:
        return Msg.SUSPENDED, {}
    if member.status is MemberStatus.REMOVED:
        return Msg.MEMBER_REMOVED, {}
    today = local_date(now, tz)
    if member.expiry_date is not None and member.expiry_date < today:
        return Msg.EXPIRED, {"date": member.expiry_date.isoformat()}
    if member.status is MemberStatus.EXPIRED:
        return Msg.EXPIRED, {"date": (member.expiry_date or today).isoformat()}
    if member.currently_renting:
        return Msg.ALREADY_RENTING, {"locker": member.currently_renting}
    if daily_limit > 0 and effective_daily_count(member, today, tz) >= daily_limit:
        return Msg.DAILY_LIMIT, {"limit": str(daily_limit)}
    return None


def zone_allows(rule: ZoneRule | None, member: Member) -> bool:
    """Whether a member's attributes satisfy a zone's rule (no zone or no rule: everyone)."""
    if rule is None:
        return True
    attrs = {k.casefold(): v.strip().casefold() for k, v in member.attributes.items()}
    return all(attrs.get(attr.casefold()) in values for attr, values in rule.allow.items())


def may_use(layout: Layout, locker: str, member: Member) -> bool:
    """Whether the member may rent this locker by its zone."""
    zone = layout.lockers[locker].zone
    return zone_allows(layout.zones.get(zone) if zone else None, member)


def pick_least_used(
    candidates: Iterable[str], last_rented: Mapping[str, datetime | None]
) -> str | None:
    """The candidate rented least recently (never-rented first; ties keep layout order)."""
    best: str | None = None
    best_key: datetime | None = None
    for locker in candidates:
        when = last_rented.get(locker)
        if best is None or (best_key is not None and (when is None or when < best_key)):
            best, best_key = locker, when
    return best

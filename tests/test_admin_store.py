"""The console's store modules on a real ledger: accounts (scrypt hashes) and the read
queries behind its pages (the locker grid, rentals, alerts, members)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from lockerkey.core import ops
from lockerkey.core.events import ForceReturn, KeySensed, Scan, Select, SetService
from lockerkey.store import accounts, console
from lockerkey.store.ledger import Ledger
from lockerkey.store.schema import SCHEMA_VERSION
from tests.conftest import T0, LedgerRig, add_members

# ---- accounts ---------------------------------------------------------------------------------


def test_names_and_passwords_are_checked() -> None:
    assert accounts.check_name("kim.staff") == "kim.staff"
    assert accounts.check_name("김직원") == "김직원"
    for bad in ("", "a" * 33, "two words", "tab\there", "nul\x00"):
        with pytest.raises(accounts.AccountError):
            accounts.check_name(bad)
    assert accounts.check_password("12345678") == "12345678"
    with pytest.raises(accounts.AccountError, match="at least 8"):
        accounts.check_password("1234567")
    with pytest.raises(accounts.AccountError, match="at most"):
        accounts.check_password("x" * 1025)


def test_accounts_are_created_changed_listed_and_removed(ledger: Ledger) -> None:
    assert ledger.schema_version() == SCHEMA_VERSION
    assert accounts.list_accounts(ledger) == []
    assert accounts.password_hash(ledger, "kim") is None
    assert accounts.account_version(ledger, "kim") is None
    assert accounts.set_password(ledger, "kim", "scrypt$h1", T0) is True
    assert accounts.set_password(ledger, "lee", "scrypt$h2", T0) is True
    later = T0 + timedelta(hours=1)
    assert accounts.set_password(ledger, "kim", "scrypt$h3", later) is False
    found = accounts.password_hash(ledger, "kim")
    assert found is not None and found[0] == "scrypt$h3"
    assert accounts.account_version(ledger, "kim") == found[1]
    listed = accounts.list_accounts(ledger)
    assert [a.name for a in listed] == ["kim", "lee"]
    assert listed[0].created_at == T0 and listed[0].updated_at == later
    assert accounts.remove_account(ledger, "kim") is True
    assert accounts.remove_account(ledger, "kim") is False
    assert [a.name for a in accounts.list_accounts(ledger)] == ["lee"]


def test_migration_two_adds_the_table_and_the_indexes(ledger: Ledger) -> None:
    names = {
        row[0]
        for row in ledger.conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')"
        )
    }
    assert {"admin_accounts", "idx_rental_created", "idx_events_kind_time"} <= names
    plan = " ".join(
        str(row[3])
        for row in ledger.conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM events WHERE kind IN ('set_aside', 'link_lost')"
            " AND time >= '2026'"
        )
    )
    assert "idx_events_kind_time" in plan


# ---- the locker grid --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "key", "held", "pending", "state"),
    [
        ("disabled", "in", False, False, "out_of_service"),
        ("set_aside", "out", True, False, "abnormal"),
        ("in_service", "in", False, True, "pending"),
        ("in_service", "out", True, False, "rented"),
        ("in_service", "in", True, False, "disagrees"),  # rented, yet its key is in the slot
        ("in_service", "out", False, False, "disagrees"),  # nobody holds it, the key is gone
        ("in_service", "unknown", False, False, "unknown"),
        ("in_service", "in", False, False, "free"),
    ],
)
def test_grid_states(service: str, key: str, held: bool, pending: bool, state: str) -> None:
    assert console.grid_state(service, key, held, pending) == state
    assert state in console.STATES


def rent(rig: LedgerRig, member: str, locker: str) -> None:
    rig.do(Scan(member))
    rig.do(Select(locker))
    rig.do(KeySensed(0, int(locker), False))


def test_the_grid_shows_rentals_sessions_and_staff_decisions(lrig: LedgerRig) -> None:
    rent(lrig, "M1", "1")
    lrig.do(SetService("3", False, "broken hook", staff="kim"))
    lrig.do(Scan("M2"))
    lrig.do(Select("2"))  # the unlock is out: pending until the key leaves
    cards = {c.locker: c for c in console.locker_grid(lrig.ledger)}
    assert list(cards) == ["1", "2", "3", "4", "5", "6"]
    assert cards["1"].state == "rented" and cards["1"].member_name == "회원M1"
    assert cards["1"].since == T0 and cards["1"].key == "out"
    assert cards["2"].state == "pending" and cards["2"].pending_member == "M2"
    assert cards["3"].state == "out_of_service"
    assert cards["4"].state == "free" and cards["4"].member_id is None
    card = console.locker_card(lrig.ledger, "1")
    assert card == cards["1"]
    assert console.locker_card(lrig.ledger, "99") is None


# ---- rentals ----------------------------------------------------------------------------------


def test_active_rentals_sort_by_a_known_order_only(lrig: LedgerRig) -> None:
    add_members(lrig.ledger, "M0")
    rent(lrig, "M3", "2")
    lrig.advance(60)
    rent(lrig, "M1", "5")
    lrig.advance(60)
    rent(lrig, "M0", "4")

    def order(sort: str) -> list[str]:
        return [r.locker for r in console.active_rentals(lrig.ledger, sort)]

    assert order("locker") == ["2", "4", "5"]
    assert order("-locker") == ["5", "4", "2"]
    assert order("member") == ["4", "5", "2"]  # 회원M0, 회원M1, 회원M3
    assert order("-member") == ["2", "5", "4"]
    assert order("since") == ["2", "5", "4"]
    assert order("-since") == ["4", "5", "2"]
    assert order("rental_id; DROP TABLE rentals") == ["2", "4", "5"]
    row = console.active_rentals(lrig.ledger)[0]
    assert (row.member_id, row.member_name, row.status) == ("M3", "회원M3", "active")


def test_locker_and_member_histories(lrig: LedgerRig) -> None:
    rent(lrig, "M1", "1")
    lrig.do(Scan("KEY-1"))
    lrig.do(KeySensed(0, 1, True))
    lrig.do(Scan("M1"))
    lrig.do(Select("1"))
    lrig.advance(31)  # the take-key step times out: a cancelled intent
    rent(lrig, "M2", "1")
    history = console.locker_rentals(lrig.ledger, "1")
    assert [(r.member_id, r.status) for r in history] == [("M2", "active"), ("M1", "returned")]
    assert history[1].returned is not None and history[1].return_actual == "1"
    mine = console.member_rentals(lrig.ledger, "M1")
    assert [r.status for r in mine] == ["cancelled", "returned"]
    assert console.member_rentals(lrig.ledger, "M3") == []


def test_locker_events_leave_out_sensor_chatter(lrig: LedgerRig) -> None:
    rent(lrig, "M1", "1")
    lrig.do(ForceReturn("1", "handed in at the desk", staff="kim"))
    kinds = [e.kind for e in console.locker_events(lrig.ledger, "1")]
    assert "key" not in kinds and "command" not in kinds and "message" not in kinds
    assert "rental_active" in kinds and "admin_force_return" in kinds
    forced = next(e for e in console.locker_events(lrig.ledger, "1") if e.kind.startswith("admin"))
    assert forced.details["staff"] == "kim" and forced.details["reason"] == "handed in at the desk"


# ---- alerts -----------------------------------------------------------------------------------


def test_alerts_list_problems_newest_first_with_what_settles_them(lrig: LedgerRig) -> None:
    rent(lrig, "M1", "1")
    rent(lrig, "M2", "2")
    lrig.advance(60)
    lrig.do(Scan("KEY-1"))
    lrig.do(KeySensed(0, 2, True))  # key 1 pushed into slot 2: WRONG_SLOT, both set aside
    lrig.advance(60)
    lrig.do(KeySensed(0, 4, False))  # a key leaves a locked slot: FORCED_REMOVAL
    found = console.alerts(lrig.ledger, T0 - timedelta(days=30))
    assert [(a.event.kind, a.code, a.event.locker) for a in found] == [
        ("set_aside", "FORCED_REMOVAL", "4"),
        ("set_aside", "WRONG_SLOT", "2"),
        ("set_aside", "WRONG_SLOT", "1"),
    ]
    forced, slot2, slot1 = found
    assert forced.actions == ("in_service",)
    # Locker 2's own key is still out with M2: it can be force-returned, marked lost or put back.
    assert slot2.actions == ("force_return", "mark_lost", "in_service")
    assert slot1.actions == ("in_service",)
    assert slot1.event.details["actual"] == "2" and slot2.event.details["target"] == "1"
    # Only the window asked for.
    assert console.alerts(lrig.ledger, lrig.now().wall + timedelta(seconds=1)) == []


def test_only_the_newest_alert_of_a_locker_offers_actions(lrig: LedgerRig) -> None:
    lrig.do(KeySensed(0, 4, False))
    lrig.do(KeySensed(0, 4, True))
    lrig.do(SetService("4", True, "checked", staff="kim"))
    lrig.do(KeySensed(0, 4, False))
    newest, older = console.alerts(lrig.ledger, T0 - timedelta(days=1))
    assert newest.actions == ("in_service",) and older.actions == ()


def test_alerts_without_a_locker_and_odd_details(ledger: Ledger) -> None:
    ledger.apply([ops.Audit("link_lost", T0, details={"cabinet": 0, "reason": "timeout"})])
    # Rows written by hand or by an older build: details that are not a JSON object.
    insert = "INSERT INTO events (time, kind, details, device_id) VALUES (?, ?, ?, 'X')"
    ledger.conn.execute(insert, ("2026-11-26T03:00:01.000+00:00", "backup_failed", "not json"))
    ledger.conn.execute(insert, ("2026-11-26T03:00:02.000+00:00", "controller_fault", "[1, 2]"))
    found = console.alerts(ledger, T0)
    assert [a.event.kind for a in found] == ["controller_fault", "backup_failed", "link_lost"]
    assert found[0].event.details == {"value": [1, 2]} and found[0].code == ""
    assert found[1].event.details == {"text": "not json"}
    assert found[2].code == "timeout" and found[2].actions == ()


# ---- members ----------------------------------------------------------------------------------


def test_like_patterns_take_wildcards_literally() -> None:
    assert console.like_pattern("50%_off\\") == "%50\\%\\_off\\\\%"


def test_member_search_escapes_wildcards_and_puts_an_exact_barcode_first(
    ledger: Ledger,
) -> None:
    add_members(ledger, "A1", "A10", "B%1", "B_2", "BX2", "C\\3")
    ids = lambda text: [m.member_id for m in console.search_members(ledger, text)]  # noqa: E731
    assert ids("A1") == ["A1", "A10"]
    assert ids("10") == ["A10"]
    assert ids("%") == ["B%1"]  # not every member
    assert ids("_") == ["B_2"]  # not BX2
    assert ids("\\") == ["C\\3"]
    assert ids("회원B") == ["B%1", "BX2", "B_2"]  # by name, in name order
    assert ids("   ") == [] and ids("") == []
    assert ids("nobody") == []
    assert len(console.search_members(ledger, "회원", limit=2)) == 2


def test_one_member(lrig: LedgerRig) -> None:
    rent(lrig, "M1", "3")
    found = console.member(lrig.ledger, "M1")
    assert found is not None
    assert (found.name, found.status, found.currently_renting) == ("회원M1", "active", "3")
    assert found.daily_rental_count == 1 and found.last_rental_time == T0
    assert console.member(lrig.ledger, "nobody") is None


def test_details_are_stored_as_json(lrig: LedgerRig, tmp_path: Path) -> None:
    # The alerts page decodes what Ledger.audit wrote: keep the two in step.
    lrig.ledger.audit("controller_fault", T0, cabinet=0, code="expander", slot=None)
    row = lrig.ledger.conn.execute(
        "SELECT details FROM events WHERE kind = 'controller_fault'"
    ).fetchone()
    assert json.loads(row[0])["code"] == "expander"
    alert = console.alerts(lrig.ledger, T0)[0]
    assert alert.code == "expander"

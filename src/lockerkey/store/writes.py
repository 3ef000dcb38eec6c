"""How each engine write (core.ops) becomes SQL; a Step's writes share one transaction."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from lockerkey.core import ops
from lockerkey.core.model import RentalStatus
from lockerkey.store.timestamps import flag, ts


class MissingRowError(sqlite3.DatabaseError):
    """A write named a row the ledger does not have."""


def apply_op(c: sqlite3.Connection, device_id: str, op: ops.LedgerOp) -> None:
    """Turn one engine write into SQL on an open transaction."""
    match op:
        case ops.Audit():
            c.execute(
                "INSERT INTO events (time, kind, member_id, locker_number, transaction_id,"
                " details, device_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    ts(op.at),
                    op.kind,
                    op.member_id,
                    op.locker,
                    op.tx_id,
                    json.dumps(dict(op.details), ensure_ascii=False, default=str),
                    device_id,
                ),
            )
        case ops.LockerRow():
            c.execute(
                "UPDATE locker_status SET sensor_status = ?, door_status = ?, lock_status = ?,"
                " current_member = ?, current_transaction = ?, locked_until = ?,"
                " service = ?, service_reason = ?, last_change_time = ?"
                " WHERE locker_number = ?",
                (
                    flag(op.key_present),
                    flag(op.door_open),
                    flag(op.locked),
                    op.current_member,
                    op.current_transaction,
                    ts(op.locked_until),
                    str(op.service),
                    op.service_reason,
                    ts(op.at),
                    op.locker,
                ),
            )
        case ops.StartSession():
            c.execute(
                "INSERT INTO active_transactions (transaction_id, member_id, transaction_type,"
                " start_time, last_activity, timeout_at, status, locker_number, phase,"
                " rental_transaction_id) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
                (
                    op.tx_id,
                    op.member_id,
                    op.kind,
                    ts(op.at),
                    ts(op.at),
                    ts(op.timeout_at),
                    op.locker,
                    op.phase,
                    op.rental_tx,
                ),
            )
        case ops.UpdateSession():
            c.execute(
                "UPDATE active_transactions SET locker_number = ?, phase = ?,"
                " last_activity = ?, timeout_at = ? WHERE transaction_id = ?",
                (op.locker, op.phase, ts(op.at), ts(op.timeout_at), op.tx_id),
            )
        case ops.SessionSensor():
            reading = json.dumps({"locker": op.locker, "present": op.present, "at": ts(op.at)})
            c.execute(
                "UPDATE active_transactions SET sensor_events = json_insert(sensor_events,"
                " '$[#]', json(?)), last_activity = ? WHERE transaction_id = ?",
                (reading, ts(op.at), op.tx_id),
            )
        case ops.EndSession():
            c.execute(
                "UPDATE active_transactions SET status = ?, last_activity = ?, end_time = ?"
                " WHERE transaction_id = ?",
                (
                    op.status,
                    ts(op.at),
                    ts(op.at) if op.status != "interrupted" else None,
                    op.tx_id,
                ),
            )
        case ops.CreatePendingRental():
            c.execute(
                "INSERT INTO rentals (transaction_id, member_id, locker_number,"
                " rental_barcode_time, status, device_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                (
                    op.tx_id,
                    op.member_id,
                    op.locker,
                    ts(op.barcode_time),
                    device_id,
                    ts(op.barcode_time),
                    ts(op.barcode_time),
                ),
            )
        case ops.ConfirmRental():
            _confirm_rental(c, device_id, op)
        case ops.CancelRental():
            _touch_rental(
                c,
                op.tx_id,
                op.at,
                "status = 'cancelled', error_details = ?",
                (op.details,),
                only_pending=True,
            )
        case ops.StartReturn():
            _touch_rental(
                c,
                op.rental_tx,
                op.barcode_time,
                "return_barcode_time = ?, return_target_locker = ?",
                (ts(op.barcode_time), op.locker),
            )
        case ops.CompleteReturn():
            _touch_rental(
                c,
                op.rental_tx,
                op.sensor_time,
                "return_sensor_time = ?, return_target_locker = ?, return_actual_locker = ?,"
                " return_verified = 1, status = ?, error_code = COALESCE(?, error_code),"
                " error_details = COALESCE(?, error_details)",
                (
                    ts(op.sensor_time),
                    op.target,
                    op.actual,
                    str(op.status),
                    op.error_code and str(op.error_code),
                    op.error_details,
                ),
            )
            _free_member(c, op.member_id, op.target, op.sensor_time)
        case ops.CloseRental():
            # return_verified stays 0: no sensor saw the key. The code the rental had before
            # (NOT_ALLOWED_TAKEN) is kept in the details; SET sees the row as it was.
            _touch_rental(
                c,
                op.rental_tx,
                op.at,
                "return_target_locker = ?, status = ?, error_code = ?,"
                " error_details = ? || COALESCE(' (was ' || error_code || ')', '')",
                (op.locker, str(op.status), str(op.error_code), op.error_details),
            )
            _free_member(c, op.member_id, op.locker, op.at)


def _free_member(c: sqlite3.Connection, member_id: str, locker: str, at: datetime) -> None:
    """The member no longer rents ``locker`` (a newer rental of theirs is left alone)."""
    c.execute(
        "UPDATE members SET currently_renting = NULL, updated_at = ?"
        " WHERE member_id = ? AND currently_renting = ?",
        (ts(at), member_id, locker),
    )


def _touch_rental(
    c: sqlite3.Connection,
    tx_id: str,
    at: datetime,
    assignments: str,
    params: tuple[object, ...],
    only_pending: bool = False,
) -> None:
    # Every change bumps the revision and marks the row unsynced, so an upload that read
    # an older revision cannot mark this newer one as synced.
    where = " AND status = 'pending'" if only_pending else ""
    cur = c.execute(
        f"UPDATE rentals SET {assignments}, updated_at = ?, revision = revision + 1,"
        f" sync_status = 0 WHERE transaction_id = ?{where}",
        (*params, ts(at), tx_id),
    )
    # A cancel of a rental no longer pending is a no-op by design; anything else must hit.
    if cur.rowcount != 1 and not only_pending:
        raise MissingRowError(f"no rental with transaction {tx_id}")


def _confirm_rental(c: sqlite3.Connection, device_id: str, op: ops.ConfirmRental) -> None:
    code = op.error_code and str(op.error_code)
    c.execute(
        "INSERT INTO rentals (transaction_id, member_id, locker_number, rental_barcode_time,"
        " status, device_id, created_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)"
        " ON CONFLICT(transaction_id) DO NOTHING",
        (
            op.tx_id,
            op.member_id,
            op.locker,
            ts(op.barcode_time),
            device_id,
            ts(op.sensor_time),
            ts(op.sensor_time),
        ),
    )
    _touch_rental(
        c,
        op.tx_id,
        op.sensor_time,
        "locker_number = ?, rental_sensor_time = ?, rental_verified = 1, status = ?,"
        " error_code = ?, error_details = ?",
        (op.locker, ts(op.sensor_time), str(op.status), code, op.error_details),
    )
    if op.status is RentalStatus.ACTIVE:
        c.execute(
            "UPDATE members SET currently_renting = ?, last_rental_time = ?,"
            " daily_rental_count = CASE WHEN last_rental_time >= ?"
            " THEN daily_rental_count + 1 ELSE 1 END, updated_at = ? WHERE member_id = ?",
            (op.locker, ts(op.sensor_time), ts(op.day_start), ts(op.sensor_time), op.member_id),
        )

"""Sections 2 and 5: one reply per id, the reply memory, invalid ids and commands."""

from __future__ import annotations

from typing import Any

import pytest

from lockerkey.cabinet.wire import encode

from .conftest import QUIET_WINDOW, Message, Rig, ev


def move_seq(rig: Rig) -> int:
    """Makes two events happen without sending a request (the reply memory is untouched).

    Returns the seq of the last of them.
    """
    c = rig.client
    start = c.mark()
    rig.act("force 3")
    c.wait_event(ev("key", slot=3, present=False), since=start)
    rig.act("insert 3")
    return int(c.wait_event(ev("key", slot=3, present=True), since=start)["seq"])


def test_each_request_is_answered_exactly_once(cab: Rig) -> None:
    c = cab.client
    requests: list[Message] = [
        {"cmd": "ping"},
        {"cmd": "status"},
        {"cmd": "beep", "pattern": "ok"},
        {"cmd": "beep", "pattern": "loud"},
        {"cmd": "no_such_command"},
        {"cmd": "lock", "slot": cab.slot},  # stale_boot: no boot
        {"cmd": "lock", "slot": cab.slot, "boot": c.boot},
        {"cmd": "unlock", "slot": 200, "ms": 1000, "boot": c.boot},
        {"cmd": "hello"},
        {"cmd": "ping"},
    ]
    ids = [c.new_id() for _ in requests]
    start = c.mark()
    # All at once, without waiting: the controller must not lose or double any of them.
    c.send_raw(b"".join(encode({"id": i, **r}) for i, r in zip(ids, requests, strict=True)))
    for i in ids:
        c.reply_to(i, start)
    c.frames_for(QUIET_WINDOW)
    replies = [m for m in c.messages(start) if "ev" not in m]
    assert sorted(m["id"] for m in replies) == sorted(ids)


def test_retried_id_gets_the_stored_reply_and_is_not_executed_again(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    cab.locked(slot)
    start = c.mark()
    rid = c.new_id()
    first = c.unlock(slot, id=rid)
    assert first["ok"] is True
    c.wait_event(ev("lock", slot=slot, locked=False), since=start)
    assert c.lock(slot)["ok"] is True
    c.wait_event(ev("lock", slot=slot, locked=True), since=start)
    before = cab.settle()
    retry = c.unlock(slot, id=rid)
    assert retry == first
    after = c.status()
    assert after["locks"][slot] == "1", "the retried unlock opened the slot again"
    assert after["seq"] == before["seq"]
    assert c.events(name="lock") == []


def test_retried_status_returns_the_stored_snapshot(cab: Rig) -> None:
    c = cab.client
    rid = c.new_id()
    first = c.request("status", id=rid)
    new_seq = move_seq(cab)
    assert new_seq != first["seq"]
    assert c.request("status", id=rid) == first


def test_reply_memory_holds_the_last_8_ids(cab: Rig) -> None:
    c = cab.client
    ids = [c.new_id() for _ in range(9)]
    stored = {i: c.request("status", id=i) for i in ids}
    new_seq = move_seq(cab)
    # Ids 2..9 are the last 8: answered from memory, with the old snapshot.
    for i in ids[1:]:
        assert c.request("status", id=i) == stored[i], f"id #{ids.index(i) + 1} forgotten"
    # Id 1 is the 9th most recent: forgotten, so executed again.
    again = c.request("status", id=ids[0])
    assert again["seq"] == new_seq, "the 9th most recent id was still remembered"


def test_hello_clears_the_memory_of_other_ids(cab: Rig) -> None:
    c = cab.client
    rid = c.new_id()
    c.request("status", id=rid)
    c.hello()
    new_seq = move_seq(cab)
    again = c.request("status", id=rid)
    assert again["seq"] == new_seq, "an id answered before hello was still remembered"


def test_retried_hello_is_answered_from_memory_and_clears_nothing(cab: Rig) -> None:
    c = cab.client
    hid = c.new_id()
    hello = c.request("hello", id=hid)
    sid = c.new_id()
    status = c.request("status", id=sid)
    move_seq(cab)
    assert c.request("hello", id=hid) == hello
    assert c.request("status", id=sid) == status, "a retried hello cleared the memory"


INVALID_IDS: dict[str, Any] = {
    "zero": 0,
    "negative": -1,
    "2^31": 2**31,
    "string": "7",
    "float": 1.5,
    "true": True,
    "null": None,
    "list": [1],
}


@pytest.mark.parametrize("name", [*INVALID_IDS, "missing"])
def test_invalid_id_is_answered_bad_arg_and_not_executed(per_slot: Rig, name: str) -> None:
    rig, c = per_slot, per_slot.client
    rig.locked(3)
    message: Message = {"cmd": "unlock", "slot": 3, "ms": 60000, "boot": c.boot}
    if name != "missing":
        message = {"id": INVALID_IDS[name], **message}
    start = c.mark()
    c.send(message)
    frame = c.wait_frame(lambda m: "ev" not in m, since=start)
    reply = frame.msg
    assert reply is not None
    assert reply.get("ok") is False
    assert reply.get("err") == "bad_arg"
    assert "id" in reply
    if reply["id"] is not None:
        assert name != "missing"
        assert reply["id"] == INVALID_IDS[name]
        assert type(reply["id"]) is type(INVALID_IDS[name])
    assert c.status()["locks"][3] == "1", "a request with an invalid id was executed"
    assert c.events(start, "lock") == []


def test_frames_without_valid_id_or_cmd_take_no_place_in_the_memory(cab: Rig) -> None:
    c = cab.client
    ids = [c.new_id() for _ in range(8)]
    stored = {i: c.request("status", id=i) for i in ids}
    start = c.mark()
    for bad in ({"id": 0, "cmd": "ping"}, {"id": "x", "cmd": "ping"}, {"cmd": "ping"}):
        c.send(bad)
    for _ in range(3):
        c.request(None)  # valid id, no cmd: unknown_cmd
    replies = [m for m in c.messages(start) if "ev" not in m]
    assert len(replies) == 6
    move_seq(cab)
    # Had any of those 6 been remembered, the oldest of the 8 ids would have been pushed out.
    assert c.request("status", id=ids[0]) == stored[ids[0]]


@pytest.mark.parametrize("cmd", ["missing", 5, None, True, ["ping"]], ids=str)
def test_missing_or_non_string_cmd_is_unknown_cmd_and_not_remembered(cab: Rig, cmd: Any) -> None:
    c = cab.client
    rid = c.new_id()
    message: Message = {"id": rid} if cmd == "missing" else {"id": rid, "cmd": cmd}
    start = c.mark()
    c.send(message)
    reply = c.reply_to(rid, start).msg
    assert reply == {"id": rid, "ok": False, "err": "unknown_cmd"}
    # Not remembered: the same id with a real command is executed.
    again = c.request("status", id=rid)
    assert again["ok"] is True
    assert "keys" in again


@pytest.mark.parametrize("cmd", ["open_locker", "PING", "", "unlock_all"])
def test_unknown_cmd(cab: Rig, cmd: str) -> None:
    c = cab.client
    reply = c.request(cmd)
    assert reply["ok"] is False
    assert reply["err"] == "unknown_cmd"


def test_extra_fields_are_ignored(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    assert c.request("ping", extra=1, slot="nonsense", nested={"a": [1, 2]})["ok"] is True
    status = c.request("status", boot="00000000", ms=-5, pattern="loud")
    assert status["ok"] is True
    assert "keys" in status
    assert c.request("hello", fw="x", proto=99)["boot"] == c.boot
    assert c.request("beep", pattern="ok", slot=999)["ok"] is True
    cab.locked(slot)
    assert c.unlock(slot, ms=60000, pattern="x", locked=True, note="열어")["ok"] is True
    assert c.status()["locks"][slot] == "0"


def test_ping_answers_ok(cab: Rig) -> None:
    c = cab.client
    rid = c.new_id()
    reply = c.request("ping", id=rid)
    assert reply["id"] == rid
    assert reply["ok"] is True
    assert "err" not in reply

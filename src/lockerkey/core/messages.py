"""The message catalogue: every text a member or staff sees, in Korean and English."""

from __future__ import annotations

import string
from collections.abc import Mapping
from enum import StrEnum

LANGUAGES = ("ko", "en")


class Msg(StrEnum):
    """Stable message keys (also stored in the audit log)."""

    IDLE = "idle"
    INVALID_CODE = "invalid_code"
    UNKNOWN_CARD = "unknown_card"
    SUSPENDED = "suspended"
    MEMBER_REMOVED = "member_removed"
    EXPIRED = "expired"
    ALREADY_RENTING = "already_renting"
    CHECKING_PREVIOUS = "checking_previous"
    DAILY_LIMIT = "daily_limit"
    NO_LOCKER_FREE = "no_locker_free"
    BUSY = "busy"
    CHOOSE_LOCKER = "choose_locker"
    LOCKER_NOT_AVAILABLE = "locker_not_available"
    TAKE_KEY = "take_key"
    TAKE_ANY_KEY = "take_any_key"
    RENTAL_OK = "rental_ok"
    RENTAL_NOT_ALLOWED = "rental_not_allowed"
    RENTAL_TIMEOUT = "rental_timeout"
    CANCELLED = "cancelled"
    RETURN_KEY = "return_key"
    RETURN_OK = "return_ok"
    RETURN_WRONG_SLOT = "return_wrong_slot"
    RETURN_TIMEOUT = "return_timeout"
    NO_ACTIVE_RENTAL = "no_active_rental"
    OUT_OF_SERVICE = "out_of_service"
    KIOSK_UNAVAILABLE = "kiosk_unavailable"
    LINK_LOST = "link_lost"
    UNLOCK_FAILED = "unlock_failed"
    FORCED_REMOVAL = "forced_removal"
    KEY_MISSING = "key_missing"
    LOCKER_MAINTENANCE = "locker_maintenance"
    NOT_CHOOSING = "not_choosing"
    NOTHING_TO_CANCEL = "nothing_to_cancel"
    # Staff: the kiosk's staff menu and the answers to staff actions.
    STAFF_MENU = "staff_menu"
    SLOT_OPENED = "slot_opened"
    UNKNOWN_LOCKER = "unknown_locker"
    LOCKER_IN_USE = "locker_in_use"
    KIOSK_IN_USE = "kiosk_in_use"
    LOCKER_BEING_CHECKED = "locker_being_checked"
    CABINET_OFFLINE = "cabinet_offline"
    OPEN_SECONDS_INVALID = "open_seconds_invalid"
    FORCE_RETURNED = "force_returned"
    FORCE_RETURNED_KEY_OUT = "force_returned_key_out"
    KEY_MARKED_LOST = "key_marked_lost"
    LOCKER_DISABLED = "locker_disabled"
    LOCKER_ENABLED = "locker_enabled"


CATALOGUE: Mapping[Msg, tuple[str, str]] = {
    Msg.IDLE: ("회원카드 또는 락카키를 스캔해 주세요", "Scan your membership card or locker key"),
    Msg.INVALID_CODE: (
        "읽을 수 없는 코드입니다. 다시 스캔해 주세요",
        "That code could not be read. Please scan again",
    ),
    Msg.UNKNOWN_CARD: ("등록되지 않은 카드입니다", "This card is not registered"),
    Msg.SUSPENDED: (
        "이용이 정지된 회원입니다. 데스크에 문의해 주세요",
        "Your membership is suspended. Please ask at the front desk",
    ),
    Msg.MEMBER_REMOVED: (
        "회원 명단에 없는 회원입니다. 데스크에 문의해 주세요",
        "You are not on the member list. Please ask at the front desk",
    ),
    Msg.EXPIRED: ("회원권이 {date}에 만료되었습니다", "Your membership expired on {date}"),
    Msg.ALREADY_RENTING: (
        "이미 {locker}번 락카를 대여 중입니다",
        "You already have locker {locker}",
    ),
    Msg.CHECKING_PREVIOUS: (
        "이전 이용 내역을 확인 중입니다. 잠시 후 다시 시도해 주세요",
        "Your previous use is still being checked. Please try again shortly",
    ),
    Msg.DAILY_LIMIT: (
        "오늘 대여 가능 횟수({limit}회)를 모두 사용했습니다",
        "You have used today's {limit} rental(s)",
    ),
    Msg.NO_LOCKER_FREE: ("지금 이용 가능한 락카가 없습니다", "No locker is free for you right now"),
    Msg.BUSY: ("다른 회원이 이용 중입니다", "Another member is using the machine"),
    Msg.CHOOSE_LOCKER: ("락카를 선택해 주세요", "Choose a locker"),
    Msg.LOCKER_NOT_AVAILABLE: (
        "{locker}번 락카는 선택할 수 없습니다",
        "Locker {locker} cannot be chosen",
    ),
    Msg.TAKE_KEY: ("{locker}번 락카키를 가져가세요", "Take the key of locker {locker}"),
    Msg.TAKE_ANY_KEY: (
        "문이 열렸습니다. 락카키를 하나 가져가세요",
        "The door is open. Take one key",
    ),
    Msg.RENTAL_OK: ("{locker}번 락카 대여 완료", "Locker {locker} is yours"),
    Msg.RENTAL_NOT_ALLOWED: (
        "{locker}번 키는 이용할 수 없는 락카입니다. 직원에게 알렸습니다",
        "Key {locker} is not for you. Staff have been told",
    ),
    Msg.RENTAL_TIMEOUT: (
        "시간이 지나 대여가 취소되었습니다",
        "Time is up: the rental was cancelled",
    ),
    Msg.CANCELLED: ("취소되었습니다", "Cancelled"),
    Msg.RETURN_KEY: ("{locker}번 칸에 키를 넣어 주세요", "Put the key into slot {locker}"),
    Msg.RETURN_OK: ("{locker}번 락카 반납 완료. 감사합니다", "Locker {locker} returned. Thank you"),
    Msg.RETURN_WRONG_SLOT: (
        "키가 {actual}번 칸에 들어갔습니다. 직원에게 알렸습니다",
        "The key went into slot {actual}. Staff have been told",
    ),
    Msg.RETURN_TIMEOUT: (
        "시간이 지나 반납되지 않았습니다. 키를 다시 스캔해 주세요",
        "Time is up: the key was not returned. Please scan it again",
    ),
    Msg.NO_ACTIVE_RENTAL: (
        "{locker}번 락카는 대여 중이 아닙니다",
        "Locker {locker} is not rented out",
    ),
    Msg.OUT_OF_SERVICE: (
        "점검 중입니다. 직원에게 문의해 주세요",
        "Out of service. Please ask staff",
    ),
    Msg.KIOSK_UNAVAILABLE: (
        "잠시 후 다시 시도해 주세요",
        "Please try again in a moment",
    ),
    Msg.LINK_LOST: (
        "보관함과 연결이 끊겼습니다. 직원에게 문의해 주세요",
        "Lost contact with the key cabinet. Please ask staff",
    ),
    Msg.UNLOCK_FAILED: (
        "보관함을 열지 못했습니다. 직원에게 문의해 주세요",
        "The cabinet could not be opened. Please ask staff",
    ),
    Msg.KEY_MISSING: (
        "{locker}번 칸에 키가 없습니다. 직원에게 알렸습니다",
        "The key of locker {locker} is missing. Staff have been told",
    ),
    Msg.FORCED_REMOVAL: (
        "{locker}번 키가 잠긴 칸에서 빠졌습니다",
        "Key {locker} left a locked slot",
    ),
    Msg.LOCKER_MAINTENANCE: (
        "{locker}번 칸은 직원이 점검 중입니다. 잠시 후 다시 스캔해 주세요",
        "Staff are servicing slot {locker}. Please scan again shortly",
    ),
    Msg.NOT_CHOOSING: (
        "지금은 락카를 선택할 수 없습니다",
        "No locker can be chosen right now",
    ),
    Msg.NOTHING_TO_CANCEL: ("취소할 것이 없습니다", "There is nothing to cancel"),
    Msg.STAFF_MENU: ("직원 메뉴: 열 칸을 선택하세요", "Staff menu: choose a slot to open"),
    Msg.SLOT_OPENED: (
        "{locker}번 칸이 {seconds}초 동안 열립니다",
        "Slot {locker} is open for {seconds} seconds",
    ),
    Msg.UNKNOWN_LOCKER: ("{locker}번 락카는 없습니다", "There is no locker {locker}"),
    Msg.LOCKER_IN_USE: (
        "회원이 지금 {locker}번 락카를 이용 중입니다. 잠시 후 다시 시도해 주세요",
        "A member is using locker {locker} right now. Try again shortly",
    ),
    Msg.KIOSK_IN_USE: (
        "회원이 키오스크를 이용 중이라 칸을 열 수 없습니다. 잠시 후 다시 시도해 주세요",
        "A member is using the kiosk now, so no slot can be opened. Try again shortly",
    ),
    Msg.LOCKER_BEING_CHECKED: (
        "{locker}번 락카는 중단된 이용을 확인 중입니다. 보관함이 연결된 뒤 다시 시도해 주세요",
        "An interrupted use of locker {locker} is still being checked."
        " Try again once its cabinet is connected",
    ),
    Msg.CABINET_OFFLINE: (
        "{locker}번 락카의 보관함이 연결되어 있지 않습니다",
        "The cabinet of locker {locker} is not connected",
    ),
    Msg.OPEN_SECONDS_INVALID: (
        "여는 시간은 1초에서 {max}초 사이여야 합니다",
        "The open time must be between 1 and {max} seconds",
    ),
    Msg.FORCE_RETURNED: (
        "{locker}번 락카를 반납 처리했습니다",
        "Locker {locker} was marked returned",
    ),
    Msg.FORCE_RETURNED_KEY_OUT: (
        "{locker}번 락카를 반납 처리했습니다. 키가 칸에 들어오면 다시 대여됩니다",
        "Locker {locker} was marked returned. It is offered again once its key is in its slot",
    ),
    Msg.KEY_MARKED_LOST: (
        "{locker}번 키를 분실 처리했습니다. 락카는 사용 중지되었습니다",
        "Key {locker} was recorded as lost. The locker is out of service",
    ),
    Msg.LOCKER_DISABLED: (
        "{locker}번 락카를 사용 중지했습니다",
        "Locker {locker} is out of service",
    ),
    Msg.LOCKER_ENABLED: (
        "{locker}번 락카를 다시 사용합니다",
        "Locker {locker} is back in service",
    ),
}


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def render(msg: Msg, language: str, params: Mapping[str, str] | None = None) -> str:
    """The text of ``msg`` in ``language`` (``ko`` or ``en``; anything else falls back to ko)."""
    ko, en = CATALOGUE[msg]
    template = en if language == "en" else ko
    return template.format_map(dict(params or {}))

"""The kiosk page's own texts (buttons, headings, hints), in Korean and English."""

# The engine's catalogue (messages.py) says what happened; these are the words around it on
# the touchscreen. The page fills in the {name} placeholders itself.

from __future__ import annotations

from collections.abc import Mapping

from lockerkey.core.messages import CATALOGUE, LANGUAGES

LABELS: Mapping[str, tuple[str, str]] = {
    # Each language's name in itself: the toggle shows the language it switches to.
    "language_name": ("한국어", "English"),
    "cancel": ("취소", "Cancel"),
    "close": ("닫기", "Close"),
    "page_prev": ("이전", "Back"),
    "page_next": ("다음", "Next"),
    "page_of": ("{page} / {pages}", "{page} / {pages}"),
    "seconds_left": ("{seconds}초", "{seconds} s"),
    "back_to_start": ("{seconds}초 후 처음 화면으로", "Start screen in {seconds} s"),
    "locker": ("락카", "Locker"),
    "slot": ("칸", "Slot"),
    "locker_number": ("{locker}번", "No. {locker}"),
    "take_key_hint": ("열린 칸에서 키를 꺼내세요", "Take the key from the open slot"),
    "return_key_hint": ("이 칸에 키를 넣으세요", "Put the key into this slot"),
    "no_lockers": ("이 구역에 락카가 없습니다", "No lockers in this zone"),
    "connection_lost": ("연결 중입니다", "Connecting"),
    "connection_lost_hint": (
        "화면과 키오스크의 연결이 끊겼습니다. 자동으로 다시 연결합니다",
        "The screen lost its link to the kiosk. Reconnecting by itself",
    ),
    # Zone headings, for the zone names a site is likely to use; others show their own name.
    "zone.none": ("락카", "Lockers"),
    "zone.male": ("남성", "Men"),
    "zone.men": ("남성", "Men"),
    "zone.female": ("여성", "Women"),
    "zone.women": ("여성", "Women"),
    "zone.sauna": ("사우나", "Sauna"),
    "zone.pool": ("수영장", "Pool"),
    "zone.gym": ("헬스장", "Gym"),
    "zone.staff": ("직원", "Staff"),
    "zone.family": ("가족", "Family"),
    "zone.vip": ("VIP", "VIP"),
    # A locker's state as the staff grid colours it (screen.locker_state).
    "state.free": ("빈 락카", "Free"),
    "state.rented": ("대여 중", "Rented"),
    "state.abnormal": ("이상", "Problem"),
    "state.out_of_service": ("사용 중지", "Out of service"),
    "state.key_missing": ("키 없음", "Key missing"),
    "state.unknown": ("확인 중", "Unknown"),
}


def page_texts() -> dict[str, dict[str, str]]:
    """Every text the page shows, per language: these labels plus the engine's catalogue."""
    texts: dict[str, dict[str, str]] = {}
    for index, lang in enumerate(LANGUAGES):
        table = {str(msg): pair[index] for msg, pair in CATALOGUE.items()}
        # A label never shares a key with a message: the page looks both up in one table.
        table.update({key: pair[index] for key, pair in LABELS.items()})
        texts[lang] = table
    return texts

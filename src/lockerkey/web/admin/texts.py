"""Every text of the staff console, in Korean and English (answers of the engine come from
``core/messages.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

TEXTS: Mapping[str, tuple[str, str]] = {
    "app_name": ("락카키 관리", "Locker keys admin"),
    "other_language": ("English", "한국어"),
    "logged_in_as": ("로그인한 계정", "Logged in as"),
    "logout": ("로그아웃", "Log out"),
    "nav.label": ("메뉴", "Menu"),
    "nav.lockers": ("락카", "Lockers"),
    "nav.rentals": ("대여 중", "Rentals"),
    "nav.alerts": ("알림", "Alerts"),
    "nav.members": ("회원", "Members"),
    "nav.charts": ("통계", "Charts"),
    "nav.backup": ("백업·동기화", "Backup & sync"),
    "title.login": ("직원 로그인", "Staff login"),
    "title.403": ("요청을 처리하지 않았습니다", "Request refused"),
    "title.missing": ("찾을 수 없습니다", "Not found"),
    "title.lockers": ("락카 현황", "Lockers"),
    "title.locker": ("락카", "Locker"),
    "title.rentals": ("대여 중인 락카", "Active rentals"),
    "title.alerts": ("알림", "Alerts"),
    "title.members": ("회원 찾기", "Find a member"),
    "title.member": ("회원", "Member"),
    "title.charts": ("이용 통계", "Usage charts"),
    "title.backup": ("백업과 동기화", "Backup and sync"),
    "login.name": ("계정", "Account"),
    "login.password": ("비밀번호", "Password"),
    "login.submit": ("로그인", "Log in"),
    "login.no_accounts": (
        "아직 계정이 없습니다. 키오스크에서 다음 명령으로 만드세요:",
        "There is no account yet. Create one on the kiosk with:",
    ),
    "login.failed": (
        "계정 또는 비밀번호가 맞지 않습니다",
        "Wrong account name or password",
    ),
    "login.too_many": (
        "로그인 시도가 너무 많습니다. {seconds}초 후에 다시 시도하세요",
        "Too many attempts, try again in {seconds} s",
    ),
    "forbidden.text": (
        "이 양식은 만료되었거나 이 관리 화면에서 보낸 것이 아닙니다. 아무것도 바뀌지 않았습니다."
        " 페이지를 다시 열고 다시 시도하세요.",
        "This form has expired or did not come from this console. Nothing was done."
        " Open the page again and retry.",
    ),
    "forbidden.again": ("다시 열기", "Open it again"),
    "missing.back": ("락카 현황으로", "Back to the lockers"),
    "form.seconds": ("여는 시간(초)", "Seconds open"),
    "form.reason": ("사유", "Reason"),
    "form.reason_hint": ("예: 회원이 키를 데스크에 반납", "e.g. member handed the key in"),
    "action.force_return": ("반납 처리", "Force return"),
    "action.mark_lost": ("키 분실 처리", "Mark key lost"),
    "action.out_of_service": ("사용 중지", "Take out of service"),
    "action.in_service": ("다시 사용", "Put back in service"),
    "action.open_slot": ("칸 열기(점검)", "Open slot for maintenance"),
    "action.reason_needed": ("사유를 적어 주세요", "Please give a reason"),
    "action.seconds_invalid": (
        "여는 시간은 초 단위 숫자입니다",
        "The open time is a number of seconds",
    ),
    "action.unavailable": (
        "키오스크가 요청을 처리하지 못했습니다. 잠시 후 다시 시도하세요",
        "The kiosk could not handle the request. Try again shortly",
    ),
    "action.no_answer": (
        "키오스크가 이 동작에 답하지 않았습니다",
        "The kiosk gave no answer to this action",
    ),
    "lockers.offline": ("연결되지 않은 보관함: {cabinets}", "Cabinets not connected: {cabinets}"),
    "lockers.legend": ("색상 안내", "Legend"),
    "state.free": ("비어 있음", "Free"),
    "state.rented": ("대여 중", "Rented"),
    "state.pending": ("대여 진행 중", "Being rented"),
    "state.abnormal": ("이상 (확인 필요)", "Abnormal (set aside)"),
    "state.out_of_service": ("사용 중지", "Out of service"),
    "state.disagrees": ("센서 불일치", "Sensor disagrees"),
    "state.unknown": ("알 수 없음", "Unknown"),
    "locker.heading": ("{locker}번 락카", "Locker {locker}"),
    "locker.where": ("위치", "Where"),
    "locker.slot": ("칸", "slot"),
    "locker.key": ("키 센서", "Key sensor"),
    "locker.lock": ("잠금", "Lock"),
    "locker.service": ("사용 상태", "Service"),
    "locker.holder": ("대여 회원", "Rented by"),
    "locker.since": ("{when}부터", "since {when}"),
    "locker.pending": ("대여 진행 중인 회원", "Being rented by"),
    "locker.actions": ("직원 조치", "Staff actions"),
    "locker.rentals": ("최근 대여", "Recent rentals"),
    "locker.events": ("최근 기록", "Recent events"),
    "key.in": ("칸에 있음", "In its slot"),
    "key.out": ("칸에 없음", "Not in its slot"),
    "key.unknown": ("보고 없음", "Not reported yet"),
    "lock.unknown": ("알 수 없음", "Unknown"),
    "lock.locked": ("잠김", "Locked"),
    "lock.open": ("열림", "Open"),
    "service.in_service": ("사용 중", "In service"),
    "service.set_aside": ("이상으로 보류", "Set aside"),
    "service.disabled": ("사용 중지", "Out of service"),
    "col.member": ("회원", "Member"),
    "col.status": ("상태", "Status"),
    "col.since": ("대여 시각", "Since"),
    "col.returned": ("반납 시각", "Returned"),
    "col.time": ("시각", "Time"),
    "col.event": ("내용", "What"),
    "col.details": ("세부", "Details"),
    "col.locker": ("락카", "Locker"),
    "col.duration": ("대여 시간", "Out for"),
    "col.resolve": ("조치", "Resolve"),
    "col.barcode": ("바코드", "Barcode"),
    "col.name": ("이름", "Name"),
    "col.expiry": ("만료일", "Expires"),
    "col.renting": ("대여 중인 락카", "Renting"),
    "col.file": ("파일", "File"),
    "col.size": ("크기", "Size"),
    "col.written": ("만든 시각", "Written"),
    "rental.pending": ("진행 중", "Pending"),
    "rental.active": ("대여 중", "Active"),
    "rental.returned": ("반납됨", "Returned"),
    "rental.abnormal": ("이상", "Abnormal"),
    "rental.cancelled": ("취소됨", "Cancelled"),
    "empty.rentals": ("대여 기록이 없습니다", "No rentals"),
    "empty.events": ("기록이 없습니다", "No events"),
    "empty.active": ("지금 대여 중인 락카가 없습니다", "No locker is rented out now"),
    "empty.alerts": ("알림이 없습니다", "No alerts"),
    "empty.members": ("찾는 회원이 없습니다", "No member matches"),
    "empty.backups": ("아직 백업이 없습니다", "No backups yet"),
    "rentals.long_hint": (
        "{hours}시간이 넘은 대여는 강조해 표시합니다",
        "Rentals out for more than {hours} h are highlighted",
    ),
    "alerts.hint": (
        "최근 {days}일 동안 직원이 확인해야 할 일, 최신 순",
        "What staff should look at in the last {days} days, newest first",
    ),
    "members.search": ("바코드 또는 이름", "Barcode or name"),
    "members.search_hint": ("일부만 입력해도 됩니다", "Part of it is enough"),
    "members.search_button": ("찾기", "Search"),
    "member.active": ("정상", "Active"),
    "member.suspended": ("정지", "Suspended"),
    "member.expired": ("만료", "Expired"),
    "member.removed": ("명단에서 빠짐", "Not on the member list"),
    "member.no_expiry": ("없음", "None"),
    "member.today": ("오늘 대여 횟수", "Rentals today"),
    "member.last": ("마지막 {when}", "last {when}"),
    "member.history": ("대여 기록", "Rental history"),
    "charts.hourly": (
        "오늘 시간대별 대여 (선: 4주 평균)",
        "Rentals per hour today (line: 4-week average)",
    ),
    "charts.daily": ("최근 30일 일별 대여", "Rentals per day, last 30 days"),
    "charts.utilisation": ("락카별 이용률 (최근 30일)", "Use per locker, last 30 days"),
    "backup.heading": ("장부 백업", "Ledger backups"),
    "backup.where": ("백업 폴더: {dir}", "Backup folder: {dir}"),
    "backup.now": ("지금 백업", "Back up now"),
    "backup.not_available": (
        "이 실행에서는 백업을 할 수 없습니다",
        "Backups cannot be taken from this run",
    ),
    "backup.done": ("백업했습니다: {name}", "Backup written: {name}"),
    "backup.failed": (
        "백업하지 못했습니다. 알림과 로그를 확인하세요",
        "The backup failed. See the alerts and the log",
    ),
    "sync.heading": ("동기화", "Sync"),
    "sync.backend": ("설정된 방식: {backend}", "Configured backend: {backend}"),
    "sync.now": ("지금 동기화", "Run now"),
    "sync.not_set_up": ("동기화가 아직 설정되지 않았습니다", "Sync is not set up"),
    "sync.failed": ("동기화하지 못했습니다: {error}", "The sync failed: {error}"),
    "sync.done": ("동기화했습니다", "Sync finished"),
    "sync.col.started": ("시작", "Started"),
    "sync.col.how": ("계기", "Trigger"),
    "sync.col.members": ("회원", "Members"),
    "sync.col.rentals": ("대여 기록", "Rentals"),
    "sync.col.calls": ("API 호출", "API calls"),
    "sync.col.row": ("시트 행", "Sheet row"),
    "sync.col.reason": ("이유", "Reason"),
    "sync.status.ok": ("완료", "Done"),
    "sync.status.failed": ("실패", "Failed"),
    "sync.status.running": ("진행 중", "Running"),
    "sync.members": (
        "{read}행 읽음, {added}명 추가, {removed}명 해지, {bad}행 건너뜀",
        "{read} rows read, {added} added, {removed} deactivated, {bad} rows skipped",
    ),
    "sync.rentals": ("{appended}건 추가, {updated}건 갱신", "{appended} added, {updated} updated"),
    "sync.bad_rows": ("마지막 동기화에서 건너뛴 행", "Rows skipped by the last sync"),
    "sync.no_runs": ("아직 동기화한 적이 없습니다", "No sync has run yet"),
    "backend.none": ("사용 안 함", "none"),
    "backend.csv": ("CSV 파일", "CSV file"),
    "backend.gsheets": ("Google 스프레드시트", "Google Sheets"),
    "code.WRONG_SLOT": ("다른 칸에 반납", "Returned into the wrong slot"),
    "code.NOT_ALLOWED_TAKEN": ("허용되지 않은 키를 가져감", "Key taken by a member not allowed it"),
    "code.SET_ASIDE_TAKEN": ("보류된 칸의 키를 가져감", "Key taken from a set-aside slot"),
    "code.FORCED_REMOVAL": ("잠긴 칸에서 키가 빠짐", "Key left a locked slot"),
    "code.KEY_MISSING": ("칸에 키가 없음", "Key missing"),
    "code.FORCED_RETURN": ("직원이 반납 처리", "Returned by staff"),
    "code.KEY_LOST": ("키 분실", "Key lost"),
    "kind.set_aside": ("락카 보류", "Locker set aside"),
    "kind.link_lost": ("보관함 연결 끊김", "Cabinet link lost"),
    "kind.controller_fault": ("보관함 하드웨어 이상", "Controller fault"),
    "kind.unlock_refused": ("칸 열기 실패", "Unlock refused"),
    "kind.command_failed": ("명령 전달 실패", "Command not delivered"),
    "kind.command_refused": ("명령 거부", "Command refused"),
    "kind.backup_failed": ("백업 실패", "Backup failed"),
    "kind.session_started": ("이용 시작", "Session started"),
    "kind.selected": ("락카 선택", "Locker chosen"),
    "kind.cancelled": ("취소", "Cancelled"),
    "kind.timeout": ("시간 초과", "Timed out"),
    "kind.rental_active": ("대여 확인", "Rental confirmed"),
    "kind.rental_abnormal": ("이상 대여", "Abnormal rental"),
    "kind.returned": ("반납", "Returned"),
    "kind.returned_unscanned": ("스캔 없이 반납", "Returned without a scan"),
    "kind.key_gone": ("키 빠짐", "Key left"),
    "kind.key_back": ("키 돌아옴", "Key came back"),
    "kind.recovered": ("중단된 이용 정리", "Interrupted use settled"),
    "kind.refused": ("거절", "Refused"),
    "kind.busy": ("사용 중 안내", "Machine busy"),
    "kind.admin_force_return": ("직원 반납 처리", "Staff: force return"),
    "kind.admin_mark_lost": ("직원 분실 처리", "Staff: key lost"),
    "kind.admin_out_of_service": ("직원 사용 중지", "Staff: out of service"),
    "kind.admin_in_service": ("직원 다시 사용", "Staff: back in service"),
    "kind.admin_open_slot": ("직원 칸 열기", "Staff: slot opened"),
    "kind.admin_relock": ("칸 다시 잠금", "Slot relocked"),
    "detail.actual": ("들어간 칸", "went into"),
    "detail.target": ("들어온 키의 락카", "key of locker"),
    "detail.cabinet": ("보관함", "cabinet"),
    "detail.slot": ("칸", "slot"),
    "detail.reason": ("사유", "reason"),
    "detail.staff": ("직원", "staff"),
    "detail.error": ("오류", "error"),
    "detail.seconds": ("초", "seconds"),
    "detail.outcome": ("결과", "outcome"),
    "detail.phase": ("단계", "step"),
    "detail.via": ("경로", "via"),
    "detail.key_in_slot": ("칸에 키 있음", "key in its slot"),
    "detail.cause": ("이유", "cause"),
    "detail.returned_by": ("넣은 회원", "returned by"),
    "detail.action": ("동작", "action"),
    "detail.previous": ("이전 상태", "before"),
    "detail.previous_reason": ("이전 사유", "reason before"),
    "detail.sent": ("보냄", "sent"),
    "duration.hm": ("{h}시간 {m}분", "{h} h {m} min"),
    "duration.m": ("{m}분", "{m} min"),
}

# Detail keys that the event's own columns or its label already say.
_QUIET_DETAILS = frozenset({"code", "msg", "level", "read_as"})


class Translator:
    """The console's texts in one language, and the small formatters pages use."""

    def __init__(self, language: str) -> None:
        self.index = 1 if language == "en" else 0

    def __call__(self, key: str, **params: Any) -> str:
        """The text of ``key`` (KeyError when there is none: a bug the tests catch)."""
        return TEXTS[key][self.index].format_map(params)

    def label(self, key: str, fallback: str) -> str:
        """The text of ``key`` if there is one, else ``fallback`` as it is."""
        text = TEXTS.get(key)
        return fallback if text is None else text[self.index]

    def code(self, code: str) -> str:
        """An error code in words (an unknown code as it is)."""
        return self.label(f"code.{code}", code)

    def kind(self, kind: str) -> str:
        """An audit kind in words (an unknown kind as it is)."""
        return self.label(f"kind.{kind}", kind)

    def details(self, details: Mapping[str, Any]) -> str:
        """An event's details as one readable line."""
        parts = [
            f"{self.label(f'detail.{k}', k)}: {self.code(str(v))}"
            for k, v in details.items()
            if k not in _QUIET_DETAILS and v is not None and v != ""
        ]
        return " · ".join(parts)

    def duration(self, span: timedelta | None) -> str:
        """A length of time in hours and minutes."""
        if span is None:
            return ""
        minutes = max(0, int(span.total_seconds() // 60))
        hours, minutes = divmod(minutes, 60)
        return self("duration.hm", h=hours, m=minutes) if hours else self("duration.m", m=minutes)


def translator(language: str) -> Translator:
    """``t(key, **params)`` for one language."""
    return Translator(language)


def size(count: int) -> str:
    """A file size in bytes, KiB or MiB."""
    if count < 1024:
        return f"{count} B"
    if count < 1024 * 1024:
        return f"{count / 1024:.1f} KiB"
    return f"{count / 1024 / 1024:.1f} MiB"

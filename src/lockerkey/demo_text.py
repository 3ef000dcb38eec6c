"""What ``lockerkey demo`` says in its terminal: the banner with the URLs, and the help."""

from __future__ import annotations

from lockerkey.config import Settings

ADMIN_USER = "demo"  # the admin console account the web demo creates


def say(text: str) -> None:
    """Print at once, also when stdout is a pipe (a test reads the URLs as they come)."""
    print(text, flush=True)  # noqa: T201


def help_text(shared: bool, base: str | None) -> str:
    """What can be typed here; with the web (``base``: its URL), where its pages are."""
    where = (
        "24 keys behind one shared door; any member takes any key"
        if shared
        else "lockers 1-12 are the men's zone, 13-24 the women's"
    )
    hand = (
        f"Web: kiosk {base}/  panel {base}/sim  admin {base}/admin (password above).\n"
        "Keys are taken and put back by clicking in the panel;\n"
        "  /auto on | /auto off   a pretend member does it after every unlock\n"
        if base
        else "A pretend member takes or returns the key after every unlock.\n"
    )
    return (
        "Type a code and press Enter, as a scanner would:\n"
        "  M0001 M0002 M0006       members (M0003 is suspended, M0004 expired)\n"
        "  M0005                   a staff card (the staff menu)\n"
        "  KEY-1 ... KEY-24        the tag on a locker's key (returns it)\n"
        f"{hand}"
        "Commands: /select N   /cancel   /status   /sync   /help   /quit (or Ctrl-D)\n"
        "  /misplace   the pretend member's next returned key goes into another empty slot\n"
        f"({where}.)"
    )


def base_url(settings: Settings, port: int | None) -> str:
    """``http://HOST:PORT`` of the web pages, as a browser on this machine reaches them."""
    if port is None:
        return "(the web server did not start: see the log)"
    host = settings.web.host
    if host in ("0.0.0.0", "::"):  # noqa: S104 - every address: this machine's own is one
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def banner(settings: Settings, base: str, admin: str, shared: bool) -> str:
    """The URLs first, then what to do with them, then where the data is."""
    login = f"user {ADMIN_USER}, password {admin}  (new each run / 실행마다 새 비밀번호)"
    if shared:
        kind = "a shared-door cabinet: 24 keys behind one door / 공용 문 캐비닛 (키 24개)"
        steps = (
            "  1. Scan a member card: click M0001 in the panel (or type it here).\n"
            "  2. The door unlocks: click any key in the panel to take it.\n"
            "  3. Click the key's tag (KEY-n) to return it; click its empty slot to put it back.\n"
            "  1. 패널에서 회원카드(M0001)를 누르세요 (여기에 입력해도 됩니다).\n"
            "  2. 문이 열리면 패널에서 아무 키나 눌러 가져가세요.\n"
            "  3. 반납: 키 태그(KEY-n)를 누르고 빈 칸을 눌러 키를 넣으세요.\n"
        )
    else:
        kind = "24 lockers, 1-12 men, 13-24 women / 락카 24개 (1-12 남성, 13-24 여성)"
        steps = (
            "  1. Scan a member card: click M0001 in the panel (or type it here).\n"
            "  2. Choose a locker on the kiosk screen; its slot unlocks in the panel.\n"
            "  3. Click that slot in the panel to take the key.\n"
            "  4. Click the key's tag (KEY-n) to return it; click the slot to put the key back.\n"
            "  1. 패널에서 회원카드(M0001)를 누르세요 (여기에 입력해도 됩니다).\n"
            "  2. 키오스크 화면에서 락카를 고르면 패널의 그 칸이 열립니다.\n"
            "  3. 패널에서 그 칸을 눌러 키를 가져가세요.\n"
            "  4. 반납: 키 태그(KEY-n)를 누르고 그 칸을 눌러 키를 넣으세요.\n"
        )
    where = settings.data_dir
    return (
        f"lockerkey demo: {kind}\n"
        f"  kiosk screen     키오스크 화면   {base}/\n"
        f"  simulator panel  시뮬레이터      {base}/sim\n"
        f"  admin console    관리자 콘솔     {base}/admin   {login}\n"
        "Open the kiosk screen and the simulator panel side by side "
        "(두 창을 나란히 여세요):\n"
        f"{steps}"
        f"Ledger in {where}/locker.db, logs in {where}/logs/. Ctrl-C or /quit ends the demo."
    )

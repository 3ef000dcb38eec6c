"""Console logins: scrypt hashes, sessions and their cookie, expiry, CSRF, growing delays
after failed logins, the audit trail, and the ``lockerkey admin`` commands as a process."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from lockerkey.store import accounts
from lockerkey.web.admin import auth
from lockerkey.web.admin.base import safe_back
from tests.admin_harness import PASSWORD, Rig, console, csrf_of

# ---- hashes -----------------------------------------------------------------------------------


def test_a_hash_has_the_documented_form_and_round_trips() -> None:
    stored = accounts.hash_password("s3cret pass")
    kind, n, r, p, salt, key = stored.split("$")
    assert (kind, n, r, p) == ("scrypt", str(2**15), "8", "1")
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(key)) == 32
    assert "s3cret" not in stored
    assert accounts.verify_password("s3cret pass", stored)
    assert not accounts.verify_password("s3cret pasS", stored)
    assert not accounts.verify_password("", stored)
    # A random salt each time: the same password never gives the same row.
    assert accounts.hash_password("s3cret pass") != stored


def test_a_given_salt_gives_a_repeatable_hash() -> None:
    salt = bytes(range(16))
    assert accounts.hash_password("x" * 8, salt) == accounts.hash_password("x" * 8, salt)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "bcrypt$1$2$3$4$5",
        "scrypt$16384$8$1$onlyfive",
        f"scrypt$x$8$1${_b64(b's' * 16)}${_b64(b'k' * 32)}",
        f"scrypt$16384$8$1$not*base64${_b64(b'k' * 32)}",
        f"scrypt$16383$8$1${_b64(b's' * 16)}${_b64(b'k' * 32)}",  # n not a power of two
        f"scrypt$1048576$8$1${_b64(b's' * 16)}${_b64(b'k' * 32)}",  # 1 GiB: over the cap
        f"scrypt$16384$8$99${_b64(b's' * 16)}${_b64(b'k' * 32)}",  # p beyond the limit
        f"scrypt$16384$8$1${_b64(b's' * 16)}$",  # no key
        f"scrypt$16384$8$1$${_b64(b'k' * 32)}",  # no salt
        f"scrypt$16384$8$1${_b64(b's' * 16)}${_b64(b'k' * 65)}",  # a key too long
        f"scrypt${10**40}$8$1${_b64(b's' * 16)}${_b64(b'k' * 32)}",  # beyond any integer type
    ],
)
def test_a_malformed_or_greedy_hash_never_verifies(stored: str) -> None:
    assert accounts.verify_password("whatever1", stored) is False


# ---- the pieces on their own ------------------------------------------------------------------


def test_delays_grow_from_the_fourth_try_up_to_a_minute() -> None:
    assert [auth.delay_after(n) for n in range(11)] == [0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60]


def test_the_throttle_counts_per_key_and_forgets_on_success() -> None:
    now = [0.0]
    throttle = auth.Throttle(lambda: now[0])
    for _ in range(3):
        throttle.failed(["name:kim", "client:1.2.3.4"])
    assert throttle.wait(["name:kim"]) == 1.0
    assert throttle.wait(["name:lee", "client:1.2.3.4"]) == 1.0  # the address is held too
    assert throttle.wait(["name:lee", "client:5.6.7.8"]) == 0.0
    now[0] = 0.5
    assert throttle.wait(["name:kim"]) == 0.5
    throttle.succeeded(["name:kim", "client:1.2.3.4"])
    assert throttle.wait(["name:kim", "client:1.2.3.4"]) == 0.0
    throttle.failed(["name:old"])
    now[0] = auth.FORGET_S + 10
    throttle.failed(["name:new"])  # an hour later: the old record is dropped
    assert throttle._records.keys() == {"name:new"}


def test_sessions_slide_and_expire() -> None:
    now = [0.0]
    sessions = auth.Sessions(60.0, lambda: now[0])
    first = sessions.create("kim", "v1")
    assert first.token != first.csrf and len(first.token) >= 43
    now[0] = 59.0
    assert sessions.get(first.token) is first  # used: its idle time restarts
    now[0] = 118.0
    assert sessions.get(first.token) is first
    now[0] = 179.0
    assert sessions.get(first.token) is None and len(sessions) == 0
    assert sessions.get(None) is None and sessions.get("made-up") is None
    second = sessions.create("kim", "v1")
    sessions.drop(second.token)
    assert sessions.get(second.token) is None


def test_old_sessions_make_room_for_new_ones() -> None:
    now = [0.0]
    sessions = auth.Sessions(1e9, lambda: now[0])
    first = sessions.create("a", "v")
    for i in range(auth.MAX_SESSIONS - 1):
        now[0] = i + 1.0
        sessions.create("a", "v")
    now[0] += 1
    sessions.create("a", "v")
    assert len(sessions) == auth.MAX_SESSIONS and sessions.get(first.token) is None


def test_tokens_compare_in_constant_time_and_never_match_when_missing() -> None:
    assert auth.same("abc", "abc") and not auth.same("abc", "abd")
    assert not auth.same("", "") and not auth.same(None, "x") and not auth.same("x", None)
    assert not accounts.verify_password("anything", auth.dummy_hash())


@pytest.mark.parametrize(
    ("target", "result"),
    [
        ("/admin/rentals?sort=member", "/admin/rentals?sort=member"),
        ("/admin", "/admin"),
        ("/admin?lang=en", "/admin?lang=en"),
        ("https://evil.example/admin/", "/admin/"),
        ("//evil.example/admin/", "/admin/"),
        ("/admin//evil.example", "/admin/"),
        ("/admin/\\evil", "/admin/"),
        ("/administrator", "/admin/"),
        ("/admin/\r\nx", "/admin/"),
        ("", "/admin/"),
        (None, "/admin/"),
    ],
)
def test_redirect_targets_stay_inside_the_console(target: str | None, result: str) -> None:
    assert safe_back(target) == result


# ---- logging in and out -----------------------------------------------------------------------


def no_password_anywhere(rig: Rig, *passwords: str) -> None:
    rig.call(rig.site.kiosk.queue.join)

    def read(ledger: object) -> list[str]:
        return [" ".join(map(str, row)) for row in ledger.conn.execute("SELECT * FROM events")]  # type: ignore[attr-defined]

    rows = rig.call(rig.site.kiosk.db, read, rig.site.ledger)
    for password in passwords:
        assert not any(password in row for row in rows)


def test_a_wrong_password_or_name_is_refused_and_audited(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        rig.add_account()
        wrong = rig.login(password="not the password")
        assert wrong.status_code == 401
        assert (
            "계정 또는 비밀번호가 맞지 않습니다" in wrong.text and 'id="login-error"' in wrong.text
        )
        assert "lk_admin" not in wrong.headers.get("set-cookie", "")
        unknown = rig.login(name="nobody", password=PASSWORD, lang="en")
        assert unknown.status_code == 401 and "Wrong account name or password" in unknown.text
        assert rig.client.get("/admin/lockers").status_code == 303
        failed = rig.events("admin_login_failed")
        assert [e["details"] for e in failed] == [
            '{"account": "kim", "client": "127.0.0.1"}',
            '{"account": "nobody", "client": "127.0.0.1"}',
        ]
        no_password_anywhere(rig, "not the password", PASSWORD)


def test_login_sets_a_strict_session_cookie_and_logout_ends_it(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        rig.add_account()
        page = rig.client.get("/admin/login")
        assert page.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
        pre = page.headers["set-cookie"]
        assert pre.startswith("lk_login_csrf=") and "HttpOnly" in pre and "SameSite=strict" in pre
        done = rig.login()
        assert done.status_code == 303 and done.headers["location"] == "/admin/"
        cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("lk_admin="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
        assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
        token = cookie.split(";")[0].split("=", 1)[1]
        assert len(token) >= 43
        lockers = rig.client.get("/admin/lockers")
        assert lockers.status_code == 200 and re.search(r'id="account"[^>]*>kim<', lockers.text)
        assert (
            rig.events("admin_login")[0]["details"] == '{"account": "kim", "client": "127.0.0.1"}'
        )
        # Already logged in: the login page sends you on.
        assert rig.client.get("/admin/login").headers["location"] == "/admin/"
        out = rig.client.post("/admin/logout", data={"csrf": csrf_of(lockers.text)})
        assert out.status_code == 303 and out.headers["location"] == "/admin/login"
        assert rig.client.get("/admin/lockers").status_code == 303
        # The old cookie is worthless now, even sent by hand.
        rig.client.cookies.set("lk_admin", token, path="/admin")
        assert rig.client.get("/admin/lockers").status_code == 303
        assert (
            rig.events("admin_logout")[0]["details"] == '{"account": "kim", "client": "127.0.0.1"}'
        )
        no_password_anywhere(rig, PASSWORD)


def test_over_https_the_cookies_are_secure(tmp_path: Path) -> None:
    with console(tmp_path, base_url="https://testserver") as rig:
        rig.add_account()
        page = rig.client.get("/admin/login")
        assert "Secure" in page.headers["set-cookie"]
        done = rig.login()
        cookie = next(c for c in done.headers.get_list("set-cookie") if c.startswith("lk_admin="))
        assert "Secure" in cookie
        assert rig.client.get("/admin/lockers").status_code == 200


def test_pages_ask_for_a_login_and_come_back_after_it(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        rig.add_account()
        away = rig.client.get("/admin/rentals?sort=member")
        assert away.status_code == 303
        assert away.headers["location"] == "/admin/login?next=%2Fadmin%2Frentals%3Fsort%3Dmember"
        assert rig.client.get("/admin/").headers["location"] == "/admin/login"
        form = rig.client.get(away.headers["location"])
        assert 'name="next" value="/admin/rentals?sort=member"' in form.text
        done = rig.client.post(
            "/admin/login",
            data={
                "csrf": csrf_of(form.text),
                "name": "kim",
                "password": PASSWORD,
                "next": "/admin/rentals?sort=member",
            },
        )
        assert done.headers["location"] == "/admin/rentals?sort=member"
        # A POST without a session does nothing and goes to the login page.
        rig.client.cookies.clear()
        rig.client.cookies.set("lk_admin", "forged", path="/admin")
        posted = rig.client.post("/admin/logout", data={"csrf": "anything"})
        assert posted.status_code == 303 and posted.headers["location"] == "/admin/login"
        assert rig.events("admin_logout") == []


def test_the_login_page_says_how_to_create_the_first_account(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        page = rig.client.get("/admin/login?lang=en")
        assert "lockerkey admin set-password NAME" in page.text
        rig.add_account()
        assert "set-password" not in rig.client.get("/admin/login").text


def test_a_session_expires_after_the_idle_time_and_slides_with_use(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        rig.add_account()
        rig.login()
        idle = rig.site.settings.web.session_minutes * 60
        rig.clock.advance(idle - 1)
        assert rig.client.get("/admin/lockers").status_code == 200
        rig.clock.advance(idle - 1)  # more than the idle time since login, but it was used
        assert rig.client.get("/admin/rentals").status_code == 200
        rig.clock.advance(idle + 1)
        expired = rig.client.get("/admin/rentals")
        assert expired.status_code == 303
        assert expired.headers["location"].startswith("/admin/login")


def test_a_password_change_or_a_removed_account_ends_its_sessions(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        rig.add_account("kim")
        rig.add_account("lee")
        rig.login("kim")
        assert rig.client.get("/admin/lockers").status_code == 200
        rig.add_account("kim", "a new password!")
        assert rig.client.get("/admin/lockers").status_code == 303
        assert rig.login("kim", "a new password!").status_code == 303
        assert rig.client.get("/admin/lockers").status_code == 200
        rig.db(accounts.remove_account, "kim")
        assert rig.client.get("/admin/lockers").status_code == 303


# ---- CSRF -------------------------------------------------------------------------------------


def test_a_form_without_the_right_csrf_token_is_refused_and_does_nothing(
    tmp_path: Path,
) -> None:
    with console(tmp_path) as rig:
        rig.add_account()
        rig.login()
        good = rig.csrf()
        action = {"locker": "3", "reason": "broken hook", "back": "/admin/lockers"}
        for data in (action, {**action, "csrf": "x" + good[1:]}, {**action, "csrf": ""}):
            refused = rig.client.post("/admin/actions/out_of_service", data=data)
            assert refused.status_code == 403 and 'id="forbidden"' in refused.text
            assert refused.headers["x-frame-options"] == "DENY"
        assert rig.client.post("/admin/logout", data={}).status_code == 403
        assert rig.client.post("/admin/backup/run", data={"csrf": "nope"}).status_code == 403
        assert rig.events("admin_out_of_service") == [] and rig.events("admin_logout") == []
        assert rig.backups == []
        assert rig.site.engine.lockers["3"].service == "in_service"
        # Still logged in, and the right token works.
        done = rig.client.post("/admin/actions/out_of_service", data={**action, "csrf": good})
        assert done.status_code == 303
        assert rig.site.engine.lockers["3"].service == "disabled"


def test_a_huge_form_is_not_read(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        token = csrf_of(rig.client.get("/admin/login").text)
        huge = rig.client.post(
            "/admin/login",
            content=f"csrf={token}&name=kim&password={'x' * 100_000}",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert huge.status_code == 413 and huge.headers["x-frame-options"] == "DENY"
        assert rig.events("admin_login_failed") == []


def test_the_login_form_needs_its_own_token(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        rig.add_account()
        form = rig.client.get("/admin/login")
        token = csrf_of(form.text)
        data = {"name": "kim", "password": PASSWORD}
        assert rig.client.post("/admin/login", data=data).status_code == 403
        forged = rig.client.post("/admin/login", data={**data, "csrf": "forged" + token})
        assert forged.status_code == 403 and "lk_admin" not in forged.headers.get("set-cookie", "")
        rig.client.cookies.clear()  # a form from another site: no cookie comes with it
        assert rig.client.post("/admin/login", data={**data, "csrf": token}).status_code == 403
        assert rig.events("admin_login") == [] and rig.events("admin_login_failed") == []


# ---- growing delays ---------------------------------------------------------------------------


def test_failed_logins_make_later_tries_wait_longer(tmp_path: Path) -> None:
    with console(tmp_path) as rig:
        rig.add_account()
        for _ in range(3):
            assert rig.login(password="wrong password").status_code == 401
        held = rig.login()  # even the right password waits
        assert held.status_code == 429 and held.headers["retry-after"] == "1"
        assert "로그인 시도가 너무 많습니다. 1초 후에 다시 시도하세요" in held.text
        rig.clock.advance(1)
        assert rig.login(password="wrong again").status_code == 401
        held = rig.login(lang="en")
        assert held.status_code == 429 and "Too many attempts, try again in 2 s" in held.text
        rig.clock.advance(1.5)
        assert rig.login().headers["retry-after"] == "1"  # half a second left: rounded up
        # Another name from the same address waits too.
        rig.add_account("lee")
        assert rig.login("lee").status_code == 429
        rig.clock.advance(0.5)
        assert rig.login().status_code == 303  # a success clears the count
        rig.client.cookies.clear()
        assert rig.login(password="wrong password").status_code == 401
        assert rig.login().status_code == 303
        assert len(rig.events("admin_login_failed")) == 5  # refused tries are not counted

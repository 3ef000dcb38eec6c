"""``lockerkey admin``: the staff accounts of the admin console (set-password, list, remove)."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from lockerkey.config import Settings
from lockerkey.store import accounts
from lockerkey.store.accounts import AccountError

EXIT_OK, EXIT_FAIL = 0, 1


def configure(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    """Add the ``admin`` actions to its subparser."""
    sub = parser.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    setpw = sub.add_parser(
        "set-password", parents=[common], help="create an account or change its password"
    )
    setpw.add_argument("name", help="the account name (1-32 characters, no spaces)")
    setpw.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (for scripts)",
    )
    sub.add_parser("list", parents=[common], help="list the accounts")
    remove = sub.add_parser("remove", parents=[common], help="delete an account")
    remove.add_argument("name")


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Carry out one ``admin`` action."""
    if args.admin_command == "set-password":
        return _set_password(settings, args.name, args.password_stdin)
    if args.admin_command == "list":
        return _list(settings)
    return _remove(settings, args.name)


def _err(message: str) -> None:
    print(f"lockerkey: {message}", file=sys.stderr)  # noqa: T201 - a command's output


def _say(text: str) -> None:
    print(text)  # noqa: T201 - a command's output


def _read_password(from_stdin: bool) -> str | None:
    """The new password, or None (with the reason printed) when it cannot be used."""
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    else:
        try:
            password = getpass.getpass("new password: ")
            again = getpass.getpass("the same password again: ")
        except (EOFError, KeyboardInterrupt):
            _err("no password given; nothing was changed")
            return None
        if password != again:
            _err("the two passwords do not match; nothing was changed")
            return None
    try:
        return accounts.check_password(password)
    except AccountError as err:
        _err(f"{err}; nothing was changed")
        return None


def _set_password(settings: Settings, name: str, from_stdin: bool) -> int:
    from lockerkey.app import open_ledger  # noqa: PLC0415 - only the commands that need it

    try:
        accounts.check_name(name)
    except AccountError as err:
        _err(str(err))
        return EXIT_FAIL
    password = _read_password(from_stdin)
    if password is None:
        return EXIT_FAIL
    hashed = accounts.hash_password(password)
    ledger = open_ledger(settings)
    try:
        now = datetime.now(UTC)
        created = accounts.set_password(ledger, name, hashed, now)
        ledger.audit("admin_account_set", now, account=name, created=created)
    finally:
        ledger.close()
    if created:
        _say(f"created the admin account {name!r}")
    else:
        _say(f"changed the password of {name!r}; its open console sessions are logged out")
    return EXIT_OK


def _list(settings: Settings) -> int:
    from lockerkey.app import open_ledger  # noqa: PLC0415

    ledger = open_ledger(settings)
    try:
        found = accounts.list_accounts(ledger)
    finally:
        ledger.close()
    if not found:
        _say("no admin accounts yet; create one with: lockerkey admin set-password NAME")
        return EXIT_OK
    _say(f"{'account':<{accounts.MAX_NAME}}  {'created':<16}  password changed")
    for account in found:
        created = account.created_at.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M")
        changed = account.updated_at.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M")
        _say(f"{account.name:<{accounts.MAX_NAME}}  {created:<16}  {changed}")
    return EXIT_OK


def _remove(settings: Settings, name: str) -> int:
    from lockerkey.app import open_ledger  # noqa: PLC0415

    ledger = open_ledger(settings)
    try:
        now = datetime.now(UTC)
        removed = accounts.remove_account(ledger, name)
        if removed:
            ledger.audit("admin_account_removed", now, account=name)
    finally:
        ledger.close()
    if not removed:
        _err(f"there is no admin account {name!r}")
        return EXIT_FAIL
    _say(f"removed the admin account {name!r}; its open console sessions are logged out")
    return EXIT_OK

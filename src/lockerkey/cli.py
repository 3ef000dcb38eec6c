"""The ``lockerkey`` command: run, demo, init, members import, status, check, backup, restore,
sync, admin, simulate, firmware."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from lockerkey import __version__, admin_cli
from lockerkey.config import ConfigError, Settings, example_config, load_settings
from lockerkey.store import reports, sync_store
from lockerkey.store.ledger import LedgerError, parse_ts, ts

DEFAULT_CONFIG = Path("lockerkey.toml")

EXIT_OK, EXIT_FAIL, EXIT_PARTIAL = 0, 1, 2


def _err(message: str) -> None:
    print(f"lockerkey: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-c",
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help=f"the settings file (default: ./{DEFAULT_CONFIG})",
    )
    parser = argparse.ArgumentParser(
        prog="lockerkey",
        parents=[common],
        description="Locker-key dispenser kiosk (락카키 대여기).",
    )
    parser.add_argument("--version", action="version", version=f"lockerkey {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", parents=[common], help="run the kiosk")
    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="the whole kiosk on a simulated cabinet and sample members: web pages (kiosk,"
        " admin, simulator panel) and this terminal",
    )
    _demo_options(demo)
    init = sub.add_parser("init", parents=[common], help="write a commented example settings file")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    members = sub.add_parser("members", parents=[common], help="manage the member list")
    msub = members.add_subparsers(dest="members_command", required=True, metavar="ACTION")
    imp = msub.add_parser("import", parents=[common], help="import members from a CSV file")
    imp.add_argument("file", type=Path)
    status = sub.add_parser("status", parents=[common], help="show every locker")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("check", parents=[common], help="check settings, database and ledger rules")
    admin = sub.add_parser("admin", parents=[common], help="staff accounts of the admin console")
    admin_cli.configure(admin, common)
    sub.add_parser("backup", parents=[common], help="take a checked copy of the ledger now")
    sub.add_parser("sync", parents=[common], help="sync the member list and rentals now")
    restore = sub.add_parser(
        "restore", parents=[common], help="put a backup back in place (the daemon must be stopped)"
    )
    restore.add_argument("file", type=Path, help="a backup file, e.g. backup/locker-....db")
    sim = sub.add_parser("simulate", help="a software cabinet controller on a pty or TCP port")
    sim.add_argument("--slots", type=int, default=24, help="key slots (default 24)")
    sim.add_argument("--shared-door", action="store_true", help="one shared door (slot 0)")
    sim.add_argument("--doors", action="store_true", help="a door sensor on every slot")
    where = sim.add_mutually_exclusive_group()
    where.add_argument("--link", help="keep a symlink at LINK pointing to the pty")
    where.add_argument("--tcp", type=int, metavar="PORT", help="listen on TCP (0: any port)")
    sim.add_argument("--host", default="127.0.0.1", help="TCP address (default 127.0.0.1)")
    sim.add_argument("--seed", type=int, help="seed for boot ids and faults")
    sim.add_argument(
        "--auto", type=float, metavar="SECONDS", help="a pretend member acts after an unlock"
    )
    for name, what in (("drop", "dropping"), ("corrupt", "corrupting"), ("dup", "doubling")):
        sim.add_argument(
            f"--{name}", type=float, default=0.0, metavar="P", help=f"chance of {what} a sent line"
        )
    sim.add_argument("--delay", type=int, default=0, metavar="MS", help="delay every sent line")
    sim.add_argument(
        "--firmware",
        action="store_true",
        help="run the real MicroPython firmware (under CPython, simulated pins) instead",
    )
    sim.add_argument(
        "--board", type=Path, help="with --firmware: the board file (firmware/boards/)"
    )
    fw = sub.add_parser("firmware", help="put the firmware on an ESP32 and check it")
    fwsub = fw.add_subparsers(dest="firmware_command", required=True, metavar="ACTION")
    deploy = fwsub.add_parser("deploy", help="copy the firmware and a board file with mpremote")
    deploy.add_argument("--port", required=True, help="the controller's serial port")
    deploy.add_argument("--board", type=Path, required=True, help="the board file to install")
    check = fwsub.add_parser("check", help="report the firmware's version and test its sensors")
    check.add_argument("--port", required=True, help="the controller's serial port")
    check.add_argument(
        "--pulse", action="store_true", help="also release and relock each lock once"
    )
    return parser


def _demo_options(demo: argparse.ArgumentParser) -> None:
    demo.add_argument("--data-dir", type=Path, help="keep the demo's ledger here")
    demo.add_argument("--no-tour", action="store_true", help="skip the built-in tour")
    demo.add_argument("--delay", type=float, default=0.8, help="seconds the pretend member takes")
    demo.add_argument(
        "--shared-door",
        action="store_true",
        help="a shared-door cabinet (24 keys behind one door) instead of 24 per-slot lockers",
    )
    demo.add_argument(
        "--no-web",
        action="store_true",
        help="this terminal only, no web pages; a pretend member takes and returns the keys",
    )
    demo.add_argument("--host", help="the web pages' address (default 127.0.0.1)")
    demo.add_argument(
        "--port", type=int, help="the web pages' port (default 8000; 0: any free port)"
    )
    demo.add_argument(
        "--auto", action="store_true", help="start with the pretend member on (web mode)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lockerkey`` console script."""
    args = _parser().parse_args(argv)
    config: Path = getattr(args, "config", DEFAULT_CONFIG)
    if args.command == "init":
        return _init(config, args.force)
    if args.command == "demo":
        return _demo(args)
    if args.command == "simulate":
        from lockerkey.cabinet.sim_console import main as simulate  # noqa: PLC0415

        return simulate(args)
    if args.command == "firmware":
        from lockerkey import firmware_tool  # noqa: PLC0415

        if args.firmware_command == "deploy":
            return firmware_tool.deploy(args.port, args.board)
        return firmware_tool.check(args.port, args.pulse)
    try:
        settings = load_settings(config)
    except ConfigError as err:
        _err(str(err))
        return EXIT_FAIL
    try:
        if args.command == "run":
            return _run(settings)
        if args.command == "members":
            return _import(settings, args.file)
        if args.command == "status":
            return _status(settings, args.json)
        if args.command == "admin":
            return admin_cli.run(settings, args)
        if args.command in ("backup", "restore", "sync"):
            from lockerkey import maintenance  # noqa: PLC0415

            if args.command == "backup":
                return maintenance.backup_command(settings)
            if args.command == "sync":
                return maintenance.sync_command(settings)
            return maintenance.restore_command(settings, args.file)
        return _check(settings)
    except LedgerError as err:
        _err(str(err))
        return EXIT_FAIL


def _init(config: Path, force: bool) -> int:
    if config.exists() and not force:
        _err(f"{config} already exists; use --force to overwrite it")
        return EXIT_FAIL
    try:
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(example_config(), encoding="utf-8")
    except OSError as err:
        _err(f"{config}: cannot write: {err.strerror}")
        return EXIT_FAIL
    print(f"wrote {config}; edit it, then: lockerkey -c {config} members import members.csv")
    return EXIT_OK


def _import(settings: Settings, file: Path) -> int:
    from lockerkey.app import open_ledger  # noqa: PLC0415 - only the commands that need it
    from lockerkey.sync.csv_members import MembersFileError, read_members_csv  # noqa: PLC0415

    try:
        rows, problems = read_members_csv(file)
    except MembersFileError as err:
        _err(f"{err}; nothing was imported")
        return EXIT_FAIL
    ledger = open_ledger(settings)
    try:
        now = datetime.now(UTC)
        result = ledger.upsert_members(rows, now)
        ledger.audit(
            "members_imported",
            now,
            file=str(file),
            inserted=result.inserted,
            updated=result.updated,
            skipped=len(problems),
        )
    finally:
        ledger.close()
    print(
        f"imported {len(rows)} members from {file} "
        f"({result.inserted} new, {result.updated} updated)"
    )
    if problems:
        print(f"skipped {len(problems)} row(s):")
        for problem in problems:
            print(f"  {problem}")
        return EXIT_PARTIAL
    return EXIT_OK


def _status(settings: Settings, as_json: bool) -> int:
    from lockerkey.app import open_ledger  # noqa: PLC0415

    ledger = open_ledger(settings)
    try:
        table = reports.locker_table(ledger)
        runs = sync_store.recent_runs(ledger, limit=1)
        last_ok = sync_store.last_success(ledger)
    finally:
        ledger.close()
    last = runs[0] if runs else None
    if as_json:
        print(
            json.dumps(
                {
                    "device_id": settings.device_id,
                    "lockers": table,
                    "sync": _sync_json(last, last_ok),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return EXIT_OK
    print(f"{'locker':>8}  {'zone':<8} {'key':<8} {'service':<10} {'member':<14} since")
    for row in table:
        member = row["member_id"] or ""
        service = row["service"] + (f" ({row['service_reason']})" if row["service_reason"] else "")
        print(
            f"{row['locker']:>8}  {row['zone'] or '-':<8} {row['key']:<8} {service:<10} "
            f"{member:<14} {_local(row['rented_since'], settings)}"
        )
    if last is not None:  # a site that never synced sees no sync line
        print(_sync_line(last, last_ok, settings))
    return EXIT_OK


def _sync_json(last: sync_store.SyncRun | None, last_ok: datetime | None) -> object:
    """The ``sync`` object of ``status --json``: the latest sync run, or null if none ran."""
    if last is None:
        return None
    return {
        "run_id": last.run_id,
        "status": last.status,
        "trigger": last.trigger,
        "backend": last.backend,
        "started_at": ts(last.started_at),
        "ended_at": ts(last.ended_at),
        "counts": last.counts,
        "api_calls": last.api_calls,
        "error": last.error,
        "last_success": ts(last_ok),
    }


def _sync_line(last: sync_store.SyncRun, last_ok: datetime | None, settings: Settings) -> str:
    """One line for staff: when the latest sync ran, how it ended, what it changed."""
    started = _local(ts(last.started_at), settings)
    if last.status == "running":
        return f"sync: running since {started} ({last.trigger}, {last.backend})"
    counts = last.counts
    parts = [
        f"{counts[name]} {label}"
        for name, label in (
            ("members_read", "read"),
            ("members_added", "added"),
            ("members_updated", "updated"),
            ("members_removed", "removed"),
            ("bad_rows", "bad rows"),
            ("rentals_appended", "rentals appended"),
            ("rentals_updated", "rentals updated"),
        )
        if counts[name] is not None
    ]
    line = f"sync: {started} {last.status}"
    if parts:
        line += f" ({', '.join(parts)})"
    if last.error:
        line += f": {last.error}"
    if last.status != "ok":
        line += f"; last ok {_local(ts(last_ok), settings) if last_ok else 'never'}"
    return line


def _local(stamp: str | None, settings: Settings) -> str:
    """A stored UTC time as staff read it: local, to the minute."""
    when = parse_ts(stamp)
    return when.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M") if when else ""


def _check(settings: Settings) -> int:
    from lockerkey.app import open_ledger  # noqa: PLC0415

    ledger = open_ledger(settings)
    try:
        problems = reports.integrity_problems(ledger)
        if not problems:
            problems = reports.invariant_problems(ledger)
    finally:
        ledger.close()
    if problems:
        print(f"{len(problems)} problem(s) in {settings.db_path}:")
        for problem in problems:
            print(f"  - {problem}")
        return EXIT_FAIL
    print(
        f"ok: {settings.source or 'settings'} is valid; {settings.db_path} passes the "
        "integrity check and every ledger rule"
    )
    return EXIT_OK


def _run(settings: Settings) -> int:
    from lockerkey.daemon import run_daemon  # noqa: PLC0415

    return run_daemon(settings)


def _demo(args: argparse.Namespace) -> int:
    from lockerkey.demo import Demo, demo_admin, prepare, reserve_port  # noqa: PLC0415
    from lockerkey.logs import setup_logging  # noqa: PLC0415
    from lockerkey.runlock import AlreadyRunning, RunLock  # noqa: PLC0415
    from lockerkey.web.server import WebError  # noqa: PLC0415

    web = not args.no_web
    if not web and (args.host is not None or args.port is not None or args.auto):
        _err("--host, --port and --auto are for the web pages; not with --no-web")
        return EXIT_FAIL
    if args.port is not None and not 0 <= args.port <= 65535:
        _err(f"--port {args.port}: a port is 0 to 65535 (0: any free port)")
        return EXIT_FAIL
    try:
        settings, where = prepare(
            args.data_dir,
            shared_door=args.shared_door,
            web=web,
            host=args.host or "127.0.0.1",
            port=8000 if args.port is None else args.port,
        )
    except (ConfigError, LedgerError) as err:
        _err(str(err))
        return EXIT_FAIL
    if not web:
        kind = "a shared-door cabinet of 24 keys" if args.shared_door else "24 lockers"
        print(
            f"lockerkey demo: a simulated cabinet, {kind}; ledger in {where}/locker.db,"
            f" logs in {where}/logs/",
            flush=True,
        )
    lock = RunLock(settings.data_dir)
    try:
        lock.acquire()
    except AlreadyRunning as err:
        _err(str(err))
        return EXIT_FAIL
    except OSError as err:
        _err(f"{lock.path}: cannot take the run lock: {err.strerror}")
        return EXIT_FAIL
    try:
        if web:
            settings = reserve_port(settings)
        admin = demo_admin(settings) if web else ""
    except WebError as err:
        lock.release()
        _err(f"{err}; see --host and --port (--port 0: any free port)")
        return EXIT_FAIL
    setup_logging(settings, stderr=False)

    async def go() -> None:
        demo = Demo(settings, delay=args.delay, auto=args.auto)
        await demo.main(tour=not args.no_tour, interactive=True, admin=admin)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(go())
    finally:
        lock.release()
    return EXIT_OK

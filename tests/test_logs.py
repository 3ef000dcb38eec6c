"""Log files: site-local ISO times, hidden member names, masked secrets, rotation by size."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lockerkey.config import Settings, settings_from_mapping
from lockerkey.logs import HIDDEN, LOG_FILE, KioskFormatter, Personal, scrub, setup_logging

NAME = "홍길동"
LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?P<offset>[+-]\d\d:\d\d)) "
    r"(?P<level>[A-Z]+) (?P<component>[\w.]+): (?P<message>.*)$"
)


def settings_for(tmp_path: Path, **log: object) -> Settings:
    data: dict[str, object] = {
        "data_dir": str(tmp_path),
        "timezone": str(log.pop("timezone", "Asia/Seoul")),
        "cabinet": [{"port": "x", "lockers": "1-4"}],
    }
    if log:
        data["log"] = log
    return settings_from_mapping(data)


@pytest.fixture(autouse=True)
def restore_lockerkey_logger() -> Iterator[None]:
    """setup_logging reconfigures the "lockerkey" logger; put it back for the other tests."""
    root = logging.getLogger("lockerkey")
    saved = (list(root.handlers), root.level, root.propagate)
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if handler not in saved[0]:
            handler.close()
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    root.propagate = saved[2]


class Collect(logging.Handler):
    """Keeps the records it is given, as another handler of the same logger would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def flush() -> None:
    for handler in logging.getLogger("lockerkey").handlers:
        handler.flush()


def file_lines(path: Path) -> list[str]:
    flush()
    return path.read_text(encoding="utf-8").splitlines()


# ---- the line ----------------------------------------------------------------------------------


def test_a_line_has_site_local_iso_time_level_component_and_message(tmp_path: Path) -> None:
    path = setup_logging(settings_for(tmp_path), stderr=False)
    assert path == tmp_path / "logs" / LOG_FILE
    before = datetime.now(ZoneInfo("Asia/Seoul")).replace(microsecond=0)
    logging.getLogger("lockerkey.kiosk").warning("cabinet %d: %s", 2, "link lost")
    after = datetime.now(ZoneInfo("Asia/Seoul")) + timedelta(milliseconds=1)
    (line,) = file_lines(path)
    match = LINE.match(line)
    assert match, line
    assert match["offset"] == "+09:00"
    assert (match["level"], match["component"], match["message"]) == (
        "WARNING",
        "lockerkey.kiosk",
        "cabinet 2: link lost",
    )
    logged = datetime.fromisoformat(match["time"])
    assert before <= logged <= after  # the time of the call, as the site's clock reads it


@pytest.mark.parametrize(
    ("zone", "offset"),
    [("UTC", "+00:00"), ("America/New_York", None), ("Asia/Kolkata", "+05:30")],
)
def test_the_offset_is_the_sites_own(tmp_path: Path, zone: str, offset: str | None) -> None:
    path = setup_logging(settings_for(tmp_path, timezone=zone), stderr=False)
    assert path is not None
    logging.getLogger("lockerkey.engine").info("started")
    (line,) = file_lines(path)
    match = LINE.match(line)
    assert match, line
    logged = datetime.fromisoformat(match["time"])
    expected = logged.astimezone(ZoneInfo(zone)).isoformat(timespec="milliseconds")
    assert match["time"] == expected  # the same instant, written in the site's zone
    if offset is not None:
        assert match["offset"] == offset
    else:  # -05:00 or -04:00, whichever New York keeps today
        assert match["offset"] in {"-05:00", "-04:00"}


def test_the_same_line_goes_to_stderr_for_the_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = setup_logging(settings_for(tmp_path), stderr=True)
    assert path is not None
    logging.getLogger("lockerkey.reader").error("scanner: cannot open")
    (line,) = file_lines(path)
    assert capsys.readouterr().err.splitlines() == [line]


def test_a_record_is_formatted_once_for_the_file_and_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    formatted: list[str] = []
    plain = logging.Formatter.format

    def counting(self: logging.Formatter, record: logging.LogRecord) -> str:
        formatted.append(record.getMessage())
        return plain(self, record)

    monkeypatch.setattr(logging.Formatter, "format", counting)
    path = setup_logging(settings_for(tmp_path), stderr=True)
    assert path is not None
    log = logging.getLogger("lockerkey.app")
    log.info("scan %r", "M1")
    log.info("scan %r", "M1")  # the same text in a new record is a new line
    assert formatted == ["scan 'M1'", "scan 'M1'"]
    lines = file_lines(path)
    assert len(lines) == 2 and capsys.readouterr().err.splitlines() == lines


def test_without_stderr_only_the_file_gets_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = setup_logging(settings_for(tmp_path), stderr=False)
    assert path is not None
    logging.getLogger("lockerkey").warning("file only")
    assert len(file_lines(path)) == 1
    assert "file only" not in capsys.readouterr().err


def test_the_level_is_honoured_and_other_loggers_are_left_alone(tmp_path: Path) -> None:
    path = setup_logging(settings_for(tmp_path, level="warning"), stderr=False)
    assert path is not None
    logging.getLogger("lockerkey.kiosk").info("too chatty")
    logging.getLogger("somebody.else").error("not ours")
    logging.getLogger("lockerkey.kiosk").warning("worth saying")
    lines = file_lines(path)
    assert [LINE.match(line)["message"] for line in lines] == ["worth saying"]  # type: ignore[index]


def test_setting_up_twice_does_not_double_the_lines(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    setup_logging(settings, stderr=False)
    path = setup_logging(settings, stderr=False)
    assert path is not None
    assert len(logging.getLogger("lockerkey").handlers) == 1
    logging.getLogger("lockerkey").warning("once")
    assert len(file_lines(path)) == 1


def test_a_traceback_stays_with_its_line(tmp_path: Path) -> None:
    path = setup_logging(settings_for(tmp_path), stderr=False)
    assert path is not None
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("lockerkey.kiosk").exception("the engine failed")
    first, *rest = file_lines(path)
    assert LINE.match(first) and first.endswith("lockerkey.kiosk: the engine failed")
    assert rest and all(line.startswith("    ") for line in rest)
    assert rest[-1].strip() == "RuntimeError: boom"
    assert not any(LINE.match(line) for line in rest)  # no continuation looks like an entry


# ---- member names ------------------------------------------------------------------------------


def test_names_are_hidden_by_default_and_the_record_is_left_alone(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    assert settings.log.privacy is True
    path = setup_logging(settings, stderr=False)
    assert path is not None
    after = Collect()
    logging.getLogger("lockerkey").addHandler(after)  # runs after the file handler
    logging.getLogger("lockerkey.kiosk").info(
        "scan %r: member %s (%s)", "M0001", "M0001", Personal(NAME)
    )
    (line,) = file_lines(path)
    assert line.endswith(f"scan 'M0001': member M0001 ({HIDDEN})")
    assert NAME not in path.read_text(encoding="utf-8")
    # The other handler still gets the record as it was logged.
    (record,) = after.records
    assert record.args == ("M0001", "M0001", NAME)
    assert isinstance(record.args[2], Personal)
    assert record.getMessage() == f"scan 'M0001': member M0001 ({NAME})"


def test_names_show_when_privacy_is_off(tmp_path: Path) -> None:
    path = setup_logging(settings_for(tmp_path, privacy=False), stderr=False)
    assert path is not None
    logging.getLogger("lockerkey.kiosk").info("member %s (%s)", "M0001", Personal(NAME))
    (line,) = file_lines(path)
    assert line.endswith(f"member M0001 ({NAME})") and HIDDEN not in line


def test_only_names_are_hidden(tmp_path: Path) -> None:
    path = setup_logging(settings_for(tmp_path), stderr=False)
    assert path is not None
    logging.getLogger("lockerkey").info("%s %s %d", NAME, Personal(NAME), 7)
    (line,) = file_lines(path)
    assert line.endswith(f"{NAME} {HIDDEN} 7")  # a plain str is not a name


def test_the_formatter_hides_names_for_any_handler() -> None:
    record = logging.LogRecord("lockerkey.x", logging.INFO, __file__, 1, "%s/%s", None, None)
    record.args = ("M1", Personal(NAME))
    hidden = KioskFormatter(ZoneInfo("Asia/Seoul"), privacy=True).format(record)
    shown = KioskFormatter(ZoneInfo("Asia/Seoul"), privacy=False).format(record)
    assert hidden.endswith(f"M1/{HIDDEN}") and shown.endswith(f"M1/{NAME}")
    assert record.args == ("M1", NAME)


# ---- secrets -----------------------------------------------------------------------------------

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
    "c2VjcmV0LWtleS1tYXRlcmlhbA==\n"
    "-----END PRIVATE KEY-----"
)


def test_scrub_hides_a_pem_private_key_block() -> None:
    text = scrub(f"loaded key:\n{PEM}\nand went on")
    assert "MIIEvQ" not in text and "c2VjcmV0" not in text
    assert text == "loaded key:\n[private key hidden]\nand went on"


def test_scrub_hides_an_ec_key_and_a_key_cut_off_before_its_end() -> None:
    ec = PEM.replace("PRIVATE KEY", "EC PRIVATE KEY")
    assert scrub(ec) == "[private key hidden]"
    cut = scrub("got " + PEM[:80])  # no END line: hidden to the end
    assert cut == "got [private key hidden]"


def test_scrub_hides_a_private_key_in_json() -> None:
    text = scrub(
        '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIE'
        'vQIBADAN\\n-----END PRIVATE KEY-----\\n", "client_email": "a@b.c"}'
    )
    assert "MIIE" not in text
    assert '"type": "service_account"' in text and '"client_email": "a@b.c"' in text


def test_scrub_hides_a_json_private_key_that_is_no_pem() -> None:
    text = scrub('{"private_key": "AAAAB3NzaC1yc2E", "x": 1}')
    assert text == '{"private_key": [hidden], "x": 1}'


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("login password=hunter2 ok", "hunter2"),
        ("PASSWORD: hunter2", "hunter2"),
        ("token='abc def'", "abc def"),
        ("api_key = s3cr3t", "s3cr3t"),
        ('{"password": "hunter2"}', "hunter2"),
        ('{"password": "hun\\"ter2"}', "ter2"),  # an escaped quote inside the JSON string
    ],
)
def test_scrub_hides_passwords_and_tokens(raw: str, secret: str) -> None:
    text = scrub(raw)
    assert secret not in text and "[hidden]" in text, text


def test_scrub_leaves_ordinary_text_alone() -> None:
    text = "scan 'M0001': member M0001 (locker 7, 12 s left)"
    assert scrub(text) == text


def test_secrets_are_masked_in_the_file_even_in_a_traceback(tmp_path: Path) -> None:
    path = setup_logging(settings_for(tmp_path, privacy=False), stderr=False)
    assert path is not None
    log = logging.getLogger("lockerkey.sync")
    log.warning("connecting with password=hunter2")
    try:
        raise ValueError(f"bad credentials file:\n{PEM}")
    except ValueError:
        log.exception("sync failed")
    text = "\n".join(file_lines(path))
    assert "hunter2" not in text and "MIIEvQ" not in text
    assert "password=[hidden]" in text and "[private key hidden]" in text


# ---- files -------------------------------------------------------------------------------------


def test_files_rotate_by_size_and_only_keep_are_kept(tmp_path: Path) -> None:
    path = setup_logging(settings_for(tmp_path, max_bytes=10_000, keep=2), stderr=False)
    assert path is not None
    log = logging.getLogger("lockerkey.bench")
    for i in range(400):  # about 60 kB: several rotations
        log.info("line %04d %s", i, "x" * 100)
    flush()
    logs = tmp_path / "logs"
    assert sorted(p.name for p in logs.iterdir()) == [LOG_FILE, f"{LOG_FILE}.1", f"{LOG_FILE}.2"]
    for name in (LOG_FILE, f"{LOG_FILE}.1", f"{LOG_FILE}.2"):
        assert (logs / name).stat().st_size <= 10_000
    # Newest in lockerkey.log, older in .1, older still in .2; every line whole, in order.
    numbers = [
        int(LINE.match(line)["message"].split()[1])  # type: ignore[index]
        for name in (f"{LOG_FILE}.2", f"{LOG_FILE}.1", LOG_FILE)
        for line in (logs / name).read_text(encoding="utf-8").splitlines()
    ]
    assert numbers == list(range(numbers[0], 400))
    assert numbers[0] > 0  # the oldest lines were let go


def test_an_unwritable_log_directory_is_said_and_survived(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logs").write_text("a file where the directory should be")
    assert setup_logging(settings_for(tmp_path), stderr=True) is None
    err = capsys.readouterr().err
    assert f"cannot write logs to {tmp_path / 'logs' / LOG_FILE}" in err
    assert "ERROR lockerkey:" in err
    logging.getLogger("lockerkey.kiosk").warning("still logging")  # to stderr only
    assert "still logging" in capsys.readouterr().err


def test_a_log_file_that_cannot_be_opened_is_survived(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "logs" / LOG_FILE).mkdir(parents=True)  # a directory in the file's place
    assert setup_logging(settings_for(tmp_path), stderr=False) is None
    handlers = logging.getLogger("lockerkey").handlers
    assert not any(isinstance(h, logging.FileHandler) for h in handlers)


def test_names_are_hidden_in_mapping_arguments_and_as_the_message_itself() -> None:
    formatter = KioskFormatter(ZoneInfo("Asia/Seoul"), privacy=True)

    def line(msg: object, args: object) -> str:
        record = logging.LogRecord("lockerkey.t", logging.INFO, __file__, 1, msg, None, None)
        record.args = args  # type: ignore[assignment]
        return formatter.format(record)

    assert "가상회원" not in line("member %(name)s", {"name": Personal("가상회원")})
    assert "name hidden" in line("member %(name)s", {"name": Personal("가상회원")})
    assert "가상회원" not in line(Personal("가상회원"), None)
    assert "plain" in line("plain %(x)s", {"x": "plain"})

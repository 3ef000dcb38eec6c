"""Tests of lockerkey.config: loading, defaults and every kind of configuration problem."""

from __future__ import annotations

import pickle
import re
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockerkey.config import (
    CabinetSettings,
    ConfigError,
    Settings,
    demo_settings,
    example_config,
    load_settings,
    settings_from_mapping,
)
from lockerkey.core.model import CabinetKind

MINIMAL = '[[cabinet]]\nport = "/dev/ttyUSB0"\nlockers = "1-3"\n'


def write(tmp_path: Path, text: str, name: str = "lockerkey.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    """Load `text` from a file, expecting failure, and return the reported problems."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    for problem in caught.value.problems:
        assert problem.startswith(f"{path}: "), problem
        assert problem in str(caught.value)
    return caught.value.problems


def one_problem(tmp_path: Path, text: str, key: str) -> str:
    """Expect exactly one problem, about `key`, and return its text after "FILE: KEY: "."""
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1, problems
    prefix = f"{tmp_path / 'lockerkey.toml'}: {key}: "
    assert problems[0].startswith(prefix), problems[0]
    return problems[0][len(prefix) :]


def lockers_of(value: object) -> tuple[str, ...]:
    data = {"cabinet": [{"port": "p", "lockers": value}]}
    return settings_from_mapping(data).cabinets[0].lockers


# --- the example and the defaults ---------------------------------------------------------


def test_example_config_loads_from_a_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, example_config()))
    assert settings.source == tmp_path / "lockerkey.toml"
    assert settings.device_id == "DEVICE_001"
    assert settings.timezone == ZoneInfo("Asia/Seoul")
    assert settings.data_dir == tmp_path
    assert settings.db_path == tmp_path / "locker.db"
    assert settings.language == "ko"
    (cabinet,) = settings.cabinets
    assert cabinet.port == "/dev/ttyUSB0"
    assert cabinet.lockers == tuple(str(n) for n in range(1, 25))
    assert cabinet.kind is CabinetKind.PER_SLOT
    assert cabinet.key_code("7") == "KEY-7"
    assert settings.scanner.kind == "serial"
    assert settings.scanner.port == "/dev/ttyACM0"
    assert settings.zones == ()


def test_example_config_documents_every_key() -> None:
    data = tomllib.loads(example_config())
    assert set(data) == {
        "device_id",
        "timezone",
        "data_dir",
        "language",
        "cabinet",
        "scanner",
        "session",
        "rules",
        "sync",
        "web",
        "log",
        "backup",
    }
    assert set(data["cabinet"][0]) == {"port", "lockers", "key_barcode", "kind", "name", "baudrate"}
    assert set(data["session"]) == {"timeout_s", "selection"}
    assert "# device = " in example_config()
    assert "[[zone]]" in example_config()


def test_commented_zone_example_is_valid_once_uncommented() -> None:
    text = re.sub(r"(?m)^# (\[\[zone\]\]|name = |lockers = |allow = )", r"\1", example_config())
    settings = settings_from_mapping(tomllib.loads(text))
    assert [zone.name for zone in settings.zones] == ["male", "female"]
    assert settings.zones[0].allow == {"gender": frozenset({"m", "male", "남", "남성"})}


def test_defaults_of_a_minimal_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    assert settings.device_id == "DEVICE_001"
    assert settings.timezone.key == "Asia/Seoul"
    assert settings.language == "ko"
    assert settings.data_dir == tmp_path
    (cabinet,) = settings.cabinets
    assert cabinet == CabinetSettings(
        name="cabinet1",
        port="/dev/ttyUSB0",
        lockers=("1", "2", "3"),
        key_barcode="KEY-{locker}",
        kind=CabinetKind.PER_SLOT,
        baudrate=115200,
    )
    assert (
        settings.scanner.kind,
        settings.scanner.port,
        settings.scanner.baudrate,
        settings.scanner.device,
    ) == ("stdin", "", 9600, "")
    assert (settings.session.timeout_s, settings.session.selection) == (30, "choose")
    assert settings.rules.daily_limit == 0
    assert settings.sync.backend == "none"
    assert (settings.web.host, settings.web.port) == ("127.0.0.1", 8000)
    assert settings.zones == ()


def test_cabinet_names_default_by_position_and_lockers_keep_order() -> None:
    settings = settings_from_mapping(
        {
            "cabinet": [
                {"port": "a", "lockers": "1-2"},
                {"port": "b", "lockers": ["M02", "M01"], "name": "men", "key_barcode": "M{locker}"},
                {"port": "c", "lockers": "9"},
            ]
        }
    )
    assert [c.name for c in settings.cabinets] == ["cabinet1", "men", "cabinet3"]
    assert settings.all_lockers() == ("1", "2", "M02", "M01", "9")
    assert settings.cabinets[1].key_code("M01") == "MM01"


def test_values_are_read_not_defaulted(tmp_path: Path) -> None:
    settings = load_settings(
        write(
            tmp_path,
            """
        device_id = "GYM-2"
        timezone = "Europe/Berlin"
        language = "en"
        [[cabinet]]
        port = "socket://10.0.0.5:4001"
        lockers = "1-2"
        kind = "shared_door"
        baudrate = 9600
        [scanner]
        kind = "evdev"
        device = "/dev/input/event3"
        [session]
        timeout_s = 300
        selection = "auto"
        [rules]
        daily_limit = 2
        [sync]
        backend = "csv"
        [web]
        host = "0.0.0.0"
        port = 65535
    """,
        )
    )
    assert settings.device_id == "GYM-2"
    assert settings.timezone.key == "Europe/Berlin"
    assert settings.language == "en"
    assert settings.cabinets[0].kind is CabinetKind.SHARED_DOOR
    assert settings.cabinets[0].baudrate == 9600
    assert (settings.scanner.kind, settings.scanner.device) == ("evdev", "/dev/input/event3")
    assert (settings.session.timeout_s, settings.session.selection) == (300, "auto")
    assert settings.rules.daily_limit == 2
    assert settings.sync.backend == "csv"
    assert (settings.web.host, settings.web.port) == ("0.0.0.0", 65535)


def test_allow_values_are_stripped_and_casefolded() -> None:
    settings = settings_from_mapping(
        {
            "cabinet": [{"port": "p", "lockers": "1-4"}],
            "zone": [
                {
                    "name": "vip",
                    "lockers": ["1", 2],
                    "allow": {"grade": " VIP ", "gender": ["Male", "남"]},
                }
            ],
        }
    )
    (zone,) = settings.zones
    assert zone.lockers == ("1", "2")
    assert dict(zone.allow) == {"grade": frozenset({"vip"}), "gender": frozenset({"male", "남"})}


def test_zone_without_allow_admits_everyone() -> None:
    settings = settings_from_mapping(
        {"cabinet": [{"port": "p", "lockers": "1-4"}], "zone": [{"name": "all", "lockers": "1-4"}]}
    )
    assert dict(settings.zones[0].allow) == {}


def test_demo_settings(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path)
    assert isinstance(settings, Settings)
    assert settings.data_dir == tmp_path
    (cabinet,) = settings.cabinets
    assert cabinet.port == "simulator"
    assert settings.all_lockers() == tuple(str(n) for n in range(1, 25))
    male, female = settings.zones
    assert (male.name, male.lockers) == ("male", tuple(str(n) for n in range(1, 13)))
    assert (female.name, female.lockers) == ("female", tuple(str(n) for n in range(13, 25)))
    assert male.allow["gender"] == {"m", "male", "남", "남성"}
    assert female.allow["gender"] == {"f", "female", "여", "여성"}
    assert settings.scanner.kind == "stdin"
    assert settings.source is None


# --- data_dir -----------------------------------------------------------------------------


def test_relative_data_dir_is_relative_to_the_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    settings = load_settings(write(etc, 'data_dir = "var/data"\n' + MINIMAL))
    assert settings.data_dir == etc / "var" / "data"
    assert settings.db_path == etc / "var" / "data" / "locker.db"


def test_relative_config_path_still_resolves_data_dir_absolutely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, 'data_dir = "data"\n' + MINIMAL)
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("lockerkey.toml"))
    assert settings.data_dir == tmp_path / "data"
    assert settings.data_dir.is_absolute()


def test_absolute_data_dir_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "abs"
    settings = load_settings(write(tmp_path, f'data_dir = "{target}"\n' + MINIMAL))
    assert settings.data_dir == target


def test_data_dir_without_a_file_is_relative_to_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = settings_from_mapping({"data_dir": "d", "cabinet": [{"port": "p", "lockers": "1"}]})
    assert settings.data_dir == tmp_path / "d"


def test_data_dir_of_an_unknown_home_directory(tmp_path: Path) -> None:
    text = 'data_dir = "~no-such-user-lockerkey/d"\n' + MINIMAL
    assert "no such home directory" in one_problem(tmp_path, text, "data_dir")


# --- locker lists -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1-3", ("1", "2", "3")),
        (" 8 - 11 ", ("8", "9", "10", "11")),
        ("0-1", ("0", "1")),
        ("01-03", ("01", "02", "03")),
        ("009-011", ("009", "010", "011")),
        ("5-5", ("5",)),
        ("7", ("7",)),
        (["M01", "M02", 3], ("M01", "M02", "3")),
    ],
)
def test_locker_lists(value: object, expected: tuple[str, ...]) -> None:
    assert lockers_of(value) == expected


@given(st.integers(0, 10_000), st.integers(0, 254))
def test_any_range_expands_to_consecutive_numbers(start: int, extra: int) -> None:
    lockers = lockers_of(f"{start}-{start + extra}")
    assert [int(name) for name in lockers] == list(range(start, start + extra + 1))
    assert all(name == str(int(name)) for name in lockers)


def test_255_lockers_fit_but_256_do_not(tmp_path: Path) -> None:
    assert len(lockers_of("1-255")) == 255
    message = one_problem(
        tmp_path, '[[cabinet]]\nport = "p"\nlockers = "1-256"\n', "cabinet[1].lockers"
    )
    assert "255" in message
    names = ", ".join(f'"L{n}"' for n in range(256))
    message = one_problem(
        tmp_path, f'[[cabinet]]\nport = "p"\nlockers = [{names}]\n', "cabinet[1].lockers"
    )
    assert "256" in message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('"5-3"', "backwards"),
        ('""', "must not be empty"),
        ("[]", "must not be empty"),
        ('"a-c"', "range"),
        ('"1,2,3"', "range"),
        ("12", "got an integer"),
        ('["ok", "has space"]', "'has space'"),
        ('["A1", "ABCDEFGHIJKLMNOPQ"]', "'ABCDEFGHIJKLMNOPQ'"),
        ('["A1", ""]', "''"),
        ('["A1", "tab\\there"]', "without spaces or control characters"),
        ('["5", "6", "5"]', "locker '5' is listed more than once"),
    ],
)
def test_bad_locker_lists(tmp_path: Path, value: str, fragment: str) -> None:
    text = f'[[cabinet]]\nport = "p"\nlockers = {value}\n'
    assert fragment in one_problem(tmp_path, text, "cabinet[1].lockers")


def test_locker_list_items_must_be_strings_or_integers(tmp_path: Path) -> None:
    text = '[[cabinet]]\nport = "p"\nlockers = ["1", true]\n'
    assert "boolean" in one_problem(tmp_path, text, "cabinet[1].lockers[2]")


# --- one problem per kind -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        ('timezone = "Mars/Olympus"\n' + MINIMAL, "timezone", "'Mars/Olympus'"),
        ('timezone = "../etc"\n' + MINIMAL, "timezone", "unknown time zone"),
        ('language = "fr"\n' + MINIMAL, "language", "'ko', 'en'"),
        ('device_id = ""\n' + MINIMAL, "device_id", "must not be empty"),
        (f'device_id = "{"D" * 65}"\n' + MINIMAL, "device_id", "64"),
        ('device_id = "A\\u0007B"\n' + MINIMAL, "device_id", "printable"),
        ("device_id = 7\n" + MINIMAL, "device_id", "must be a string, got an integer (7)"),
        ("", "cabinet", "at least one [[cabinet]]"),
        ("cabinet = []\n", "cabinet", "at least one [[cabinet]]"),
        ('[cabinet]\nport = "p"\nlockers = "1"\n', "cabinet", "[[cabinet]]"),
        ('cabinet = ["x"]\n', "cabinet[1]", "must be a table"),
        ('[[cabinet]]\nlockers = "1"\n', "cabinet[1].port", "is required"),
        ('[[cabinet]]\nport = " "\nlockers = "1"\n', "cabinet[1].port", "must not be empty"),
        ('[[cabinet]]\nport = "p"\n', "cabinet[1].lockers", "is required"),
        (MINIMAL + 'kind = "drawer"\n', "cabinet[1].kind", "'per_slot', 'shared_door'"),
        (MINIMAL + "baudrate = 0\n", "cabinet[1].baudrate", "at least 1, got 0"),
        (MINIMAL + 'key_barcode = "KEY"\n', "cabinet[1].key_barcode", "must contain {locker}"),
        (MINIMAL + 'key_barcode = "K{n}"\n', "cabinet[1].key_barcode", "{n}"),
        (MINIMAL + 'key_barcode = "K{}{locker}"\n', "cabinet[1].key_barcode", "only"),
        (MINIMAL + 'key_barcode = "K{locker:03}"\n', "cabinet[1].key_barcode", "{locker:03}"),
        (MINIMAL + 'key_barcode = "K{locker!r}"\n', "cabinet[1].key_barcode", "{locker!r}"),
        (MINIMAL + 'key_barcode = "K{locker"\n', "cabinet[1].key_barcode", "not a valid"),
        (
            MINIMAL + "[session]\ntimeout_s = 0\n",
            "session.timeout_s",
            "must be between 1 and 300, got 0",
        ),
        (MINIMAL + "[session]\ntimeout_s = 301\n", "session.timeout_s", "got 301"),
        (MINIMAL + "[session]\ntimeout_s = 30.0\n", "session.timeout_s", "a float"),
        (MINIMAL + '[session]\nselection = "random"\n', "session.selection", "'random'"),
        (MINIMAL + "[rules]\ndaily_limit = -1\n", "rules.daily_limit", "at least 0, got -1"),
        (MINIMAL + '[sync]\nbackend = "ftp"\n', "sync.backend", "'gsheets', 'csv', 'none'"),
        (MINIMAL + "[web]\nport = -1\n", "web.port", "between 0 and 65535"),
        (MINIMAL + "[web]\nport = 65536\n", "web.port", "between 0 and 65535"),
        (MINIMAL + '[web]\nhost = ""\n', "web.host", "must not be empty"),
        (MINIMAL + '[scanner]\nkind = "serial"\n', "scanner.port", "required"),
        (MINIMAL + '[scanner]\nkind = "evdev"\n', "scanner.device", "required"),
        (MINIMAL + '[scanner]\nkind = "usb"\n', "scanner.kind", "'serial', 'evdev'"),
        (MINIMAL + '[scanner]\nkind = "stdin"\nbaudrate = -5\n', "scanner.baudrate", "-5"),
        ('scanner = "stdin"\n' + MINIMAL, "scanner", "must be a table"),
        (MINIMAL + "[[web]]\nport = 1\n", "web", "must be a table"),
        (MINIMAL + '[zone]\nname = "z"\nlockers = "1"\n', "zone", "[[zone]]"),
    ],
)
def test_each_problem_names_file_and_key(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    assert fragment in one_problem(tmp_path, text, key)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("[session]\ntimeout_s = true\n", "session.timeout_s"),
        ("[rules]\ndaily_limit = false\n", "rules.daily_limit"),
        ("[web]\nport = true\n", "web.port"),
        ("[scanner]\nbaudrate = true\n", "scanner.baudrate"),
    ],
)
def test_booleans_are_not_integers(tmp_path: Path, section: str, key: str) -> None:
    message = one_problem(tmp_path, MINIMAL + section, key)
    assert "must be an integer, got a boolean" in message


def test_booleans_are_not_integers_in_a_cabinet(tmp_path: Path) -> None:
    message = one_problem(tmp_path, MINIMAL + "baudrate = true\n", "cabinet[1].baudrate")
    assert "integer" in message


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ('timezon = "UTC"\n' + MINIMAL, "timezon", "did you mean 'timezone'?"),
        (MINIMAL + "[session]\ntimeout = 5\n", "session.timeout", "did you mean 'timeout_s'?"),
        (MINIMAL + 'locker = "1"\n', "cabinet[1].locker", "did you mean 'lockers'?"),
        (MINIMAL + "[rules]\nxyz = 1\n", "rules.xyz", ""),
        (MINIMAL + "[extra]\nx = 1\n", "extra", ""),
        (
            MINIMAL + '[[zone]]\nname = "z"\nlockers = "1"\nalow = {}\n',
            "zone[1].alow",
            "did you mean 'allow'?",
        ),
    ],
)
def test_unknown_keys(tmp_path: Path, text: str, key: str, hint: str) -> None:
    message = one_problem(tmp_path, text, key)
    assert message.startswith("unknown key")
    assert hint in message
    if not hint:
        assert "did you mean" not in message


# --- problems spanning several tables -----------------------------------------------------


def test_locker_in_two_cabinets(tmp_path: Path) -> None:
    text = '[[cabinet]]\nport = "a"\nlockers = "1-5"\n[[cabinet]]\nport = "b"\nlockers = "5-8"\n'
    message = one_problem(tmp_path, text, "cabinet[2].lockers")
    assert message == "locker '5' is in cabinet[1] and cabinet[2]"


def test_many_shared_lockers_are_one_problem(tmp_path: Path) -> None:
    text = '[[cabinet]]\nport = "a"\nlockers = "1-20"\n[[cabinet]]\nport = "b"\nlockers = "1-20"\n'
    message = one_problem(tmp_path, text, "cabinet[2].lockers")
    assert message.startswith("lockers '1', '2', '3', '4', '5' and 15 more are in cabinet[1]")


def test_duplicate_cabinet_names(tmp_path: Path) -> None:
    text = (
        '[[cabinet]]\nport = "a"\nlockers = "1"\nname = "x"\n'
        '[[cabinet]]\nport = "b"\nlockers = "2"\nname = "x"\n'
    )
    assert "cabinet[1]" in one_problem(tmp_path, text, "cabinet[2].name")


def test_two_cabinets_on_one_port(tmp_path: Path) -> None:
    text = (
        '[[cabinet]]\nport = "/dev/ttyUSB0"\nlockers = "1"\n'
        '[[cabinet]]\nport = "/dev/ttyUSB0"\nlockers = "2"\n'
    )
    message = one_problem(tmp_path, text, "cabinet[2].port")
    assert message == "'/dev/ttyUSB0' is already the port of cabinet[1]"


def test_default_cabinet_name_clashes_with_explicit_one(tmp_path: Path) -> None:
    text = (
        '[[cabinet]]\nport = "a"\nlockers = "1"\nname = "cabinet2"\n'
        '[[cabinet]]\nport = "b"\nlockers = "2"\n'
    )
    assert "'cabinet2'" in one_problem(tmp_path, text, "cabinet[2].name")


def test_mixed_cabinet_kinds(tmp_path: Path) -> None:
    text = (
        '[[cabinet]]\nport = "a"\nlockers = "1"\n'
        '[[cabinet]]\nport = "b"\nlockers = "2"\nkind = "shared_door"\n'
    )
    message = one_problem(tmp_path, text, "cabinet[2].kind")
    assert message == "mixing per_slot and shared_door cabinets is not supported"


def test_colliding_key_codes(tmp_path: Path) -> None:
    text = (
        '[[cabinet]]\nport = "a"\nlockers = "10-12"\nkey_barcode = "K{locker}"\n'
        '[[cabinet]]\nport = "b"\nlockers = "0-2"\nkey_barcode = "K1{locker}"\n'
    )
    message = one_problem(tmp_path, text, "cabinet[2].key_barcode")
    assert "'K10'" in message
    assert "'10'" in message
    assert "cabinet[1]" in message
    assert "2 more" in message


ZONED = '[[cabinet]]\nport = "a"\nlockers = "1-10"\n'


@pytest.mark.parametrize(
    ("zones", "key", "fragment"),
    [
        (
            '[[zone]]\nname = "a"\nlockers = "1-5"\n[[zone]]\nname = "b"\nlockers = "5-6"\n',
            "zone[2].lockers",
            "locker '5' is in zone[1] and zone[2]",
        ),
        (
            '[[zone]]\nname = "a"\nlockers = "9-12"\n',
            "zone[1].lockers",
            "lockers '11', '12' are not in any cabinet",
        ),
        (
            '[[zone]]\nname = "a"\nlockers = "1"\n[[zone]]\nname = "a"\nlockers = "2"\n',
            "zone[2].name",
            "zone[1]",
        ),
        ('[[zone]]\nlockers = "1"\n', "zone[1].name", "is required"),
        ('[[zone]]\nname = "a"\n', "zone[1].lockers", "is required"),
        (
            '[[zone]]\nname = "a"\nlockers = "1"\nallow = ["M"]\n',
            "zone[1].allow",
            "must be a table",
        ),
        (
            '[[zone]]\nname = "a"\nlockers = "1"\nallow = { gender = 1 }\n',
            "zone[1].allow.gender",
            "got an integer",
        ),
        (
            '[[zone]]\nname = "a"\nlockers = "1"\nallow = { gender = [] }\n',
            "zone[1].allow.gender",
            "at least one value",
        ),
        (
            '[[zone]]\nname = "a"\nlockers = "1"\nallow = { gender = ["M", 2] }\n',
            "zone[1].allow.gender[2]",
            "must be a string",
        ),
        (
            '[[zone]]\nname = "a"\nlockers = "1"\nallow = { gender = ["M", " "] }\n',
            "zone[1].allow.gender[2]",
            "must not be empty",
        ),
        (
            '[[zone]]\nname = "a"\nlockers = "1"\nallow = { "" = ["M"] }\n',
            "zone[1].allow",
            "attribute names must not be empty",
        ),
        ('[[zone]]\nname = "a"\nlockers = "1-999999999"\n', "zone[1].lockers", "more than"),
    ],
)
def test_zone_problems(tmp_path: Path, zones: str, key: str, fragment: str) -> None:
    assert fragment in one_problem(tmp_path, ZONED + zones, key)


def test_broken_cabinet_lockers_do_not_make_zones_report_unknown_lockers(tmp_path: Path) -> None:
    text = '[[cabinet]]\nport = "a"\nlockers = "x-y"\n[[zone]]\nname = "z"\nlockers = "1-3"\n'
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1
    assert ": cabinet[1].lockers: " in problems[0]


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        timezone = "Nowhere/Special"
        colour = "red"
        [[cabinet]]
        port = ""
        lockers = "1-4"
        [[cabinet]]
        port = "b"
        lockers = "4-6"
        key_barcode = "KEY"
        [[zone]]
        name = "z"
        lockers = "1-9"
        [session]
        timeout_s = 0
        [web]
        port = true
    """,
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    keys = [problem.split(": ")[1] for problem in caught.value.problems]
    assert sorted(keys) == sorted(
        [
            "colour",
            "timezone",
            "cabinet[1].port",
            "cabinet[2].lockers",
            "cabinet[2].key_barcode",
            "zone[1].lockers",
            "session.timeout_s",
            "web.port",
        ]
    )
    message = str(caught.value)
    assert message.startswith("8 problems in the configuration:")
    assert all(problem in message for problem in caught.value.problems)


def test_settings_not_from_a_file_are_labelled() -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({})
    assert caught.value.problems == [
        "<settings>: cabinet: at least one [[cabinet]] table is required"
    ]
    assert str(caught.value) == caught.value.problems[0]


def test_config_error_survives_pickling() -> None:
    error = ConfigError(["f: a: one", "f: b: two"])
    copy = pickle.loads(pickle.dumps(error))
    assert copy.problems == error.problems
    assert str(copy) == str(error)


# --- reading the file ---------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.problems == [f"{path}: not found; create one with `lockerkey init`"]


def test_invalid_toml_reports_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, 'device_id = "x"\n[[cabinet]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}: not valid TOML: ")
    assert "line 2" in problem


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)  # a directory cannot be read as a file
    assert caught.value.problems[0].startswith(f"{tmp_path}: cannot be read")


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('device_id = "caf\u00e9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.problems[0].startswith(f"{path}: not valid UTF-8")


def test_korean_text_in_a_utf8_file(tmp_path: Path) -> None:
    text = ZONED + '[[zone]]\nname = "남자"\nlockers = "1-2"\nallow = { "성별" = ["남"] }\n'
    settings = load_settings(write(tmp_path, text))
    assert settings.zones[0].allow == {"성별": frozenset({"남"})}


# --- the daemon's sections: scanners, logs, backups -------------------------------------


def test_several_scanners_as_an_array_of_tables() -> None:
    settings = settings_from_mapping(
        {
            "cabinet": [{"port": "c", "lockers": "1-4"}],
            "scanner": [
                {"kind": "evdev", "device": "0c2e:0b61", "name": "cards"},
                {"kind": "serial", "port": "/dev/ttyACM0"},
            ],
        }
    )
    assert [(s.kind, s.name) for s in settings.scanners] == [
        ("evdev", "cards"),
        ("serial", "scanner2"),
    ]
    assert settings.scanner.device == "0c2e:0b61"


@pytest.mark.parametrize(
    ("scanners", "key", "words"),
    [
        (
            [{"kind": "serial", "port": "p"}, {"kind": "serial", "port": "p"}],
            "scanner[2]",
            "read by",
        ),
        ([{"kind": "stdin"}, {"kind": "stdin", "name": "b"}], "scanner", "at most one"),
        ([{"kind": "none", "name": "x"}, {"kind": "none", "name": "x"}], "scanner[2].name", "x"),
        ([{"kind": "serial"}], "scanner[1].port", "required"),
        ([{"kind": "evdev", "devcie": "/dev/input/x"}], "scanner[1].devcie", "device"),
        ("stdin", "scanner", "must be a table"),
    ],
)
def test_scanner_problems_are_named(scanners: object, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"cabinet": [{"port": "c", "lockers": "1-4"}], "scanner": scanners})
    assert any(f": {key}: " in p and words in p for p in caught.value.problems), caught.value


def test_log_and_backup_defaults_and_values() -> None:
    cab = {"cabinet": [{"port": "c", "lockers": "1-4"}]}
    plain = settings_from_mapping(cab)
    assert (plain.log.level, plain.log.privacy, plain.log.keep) == ("info", True, 5)
    assert (plain.backup.at(), plain.backup.keep) == ((3, 0), 14)
    assert plain.log_dir == plain.data_dir / "logs"
    assert plain.backup_dir == plain.data_dir / "backup"
    custom = settings_from_mapping(
        {
            **cab,
            "log": {"level": "debug", "privacy": False, "max_bytes": 20000, "keep": 2},
            "backup": {"time": "23:45", "keep": 3},
        }
    )
    assert (custom.log.level, custom.log.privacy, custom.log.max_bytes) == ("debug", False, 20000)
    assert (custom.backup.at(), custom.backup.keep) == ((23, 45), 3)
    assert settings_from_mapping({**cab, "backup": {"time": ""}}).backup.at() is None


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        ({"log": {"level": "verbose"}}, "log.level", "'debug'"),
        ({"log": {"privacy": "yes"}}, "log.privacy", "true or false"),
        ({"log": {"max_bytes": 10}}, "log.max_bytes", "at least"),
        ({"backup": {"time": "25:00"}}, "backup.time", "HH:MM"),
        ({"backup": {"time": "3am"}}, "backup.time", "HH:MM"),
        ({"backup": {"keep": 0}}, "backup.keep", "at least 1"),
        ({"backup": {"when": "03:00"}}, "backup.when", "unknown key"),
    ],
)
def test_log_and_backup_problems_are_named(
    section: dict[str, object], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping({"cabinet": [{"port": "c", "lockers": "1-4"}], **section})
    assert any(f": {key}: " in p and words in p for p in caught.value.problems), caught.value


# --- [sync] (contract keys) ---------------------------------------------------------------


def test_sync_keys_and_their_defaults(tmp_path: Path) -> None:
    sync = load_settings(write(tmp_path, MINIMAL)).sync
    assert sync.backend == "none" and sync.times == ("06:00", "18:00")
    assert sync.credentials == tmp_path / "credentials.json"
    assert (sync.members_spreadsheet, sync.rentals_spreadsheet) == (
        "락카키_회원관리",
        "락카키_대여기록",
    )
    assert sync.members_csv == tmp_path / "members.csv"
    text = MINIMAL + (
        '[sync]\nbackend = "gsheets"\ncredentials = "keys/sa.json"\n'
        'members_spreadsheet = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd"\n'
        'members_worksheet = "회원"\nrentals_spreadsheet = "대여기록"\nrentals_worksheet = ""\n'
        'times = ["18:00", "06:30"]\napi_endpoint = "http://127.0.0.1:8900/"\n'
        'members_csv = "in.csv"\nrentals_csv = "out/rentals.csv"\n'
    )
    sync = load_settings(write(tmp_path, text)).sync
    assert sync.backend == "gsheets" and sync.credentials == tmp_path / "keys" / "sa.json"
    assert sync.members_worksheet == "회원" and sync.rentals_spreadsheet == "대여기록"
    assert sync.clock_times() == [(6, 30), (18, 0)]
    assert sync.api_endpoint == "http://127.0.0.1:8900"
    assert sync.rentals_csv == tmp_path / "out" / "rentals.csv"


@pytest.mark.parametrize(
    ("section", "key", "words"),
    [
        ('[sync]\ntimes = ["6:00"]\n', "sync.times", '"HH:MM"'),
        ('[sync]\ntimes = "06:00"\n', "sync.times", "a list of local times"),
        ('[sync]\ntimes = ["06:00", "06:00"]\n', "sync.times", "same time twice"),
        ('[sync]\napi_endpoint = "127.0.0.1:8900"\n', "sync.api_endpoint", "scheme and host"),
        ('[sync]\napi_endpoint = "http://h/v4"\n', "sync.api_endpoint", "scheme and host"),
        (
            '[sync]\nbackend = "gsheets"\nmembers_spreadsheet = ""\n',
            "sync.members_spreadsheet",
            "empty",
        ),
        ('[sync]\nbackend = "sheets"\n', "sync.backend", "must be one of"),
        ('[sync]\nspreadsheet = "x"\n', "sync.spreadsheet", "unknown key"),
    ],
)
def test_bad_sync_settings(tmp_path: Path, section: str, key: str, words: str) -> None:
    assert words in one_problem(tmp_path, MINIMAL + section, key)

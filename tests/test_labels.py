"""The kiosk page's own texts: complete in both languages, and the ones the page uses."""

from __future__ import annotations

import re

from lockerkey.core.labels import LABELS, page_texts
from lockerkey.core.messages import CATALOGUE, LANGUAGES, Msg, placeholders
from lockerkey.web.static import static_path

PAGE_SCRIPT = static_path("kiosk.js").read_text(encoding="utf-8")
# Labels the page looks up by a computed key (`zone.${name}`, `state.${state}`).
PREFIXES = ("zone.", "state.")
# Every state screen.locker_state gives a locker in the staff grid.
LOCKER_STATES = ("free", "rented", "abnormal", "out_of_service", "key_missing", "unknown")


def test_every_label_is_said_in_both_languages_with_the_same_placeholders() -> None:
    assert LANGUAGES == ("ko", "en")  # the order of each (ko, en) pair
    for key, (ko, en) in LABELS.items():
        assert ko.strip() and en.strip(), key
        assert placeholders(ko) == placeholders(en), key


def test_no_label_shares_a_key_with_a_message() -> None:
    # The page looks both up in one table.
    assert not set(LABELS) & {str(msg) for msg in Msg}


def test_page_texts_hold_every_label_and_message_per_language() -> None:
    texts = page_texts()
    assert set(texts) == set(LANGUAGES)
    for index, lang in enumerate(LANGUAGES):
        for key, pair in LABELS.items():
            assert texts[lang][key] == pair[index]
        for msg, pair in CATALOGUE.items():
            assert texts[lang][str(msg)] == pair[index]
    assert texts["ko"]["cancel"] == "취소"
    assert texts["en"][str(Msg.IDLE)] == "Scan your membership card or locker key"


def test_the_page_uses_every_label_and_only_labels_that_exist() -> None:
    for key in LABELS:
        prefix = next((p for p in PREFIXES if key.startswith(p)), None)
        assert (prefix or key) in PAGE_SCRIPT, f"label {key!r} is not used by kiosk.js"
    # Every literal key the page asks t() for: the argument, or either answer of a ternary
    # (not the strings it compares).
    asked = set()
    for call in re.finditer(r"\bt\(([^()]*)", PAGE_SCRIPT):
        asked.update(re.findall(r'(?:^|[?:])\s*"([a-z_.]+)"', call.group(1)))
    assert asked, "no t() calls found in kiosk.js"
    assert asked <= set(LABELS), asked - set(LABELS)
    for state in LOCKER_STATES:
        assert f"state.{state}" in LABELS
        assert f'"{state}"' in PAGE_SCRIPT  # in the legend's order

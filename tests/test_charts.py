"""The console's SVG charts (web/charts.py): well-formed, complete, escaped, in both languages."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from lockerkey.web import charts

NS = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    """The chart as XML, checked for what every chart must have."""
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert root.get("role") == "img"
    assert root.get("aria-label")
    assert root.get("width") == "100%"
    x, y, width, height = (float(v) for v in (root.get("viewBox") or "").split())
    assert (x, y) == (0, 0) and width > 0 and height > 0
    title = root.find(f"{NS}title")
    assert title is not None and title.text == root.get("aria-label")
    return root


def bars(root: ET.Element) -> list[ET.Element]:
    """The data bars (legend swatches are not inside the bars group)."""
    group = root.find(f"{NS}g[@class='bars']")
    assert group is not None
    return [e for e in group.iter(f"{NS}rect") if e.get("class") == "bar"]


def texts(root: ET.Element) -> list[str]:
    return [e.text or "" for e in root.iter(f"{NS}text")]


def height(bar: ET.Element) -> float:
    return float(bar.get("height") or "nan")


def thirty_days(counts: list[int] | None = None) -> list[tuple[date, int]]:
    first = date(2026, 10, 28)
    values = counts if counts is not None else [i % 7 for i in range(30)]
    return [(first + timedelta(days=i), n) for i, n in enumerate(values)]


# ---- hourly ---------------------------------------------------------------------------------


def test_hourly_has_24_bars_an_average_line_and_a_korean_legend() -> None:
    today = [0] * 24
    today[9], today[18] = 7, 3
    average = [1.5] * 24
    root = parse(charts.hourly_svg(today, average, "ko"))
    found = bars(root)
    assert len(found) == 24
    assert height(found[9]) > height(found[18]) > height(found[0]) == 0
    assert height(found[9]) == pytest.approx(height(found[18]) * 7 / 3, abs=0.2)
    line = root.find(f"{NS}polyline[@class='avg']")
    assert line is not None
    assert len((line.get("points") or "").split()) == 24
    words = texts(root)
    assert "오늘" in words and "4주 평균" in words
    assert "0시" in words and "21시" in words
    assert root.get("aria-label") == "시간대별 대여: 오늘과 4주 평균"
    # Round ticks up to at least the highest value (7): 0, 2, 4, 6, 8.
    assert [w for w in words if w.isdigit()] == ["0", "2", "4", "6", "8"]
    tooltips = [e.text for e in root.iter(f"{NS}title")]
    assert "9시: 오늘 7건, 4주 평균 1.5" in tooltips


def test_hourly_in_english_and_the_average_sets_the_scale_when_higher() -> None:
    root = parse(charts.hourly_svg([1] * 24, [0.0] * 12 + [23.5] * 12, "en"))
    words = texts(root)
    assert "Today" in words and "4-week average" in words
    assert "0" in words and "12" in words
    assert [w for w in words if w.isdigit()][:5] == ["0", "10", "20", "30", "0"]
    assert "No data" not in words


def test_hourly_with_no_rentals_says_so() -> None:
    for language, message in (("ko", "데이터 없음"), ("en", "No data")):
        root = parse(charts.hourly_svg([0] * 24, [0.0] * 24, language))
        assert len(bars(root)) == 24
        assert all(height(b) == 0 for b in bars(root))
        assert message in texts(root)
        empty = parse(charts.hourly_svg([], [], language))
        assert bars(empty) == [] and message in texts(empty)


def test_values_a_chart_cannot_draw_are_drawn_as_zero() -> None:
    svg = charts.hourly_svg([-3, 2], [float("nan"), float("inf")], "en")
    root = parse(svg)
    assert height(bars(root)[0]) == 0
    assert "nan" not in svg and "inf" not in svg
    shares = charts.utilisation_svg([("1", float("nan")), ("2", 1.7)], "en")
    assert "nan" not in shares and "100%" in shares


# ---- daily ----------------------------------------------------------------------------------


def test_daily_has_a_bar_per_day_and_thinned_date_labels() -> None:
    days = thirty_days()
    root = parse(charts.daily_svg(days, "en"))
    found = bars(root)
    assert len(found) == 30
    assert height(found[6]) > height(found[5]) > height(found[0]) == 0
    labels = [w for w in texts(root) if len(w) == 5 and w[2] == "-"]
    assert 3 <= len(labels) < 30
    assert labels[-1] == "11-26"  # today always has its label
    assert all(w[:2] in ("10", "11") for w in labels)
    assert "2026-10-28" in (root.get("aria-label") or "")
    # Labels stay inside the viewBox, even the last one under the rightmost bar.
    width = float((root.get("viewBox") or "").split()[2])
    for e in root.iter(f"{NS}text"):
        assert 0 < float(e.get("x") or "0") < width


def test_a_short_daily_chart_labels_every_day_in_korean() -> None:
    days = thirty_days([3, 0, 5, 1, 2, 8, 4])[:7]
    root = parse(charts.daily_svg(days, "ko"))
    assert len(bars(root)) == 7
    words = texts(root)
    assert [w for w in words if "-" in w and len(w) == 5] == [d.strftime("%m-%d") for d, _ in days]
    assert "일별 대여" in (root.get("aria-label") or "")
    tooltips = [e.text for e in root.iter(f"{NS}title")]
    assert "2026-11-02: 8건" in tooltips


def test_daily_with_no_rentals_says_so() -> None:
    root = parse(charts.daily_svg(thirty_days([0] * 30), "ko"))
    assert len(bars(root)) == 30 and "데이터 없음" in texts(root)
    empty = parse(charts.daily_svg([], "en"))
    assert bars(empty) == [] and "No data" in texts(empty)


# ---- utilisation ----------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 24, 140])
def test_utilisation_has_one_bar_per_locker(count: int) -> None:
    rows = [(str(i), (i % 11) / 10) for i in range(1, count + 1)]
    root = parse(charts.utilisation_svg(rows, "en"))
    found = bars(root)
    assert len(found) == count
    words = texts(root)
    assert str(count) in words
    assert words.count("100%") == sum(1 for _, share in rows if share >= 1)
    width = float((root.get("viewBox") or "").split()[2])
    for bar in found:
        assert float(bar.get("x") or "-1") >= 0
        assert float(bar.get("x") or "0") + float(bar.get("width") or "0") <= width
    assert root.get("aria-label") == "Utilisation per locker"


def test_utilisation_bars_grow_with_the_share_and_show_percent() -> None:
    root = parse(charts.utilisation_svg([("1", 0.0), ("2", 0.25), ("3", 1.0)], "ko"))
    found = bars(root)
    assert height(found[0]) == 0 < height(found[1]) < height(found[2])
    assert height(found[2]) == pytest.approx(4 * height(found[1]))
    words = texts(root)
    assert {"0%", "25%", "100%"} <= set(words)
    assert "락카별 이용률" in words
    tooltips = [e.text for e in root.iter(f"{NS}title")]
    assert "2번: 25%" in tooltips


def test_utilisation_with_no_lockers_or_no_use_says_so() -> None:
    empty = parse(charts.utilisation_svg([], "ko"))
    assert bars(empty) == []
    assert any("데이터 없음" in w for w in texts(empty))
    idle = parse(charts.utilisation_svg([("1", 0.0), ("2", 0.0)], "en"))
    assert len(bars(idle)) == 2
    assert any("No data" in w for w in texts(idle))


def test_text_from_the_configuration_is_escaped() -> None:
    name = '<b>&"A1"'
    svg = charts.utilisation_svg([(name, 0.5)], "en")
    assert "<b>" not in svg and "&lt;b&gt;&amp;&quot;A1&quot;" in svg
    root = parse(svg)
    assert name in texts(root)


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown language"):
        charts.hourly_svg([1], [1.0], "ja")

"""The staff console's charts as server-side SVG: pure functions from numbers to markup.

No JavaScript and nothing from a CDN: each function returns one complete ``<svg>`` element
that scales to its container (``width="100%"`` and a ``viewBox``; the height follows from the
aspect ratio). Shapes carry CSS classes (``bar``, ``avg``, ``axis``, ``label``) for the
console's stylesheet and inline fills as defaults, so a chart also looks right on its own.
Every text is escaped with ``html.escape``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

# The viewBox is 400 units wide: on a 360 px phone a 12-unit text is still about 11 px, and
# on a wide screen the chart simply grows.
_WIDTH = 400
_FONT = 12
_BAR_FILL = "#4c6ef5"
_AVG_STROKE = "#e8590c"
_AXIS_STROKE = "#adb5bd"
_GRID_STROKE = "#e9ecef"
_TRACK_FILL = "#edf0f3"
_LABEL_FILL = "#495057"

_TEXTS: dict[str, dict[str, str]] = {
    "ko": {
        "hourly": "시간대별 대여: 오늘과 4주 평균",
        "today": "오늘",
        "average": "4주 평균",
        "daily": "일별 대여",
        "daily_range": "일별 대여 ({first} ~ {last})",
        "utilisation": "락카별 이용률",
        "no_data": "데이터 없음",
        "hour": "{hour}시",
        "hour_title": "{hour}시",
        "count": "{n}건",
        "locker": "{locker}번",
    },
    "en": {
        "hourly": "Rentals per hour: today and 4-week average",
        "today": "Today",
        "average": "4-week average",
        "daily": "Rentals per day",
        "daily_range": "Rentals per day ({first} to {last})",
        "utilisation": "Utilisation per locker",
        "no_data": "No data",
        "hour": "{hour}",
        "hour_title": "{hour}:00",
        "count": "{n}",
        "locker": "Locker {locker}",
    },
}

# The bar charts' frame, in viewBox units.
_LEFT = 34  # room for the y tick labels
_RIGHT = _WIDTH - 8
_LEGEND_Y = 14
_PLOT_TOP = 28
_PLOT_BOTTOM = 188
_HEIGHT = _PLOT_BOTTOM + 22  # room for the x labels


def hourly_svg(today: list[int], average: list[float], language: str) -> str:
    """Bars of today's rentals per hour with the 4-week average as a line over them."""
    t = _texts(language)
    n = max(len(today), len(average))
    values = [_clean(v) for v in today] + [0.0] * (n - len(today))
    means = [_clean(v) for v in average] + [0.0] * (n - len(average))
    hours = [t["hour"].format(hour=h) for h in range(n)]
    titles = [
        f"{t['hour_title'].format(hour=h)}: {t['today']} {t['count'].format(n=_number(v))},"
        f" {t['average']} {_number(m)}"
        for h, (v, m) in enumerate(zip(values, means, strict=True))
    ]
    legend = (
        f'<rect class="bar" x="{_LEFT}" y="{_LEGEND_Y - 9}" width="10" height="10"'
        f' fill="{_BAR_FILL}"/>'
        f'<text class="label" x="{_LEFT + 14}" y="{_LEGEND_Y}" fill="{_LABEL_FILL}">'
        f"{escape(t['today'])}</text>"
        f'<line class="avg" x1="{_LEFT + 80}" y1="{_LEGEND_Y - 4}" x2="{_LEFT + 100}"'
        f' y2="{_LEGEND_Y - 4}" stroke="{_AVG_STROKE}" stroke-width="2.5"/>'
        f'<text class="label" x="{_LEFT + 104}" y="{_LEGEND_Y}" fill="{_LABEL_FILL}">'
        f"{escape(t['average'])}</text>"
    )
    # Hours are labelled on a divisor of 24 (every 2nd, 3rd, ... hour), never at odd steps.
    body = _bar_chart(values, hours, titles, means, t["no_data"], steps=(1, 2, 3, 4, 6, 8, 12))
    return _svg(t["hourly"], _HEIGHT, legend + body)


def daily_svg(days: list[tuple[date, int]], language: str) -> str:
    """Bars of rentals per day, labelled MM-DD (thinned to fit, today always labelled)."""
    t = _texts(language)
    values = [_clean(n) for _, n in days]
    labels = [day.strftime("%m-%d") for day, _ in days]
    titles = [f"{day.isoformat()}: {t['count'].format(n=_number(n))}" for day, n in days]
    title = (
        t["daily_range"].format(first=days[0][0].isoformat(), last=days[-1][0].isoformat())
        if days
        else t["daily"]
    )
    heading = (
        f'<text class="label" x="{_LEFT}" y="{_LEGEND_Y}" fill="{_LABEL_FILL}">'
        + escape(title)
        + "</text>"
    )
    body = _bar_chart(values, labels, titles, None, t["no_data"], steps=None)
    return _svg(title, _HEIGHT, heading + body)


def utilisation_svg(rows: list[tuple[str, float]], language: str) -> str:
    """A wrapped grid with one small bar per locker: the share of time its key was out."""
    t = _texts(language)
    shares = [min(1.0, _clean(share)) for _, share in rows]
    # Columns by how many lockers there are, so 24 lockers get large cells and 140 still fit
    # in a screenful (cells stay at least 32 units wide for "100%").
    columns = 8 if len(rows) <= 40 else 10 if len(rows) <= 100 else 12
    cell = (_WIDTH - 8) / columns
    bar_height = 30.0
    row_height = bar_height + 2 * _FONT + 10
    top = 26.0
    rows_needed = math.ceil(len(rows) / columns)
    height = top + rows_needed * row_height + 4
    heading = t["utilisation"]
    if not any(shares):
        heading += f" · {t['no_data']}"
    parts = [
        f'<text class="label" x="4" y="16" fill="{_LABEL_FILL}" font-size="{_FONT + 1}">'
        f"{escape(heading)}</text>",
        '<g class="bars">',
    ]
    for index, ((locker, _), share) in enumerate(zip(rows, shares, strict=True)):
        x = 4 + (index % columns) * cell
        y = top + (index // columns) * row_height
        inner = cell - 6
        filled = share * bar_height
        percent = f"{round(share * 100)}%"
        name_size = min(_FONT - 1.0, 1.7 * inner / max(len(locker), 1))
        parts.append(
            f"<g><title>{escape(t['locker'].format(locker=locker))}: {percent}</title>"
            f'<rect class="track" x="{_n(x + 3)}" y="{_n(y)}" width="{_n(inner)}"'
            f' height="{_n(bar_height)}" fill="{_TRACK_FILL}"/>'
            f'<rect class="bar" x="{_n(x + 3)}" y="{_n(y + bar_height - filled)}"'
            f' width="{_n(inner)}" height="{_n(filled)}" fill="{_BAR_FILL}"/>'
            f'<text class="label" x="{_n(x + cell / 2)}" y="{_n(y + bar_height + _FONT)}"'
            f' text-anchor="middle" font-size="{_n(name_size)}" fill="{_LABEL_FILL}">'
            f"{escape(locker)}</text>"
            f'<text class="label" x="{_n(x + cell / 2)}" y="{_n(y + bar_height + 2 * _FONT)}"'
            f' text-anchor="middle" font-size="{_FONT - 2}" fill="{_LABEL_FILL}">'
            f"{percent}</text></g>"
        )
    parts.append("</g>")
    return _svg(heading, height, "".join(parts))


def _bar_chart(
    values: Sequence[float],
    labels: Sequence[str],
    titles: Sequence[str],
    line: Sequence[float] | None,
    no_data: str,
    steps: Sequence[int] | None,
) -> str:
    """Y grid with round ticks, one bar per value, optional line, thinned x labels."""
    peak = max([*values, *(line or [])], default=0.0)
    ticks = _ticks(peak)
    top = ticks[-1]
    height = _PLOT_BOTTOM - _PLOT_TOP

    def y_of(value: float) -> float:
        return _PLOT_BOTTOM - value / top * height

    parts: list[str] = []
    for tick in ticks:
        y = _n(y_of(tick))
        stroke = _AXIS_STROKE if tick == 0 else _GRID_STROKE
        parts.append(
            f'<line class="axis" x1="{_LEFT}" y1="{y}" x2="{_RIGHT}" y2="{y}" stroke="{stroke}"/>'
            f'<text class="label" x="{_LEFT - 4}" y="{_n(y_of(tick) + 4)}" text-anchor="end"'
            f' fill="{_LABEL_FILL}">{_number(tick)}</text>'
        )
    n = len(values)
    slot = (_RIGHT - _LEFT) / max(n, 1)
    parts.append('<g class="bars">')
    for i, (value, title) in enumerate(zip(values, titles, strict=True)):
        bar_top = y_of(value)
        parts.append(
            f'<rect class="bar" x="{_n(_LEFT + i * slot + slot * 0.15)}" y="{_n(bar_top)}"'
            f' width="{_n(slot * 0.7)}" height="{_n(_PLOT_BOTTOM - bar_top)}" fill="{_BAR_FILL}">'
            f"<title>{escape(title)}</title></rect>"
        )
    parts.append("</g>")
    if line:
        points = " ".join(
            f"{_n(_LEFT + (i + 0.5) * slot)},{_n(y_of(v))}" for i, v in enumerate(line)
        )
        parts.append(
            f'<polyline class="avg" points="{points}" fill="none" stroke="{_AVG_STROKE}"'
            ' stroke-width="2" stroke-linejoin="round"/>'
        )
    widest = max((_text_width(label) for label in labels), default=0.0)
    step = max(1, math.ceil((widest + 6) / slot))
    if steps:
        step = next((s for s in steps if s >= step), n)
    for i, label in enumerate(labels):
        # Counted back from the last bar, so the newest day (or hour 0) always has its label.
        if (i if steps else n - 1 - i) % step == 0:
            # Centred under its bar, but moved in where it would stick out of the viewBox.
            half = _text_width(label) / 2 + 1
            x = min(max(_LEFT + (i + 0.5) * slot, half), _WIDTH - half)
            parts.append(
                f'<text class="label" x="{_n(x)}" y="{_PLOT_BOTTOM + 16}"'
                f' text-anchor="middle" fill="{_LABEL_FILL}">{escape(label)}</text>'
            )
    if peak == 0:
        parts.append(
            f'<text class="label" x="{_n((_LEFT + _RIGHT) / 2)}"'
            f' y="{(_PLOT_TOP + _PLOT_BOTTOM) // 2}"'
            f' text-anchor="middle" font-size="{_FONT + 2}" fill="{_LABEL_FILL}">'
            f"{escape(no_data)}</text>"
        )
    return "".join(parts)


def _svg(label: str, height: float, body: str) -> str:
    """The outer element: scales to its container's width, keeps its aspect ratio."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_n(height)}"'
        f' width="100%" role="img" aria-label="{escape(label)}"'
        f' font-family="system-ui, sans-serif" font-size="{_FONT}">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def _ticks(peak: float, target: int = 4) -> list[float]:
    """0 and round steps (1, 2 or 5 times a power of ten, at least 1) up to at least ``peak``."""
    if peak <= 0:
        return [0.0, 1.0]
    raw = peak / target
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(step, 1.0)  # counts of rentals: no tick at 0.5 of a rental
    count = math.ceil(peak / step - 1e-9)
    return [i * step for i in range(count + 1)]


def _texts(language: str) -> dict[str, str]:
    try:
        return _TEXTS[language]
    except KeyError:
        raise ValueError(f"unknown language {language!r} (expected 'ko' or 'en')") from None


def _clean(value: float) -> float:
    """A value a chart can draw: NaN, infinities and negatives become 0."""
    number = float(value)
    return number if math.isfinite(number) and number > 0 else 0.0


def _number(value: float) -> str:
    """A count as shown: whole numbers without decimals, averages to one decimal."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _n(value: float) -> str:
    """A coordinate, to 0.1 unit, without a trailing '.0'."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _text_width(text: str) -> float:
    """Rough width of a label: Hangul is about 1 em wide, digits and Latin about 0.6 em."""
    return sum(_FONT * (1.0 if ord(ch) >= 0x1100 else 0.6) for ch in text)

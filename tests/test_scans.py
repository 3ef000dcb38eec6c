"""The scan gate: a double-fire counts once, a flood is throttled and reported once it ends.

Times are multiples of 1/1024 s, so every sum and difference is exact in floating point and
the window edges (exactly 1.5 s, exactly 1 s) are tested as they are, not as rounding has it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from lockerkey.core.scans import (
    FLOOD_LIMIT,
    FLOOD_WINDOW_S,
    REPEAT_WINDOW_S,
    Gated,
    ScanGate,
    Verdict,
)

TICK = 1 / 1024  # one unit of test time, in seconds


@dataclass(frozen=True)
class Read:
    code: str
    mono: float
    gated: Gated


def feed(gate: ScanGate, reads: list[tuple[str, float]]) -> list[Read]:
    return [Read(code, mono, gate.check(code, mono)) for code, mono in reads]


def verdicts(reads: list[Read]) -> list[Verdict]:
    return [r.gated.verdict for r in reads]


# ---- double-fires ------------------------------------------------------------------------------


def test_the_defaults_are_the_documented_ones() -> None:
    gate = ScanGate()
    assert (gate.repeat_window, gate.flood_limit, gate.flood_window) == (1.5, 10, 1.0)
    assert (REPEAT_WINDOW_S, FLOOD_LIMIT, FLOOD_WINDOW_S) == (1.5, 10, 1.0)


def test_a_double_fire_counts_once() -> None:
    reads = feed(ScanGate(), [("M1", 100.0), ("M1", 100.05)])
    assert verdicts(reads) == [Verdict.ACCEPT, Verdict.REPEAT]
    assert reads[1].gated == Gated(Verdict.REPEAT)  # no flood news with a repeat


def test_the_same_code_after_the_repeat_window_is_a_new_scan() -> None:
    gate = ScanGate()
    assert gate.check("M1", 10.0).verdict is Verdict.ACCEPT
    assert gate.check("M1", 10.0 + 1.5 - TICK).verdict is Verdict.REPEAT
    gate = ScanGate()
    gate.check("M1", 10.0)
    assert gate.check("M1", 11.5).verdict is Verdict.ACCEPT  # exactly 1.5 s later


def test_the_window_runs_from_the_previous_read_not_the_accepted_one() -> None:
    # A reader that fires again and again while a card lies on it: one scan, until it rests.
    reads = feed(ScanGate(), [("M1", 0.0), ("M1", 1.0), ("M1", 2.0), ("M1", 3.0), ("M1", 4.5)])
    assert verdicts(reads) == [
        Verdict.ACCEPT,
        Verdict.REPEAT,
        Verdict.REPEAT,
        Verdict.REPEAT,
        Verdict.ACCEPT,
    ]


def test_other_codes_in_between_do_not_hide_a_double_fire() -> None:
    reads = feed(ScanGate(), [("M1", 0.0), ("KEY-3", 0.1), ("M1", 0.2), ("KEY-3", 0.3)])
    assert verdicts(reads) == [Verdict.ACCEPT, Verdict.ACCEPT, Verdict.REPEAT, Verdict.REPEAT]


def test_gates_are_independent() -> None:
    first, second = ScanGate(), ScanGate()
    assert first.check("M1", 0.0).verdict is Verdict.ACCEPT
    assert second.check("M1", 0.1).verdict is Verdict.ACCEPT


# ---- floods ------------------------------------------------------------------------------------


def test_a_burst_is_throttled_and_reported_once_when_it_ends() -> None:
    gate = ScanGate()
    burst = feed(gate, [(f"C{i}", i * 0.05) for i in range(15)])  # 15 codes in 0.7 s
    assert verdicts(burst) == [Verdict.ACCEPT] * 10 + [Verdict.THROTTLED] * 5
    assert [r.gated.flood_began for r in burst] == [False] * 10 + [True] + [False] * 4
    assert all(r.gated.flood_ended == 0 for r in burst)
    # At 1.0 the window has room for a code again, but it still saw 14 reads: still a flood.
    assert gate.check("M9", 1.0) == Gated(Verdict.ACCEPT)
    # Once a window holds no more than 10 reads, the flood is over and reported, once.
    after = gate.check("M7", 1.75)
    assert after == Gated(Verdict.ACCEPT, flood_ended=5)
    assert gate.check("M8", 1.8) == Gated(Verdict.ACCEPT)


def test_a_read_just_inside_the_window_is_still_throttled() -> None:
    gate = ScanGate()
    feed(gate, [(f"C{i}", 0.0) for i in range(10)])
    assert gate.check("X", 1.0 - TICK) == Gated(Verdict.THROTTLED, flood_began=True)
    assert gate.check("Y", 1.0) == Gated(Verdict.ACCEPT, flood_ended=1)


def test_a_repeat_during_a_flood_is_a_repeat_not_a_dropped_code() -> None:
    gate = ScanGate()
    feed(gate, [(f"C{i}", 0.0) for i in range(10)])
    assert gate.check("C3", 0.5).verdict is Verdict.REPEAT
    assert gate.check("Z", 0.6) == Gated(Verdict.THROTTLED, flood_began=True)
    assert gate.check("W", 1.2) == Gated(Verdict.ACCEPT, flood_ended=1)


def test_ten_a_second_is_not_a_flood() -> None:
    gate = ScanGate()
    # A code every 103/1024 s (just over 0.1 s): as fast as the limit allows, for 5 s.
    reads = feed(gate, [(f"C{i}", i * 103 * TICK) for i in range(50)])
    assert verdicts(reads) == [Verdict.ACCEPT] * 50
    assert not any(r.gated.flood_began for r in reads)


def test_a_smaller_limit_is_honoured() -> None:
    gate = ScanGate(flood_limit=2, flood_window=0.5)
    reads = feed(gate, [("A", 0.0), ("B", 0.1), ("C", 0.2), ("D", 0.5), ("E", 0.6), ("F", 1.2)])
    assert verdicts(reads) == [
        Verdict.ACCEPT,
        Verdict.ACCEPT,
        Verdict.THROTTLED,
        Verdict.ACCEPT,
        Verdict.ACCEPT,
        Verdict.ACCEPT,
    ]
    # D and E still share a half-second window with two other reads; F is alone in its own.
    assert [r.gated.flood_ended for r in reads[3:]] == [0, 0, 1]


# ---- memory ------------------------------------------------------------------------------------


def test_memory_of_codes_stays_small_over_a_long_day() -> None:
    gate = ScanGate()
    for i in range(5000):  # a new code every 2 s: none of them needs remembering for long
        assert gate.check(f"M{i}", i * 2.0).verdict is Verdict.ACCEPT
        assert len(gate._last) <= 4 * gate.flood_limit + 1
    assert len(gate._recent) <= gate.flood_limit


def test_memory_during_a_flood_of_distinct_codes_is_the_last_repeat_window() -> None:
    gate = ScanGate()
    for i in range(3000):  # 100 new codes a second for 30 s
        gate.check(f"X{i}", i / 100)
        assert len(gate._recent) <= gate.flood_limit
    # Only codes read within the last 1.5 s (150 of them) are still remembered.
    assert len(gate._last) <= 151
    assert "X0" not in gate._last and "X2999" in gate._last


# ---- any sequence of reads ---------------------------------------------------------------------

# Few codes, so that double-fires are common, and many, so that memory is tested.
codes = st.sampled_from(["A", "B", "C", "D", "KEY-1"]) | st.integers(0, 999).map(lambda n: f"X{n}")
# Exactly the half window, the window and the repeat window, in 1/1024 s units.
EDGES = [512, 1024, 1536]


@st.composite
def timelines(draw: st.DrawFn) -> list[tuple[str, int]]:
    """Codes with the gap before each, in 1/1024 s; bursts fast enough to flood, and lulls."""
    steps: list[tuple[str, int]] = []
    for _ in range(draw(st.integers(1, 6))):
        fastest = draw(st.sampled_from([0, 20, 60, 100, 200, 2048]))  # the burst's pace
        pause = draw(st.integers(0, 2048) | st.sampled_from(EDGES))
        size = draw(st.integers(1, 40))  # drawn first: a plain list would mostly be short
        read = st.tuples(codes, st.integers(0, fastest))
        burst = [draw(read) for _ in range(size)]
        steps.append((burst[0][0], pause))
        steps.extend(burst[1:])
    return steps


@settings(max_examples=300, deadline=None)
@given(timelines(), st.integers(0, 10**6))
def test_any_sequence_of_reads(steps: list[tuple[str, int]], start: int) -> None:
    gate = ScanGate()
    units = start
    timeline: list[tuple[str, float]] = []
    for code, gap in steps:
        units += gap
        timeline.append((code, units * TICK))

    accepted: list[float] = []
    offered: list[float] = []
    last_read: dict[str, float] = {}
    dropped_in_flood = 0
    throttled_total = 0
    reported = 0
    for code, mono in timeline:
        r = Read(code, mono, gate.check(code, mono))
        # Every read gets exactly one verdict.
        assert isinstance(r.gated, Gated) and isinstance(r.gated.verdict, Verdict)
        previous = last_read.get(r.code)
        recent_repeat = previous is not None and r.mono - previous < REPEAT_WINDOW_S
        in_window = [a for a in accepted if r.mono - a < FLOOD_WINDOW_S]
        g = r.gated
        if recent_repeat:
            # A double-fire is always a repeat; a repeat is only ever a double-fire.
            assert g == Gated(Verdict.REPEAT), (r, previous)
        else:
            assert g.verdict is not Verdict.REPEAT, (r, previous)
            offered.append(r.mono)
            # Throttled only when 10 reads were already let through within the last second.
            if len(in_window) >= FLOOD_LIMIT:
                assert g.verdict is Verdict.THROTTLED, (r, in_window)
            else:
                assert g.verdict is Verdict.ACCEPT, (r, in_window)
        if g.verdict is Verdict.THROTTLED:
            throttled_total += 1
            dropped_in_flood += 1
            # "Flood began" once: on the first dropped read since the last flood ended.
            assert g.flood_began == (dropped_in_flood == 1)
            assert g.flood_ended == 0
        elif g.verdict is Verdict.ACCEPT:
            # A code let through is never one read less than 1.5 s before.
            assert previous is None or r.mono - previous >= REPEAT_WINDOW_S
            # A flood ends on the first accepted read whose window holds no more than 10 reads
            # (dropped ones too), and that read reports what the flood dropped.
            window = [o for o in offered if r.mono - o < FLOOD_WINDOW_S]
            if dropped_in_flood and len(window) <= FLOOD_LIMIT:
                assert g.flood_ended == dropped_in_flood, (r, window)
                reported += g.flood_ended
                dropped_in_flood = 0
            else:
                assert g.flood_ended == 0, (r, window)
            assert not g.flood_began
            accepted.append(r.mono)
            # Never more than 10 reads let through in any one-second window.
            assert len([a for a in accepted if r.mono - a < FLOOD_WINDOW_S]) <= FLOOD_LIMIT
        last_read[r.code] = r.mono
        # Memory: at most 40 codes, or those read within the repeat window, and 10 times.
        live = {c for c, t in last_read.items() if r.mono - t < REPEAT_WINDOW_S}
        assert len(gate._last) <= max(4 * FLOOD_LIMIT, len(live))
        assert len(gate._recent) <= FLOOD_LIMIT

    # Dropped codes are all accounted for once the floods have ended.
    assert reported + dropped_in_flood == throttled_total
    end = units * TICK + FLOOD_WINDOW_S
    quiet = gate.check("a code never read before", end)
    assert quiet.verdict is Verdict.ACCEPT
    assert reported + quiet.flood_ended == throttled_total

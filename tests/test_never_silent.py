"""Never silent: through real JACK ports into the real `jamd run` (clock = "auto", the default),
whatever came before, a player who plays an ordinary phrase and pauses gets an answer.

Each case sends what comes before (clock faults, a garbage flood) and maybe pulses all along,
plays a 12-note phrase and listens for jamd's answer for 8 beats. jamd's internal tempo is
120 bpm (a 2 s bar); a case whose pulses keep coming is answered at their tempo.

The flood is what a confused controller and a sloppy sequencer on one cable send: notes on
every channel at any velocity, controllers (other than jamd's own knobs, 21-29), short sysex,
a stray clock pulse now and then, Start/Stop/Continue, active sensing, pitch bend. It ends as a
panicking player would: all notes off on every channel, then a MIDI Start with no clock after it.
Its stray pulses once measured 52 bpm, the tempo jamd fell back to: it never answered.
"""

from __future__ import annotations

import random
import re
import signal
import time

import pytest

pytest.importorskip("rtmidi")
from test_jack_e2e import CHANNEL, Jamd, Player  # noqa: E402  (real JACK helpers, one copy)

pytestmark = pytest.mark.jack

CLOCK, START, CONTINUE, STOP = [0xF8], [0xFA], [0xFB], [0xFC]
JAMD_KNOBS = range(21, 30)
PHRASE = (60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72)
NOTE_SECONDS = 0.5  # the phrase: a note every quarter at 120 bpm


def pulses(start: float, seconds: float, bpm: float = 120.0) -> list[tuple[float, list[int]]]:
    """Clock pulses (24 a quarter note at ``bpm``) from ``start`` for ``seconds``."""
    every = 60.0 / (bpm * 24)
    return [(start + i * every, CLOCK) for i in range(int(seconds / every))]


def flood(rng: random.Random, count: int) -> list[list[int]]:
    """``count`` random messages, each a list of bytes as a JACK event carries them.

    Clock pulses are a sparse few among them, at random times: a stray clock, not a tempo.
    """
    out = []
    for _ in range(count):
        kind = rng.random()
        channel = rng.randrange(16)
        if kind < 0.45:
            out.append([rng.choice((0x80, 0x90)) | channel, rng.randrange(128), rng.randrange(128)])
        elif kind < 0.65:
            control = rng.choice([c for c in range(120) if c not in JAMD_KNOBS])
            out.append([0xB0 | channel, control, rng.randrange(128)])
        elif kind < 0.7:
            out.append([0xF0, *(rng.randrange(128) for _ in range(rng.randrange(8))), 0xF7])
        elif kind < 0.72:
            out.append([0xF8])
        elif kind < 0.75:
            out.append([rng.choice((0xFA, 0xFB, 0xFC))])
        elif kind < 0.85:
            out.append([0xFE])
        else:
            out.append([0xE0 | channel, rng.randrange(128), rng.randrange(128)])
    return out


def flooded(seed: int, count: int) -> list[tuple[float, list[int]]]:
    """``count`` flood messages, 50 at a time every 70 ms (10,000 in 14 s), then all notes off on
    every channel and a Start with no clock after it."""
    events = [(i // 50 * 0.07, message) for i, message in enumerate(flood(random.Random(seed), count))]
    end = events[-1][0]
    return events + [(end, [0xB0 | channel, 123, 0]) for channel in range(16)] + [(end, START)]


def phrase(start: float) -> list[tuple[float, list[int]]]:
    events = []
    for i, note in enumerate(PHRASE):
        events.append((start + NOTE_SECONDS * i, [0x90, note, 90]))
        events.append((start + NOTE_SECONDS * i + 0.4, [0x80, note, 0]))
    return events


def play(player: Player, events: list[tuple[float, list[int]]]) -> float:
    """Send (seconds from now, bytes) at their times; return when the last one went (monotonic)."""
    began = time.monotonic()
    for t, data in sorted(events, key=lambda e: e[0]):
        time.sleep(max(0.0, began + t - time.monotonic()))
        player.out.send_message(data)
    return began


PHRASE_AT = 3.0  # seconds after the case begins, or after the flood
PHRASE_SECONDS = NOTE_SECONDS * (len(PHRASE) - 1) + 0.4
FLOOD = flooded(seed=1, count=10_000)

CASES = {
    # name: (the clock messages around the phrase, seconds from the start of the case; the clock
    # jamd's grid ends on)
    "clock lost while running": ([(0.0, START)] + pulses(0.01, PHRASE_AT + 2.0), "internal clock"),
    "clock lost right after start": ([(0.0, START), *pulses(0.01, 0.05)], "internal clock"),
    "start with no clock after it": ([(0.0, START)], "internal clock"),
    "stop then notes with no start": ([(0.0, START)] + pulses(0.01, 2.0) + [(2.0, STOP)], "internal clock"),
    "a burst of pulses": ([(0.0, START)] + pulses(0.01, 1.0) + [(1.0, CLOCK)] * 96 + pulses(1.05, 15.0),
                          "MIDI clock"),
    "pulses at twice the rate (a 48 ppqn sender)": ([(0.0, START)] + pulses(0.01, 15.0, bpm=240.0), "MIDI clock"),
    "pulses far too slow": ([(0.0, START)] + [(0.2 + i * 0.4, CLOCK) for i in range(40)], "internal clock"),
    "a keyboard that sends clock all the time": (pulses(0.0, 16.0, bpm=120.0), "MIDI clock"),
    "a keyboard that sends no clock": ([], "internal clock"),
    "a garbage flood ending in start with no clock": (FLOOD, "internal clock"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_jamd_answers_a_phrase_whatever_came_before(jack_server, folk_model_path, case):
    jamd = Jamd(folk_model_path, "--virtual")
    player = Player(jamd)
    try:
        events, clock = CASES[case]
        phrase_at = PHRASE_AT + (FLOOD[-1][0] if events is FLOOD else 0.0)
        began = play(player, events + phrase(phrase_at))
        end = began + phrase_at + PHRASE_SECONDS
        # The answer comes after a bar of silence: 2 s at 120 bpm; 8 beats are plenty.
        time.sleep(max(0.0, end + 4.0 - time.monotonic()))
        answer = [m for _, m in player.note_ons(end)]
        assert jamd.stop() == 0, jamd.log()
        time.sleep(0.1)
    finally:
        player.close()
        jamd.stop(signal.SIGKILL)
    stats = [line for line in jamd.lines if " stats: " in line]
    print(f"\n{case}: {len(answer)} notes after the phrase; {stats[-1][-400:] if stats else jamd.log()[-600:]}")
    assert answer, f"{case}: jamd stayed silent after the phrase:\n" + jamd.log()[-2000:]
    # Stray pulses are no tempo: a grid back on the internal clock runs at jamd's own 120 bpm.
    assert f"({clock}); engine" in stats[-1], f"{case}: the grid should end on the {clock}"
    if clock == "internal clock":
        bpm = float(re.search(r"grid ([\d.]+) bpm", stats[-1]).group(1))
        # The sequencer's tempo as measured through a loaded JACK server, or jamd's own: within 5 %.
        assert abs(bpm - 120.0) <= 6.0, f"{case}: the grid runs at {bpm} bpm, not jamd's or the sequencer's 120"
    assert {m.channel for m in answer} == {CHANNEL - 1}
    assert not player.sounding(), f"notes left on: {player.sounding()}"
    assert "Traceback" not in jamd.log()

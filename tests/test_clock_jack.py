"""MIDI clock faults through real JACK ports into the real `jamd run` (clock = "auto", the default):
whatever the clock does, a player who plays a phrase and pauses gets an answer.

Each case sends a prelude of clock messages (and maybe pulses all along), plays an ordinary
phrase and listens for jamd's answer. jamd's internal tempo is 120 bpm (a 2 s bar); a case
whose pulses keep coming at a tempo of their own is answered at that tempo.
"""

from __future__ import annotations

import signal
import time

import pytest

pytest.importorskip("rtmidi")
from test_jack_e2e import CHANNEL, Jamd, Player  # noqa: E402  (real JACK helpers, one copy)

pytestmark = pytest.mark.jack

CLOCK, START, CONTINUE, STOP = [0xF8], [0xFA], [0xFB], [0xFC]
PHRASE = (60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72)
NOTE_SECONDS = 0.5  # the phrase: a note every quarter at 120 bpm


def pulses(start: float, seconds: float, bpm: float = 120.0) -> list[tuple[float, list[int]]]:
    """Clock pulses (24 a quarter note at ``bpm``) from ``start`` for ``seconds``."""
    every = 60.0 / (bpm * 24)
    return [(start + i * every, CLOCK) for i in range(int(seconds / every))]


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


PHRASE_AT = 3.0  # seconds after the prelude begins
PHRASE_END = PHRASE_AT + NOTE_SECONDS * (len(PHRASE) - 1) + 0.4

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
}


@pytest.mark.parametrize("case", list(CASES))
def test_jamd_answers_a_phrase_whatever_the_clock_does(jack_server, folk_model_path, case):
    jamd = Jamd(folk_model_path, "--virtual")
    player = Player(jamd)
    try:
        events, clock = CASES[case]
        began = play(player, events + phrase(PHRASE_AT))
        end = began + PHRASE_END
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
    assert f"({clock}); engine" in stats[-1], f"{case}: the grid should end on the {clock}"
    assert {m.channel for m in answer} == {CHANNEL - 1}
    assert not player.sounding(), f"notes left on: {player.sounding()}"
    assert "Traceback" not in jamd.log()

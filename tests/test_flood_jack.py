"""A garbage flood through real JACK ports into the real `jamd run`, then an ordinary phrase:
jamd must answer it as if the flood had never been.

The flood is what a confused controller and a sloppy sequencer on one cable send: notes on
every channel at any velocity, controllers (other than jamd's own knobs, 21-29), short sysex,
clock pulses at random times, Start/Stop/Continue, active sensing, pitch bend. It ends as a
panicking player would: all notes off on every channel, then a MIDI Start with no clock after it.
"""

from __future__ import annotations

import random
import re
import signal
import time

import mido
import pytest

pytest.importorskip("rtmidi")
from test_jack_e2e import CHANNEL, Jamd, Player  # noqa: E402  (real JACK helpers, one copy)

pytestmark = pytest.mark.jack

JAMD_KNOBS = range(21, 30)


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


def phrase(start: float = 0.0) -> list[tuple[float, mido.Message]]:
    """An ordinary 12-note phrase on channel 1, a quarter note apart at 120 bpm."""
    notes = (60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72)
    events = []
    for i, note in enumerate(notes):
        events.append((start + 0.5 * i, mido.Message("note_on", note=note, velocity=90)))
        events.append((start + 0.5 * i + 0.4, mido.Message("note_off", note=note)))
    return events


def grid(log: str) -> tuple[float, str]:
    """The grid jamd ended on, from its exit stats: (bpm, "internal clock" or "MIDI clock")."""
    found = re.findall(r"grid ([\d.]+) bpm \(([\w ]+)\)", log)
    assert found, "no grid in jamd's stats:\n" + log[-2000:]
    return float(found[-1][0]), found[-1][1]


def test_after_a_garbage_flood_ending_in_start_without_clock_jamd_answers_a_phrase(jack_server, folk_model_path):
    jamd = Jamd(folk_model_path, "--virtual")  # 120 bpm, clock "auto"
    player = Player(jamd)
    rng = random.Random(1)  # a flood whose stray pulses measure 54 bpm: jamd used to fall back to it
    try:
        for i, message in enumerate(flood(rng, 10_000)):
            player.out.send_message(message)
            if i % 50 == 49:
                time.sleep(0.07)  # 10,000 messages in 14 s; a JACK buffer holds far more than 50
        for channel in range(16):
            player.out.send_message([0xB0 | channel, 123, 0])
        player.out.send_message([0xFA])  # Start, and no clock after it
        time.sleep(3.0)
        assert jamd.proc.poll() is None, jamd.log()
        last = player.play(phrase())
        time.sleep(8 * 0.5)  # 8 beats: jamd answers after a bar (4 beats) of silence
        answer = [m for _, m in player.note_ons(last)]
        assert jamd.stop() == 0, jamd.log()
        time.sleep(0.1)
    finally:
        player.close()
        jamd.stop(signal.SIGKILL)
    log = jamd.log()
    stats = [line for line in jamd.lines if " stats: " in line]
    print(f"\n{len(answer)} notes in the 8 beats after the phrase; {stats[-1] if stats else ''}")
    assert answer, "jamd stayed silent after the flood:\n" + log[-3000:]
    assert grid(log) == (120.0, "internal clock"), "stray pulses are no tempo: jamd keeps its own"
    assert {m.channel for m in answer} == {CHANNEL - 1}
    assert not player.sounding(), f"notes left on: {player.sounding()}"
    assert "Traceback" not in log

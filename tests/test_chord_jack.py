"""`jamd run --mode chords` on real JACK MIDI ports: a Nottingham melody in (test_jack_e2e's 3/4 tune),
voiced chords out."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from test_jack_e2e import CHANNEL, Jamd, Player, tune_events, wait_until

pytestmark = pytest.mark.jack

REPO = Path(__file__).parents[1]
MODEL = REPO / "models" / "nottingham-chords.onnx"
BEAT = 0.5  # 120 bpm, the Nottingham files' (default) tempo


def test_chords_come_out_voiced_on_the_beat_and_stop_when_the_melody_does(jack_server):
    if not MODEL.exists():
        pytest.skip("models/nottingham-chords.onnx not built (make models)")
    jamd = Jamd(MODEL, "--mode", "chords", "--beats-per-bar", "3")
    player = Player(jamd)
    try:
        began = time.monotonic()
        melody_end = player.play(tune_events(10.0))
        ended = wait_until(lambda: not player.sounding(), timeout=10.0)  # however long a loaded box takes
        left_on = player.sounding()
        time.sleep(3 * BEAT)  # a bar more: no chord may begin again without a melody
        assert jamd.stop(signal.SIGTERM) == 0, jamd.log()
    finally:
        player.close()
    ons = [(t, m) for t, m in player.note_ons(began) if m.channel == CHANNEL - 1]
    groups: list[tuple[float, list[int]]] = []
    for t, m in ons:
        if groups and t - groups[-1][0] < 0.02:  # one chord: its notes leave within one JACK period or two
            groups[-1][1].append(m.note)
        else:
            groups.append((t, [m.note]))
    assert len(groups) >= 2, f"no chord change in 10 s of melody:\n{jamd.log()}"
    first = groups[0][0]
    off_beat = max(abs((t - first) / BEAT - round((t - first) / BEAT)) * BEAT for t, _ in groups)
    print(f"\n{len(groups)} chords; worst distance of a chord change from the beat grid {off_beat * 1e3:.1f} ms")
    for _, notes in groups:
        assert len(notes) >= 3 and 36 <= min(notes) <= 47, f"not a voiced chord: {notes}"
    assert off_beat < BEAT / 4 / 3, "chord changes should land on the beat (within a third of a step)"
    assert ended, f"chords still sounding 10 s after the melody stopped: {left_on}"
    # The bar of silence (3 beats) is counted on jamd's grid: the chord ends on the beat after it.
    offs = [t for t, m in player.received if m.channel == CHANNEL - 1 and t > melody_end
            and (m.type == "note_off" or (m.type == "note_on" and not m.velocity))]
    silence_beats = (max(offs) - melody_end) / BEAT
    print(f"the chord ended {silence_beats:.2f} beats after the melody")
    assert 3 - 1 <= silence_beats <= 3 + 1.5, "the chord should end on the beat after a bar of silence"
    assert not [t for t, m in ons if t > max(offs)], "a chord began after the melody had stopped"
    assert "Traceback" not in jamd.log()

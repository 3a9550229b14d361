"""The daemon knows where bar 1 is: MIDI Start and Song Position Pointer, the count-off, the
internal clock; and feeds every token with the bar position of the step after it. Sidecar v2
names the inputs; a v1 model (no position input) still loads and plays."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mido
import numpy as np
import pytest

from jamd.daemon.config import Config
from jamd.daemon.engine import Engine
from jamd.daemon.errors import JamdError
from jamd.daemon.model import load_model
from jamd.daemon.offline import simulate
from jamd.daemon.sidecar import load_sidecar

V1_CHORDS = Path(__file__).parent / "fixtures" / "v1" / "nottingham-chords.onnx"
PULSE = 60.0 / 120 / 24  # seconds between MIDI clock pulses at 120 bpm


def spy_positions(engine) -> list[tuple[float, int, int]]:
    """Record (time, bar_step, bar_steps) of every token fed to the engine's real model from now on."""
    fed, now = [], [0.0]
    feed, tick, handle = engine.model.feed, engine.tick, engine.handle

    def recording(token, bar_step=0, bar_steps=0):
        fed.append((now[0], bar_step, bar_steps))
        feed(token, bar_step, bar_steps)

    def timed(method):
        def call(*args, **kwargs):
            now[0] = args[-1] if method is tick else args[1]
            return method(*args, **kwargs)
        return call

    engine.model.feed, engine.tick, engine.handle = recording, timed(tick), timed(handle)
    return fed


def downbeats_fed_before(fed, clicks, step_seconds):
    """For each accented click (a bar line), whether a token was fed with bar_step 0 within the step
    before it: the model is told of each downbeat as the step before it closes."""
    zero = [t for t, s, _ in fed if s == 0]
    return [any(0 <= click - t <= step_seconds + 1e-6 for t in zero) for click in clicks]


def clocked(messages_at: list[tuple[float, mido.Message]], seconds: float, start: float = 0.1):
    """Start at ``start`` then clock pulses at 120 bpm through ``seconds``, merged with ``messages_at``."""
    events = [(start, mido.Message("start"))]
    events += [(start + 0.001 + i * PULSE, mido.Message("clock")) for i in range(int((seconds - start) / PULSE))]
    return sorted(events + messages_at, key=lambda e: e[0])


@pytest.mark.parametrize("beats_per_bar", [3, 4])
def test_after_midi_start_each_token_comes_with_its_place_in_the_bar(folk_model, beats_per_bar):
    engine = Engine(Config(clock="midi", beats_per_bar=beats_per_bar, tempo=120, metronome=True), folk_model,
                    np.random.default_rng(1))
    fed = spy_positions(engine)
    out = simulate(engine, clocked([], 8.0, start=0.1), 8.0)
    bar = 4 * beats_per_bar
    clicks = [t for t, m in out if m.type == "note_on" and m.velocity == 110]
    # The first pulse after Start (0.101 s) is bar 1; bars follow every beats_per_bar beats at 120 bpm.
    expected = 0.101 + np.arange(len(clicks)) * 0.5 * beats_per_bar
    assert len(clicks) >= 3 and np.allclose(clicks, expected, atol=PULSE), clicks
    assert all(downbeats_fed_before(fed, clicks, 0.125)), "each bar's downbeat is fed as bar_step 0"
    steps = [s for _, s, n in fed if n == bar]
    assert len(steps) >= len(fed) - 2 and all((b - a) % bar == 1 for a, b in zip(steps[1:], steps[2:]))


def test_song_position_pointer_resumes_in_the_middle_of_a_bar(folk_model):
    """Stop, locate to bar 3 beat 2 (SPP 36 sixteenths in 4/4), Continue: the next step is bar_step 4."""
    engine = Engine(Config(clock="midi", beats_per_bar=4, tempo=120), folk_model, np.random.default_rng(1))
    fed = spy_positions(engine)
    before = clocked([], 2.0)
    out = simulate(engine, before, 2.0, silence=False)
    assert out is not None
    fed.clear()
    t = 2.05
    locate = [(t, mido.Message("stop")), (t + 0.01, mido.Message("songpos", pos=36)),
              (t + 0.02, mido.Message("continue"))]
    locate += [(t + 0.03 + i * PULSE, mido.Message("clock")) for i in range(24 * 4)]
    for when, msg in locate:
        while (due := engine.next_tick_time()) <= when:
            engine.tick(due)
        engine.handle(msg, when)
    positions = [s for _, s, _ in fed]
    # The first pulse after Continue begins the step at sixteenth 36 = bar 3, beat 2 (bar_step 4),
    # so that step's token is fed with the next step's place, 5, and the bar goes on from there.
    i = positions.index(5)
    assert positions[i: i + 12] == [5 + j for j in range(11)] + [0], positions[:14]


def test_count_off_sets_bar_one_on_the_internal_clock(folk_model):
    engine = Engine(Config(count_off=True, metronome=True, beats_per_bar=3, tempo=120), folk_model,
                    np.random.default_rng(1))
    fed = spy_positions(engine)
    out = simulate(engine, [], 6.0)
    clicks = [t for t, m in out if m.type == "note_on" and m.velocity == 110]  # accented: bar lines
    assert len(clicks) >= 3 and np.allclose(np.diff(clicks), 1.5), "a 3/4 bar at 120 bpm is 1.5 s"
    assert all(downbeats_fed_before(fed, clicks[1:], 0.125)), "the model hears the count-off's bars"
    assert {n for _, _, n in fed} == {12}


def test_a_version_1_model_without_position_input_still_loads_and_plays_chords():
    side = load_sidecar(V1_CHORDS.with_suffix(".json"))
    assert json.loads(V1_CHORDS.with_suffix(".json").read_text())["format"] == "jamd-model/1"
    assert side.fills == ("token",)
    model = load_model(V1_CHORDS)
    assert not model.hears_position
    engine = Engine(Config(mode="chords", tempo=120, beats_per_bar=4), model, np.random.default_rng(1))
    melody = []
    for i, pitch in enumerate([67, 71, 74, 71, 72, 76, 79, 76] * 2):
        melody += [(i * 0.5, mido.Message("note_on", note=pitch, velocity=80)),
                   (i * 0.5 + 0.45, mido.Message("note_off", note=pitch))]
    out = simulate(engine, melody, 9.0)
    assert sum(1 for _, m in out if m.type == "note_on" and m.velocity > 0 and m.channel == 1) >= 3


def test_sidecar_inputs_that_jamd_cannot_fill_are_one_clear_error(tmp_path):
    for change, expected in (
        (lambda d: d["inputs"].append({"name": "tempo", "dtype": "int32", "fill": "tempo"}), "fill 'tempo'"),
        (lambda d: d.update(inputs=[{"name": "bar_step", "fill": "bar_step"}]), "exactly one input filled with 'token'"),
        (lambda d: d["inputs"][1].update(range=[5, 2]), "range"),
        (lambda d: d.pop("inputs"), "lacks 'inputs'"),
    ):
        data = json.loads(V1_CHORDS.with_suffix(".json").read_text())
        data["format"] = "jamd-model/2"
        data["inputs"] = [{"name": "token", "dtype": "int32", "fill": "token"},
                          {"name": "bar_step", "dtype": "int32", "fill": "bar_step", "range": [0, 95]}]
        change(data)
        path = tmp_path / "m.json"
        path.write_text(json.dumps(data))
        with pytest.raises(JamdError, match=expected) as error:
            load_sidecar(path)
        assert str(path) in str(error.value)


def test_a_sidecar_naming_an_input_the_graph_lacks_fails_at_load_not_mid_song(tmp_path):
    shutil.copy(V1_CHORDS, tmp_path / "m.onnx")
    data = json.loads(V1_CHORDS.with_suffix(".json").read_text())
    data.update(format="jamd-model/2", inputs=[{"name": "token", "dtype": "int32", "fill": "token"},
                                                {"name": "bar_step", "dtype": "int32", "fill": "bar_step"}])
    (tmp_path / "m.json").write_text(json.dumps(data))
    with pytest.raises(JamdError, match="sidecar names inputs.*bar_step"):
        load_model(tmp_path / "m.onnx")

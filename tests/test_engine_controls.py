"""Live controls and clocks: CC, Program Change, MIDI clock, tap tempo, thru, metronome, hygiene."""

import mido
import pytest

from jamd.daemon.encoding import REST_ID, START_ID
from jamd.daemon.model import load_model
from engine_helpers import BAR, assert_hygienic, make_engine, note_events, note_ons, run, tune
from test_engine import JAMD, spy_tokens
from test_model import _copy_model

CLICK = 9  # metronome channel 10 on the wire


def cc(control, value, channel=0):
    return mido.Message("control_change", channel=channel, control=control, value=value)


def pulses(start, bpm, count):
    """MIDI clock at ``bpm``: 24 pulses per quarter note from ``start`` seconds."""
    return [(start + i * 60.0 / (bpm * 24), mido.Message("clock")) for i in range(count)]


def _switch_model(folk_model_path, tmp_path, monkeypatch):
    _copy_model(folk_model_path, tmp_path, "alpha")
    monkeypatch.setenv("JAMD_MODELS", str(tmp_path))
    from jamd.daemon.model import shipped_models

    return shipped_models().index("alpha"), load_model


def quick_phrase(start, count, gap=0.2):
    """``count`` notes ``gap`` seconds apart from ``start``: enough for duet to hear the key."""
    notes = [(start + i * gap, start + (i + 1) * gap, (62, 66, 69, 74)[i % 4]) for i in range(count)]
    return note_events(notes)


def _clock_events(stop_at=None, phrase=()):
    events = sorted([(0.5, mido.Message("start"))] + pulses(0.51, 140, 24 * 8) + list(phrase), key=lambda e: e[0])
    if stop_at is not None:
        events.append((stop_at, mido.Message("stop")))
        events.sort(key=lambda e: e[0])
    return events


@pytest.mark.parametrize("path", ["answer end", "barge-in", "mode switch", "model switch", "mute", "panic",
                                  "stop", "silence"])
def test_every_note_on_gets_its_note_off(path, folk_model, folk_model_path, tmp_path, monkeypatch):
    phrase = tune(until=6.0)
    if path == "answer end":
        out = run(make_engine(folk_model), phrase, until=phrase[-1][0] + 4 * BAR)
        assert note_ons(out, JAMD)
    elif path == "barge-in":
        engine = make_engine(folk_model)
        barge = phrase[-1][0] + BAR + 0.2
        out = run(engine, phrase, until=barge)
        assert engine.out.busy(JAMD)
        out += engine.handle(mido.Message("note_on", note=60, velocity=90), barge)
        assert not engine.out.busy(JAMD)
        out += engine.handle(mido.Message("note_off", note=60), barge + 0.1)
        out += run(engine, [], barge + 5 * BAR)
    elif path == "stop":
        engine = make_engine(folk_model, mode="duet", clock="midi")
        out = run(engine, _clock_events(stop_at=3.0, phrase=quick_phrase(0.6, 12)), until=6.0)
        assert [t for t, _ in note_ons(out, JAMD) if t < 3.0]
        assert not [t for t, _ in note_ons(out, JAMD) if t > 3.0]
    else:
        loader = None
        if path == "model switch":
            program, loader = _switch_model(folk_model_path, tmp_path, monkeypatch)
        engine = make_engine(folk_model, mode="duet", load_model=loader, program_channel=1)
        out = run(engine, quick_phrase(0.0, 14), until=3.0)
        assert note_ons(out, JAMD)
        message = {"mode switch": cc(22, 0), "mute": cc(24, 127), "panic": cc(25, 127)}.get(path)
        if path == "model switch":
            message = mido.Message("program_change", program=program)
        out += engine.handle(message, 3.0) if message else engine.silence(3.0)
        if path == "model switch":
            assert engine.stats["model_switches"] == 1 and engine.model is not folk_model
    assert_hygienic(out)


def test_mute_keeps_listening_and_unmute_plays_again(folk_model):
    engine = make_engine(folk_model, mode="duet")
    out = run(engine, quick_phrase(0.0, 5) + [(1.0, cc(24, 127))] + quick_phrase(1.0, 15), until=4.0)
    assert not [t for t, _ in note_ons(out, JAMD) if t > 1.0]
    out = run(engine, [(4.0, cc(24, 0))] + quick_phrase(4.0, 10), until=6.0)
    assert note_ons(out, JAMD)


def test_midi_clock_following(folk_model):
    engine = make_engine(folk_model, mode="duet", tempo=100.0, metronome=True)
    events = _clock_events(stop_at=None, phrase=quick_phrase(0.6, 16))
    out = run(engine, events, until=events[-1][0])
    pulse_times = [t for t, m in events if m.type == "clock"]
    assert note_ons(out, JAMD)
    clicks = [t for t, _ in note_ons(out, CLICK) if t >= 0.5]
    assert clicks == pytest.approx(pulse_times[: len(clicks) * 24: 24])
    assert len(clicks) >= 7
    step_pulses = pulse_times[:: 24 // folk_model.steps_per_beat]
    assert all(min(abs(t - p) for p in step_pulses) < 1e-9 for t, _ in note_ons(out, JAMD) if t >= 0.5)
    assert engine.clock.tempo == pytest.approx(140.0, rel=0.01)


def test_midi_clock_stop_silences_and_continue_resumes(folk_model):
    engine = make_engine(folk_model, mode="duet", clock="midi")
    out = run(engine, [e for e in _clock_events(stop_at=2.0, phrase=quick_phrase(0.6, 7)) if e[0] <= 2.0], until=2.0)
    assert note_ons(out, JAMD) and not engine.out.sounding(JAMD)
    # The sequencer keeps sending clock while stopped, as many do: jamd stays quiet.
    out = run(engine, sorted(pulses(2.01, 140, 96) + [(4.0, mido.Message("continue"))] + pulses(4.01, 140, 96)
                             + quick_phrase(4.05, 8), key=lambda e: e[0]), until=6.0)
    assert not [t for t, _ in note_ons(out, JAMD) if t < 4.0]
    assert [t for t, _ in note_ons(out, JAMD) if t > 4.0]


def test_midi_clock_mode_waits_for_a_clock(folk_model):
    engine = make_engine(folk_model, mode="duet", clock="midi")
    assert note_ons(run(engine, tune(until=4.0), until=5.0), JAMD) == []


def test_auto_clock_falls_back_to_internal_when_pulses_stop(folk_model):
    engine = make_engine(folk_model, mode="duet", tempo=100.0, metronome=True)
    events = [(0.5, mido.Message("start"))] + pulses(0.51, 140, 24 * 4)
    out = run(engine, events, until=8.0)
    assert not engine.clock.following
    late_clicks = [t for t, _ in note_ons(out, CLICK) if t > events[-1][0] + 2.5]
    assert len(late_clicks) >= 3
    gaps = [b - a for a, b in zip(late_clicks, late_clicks[1:])]
    assert gaps == pytest.approx([60 / 140] * len(gaps), rel=0.02)  # the tempo it was following


def test_tap_tempo(folk_model):
    engine = make_engine(folk_model, tempo=60.0, metronome=True, tap_note=36)
    fed = spy_tokens(folk_model)
    taps = [(1.0 + 0.5 * i, mido.Message("note_on", note=36, velocity=100)) for i in range(4)]
    out = run(engine, taps, until=6.0)
    assert engine.clock.tempo == pytest.approx(120.0)
    clicks = [t for t, _ in note_ons(out, CLICK) if t > 3.0]
    assert [b - a for a, b in zip(clicks, clicks[1:])] == pytest.approx([0.5] * (len(clicks) - 1))
    assert set(fed) == {REST_ID}, "a tap is not a note"
    assert not note_ons(out, 0), "a tap is not echoed"


def test_tap_tempo_by_controller(folk_model):
    engine = make_engine(folk_model, tempo=60.0)
    run(engine, [(1.0 + 0.4 * i, cc(27, 127)) for i in range(3)], until=2.0)
    assert engine.clock.tempo == pytest.approx(150.0)


def test_controllers_set_temperature_mode_answer_length_and_tempo(folk_model):
    engine = make_engine(folk_model)
    values = {}
    for control, value, read in [
        (21, 0, lambda: engine.config.temperature), (21, 127, lambda: engine.config.temperature),
        (22, 64, lambda: engine.config.mode), (22, 127, lambda: engine.config.mode),
        (22, 0, lambda: engine.config.mode), (23, 127, lambda: engine.config.answer_bars),
        (26, 0, lambda: engine.clock.tempo), (26, 127, lambda: engine.clock.tempo),
    ]:
        engine.handle(cc(control, value), 1.0)
        values[(control, value)] = read()
    assert values == {(21, 0): 0.1, (21, 127): 2.0, (22, 64): "next", (22, 127): "duet", (22, 0): "respond",
                      (23, 127): 8.0, (26, 0): 40.0, (26, 127): 200.0}


def test_program_change_switches_model(folk_model, folk_model_path, tmp_path, monkeypatch):
    program, loader = _switch_model(folk_model_path, tmp_path, monkeypatch)
    asked = []
    engine = make_engine(folk_model, load_model=lambda name: asked.append(name) or loader(name), program_channel=1)
    engine.handle(mido.Message("program_change", channel=1, program=program), 0.4)  # another channel: ignored
    assert asked == []
    engine.handle(mido.Message("program_change", program=program), 0.5)
    engine.handle(mido.Message("program_change", program=127), 0.6)  # no such model: ignored
    assert asked == ["alpha"] and engine.model.path == tmp_path / "alpha.onnx"


def test_program_change_is_ignored_unless_a_channel_is_chosen(folk_model, folk_model_path, tmp_path, monkeypatch):
    # A GM file or a keyboard sends Program Change 0 on load: jamd keeps the model it was given.
    program, loader = _switch_model(folk_model_path, tmp_path, monkeypatch)
    engine = make_engine(folk_model, load_model=loader)
    engine.handle(mido.Message("program_change", program=program), 0.5)
    assert engine.model is folk_model and engine.stats["model_switches"] == 0


def test_thru_echoes_player_notes_on_their_channel(folk_model):
    engine = make_engine(folk_model, thru=True)
    phrase = tune(until=3.0, channel=4)
    out = run(engine, phrase, until=3.0)
    echoed = [(t, m.type, m.note) for t, m in out if m.channel == 4]
    assert echoed == [(t, "note_on" if m.type == "note_on" else "note_off", m.note) for t, m in phrase]


def test_input_channel_filter(folk_model):
    engine = make_engine(folk_model, input_channel=1)
    fed = spy_tokens(folk_model)
    out = run(engine, tune(until=6.0, channel=3), until=12.0)
    assert set(fed) <= {REST_ID, START_ID} and not note_ons(out, JAMD)


def test_metronome_clicks_each_beat_with_accent_and_short_note_off(folk_model):
    engine = make_engine(folk_model, metronome=True)
    out = run(engine, [], until=4.2)
    clicks = [(t, m) for t, m in out if m.channel == CLICK]
    ons = [(t, m.velocity) for t, m in clicks if m.type == "note_on"]
    assert [t for t, _ in ons] == pytest.approx([0.5 * i for i in range(1, 9)])
    assert [v for _, v in ons] == [70, 70, 110, 70, 70, 110, 70, 70]  # beat 1 of each 3/4 bar
    offs = [t for t, m in clicks if m.type == "note_off"]
    assert offs == pytest.approx([t + 0.05 for t, _ in ons])


GARBAGE = [
    mido.Message("sysex", data=[1, 2, 3]),
    mido.Message("note_off", channel=5, note=60),
    mido.Message("note_on", channel=0, note=61, velocity=0),
    mido.Message("pitchwheel", pitch=-8192),
    mido.Message("aftertouch", value=3),
    mido.Message("polytouch", note=3, value=4),
    mido.Message("songpos", pos=100),
    mido.Message("song_select", song=3),
    mido.Message("active_sensing"),
    mido.Message("reset"),
    mido.Message("program_change", program=127),
    mido.Message("control_change", control=0, value=0),
    mido.Message("control_change", control=123, value=0),
    mido.Message("stop"), mido.Message("continue"), mido.Message("clock"),
    mido.MetaMessage("set_tempo", tempo=500000),
    "not a message",
    None,
]


@pytest.mark.parametrize("clock", ["internal", "auto", "midi"])
def test_garbage_never_raises(folk_model, clock):
    engine = make_engine(folk_model, clock=clock, mode="duet", thru=True)
    out = []
    for i, msg in enumerate(GARBAGE * 3):
        out += engine.handle(msg, 0.05 * i)
    out += engine.tick(5.0) + engine.silence(5.0)
    assert_hygienic(out)


def test_grid_starts_by_itself_on_a_live_clock(folk_model):
    """A service loop that only ticks when asked: the metronome starts with no input; duet
    waits to hear the player's key, then plays."""
    engine = make_engine(folk_model, mode="duet", metronome=True)
    start = now = 5000.0  # a monotonic clock far from zero
    out = []
    while now < start + 3.0:
        due = engine.next_tick_time()
        now = max(now, due) if due < start + 3.0 else start + 3.0
        out += engine.tick(now)
    clicks = [t - start for t, _ in note_ons(out, CLICK)]
    assert clicks[:4] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    assert not note_ons(out, JAMD), "duet played before it heard the player"
    for when, msg in quick_phrase(now, 8):
        while engine.next_tick_time() <= when:
            out += engine.tick(engine.next_tick_time())
        out += engine.handle(msg, when)
    out += engine.tick(now + 3.0)
    assert note_ons(out, JAMD)

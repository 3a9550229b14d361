"""The engine with a real polyphonic model (models/piano.onnx): what it hears and what it plays."""

from pathlib import Path

import mido
import numpy as np
import pytest

from jamd.daemon import poly_encoding as poly
from jamd.daemon.model import load_model
from jamd.daemon.poly_play import Harmonize, PolyDuet, PolyRespond
from tests.engine_helpers import BAR, assert_hygienic, make_engine, note_events, note_ons, run

REPO = Path(__file__).parents[1]
CHORALE = Path(__file__).parent / "fixtures" / "bwv66.6.musicxml"
JAMD = 1  # channel 2 on the wire (the default); the player plays on channel 1 and is not echoed
BEAT = BAR / 3


@pytest.fixture
def piano():
    path = REPO / "models" / "piano.onnx"
    model = load_model(path)
    assert model.sidecar.step_token == poly.STEP, "models/piano.onnx is not the polyphonic model"
    return model


def chorale_parts():
    """(soprano, all four parts) of the fixture chorale as (start s, end s, pitch) at 3 beats a bar."""
    from music21 import converter

    from jamd.training.readers import score_notes

    score = converter.parse(CHORALE)
    first = min(float(n.offset) for n in score.parts[0].flatten().notes)

    def timed(notes):
        return [((n.start - first) * BEAT, (n.start - first + n.duration) * BEAT - 1e-3, n.pitch) for n in notes]

    return timed(score_notes(score.parts[0])), timed(score_notes(score))


def test_the_model_hears_a_bass_held_under_a_moving_melody(piano):
    engine = make_engine(piano, mode="respond")
    engine.muted = True  # only what the player plays reaches the model
    fed = []
    feed = piano.feed
    piano.feed = lambda token, *pos: (fed.append(piano.vocab.tokens[token]), feed(token, *pos))
    bass = [(0.0, 2 * BAR - 0.01, 43)]
    melody = [(i * BEAT, (i + 1) * BEAT - 0.02, p) for i, p in enumerate([67, 69, 71, 72, 74, 72])]
    run(engine, note_events(bass + melody), until=2 * BAR + BEAT)
    notes = poly.decode(fed)
    held = [n for n in notes if n.pitch == 43]
    assert len(held) == 1 and held[0].duration >= 2 * 3 - 0.25, f"the bass was heard as {held}"
    assert [n.pitch for n in notes if n.pitch != 43] == [67, 69, 71, 72, 74, 72]


def test_harmonize_writes_three_voices_under_the_melody_and_leaves_nothing_sounding(piano):
    soprano, _ = chorale_parts()
    soprano = [n for n in soprano if n[0] < 8 * BAR]
    engine = make_engine(piano, mode="harmonize")
    out = run(engine, note_events(soprano), until=soprano[-1][1] + 2 * BAR, silence=True)
    assert_hygienic(out)
    sounding = [(pitch, {n for _, n in _sounding(out, start + 0.05)}) for start, _, pitch in soprano]
    full = [v for p, v in sounding if len(v) == 3 and max(v) < p]
    assert len(full) >= 0.9 * len(sounding), f"only {len(full)} of {len(sounding)} melody notes had 3 voices under them"


def _sounding(out, at):
    """(onset time, pitch) of jamd's notes sounding at ``at``."""
    on = {}
    for t, m in out:
        if t > at:
            break
        if m.type == "note_on" and m.velocity > 0 and m.channel == JAMD:
            on[m.note] = t
        elif m.type in ("note_on", "note_off") and m.channel == JAMD:
            on.pop(m.note, None)
    return [(t, n) for n, t in on.items()]


def test_answers_come_in_on_a_beat_with_chords_and_notes_that_last_on_their_own(piano):
    _, parts = chorale_parts()
    opening = [(s, min(e, 4 * BAR - 0.02), p) for s, e, p in parts if s < 4 * BAR - 0.01]
    answers = []
    for seed in (1, 2, 3):
        engine = make_engine(piano, seed=seed, mode="respond", answer_bars=2)
        out = run(engine, note_events(opening), until=9 * BAR, silence=True)
        assert_hygienic(out)
        ons = [t for t, _ in note_ons(out, JAMD) if t >= 4 * BAR]
        assert ons, f"seed {seed}: no answer"
        first = min(ons)
        assert abs(first / BEAT - round(first / BEAT)) < 1e-6, f"seed {seed}: the answer came in at {first:.3f} s"
        answers.append(_notes(out, first))
    notes = [n for answer in answers for n in answer]
    starts = [a for a, _, _ in notes]
    assert any(starts.count(t) >= 2 for t in starts), "no chord: every onset was a single note"
    # A keyboard answer, not a line of notes each cut by the next: a note sounds on while another starts.
    assert any(a[0] < b[0] < a[1] for answer in answers for a in answer for b in answer), "no note held under another"


def _notes(out, since):
    began, notes = {}, []
    for t, m in out:
        if m.type == "note_on" and m.velocity > 0 and m.channel == JAMD and t >= since:
            began[m.note] = t
        elif m.type in ("note_on", "note_off") and m.channel == JAMD and m.note in began:
            notes.append((began.pop(m.note), t, m.note))
    return notes


def test_a_player_note_stops_a_polyphonic_answer_at_once(piano):
    _, parts = chorale_parts()
    opening = [(s, min(e, 4 * BAR - 0.02), p) for s, e, p in parts if s < 4 * BAR - 0.01]
    engine = make_engine(piano, seed=1, mode="respond", answer_bars=2)
    out = run(engine, note_events(opening), until=6 * BAR)
    first = min(t for t, m in note_ons(out, JAMD) if t >= 4 * BAR)
    barge = first + BEAT + 0.01
    out += run(engine, [], until=barge - 0.001)
    sounding_before = {n for _, n in engine.out.sounding(JAMD)}
    reply = engine.handle(mido.Message("note_on", channel=0, note=60, velocity=80), barge)
    ended = {m.note for t, m in reply if m.type == "note_off" and t == barge}
    assert sounding_before and ended >= sounding_before, "jamd kept playing over the player"
    later = run(engine, [], until=barge + BAR)
    assert not note_ons(later, JAMD), "the answer went on after the player came in"


def test_the_mode_controller_picks_among_the_poly_models_own_modes(piano):
    engine = make_engine(piano, mode="respond")
    engine.tick(0.0)
    for value, mode in ((127, "harmonize"), (64, "duet"), (0, "respond")):
        engine.handle(mido.Message("control_change", channel=0, control=engine.config.cc_mode, value=value), 0.01)
        assert engine.config.mode == mode, f"CC {value} gave {engine.config.mode}"
        assert isinstance(engine.mode, {"harmonize": Harmonize, "duet": PolyDuet, "respond": PolyRespond}[mode])


def test_a_melody_note_struck_late_in_its_step_gets_its_voices_as_it_comes(piano):
    # 40 ms after each grid step: later than harmonize's 30 ms wait, inside the step's window.
    melody = [(i * BEAT + 0.04, (i + 1) * BEAT - 0.02, p) for i, p in enumerate([67, 69, 71, 72, 71, 69, 67, 67])]
    engine = make_engine(piano, mode="harmonize")
    out = run(engine, note_events(melody), until=len(melody) * BEAT + BAR, silence=True)
    assert_hygienic(out)
    for start, _, pitch in melody:
        voices = {n for _, n in _sounding(out, start + 0.005)}
        assert len(voices) == 3 and max(voices) < pitch, f"{pitch} at {start:.3f} s: voices {sorted(voices)}"


@pytest.mark.parametrize("mode", ["respond", "harmonize"])
def test_range_keeps_every_note_jamd_strikes_inside_it(piano, mode):
    _, parts = chorale_parts()
    opening = [(s, min(e, 4 * BAR - 0.02), p) for s, e, p in parts if s < 4 * BAR - 0.01]
    soprano, _ = chorale_parts()
    played = opening if mode == "respond" else [n for n in soprano if n[0] < 4 * BAR]
    engine = make_engine(piano, seed=1, mode=mode, answer_bars=2, range="55-72")
    out = run(engine, note_events(played), until=8 * BAR, silence=True)
    assert_hygienic(out)
    struck = [m.note for _, m in note_ons(out, JAMD)]
    assert struck, f"{mode}: jamd played nothing inside 55-72"
    assert all(55 <= n <= 72 for n in struck), f"{mode}: notes outside --range 55-72: {sorted(set(struck))}"

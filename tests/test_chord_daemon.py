"""The shipped chord accompanist (models/nottingham-chords) in the daemon: real ONNX, real held-out tunes."""

import dataclasses
from pathlib import Path

import mido
import numpy as np
import pytest

from jamd.daemon import chords
from jamd.daemon.config import Config
from jamd.daemon.errors import JamdError
from jamd.daemon.model import load_model
from jamd.daemon.offline import play_file
from engine_helpers import assert_hygienic, make_engine, note_events, run
from jamd.training.chord_data import read_pair
from jamd.training.chord_eval import evaluate, step_predict

REPO = Path(__file__).parents[1]
MODEL = REPO / "models" / "nottingham-chords.onnx"
NOTTINGHAM = Path(__file__).parent / "fixtures" / "nottingham"
REEL, JIG = "reelsh-l6", "jigs220"  # 4/4 and 6/8, in the v2 model's validation_songs: never trained on
HELD_OUT = (REEL, JIG)
TEMPO = 120.0  # the Nottingham files carry no tempo: MIDI's default, 120 quarter notes a minute
BEAT = 60.0 / TEMPO


@pytest.fixture(scope="module")
def chord_model_path() -> Path:
    if not MODEL.exists():
        pytest.skip("models/nottingham-chords.onnx not built (make models)")
    return MODEL


@pytest.fixture
def chord_model(chord_model_path):
    return load_model(chord_model_path)


def pair(name: str):
    return read_pair(NOTTINGHAM / "melody" / f"{name}.mid", NOTTINGHAM / "chords" / f"{name}.mid")


def melody_notes(name: str) -> list[tuple[float, float, int]]:
    """(start s, end s, pitch) of a fixture melody at 120 bpm."""
    notes, sounding, now = [], {}, 0.0
    for msg in mido.MidiFile(NOTTINGHAM / "melody" / f"{name}.mid"):
        now += msg.time
        if msg.type == "note_on" and msg.velocity > 0:
            sounding[msg.note] = now
        elif msg.type in ("note_on", "note_off") and msg.note in sounding:
            notes.append((sounding.pop(msg.note), now, msg.note))
    return notes


def chords_played(out, channel: int) -> list[tuple[float, tuple[int, ...]]]:
    """(time s, pitches) of each chord jamd struck: note-ons grouped by time."""
    groups: dict[float, list[int]] = {}
    for when, msg in out:
        if msg.type == "note_on" and msg.velocity > 0 and msg.channel == channel:
            groups.setdefault(round(when, 6), []).append(msg.note)
    return sorted((t, tuple(sorted(p))) for t, p in groups.items())


def test_the_fixture_tunes_were_held_out_of_training(chord_model):
    held = set(chord_model.sidecar.training["validation_songs"])
    assert set(HELD_OUT) <= held
    assert chord_model.sidecar.kind == "chords" and len(chord_model.sidecar.outputs) == 61


def per_beat(played: list[tuple[float, tuple[int, ...]]], beats: int) -> list[str]:
    """The chord sounding at each beat 0..beats-1 (``N`` before the first), from ``chords_played``."""
    struck = {round(t / BEAT - 0.2): chords.identify(p) for t, p in played}  # on the beat or just after it
    out, now = [], chords.NO_CHORD
    for beat in range(beats):
        now = struck.get(beat, now)
        out.append(now)
    return out


def test_held_out_melody_gets_voiced_chords_on_the_beats_that_fit_it(chord_model):
    notes = melody_notes(REEL)
    engine = make_engine(chord_model, mode="chords", tempo=TEMPO, beats_per_bar=4)
    out = run(engine, note_events(notes), notes[-1][1] + 4 * BEAT, silence=True)
    assert_hygienic(out)
    played = chords_played(out, engine.channel)
    assert len(played) >= 10, f"only {len(played)} chord changes for a 32-bar reel"
    wait = engine.config.chord_wait  # jamd hears the note struck on the beat, then sounds the chord
    for when, pitches in played:
        beats = (when - wait) / BEAT
        assert abs(beats - round(beats)) < 1e-6, f"chord at {when:.3f} s is not {wait} s after a beat"
        assert chords.voicing(chords.identify(pitches)) == pitches, f"{pitches} is not a jamd voicing"
    heard = per_beat(played, round(notes[-1][1] / BEAT))
    fits = total = 0
    for beat, chord in enumerate(heard):
        melody = [p for s, e, p in notes if s <= beat * BEAT + 1e-6 < e]
        if melody and chord != chords.NO_CHORD:
            total += 1
            fits += chords.contains(chord, melody[0])
    print(f"\n{len(played)} chord changes; the melody note is a chord tone on {fits}/{total} beats")
    # A triad holds 3 of 12 pitch classes: chords that ignored the melody would fit about a quarter of beats.
    assert fits >= 0.45 * total


def test_a_transposed_melody_gets_the_same_chords_transposed(chord_model):
    notes = melody_notes(JIG)
    heard = []
    for shift in (0, -2):
        engine = make_engine(chord_model, mode="chords", tempo=TEMPO, beats_per_bar=3)
        moved = [(s, e, p + shift) for s, e, p in notes]
        played = chords_played(run(engine, note_events(moved), notes[-1][1]), engine.channel)
        heard.append(per_beat(played, round(notes[-1][1] / BEAT)))
    agree = sum(chords.transpose(a, -2) == b for a, b in zip(*heard)) / len(heard[0])
    print(f"\nthe chords of the tune a tone lower are the chords a tone lower on {agree:.0%} of beats")
    assert agree >= 0.7


def test_chords_wait_for_the_note_on_the_beat_only_if_asked(chord_model):
    notes = melody_notes(REEL)[:40]
    for wait in (0.0, 0.02):
        engine = make_engine(chord_model, mode="chords", tempo=TEMPO, beats_per_bar=4, chord_wait=wait)
        played = chords_played(run(engine, note_events(notes), notes[-1][1], silence=True), engine.channel)
        assert played and all(abs((t - wait) / BEAT - round((t - wait) / BEAT)) < 1e-6 for t, _ in played)


def test_chords_end_after_a_bar_of_silence(chord_model):
    notes = [n for n in melody_notes(REEL) if n[1] <= 16 * BEAT]
    engine = make_engine(chord_model, mode="chords", tempo=TEMPO, beats_per_bar=4)
    out = run(engine, note_events(notes), notes[-1][1] + 12 * BEAT, silence=False)
    assert_hygienic(out)  # nothing left sounding without a final silence()
    last_off = max(t for t, m in out if m.type in ("note_off", "note_on") and m.channel == engine.channel)
    assert last_off <= notes[-1][1] + 4 * BEAT + BEAT + 1e-6


def test_a_chords_model_refuses_the_melody_modes(chord_model):
    for mode in ("respond", "next", "duet"):
        with pytest.raises(JamdError, match="use --mode chords"):
            make_engine(chord_model, mode=mode)


def test_a_melody_model_refuses_chords_mode(folk_model):
    with pytest.raises(JamdError, match="nottingham-chords"):
        make_engine(folk_model, mode="chords")


def test_jamd_play_writes_the_melody_and_its_chords(chord_model_path, tmp_path):
    out = tmp_path / "reel-with-chords.mid"
    config = Config(model=str(chord_model_path), mode="chords", tempo=TEMPO, beats_per_bar=4, seed=1)
    stats = play_file(NOTTINGHAM / "melody" / f"{REEL}.mid", out, config)
    midi = mido.MidiFile(out)
    names = [t.name for t in midi.tracks]
    assert names == ["player", "jamd"]
    jamd_ons = [m for m in midi.tracks[1] if m.type == "note_on" and m.velocity > 0]
    assert stats["jamd_notes"] == len(jamd_ons) > 30
    assert {m.channel for m in jamd_ons} == {config.channel - 1}
    assert min(m.note for m in jamd_ons) >= chords.BASS_LOW


def shuffled(song, seed: int = 0):
    """``song`` with its melody's pitches shuffled among its onsets: same notes and rhythm, no tune."""
    tokens = list(song.tokens)
    onsets = [i for i, t in enumerate(tokens) if t not in ("start", "rest", "hold")]
    pitches = [tokens[i] for i in onsets]
    np.random.default_rng(seed).shuffle(pitches)
    for i, token in zip(onsets, pitches):
        tokens[i] = token
    return dataclasses.replace(song, tokens=tuple(tokens))


def test_chords_follow_the_tune_not_just_its_notes(chord_model):
    """Step by step through onnxruntime, as the daemon decides, on unseen tunes: real vs shuffled melody."""
    songs = [pair(name) for name in HELD_OUT]
    outputs = chord_model.sidecar.outputs
    real = evaluate(step_predict(chord_model), outputs, [], songs, 4)["model"]
    scrambled = evaluate(step_predict(chord_model), outputs, [], [shuffled(s) for s in songs], 4)["model"]
    print(f"\nheld-out fixtures: chord accuracy {real['accuracy']:.3f} (melody in chord {real['melody_in_chord']:.3f}); "
          f"the same notes shuffled: {scrambled['accuracy']:.3f}")
    assert real["accuracy"] >= scrambled["accuracy"] + 0.1


def test_program_change_to_a_melody_model_keeps_the_chords_playing(chord_model, folk_model_path, tmp_path,
                                                                     monkeypatch):
    import shutil

    from jamd.daemon.model import shipped_models
    from jamd.daemon.sidecar import sidecar_path

    shutil.copy(folk_model_path, tmp_path / "alpha.onnx")
    shutil.copy(sidecar_path(folk_model_path), tmp_path / "alpha.json")
    monkeypatch.setenv("JAMD_MODELS", str(tmp_path))
    engine = make_engine(chord_model, mode="chords", load_model=load_model, program_channel=1)
    engine.handle(mido.Message("program_change", program=shipped_models().index("alpha")), 0.5)
    assert engine.model is chord_model and engine.config.mode == "chords"

"""`jamd-train audition`: musicianship figures, checked by hand on small real cases and end to end."""

import json
from pathlib import Path

import numpy as np
import pytest

from jamd.daemon.config import Config
from jamd.daemon.encoding import Note, Vocabulary
from jamd.daemon.errors import JamdError
from jamd.daemon.model import load_model
from jamd.training import musicianship as mu
from jamd.training.audition import audition
from jamd.training.playalong import detached, measure, played_notes, player_events
from jamd.training.cli import main
from jamd.training.corpus import SongSkipped
from jamd.training.tunes import Tune, metre, pick

FIXTURES = Path(__file__).parent / "fixtures"
JIGS = FIXTURES / "nottingham_jigs_1-3.abc"
C_SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


def quarters(pitches, start=0.0):
    return [Note(start + i, 1.0, p) for i, p in enumerate(pitches)]


# ---- the figures, by hand ----------------------------------------------------------------

def test_c_major_scale_is_in_c_major_and_a_minor_but_not_g_major():
    assert mu.in_key(C_SCALE, "C major").value == 1.0
    assert mu.in_key(C_SCALE, "a minor").value == 1.0  # the relative minor's natural scale
    assert mu.in_key(C_SCALE, "G major").value == 7 / 8  # F natural is out
    assert mu.in_key(C_SCALE, "e minor").value == 7 / 8  # E minor has F sharp
    assert mu.in_key([68], "a minor").value == 1.0  # the leading tone G sharp belongs to a minor
    assert mu.in_key([], "C major").value is None


def test_tonic_triads_of_major_and_minor_keys():
    assert mu.tonic_triad("F major") == {5, 9, 0}
    assert mu.tonic_triad("e minor") == {4, 7, 11}
    assert mu.tonic_triad("B- major") == {10, 2, 5}


def test_twinkle_twinkle_interval_profile():
    # C C G G A A G: unison, fifth up, unison, step up, unison, step down
    steps = mu.intervals([60, 60, 67, 67, 69, 69, 67])
    assert steps == [0, 7, 0, 2, 0, -2]
    assert mu.interval_profile(steps) == {"repeat": 3, "leap": 1, "step": 2}


def test_beats_of_compound_and_simple_metres():
    jig, reel = metre(6, 8), metre(4, 4)
    assert (jig.bar, jig.beat, reel.bar, reel.beat) == (3.0, 1.5, 4.0, 1.0)
    assert [mu.on_beat(p, jig.beat) for p in (0.0, 1.5, 3.0, 1.0, 0.5)] == [True, True, True, False, False]
    assert [mu.on_beat(p, reel.beat) for p in (2.0, 2.5, 3.75)] == [True, False, False]
    assert mu.beats(2.5, 7.0, jig.beat) == [3.0, 4.5, 6.0]  # from a pickup on, the beats of the bars
    assert mu.beats(0.0, 3.0, reel.beat) == [0.0, 1.0, 2.0]
    assert metre(2, 2).bar == 4.0
    with pytest.raises(SongSkipped, match="3/8"):
        metre(3, 8)  # a bar of one and a half quarter notes: the engine counts whole beats


def test_vertical_intervals_dissonance_and_shadowing():
    assert mu.vertical([64], [60]) == (False, False)  # major third
    assert mu.vertical([62], [60]) == (True, True)  # major second, and close
    assert mu.vertical([66], [60]) == (True, False)  # tritone
    assert mu.vertical([59], [60]) == (True, True)  # major seventh below = minor second
    assert mu.vertical([74], [60]) == (True, False)  # a ninth: a second an octave up
    assert mu.vertical([67, 72], [60]) == (False, False)  # fifth and octave
    assert mu.vertical([67], []) is None


def test_sounding_notes_and_top_line():
    notes = [Note(0.0, 1.0, 60), Note(0.0, 2.0, 64), Note(1.0, 1.0, 67)]
    assert mu.sounding(notes, 0.0) == [60, 64]
    assert sorted(mu.sounding(notes, 1.0)) == [64, 67]  # the first C has ended, G starts
    assert [n.pitch for n in mu.melody(notes)] == [64, 67]


def test_in_song_bigram_guesses_what_followed_before():
    # C D C E C: after the 2nd C the bigram says D (C->D seen), after the 3rd it says E (seen as often, later)
    assert mu.bigram_guesses([60, 62, 60, 64, 60]) == [None, None, 62, None, 64]
    # C D C D C D: from the 2nd C on it knows C->D and D->C
    assert mu.bigram_guesses([60, 62, 60, 62, 60, 62]) == [None, None, 62, 60, 62, 60]


def test_chord_changes_skip_beats_without_a_chord():
    chords = ["N", "G", "G", "D", "N", "D", "G"]
    assert mu.chord_changes(chords) == [3, 6]
    assert mu.distinct_chords(chords) == 2
    agree = mu.agreement(["G", "G", "D", "C"], ["G", "C", "D", "N"])
    assert (agree.hits, agree.total) == (2, 3)


def test_engine_messages_round_trip_to_notes():
    notes = [Note(0.0, 1.0, 60), Note(1.0, 0.5, 60), Note(2.0, 1.0, 64)]
    events = [(when, msg.copy(channel=1)) for when, msg in player_events(notes)]
    assert played_notes(events) == notes  # a repeated pitch: its note-off comes before the new note-on
    assert [n.duration for n in detached(notes)] == [0.5, 0.25, 0.5]


# ---- real tunes ------------------------------------------------------------------------------

def test_pickup_is_padded_so_bar_lines_fall_on_whole_bars():
    tunes, skipped = pick([str(JIGS)], None, 3, seed=0)
    by_number = {t.name.split("#")[1]: t for t in tunes}
    assert skipped == {} and set(by_number) == {"1", "2", "3"}
    first, second = by_number["1"], by_number["2"]
    assert first.metre.signature == "6/8" and first.key == "A major"
    # Tune 1 opens with an eighth-note pickup (f|): it sounds in the last eighth of bar 0.
    assert first.notes[0].start == 2.5 and first.first_bar == 3.0
    assert second.notes[0].start == 0.0 and second.first_bar == 0.0  # no pickup
    assert second.key == "G major"


def test_midi_pairs_carry_metre_and_chord_track():
    tunes, _ = pick([str(FIXTURES / "nottingham")], None, 5, seed=0, pairs=True)
    reel = next(t for t in tunes if t.name == "reelsh-l4")
    jig = next(t for t in tunes if t.name == "jigs218")
    assert (reel.metre.signature, jig.metre.signature) == ("4/4", "6/8")
    assert reel.key == "C major" and reel.first_bar == 4.0  # a half-bar pickup, padded by abc2midi
    assert reel.chords[:5] == ("N", "N", "G7", "G7", "C")  # G7 under the pickup, C from bar 1


def test_held_out_names_restrict_the_tunes_and_training_data_is_refused():
    tunes, _ = pick([str(JIGS)], [f"../checkout/tests/fixtures/{JIGS.name}#2"], 3, seed=0)  # named as from another checkout
    assert [t.name.split("#")[1] for t in tunes] == ["2"]
    with pytest.raises(JamdError, match="trained on this data"):
        pick([str(JIGS)], ["../data/other.abc#1"], 3, seed=0, trained_on=[str(FIXTURES)])
    with pytest.raises(JamdError, match="trained on this data"):  # a folder that holds the training data
        pick([str(FIXTURES)], None, 3, seed=0, trained_on=[str(FIXTURES / "nottingham")])


# ---- the engine, with a model whose answer is known ----------------------------------------

@pytest.fixture
def always_g(tmp_path):
    """A real ONNX model that always predicts G4 (67)."""
    from constant_model import constant_logits_model

    vocab = Vocabulary(("start", "rest", "hold", *map(str, C_SCALE)))
    logits = np.full(len(vocab), -40.0)
    logits[vocab.id("67")] = 0.0
    return load_model(constant_logits_model(tmp_path, vocab, logits))


NO_STM = Config(stm_strength=0.0)


def test_next_mode_scores_a_constant_guess_against_the_scale(always_g):
    scale = Tune("scale", tuple(quarters(C_SCALE)), "C major", metre(4, 4))
    sides = measure(always_g, [scale], "next", [0], phrase_bars=1, config=NO_STM)
    jamd, bigram = sides["jamd"], sides["baseline"]
    assert jamd["next_correct"].value == 1 / 7  # G is the next note only after F
    assert bigram["next_correct"].value == 0.0  # no note of a scale repeats: the bigram never knows
    assert jamd["over_held_note"].value == 1.0  # each guess comes a 16th into the player's quarter note
    assert jamd["dissonant_with_held"].value == 2 / 8  # G over F and over A


def test_duet_counts_dissonance_at_jamd_onsets_and_on_beats(always_g):
    scale = Tune("scale", tuple(quarters(C_SCALE)), "C major", metre(4, 4))
    sides = measure(always_g, [scale], "duet", [0], phrase_bars=1, config=NO_STM)
    jamd = sides["jamd"]
    # Duet joins after the player's fourth note (F, beat 3): G struck on every 16th from beat 3.25,
    # 19 onsets over the player's notes, 3 over F and 4 over A.
    assert (jamd["dissonant_at_onsets"].hits, jamd["dissonant_at_onsets"].total) == (7, 19)
    assert (jamd["shadowing"].hits, jamd["shadowing"].total) == (0, 19)  # an octave and more under the player
    assert (jamd["dissonant_on_beats"].hits, jamd["dissonant_on_beats"].total) == (1, 4)  # A on beat 5; 0-3: not yet
    assert jamd["plays_before_player"].value == 0.0
    assert sides["baseline"]["dissonant_at_onsets"].total == 19  # the same rhythm, other pitches


def test_respond_answer_starts_on_the_beat_after_a_bar_of_silence(always_g):
    up_and_down = quarters(C_SCALE + C_SCALE[::-1])
    tune = Tune("scale", tuple(up_and_down), "C major", metre(4, 4))
    sides = measure(always_g, [tune], "respond", [0], phrase_bars=2, config=NO_STM)
    jamd, real = sides["jamd"], sides["real"]
    assert jamd["answered_legato"].value == jamd["answered_detached"].value == 1.0
    assert jamd["starts_on_beat_legato"].value == 1.0  # the phrase ends on the bar line: the answer a bar on
    assert jamd["starts_on_beat_detached"].value == 1.0  # the last note ends an eighth early: the answer waits a beat
    assert jamd["interval_repeat"].value == 1.0 and jamd["ends_on_tonic_triad"].value == 1.0  # G G G ...
    assert real["interval_step"].value == 1.0 and real["ends_on_tonic_triad"].value == 1.0  # C B A ... C
    assert real["in_key"].value == 1.0 and real["starts_on_beat_legato"].value == 1.0


# ---- end to end, real model, real files ----------------------------------------------------

def test_audition_of_the_folk_model_on_nottingham_jigs_is_reproducible(folk_model_path, capsys):
    report = audition(str(folk_model_path), [str(JIGS)], "respond", tunes=3, seeds=2, seed=1)
    figures = {f["name"]: f for f in report["figures"]}
    assert report["tunes"] == 3 and report["metres"] == {"6/8": 3} and report["seeds"] == [1, 2]
    assert figures["in_key"]["real"] >= 0.9  # the tunes' keys are read right
    assert figures["answered_legato"]["jamd"] == 1.0  # the engine answers every phrase
    assert figures["in_key"]["jamd_counts"][1] > 0
    assert report == audition(str(folk_model_path), [str(JIGS)], "respond", tunes=3, seeds=2, seed=1)
    assert main(["audition", str(folk_model_path), str(JIGS), "--mode", "duet", "--tunes", "2",
                 "--seeds", "1", "--chorales", "3", "--json"]) == 0
    duet = json.loads(capsys.readouterr().out)
    dissonance = next(f for f in duet["figures"] if f["name"] == "dissonant_at_onsets")
    assert duet["mode"] == "duet" and duet["chorales"] == 3
    assert dissonance["real"] < 0.25 and dissonance["baseline"] is not None  # Bach's alto is mostly consonant
    assert main(["audition", str(folk_model_path), str(JIGS), "--mode", "next", "--tunes", "2", "--seeds", "1"]) == 0
    table = capsys.readouterr().out
    assert "guess = the tune's actual next note" in table and "in-song bigram" in table


def test_chords_audition_against_the_chord_track():
    model = Path(__file__).parents[1] / "models" / "nottingham-chords.onnx"
    if not model.exists():
        pytest.skip("models/nottingham-chords.onnx not built")
    report = audition(str(model), [str(FIXTURES / "nottingham")], "chords", tunes=3, seeds=1)
    figures = {f["name"]: f for f in report["figures"]}
    assert figures["changes_per_bar"]["baseline"] == 0.0  # the tonic chord never changes
    assert figures["distinct_chords"]["baseline"] == 1.0
    assert figures["distinct_chords"]["real"] >= 2.0 and figures["changes_per_bar"]["real"] > 0
    assert 0.0 < figures["chord_agreement"]["jamd"] <= 1.0
    assert figures["chord_agreement"]["real"] is None  # the track against itself says nothing


def test_a_melody_model_cannot_audition_chords(folk_model_path):
    with pytest.raises(JamdError, match="chords model"):
        audition(str(folk_model_path), [str(FIXTURES / "nottingham")], "chords")


def test_missing_mode_is_one_line_error(folk_model_path, capsys):
    assert main(["audition", str(folk_model_path), str(JIGS)]) == 2
    assert "--mode respond|duet|next|chords" in capsys.readouterr().err


def test_engine_settings_come_from_a_jamd_config(folk_model_path, tmp_path, capsys):
    toml = tmp_path / "try.toml"
    toml.write_text("temperature = 0.5\nanswer_bars = 1.0\n")
    assert main(["audition", str(folk_model_path), str(JIGS), "--mode", "respond", "--tunes", "1", "--seeds", "1",
                 "--jamd-config", str(toml), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["engine"]["temperature"] == 0.5 and report["engine"]["answer_bars"] == 1.0


def test_metre_keeps_only_the_tunes_in_that_time_signature():
    model = Path(__file__).parents[1] / "models" / "nottingham-chords.onnx"
    if not model.exists():
        pytest.skip("models/nottingham-chords.onnx not built")
    everything = audition(str(model), [str(FIXTURES / "nottingham")], "chords", tunes=3, seeds=1)
    metre = next(iter(everything["metres"]))
    only = audition(str(model), [str(FIXTURES / "nottingham")], "chords", tunes=3, seeds=1, metre=metre)
    assert set(only["metres"]) == {metre} and only["tunes"] == everything["metres"][metre]
    with pytest.raises(JamdError, match=f"not in 5/4': {everything['tunes']}"):
        audition(str(model), [str(FIXTURES / "nottingham")], "chords", tunes=3, seeds=1, metre="5/4")

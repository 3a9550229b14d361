"""The chord vocabulary, naming and voicing, and the Nottingham melody/chord alignment, on real files."""

import json
from pathlib import Path

import numpy as np
import pytest

from jamd.daemon import chords
from jamd.daemon.errors import JamdError
from jamd.daemon.sidecar import load_sidecar
from jamd.training.chord_data import beat_chords, boundary_steps, read_pair, sounding, targets
from jamd.training.readers import read_midi

NOTTINGHAM = Path(__file__).parent / "fixtures" / "nottingham"


def pair(name: str):
    return read_pair(NOTTINGHAM / "melody" / f"{name}.mid", NOTTINGHAM / "chords" / f"{name}.mid")


def test_chord_track_block_chords_are_named_by_root_and_quality():
    notes, _, _ = read_midi(NOTTINGHAM / "chords" / "ashover1.mid")
    # The file's first three chords: G B D at beat 3, D F# A at 6, F A C at 21 (checked by ear in a sequencer).
    named = beat_chords(notes, 24)
    assert named[:3] == ["N", "N", "N"], "nothing sounds during the pickup"
    assert (named[3], named[6], named[21]) == ("G", "D", "F")


def test_inversions_and_sevenths_are_named_from_the_bass():
    assert chords.identify([40, 43, 47]) == "Em"
    assert chords.identify([45, 49, 52, 55]) == "A7"
    assert chords.identify([43, 47, 50, 53]) == "G7"
    assert chords.identify([45, 48, 52, 55]) == "Am7"  # A C E G over A
    assert chords.identify([48, 52, 55, 57]) == "C"  # the same notes over C: C6, folded to C
    assert chords.identify([47, 50, 53]) == "Bdim"
    assert chords.identify([43, 48, 52]) == "C"  # second inversion: no template has G as root
    assert chords.identify([]) == chords.NO_CHORD


def test_every_chord_transposes_within_the_vocabulary():
    vocabulary = chords.chord_vocabulary()
    assert len(vocabulary) == 61 and vocabulary[0] == chords.NO_CHORD
    for chord in vocabulary:
        for shift in range(-11, 12):
            moved = chords.transpose(chord, shift)
            assert moved in vocabulary
            assert chords.pitch_classes(moved) == {(pc + shift) % 12 for pc in chords.pitch_classes(chord)}


def test_voicing_puts_the_root_in_the_bass_octave_and_the_chord_close_above():
    for chord in chords.chord_vocabulary()[1:]:
        root, _ = chords.parse(chord)
        bass, *upper = chords.voicing(chord)
        assert 36 <= bass <= 47 and bass % 12 == root
        assert all(chords.UPPER_LOW <= p < chords.UPPER_LOW + 12 for p in upper), chord
        assert {p % 12 for p in upper} == chords.pitch_classes(chord)
        assert upper == sorted(upper)
    assert chords.voicing("N") == ()


def test_unknown_chord_symbols_are_refused_by_name():
    with pytest.raises(ValueError, match="Cmaj9"):
        chords.parse("Cmaj9")
    assert chords.check_vocabulary(["G", "Em", "H7", "Bbm7"]) == ["H7"]


def test_the_sounding_chord_stays_unless_another_is_clearly_likelier():
    rng = np.random.default_rng(0)
    probs = np.array([0.1, 0.35, 0.55])
    assert chords.choose(probs, None, 0.0, rng) == 2
    assert chords.choose(probs, 1, 0.0, rng) == 1, "0.55 is not twice 0.35: keep the chord"
    assert chords.choose(np.array([0.1, 0.2, 0.7]), 1, 0.0, rng) == 2
    assert chords.choose(probs, 1, 0.0, rng, keep=1.0) == 2, "keep=1: the likeliest"


def test_melody_steps_line_up_with_the_beats_of_the_chord_track():
    song = pair("ashover1")
    # The melody's pickup E5 starts on beat 2, the first chord (G) on beat 3.
    assert song.tokens[1 + 2 * 4] == "76" and set(song.tokens[1:9]) == {"rest"}
    assert song.chords[2:4] == ("N", "G")
    assert sounding(song.tokens, 3 * 4) == 74  # D5 struck on beat 3
    assert sounding(song.tokens, 3 * 4 - 1) == 76  # the E5 still sounds just before it
    assert song.tonic == 7  # key signature G


def test_each_step_predicts_the_chord_of_the_next_beat():
    song = pair("reelsh-l4")
    ids = {c: i for i, c in enumerate(chords.chord_vocabulary())}
    y = targets(song, ids, 4)
    assert len(y) == len(song.tokens)
    assert y[0] == ids[song.chords[0]], "after start: the chord of beat 0"
    for step in range(len(song.tokens) - 1):
        assert y[step + 1] == ids[song.chords[step // 4 + 1]]
    # The daemon plays the prediction made at the last step before each beat.
    assert list(boundary_steps(13, 4)) == [0, 4, 8, 12]


def test_a_chord_struck_between_beats_is_heard_from_the_next_beat():
    song = pair("jigs218")
    notes, _, _ = read_midi(NOTTINGHAM / "chords" / "jigs218.mid")
    between = min(n.start for n in notes if n.start % 1)  # 6/8: a chord on the second dotted quarter
    struck = chords.identify(n.pitch for n in notes if n.start == between)
    assert song.chords[int(between) + 1] == struck
    assert song.chords[int(between)] != struck, "the beat before still has the previous chord"


def test_a_chords_sidecar_without_its_chord_list_is_refused(tmp_path):
    path = tmp_path / "c.json"
    data = {"format": "jamd-model/1", "kind": "chords", "vocabulary": ["start", "rest", "hold", "60"],
            "steps_per_beat": 4, "state": [{"input": "h", "output": "h_out", "size": 8}]}
    path.write_text(json.dumps(data))
    with pytest.raises(JamdError, match="extra.chords"):
        load_sidecar(path)
    path.write_text(json.dumps({**data, "extra": {"chords": ["N", "G", "Zm"]}}))
    with pytest.raises(JamdError, match="Zm"):
        load_sidecar(path)
    path.write_text(json.dumps({**data, "extra": {"chords": ["N", "G", "D7"]}}))
    assert load_sidecar(path).outputs == ("N", "G", "D7")

"""The shared grid encoding: what the model sees is what the player played."""

import json

import pytest

from jamd.daemon.encoding import (
    HOLD,
    REST,
    START,
    Note,
    Vocabulary,
    notes_to_tokens,
    tokens_to_notes,
    transpose_token,
)
from jamd.daemon.errors import JamdError
from jamd.daemon.sidecar import Sidecar, StateTensor, load_sidecar


def test_melody_round_trips_through_tokens():
    notes = [Note(0, 1, 60), Note(1, 0.5, 62), Note(1.5, 0.5, 64), Note(3, 1, 65)]
    tokens = notes_to_tokens(notes)
    assert tokens == [START, "60", HOLD, HOLD, HOLD, "62", HOLD, "64", HOLD, REST, REST, REST, REST, "65", HOLD, HOLD, HOLD]
    assert tokens_to_notes(tokens) == notes


def test_chord_is_one_token_and_decodes_to_its_notes():
    notes = [Note(0, 2, 48), Note(0, 2, 64), Note(0, 2, 67), Note(2, 1, 72)]
    tokens = notes_to_tokens(notes)
    assert tokens[1] == "48.64.67"
    assert sorted(tokens_to_notes(tokens), key=lambda n: (n.start, n.pitch)) == notes


def test_offgrid_onsets_are_quantised_to_the_nearest_step():
    # A triplet eighth at 1/3 beat lands on the nearest 16th (step 1), never between steps.
    tokens = notes_to_tokens([Note(0, 1 / 3, 60), Note(1 / 3, 1 / 3, 62), Note(2 / 3, 1 / 3, 64)])
    assert tokens == [START, "60", "62", HOLD, "64"]


def test_other_grid_resolutions():
    tokens = notes_to_tokens([Note(0, 1, 60), Note(1, 1, 62)], steps_per_beat=2)
    assert tokens == [START, "60", HOLD, "62", HOLD]
    assert tokens_to_notes(tokens, steps_per_beat=2)[1] == Note(1, 1, 62)


def test_transposition_stays_inside_midi_range():
    assert transpose_token("60.64", 2) == "62.66"
    assert transpose_token(HOLD, 5) == HOLD
    assert transpose_token("125", 5) is None


def test_vocabulary_keeps_every_melody_note_and_cuts_rare_chords():
    songs = [[START, "60", "62", "60.64", HOLD], [START, "60.64", "48.52.55", REST]]
    vocab = Vocabulary.build(songs, min_count=2)
    assert vocab.tokens[:3] == (START, REST, HOLD)
    assert "60.64" in vocab and "62" in vocab
    assert "48.52.55" not in vocab


def test_vocabulary_with_transpositions_covers_every_key():
    vocab = Vocabulary.build([[START, "60", "64"]], transpositions=range(-5, 7))
    assert all(str(p) in vocab for p in range(55, 71))
    table = vocab.transposition_table(2)
    assert table[vocab.id("60")] == vocab.id("62")
    assert table[vocab.id("70")] == -1


def test_player_notes_outside_the_vocabulary_map_to_the_nearest_token():
    vocab = Vocabulary.build([[START, str(p)] for p in range(55, 80)] + [[START, "60.64"]])
    assert vocab.nearest_id([60, 64]) == vocab.id("60.64")
    # Unknown chord: its top note carries the melody.
    assert vocab.nearest_id([41, 47, 76]) == vocab.id("76")
    # Out of range: folded by octaves into the nearest octave the model knows.
    assert vocab.nearest_id([100]) == vocab.id(str(100 - 24))
    assert vocab.nearest_id([20]) == vocab.id(str(20 + 36))
    assert vocab.nearest_id([]) == vocab.id(REST)


def test_sidecar_round_trips_and_rejects_bad_files(tmp_path):
    car = Sidecar(
        name="t",
        kind="melody",
        vocabulary=(START, REST, HOLD, "60"),
        steps_per_beat=4,
        state=(StateTensor("h", "h_out", 8), StateTensor("c", "c_out", 8)),
    )
    path = tmp_path / "t.json"
    car.save(path)
    assert load_sidecar(path) == car

    data = json.loads(path.read_text())
    del data["vocabulary"]
    path.write_text(json.dumps(data))
    with pytest.raises(JamdError, match="vocabulary"):
        load_sidecar(path)
    with pytest.raises(JamdError, match="not found"):
        load_sidecar(tmp_path / "missing.json")

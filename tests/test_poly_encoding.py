"""The polyphonic grid encoding: every note of a real piece, each ending on its own."""

from pathlib import Path

import pytest

from jamd.daemon.encoding import START, Note, notes_to_tokens, token_pitches, tokens_to_notes
from jamd.daemon.midifile import read_song
from jamd.daemon.poly_encoding import (
    STEP,
    PolyVocabulary,
    decode,
    encode,
    fold_to_piano,
    steps,
    token_pitch,
    transpose,
)

FIXTURES = Path(__file__).parent / "fixtures"
MIDI_FILES = ["waltz_de_choco.mid", "nottingham/ashover1.mid"]
SPB = 4


def read_notes(name: str) -> list[Note]:
    path = FIXTURES / name
    if path.suffix == ".musicxml":
        pytest.importorskip("music21")
        from jamd.training.readers import read_score_file

        return read_score_file(path)[0]
    return read_song(path).notes


@pytest.fixture(params=MIDI_FILES + ["bwv66.6.musicxml"])
def piece(request) -> tuple[str, list[Note]]:
    return request.param, read_notes(request.param)


def grid_rounded(notes: list[Note]) -> list[Note]:
    """What the file says, on the 16th grid: onsets and ends rounded as ``notes_to_tokens`` does,
    at least a step long, beats counted from the first onset. Voices striking one pitch together
    are one key: one note, as long as the longer of them."""
    ends: dict[tuple[int, int], int] = {}
    for n in notes:
        begin = round(n.start * SPB)
        end = max(begin + 1, round((n.start + n.duration) * SPB))
        ends[begin, n.pitch] = max(end, ends.get((begin, n.pitch), 0))
    first = min(b for b, _ in ends)
    return sorted((Note((b - first) / SPB, (e - b) / SPB, p) for (b, p), e in ends.items()),
                  key=lambda n: (n.start, n.pitch))


def ons(group) -> list[int]:
    return [token_pitch(t) for t in group if t.startswith("on:")]


def offs(group) -> list[int]:
    return [token_pitch(t) for t in group if t.startswith("off:")]


def test_real_pieces_decode_to_their_grid_rounded_notes(piece):
    name, notes = piece
    expected = grid_rounded(notes)
    assert decode(encode(notes, SPB), SPB) == expected
    print(f"\n{name}: {len(notes)} notes in the file, {len(expected)} on the grid (voices in unison are one)")


def test_notes_start_on_the_same_steps_as_in_the_one_token_encoding(piece):
    _, notes = piece
    old = notes_to_tokens(notes, SPB)[1:]
    new = steps(encode(notes, SPB))
    assert len(new) == len(old) + 1  # the last step holds the offs of the song's end
    for step, (token, group) in enumerate(zip(old, new)):
        assert sorted(ons(group)) == list(token_pitches(token)), f"grid step {step}"


def test_waltz_bass_is_held_through_the_chords_above_it():
    notes = read_notes("waltz_de_choco.mid")
    # Bar 1: the left hand holds C4 for 2.75 beats while the right hand strikes chords on beats 2 and 3.
    bass = Note(0.0, 2.75, 60)
    assert bass in notes and [n.start for n in notes if 0 < n.start < 2.75] == [1, 1, 1, 2, 2, 2]
    assert bass in decode(encode(notes, SPB), SPB)
    # The one-token encoding ends it where the first chord starts.
    assert Note(0.0, 1.0, 60) in tokens_to_notes(notes_to_tokens(notes, SPB), SPB)


def test_ashover_chord_is_held_for_two_bars_under_the_moving_melody():
    notes = read_notes("nottingham/ashover1.mid")
    first = min(n.start for n in notes)  # a pickup: the tune starts on beat 2
    chord = [Note(55.0, 6.0, p) for p in (41, 45, 48)]  # F major, two 3/4 bars
    melody = [n for n in notes if 55 <= n.start < 61 and n.pitch > 48]
    assert all(c in notes for c in chord) and [n.pitch for n in melody] == [72, 69, 65, 76]
    decoded = [Note(n.start + first, n.duration, n.pitch) for n in decode(encode(notes, SPB), SPB)]
    assert all(c in decoded for c in chord)
    assert all(m in decoded for m in melody)


def test_every_grid_step_ends_with_exactly_one_step_token(piece):
    _, notes = piece
    groups = steps(encode(notes, SPB))
    assert all(group[-1] == STEP and group.count(STEP) == 1 for group in groups)
    first = min(round(n.start * SPB) for n in notes)
    last = max(round((n.start + n.duration) * SPB) for n in notes)
    assert len(groups) == last - first + 1


def test_every_note_gets_its_off_when_the_song_ends(piece):
    _, notes = piece
    tokens = encode(notes, SPB)
    assert sorted(token_pitch(t) for t in tokens if t.startswith("on:")) == \
        sorted(token_pitch(t) for t in tokens if t.startswith("off:"))
    last = steps(tokens)[-1]
    assert offs(last) and not ons(last)


def test_offs_come_before_ons_and_the_melody_is_the_first_on(piece):
    _, notes = piece
    first = min(round(n.start * SPB) for n in notes)
    for step, group in enumerate(steps(encode(notes, SPB)), start=first):
        struck = [n.pitch for n in notes if round(n.start * SPB) == step]
        kinds = [t.split(":")[0] for t in group[:-1]]
        assert kinds == sorted(kinds, key=["off", "on"].index), f"grid step {step}: {group}"
        if struck:
            assert ons(group)[0] == max(struck), f"grid step {step}: {group}"


def test_a_repeated_note_is_struck_again_not_held():
    notes = read_notes("nottingham/ashover1.mid")
    groups = steps(encode(notes, SPB))
    restruck = [(i, p) for i, g in enumerate(groups) for p in set(ons(g)) & set(offs(g))]
    assert restruck, "ashover repeats notes: some step must end a pitch and strike it again"
    decoded = decode(encode(notes, SPB), SPB)
    for step, pitch in restruck:  # one note ends on that step and the next begins there
        assert any(n.pitch == pitch and n.start + n.duration == step / SPB for n in decoded)
        assert any(n.pitch == pitch and n.start == step / SPB for n in decoded)


def test_a_song_cut_off_mid_phrase_still_ends_every_note():
    notes = read_notes("waltz_de_choco.mid")
    tokens = encode(notes, SPB)
    # Cut after grid step 5: the bass struck on step 0 is still sounding (to step 11).
    cut = [t for g in steps(tokens)[:6] for t in g]
    decoded = decode([START] + cut, SPB)
    assert Note(0.0, 1.5, 60) in decoded
    assert all(n.start + n.duration <= 1.5 for n in decoded)


def test_a_step_still_being_written_is_the_last_group_without_its_step_token():
    tokens = encode(read_notes("waltz_de_choco.mid"), SPB)
    groups = steps(tokens)
    unfinished = steps(tokens[:-1])
    assert unfinished[:-1] == groups[:-1] and unfinished[-1] == groups[-1][:-1]


def test_vocabulary_is_every_piano_key_on_and_off_plus_start_and_step(piece):
    _, notes = piece
    vocab = PolyVocabulary.piano()
    assert len(vocab) == 2 * 88 + 2 == 178
    assert vocab == PolyVocabulary.piano() and vocab.id(START) == 0 and vocab.id(STEP) == 1
    tokens = encode(notes, SPB)
    assert vocab.decode(vocab.encode(tokens)) == tokens


def test_transposition_moves_every_note_and_refuses_to_leave_the_piano():
    notes = read_notes("waltz_de_choco.mid")  # MIDI 33..83
    tokens = encode(notes, SPB)
    up = transpose(tokens, 5)
    assert decode(up, SPB) == [Note(n.start, n.duration, n.pitch + 5) for n in decode(tokens, SPB)]
    assert transpose(tokens, 108 - 83) is not None and transpose(tokens, 108 - 83 + 1) is None
    assert transpose(tokens, 21 - 33) is not None and transpose(tokens, 21 - 33 - 1) is None


def test_notes_above_the_piano_fold_down_an_octave():
    notes = [Note(n.start, n.duration, n.pitch + 30) for n in read_notes("waltz_de_choco.mid")]  # up to 113
    folded, moved = fold_to_piano(notes)
    assert moved == sum(n.pitch > 108 for n in notes) > 0
    assert sorted(n.pitch for n in folded) == sorted(n.pitch - 12 if n.pitch > 108 else n.pitch for n in notes)
    assert max(n.pitch for n in decode(encode(notes, SPB), SPB)) <= 108


def test_tokens_per_grid_step_against_the_one_token_encoding(piece):
    name, notes = piece
    tokens = encode(notes, SPB)
    old = notes_to_tokens(notes, SPB)
    grid_steps = len(steps(tokens))
    sounded = len(decode(tokens, SPB))
    # Each note costs its on and its off, each step its step token: nothing else is spent.
    assert len(tokens) - 1 == 2 * sounded + grid_steps
    print(f"\n{name}: {grid_steps} grid steps, {sounded} notes; tokens per step: "
          f"poly {(len(tokens) - 1) / grid_steps:.2f}, one-token 1.00 "
          f"({len(tokens) - 1} tokens against {len(old) - 1}: x{(len(tokens) - 1) / (len(old) - 1):.2f})")

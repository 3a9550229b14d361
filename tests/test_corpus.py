"""training/corpus.py: real files in every format -> notes -> grid tokens, cached.

Fixtures are real files (tests/fixtures/README.md says where each comes from); the bad
ones in tests/fixtures/bad/ are copies of real files with one deliberate defect.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

music21 = pytest.importorskip("music21", reason="corpus tests need the train extra (music21)")
pytest.importorskip("tqdm", reason="corpus tests need the train extra (tqdm)")

from jamd.daemon.encoding import Note, notes_to_tokens, token_pitches, tokens_to_notes  # noqa: E402
from jamd.daemon.errors import JamdError  # noqa: E402
from jamd.training import corpus  # noqa: E402
from jamd.training.corpus import SongSkipped, encode_song, load_corpus, read_notes  # noqa: E402
from jamd.training.readers import read_midi, score_notes  # noqa: E402

pytestmark = pytest.mark.train

FIXTURES = Path(__file__).parent / "fixtures"
KINDR001 = FIXTURES / "kindr001.krn"  # "Schlaf, Kindlein, schlaf", F major, 2/4
JIGS = FIXTURES / "nottingham_jigs_1-3.abc"  # the first three tunes of Nottingham's jigs.abc
MELODY_MIDI = FIXTURES / "nottingham" / "melody" / "ashover1.mid"
FULL_MIDI = FIXTURES / "nottingham" / "ashover1.mid"
PIANO_MIDI = FIXTURES / "waltz_de_choco.mid"
CHORALE = FIXTURES / "bwv66.6.musicxml"  # music21's bundled Bach chorale, exported by music21


def load(sources, tmp_path, **kwargs):
    kwargs.setdefault("cache_dir", tmp_path / "cache")
    return load_corpus(sources, progress=False, **kwargs)


def pitch_classes(tokens):
    return [p % 12 for t in tokens for p in token_pitches(t)]


def test_kern_song_has_the_pitches_and_durations_the_file_says():
    [(name, notes, key, _)] = read_notes(KINDR001)
    # **kern: {4a 8g 8g =2 4f 8r} {8c ... -> A4 quarter, G4 G4 eighths, F4 quarter, rest, C4 eighth
    assert notes[:5] == [Note(0.0, 1.0, 69), Note(1.0, 0.5, 67), Note(1.5, 0.5, 67), Note(2.0, 1.0, 65), Note(3.5, 0.5, 60)]
    assert key == "F major"  # the file's *F: line
    assert name == KINDR001.as_posix()


def test_kern_tied_notes_become_one_note():
    [(_, notes, _, _)] = read_notes(FIXTURES / "deut3665.krn")
    # {4cc =1 2cc [4cc =2 4cc] ...: the tied C5 starts on beat 3 and lasts two beats
    assert notes[:3] == [Note(0.0, 1.0, 72), Note(1.0, 2.0, 72), Note(3.0, 2.0, 72)]


def test_abc_file_gives_one_song_per_tune_named_by_tune_number():
    songs = read_notes(JIGS)
    assert [name for name, _, _, _ in songs] == [f"{JIGS.as_posix()}#{n}" for n in (1, 2, 3)]
    assert [key for _, _, key, _ in songs] == ["A major", "G major", "D major"]
    _, notes, _, _ = songs[0]
    # X:1 "A and D", K:A, L:1/8 in 6/8: f|"A"ecc c2f -> F#5 eighth pickup, then E5 C#5 C#5
    assert [(n.start, n.duration, n.pitch) for n in notes[:4]] == [(0, 0.5, 78), (0.5, 0.5, 76), (1.0, 0.5, 73), (1.5, 0.5, 73)]


def test_abc_chord_symbols_are_not_played_as_notes():
    for _, notes, _, _ in read_notes(JIGS):
        starts = [n.start for n in notes]
        assert len(starts) == len(set(starts)), "a chord symbol was read as a chord"


def test_midi_read_by_mido_matches_music21():
    ours, key, _ = read_midi(MELODY_MIDI)
    theirs = score_notes(music21.converter.parse(MELODY_MIDI, forceSource=True, storePickle=False))
    assert ours == theirs
    assert key == "G major"
    # music21 quantises durations of a played piano file; onsets and pitches still agree
    ours, _, _ = read_midi(PIANO_MIDI)
    theirs = score_notes(music21.converter.parse(PIANO_MIDI, forceSource=True, storePickle=False))
    assert [(n.start, n.pitch) for n in ours] == [(n.start, n.pitch) for n in theirs]


def test_full_nottingham_midi_merges_melody_and_accompaniment(tmp_path):
    melody, _, _ = read_midi(MELODY_MIDI)
    full, _, _ = read_midi(FULL_MIDI)
    assert set(melody) < set(full)
    [song] = load([FULL_MIDI], tmp_path).songs
    assert any(len(token_pitches(t)) > 1 for t in song.tokens)


def test_midi_drum_channel_is_ignored(tmp_path):
    import mido

    midi = mido.MidiFile(MELODY_MIDI)
    for track in midi.tracks:
        for i, msg in enumerate(track):
            if msg.type in ("note_on", "note_off"):
                track[i] = msg.copy(channel=9)
    drums = tmp_path / "drums.mid"
    midi.save(drums)
    assert read_midi(drums)[0] == []


def test_musicxml_chorale_parts_are_flattened_into_chords(tmp_path):
    [song] = load([CHORALE], tmp_path).songs
    chords = [t for t in song.tokens if len(token_pitches(t)) == 4]
    assert len(chords) > 20  # soprano, alto, tenor and bass striking together
    assert song.key == "f# minor"


@pytest.mark.parametrize("path", [KINDR001, MELODY_MIDI, JIGS], ids=["kern", "midi", "abc"])
def test_notes_tokens_notes_round_trip_on_real_songs(path):
    for _, notes, _, _ in read_notes(path):
        first = notes[0].start
        shifted = [Note(n.start - first, n.duration, n.pitch) for n in notes]
        assert tokens_to_notes(notes_to_tokens(notes)) == shifted


def test_loaded_tokens_are_the_encoded_notes(tmp_path):
    [song] = load([KINDR001], tmp_path).songs
    [(_, notes, _, _)] = read_notes(KINDR001)
    assert song.tokens == tuple(notes_to_tokens(notes))
    assert song.tokens[:6] == ("start", "69", "hold", "hold", "hold", "67")


def test_bad_files_are_reported_and_skipped_while_the_rest_loads(tmp_path):
    bad = FIXTURES / "bad"
    loaded = load([bad, KINDR001], tmp_path)
    names = [s.name for s in loaded.songs]
    abc = (bad / "jigs_tune2_unclosed_chord.abc").as_posix()
    assert names == [f"{abc}#1", f"{abc}#3", KINDR001.as_posix()]
    reasons = dict(loaded.skipped)
    assert reasons[f"{abc}#2"].startswith("music21 rejected this tune")
    assert reasons[(bad / "kindr001_broken_spine.krn").as_posix()].startswith("music21 could not parse it")
    assert "truncated" in reasons[(bad / "waltz_de_choco_truncated.mid").as_posix()]
    assert loaded.report()["skipped"] == 3


def test_tuplets_are_skipped_on_a_16th_grid_and_kept_on_a_triplet_grid(tmp_path):
    song = FIXTURES / "kindr053.krn"  # eighth-note triplets in bar 1
    sixteenths = load([song], tmp_path, steps_per_beat=4)
    assert sixteenths.songs == []
    assert sixteenths.skipped[0][1].startswith("tuplets/off-grid onsets")
    assert len(load([song], tmp_path, steps_per_beat=12).songs) == 1


def test_songs_with_fewer_than_eight_notes_are_skipped():
    [(_, notes, key, _)] = read_notes(KINDR001)
    with pytest.raises(SongSkipped, match="too short"):
        encode_song(notes[:5], key, 4, "none")


def test_second_load_comes_from_the_cache_and_a_changed_file_is_parsed_again(tmp_path, monkeypatch):
    song = tmp_path / "song.krn"
    shutil.copy(KINDR001, song)
    first = load([song], tmp_path)
    parsed = []
    real_work = corpus._work
    monkeypatch.setattr(corpus, "_work", lambda task: parsed.append(task) or real_work(task))
    assert load([song], tmp_path) == first
    assert parsed == []
    song.write_text(KINDR001.read_text().replace("{4a\n", "{4b-\n"))  # first note A4 -> B-flat4
    changed = load([song], tmp_path)
    assert len(parsed) == 1
    assert changed.songs[0].tokens[1] == "70"
    assert not list((tmp_path / "cache").rglob("*.tmp")), "a temporary cache file was left behind"


def test_cache_is_separate_per_setting(tmp_path):
    coarse = load([KINDR001], tmp_path, steps_per_beat=2)
    fine = load([KINDR001], tmp_path, steps_per_beat=4)
    assert len(fine.songs[0].tokens) - 1 == 2 * (len(coarse.songs[0].tokens) - 1)


def test_transpose_c_moves_an_f_major_song_to_c_major(tmp_path):
    kept = load([KINDR001], tmp_path).songs[0]
    moved = load([KINDR001], tmp_path, transpose="c").songs[0]
    assert moved.key == "C major"
    # F -> C is 5 semitones down (the interval is chosen in -6..+5)
    assert [p - 5 for t in kept.tokens for p in token_pitches(t)] == [p for t in moved.tokens for p in token_pitches(t)]


def test_transpose_c_moves_a_minor_song_to_a_minor(tmp_path):
    song = FIXTURES / "kindr183.krn"  # *e: (E minor)
    kept = load([song], tmp_path).songs[0]
    moved = load([song], tmp_path, transpose="c").songs[0]
    assert (kept.key, moved.key) == ("e minor", "a minor")
    assert [(pc + 5) % 12 for pc in pitch_classes(kept.tokens)] == pitch_classes(moved.tokens)


def test_music21_corpus_source_needs_no_download(tmp_path):
    loaded = load(["music21:essenFolksong/kinder0.abc"], tmp_path, limit=3)
    assert [s.name for s in loaded.songs] == [f"music21:essenFolksong/kinder0.abc#{n}" for n in (1, 2, 3)]
    assert all(s.tokens[0] == "start" and len(s.tokens) > 16 for s in loaded.songs)


@pytest.mark.parametrize("name", ["bach/bwv66.6", "bach/bwv66.6.mxl", "bach/bwv66.*"])
def test_music21_work_names_and_globs_find_the_bach_chorale(tmp_path, name):
    loaded = load([f"music21:{name}"], tmp_path)
    assert [s.name for s in loaded.songs] == ["music21:bach/bwv66.6.mxl"]
    assert loaded.songs[0].tokens == load([CHORALE], tmp_path).songs[0].tokens


def test_music21_warnings_are_counted_not_printed(tmp_path, capfd):
    loaded = load([FIXTURES / "deut3758.krn"], tmp_path)  # Essen's irregular meter *MX
    assert loaded.warnings >= 1 and len(loaded.songs) == 1
    assert "WARNING" not in capfd.readouterr().err


def test_parallel_load_matches_serial_load(tmp_path):
    for i in range(corpus.INLINE_TASKS):  # enough parses for a process pool
        shutil.copy(FIXTURES / ("kindr001.krn", "kindr183.krn")[i % 2], tmp_path / f"song{i:02}.krn")
    serial = load([tmp_path], tmp_path, workers=1, cache_dir=tmp_path / "c1")
    parallel = load([tmp_path], tmp_path, workers=2, cache_dir=tmp_path / "c2")
    assert parallel == serial and len(serial.songs) == corpus.INLINE_TASKS


def test_report_counts_songs_tokens_skips_and_formats(tmp_path):
    loaded = load([FIXTURES], tmp_path)
    report = loaded.report()
    assert report["songs"] == len(loaded.songs)
    assert report["tokens"] == sum(len(s.tokens) for s in loaded.songs)
    # .mid: ashover1 full, waltz_de_choco, and the chord accompanist's melody/ + chords/ pairs (5 tunes, 10 files).
    assert report["by_format"] == {".abc": 5, ".krn": 4, ".mid": 12, ".musicxml": 1}
    assert report["skipped_by_reason"] == {
        "music21 rejected this tune": 1,
        "music21 could not parse it": 1,
        "not a readable MIDI file": 1,
        "tuplets/off-grid onsets": 1,
    }


def test_missing_path_empty_directory_and_unknown_names_raise_errors_naming_them(tmp_path):
    with pytest.raises(JamdError, match="nowhere.krn: no such file"):
        load([tmp_path / "nowhere.krn"], tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(JamdError, match="empty: no score files.*\\.krn .*\\.mid"):
        load([tmp_path / "empty"], tmp_path)
    with pytest.raises(JamdError, match="music21:no-such-composer"):
        load(["music21:no-such-composer"], tmp_path)
    with pytest.raises(JamdError, match="kindr001_broken_spine.krn: no song could be read.*music21 could not parse"):
        read_notes(FIXTURES / "bad" / "kindr001_broken_spine.krn")
    with pytest.raises(JamdError, match="transpose"):
        load([KINDR001], tmp_path, transpose="up")

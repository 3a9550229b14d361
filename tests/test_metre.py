"""The bar phase: every reader places the bar lines the file has (pickups, meter changes, irregular
bars), songs whose bars cannot be placed are skipped and counted, and the position fed with each
token is the bar position of the step after it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jamd.daemon.metre import Bar, Metre, MetreError, check_bars, positions, token_positions

FIXTURES = Path(__file__).parent / "fixtures"


def test_positions_count_steps_from_each_bar_line_and_extend_the_last_bar():
    bars = [Bar(-4, 16), Bar(12, 12)]  # a one-beat pickup in 4/4, then 3/4
    where = positions(bars, -4, 40)
    assert where[0].tolist() == [0, 16], "a pickup's bar began before the song"
    assert where[4].tolist() == [4, 16] and where[15].tolist() == [15, 16]
    assert where[16].tolist() == [0, 12], "the meter change starts a bar of its own length"
    assert where[16 + 12].tolist() == [0, 12], "past the last bar line the last bar repeats"


def test_midi_time_signatures_lay_out_the_bars_and_a_change_inside_a_bar_cuts_it_short():
    metre = Metre.from_signatures([(0.0, 3, 4), (7.0, 6, 8)], end=13.0)
    assert metre.bars[:3] == ((0.0, 3.0), (3.0, 3.0), (6.0, 1.0)), "the 6/8 at beat 7 cuts a 3/4 bar short"
    assert metre.bars[3] == (7.0, 3.0)
    assert Metre.from_signatures([], end=8.0).bars == ((0.0, 4.0), (4.0, 4.0)), "no signature: 4/4"
    bars, _ = metre.on_grid(4)
    assert bars[2] == Bar(24, 4) and bars[3] == Bar(28, 12)


def test_bar_lines_between_grid_steps_or_bars_that_do_not_join_are_refused():
    with pytest.raises(MetreError, match="between"):
        Metre(((0.0, 1 / 3),)).on_grid(4)  # a triplet-long bar on a 16th grid
    with pytest.raises(MetreError, match="does not follow"):
        check_bars([Bar(0, 16), Bar(20, 16)])
    with pytest.raises(MetreError, match="phrases, not bars"):
        check_bars([Bar(0, 200)])


@pytest.mark.train
def test_kern_pickup_and_mixed_meter_give_the_bars_the_file_has(tmp_path):
    pytest.importorskip("music21")
    from jamd.training.corpus import load_corpus

    [song] = load_corpus([FIXTURES / "deut3665.krn"], cache_dir=tmp_path, progress=False, workers=1).songs
    # *M4/4 with a one-quarter pickup ({4cc before =1), then bars of three quarters ("Mixed meters: 3/4; 4/4").
    assert song.bars[0] == Bar(-12, 16) and song.bars[1] == Bar(4, 12)
    assert [(t.numerator, t.denominator) for t in song.signatures][:1] == [(4, 4)]
    where = song.positions()
    assert where[0].tolist() == [12, 16], "start is fed with the first step's position: the pickup's beat 4"
    assert where[4].tolist() == [0, 12], "the first downbeat comes one beat (4 steps) later"
    [kinder] = load_corpus([FIXTURES / "kindr001.krn"], cache_dir=tmp_path, progress=False, workers=1).songs
    assert set(b.length for b in kinder.bars) == {8}, "2/4 throughout: bars of 8 sixteenths"


@pytest.mark.train
def test_abc_jig_with_an_eighth_pickup_and_the_waltz_midi_file(tmp_path):
    pytest.importorskip("music21")
    from jamd.training.corpus import load_corpus

    corpus = load_corpus([FIXTURES / "nottingham_jigs_1-3.abc", FIXTURES / "waltz_de_choco.mid"],
                         cache_dir=tmp_path, progress=False, workers=1)
    jig1, jig2, _, waltz = corpus.songs
    assert jig1.bars[0] == Bar(-10, 12), "'f|' in 6/8: an eighth (2 steps) before bar 1"
    assert jig2.bars[0] == Bar(0, 12), "no pickup"
    assert waltz.bars[0] == Bar(0, 12) and {(t.numerator, t.denominator) for t in waltz.signatures} == {(3, 4)}
    np.testing.assert_array_equal(jig1.positions()[:3], [[10, 12], [11, 12], [0, 12]])


@pytest.mark.train
def test_a_song_whose_bar_lines_cannot_be_placed_is_skipped_and_counted(tmp_path):
    pytest.importorskip("music21")
    from jamd.training.corpus import SongSkipped, encode_song
    from jamd.daemon.encoding import Note

    notes = [Note(i * 0.5, 0.5, 60 + i % 5) for i in range(16)]
    with pytest.raises(SongSkipped, match="bar lines"):
        encode_song(notes, "C major", 4, "none", MetreError("no bar lines (no measures)"))
    with pytest.raises(SongSkipped, match="bar lines.*between"):
        encode_song(notes, "C major", 4, "none", Metre(((0.0, 2.5 / 3),)))
    tokens, _, first, bars, _ = encode_song(notes, "C major", 4, "none", Metre(((0.0, 2.0), (2.0, 2.0))))
    assert first == 0 and bars == [Bar(0, 8), Bar(8, 8)] and len(token_positions(bars, first, len(tokens))) == len(tokens)


@pytest.mark.corpus
@pytest.mark.train
def test_every_deutschl_subset_places_its_bar_lines(tmp_path):
    """On the real corpus: nearly every song gets its bars; the rest are counted by reason."""
    pytest.importorskip("music21")
    data = Path(__file__).parents[2] / "shared" / "data" / "essen-kern" / "deutschl" / "kinder"
    if not data.is_dir():
        pytest.skip("../shared/data not here")
    from jamd.training.corpus import load_corpus

    corpus = load_corpus([data], progress=False)
    report = corpus.report()
    assert report["songs"] >= 200
    lengths = {b.length for s in corpus.songs for b in s.bars}
    assert {8, 12, 16} <= lengths, "2/4, 3/4 and 4/4 bars"
    pickups = sum(s.bars[0].start < s.first for s in corpus.songs)
    assert pickups >= 20, "many children's songs begin on an upbeat"
    skipped = report["skipped_by_reason"].get("bar lines", 0)
    assert skipped <= 0.05 * report["songs"], report["skipped_by_reason"]

"""`--range LOW-HIGH` keeps jamd's notes in an instrument's compass; `--count-off` clicks a bar
before jamd listens. Real folk model, real tune, simulated time."""

from __future__ import annotations

import pytest

from jamd.daemon.config import Config
from jamd.daemon.errors import JamdError
from engine_helpers import BAR, assert_hygienic, make_engine, note_events, note_ons, run, tune, tune_notes

JAMD = 1  # jamd's channel (default 2), 0-based
CLICK = 9  # metronome channel (default 10), 0-based


def test_range_folds_jamds_notes_by_octaves_and_keeps_the_melody(folk_model):
    free = note_ons(run(make_engine(folk_model, mode="duet", seed=3), tune(12.0), 14.0, silence=True), JAMD)
    folk_model.reset()
    out = run(make_engine(folk_model, mode="duet", seed=3, range="60-71"), tune(12.0), 14.0, silence=True)
    kept = note_ons(out, JAMD)
    assert kept and all(60 <= m.note <= 71 for _, m in kept)
    assert any(not 60 <= m.note <= 71 for _, m in free), "the tune should take the free model out of 60-71"
    # Same seed, same tokens fed back: only octaves differ.
    assert [(t, m.note % 12) for t, m in kept] == [(t, m.note % 12) for t, m in free]
    assert_hygienic(out)


@pytest.mark.parametrize("text", ["60", "60-65", "70-60", "0-128", "a-b", "-5-20"])
def test_bad_range_is_refused_naming_the_form(text):
    with pytest.raises(JamdError, match="'range' .* expected LOW-HIGH"):
        Config(range=text)


def test_count_off_clicks_one_bar_and_notes_in_it_are_not_answered(folk_model):
    engine = make_engine(folk_model, count_off=True, answer_after_bars=1.0)
    # The tune's first two notes, moved into the count-off bar (0-1.5 s): played while counted in.
    early = note_events([(start - 1.0, end - 1.1, pitch) for start, end, pitch in tune_notes(2.5)])
    assert early[-1][0] < BAR
    out = run(engine, early, BAR * 4, silence=False)
    clicks = note_ons(out, CLICK)
    assert [round(t, 3) for t, _ in clicks] == [0.0, 0.5, 1.0]  # 3/4 at 120 bpm
    assert clicks[0][1].velocity > clicks[1][1].velocity  # the bar's first beat accented
    assert not note_ons(out, JAMD), "notes played during the count-off should not be answered"
    later = [(t + BAR, m) for t, m in tune(4.0)]
    out += run(engine, later, BAR * 10, silence=True)
    assert note_ons(out, JAMD), "after the count-off jamd listens and answers"
    assert len(note_ons(out, CLICK)) == 3  # one bar only
    assert_hygienic(out)


def test_count_off_with_metronome_does_not_double_click(folk_model):
    out = run(make_engine(folk_model, count_off=True, metronome=True), [], BAR * 2, silence=True)
    times = [round(t, 3) for t, _ in note_ons(out, CLICK)]
    assert times[:4] == [0.0, 0.5, 1.0, 1.5] and len(times) == len(set(times))
    assert_hygienic(out)

"""The engine's modes with a real folk tune, a real ONNX model and simulated time."""

import math

import mido
import numpy as np
import pytest

from jamd.daemon.encoding import HOLD_ID, REST_ID, START_ID, token_pitches
from engine_helpers import BAR, TEMPO, assert_hygienic, make_engine, note_events, note_ons, run, tune, tune_notes



def step_seconds(model):
    """One grid step at the test tempo (0.125 s for a model with 4 steps per beat)."""
    return 60.0 / TEMPO / model.steps_per_beat
JAMD = 1  # channel 2 on the wire


def spy_tokens(model):
    """Record every token fed to the real model."""
    fed = []
    feed = model.feed

    def recording(token, *position):
        fed.append(token)
        feed(token, *position)

    model.feed = recording
    return fed


def test_answer_starts_after_one_bar_of_silence(folk_model):
    engine = make_engine(folk_model)
    phrase = tune(until=6.0)
    last_off = phrase[-1][0]
    out = run(engine, phrase, until=last_off + 4 * BAR)
    ons = note_ons(out, JAMD)
    assert ons, "jamd never answered"
    assert ons[0][0] == pytest.approx(last_off + BAR)
    assert engine.stats["answers"] == 1
    # Two bars of answer, then its notes end on the bar line and jamd waits for the player.
    assert all(t < last_off + 3 * BAR for t, _ in ons)
    assert_hygienic(out)


def test_a_long_wait_before_answering_still_answers(folk_model):
    engine = make_engine(folk_model, answer_after_bars=10.0)
    phrase = tune(until=3.0)
    last_off = phrase[-1][0]
    ons = note_ons(run(engine, phrase, until=last_off + 11 * BAR), JAMD)
    assert ons and ons[0][0] == pytest.approx(last_off + 10 * BAR)


def test_no_answer_before_the_player_has_played(folk_model):
    engine = make_engine(folk_model)
    assert note_ons(run(engine, [], until=6 * BAR), JAMD) == []


def test_answer_stops_when_player_plays_again(folk_model):
    engine = make_engine(folk_model)
    phrase = tune(until=6.0)
    answer_at = phrase[-1][0] + BAR
    barge = answer_at + 0.01
    out = run(engine, phrase, until=barge - 0.001)
    assert note_ons(out, JAMD), "jamd should be answering by now"
    reply = engine.handle(mido.Message("note_on", channel=0, note=67, velocity=80), barge)
    offs = [m.note for t, m in reply if m.type == "note_off" and m.channel == JAMD and t == barge]
    assert offs and not engine.out.sounding(JAMD)
    later = run(engine, [(barge + 0.2, mido.Message("note_off", channel=0, note=67))], barge + 0.2 + BAR * 0.9)
    assert note_ons(later, JAMD) == [], "jamd must listen, not carry on its answer"
    assert engine.stats["barge_ins"] == 1
    assert_hygienic(out + reply + later + engine.silence(barge + BAR))


def test_next_mode_sounds_its_guess_on_the_grid_when_the_next_note_is_due(folk_model):
    engine = make_engine(folk_model, mode="next")
    notes = tune_notes(until=4.0)
    # Play a little late and a little early: each note still lands on its nearest step.
    played = [(s + (0.03 if i % 2 else -0.04), e, p) for i, (s, e, p) in enumerate(notes)]
    out = run(engine, note_events(played), until=5.0)
    ons = note_ons(out, JAMD)
    step = step_seconds(folk_model)
    onsets = [round(s / step) for s, _, _ in played]
    assert len(ons) >= len(onsets) // 2, "most of the player's notes get a guess"
    for t, m in ons:
        assert t / step == pytest.approx(round(t / step)), "guesses sound on the grid"
        heard = [k for k in onsets if k < round(t / step)]
        # After a note the player started, at most two beats (LOOK_BEATS) on, never before it.
        assert heard and round(t / step) - heard[-1] <= 2 * folk_model.steps_per_beat
        assert str(m.note) in folk_model.vocab
    assert_hygienic(out + engine.silence(5.0))


def test_looking_ahead_leaves_the_model_where_it_was(folk_model):
    engine = make_engine(folk_model, mode="next")
    run(engine, tune(until=3.0), until=3.0)
    state, now = folk_model.get_state(), engine.probabilities().copy()  # the blend reuses its array
    context = engine.stm.context
    ahead = engine.look_ahead(8)
    assert len(ahead) == 8 and np.allclose(ahead[0], now) and not np.allclose(ahead[-1], now)
    assert np.allclose(engine.probabilities(), now)
    assert engine.stm.context == context, "the short-term model's context moved on with the look-ahead"
    token = folk_model.vocab.id("67")
    folk_model.feed(token)
    after = folk_model.probabilities()
    folk_model.set_state(state)
    folk_model.feed(token)
    assert np.allclose(folk_model.probabilities(), after)


def test_next_mode_feeds_only_the_players_notes(folk_model):
    engine = make_engine(folk_model, mode="next")
    fed = spy_tokens(folk_model)
    notes = tune_notes(until=4.0)
    run(engine, note_events(notes), until=4.0)
    played = [folk_model.vocab.tokens[t] for t in fed if t not in (REST_ID, HOLD_ID, START_ID)]
    assert played == [str(p) for _, _, p in notes if str(p) in folk_model.vocab]


def test_duet_plays_continuously(folk_model):
    engine = make_engine(folk_model, mode="duet", temperature=0.8)
    fed = spy_tokens(folk_model)
    phrase = tune(until=6.0)
    out = run(engine, phrase, until=12.0)
    times = [t for t, _ in note_ons(out, JAMD)]
    assert any(t < 6.0 for t in times) and any(t > 6.0 + BAR for t in times), times
    # jamd's own tokens reach the model on the steps where the player starts nothing.
    player_steps = {round(t / step_seconds(folk_model)) for t, m in phrase if m.type == "note_on"}
    own = [tok for step, tok in enumerate(fed) if step not in player_steps and tok not in (REST_ID, HOLD_ID)]
    assert own, "duet must feed jamd's own notes back"
    assert_hygienic(out + engine.silence(12.0))


def test_state_is_carried_not_rerun(folk_model):
    engine = make_engine(folk_model, mode="duet")
    fed = spy_tokens(folk_model)
    until = 10.0
    run(engine, tune(until=8.0), until=until)
    step = step_seconds(folk_model)
    windows = math.floor((until - step / 2) / step) + 1
    assert engine.stats["steps"] == windows
    assert len(fed) == windows + engine.stats["resets"] - 1  # the spy came after the first start
    assert fed.count(START_ID) == engine.stats["resets"] - 1


def test_velocity_follows_player(folk_model):
    results = {}
    for velocity in (30, 120):
        engine = make_engine(folk_model)
        phrase = tune(until=6.0, velocity=velocity)
        out = run(engine, phrase, until=phrase[-1][0] + 3 * BAR)
        results[velocity] = [m.velocity for _, m in note_ons(out, JAMD)]
    assert results[30] and results[120]
    assert max(results[30]) <= 40 and min(results[120]) >= 110


def test_out_of_range_notes_folded(folk_model):
    low, high = folk_model.vocab.pitch_range
    engine = make_engine(folk_model)
    fed = spy_tokens(folk_model)
    notes = [(0.0, 0.25, high + 13), (0.5, 0.75, low - 11)]
    run(engine, note_events(notes), until=1.0)
    pitches = [token_pitches(folk_model.vocab.tokens[t]) for t in fed if t not in (REST_ID, HOLD_ID, START_ID)]
    assert len(pitches) == 2
    for (played_pitch,), (_, _, played) in zip(pitches, notes):
        assert low <= played_pitch <= high
        assert played_pitch % 12 == played % 12


def test_chords_fold_to_a_known_token(folk_model):
    engine = make_engine(folk_model)
    fed = spy_tokens(folk_model)
    chord = [(0.0, 0.5, 60), (0.01, 0.5, 64), (0.02, 0.5, 67)]
    run(engine, note_events(chord), until=1.0)
    pitched = [t for t in fed if t not in (REST_ID, HOLD_ID, START_ID)]
    assert pitched == [folk_model.vocab.nearest_id([60, 64, 67])]


def test_a_stuck_key_does_not_keep_jamd_from_answering_for_ever(folk_model):
    # The last note-off of the phrase is lost (cable pulled, message dropped).
    engine = make_engine(folk_model)
    phrase = tune(until=6.0)
    lost_off = phrase.pop()
    ons = note_ons(run(engine, phrase, until=lost_off[0] + 7 * BAR), JAMD)
    assert ons, "one stuck key silenced jamd"
    assert ons[0][0] > lost_off[0] + 3 * BAR  # a long held note is still a held note first


def test_the_players_all_notes_off_releases_their_stuck_keys(folk_model):
    engine = make_engine(folk_model)
    phrase = tune(until=6.0)
    lost_off = phrase.pop()
    panic = (lost_off[0], mido.Message("control_change", channel=0, control=123, value=0))
    ons = note_ons(run(engine, phrase + [panic], until=lost_off[0] + 3 * BAR), JAMD)
    assert ons and ons[0][0] == pytest.approx(lost_off[0] + BAR)


def test_the_live_input_path_skipping_the_step_check_plays_the_same(folk_model):
    """The service passes tick=False for a message that came before the engine's next step, as
    it does live: jamd must play exactly what it plays with the check, answers and barge-ins included."""
    phrase = tune(until=6.0)
    again = [(t + phrase[-1][0] + 1.5 * BAR, m) for t, m in phrase]  # barges in on the answer

    def drive(engine, skip_check):
        out = []
        for when, msg in phrase + again:
            while engine.next_tick_time() <= when:  # the service's loop: steps due by now first
                out += engine.tick(engine.next_tick_time())
            out += engine.handle(msg, when, tick=not skip_check)
        return out + engine.tick(again[-1][0] + 4 * BAR)

    folk_model.reset()
    with_check = drive(make_engine(folk_model, seed=3), skip_check=False)
    folk_model.reset()
    engine = make_engine(folk_model, seed=3)
    without = drive(engine, skip_check=True)
    assert [(t, m.bytes()) for t, m in without] == [(t, m.bytes()) for t, m in with_check]
    assert engine.stats["answers"] >= 1 and engine.stats["barge_ins"] >= 1
    assert_hygienic(without)

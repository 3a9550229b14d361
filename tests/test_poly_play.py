"""The polyphonic behaviours (daemon/poly_play.py) with fixed probabilities: no model needed."""

import numpy as np
import pytest

from jamd.daemon import harmony
from jamd.daemon.config import Config, key_name
from jamd.daemon.modes import Player
from jamd.daemon.poly_encoding import STEP, PolyVocabulary, off_token, on_token, token_pitch
from jamd.daemon.poly_play import Harmonize, PolyDuet, PolyRespond, PolyTokens, imagine

VOCAB = PolyVocabulary.piano()


class FixedModel:
    """A stand-in for StepModel: the same probabilities after every token, ``step`` weighing ``end``."""

    def __init__(self, end=0.2, favour=None):
        self.probs = np.full(len(VOCAB), 1.0)
        self.probs[VOCAB.id("start")] = 0.0
        self.probs[VOCAB.id(STEP)] = 0.0
        if favour is not None:  # the pitches a fake "style" prefers
            for pitch in favour:
                self.probs[VOCAB.id(on_token(pitch))] = 50.0
        self.probs *= (1 - end) / self.probs.sum()
        self.probs[VOCAB.id(STEP)] = end
        self.fed: list[str] = []
        self.steps = 0
        self.sidecar = type("Sidecar", (), {"extra": {}})()  # no ``degree_chords``: the model alone

    def feed(self, token, bar_step=0, bar_steps=0):
        self.fed.append(VOCAB.tokens[token])
        self.steps += 1

    def probabilities(self):
        return self.probs.copy()

    def get_state(self):
        return (len(self.fed),)

    def set_state(self, state):
        del self.fed[state[0]:]


class Clock:
    steps_per_beat = 4
    step = 0

    def is_beat(self, step):
        return step % 4 == 0


class Hub:
    def __init__(self, model, seed=0, texture=()):
        self.model, self.poly_tokens = model, PolyTokens(VOCAB)
        self.texture = set(texture)
        self.player, self.clock, self.config = Player(), Clock(), Config(beats_per_bar=4, answer_bars=1)
        self.rng = np.random.default_rng(seed)
        self.stats = {"answers": 0}
        self.keys: set[int] = set()

    def position(self, step):
        return step % 16, 16

    def key_weights(self):
        return np.ones(128)

    def scale_weights(self):
        return np.ones(128)

    def clash_weights(self, sounding):
        return np.ones(128)

    def in_range(self):
        return np.ones(128, bool)

    def key(self):
        return key_name(self.config.key) if self.config.key else harmony.key_of(self.player.counts)

    def player_keys(self):
        return set(self.keys)


@pytest.mark.parametrize("seed", range(40))
def test_an_imagined_step_is_a_step_the_encoding_can_say_and_the_state_is_left_as_it_was(seed):
    model = FixedModel(end=0.15)
    hub = Hub(model, seed)
    sounding = {48, 60, 64, 67}
    offs, ons = imagine(hub, sounding, (0, 16), on_below=72)
    assert set(offs) <= sounding and offs == sorted(offs, reverse=True) and len(set(offs)) == len(offs)
    assert ons == sorted(ons, reverse=True) and len(set(ons)) == len(ons)
    assert all(p < 72 for p in ons), "an onset above the register it was given"
    assert not set(ons) & (sounding - set(offs)), "struck a pitch that still sounds"
    assert model.fed == [] and model.steps == 0, "the imagined tokens reached the model's real state"


def test_a_step_that_must_strike_always_strikes():
    model = FixedModel(end=0.95)  # a model that would mostly let the step pass in silence
    struck = [imagine(Hub(model, seed), set(), (0, 16), must_strike=True)[1] for seed in range(30)]
    assert all(struck), "an answer began on a silent step"


def test_harmonize_gives_the_model_the_players_note_first_and_writes_the_voices_under_it():
    model = FixedModel(end=0.3)
    hub = Hub(model, texture={67, 55, 48})  # the melody's last note and two voices of jamd's
    harmonize = Harmonize()
    harmonize.mine = {55, 48}
    harmonize.melody = 67
    hub.keys = {67}  # legato: the player still holds the old note as they strike the new one
    seen = []
    model.feed = lambda token, *pos: seen.append(VOCAB.tokens[token])  # what the imagination fed
    for seed in range(20):
        hub.rng = np.random.default_rng(seed)
        harmonize.listening = 0
        seen.clear()
        harmonize.hear({72}, hub)
        assert seen[0] == off_token(67), "the melody's last note did not end as the new one began"
        first_on = next(t for t in seen if t.startswith("on:"))
        assert first_on == on_token(72), "the model wrote a voice before it was given the melody"
        assert all(token_pitch(t) < 72 for t in seen if t.startswith("on:") and t != on_token(72))
        harmonize.mine = {55, 48}
        harmonize.melody = 67


def _play(behaviour, hub, steps, player_at):
    """Run ``decide`` over ``steps``; the player strikes ``player_at[step]`` (a pitch) on those steps.
    Returns {step: Move}."""
    moves = {}
    for step in range(steps):
        pitch = player_at.get(step)
        hub.player.hear(5 if pitch else 1, {pitch} if pitch else set(), set())
        move = behaviour.decide(step + 1, hub)
        if move is not None:
            moves[step + 1] = move
    return moves


def test_an_answer_comes_in_on_a_beat_with_a_note_and_leaves_nothing_sounding():
    hub = Hub(FixedModel(end=0.6))
    respond = PolyRespond()
    phrase = {0: 60, 2: 62, 4: 64, 6: 65, 9: 67}  # a bar's phrase, the last note off the beat
    moves = _play(respond, hub, 48, phrase)
    first = min(moves)
    assert first % 4 == 0 and first > 9, f"the answer came in on step {first}, not on a beat after the phrase"
    assert moves[first].ons, "the answer began without a note"
    assert respond.mine == set() and not respond.active, "the answer left notes sounding"
    assert all(set(m.offs) <= set(range(128)) for m in moves.values())


def test_a_duet_waits_for_the_key_then_plays_under_the_player():
    hub = Hub(FixedModel(end=0.5))
    duet = PolyDuet()
    melody = {s: p for s, p in zip(range(0, 64, 4), [72, 74, 76, 77, 79, 77, 76, 74] * 2)}
    moves = _play(duet, hub, 64, melody)
    assert min(moves) > 12, "the duet played before hearing four notes"
    for step, move in moves.items():
        last = melody[max(s for s in melody if s < step)]  # the player's last note before the step
        assert all(p < last for p in move.ons), f"step {step}: jamd struck above the player's {last}"


def test_harmonize_steers_voices_away_from_parallel_fifths_and_octaves_with_the_melody():
    from jamd.daemon.poly_play import PARALLEL, parallel_weights

    weights = parallel_weights([(67, 69)], [55, 48])  # melody G4 -> A4 over G3 and C3
    assert weights[57] == PARALLEL, "G3 -> A3 under G4 -> A4 is parallel octaves"
    assert weights[50] == PARALLEL, "C3 -> D3 under G4 -> A4 is parallel fifths"
    assert weights[53] == 1.0 and weights[55] == 1.0, "contrary motion and a held voice are fine"
    assert (parallel_weights([(67, 67)], [55]) == 1.0).all(), "a melody that stays moves nothing in parallel"


def test_harmonize_voices_the_chord_the_chorales_put_under_the_melody_degree():
    from jamd.daemon import chords

    def chords_written(table):
        model = FixedModel(end=0.3)
        model.sidecar.extra = {"degree_chords": table} if table else {}
        found = []
        for seed in range(30):
            hub = Hub(model, seed)
            for pitch in (60, 64, 67, 72, 71, 67, 65, 64, 62, 60):  # C major heard
                hub.player.hear(5, {pitch}, set())
            harmonize = Harmonize()
            harmonize.listening = 0
            move = harmonize.hear({72}, hub)  # C5: degree 0
            found.append(chords.triad(chords.identify(list(move.ons) + [72])))
        return found

    # Under the tonic, Bach's chorales write I, then vi, then IV (relative roots 0, 9, 5).
    table = {"major": {"0": {"0": 60, "9m": 25, "5": 15}}, "minor": {}, "chorales": 1}
    steered = chords_written(table)
    alone = chords_written(None)
    tonic = sum(c == (0, "") for c in steered)
    assert tonic >= 8, f"the table's commonest chord, C, voiced {tonic} times of 30: {steered}"
    assert tonic > 2 * sum(c == (0, "") for c in alone), "the prior did not change what the voices write"
    assert sum(c in {(0, ""), (9, "m"), (5, "")} for c in steered) >= 25, steered


def test_parallel_moves_counts_fifths_and_octaves_moving_together():
    from jamd.daemon.poly_play import parallel_moves

    assert parallel_moves([67, 60, 48], [69, 62, 50]) == 3, "C-G over C moving up a step: 5th, 8ve, 12th"
    assert parallel_moves([67, 60], [67, 62]) == 0, "a held melody note is not a parallel"
    assert parallel_moves([67, 55], [69, 53]) == 0, "octaves by contrary motion are fine"
    assert parallel_moves([72, 64], [74, 65]) == 0, "a third moving to a sixth is not a fifth"
    assert parallel_moves([None, 60, 53], [62, 55]) == 1, "voices pair high to low, a silent one left out"


def test_a_configured_key_places_the_melody_degree_before_any_note_is_heard():
    from jamd.daemon.poly_play import ChordPrior

    table = {"major": {"0": {"0": 90, "7": 10}}, "minor": {"0": {"0m": 90, "5m": 10}}, "chorales": 1}
    hub = Hub(FixedModel())
    hub.config = Config(beats_per_bar=4, key="Am")
    prior = ChordPrior(table, hub, 69)  # A4: the tonic of A minor
    assert prior.log_p([69, 64, 60, 45]) > prior.log_p([69, 65, 62, 50]) > prior.log_p([69, 64, 61, 57]), \
        "under A minor's tonic, Am should beat Dm, and Dm an A major chord the table never wrote"
    hub.config = Config(beats_per_bar=4)
    assert ChordPrior(table, hub, 69).log_p([69, 64, 60, 45]) == 0.0, "no key heard nor configured: no prior"


def test_a_low_temperature_for_the_notes_does_not_cut_their_lengths_short():
    # A note sounds; the model ends it half the time (0.5), ends the step 30%, strikes some note 20%.
    model = FixedModel(end=0.3)
    ons = [VOCAB.id(on_token(p)) for p in range(21, 109)]
    model.probs[:] = 0.0
    model.probs[ons] = 0.2 / len(ons)
    model.probs[VOCAB.id(off_token(60))] = 0.5
    model.probs[VOCAB.id(STEP)] = 0.3

    def ended(**temperatures):
        hub = Hub(model, texture={60})
        return np.mean([60 in imagine(hub, {60}, (0, 16), **temperatures)[0] for _ in range(400)])

    assert ended(temperature=0.3) > 0.85, "one low temperature: the likeliest token, the end, nearly always"
    assert 0.4 < ended(temperature=0.3, timing_temperature=1.0) < 0.6, "the end as often as the model says"

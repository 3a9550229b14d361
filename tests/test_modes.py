"""Each mode's behaviour on fixed probabilities: no model, a small hub that scores every step the same."""

import numpy as np
import pytest

from jamd.daemon import modes
from jamd.daemon.accompany import Chords
from jamd.daemon.clock import Clock
from jamd.daemon.config import Config
from jamd.daemon.encoding import HOLD_ID, REST_ID, Vocabulary
from jamd.daemon.harmony import Palette, consonance, key_of
from jamd.daemon.model import sample
from jamd.daemon.modes import RELEASE, Duet, Next, Player, Respond

PITCHES = tuple(range(55, 85))
VOCAB = Vocabulary(("start", "rest", "hold", *map(str, PITCHES)))
BAR = 16  # steps: 4/4 at 4 steps a beat


def probs(**weights):
    """A distribution over VOCAB from weights by token: hold=0.2, p67=0.5, ..."""
    out = np.zeros(len(VOCAB))
    for name, w in weights.items():
        out[{"hold": HOLD_ID, "rest": REST_ID}.get(name) or VOCAB.id(name[1:])] = w
    return out / out.sum()


class Hub:
    """What a behaviour asks of the engine, with fixed probabilities and the likeliest token drawn."""

    def __init__(self, now, later=None, recalled=None, **settings):
        self.recalled = recalled  # the note-level memory's next note (MIDI pitch), or none
        self.clock = Clock(120.0, 4)
        self.config = Config(**{"beats_per_bar": 4, **settings})
        self.player = Player()
        self.palette = Palette(VOCAB)
        self.stats = {"answers": 0}
        self.now, self.later = now, later if later is not None else now
        self.outputs = ()

    def probabilities(self):
        return self.now.copy()

    def draw(self, p):
        return sample(p, 0.0, 0, np.random.default_rng(0))

    def look_ahead(self, steps):
        return [self.now.copy()] + [self.later.copy() for _ in range(steps - 1)]

    def next_notes(self):
        notes = np.full(128, 0.01)
        if self.recalled is not None:
            notes[self.recalled] = 1.0
        return notes / notes.sum()

    def key(self):
        return key_of(self.player.counts)


def drive(hub, behaviour, notes, until):
    """Play ``notes`` (start step, length in steps, pitch) into ``behaviour``; what it sounds, by step."""
    played = {}
    for k in range(until):
        onsets = {p for s, _, p in notes if s == k}
        held = {(0, p) for s, n, p in notes if s <= k < s + n}
        token = VOCAB.nearest_id(onsets) if onsets else (HOLD_ID if held else REST_ID)
        behaviour.heard(k, token)
        hub.player.hear(token, onsets, held)
        sound = behaviour.decide(k + 1, hub)
        if sound is not None:
            played[k + 1] = sound
    return played


def phrase(pitches, length, every=4):
    return [(i * every, length, p) for i, p in enumerate(pitches)]


C_MAJOR = (60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 62, 60, 64, 67, 65, 62)  # four bars of quarters


@pytest.mark.parametrize("length", [4, 1], ids=["legato", "detached"])
def test_answer_comes_in_on_the_beat_whatever_the_touch(length):
    hub = Hub(probs(p67=0.5, p69=0.3, hold=0.2))
    played = drive(hub, Respond(), phrase(C_MAJOR, length), until=6 * BAR)
    first = min(played)
    assert first % 4 == 0, f"the answer began off the beat, at step {first}"
    assert first == 5 * BAR  # the first beat after a bar of silence, for both touches
    assert hub.stats["answers"] == 1


def test_answer_varies_its_notes_rather_than_repeating_one():
    # The model would sing G again and again; A is a little less likely.
    hub = Hub(probs(p67=0.5, p69=0.4, hold=0.1))
    played = drive(hub, Respond(), phrase(C_MAJOR, 4), until=8 * BAR)
    line = [max(s) for _, s in sorted(played.items()) if s]
    assert len(line) > 4 and all(a != b for a, b in zip(line, line[1:])), line


def test_answer_steps_rather_than_leaps_more_than_a_fifth():
    # The phrase ends on D4; the model likes D5 a little more than E4.
    hub = Hub(probs(p74=0.45, p64=0.35, hold=0.2))
    played = drive(hub, Respond(), phrase(C_MAJOR, 4), until=6 * BAR)
    assert played[min(played)] == (64,)


def test_answer_ends_on_a_long_note_of_the_heard_keys_tonic_triad():
    a_minor = (57, 60, 64, 69, 67, 64, 62, 60, 59, 60, 64, 57, 69, 64, 60, 57)
    hub = Hub(probs(p71=0.6, p62=0.3, p64=0.01, hold=0.09))  # the model wants B and D, hardly E
    played = drive(hub, Respond(), phrase(a_minor, 4), until=9 * BAR)
    steps = sorted(played)
    assert played[steps[-1]] == RELEASE
    final_step, final = steps[-2], played[steps[-2]]
    assert final and final[0] % 12 in {9, 0, 4}, final  # A, C or E
    assert steps[-1] - final_step == 8  # it rings half a bar, to the answer's end


@pytest.mark.parametrize("bars, answer_bars, expected", [(1, 2.0, 1), (4, 2.0, 2), (4, 8.0, 4)])
def test_answer_is_as_long_as_the_phrase_within_answer_bars(bars, answer_bars, expected):
    hub = Hub(probs(p67=0.5, p69=0.3, hold=0.2), answer_bars=answer_bars)
    played = drive(hub, Respond(), phrase(C_MAJOR[:4 * bars], 4), until=(bars + 12) * BAR)
    steps = sorted(played)
    assert played[steps[-1]] == RELEASE and steps[-1] - steps[0] == expected * BAR


def test_answer_prefers_the_notes_the_player_played():
    hub = Hub(probs(p66=0.35, p67=0.3, hold=0.35))  # F# is likelier, but the phrase was in C major
    played = drive(hub, Respond(), phrase(C_MAJOR, 4), until=6 * BAR)
    assert played[min(played)] == (67,)


def test_a_players_note_stops_the_answer():
    respond = Respond()
    drive(Hub(probs(p67=0.5, hold=0.5)), respond, phrase(C_MAJOR, 4), until=5 * BAR + 2)
    assert respond.stops_on_note and respond.active
    respond.stop()
    assert not respond.active


def test_duet_waits_until_it_has_heard_the_key():
    hub = Hub(probs(p64=0.5, p67=0.3, hold=0.2))
    played = drive(hub, Duet(), phrase(C_MAJOR, 4), until=4 * BAR)
    assert min(played) > 3 * 4, "duet played before the player's fourth note"


def test_duet_sounds_in_its_own_register_under_the_player():
    hub = Hub(probs(p72=0.4, p76=0.4, hold=0.2))
    notes = phrase((72, 76, 79, 84, 79, 76, 72, 76), 4)
    played = drive(hub, Duet(), notes, until=2 * BAR)
    sounded = [p for s in played.values() for p in s]
    assert sounded and all(50 <= p <= 66 for p in sounded), sounded


def test_duet_takes_a_third_not_a_second_against_the_note_held():
    # The player holds C; the model would say D (a second) before E (a third).
    hub = Hub(probs(p62=0.45, p64=0.35, rest=0.2))
    duet = Duet()
    drive(hub, duet, phrase((60, 67, 64, 60), 4), until=15)
    hub.player.hear(HOLD_ID, set(), {(0, 60)})
    assert duet.decide(16, hub)[0] % 12 == 4


def test_duet_line_moves_by_step_rather_than_by_skip():
    # The player has played C, A and E and stopped; the model likes E a little more than A, and
    # jamd last played G: A is a step from it, E a skip.
    hub = Hub(probs(p64=0.45, p69=0.4, rest=0.15))
    duet = Duet()
    drive(hub, duet, phrase((60, 69, 64, 60), 2), until=23)
    duet.last = 55
    assert duet.decide(24, hub)[0] % 12 == 9


@pytest.mark.parametrize("guess, first", [(64, 2), (69, 1)], ids=["E clashes with F", "A fits F"])
def test_next_guess_that_clashes_with_the_held_note_waits_until_it_is_likely_over(guess, first):
    # The player strikes F and holds it; a note is unlikely now (0.1), likely a step later (0.6 of 0.9).
    hub = Hub(probs(**{f"p{guess}": 0.1, "hold": 0.9}), later=probs(**{f"p{guess}": 0.6, "hold": 0.4}))
    played = drive(hub, Next(), [(0, 8, 65)], until=8)
    assert min(played) == first and played[first] == (guess,)


def test_next_guess_is_the_likeliest_note_over_when_it_may_come():
    # A is likelier on the very next step, G over the beat after it.
    hub = Hub(probs(p69=0.3, hold=0.7), later=probs(p67=0.5, hold=0.5))
    played = drive(hub, Next(), [(0, 8, 64)], until=6)
    assert played[min(played)] == (67,)


@pytest.mark.parametrize("stm_strength, guess", [(0.25, 64), (0.0, 67)], ids=["recalled", "memory off"])
def test_next_guess_leans_to_the_note_that_followed_these_notes_before(stm_strength, guess):
    # The model leans to G a little; earlier in the session E followed these notes.
    hub = Hub(probs(p67=0.3, p64=0.25, p62=0.2, hold=0.25), recalled=64, stm_strength=stm_strength)
    played = drive(hub, Next(), [(0, 8, 60)], until=6)
    assert played[min(played)] == (guess,)


@pytest.mark.parametrize("evidence, guesses", [(0.5, [64] + [67] * 5), (None, [64] * 6)], ids=["weighed", "off"])
def test_next_trusts_the_memory_less_once_the_model_guessed_the_players_notes_better(monkeypatch, evidence, guesses):
    # The session's memory insists on E after every note, the model leans to G; the player plays G
    # again and again. Weighed by how each guessed the notes so far, the guess turns to G.
    monkeypatch.setattr(modes, "EVIDENCE", evidence)
    hub = Hub(probs(p67=0.5, p64=0.2, p62=0.05, hold=0.25), recalled=64)
    played = drive(hub, Next(), phrase((60, 67, 67, 67, 67, 67), 4), until=24)
    assert [played[k][0] for k in sorted(played) if played[k]] == guesses


def test_next_releases_its_guess_after_a_beat():
    hub = Hub(probs(p67=0.9, hold=0.1))
    played = drive(hub, Next(), [(0, 1, 60)], until=8)
    assert played == {1: (67,), 5: RELEASE}


class ChordHub(Hub):
    def __init__(self, sequence, **settings):
        super().__init__(probs(hold=1.0), **settings)
        self.outputs = ("N", "C", "G")
        self.sequence = iter(sequence)

    def probabilities(self):
        return np.array(next(self.sequence))


def test_chords_change_readily_on_the_bar_line_and_hold_between():
    # From step 1 on, G is a little likelier than C on every beat.
    beats = [[0.0, 0.9, 0.1]] + [[0.0, 0.45, 0.55]] * 8
    hub = ChordHub(beats, chord_wait=0.0)
    played = drive(hub, Chords(keep_bar=1.0, keep_half=0.5, keep_beat=0.5), [(0, 40, 67)], until=2 * BAR)
    changes = sorted(played)
    assert changes == [4, 16], changes  # C from the first beat, G on the next bar line, not before
    assert set(played[16]) >= {43, 55, 59, 62}  # G in the bass, G B D above


@pytest.mark.parametrize("likelier_from, change_at", [(8, 8), (12, 16)])
def test_chords_change_on_the_half_bar_but_not_on_beats_2_and_4(likelier_from, change_at):
    # G becomes 3x likelier than C: enough for the half bar (keep 0.5), not for beat 4 (keep 0.2).
    c, g = [0.0, 0.75, 0.25], [0.0, 0.25, 0.75]
    hub = ChordHub([c if step < likelier_from else g for step in range(4, 2 * BAR + 1, 4)], chord_wait=0.0)
    played = drive(hub, Chords(keep_bar=1.0, keep_half=0.5, keep_beat=0.2), [(0, 40, 67)], until=2 * BAR)
    assert sorted(played) == [4, change_at]


@pytest.mark.parametrize("struck, chord", [(71, "G"), (64, "C")])
def test_chords_wait_for_the_note_struck_on_the_beat(struck, chord):
    hub = ChordHub([[0.0, 0.5, 0.5]] * 2)  # the model cannot tell C from G
    chords = Chords()
    drive(hub, chords, [(0, 3, 67)], until=3)  # G before the beat: in both chords
    assert chords.decide(4, hub) is None and chords.listening == 4  # on the beat: listen first
    sound = chords.hear({struck}, hub)
    assert chords.listening is None and hub.outputs[chords.chord] == chord
    assert sound[0] == {"G": 43, "C": 36}[chord]  # the root in the bass


def test_the_key_heard_tells_relative_minor_from_major():
    counts = np.zeros(12)
    for pc, n in ((9, 5), (0, 3), (4, 4), (11, 2), (2, 1), (8, 2)):  # A C E B D G#: A minor
        counts[pc] = n
    assert key_of(counts) == (9, True)
    assert np.argmax(consonance(np.eye(12)[0])) in (3, 4, 8, 9)  # a third or sixth from C

"""The short-term model: jamd picks up the player's own phrases while it plays."""

from pathlib import Path

import mido
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from jamd.daemon import modes
from jamd.daemon.blend import FIRST_PITCH, ShortTerm, blend, relative_entropy
from jamd.daemon.encoding import HOLD_ID, REST_ID, START_ID, token_pitches
from jamd.daemon.model import load_model
from engine_helpers import TEMPO, make_engine, note_events, note_ons, run

JAMD = 1  # channel 2 on the wire
V = 40
# A motif no folk song would suggest: leaps of a fifth, a fourth up and down, a seventh.
MOTIF = [62, 69, 65, 72, 60, 67, 71, 64]
MOTIF_STEPS = {(MOTIF[i], MOTIF[(i + 1) % len(MOTIF)]) for i in range(len(MOTIF))}


def distribution(weights) -> np.ndarray:
    p = np.asarray(weights, np.float64)
    return p / p.sum()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=V, max_size=V).filter(lambda w: sum(w[FIRST_PITCH:]) > 1e-3),
       st.lists(st.floats(1e-6, 1.0), min_size=V, max_size=V),
       st.floats(0.0, 1.0))
def test_blend_is_a_distribution(lstm, stm, strength):
    p = blend(distribution(lstm), distribution(stm), strength)
    assert p.shape == (V,) and np.all(p >= 0.0)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.array_equal(blend(distribution(lstm), distribution(stm), strength, out=np.empty(V)), p)


def test_strength_zero_is_the_lstm_exactly():
    rng = np.random.default_rng(0)
    lstm, stm = distribution(rng.random(V)), distribution(rng.random(V))
    assert blend(lstm, stm, 0.0) is lstm
    short = ShortTerm(V)
    for token in [5, 6, 7, 5, 6, 7, 5, 6]:
        short.learn(token)
        assert short.blend(lstm, 0.0) is lstm
    assert len(short.ppm) > 0, "it learns at strength 0, so turning it up uses what was played"


def test_a_confident_short_term_model_pulls_the_distribution_but_not_the_rhythm():
    rng = np.random.default_rng(1)
    lstm = distribution(rng.random(V))
    sure = distribution([1e-4] * V)
    sure[12] = 1.0
    sure = distribution(sure)
    unsure = distribution(np.ones(V))
    p_sure, p_unsure = blend(lstm, sure, 0.25), blend(lstm, unsure, 0.25)
    assert p_sure[12] > 2 * lstm[12]
    assert p_sure[12] > p_unsure[12], "a sure short-term model must weigh more than a uniform one"
    assert p_sure[12] > blend(lstm, sure, 0.05)[12], "strength scales the pull"
    # Whether a note starts stays the LSTM's call: silence must not feed on itself.
    for token in (REST_ID, HOLD_ID):
        assert p_sure[token] == lstm[token]


def test_relative_entropy_goes_from_certain_to_uniform():
    assert relative_entropy(distribution([1.0] + [0.0] * (V - 1))) == pytest.approx(1e-6)
    assert relative_entropy(distribution(np.ones(V))) == pytest.approx(1.0)


def test_short_term_model_learns_a_repeated_phrase():
    short = ShortTerm(V)
    phrase = [10, HOLD_ID, 17, 13, HOLD_ID, 20]
    uniform = distribution(np.ones(V))
    for token in phrase * 3 + phrase[:3]:
        short.learn(token)
    assert int(np.argmax(short.blend(uniform, 0.25))) == 13
    short.forget()
    assert len(short.ppm) == 0


def test_short_term_memory_stays_bounded_however_long_jamd_plays():
    rng = np.random.default_rng(2)
    short = ShortTerm(V, window=256)
    uniform = distribution(np.ones(V))
    sizes = []
    for i in range(4000):
        short.learn(int(rng.integers(1, V)))
        short.blend(uniform, 0.25)
        if i % 1000 == 999:
            sizes.append(len(short.ppm))
    # Every learned token adds at most one context per order, and the window forgets them.
    assert max(sizes) <= 256 * (short.order + 1)
    assert sizes[-1] <= sizes[1] * 1.1, f"contexts kept growing: {sizes}"


def motif_steps_in_answer(model, strength: float, seed: int, mode: str) -> tuple[int, int]:
    """(jamd's note-to-note steps that are steps of the motif, all its steps) after 4 bars of the motif."""
    notes = [(i * 0.25, (i + 1) * 0.25 - 0.01, MOTIF[i % len(MOTIF)]) for i in range(4 * len(MOTIF))]
    end = notes[-1][1]
    engine = make_engine(model, seed=seed, mode=mode, stm_strength=strength, beats_per_bar=4)
    fed = []
    feed = model.feed
    model.feed = lambda token, *position: fed.append(token) or feed(token, *position)
    try:
        out = run(engine, note_events(notes), until=end + 8.0)
    finally:
        model.feed = feed
    if mode == "duet":
        # The duet voice sounds in its own register, under the player's: its line is the tokens it
        # feeds back, one a step, in the model's (and the motif's) register.
        after = fed[round(end / (60.0 / TEMPO / model.steps_per_beat)) + 1:]
        played = [max(token_pitches(model.vocab.tokens[t])) for t in after if t not in (START_ID, REST_ID, HOLD_ID)]
    else:
        played = [msg.note for t, msg in note_ons(out, JAMD) if t >= end]
    steps = list(zip(played, played[1:]))
    return sum(s in MOTIF_STEPS for s in steps), len(steps)


@pytest.mark.parametrize("mode", ["respond", "duet"])
def test_a_player_who_repeats_a_motif_hears_jamd_continue_it(folk_model, mode):
    """Eighth notes at 120 bpm, four bars of one motif; then jamd plays on (answers, or carries the duet)."""
    def tally(strength):
        counts = [motif_steps_in_answer(folk_model, strength, seed, mode) for seed in range(12)]
        return sum(c[0] for c in counts), sum(c[1] for c in counts)

    alone, alone_n = tally(0.0)
    blended, blended_n = tally(0.25)
    assert alone_n > 50 and blended_n > 50, "jamd barely played"
    print(f"{mode}: motif steps LSTM alone {alone}/{alone_n}, with the short-term model {blended}/{blended_n}")
    # The v2 folk model continues a repeated motif more by itself (about 7-9% of steps, v1 2%), so the
    # blend is asked for more than double that and ten points more, not a multiple of a near-zero.
    # The duet's line weighs a leap 0.05 (modes.LINE), and this motif is leaps: there five points.
    gain = {"respond": 0.10, "duet": 0.05}[mode]
    assert blended / blended_n > max(2 * alone / alone_n, alone / alone_n + gain)


def test_controllers_set_the_strength_and_make_jamd_forget(folk_model):
    engine = make_engine(folk_model, mode="duet")
    cc = lambda control, value: mido.Message("control_change", channel=0, control=control, value=value)  # noqa: E731
    notes = [(i * 0.25, (i + 1) * 0.25 - 0.01, MOTIF[i % len(MOTIF)]) for i in range(16)]
    run(engine, note_events(notes) + [(4.5, cc(28, 127))], until=5.0)
    assert engine.config.stm_strength == 1.0
    assert len(engine.stm.ppm) > 0
    run(engine, [(5.5, cc(29, 127))], until=6.0)
    learned_since = 0.5 / 0.125 + 1  # grid steps after the reset, each learned again
    assert len(engine.stm.ppm) <= learned_since * (engine.stm.order + 1)
    run(engine, [(6.5, cc(28, 0))], until=7.0)
    assert engine.config.stm_strength == 0.0


def test_a_chords_model_is_not_blended():
    """A chords model scores chord symbols, not the melody tokens it is fed: nothing to blend."""
    path = Path(__file__).parents[1] / "models" / "nottingham-chords.onnx"
    if not path.exists():
        pytest.skip("models/nottingham-chords.onnx not built (make models)")
    model = load_model(path)
    short = ShortTerm.for_model(model)
    lstm = model.step(5)
    short.learn(5)
    assert short.blend(lstm, 1.0) is lstm
    assert len(short.ppm) == 0


def test_note_memory_recalls_what_followed_the_same_notes():
    short = ShortTerm(V)
    for pitch in (60, 62, 64, 67, 60, 62, 64, 67, 60, 62):
        short.learn_note(pitch)
    assert int(np.argmax(short.next_notes())) == 64
    short.reset()  # a new phrase: the context goes, what was learned stays
    short.learn_note(60)
    assert int(np.argmax(short.next_notes())) == 62
    short.forget()
    assert len(short.notes) == 0


def next_guesses_of_a_motif(model, seed: int) -> tuple[int, int]:
    """(guesses that were the motif's next note, player notes) over the 3rd and 4th time the
    motif is played, each time in another rhythm (eighths, dotted, quarters, swung)."""
    rhythms = [(0.25,), (0.375, 0.125), (0.5,), (0.3, 0.2)]
    notes, now = [], 0.0
    for rhythm in rhythms:
        for i, pitch in enumerate(MOTIF):
            length = rhythm[i % len(rhythm)]
            notes.append((now, now + length - 0.02, pitch))
            now += length
    engine = make_engine(model, seed=seed, mode="next", beats_per_bar=4)
    ons = note_ons(run(engine, note_events(notes), until=now + 1.0), JAMD)
    later = notes[2 * len(MOTIF):]
    correct = 0
    for (start, _, _), (next_start, _, next_pitch) in zip(later, later[1:]):
        guesses = [m.note for t, m in ons if start < t <= next_start + 1e-6]
        correct += bool(guesses) and guesses[0] == next_pitch
    return correct, len(later) - 1


def test_next_guesses_a_motif_played_again_however_it_is_timed(folk_model, monkeypatch):
    """The note-level memory knows which note followed these notes, whatever their rhythm was; the
    grid-step one only in the rhythm it heard."""
    def tally():
        counts = [next_guesses_of_a_motif(folk_model, seed) for seed in range(3)]
        return sum(c[0] for c in counts) / sum(c[1] for c in counts)

    remembered = tally()
    monkeypatch.setattr(modes, "NOTES", 0.0)
    alone = tally()
    print(f"next: motif's next note guessed {alone:.0%} without the note memory, {remembered:.0%} with it")
    assert remembered >= 0.8 and remembered >= alone + 0.2

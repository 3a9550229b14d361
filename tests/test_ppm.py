"""The PPM n-gram model: the evaluation baseline and the daemon's short-term memory."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jamd.daemon.ppm import PPM


@settings(max_examples=40, deadline=None)
@given(
    vocab=st.integers(1, 40),
    order=st.integers(0, 8),
    data=st.data(),
)
def test_probabilities_sum_to_one_and_no_token_is_impossible(vocab, order, data):
    songs = data.draw(st.lists(st.lists(st.integers(0, vocab - 1), max_size=30), max_size=5))
    model = PPM(vocab, order).fit(songs)
    for token in data.draw(st.lists(st.integers(0, vocab - 1), max_size=20)):
        probs = model.distribution()
        assert probs.shape == (vocab,)
        assert math.isclose(probs.sum(), 1.0, rel_tol=1e-9)
        assert (probs > 0).all()
        model.update(token, learn=data.draw(st.booleans()))


def test_a_repeated_motif_becomes_highly_predicted():
    motif = [10, 12, 14, 15, 17, 19, 2, 1, 21, 9]  # no token twice: nothing to learn inside it
    model = PPM(60, order=8)
    before = []
    for repeat in range(4):
        for token in motif:
            p = model.distribution()[token]
            if repeat == 0:
                before.append(p)
            model.update(token)
    after = [None] * len(motif)
    for i, token in enumerate(motif):
        after[i] = model.distribution()[token]
        model.update(token)
    assert max(before) < 0.2
    assert min(after) > 0.8, after


def test_order_zero_on_uniform_data_costs_log2_of_the_vocabulary():
    vocab = 50
    rng = np.random.default_rng(1)
    model = PPM(vocab, order=0).fit([rng.integers(0, vocab, 20_000)])
    test = rng.integers(0, vocab, 5_000)
    bits = 0.0
    for token in test:
        bits -= math.log2(model.distribution()[token])
        model.update(int(token), learn=False)
    assert bits / len(test) == pytest.approx(math.log2(vocab), abs=0.02)


def test_higher_orders_predict_a_deterministic_rule_that_order_zero_cannot():
    rng = np.random.default_rng(2)
    # Each token is decided by the two before it: order 2 can learn it, order 0 cannot.
    rule = rng.integers(0, 12, (12, 12))
    songs = []
    for _ in range(50):
        song = list(rng.integers(0, 12, 2))
        for _ in range(60):
            song.append(int(rule[song[-2], song[-1]]))
        songs.append(song)

    def bits(order):
        model = PPM(12, order).fit(songs[:40])
        total, count = 0.0, 0
        for song in songs[40:]:
            model.reset()
            for token in song:
                total -= math.log2(model.distribution()[token])
                count += 1
                model.update(token, learn=False)
        return total / count

    assert bits(2) < 0.5 * bits(0)


def test_window_forgets_old_tokens_so_the_daemon_memory_stays_bounded():
    rng = np.random.default_rng(3)
    model = PPM(60, order=8, window=256)
    for token in rng.integers(0, 60, 20_000):
        model.update(int(token))
    assert len(model) <= 256 * 9
    # A motif played once then buried under a window's worth of other music is forgotten.
    fresh = PPM(60, order=8, window=256)
    motif = [5, 6, 7, 8, 9, 10, 11, 12]
    for token in motif * 3:
        fresh.update(token)
    remembered = fresh.distribution()[5]
    for token in rng.integers(20, 60, 300):
        fresh.update(int(token))
    fresh.reset()
    for token in motif[:-1]:
        fresh.update(token, learn=False)
    assert remembered > 0.5
    assert fresh.distribution()[12] < 0.05


def test_fitted_counts_are_kept_when_the_window_forgets():
    model = PPM(20, order=2, window=10).fit([[1, 2, 3] * 20])
    for token in [7] * 100:
        model.update(token)
    model.reset()
    model.update(1, learn=False)
    model.update(2, learn=False)
    assert model.distribution()[3] > 0.5


def test_out_of_vocabulary_ids_are_refused():
    with pytest.raises(ValueError, match="outside the vocabulary"):
        PPM(10).update(10)


def formula(learned, context, vocab, order):
    """The module docstring's interpolation, straight from the (context, token) pairs remembered."""
    probs = np.full(vocab, 1.0 / vocab)
    for k in range(min(order, len(context)) + 1):
        suffix = context[len(context) - k:]
        successors = [token for before, token in learned if len(before) >= k and before[len(before) - k:] == suffix]
        if not successors:
            break  # a longer context ending in this one was never seen either
        counts = np.bincount(successors, minlength=vocab)
        n, u = len(successors), np.count_nonzero(counts)
        probs = counts / (n + u) + u / (n + u) * probs
    return probs


def test_distribution_is_the_formula_over_the_window_of_learned_tokens():
    rng = np.random.default_rng(4)
    vocab, order, window = 12, 3, 50
    motif = [1, 5, 3, 5, 8]
    model, learned, context = PPM(vocab, order, window), [], ()
    for i in range(400):
        if i % 70 == 0:
            model.reset()
            context = ()
        token = motif[i % len(motif)] if rng.random() < 0.7 else int(rng.integers(0, vocab))
        assert np.allclose(model.distribution(), formula(learned[-window:], context, vocab, order), rtol=1e-12, atol=0)
        learn = i % 9 != 0
        if learn:
            learned.append((context, token))
        model.update(token, learn)
        context = (context + (token,))[-order:]

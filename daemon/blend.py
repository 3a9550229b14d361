"""The short-term model: what jamd learns from the session it is playing, blended with the LSTM.

IDyOM (Pearce 2005) predicts melodies best when a long-term model (trained on a corpus; here
the LSTM) is combined with a short-term model built from the piece being heard, because a
melody repeats its own motifs. ``ShortTerm`` is that second model: a ``daemon.ppm.PPM`` of
orders 0..``STM_ORDER`` over the session's tokens (the player's and jamd's, one per grid
step), learning as it goes, with a window of ``STM_WINDOW`` steps so memory stays bounded.

Combination (``blend``): IDyOM's entropy-weighted arithmetic mean, over pitches only. The
LSTM alone decides whether a note starts (its probabilities of rest and hold are kept); the
mass it gives to pitches is shared out by the mean of both models' pitch distributions,
each weighted by its relative entropy ``H / log2(V)`` raised to ``-BIAS`` (a model sure of
itself counts for more) and the short-term one also by ``strength`` (0 = the LSTM alone).
Blending rest and hold too made silence feed on itself: after a few bars of rests the
short-term model is sure that rest follows rest, and a muted or unanswered jamd stayed quiet.

Measured on the folk model's 530 validation songs (``jamd-train evaluate folk --stm`` does
the same; tuned on the even-numbered songs, figures from the odd-numbered 265), bits per
step / bits per note / onset accuracy:

    LSTM alone                                          0.997 / 2.779 / 29.2 %
    pitches only, arithmetic, bias 0.5, strength 0.25   0.938 / 2.531 / 40.6 %  (shipped)
    all tokens, arithmetic, bias 1, strength 0.2        0.952 / 2.495 / 40.5 %
    all tokens, geometric, at its best (bias 0, 0.15)   0.957 / 2.625 / 36.1 %
    all tokens, arithmetic, bias 2, strength 1          1.158 / 2.874 / 39.5 %
    all tokens, geometric, bias 2, strength 1           1.439 / 3.886 / 38.8 %

All 530 songs (``jamd-train evaluate folk --stm``): LSTM 1.008 / 2.775 / 29.4 %, LSTM +
short-term 0.950 / 2.534 / 40.5 %, the n-gram baseline 1.294 / 3.234 / 36.9 %.

A larger bias trusts the short-term model whenever it is sure, and early in a piece a PPM is
sure on little evidence.

Cost per grid step (learn, query, blend): about one LSTM step, 25-60 us in plain Python and
numpy (``bench/model_step.py`` prints both side by side), i.e. under 0.05 % of a 125 ms step.
Numpy and the stdlib only: it runs inside the daemon.
"""

from __future__ import annotations

import math

import numpy as np

from daemon.encoding import SPECIAL_TOKENS
from daemon.ppm import PPM

STM_ORDER = 6  # longest context, grid steps: beyond that a session rarely repeats itself exactly
STM_WINDOW = 2048  # tokens remembered: 5 minutes at 100 bpm in 16ths (0.15 s a step)
BIAS = 0.5  # entropy exponent of the weights (measured: see the module docstring)
FIRST_PITCH = len(SPECIAL_TOKENS)  # ids below are start, rest and hold; from here on pitch sets
_FLOOR = 1e-12  # probabilities below this are floored before the log (an LSTM softmax may underflow)


def relative_entropy(probs: np.ndarray, total: float = 1.0) -> float:
    """Entropy of ``probs / total`` over its maximum (log of the size): 0 = certain, 1 = uniform.

    ``total``: the sum of ``probs``, so a slice of a distribution needs no normalised copy.
    """
    # 0 * log(floor) is still 0, so the floor only keeps log(0) out.
    h = math.log(total) - float(probs @ np.log(np.maximum(probs, _FLOOR))) / total
    return max(h / math.log(len(probs)), 1e-6)


def blend(lstm: np.ndarray, stm: np.ndarray, strength: float, bias: float = BIAS) -> np.ndarray:
    """The LSTM's distribution with its pitch part mixed with the short-term model's (float64, sums to 1).

    ``lstm``, ``stm``: probabilities over the same vocabulary (start, rest, hold, pitch sets).
    ``strength``: multiplier of the short-term model's weight (0 = ``lstm`` itself, unchanged).
    ``bias``: exponent of the relative-entropy weights (0 = fixed weights).
    """
    if strength <= 0.0:
        return lstm
    pitches, stm_pitches = lstm[FIRST_PITCH:], stm[FIRST_PITCH:]
    mass, stm_mass = float(pitches.sum()), float(stm_pitches.sum())
    if mass <= 0.0 or stm_mass <= 0.0:
        return lstm
    w_lstm = relative_entropy(pitches, mass) ** -bias
    w_stm = strength * relative_entropy(stm_pitches, stm_mass) ** -bias
    share = w_stm / (w_lstm + w_stm)
    out = lstm.copy()
    # The pitch mass stays the LSTM's; within it, (1 - share) of the LSTM's shape and share of the STM's.
    out[FIRST_PITCH:] *= 1.0 - share
    out[FIRST_PITCH:] += (share * mass / stm_mass) * stm_pitches
    return out


class ShortTerm:
    """The session's short-term model for one melody model's vocabulary.

    ``enabled`` False (a chords model, whose outputs are chords, not the tokens it is fed)
    makes ``step`` return the LSTM's probabilities untouched.
    """

    def __init__(self, vocab_size: int, enabled: bool = True, order: int = STM_ORDER, window: int = STM_WINDOW):
        self.enabled = enabled
        self.order, self.window = order, window
        self.ppm = PPM(vocab_size, order, window)
        self._out = np.empty(vocab_size, np.float64)

    @classmethod
    def for_model(cls, model) -> "ShortTerm":
        """A fresh short-term model for a ``daemon.model.StepModel``."""
        return cls(len(model.vocab), model.sidecar.kind == "melody")

    def step(self, token: int, lstm: np.ndarray, strength: float) -> np.ndarray:
        """Learn ``token`` (the one just fed to the LSTM) and blend what comes next with ``lstm``.

        Learning happens at any strength, so turning the strength up mid-session uses what
        was already played.
        """
        if not self.enabled:
            return lstm
        self.ppm.update(token, learn=True)
        if strength <= 0.0:
            return lstm
        return blend(lstm, self.ppm.distribution(self._out), strength)

    def reset(self) -> None:
        """A new phrase: forget the context, keep what was learned."""
        self.ppm.reset()

    def forget(self) -> None:
        """A new session: forget everything learned."""
        self.ppm = PPM(self.ppm.vocab_size, self.order, self.window)

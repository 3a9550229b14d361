"""The short-term model: what jamd learns from the session it is playing, blended with the LSTM.

IDyOM (Pearce 2005) predicts melodies best when a long-term model (trained on a corpus; here
the LSTM) is combined with a short-term model built from the piece being heard, because a
melody repeats its own motifs. ``ShortTerm`` is that second model: a ``jamd.daemon.ppm.PPM`` of
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

The same model at the level of notes (``next_notes``): the player's melody as a sequence of
pitches, whatever their lengths, orders 0..``NOTE_ORDER``. A grid-step context of 6 steps sees
two or three notes at most, and none after a long one (it is all holds); a note context sees a
motif however it is timed, and a tune's opening bars are mostly its motifs again. next mode
blends it into its guess (``jamd.daemon.modes.Next``; ``bench/next_due.py --setting NOTES`` chose
its weight on held-out tunes no report plays: next correct 46.0% -> 47.0% on folk's, 46.7% ->
48.3% on nottingham's), trusting it more or less as it guessed the player's last notes better or
worse than the model (``jamd.daemon.modes.EVIDENCE``).

Cost (``bench/model_step.py`` prints each beside the LSTM step, 45-75 us on an x86-64 core):
learning a token, every grid step, 4-6 us; querying the short-term model and blending, only on
a step where jamd plays, 9 + 9 us for folk (89 tokens), 10 + 10 us for nottingham (321) and
28 + 16 us for piano (1,625): at most 0.04 % of a 125 ms step. Nothing grows with the session:
the window forgets exactly, and the distributions are written into buffers made once.
Numpy and the stdlib only: it runs inside the daemon.
"""

from __future__ import annotations

import math

import numpy as np

from jamd.daemon.encoding import SPECIAL_TOKENS
from jamd.daemon.ppm import PPM

STM_ORDER = 6  # longest context, grid steps: beyond that a session rarely repeats itself exactly
STM_WINDOW = 2048  # tokens remembered: 5 minutes at 100 bpm in 16ths (0.15 s a step)
BIAS = 0.5  # entropy exponent of the weights (measured: see the module docstring)
FIRST_PITCH = len(SPECIAL_TOKENS)  # ids below are start, rest and hold; from here on pitch sets
NOTE_ORDER = 5  # longest context of the note-level model, in notes (6 and 8 guessed the same)
NOTE_WINDOW = 512  # notes remembered: a few tunes' worth
MIDI_PITCHES = 128
_FLOOR = 1e-12  # probabilities below this are floored before the log (an LSTM softmax may underflow)


def relative_entropy(probs: np.ndarray, total: float = 1.0, scratch: np.ndarray | None = None) -> float:
    """Entropy of ``probs / total`` over its maximum (log of the size): 0 = certain, 1 = uniform.

    ``total``: the sum of ``probs``, so a slice of a distribution needs no normalised copy.
    ``scratch``: a float64 array the size of ``probs`` to work in (its contents are lost), so
    nothing is allocated.
    """
    # 0 * log(floor) is still 0, so the floor only keeps log(0) out.
    logs = np.log(np.maximum(probs, _FLOOR, out=scratch), out=scratch)
    h = math.log(total) - float(probs.dot(logs)) / total  # dot, not @: the same sum, half the call cost
    return max(h / math.log(len(probs)), 1e-6)


def blend(lstm: np.ndarray, stm: np.ndarray, strength: float, bias: float = BIAS,
          out: np.ndarray | None = None) -> np.ndarray:
    """The LSTM's distribution with its pitch part mixed with the short-term model's (float64, sums to 1).

    ``lstm``, ``stm``: probabilities over the same vocabulary (start, rest, hold, pitch sets).
    ``strength``: multiplier of the short-term model's weight (0 = ``lstm`` itself, unchanged).
    ``bias``: exponent of the relative-entropy weights (0 = fixed weights).
    ``out``: a float64 array the size of ``lstm`` to fill and return (unless ``lstm`` itself is
    returned); by default a new one.
    """
    if strength <= 0.0:
        return lstm
    pitches, stm_pitches = lstm[FIRST_PITCH:], stm[FIRST_PITCH:]
    mass, stm_mass = float(pitches.sum()), float(stm_pitches.sum())
    if mass <= 0.0 or stm_mass <= 0.0:
        return lstm
    if out is None:
        out = np.empty(len(lstm), np.float64)
    blended = out[FIRST_PITCH:]  # scratch for both entropies first, then the result
    w_lstm = relative_entropy(pitches, mass, blended) ** -bias
    w_stm = strength * relative_entropy(stm_pitches, stm_mass, blended) ** -bias
    share = w_stm / (w_lstm + w_stm)
    out[:FIRST_PITCH] = lstm[:FIRST_PITCH]
    # The pitch mass stays the LSTM's; within it, (1 - share) of the LSTM's shape and share of the STM's.
    np.multiply(stm_pitches, share * mass / stm_mass, out=blended)
    blended += pitches * (1.0 - share)
    return out


class ShortTerm:
    """The session's short-term model for one melody model's vocabulary.

    Every grid step ``learn`` the token fed to the LSTM; ``blend`` only when a distribution is
    wanted (jamd is about to play): learning is the cheap half. ``enabled`` False (a chords
    model, whose outputs are chords, not the tokens it is fed) makes ``blend`` return the
    LSTM's probabilities untouched.
    """

    def __init__(self, vocab_size: int, enabled: bool = True, order: int = STM_ORDER, window: int = STM_WINDOW):
        self.enabled = enabled
        self.order, self.window = order, window
        self.ppm = PPM(vocab_size, order, window)
        self.notes = PPM(MIDI_PITCHES, NOTE_ORDER, NOTE_WINDOW)  # the player's melody, note by note
        self._stm = np.empty(vocab_size, np.float64)  # the short-term model's own distribution
        self._next_notes = np.empty(MIDI_PITCHES, np.float64)
        self._out = np.empty(vocab_size, np.float64)  # what ``blend`` returns

    @classmethod
    def for_model(cls, model) -> "ShortTerm":
        """A fresh short-term model for a ``jamd.daemon.model.StepModel``."""
        return cls(len(model.vocab), model.sidecar.model_kind.blends)

    def learn(self, token: int) -> None:
        """Count ``token`` (the one just fed to the LSTM) after the tokens before it.

        At any strength, so turning the strength up mid-session uses what was already played.
        """
        if self.enabled:
            self.ppm.update(token, learn=True)

    def learn_note(self, pitch: int) -> None:
        """Count the player's note ``pitch`` (MIDI; the top of a chord) after the notes before it."""
        if self.enabled:
            self.notes.update(pitch, learn=True)

    def next_notes(self) -> np.ndarray:
        """Probabilities (128, by MIDI pitch, all > 0) of the player's next note from the notes they
        played before in the session; an array of this object's own, overwritten by the next call."""
        return self.notes.distribution(self._next_notes)

    def blend(self, lstm: np.ndarray, strength: float) -> np.ndarray:
        """``lstm`` (the LSTM's prediction after the last learned token) blended with this session's.

        Returns ``lstm`` itself when disabled or at ``strength`` 0; otherwise an array of this
        object's own, overwritten by the next call.
        """
        if not self.enabled or strength <= 0.0:
            return lstm
        return blend(lstm, self.ppm.distribution(self._stm), strength, out=self._out)

    @property
    def context(self) -> list[int]:
        """The in-song context (a value: ``PPM.context``), to put back after a look-ahead."""
        return self.ppm.context

    @context.setter
    def context(self, keys: list[int]) -> None:
        self.ppm.context = keys

    def follow(self, token: int) -> None:
        """Move the context on by ``token`` without learning it: a look-ahead, undone by putting
        ``context`` back."""
        if self.enabled:
            self.ppm.update(token, learn=False)

    def reset(self) -> None:
        """A new phrase: forget the context, keep what was learned."""
        self.ppm.reset()
        self.notes.reset()

    def forget(self) -> None:
        """A new session: forget everything learned."""
        self.ppm = PPM(self.ppm.vocab_size, self.order, self.window)
        self.notes = PPM(MIDI_PITCHES, NOTE_ORDER, NOTE_WINDOW)
